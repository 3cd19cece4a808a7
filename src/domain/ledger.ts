// The grant ledger's rules (DESIGN.md §3): access the user had before any assignment is
// never added and never removed by us; a role held by several assignments is removed only
// when the last one ends. Pure: the caller reads the ledger row and the directory.
//
// Granting: the row for (user, resource, role) is created once, recording whether the user
// already had the role at that moment (`preExisting`); every later grant reads the row, never
// the directory, so the bot's own earlier grant (say, before a crash) is never mistaken for
// access the user had before.

import type { Grant } from './model';

export type RevokeStep =
  /** Remove it from the directory: this was the last assignment holding it and the bot added it. */
  | { kind: 'remove' }
  /** Leave the directory alone: other assignments hold it, or the user had it before. */
  | { kind: 'keep'; reason: 'heldByOthers' | 'preExisting' | 'notHeld' };

export function revokeStep(row: Grant | null, assignmentId: string): RevokeStep {
  if (!row) return { kind: 'keep', reason: 'notHeld' };
  if (row.preExisting) return { kind: 'keep', reason: 'preExisting' };
  const others = row.heldBy.filter((id) => id !== assignmentId);
  return others.length > 0 ? { kind: 'keep', reason: 'heldByOthers' } : { kind: 'remove' };
}
