import {
  addDays,
  DIGEST_LIMITS,
  digestCardData,
  type DigestFacts,
  type DigestNames,
  digestRun,
  digestSlot,
  expiringByPackage,
  failedDeliveries,
  isUtcDay,
  latestSlot,
  nextSlot,
  timingOutSoon,
  utcDay,
} from '../../src/domain/digest';
import type { AccessRequest, AuditEvent } from '../../src/domain/model';
import { newRequest } from '../../src/domain/newRequest';
import { makeAssignment, makePolicy, makeStage, NOW } from '../support/domainFixtures';

const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
const at = (iso: string) => new Date(iso);

function pending(id: string, startedAt: Date, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return {
    ...newRequest({ id, type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: 'u-fred', targetUserId: 'u-fred', state: 'pendingApproval', schedule: {}, now: startedAt }),
    stages: [{ index: 0, approverIds: ['u-nadia'], startedAt }],
    ...overrides,
  };
}

const NAMES: DigestNames = {
  user: (id) => ({ 'u-fred': 'Fred Jansen', 'u-lola': 'Lola Martin', 'u-nadia': 'Nadia Okafor', 'u-ivan': 'Ivan Petrov' })[id] ?? id,
  package: (id) => ({ accounting: 'Accounting', 'payment-run': 'Payment run' })[id] ?? id,
  failedRoles: (a) => a.roles.filter((r) => r.state === 'failed').map((r) => `${r.resource} (${r.role})`),
};

function facts(overrides: Partial<DigestFacts> = {}): DigestFacts {
  return { now: NOW, days: 7, expiring: [], failed: [], timingOut: [], escalations: [], note: '', ...overrides };
}

describe('digest schedule (UTC days, one slot a day)', () => {
  it('names UTC days and their digest time', () => {
    expect(utcDay(at('2026-11-22T23:59:59Z'))).toBe('2026-11-22');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2027-03-01', -1)).toBe('2027-02-28');
    expect(digestSlot('2026-11-22', '08:00').toISOString()).toBe('2026-11-22T08:00:00.000Z');
    expect(isUtcDay('2026-11-22')).toBe(true);
    for (const bad of ['2026-02-30', '22-11-2026', '2026-11-22T08:00', '', 7, undefined]) expect(isUtcDay(bad)).toBe(false);
  });

  it('the latest slot is today once its time has come, else yesterday; the next slot is the mirror', () => {
    expect(latestSlot(at('2026-11-22T07:59:00Z'), '08:00').day).toBe('2026-11-21');
    expect(latestSlot(at('2026-11-22T08:00:00Z'), '08:00').day).toBe('2026-11-22');
    expect(nextSlot(at('2026-11-22T07:59:00Z'), '08:00').day).toBe('2026-11-22');
    expect(nextSlot(at('2026-11-22T08:00:01Z'), '08:00')).toEqual({ day: '2026-11-23', at: at('2026-11-23T08:00:00Z') });
  });

  it("a task runs its day's digest when due, waits when the time moved later, and hands over after downtime", () => {
    expect(digestRun('2026-11-22', at('2026-11-22T08:00:00Z'), '08:00')).toEqual({ kind: 'send' });
    // Late the same day (before the next slot): still this day's digest.
    expect(digestRun('2026-11-22', at('2026-11-23T07:59:00Z'), '08:00')).toEqual({ kind: 'send' });
    expect(digestRun('2026-11-22', at('2026-11-22T08:00:00Z'), '09:30')).toEqual({ kind: 'wait', until: at('2026-11-22T09:30:00Z') });
    // Down from before Monday's digest until Thursday 10:00: only Thursday's goes out.
    expect(digestRun('2026-11-23', at('2026-11-26T10:00:00Z'), '08:00')).toEqual({ kind: 'superseded', by: '2026-11-26' });
    expect(digestRun('2026-11-23', at('2026-11-26T07:00:00Z'), '08:00')).toEqual({ kind: 'superseded', by: '2026-11-25' });
  });
});

describe('digest facts', () => {
  it('groups expiring assignments per package: count and the soonest few, soonest package first', () => {
    const list = [
      makeAssignment({ id: 'a1', packageId: 'accounting', userId: 'u-fred', expiresAt: at('2026-11-27T09:00:00Z') }),
      makeAssignment({ id: 'a2', packageId: 'payment-run', userId: 'u-lola', expiresAt: at('2026-11-24T10:00:00Z') }),
      ...[1, 2, 3, 4].map((i) => makeAssignment({ id: `b${i}`, packageId: 'accounting', userId: `u-${i}`, expiresAt: new Date(NOW.getTime() + i * DAY) })),
    ];
    const grouped = expiringByPackage(list, 3);
    expect(grouped.map((g) => [g.packageId, g.count, g.soonest.map((a) => a.id)])).toEqual([
      ['accounting', 5, ['b1', 'b2', 'b3']],
      ['payment-run', 1, ['a2']],
    ]);
  });

  it('requests time out soon when the current stage deadline (stageDeadline) falls within two days', () => {
    const policy = makePolicy({ approval: { stages: [makeStage({ durationBeforeAutomaticDenial: 'P14D' }), makeStage({ durationBeforeAutomaticDenial: 'P3D' })] } });
    const soon = pending('REQ-SOON', new Date(NOW.getTime() - 13 * DAY)); // denied in 1 day
    const later = pending('REQ-LATER', new Date(NOW.getTime() - 5 * DAY)); // in 9 days
    const edge = pending('REQ-EDGE', new Date(NOW.getTime() - 12 * DAY)); // exactly 2 days
    const stage2 = pending('REQ-STAGE2', NOW, {
      currentStage: 1,
      stages: [
        { index: 0, approverIds: ['u-nadia'], startedAt: new Date(NOW.getTime() - 20 * DAY) },
        { index: 1, approverIds: ['u-victor'], startedAt: new Date(NOW.getTime() - 2 * DAY), escalationApproverIds: ['u-ivan'] },
      ],
    }); // stage 2 of 3 days started 2 days ago: 1 day left
    const decided = { ...pending('REQ-DONE', new Date(NOW.getTime() - 13 * DAY)), state: 'delivered' as const };
    const found = timingOutSoon([later, soon, edge, stage2, decided], () => policy, NOW);
    expect(found.map((t) => [t.request.id, t.stage, t.deadline.toISOString()])).toEqual([
      ['REQ-SOON', 0, '2026-11-23T09:00:00.000Z'],
      ['REQ-STAGE2', 1, '2026-11-23T09:00:00.000Z'],
      ['REQ-EDGE', 0, '2026-11-24T09:00:00.000Z'],
    ]);
    expect(found[1]!.approverIds).toEqual(['u-victor', 'u-ivan']);
    // A request whose policy is gone is skipped, not guessed at.
    expect(timingOutSoon([soon], () => null, NOW)).toEqual([]);
  });

  it('failed deliveries are the failed and partly delivered assignments, the latest first', () => {
    const list = [
      makeAssignment({ id: 'ok' }),
      makeAssignment({ id: 'old', state: 'deliveryFailed', updatedAt: at('2026-11-01T00:00:00Z') }),
      makeAssignment({ id: 'new', state: 'partiallyDelivered', updatedAt: at('2026-11-21T00:00:00Z') }),
    ];
    expect(failedDeliveries(list).map((a) => a.id)).toEqual(['new', 'old']);
  });
});

