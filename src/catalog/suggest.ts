// "Did you mean …?" for misspelt field names, enum values and references in the catalog file.

/** The candidate closest to `word`, or undefined when none is close enough to be a likely typo. */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const candidateLower = candidate.toLowerCase();
    if (candidateLower === lower) return candidate; // only the case differs
    const distance = editDistance(lower, candidateLower);
    if (distance <= maxTypoDistance(candidate) && (!best || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  if (best) return best.candidate;
  // "packages" for "accessPackages", "approver" for "approvers": a part of the right name.
  if (lower.length >= 4) {
    return candidates.find((c) => c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase()));
  }
  return undefined;
}

/** "; did you mean 'x'?" or "", ready to append to a message. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : `; did you mean '${match}'?`;
}

// Short names tolerate one typo, longer ones proportionally more ("allMembers" is 4 away
// from "allMemberUsers").
function maxTypoDistance(candidate: string): number {
  return Math.max(1, Math.floor(candidate.length / 3));
}

/** Damerau-Levenshtein (optimal string alignment): a swapped pair of letters counts as one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, d[i - 2][j - 2] + 1);
      }
      d[i][j] = value;
    }
  }
  return d[a.length][b.length];
}
