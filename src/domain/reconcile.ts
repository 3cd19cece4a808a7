// Reconciliation (issue 8): the grant ledger and the assignments compared with what the
// directory says. Pure: the caller reads the store and asks the directory about every key.
//
// A key is (user, resource origin id, role), the ledger's own key. The ledger's rules
// (ledger.ts) make these hold once every task has settled; whatever breaks them is drift:
// - missingInDirectory  an active assignment holds the key, the directory does not have it
//                       (removed outside the bot, or a delivery that failed);
// - extraHolder         a ledger row names an assignment that is unknown or has ended;
// - unrecordedHolder    an active assignment's delivered role is not recorded in the ledger;
// - heldAfterEnd        the directory still has a key that only ended assignments held,
//                       with no ledger row (or one nobody holds) and not pre-existing;
// - emptyLedgerRow      a ledger row with no holder left (removal stopped halfway).
// Pre-existing rows are listed too (access the user had before the bot): not drift.

import { ACTIVE_ASSIGNMENT_STATES, type AssignmentState, type Grant } from './model';

export type DriftKind = 'missingInDirectory' | 'extraHolder' | 'unrecordedHolder' | 'heldAfterEnd' | 'emptyLedgerRow';

export const DRIFT_KINDS: readonly DriftKind[] = ['missingInDirectory', 'extraHolder', 'unrecordedHolder', 'heldAfterEnd', 'emptyLedgerRow'];

export interface ReconcileKey {
  userId: string;
  originId: string;
  role: string;
}

/** An assignment with each role resolved to the directory object it is written to. */
export interface ReconcileAssignment {
  id: string;
  userId: string;
  state: AssignmentState;
  roles: { originId: string; role: string; state: string }[];
}

export interface Drift extends ReconcileKey {
  kind: DriftKind;
  /** The assignments concerned (holders, or the ended ones that held it). */
  assignmentIds: string[];
  detail: string;
}

export interface ReconcileInput {
  grants: readonly Grant[];
  assignments: readonly ReconcileAssignment[];
  /** Keys (see keyOf) the directory says the user holds; every key of `keysToCheck` was asked. */
  held: ReadonlySet<string>;
  /**
   * Keys whose ledger row is gone because the last holder ended while the user had the role
   * from before (the removal kept it, as audited): pre-existing access, not drift.
   */
  keptAsPreExisting?: ReadonlySet<string>;
}

export interface ReconcileReport {
  /** How many keys were compared with the directory. */
  checked: number;
  drift: Drift[];
  preExisting: ReconcileKey[];
}

export function keyOf(k: ReconcileKey): string {
  return `${k.userId}|${k.originId}|${k.role}`;
}

function parseKey(key: string): ReconcileKey {
  const [userId = '', originId = '', role = ''] = key.split('|');
  return { userId, originId, role };
}

const isActive = (state: AssignmentState) => ACTIVE_ASSIGNMENT_STATES.includes(state);

/** Keys the directory still has that only ended assignments held, with no ledger row: the audit tells whether the removal kept them on purpose. */
export function endedButHeld(input: ReconcileInput): { key: ReconcileKey; assignmentIds: string[] }[] {
  const rows = new Set(input.grants.map((g) => keyOf(g)));
  const active = new Set<string>();
  const ended = new Map<string, string[]>();
  for (const a of input.assignments) {
    for (const r of a.roles) {
      const key = keyOf({ userId: a.userId, ...r });
      if (isActive(a.state)) active.add(key);
      else ended.set(key, [...(ended.get(key) ?? []), a.id]);
    }
  }
  return [...ended].filter(([key]) => input.held.has(key) && !active.has(key) && !rows.has(key)).map(([key, assignmentIds]) => ({ key: parseKey(key), assignmentIds }));
}

