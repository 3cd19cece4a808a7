// The `regex` of a catalog question, run with a linear-time engine (RE2, pure JavaScript via
// re2js) rather than JavaScript's backtracking RegExp: with RegExp a pattern such as
// ^([a-zA-Z0-9]+\s?)*$ takes seconds on a 30-character answer and stalls every user of the bot.
// RE2's time grows with answer length × pattern size, never exponentially; the size is bounded
// at catalog validation (MAX_PATTERN_WORK), so every answer is checked in milliseconds.
//
// Teams clients check Input.Text `regex` with JavaScript RegExp before sending the form.
// clientPattern() translates a pattern into JavaScript only where the two engines agree on
// its meaning and where RegExp can't backtrack catastrophically on it; otherwise the form
// carries no regex and only the server checks (it always does, and decides).
//
// Pure: facts about patterns, no sentences (the catalog validator words its errors).

import { RE2JS, RE2JSSyntaxException } from 're2js';

/**
 * Bound on RE2's work for one answer: compiled program size × maximum answer length. RE2's
 * slowest path (its NFA) costs about 10–25 ns per unit on a shared 2-core machine, so an
 * answer at this bound is checked in about 5–12 ms at worst; realistic patterns (program sizes
 * 8–60) in well under 1 ms.
 */
export const MAX_PATTERN_WORK = 500_000;

/** Why a pattern can't be run, as a fact the catalog validator turns into words. */
export type PatternProblem =
  | { kind: 'empty' }
  | { kind: 'backreference'; at: string }
  | { kind: 'lookahead'; at: string }
  | { kind: 'lookbehind'; at: string }
  | { kind: 'atomicOrPossessive'; at: string }
  | { kind: 'unicodeEscape'; at: string }
  | { kind: 'controlEscape'; at: string }
  | { kind: 'anyCharacterClass'; at: string }
  | { kind: 'repeatTooLarge'; at: string }
  | { kind: 'unclosedQuote' }
  | { kind: 'tooComplex'; programSize: number; maxLength: number; limit: number }
  | { kind: 'syntax'; reason: string; at: string };

/** The problem with a question's pattern for answers of up to maxLength characters, or undefined. */
export function answerPatternProblem(pattern: string, maxLength: number): PatternProblem | undefined {
  if (pattern === '') return { kind: 'empty' };
  const raw = tryCompile(pattern);
  if (!raw.ok) return raw.problem;
  // The pattern alone compiles, so its parentheses balance and the anchoring group can't be
  // broken open; only an unclosed \Q…\E can swallow it.
  const anchored = tryCompile(anchor(pattern));
  if (!anchored.ok) return { kind: 'unclosedQuote' };
  // Validated at catalog apply (start-up): the first answer then doesn't pay for compiling.
  remember(pattern, anchored.regex);
  const programSize = anchored.regex.programSize();
  const limit = Math.floor(MAX_PATTERN_WORK / maxLength);
  if (programSize > limit) return { kind: 'tooComplex', programSize, maxLength, limit };
  return undefined;
}

/**
 * Whether the pattern matches the whole answer (it is anchored here: admins often write
 * "[0-9]{4}" meaning the whole answer, and the group keeps "a|b" anchored as a whole).
 * null when the pattern can't be compiled: the caller fails closed.
 */
export function matchesWholeAnswer(pattern: string, answer: string): boolean | null {
  const regex = compiledAnchored(pattern);
  return regex === null ? null : regex.matches(answer);
}

/**
 * The pattern as a JavaScript regex with the same meaning, anchored and tolerant of the
 * surrounding whitespace the server trims, for the Teams client's Input.Text `regex`; or
 * undefined when it must not be sent (see translate()).
 */
export function clientPattern(pattern: string): string | undefined {
  if (pattern === '' || compiledAnchored(pattern) === null) return undefined;
  const translated = translate(pattern);
  if (translated === undefined) return undefined;
  // JS \s is exactly the set String.prototype.trim removes, so "  4711 " passes as the server
  // (which trims) would let it pass.
  const client = `^\\s*(?:${translated})\\s*$`;
  try {
    new RegExp(client, 'g');
  } catch {
    return undefined;
  }
  return client;
}

