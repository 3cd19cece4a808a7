import { decide, escalationTime, reminderTime, selectApprovers, stageDeadline, stageDeciders } from '../../src/domain/approval';
import type { AccessRequest, RequestStage } from '../../src/domain/model';
import { newRequest } from '../../src/domain/newRequest';
import { makePolicy, makeStage, NOW } from '../support/domainFixtures';

const later = new Date(NOW.getTime() + 60_000);

function pending(stages: RequestStage[], currentStage = 0, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return { ...newRequest({ id: 'REQ-1', type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: 'fred', targetUserId: 'fred', state: 'pendingApproval', schedule: { startAt: NOW }, now: NOW }), stages, currentStage, ...overrides };
}

const stage0: RequestStage = { index: 0, approverIds: ['nadia', 'alex'], startedAt: NOW };
const stage1: RequestStage = { index: 1, approverIds: ['patti'], startedAt: NOW };
const oneStage = makePolicy();
const threeStages = makePolicy({ approval: { stages: [makeStage(), makeStage({ approverJustificationRequired: true }), makeStage()] } });

describe('selectApprovers', () => {
  it('uses the primary approvers without the requester', () => {
    expect(selectApprovers(['nadia', 'fred', 'nadia'], ['patti'], 'fred')).toEqual({ approverIds: ['nadia'], usedFallback: false });
  });

  it('falls back when the primary approvers are nobody, or only the requester', () => {
    expect(selectApprovers([], ['patti'], 'fred')).toEqual({ approverIds: ['patti'], usedFallback: true });
    expect(selectApprovers(['fred'], ['patti', 'fred'], 'fred')).toEqual({ approverIds: ['patti'], usedFallback: true });
  });

  it('is empty when even the fallback is only the requester', () => {
    expect(selectApprovers(['fred'], ['fred'], 'fred')).toEqual({ approverIds: [], usedFallback: true });
  });
});

describe('stage times', () => {
  it('times out after the stage decision time, P14D by default', () => {
    expect(stageDeadline(makeStage({ durationBeforeAutomaticDenial: 'P7D' }), NOW).toISOString()).toBe('2026-11-29T09:00:00.000Z');
    expect(stageDeadline(makeStage({ durationBeforeAutomaticDenial: '' }), NOW).toISOString()).toBe('2026-12-06T09:00:00.000Z');
  });

  it('escalates after escalation.after, when configured', () => {
    expect(escalationTime(makeStage(), NOW)).toBeUndefined();
    expect(escalationTime(makeStage({ escalation: { after: 'P3D', approvers: [{ user: 'patti' }] } }), NOW)!.toISOString()).toBe('2026-11-25T09:00:00.000Z');
  });

  it('reminds halfway, or at the configured fraction', () => {
    expect(reminderTime(makeStage({ durationBeforeAutomaticDenial: 'P4D' }), NOW).toISOString()).toBe('2026-11-24T09:00:00.000Z');
    expect(reminderTime(makeStage({ durationBeforeAutomaticDenial: 'P4D' }), NOW, 0.75).toISOString()).toBe('2026-11-25T09:00:00.000Z');
  });
});

