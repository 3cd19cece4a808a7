import { endedButHeld, formatReconcileReport, keysToCheck, keyOf, reconcile, type ReconcileAssignment } from '../../src/domain/reconcile';
import type { Grant } from '../../src/domain/model';

const at = new Date('2026-01-01T00:00:00Z');
const grant = (userId: string, originId: string, role: string, heldBy: string[], preExisting = false): Grant => ({
  id: `${userId}|${originId}|${role}`, userId, resourceType: 'group', originId, role, heldBy, preExisting, updatedAt: at,
});
const assignment = (id: string, userId: string, state: ReconcileAssignment['state'], roles: [string, string, string][]): ReconcileAssignment => ({
  id, userId, state, roles: roles.map(([originId, role, s]) => ({ originId, role, state: s })),
});
const held = (...keys: [string, string, string][]) => new Set(keys.map(([userId, originId, role]) => keyOf({ userId, originId, role })));

describe('reconcile: the ledger and assignments against the directory', () => {
  it('finds no drift when every held role is in the directory and ended ones are gone', () => {
    const report = reconcile({
      grants: [grant('u1', 'g1', 'member', ['A1']), grant('u2', 'g1', 'member', ['A2'], true)],
      assignments: [assignment('A1', 'u1', 'delivered', [['g1', 'member', 'delivered']]), assignment('A2', 'u2', 'delivered', [['g1', 'member', 'delivered']]), assignment('A0', 'u3', 'expired', [['g1', 'member', 'removed']])],
      held: held(['u1', 'g1', 'member'], ['u2', 'g1', 'member']),
    });
    expect(report.drift).toEqual([]);
    expect(report.checked).toBe(3);
    expect(report.preExisting).toEqual([{ userId: 'u2', originId: 'g1', role: 'member' }]);
    expect(formatReconcileReport(report).at(-1)).toBe(
      'checked 3 grant(s); no drift (missingInDirectory 0, extraHolder 0, unrecordedHolder 0, heldAfterEnd 0, emptyLedgerRow 0); pre-existing rows 1',
    );
  });

  it('reports a role the ledger holds but the directory lost (removed outside the bot)', () => {
    const report = reconcile({ grants: [grant('u1', 'g1', 'member', ['A1'])], assignments: [assignment('A1', 'u1', 'delivered', [['g1', 'member', 'delivered']])], held: held() });
    expect(report.drift).toEqual([expect.objectContaining({ kind: 'missingInDirectory', userId: 'u1', originId: 'g1', role: 'member', assignmentIds: ['A1'] })]);
  });

  it('says a missing role is a failed delivery when it is one', () => {
    const report = reconcile({ grants: [grant('u1', 'g1', 'member', ['A1'])], assignments: [assignment('A1', 'u1', 'deliveryFailed', [['g1', 'member', 'failed']])], held: held() });
    expect(report.drift).toEqual([expect.objectContaining({ kind: 'missingInDirectory', detail: 'its delivery failed (reported)' })]);
  });

  it('reports holder records of ended or unknown assignments', () => {
    const report = reconcile({
      grants: [grant('u1', 'g1', 'member', ['A1', 'A9', 'GONE'])],
      assignments: [assignment('A1', 'u1', 'delivered', [['g1', 'member', 'delivered']]), assignment('A9', 'u1', 'removed', [['g1', 'member', 'removed']])],
      held: held(['u1', 'g1', 'member']),
    });
    expect(report.drift).toEqual([expect.objectContaining({ kind: 'extraHolder', assignmentIds: ['A9', 'GONE'], detail: 'A9 (removed), GONE (unknown assignment)' })]);
  });

  it('reports a delivered role the ledger does not record', () => {
    const report = reconcile({ grants: [], assignments: [assignment('A1', 'u1', 'delivered', [['g1', 'member', 'delivered']])], held: held(['u1', 'g1', 'member']) });
    expect(report.drift.map((d) => d.kind)).toEqual(['unrecordedHolder']);
  });

  it('reports a role still in the directory after its only assignment ended, but not pre-existing access or one another package holds', () => {
    const report = reconcile({
      grants: [grant('u2', 'g1', 'member', [], true), grant('u3', 'g1', 'member', ['B3'])],
      assignments: [
        assignment('A1', 'u1', 'expired', [['g1', 'member', 'removed']]),
        assignment('A2', 'u2', 'removed', [['g1', 'member', 'removed']]),
        assignment('A3', 'u3', 'expired', [['g1', 'member', 'removed']]),
        assignment('B3', 'u3', 'delivered', [['g1', 'member', 'delivered']]),
      ],
      held: held(['u1', 'g1', 'member'], ['u2', 'g1', 'member'], ['u3', 'g1', 'member']),
    });
    const kinds = report.drift.map((d) => `${d.kind}:${d.userId}`);
    expect(kinds).toContain('heldAfterEnd:u1');
    expect(kinds).not.toContain('heldAfterEnd:u2');
    expect(kinds).not.toContain('heldAfterEnd:u3');
  });

  it('does not count as drift access the removal kept because the user had it before (its row is gone)', () => {
    const input = { grants: [], assignments: [assignment('A1', 'u1', 'removed', [['g1', 'member', 'removed']])], held: held(['u1', 'g1', 'member']) };
    expect(endedButHeld(input)).toEqual([{ key: { userId: 'u1', originId: 'g1', role: 'member' }, assignmentIds: ['A1'] }]);
    expect(reconcile(input).drift.map((d) => d.kind)).toEqual(['heldAfterEnd']);
    const report = reconcile({ ...input, keptAsPreExisting: new Set([keyOf({ userId: 'u1', originId: 'g1', role: 'member' })]) });
    expect(report.drift).toEqual([]);
    expect(report.preExisting).toEqual([{ userId: 'u1', originId: 'g1', role: 'member' }]);
  });

  it('reports a ledger row left with no holder', () => {
    const report = reconcile({ grants: [grant('u1', 'g1', 'member', [])], assignments: [], held: held() });
    expect(report.drift.map((d) => d.kind)).toEqual(['emptyLedgerRow']);
    expect(formatReconcileReport(report)[0]).toBe('emptyLedgerRow: user u1, g1 (member): ledger row with no holder');
  });

  it('asks the directory about each key once, from the ledger and the assignments', () => {
    const keys = keysToCheck([grant('u1', 'g1', 'member', ['A1'])], [assignment('A1', 'u1', 'delivered', [['g1', 'member', 'delivered'], ['sp', 'r1', 'delivered']])]);
    expect(keys).toEqual([{ userId: 'u1', originId: 'g1', role: 'member' }, { userId: 'u1', originId: 'sp', role: 'r1' }]);
  });
});
