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

/** How often the recovery sweep runs (besides at every start). */
export const RECOVERY_SWEEP_INTERVAL_MS = 5 * 60_000;

/**
 * The start-up recovery again, as a scheduled job (every RECOVERY_SWEEP_INTERVAL_MS): a chat
 * turn or task cut off half-way by a store that stopped answering leaves a stored request
 * without its next task, or an audit event on a document, and so does an instance killed
 * while others run on (MongoDB). Nothing restarts in either case, so this finds them once the
 * store answers again. Everything it does is keyed (dedupe keys, fixed audit ids), so it may
 * run on every instance at once and beside the turns it repairs.
 */
export class RecoverySweep {
  readonly name = 'recovery';
  private lastRun: number;

  constructor(
    private readonly repositories: Repositories,
    private readonly now: () => Date,
    private readonly report: (found: { audited: number; requeued: number }) => void,
    private readonly intervalMs = RECOVERY_SWEEP_INTERVAL_MS,
  ) {
    // Start-up has just done the same.
    this.lastRun = now().getTime();
  }

  async run(): Promise<void> {
    const now = this.now().getTime();
    if (now - this.lastRun < this.intervalMs) return;
    const audited = await settlePendingAudit(this.repositories);
    const requeued = await resumeHandovers(this.repositories);
    // Only a complete run counts: one the store cut off is tried again next tick.
    this.lastRun = now;
    if (audited > 0 || requeued > 0) this.report({ audited, requeued });
  }
}