/** Every key the directory must be asked about: the ledger's and every assignment role's. */
export function keysToCheck(grants: readonly Grant[], assignments: readonly ReconcileAssignment[]): ReconcileKey[] {
  const keys = new Map<string, ReconcileKey>();
  for (const g of grants) keys.set(keyOf(g), { userId: g.userId, originId: g.originId, role: g.role });
  for (const a of assignments) for (const r of a.roles) keys.set(keyOf({ userId: a.userId, ...r }), { userId: a.userId, originId: r.originId, role: r.role });
  return [...keys.values()];
}

export function reconcile(input: ReconcileInput): ReconcileReport {
  const byId = new Map(input.assignments.map((a) => [a.id, a]));
  const rows = new Map(input.grants.map((g) => [keyOf(g), g]));
  const drift: Drift[] = [];
  const preExisting: ReconcileKey[] = [];

  // Which assignments (active or ended) name each key.
  const activeHolders = new Map<string, string[]>();
  const endedHolders = new Map<string, string[]>();
  for (const a of input.assignments) {
    for (const r of a.roles) {
      const key = keyOf({ userId: a.userId, ...r });
      const map = isActive(a.state) ? activeHolders : endedHolders;
      map.set(key, [...(map.get(key) ?? []), a.id]);
      // A delivered role must be in the ledger under this assignment.
      if (isActive(a.state) && r.state === 'delivered' && !rows.get(key)?.heldBy.includes(a.id)) {
        drift.push({ kind: 'unrecordedHolder', ...parseKey(key), assignmentIds: [a.id], detail: `assignment ${a.id} delivered it but the ledger does not record it as a holder` });
      }
    }
  }

  for (const g of input.grants) {
    const key = keyOf(g);
    if (g.preExisting) preExisting.push({ userId: g.userId, originId: g.originId, role: g.role });
    const stale = g.heldBy.filter((id) => !byId.has(id) || !isActive(byId.get(id)!.state));
    if (stale.length > 0) {
      drift.push({ kind: 'extraHolder', ...parseKey(key), assignmentIds: stale, detail: stale.map((id) => `${id} (${byId.get(id)?.state ?? 'unknown assignment'})`).join(', ') });
    }
    if (g.heldBy.length === 0) drift.push({ kind: 'emptyLedgerRow', ...parseKey(key), assignmentIds: [], detail: 'ledger row with no holder' });
    const live = g.heldBy.filter((id) => byId.has(id) && isActive(byId.get(id)!.state));
    if (live.length > 0 && !input.held.has(key)) {
      const failed = live.some((id) => byId.get(id)!.roles.some((r) => keyOf({ userId: g.userId, ...r }) === key && r.state === 'failed'));
      drift.push({ kind: 'missingInDirectory', ...parseKey(key), assignmentIds: live, detail: failed ? 'its delivery failed (reported)' : `held by ${live.join(', ')} but not in the directory` });
    }
  }

  for (const [key, ended] of endedHolders) {
    const row = rows.get(key);
    if (!input.held.has(key) || activeHolders.has(key) || row?.preExisting) continue;
    if (!row && input.keptAsPreExisting?.has(key)) {
      preExisting.push(parseKey(key));
      continue;
    }
    if (row && row.heldBy.some((id) => byId.has(id) && isActive(byId.get(id)!.state))) continue;
    drift.push({ kind: 'heldAfterEnd', ...parseKey(key), assignmentIds: ended, detail: `still in the directory after ${ended.join(', ')} ended` });
  }

  const checked = new Set([...rows.keys(), ...activeHolders.keys(), ...endedHolders.keys()]).size;
  return { checked, drift, preExisting };
}

/** The report as printed by `npm run reconcile`: one line per drift, then a summary line. */
export function formatReconcileReport(report: ReconcileReport): string[] {
  const lines = report.drift.map((d) => `${d.kind}: user ${d.userId}, ${d.originId} (${d.role}): ${d.detail}`);
  const counts = DRIFT_KINDS.map((k) => `${k} ${report.drift.filter((d) => d.kind === k).length}`).join(', ');
  lines.push(`checked ${report.checked} grant(s); ${report.drift.length === 0 ? 'no drift' : `${report.drift.length} drift`} (${counts}); pre-existing rows ${report.preExisting.length}`);
  return lines;
}