// ---------------------------------------------------------------------------------------
// RE2

function anchor(pattern: string): string {
  return `^(?:${pattern})$`;
}

type Compiled = { ok: true; regex: RE2JS } | { ok: false; problem: PatternProblem };

function tryCompile(pattern: string): Compiled {
  try {
    return { ok: true, regex: RE2JS.compile(pattern) };
  } catch (error) {
    if (!(error instanceof RE2JSSyntaxException)) {
      return { ok: false, problem: { kind: 'syntax', reason: error instanceof Error ? error.message : String(error), at: '' } };
    }
    return { ok: false, problem: classify(error.error, error.input ?? '') };
  }
}

/** RE2's parse error as what the admin most likely meant (usually a JavaScript/PCRE feature). */
function classify(reason: string, at: string): PatternProblem {
  if (reason === 'invalid escape sequence') {
    if (/^\\[1-9k]/.test(at)) return { kind: 'backreference', at };
    if (at.startsWith('\\u')) return { kind: 'unicodeEscape', at };
    if (at.startsWith('\\c')) return { kind: 'controlEscape', at };
  }
  if (reason === 'invalid or unsupported Perl syntax') {
    if (at.startsWith('(?=') || at.startsWith('(?!')) return { kind: 'lookahead', at: at.slice(0, 3) };
    if (at.startsWith('(?>')) return { kind: 'atomicOrPossessive', at: at.slice(0, 3) };
  }
  // RE2 reads "(?<" as the start of a named group and then fails on "=" or "!".
  if (reason === 'invalid named capture' && (at.startsWith('(?<=') || at.startsWith('(?<!'))) return { kind: 'lookbehind', at: at.slice(0, 4) };
  if (reason === 'invalid nested repetition operator' && /^[*+?}]\+/.test(at)) return { kind: 'atomicOrPossessive', at };
  if (reason === 'missing closing ]' && at.startsWith('[^]')) return { kind: 'anyCharacterClass', at: '[^]' };
  // Also said of {3,2}, which is a plain syntax error.
  if (reason === 'invalid repeat count' && (at.match(/\d+/g) ?? []).some((n) => Number(n) > 1000)) return { kind: 'repeatTooLarge', at };
  return { kind: 'syntax', reason, at };
}

// Compiled anchored patterns, by pattern text. A catalog has a handful of patterns; the bound
// only keeps memory flat if something feeds many.
const CACHE_LIMIT = 256;
const cache = new Map<string, RE2JS | null>();

function compiledAnchored(pattern: string): RE2JS | null {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  const raw = tryCompile(pattern);
  const anchored = raw.ok ? tryCompile(anchor(pattern)) : raw;
  const regex = anchored.ok ? anchored.regex : null;
  remember(pattern, regex);
  return regex;
}

