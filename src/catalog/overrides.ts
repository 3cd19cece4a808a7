// Admin overrides of `enabled` (catalogs, packages, policies). The catalog file is the source
// of truth, but an admin's emergency "disable" must not be undone silently by the next apply:
// the switch is recorded on the stored record, apply keeps it (and reports it), and setting
// the value the file says clears it. Pure: the caller loads and stores.

import type { AdminOverride } from '../domain/model';

/** Anything with an enabled switch: catalogs, packages (absent = enabled) and policies. */
export interface Switchable {
  enabled?: boolean;
  adminOverride?: AdminOverride;
}

export type SwitchPlan =
  /** Already as asked: nothing to write. */
  | { change: false }
  /** Write `enabled`; record `override`, or clear the stored one when null. */
  | { change: true; enabled: boolean; override: AdminOverride | null };

export function isEnabled(item: Switchable): boolean {
  return item.enabled !== false;
}

/**
 * What an admin's enable/disable writes. Without an override the stored value is the file's
 * (apply wrote it), so a different value becomes an override; with one, going back to the
 * file's value clears it.
 */
export function planSwitch(current: Switchable, enabled: boolean, admin: { id: string; name: string }, now: Date): SwitchPlan {
  if (isEnabled(current) === enabled) return { change: false };
  const fileEnabled = current.adminOverride ? current.adminOverride.fileEnabled : isEnabled(current);
  if (fileEnabled === enabled) return { change: true, enabled, override: null };
  return { change: true, enabled, override: { enabled, fileEnabled, byId: admin.id, byName: admin.name, at: new Date(now.getTime()) } };
}

/**
 * The record apply should store for `fromFile`, given what is stored: the file's record, or,
 * while an admin override disagrees with the file, the file's record with the admin's value
 * (`kept` is then the override, for the report). An override the file now agrees with is dropped.
 */
export function keepOverride<T extends Switchable>(fromFile: T, stored: Switchable | undefined): { item: T; kept?: AdminOverride } {
  const override = stored?.adminOverride;
  const fileEnabled = isEnabled(fromFile);
  if (!override || override.enabled === fileEnabled) return { item: fromFile };
  const kept: AdminOverride = { ...override, fileEnabled };
  return { item: { ...fromFile, enabled: override.enabled, adminOverride: kept }, kept };
}
