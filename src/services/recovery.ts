// Start-up recovery of hand-overs. Accepting a request (or a decision) writes the request and
// then queues its next task: two writes, so a crash between them (kill -9, power loss, a lost
// container) left a request that nothing would ever move again. At start-up every request
// still in motion is checked and the task it is waiting for is queued again. Enqueueing is
// idempotent (the same dedupe key as the normal path), so a task that exists is not doubled.

import type { AccessRequest } from '../domain/model';
import type { Repositories } from '../store/repositories';
import { TASK_TYPES } from './workflow';

export async function resumeHandovers(repositories: Repositories): Promise<number> {
  let queued = 0;
  for (const request of await repositories.requests.listInStates(['pendingApproval', 'delivering', 'scheduled'])) {
    if (await handoverOf(request, repositories)) queued++;
  }
  return queued;
}

/** Queues the task the request waits for; true when one was missing. */
async function handoverOf(request: AccessRequest, repositories: Repositories): Promise<boolean> {
  const { tasks } = repositories;
  if (request.state === 'pendingApproval') {
    const stage = request.currentStage ?? 0;
    if (request.stages.length > stage) return false; // its stage started: timeouts and cards are queued
    // The same task and key as TaskWorkflow.submitted (stage 1) and ApprovalService.afterDecision.
    return (
      (await tasks.enqueue(
        stage === 0
          ? { type: TASK_TYPES.startApproval, payload: { requestId: request.id }, dedupeKey: `${TASK_TYPES.startApproval}:${request.id}` }
          : { type: TASK_TYPES.startApproval, payload: { requestId: request.id, stage }, dedupeKey: `${TASK_TYPES.startApproval}:${request.id}:${stage}` },
      )) !== null
    );
  }
  if (request.type === 'remove' || request.type === 'adminRemove') {
    if (!request.assignmentId) return false;
    return (await tasks.enqueue({ type: TASK_TYPES.remove, payload: { requestId: request.id, assignmentId: request.assignmentId }, dedupeKey: `${TASK_TYPES.remove}:${request.id}` })) !== null;
  }
  if ((request.type === 'add' || request.type === 'adminAdd') && !request.assignmentId) {
    // As TaskWorkflow.approved: a scheduled request's delivery falls due at its start.
    const dueAt = request.state === 'scheduled' ? request.schedule.startAt : undefined;
    return (await tasks.enqueue({ type: TASK_TYPES.deliver, payload: { requestId: request.id }, dueAt, dedupeKey: `${TASK_TYPES.deliver}:${request.id}` })) !== null;
  }
  return false;
}

/**
 * Records the audit events a crash left on requests, assignments and the catalog (written with
 * their change, not yet in the audit log: see store/repositories/pendingAudit.ts). Runs before
 * the catalog apply, whose whole-document writes would drop them. Returns how many.
 */
export async function settlePendingAudit(repositories: Repositories): Promise<number> {
  const { requests, assignments, catalogs, packages, policies } = repositories;
  let settled = 0;
  for (const repository of [requests, assignments, catalogs, packages, policies]) settled += await repository.settlePendingAudit();
  return settled;
}