describe('decide', () => {
  const base = { policy: oneStage, approverId: 'nadia', stageIndex: 0, isApproverNow: true, justification: undefined, now: later };

  it('approve at the only stage ends approval: delivering', () => {
    const result = decide({ ...base, request: pending([stage0]), decision: 'approve' });
    expect(result).toMatchObject({ ok: true, next: { state: 'delivering' }, decision: { approverId: 'nadia', decision: 'approve', at: later } });
    if (result.ok) expect(result.stages[0]!.decision).toEqual(result.decision);
  });

  it('approve with a start in the future ends approval as scheduled', () => {
    const request = pending([stage0], 0, { schedule: { startAt: new Date('2026-12-01T00:00:00Z') } });
    expect(decide({ ...base, request, decision: 'approve' })).toMatchObject({ ok: true, next: { state: 'scheduled' } });
  });

  it.each([0, 1, 2])('deny at stage %i of 3 ends the request', (index) => {
    const stages = [stage0, stage1, { index: 2, approverIds: ['victor'], startedAt: NOW }].slice(0, index + 1);
    const result = decide({ ...base, policy: threeStages, request: pending(stages, index), stageIndex: index, decision: 'deny', justification: 'no' });
    expect(result).toMatchObject({ ok: true, next: { state: 'denied' }, decision: { decision: 'deny', justification: 'no' } });
  });

  it('approve at an earlier stage moves on to the next stage', () => {
    expect(decide({ ...base, policy: threeStages, request: pending([stage0]), decision: 'approve' })).toMatchObject({ ok: true, next: { state: 'pendingApproval', currentStage: 1 } });
    expect(decide({ ...base, policy: threeStages, request: pending([stage0, stage1, { index: 2, approverIds: ['v'], startedAt: NOW }], 2), stageIndex: 2, decision: 'approve' })).toMatchObject({
      ok: true,
      next: { state: 'delivering' },
    });
  });

  it('refuses a click on a stage already decided, naming that decision', () => {
    const decided = { ...stage0, decision: { approverId: 'alex', decision: 'approve' as const, at: NOW } };
    expect(decide({ ...base, request: pending([decided], 0, { state: 'delivering' }), decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'decided', decision: decided.decision } });
    // An earlier stage's card after the request moved on: that stage's decision.
    expect(decide({ ...base, policy: threeStages, request: pending([decided, stage1], 1), decision: 'deny' })).toEqual({ ok: false, refusal: { kind: 'decided', decision: decided.decision } });
  });

  it('refuses a click on a request closed without a decision (canceled, timed out)', () => {
    expect(decide({ ...base, request: pending([stage0], 0, { state: 'canceled' }), decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'notPending', state: 'canceled' } });
    expect(decide({ ...base, request: pending([stage0], 0, { state: 'timedOut' }), decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'notPending', state: 'timedOut' } });
  });

  it('tells a non-approver nothing about the outcome', () => {
    const decided = { ...stage0, decision: { approverId: 'alex', decision: 'approve' as const, at: NOW } };
    expect(decide({ ...base, isApproverNow: false, request: pending([decided], 0, { state: 'delivering' }), decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'notApprover' } });
  });

  it('refuses a card from another stage', () => {
    expect(decide({ ...base, policy: threeStages, request: pending([stage0], 0), stageIndex: 1, decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'otherStage', currentStage: 0 } });
  });

  it('nobody decides their own request, even when named an approver', () => {
    expect(decide({ ...base, approverId: 'fred', request: pending([{ ...stage0, approverIds: ['fred'] }]), decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'ownRequest' } });
  });

  it('refuses someone who is not (or no longer) an approver', () => {
    expect(decide({ ...base, isApproverNow: false, request: pending([stage0]), decision: 'approve' })).toEqual({ ok: false, refusal: { kind: 'notApprover' } });
  });

  it('requires the approver\'s justification when the stage says so, and bounds it', () => {
    const request = pending([stage0, stage1], 1);
    expect(decide({ ...base, policy: threeStages, request, stageIndex: 1, decision: 'approve', justification: '  ' })).toEqual({ ok: false, refusal: { kind: 'justificationRequired' } });
    expect(decide({ ...base, policy: threeStages, request, stageIndex: 1, decision: 'approve', justification: 'x'.repeat(1001) })).toEqual({ ok: false, refusal: { kind: 'justificationTooLong' } });
    expect(decide({ ...base, policy: threeStages, request, stageIndex: 1, decision: 'approve', justification: ' fine ' })).toMatchObject({ ok: true, decision: { justification: 'fine' } });
  });

  it.each([['maybe'], [{ $gt: '' }], [undefined]])('refuses a decision that is not approve or deny (%j)', (decision) => {
    expect(decide({ ...base, request: pending([stage0]), decision })).toEqual({ ok: false, refusal: { kind: 'invalid' } });
  });

  it('refuses a justification that is not text', () => {
    expect(decide({ ...base, request: pending([stage0]), decision: 'approve', justification: { $ne: null } })).toEqual({ ok: false, refusal: { kind: 'invalid' } });
  });
});

describe('stageDeciders', () => {
  it('is the approvers plus, after escalation, the alternates, once each', () => {
    expect(stageDeciders({ ...stage0, escalationApproverIds: ['patti', 'nadia'] })).toEqual(['nadia', 'alex', 'patti']);
  });
});
