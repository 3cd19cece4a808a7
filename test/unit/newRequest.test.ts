import { newRequest } from '../../src/domain/newRequest';

const now = new Date('2026-11-22T09:00:00Z');
const base = { id: 'REQ-1', type: 'add' as const, packageId: 'p', policyId: 'q', requesterId: 'u', targetUserId: 'u', schedule: { startAt: now }, now };

describe('newRequest', () => {
  it('starts a request needing approval at stage 0 with a submitted history entry', () => {
    expect(newRequest({ ...base, state: 'pendingApproval', justification: 'why' })).toEqual({
      id: 'REQ-1', type: 'add', packageId: 'p', policyId: 'q', requesterId: 'u', targetUserId: 'u', schedule: { startAt: now },
      state: 'pendingApproval', justification: 'why', answers: [], currentStage: 0, stages: [], createdAt: now, updatedAt: now,
      history: [{ at: now, actorId: 'u', action: 'submitted' }],
    });
  });

  it('has no stage when no approval is needed, and omits empty optional fields', () => {
    const request = newRequest({ ...base, state: 'delivering', justification: '' });
    expect(request).not.toHaveProperty('currentStage');
    expect(request).not.toHaveProperty('justification');
    expect(request).not.toHaveProperty('assignmentId');
  });
});