function remember(pattern: string, regex: RE2JS | null): void {
  if (!cache.has(pattern) && cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(pattern, regex);
}

// ---------------------------------------------------------------------------------------
// RE2 → JavaScript, for the client

/** The group being read: what a quantifier on it would repeat. */
interface Group {
  /** It holds a repetition of varying count (*, +, ?, {n,m}) or an alternation. */
  ambiguous: boolean;
}

type Step = { text: string; end: number } | undefined;

/**
 * A JavaScript (no flags, no `u`) pattern meaning exactly what the RE2 pattern means, or
 * undefined. Only a common subset is translated; anything else is left to the server:
 * - RE2-only syntax that JavaScript reads differently: \pL, \p{…}, [[:alpha:]], \Q…\E, \A, \z,
 *   \C, inline flags (?i), octal escapes, characters outside the Basic Multilingual Plane
 *   (JavaScript without `u` sees them as two halves);
 * - nested repetition, such as (a+)*, (\.[a-z]+)+ or (a|b)*: RegExp may backtrack
 *   exponentially on it and freeze the requester's Teams client.
 * Rewritten to keep RE2's meaning: `.` → any character but \n (JavaScript's also refuses \r,
 * U+2028/9), \s → [\t\n\f\r ] (JavaScript's also takes Unicode spaces), \x{HHHH} → \uHHHH,
 * and `.`, \S, \D, \W and [^…] take an emoji as one character, as RE2 does (see anyExcept).
 */
function translate(pattern: string): string | undefined {
  const stack: Group[] = [{ ambiguous: false }];
  let out = '';
  // What a quantifier here would apply to: a single item, a group, or nothing (after |, ( or an anchor).
  let previous: 'item' | Group | undefined;
  // Where the current top-level alternative began in `out`.
  let alternativeStart = 0;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (isSurrogate(c)) return undefined;
    const top = stack[stack.length - 1]!;
    switch (c) {
      case '\\': {
        const step = escapeOutsideClass(pattern, i);
        if (!step) return undefined;
        out += step.text;
        i = step.end;
        previous = /^\\[bB]$/.test(step.text) ? undefined : 'item';
        break;
      }
      case '[': {
        const step = characterClass(pattern, i);
        if (!step) return undefined;
        out += step.text;
        i = step.end;
        previous = 'item';
        break;
      }
      case '(': {
        const opening = /^\((?:\?:|\?P?<[A-Za-z_][A-Za-z0-9_]*>)?/.exec(pattern.slice(i))![0];
        // Any other "(?" is an inline flag group, which JavaScript (Node 20) can't read.
        if (opening === '(' && pattern[i + 1] === '?') return undefined;
        out += '(?:';
        i += opening.length;
        stack.push({ ambiguous: false });
        previous = undefined;
        break;
      }
      case ')': {
        const group = stack.pop()!;
        if (stack.length === 0) return undefined;
        stack[stack.length - 1]!.ambiguous ||= group.ambiguous;
        out += ')';
        i++;
        previous = group;
        break;
      }
      case '|':
        top.ambiguous = true;
        out += '|';
        if (stack.length === 1) alternativeStart = out.length;
        i++;
        previous = undefined;
        break;
      case '.':
        out += anyExcept('\\n');
        i++;
        previous = 'item';
        break;
      case '^':
      case '$': {
        // The client's wrapper anchors the whole pattern after optional whitespace, so anchors
        // at the start or end of a top-level alternative are dropped (kept, "^4711" would refuse
        // " 4711", which the server trims and accepts). Any other anchor is left to the server.
        const atEdge =
          stack.length === 1 && (c === '^' ? out.length === alternativeStart : i + 1 === pattern.length || pattern[i + 1] === '|');
        if (!atEdge) return undefined;
        i++;
        previous = undefined;
        break;
      }
      case '*':
      case '+':
      case '?':
      case '{': {
        const quantifier = readQuantifier(pattern, i);
        if (!quantifier) {
          // Not a repetition ("{" alone, "{,3}"): a literal in both engines; escaped to be sure.
          out += '\\{';
          i++;
          previous = 'item';
          break;
        }
        if (previous === undefined) return undefined;
        if (previous !== 'item' && previous.ambiguous && quantifier.max > 1) return undefined;
        if (quantifier.min !== quantifier.max) top.ambiguous = true;
        out += quantifier.text;
        i = quantifier.end;
        previous = undefined;
        break;
      }
      default:
        out += c === '}' || c === ']' ? `\\${c}` : c;
        i++;
        previous = 'item';
    }
  }
  return stack.length === 1 ? out : undefined;
}

function readQuantifier(pattern: string, i: number): { text: string; end: number; min: number; max: number } | undefined {
  const match = /^(?:([*+?])|\{(\d+)(,(\d*))?\})\??/.exec(pattern.slice(i));
  if (!match) return undefined;
  const text = match[0];
  if (match[1] !== undefined) {
    const [min, max] = match[1] === '*' ? [0, Infinity] : match[1] === '+' ? [1, Infinity] : [0, 1];
    return { text, end: i + text.length, min, max };
  }
  const min = Number(match[2]);
  const max = match[3] === undefined ? min : match[4] === '' ? Infinity : Number(match[4]);
  return { text, end: i + text.length, min, max };
}

/** Escapes meaning the same in both engines, inside or outside a class. */
const SHARED_ESCAPES = new Set(['d', 'w', 'n', 'r', 't', 'f', 'v']);
const RE2_SPACE = '\\t\\n\\f\\r ';

/**
 * One character other than `excluded` (class syntax), as RE2 reads an answer: by code point.
 * JavaScript without `u` reads UTF-16 units, so a character outside the Basic Multilingual
 * Plane (an emoji) is matched as its surrogate pair; the two branches can't overlap, so
 * RegExp has one way to match and nothing to backtrack over.
 */
function anyExcept(excluded: string): string {
  // Surrogates first: a class ending in "-" must not turn into a range.
  return `(?:[\\ud800-\\udbff][\\udc00-\\udfff]|[^\\ud800-\\udfff${excluded}])`;
}

function escapeOutsideClass(pattern: string, i: number): Step {
  const next = pattern[i + 1];
  if (next === 'b' || next === 'B') return { text: `\\${next}`, end: i + 2 };
  if (next === 's') return { text: `[${RE2_SPACE}]`, end: i + 2 };
  if (next === 'S') return { text: anyExcept(RE2_SPACE), end: i + 2 };
  if (next === 'D') return { text: anyExcept('0-9'), end: i + 2 };
  if (next === 'W') return { text: anyExcept('0-9A-Za-z_'), end: i + 2 };
  return sharedEscape(pattern, i);
}

function escapeInsideClass(pattern: string, i: number): Step {
  if (pattern[i + 1] === 's') return { text: RE2_SPACE, end: i + 2 };
  return sharedEscape(pattern, i);
}

function sharedEscape(pattern: string, i: number): Step {
  const next = pattern[i + 1];
  if (next === undefined || isSurrogate(next)) return undefined;
  if (SHARED_ESCAPES.has(next)) return { text: `\\${next}`, end: i + 2 };
  if (next === 'x') {
    const braced = /^\\x\{([0-9A-Fa-f]{1,6})\}/.exec(pattern.slice(i));
    if (braced) {
      const code = parseInt(braced[1]!, 16);
      if (code > 0xffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
      return { text: `\\u${code.toString(16).padStart(4, '0')}`, end: i + braced[0].length };
    }
    const short = /^\\x[0-9A-Fa-f]{2}/.exec(pattern.slice(i));
    return short ? { text: short[0], end: i + 4 } : undefined;
  }
  // RE2 lets punctuation be escaped, and so does JavaScript; letters and digits mean other things.
  if (/[A-Za-z0-9]/.test(next) || next.charCodeAt(0) > 0x7e) return undefined;
  // "\${2}" would read as a template binding in the card; the same character by its code can't.
  if (next === '$') return { text: '\\x24', end: i + 2 };
  return { text: `\\${next}`, end: i + 2 };
}

/** A bracket class translated item by item, or undefined when any item may differ. */
function characterClass(pattern: string, start: number): Step {
  let i = start + 1;
  const negated = pattern[i] === '^';
  if (negated) i++;
  // "[]a]" is a class holding ] in RE2 but an empty class in JavaScript.
  if (pattern[i] === ']') return undefined;
  let items = '';
  // The last item was a class escape such as \d, which can't be a range's end.
  let afterClassEscape = false;
  while (i < pattern.length && pattern[i] !== ']') {
    const c = pattern[i]!;
    if (isSurrogate(c) || c === '[') return undefined;
    if (c === '\\') {
      // Negated escapes (\D, \W, \S) are left out here: they'd take in emoji, as one unit in RE2.
      const step = escapeInsideClass(pattern, i);
      if (!step) return undefined;
      items += step.text;
      i = step.end;
      afterClassEscape = /^\\[dw]$|^\\t\\n/.test(step.text);
      continue;
    }
    if (c === '-' && afterClassEscape && pattern[i + 1] !== ']') return undefined;
    items += c;
    i++;
    afterClassEscape = false;
  }
  if (pattern[i] !== ']') return undefined;
  // A negated class takes in characters outside the Basic Multilingual Plane: see anyExcept.
  return { text: negated ? anyExcept(items) : `[${items}]`, end: i + 1 };
}

function isSurrogate(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0xd800 && code <= 0xdfff;
}
