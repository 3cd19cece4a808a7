// Admin changes to someone's access: remove an assignment, cancel a request. Each goes
// through the same paths as the user's own give-back and cancel (removal tasks with the
// ledger rules; the conditional cancel transition and the approvers' cards updated), is
// audited, and the people concerned are told it was an administrator, and why.
import { formatInstant } from '../domain/lifecycle';
import { ACTIVE_ASSIGNMENT_STATES, type AccessRequest, type Assignment, type RequestState } from '../domain/model';
import { newRequest } from '../domain/newRequest';
import { AlreadyOpenError } from '../store/repositories/requests';
import type { AdminGate } from './admins';
import type { ServiceDependencies } from './deps';
import { readableId } from './ids';
import { notice } from './messages';
import type { Notifications } from './notifications';
import { asId, type Outcome, refuse } from './outcome';
import { describeState } from './requests';

export interface AdminChangeDependencies extends ServiceDependencies {
  notifications: Notifications;
  gate: AdminGate;
}

/** The same states a requester may cancel in (src/services/requests.ts). */
const CANCELABLE: readonly RequestState[] = ['pendingApproval', 'scheduled'];
export const MAX_REASON_LENGTH = 500;

export class AdminChanges {
  constructor(private readonly deps: AdminChangeDependencies) {}

  /** Ends an assignment now: an adminRemove request that delivery carries out (ledger rules apply). */
  async remove(adminId: string, rawAssignmentId: unknown, rawReason?: unknown): Promise<Outcome<{ request: AccessRequest; assignment: Assignment; packageName: string; userName: string }>> {
    const { repositories, clock } = this.deps;
    const refusal = await this.deps.gate.refusal(adminId, 'remove');
    if (refusal) return refuse('notAllowed', refusal);
    const reason = readReason(rawReason);
    if (reason === null) return refuse('invalidInput', `Please keep the reason under ${MAX_REASON_LENGTH} characters.`);
    const assignmentId = asId(rawAssignmentId);
    if (!assignmentId) return refuse('invalidInput', 'Give the id of the assignment to remove, for example: remove ASG-REQ-7K3M9QX2 left the team.');
    const assignment = await repositories.assignments.get(assignmentId);
    if (!assignment) {
      // A request id is a likely slip: point at its assignment.
      const request = await repositories.requests.get(assignmentId);
      const hint = request?.assignmentId ? ` ${request.id} is a request; its assignment is ${request.assignmentId}.` : ' Type assignments package-id to find it.';
      return refuse('notFound', `There's no assignment ${assignmentId.slice(0, 60)}.${hint}`);
    }
    const packageName = (await repositories.packages.get(assignment.packageId))?.displayName ?? assignment.packageId;
    const userName = await this.nameOf(assignment.userId);
    if (!ACTIVE_ASSIGNMENT_STATES.includes(assignment.state)) {
      const ended = assignment.state === 'expired' ? `expired${assignment.expiresAt ? ` on ${formatInstant(assignment.expiresAt)}` : ''}` : `was removed (${formatInstant(assignment.updatedAt)})`;
      return refuse('stale', `${userName}'s access to "${packageName}" (${assignment.id}) already ${ended}. Nothing was changed.`);
    }
    const beingRemoved = `${userName}'s access to "${packageName}" (${assignment.id}) is already being removed.`;
    if (assignment.endReason || assignment.roles.some((r) => r.state === 'removing') || (await repositories.requests.findOpen(assignment.userId, assignment.packageId, 'remove'))) {
      return refuse('stale', beingRemoved);
    }

    const now = clock.now();
    const request = newRequest({
      id: readableId('REQ'),
      type: 'adminRemove',
      packageId: assignment.packageId,
      policyId: assignment.policyId,
      requesterId: adminId,
      targetUserId: assignment.userId,
      ...(reason ? { justification: reason } : {}),
      schedule: { startAt: now },
      state: 'delivering',
      assignmentId: assignment.id,
      now,
    });
    try {
      await repositories.requests.insert(request, {
        actorId: adminId,
        action: 'admin.remove',
        packageId: assignment.packageId,
        userId: assignment.userId,
        requestId: request.id,
        assignmentId: assignment.id,
        details: { reason: reason ?? null },
      });
    } catch (error) {
      if (error instanceof AlreadyOpenError) return refuse('stale', beingRemoved);
      throw error;
    }
    await this.deps.workflow.removalRequested(request);
    const adminName = await this.nameOf(adminId);
    await this.deps.notifications.send(
      assignment.userId,
      notice(
        `Removed by an administrator: ${packageName}`,
        `${adminName}, an access package administrator, is removing your access to "${packageName}"${reason ? `. Their reason: "${reason}"` : ''}. Access you had before, or that another package gives you, stays. You'll get a message when it's done.`,
        'warning',
        [{ title: 'My access', verb: 'myAccess' }],
      ),
      { key: `adminRemove:${request.id}` },
    );
    return { ok: true, request, assignment, packageName, userName };
  }

