// Structural equality for stored entities, so applying an unchanged catalog file writes nothing.

/**
 * Deep equality of plain data: arrays in order, objects regardless of key order, Dates by
 * instant. A key whose value is undefined counts as absent, because the store drops such keys
 * (a document read back has no `regex` where the file had `regex: undefined`).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...definedKeys(a), ...definedKeys(b)]);
    for (const key of keys) if (!sameValue(a[key], b[key])) return false;
    return true;
  }
  return false;
}

/** Top-level fields whose values differ, for "updated (description, resourceRoles)". */
export function changedFields<T extends object>(before: T, after: T): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const keys = [...new Set([...definedKeys(a), ...definedKeys(b)])];
  return keys.filter((key) => !sameValue(a[key], b[key])).sort();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function definedKeys(value: Record<string, unknown>): string[] {
  return Object.keys(value).filter((key) => value[key] !== undefined);
}
