import type { AdminOverride } from '../../domain/model';
import type { Filter, Update } from '../port';

// The enabled switch shared by catalogs, packages and policies.

/** Matches records whose `enabled` is `expected`; a missing field counts as true (packages stored before it existed). */
export function enabledIs(expected: boolean): Filter {
  return { enabled: expected ? { $ne: false } : false };
}

/** Sets `enabled` and records the admin override, or clears it (null). */
export function switchUpdate(enabled: boolean, override: AdminOverride | null): Update {
  return override ? { $set: { enabled, adminOverride: override } } : { $set: { enabled }, $unset: { adminOverride: true } };
}