  /** Cancels any request still waiting for approval or for its start; the approvers' cards say so. */
  async cancel(adminId: string, rawRequestId: unknown, rawReason?: unknown): Promise<Outcome<{ request: AccessRequest; packageName: string; userName: string; reason?: string }>> {
    const { repositories, clock } = this.deps;
    const refusal = await this.deps.gate.refusal(adminId, 'cancel');
    if (refusal) return refuse('notAllowed', refusal);
    const reason = readReason(rawReason);
    if (reason === null) return refuse('invalidInput', `Please keep the reason under ${MAX_REASON_LENGTH} characters.`);
    const requestId = asId(rawRequestId);
    if (!requestId) return refuse('invalidInput', 'Give the id of the request to cancel, for example: cancel REQ-7K3M9QX2 sent by mistake.');
    const request = await repositories.requests.get(requestId);
    if (!request) {
      const assignment = await repositories.assignments.get(requestId);
      const hint = assignment ? ` ${assignment.id} is an assignment: to end it, type remove ${assignment.id}.` : ' Type requests package-id to find it.';
      return refuse('notFound', `There's no request ${requestId.slice(0, 60)}.${hint}`);
    }
    const packageName = (await repositories.packages.get(request.packageId))?.displayName ?? request.packageId;
    const userName = await this.nameOf(request.targetUserId);
    if (!CANCELABLE.includes(request.state)) return refuse('stale', notCancelable(request, packageName, userName));

    const now = clock.now();
    const canceled = await repositories.requests.transition(
      request.id,
      CANCELABLE,
      {
        $set: { state: 'canceled', updatedAt: now },
        $push: { history: { at: now, actorId: adminId, action: 'canceled by an administrator', ...(reason ? { details: reason } : {}) } },
      },
      {},
      { actorId: adminId, action: 'admin.cancel', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, details: { reason: reason ?? null, previousState: request.state } },
    );
    if (!canceled) {
      const latest = (await repositories.requests.get(request.id)) ?? request;
      return refuse('stale', notCancelable(latest, packageName, userName));
    }
    await this.deps.workflow.canceled(canceled);
    const adminName = await this.nameOf(adminId);
    const why = reason ? ` Their reason: "${reason}"` : '';
    // The requester and the person it was for (when an admin asked for someone) hear it, unless they did it themselves.
    if (canceled.requesterId !== adminId) {
      const what = canceled.requesterId === canceled.targetUserId ? 'your request' : `your request for ${userName}`;
      await this.deps.notifications.send(
        canceled.requesterId,
        notice(`Canceled by an administrator: ${packageName}`, `${adminName}, an access package administrator, canceled ${what} ${canceled.id} for "${packageName}".${why}`, 'warning', [{ title: 'My requests', verb: 'myRequests' }]),
        { key: `adminCancel:${canceled.id}` },
      );
    }
    if (canceled.targetUserId !== canceled.requesterId && canceled.targetUserId !== adminId) {
      await this.deps.notifications.send(
        canceled.targetUserId,
        notice(`Canceled: ${packageName}`, `${adminName}, an access package administrator, canceled the request ${canceled.id} for access to "${packageName}" for you.${why}`, 'info'),
        { key: `adminCancel:${canceled.id}:target` },
      );
    }
    return { ok: true, request: canceled, packageName, userName, ...(reason ? { reason } : {}) };
  }

  private async nameOf(userId: string): Promise<string> {
    return (await this.deps.directory.getUser(userId))?.displayName ?? userId;
  }
}

/** The reason as typed (trimmed), undefined when none, null when too long. */
export function readReason(raw: unknown): string | undefined | null {
  const text = typeof raw === 'string' ? raw.replace(/\s+/g, ' ').trim() : '';
  if (text === '') return undefined;
  return Array.from(text).length > MAX_REASON_LENGTH ? null : text;
}

function notCancelable(request: AccessRequest, packageName: string, userName: string): string {
  const state = describeState(request, new Map()).replace(/^./, (c) => c.toLowerCase());
  const grants = request.type === 'add' || request.type === 'adminAdd';
  const hint = grants && request.assignmentId && request.state !== 'canceled' ? ` To take the access away, type remove ${request.assignmentId}.` : '';
  return `Request ${request.id} (${userName}, "${packageName}") can't be canceled: ${state}. Nothing was changed.${hint}`;
}