describe('digest card data', () => {
  it('a digest with nothing in it still says so, section by section, and "All quiet"', () => {
    const data = digestCardData(facts(), NAMES);
    expect(data.title).toBe('Admin digest: 22 Nov 2026');
    expect(data.quiet).toMatch(/^All quiet/);
    expect(data.expiring).toMatchObject({ heading: 'Expiring in the next 7 days', empty: 'Nothing expires in the next 7 days.', packages: [], more: '' });
    expect(data.failed).toMatchObject({ empty: 'No delivery has failed.', items: [] });
    expect(data.timingOut.items).toEqual([]);
    expect(data.escalated.items).toEqual([]);
  });

  it('every section in words people act on, with a Reprocess id per failed delivery', () => {
    const policy = makePolicy();
    const escalation: AuditEvent = { id: 'e1', at: at('2026-11-22T06:30:00Z'), actorId: 'system', action: 'approval.escalated', packageId: 'accounting', userId: 'u-fred', requestId: 'REQ-1', details: { stage: 0, addedApproverIds: ['u-ivan'] } };
    const data = digestCardData(
      facts({
        days: 1,
        expiring: expiringByPackage([makeAssignment({ id: 'x', userId: 'u-lola', expiresAt: at('2026-11-22T09:15:00Z') })]),
        failed: [makeAssignment({ id: 'ASG-1', userId: 'u-fred', state: 'partiallyDelivered', updatedAt: NOW, roles: [{ resource: 'sap', role: 'User', state: 'failed', error: 'configuration error: needs AppRoleAssignment.ReadWrite.All' }] })],
        timingOut: timingOutSoon([pending('REQ-2', new Date(NOW.getTime() - 13 * DAY))], () => policy, NOW),
        escalations: [escalation],
        note: 'Catch-up: …',
      }),
      NAMES,
    );
    expect(data.quiet).toBe('');
    expect(data.note).toBe('Catch-up: …');
    expect(data.expiring.heading).toBe('Expiring in the next 1 day (1)');
    expect(data.expiring.packages).toEqual([{ name: 'Accounting', summary: '1 assignment expires:', lines: [{ text: 'Lola Martin: 22 Nov 2026 at 09:15 UTC' }] }]);
    expect(data.failed.items).toEqual([
      { id: 'ASG-1', title: 'Accounting for Fred Jansen: partly delivered', detail: 'Not delivered: sap (User). Reason: configuration error: needs AppRoleAssignment.ReadWrite.All. Assignment ASG-1, since 22 Nov 2026 at 09:00 UTC.' },
    ]);
    expect(data.timingOut.items).toEqual([{ title: 'Accounting for Fred Jansen (REQ-2)', detail: 'The approval is denied automatically on 23 Nov 2026 at 09:00 UTC unless Nadia Okafor decides.' }]);
    expect(data.escalated.items).toEqual([{ title: 'Accounting for Fred Jansen (REQ-1)', detail: 'Step 1 was escalated on 22 Nov 2026 at 06:30 UTC to Ivan Petrov.' }]);
  });

  it('long sections are cut to a few lines and the rest counted', () => {
    const failed = Array.from({ length: DIGEST_LIMITS.failed + 4 }, (_, i) => makeAssignment({ id: `F${i}`, state: 'deliveryFailed' }));
    const many = Array.from({ length: DIGEST_LIMITS.packages + 2 }, (_, i) => makeAssignment({ id: `E${i}`, packageId: `p${i}`, expiresAt: new Date(NOW.getTime() + HOUR) }));
    const data = digestCardData(facts({ failed, expiring: expiringByPackage(many) }), NAMES);
    expect(data.failed.items).toHaveLength(DIGEST_LIMITS.failed);
    expect(data.failed.more).toBe('…and 4 more.');
    expect(data.failed.heading).toBe(`Failed deliveries (${DIGEST_LIMITS.failed + 4})`);
    expect(data.expiring.packages).toHaveLength(DIGEST_LIMITS.packages);
    expect(data.expiring.more).toBe('…and 2 more packages.');
  });
});
