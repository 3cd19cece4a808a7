import { policyAdmits } from '../domain/eligibility';
import { extensionPlan, formatInstant } from '../domain/lifecycle';
import { ACTIVE_ASSIGNMENT_STATES, type AccessRequest, type Assignment } from '../domain/model';
import { newRequest } from '../domain/newRequest';
import { AlreadyOpenError } from '../store/repositories/requests';
import type { ServiceDependencies } from './deps';
import { type GrantedRole, grantedRoles } from './describe';
import { readableId } from './ids';
import { asId, type Outcome, refuse } from './outcome';
import { isRefusal, loadRequestor } from './requestor';

export interface AccessSummary {
  assignmentId: string;
  packageId: string;
  packageName: string;
  state: Assignment['state'];
  startAt: Date;
  expiresAt?: Date;
  roles: GrantedRole[];
  canExtend: boolean;
  extendNote?: string;
  removalPending: boolean;
}

export class AccessService {
  constructor(private readonly deps: ServiceDependencies) {}

  /** The user's active assignments with what each gives and what they can do with it. */
  async myAccess(userId: string): Promise<AccessSummary[]> {
    const { repositories, clock } = this.deps;
    const assignments = await repositories.assignments.listActiveForUser(userId);
    const now = clock.now();
    const openRequests = await repositories.requests.listOpenForUser(userId);
    const summaries: AccessSummary[] = [];
    for (const assignment of assignments) {
      const accessPackage = await repositories.packages.get(assignment.packageId);
      const catalog = accessPackage ? await repositories.catalogs.get(accessPackage.catalog) : null;
      const policy = await repositories.policies.get(assignment.packageId, assignment.policyId);
      const plan = policy ? extensionPlan({ assignment, policy, now }) : { allowed: false as const, message: 'Its policy no longer exists.' };
      const extendPending = openRequests.some((r) => r.type === 'extend' && r.assignmentId === assignment.id);
      summaries.push({
        assignmentId: assignment.id,
        packageId: assignment.packageId,
        packageName: accessPackage?.displayName ?? assignment.packageId,
        state: assignment.state,
        startAt: assignment.startAt,
        expiresAt: assignment.expiresAt,
        roles: accessPackage ? grantedRoles(accessPackage, catalog) : [],
        canExtend: plan.allowed && !extendPending,
        extendNote: extendPending ? 'An extension is waiting for approval.' : plan.allowed ? undefined : plan.message,
        removalPending: openRequests.some((r) => (r.type === 'remove' || r.type === 'adminRemove') && r.assignmentId === assignment.id),
      });
    }
    return summaries;
  }

  /**
   * Extends an assignment within its policy: at once when extension needs no approval,
   * otherwise through an extend request that follows the policy's approval stages.
   */
  async extend(userId: string, rawAssignmentId: unknown, justification?: unknown): Promise<Outcome<{ packageName: string; extendedTo?: Date; request?: AccessRequest }>> {
    const { repositories, clock, directory } = this.deps;
    const found = await this.ownAssignment(userId, rawAssignmentId);
    if (isRefusal(found)) return found;
    const { assignment, packageName } = found;
    const policy = await repositories.policies.get(assignment.packageId, assignment.policyId);
    if (!policy) return refuse('unavailable', `"${packageName}" can't be extended: the policy it was granted under no longer exists. Request the package again.`);
    const requestor = await loadRequestor(directory, repositories.policies, userId);
    if (isRefusal(requestor)) return requestor;
    // Entra requires the user to still be in the policy's scope to extend.
    if (!policyAdmits(policy, requestor.facts)) return refuse('notEligible', `You can't extend "${packageName}": its policy no longer includes you. Ask your manager or IT.`);
    const now = clock.now();
    const plan = extensionPlan({ assignment, policy, now });
    if (!plan.allowed) return refuse('notAllowed', plan.message);

    const text = typeof justification === 'string' ? justification.trim().slice(0, 1000) : undefined;
    if (policy.approval.requestorJustificationRequired && plan.requiresApproval && !text) {
      return refuse('invalidInput', 'Please say why you need the extension: the approvers need a justification.', [{ field: 'justification', message: 'A justification is required.' }]);
    }

    const request = newRequest({
      id: readableId('REQ'),
      type: 'extend',
      packageId: assignment.packageId,
      policyId: policy.id,
      requesterId: userId,
      targetUserId: userId,
      justification: text,
      schedule: { startAt: now, ...(plan.newExpiresAt ? { expiresAt: plan.newExpiresAt } : {}) },
      state: plan.requiresApproval ? 'pendingApproval' : 'delivered',
      assignmentId: assignment.id,
      now,
    });
    try {
      await repositories.requests.insert(request);
    } catch (error) {
      if (error instanceof AlreadyOpenError) return refuse('alreadyRequested', `You already asked to extend "${packageName}". Type my requests to follow it.`);
      throw error;
    }

    if (plan.requiresApproval) {
      await this.deps.workflow.submitted(request);
      await repositories.audit.append({ actorId: userId, action: 'request.submitted', packageId: assignment.packageId, userId, requestId: request.id, assignmentId: assignment.id, details: { type: 'extend' } });
      return { ok: true, packageName, request };
    }

    // No approval: the new expiry applies now, provided nothing changed the assignment meanwhile.
    const update = plan.newExpiresAt
      ? { $set: { expiresAt: plan.newExpiresAt, updatedAt: now }, $push: { requestIds: request.id } }
      : { $unset: { expiresAt: true }, $set: { updatedAt: now }, $push: { requestIds: request.id } };
    const extended = await repositories.assignments.update(assignment.id, { state: { $in: [...ACTIVE_ASSIGNMENT_STATES] }, expiresAt: assignment.expiresAt }, update);
    if (!extended) return refuse('stale', `"${packageName}" changed while you were extending it. Type my access to see it as it is now.`);
    await repositories.audit.append({
      actorId: userId,
      action: 'assignment.extended',
      packageId: assignment.packageId,
      userId,
      requestId: request.id,
      assignmentId: assignment.id,
      details: { from: assignment.expiresAt?.toISOString() ?? null, to: plan.newExpiresAt?.toISOString() ?? null },
    });
    return { ok: true, packageName, extendedTo: plan.newExpiresAt };
  }

  /** Gives access back early: a remove request that delivery carries out (ledger rules apply). */
  async removeMyAccess(userId: string, rawAssignmentId: unknown): Promise<Outcome<{ packageName: string; request: AccessRequest }>> {
    const { repositories, clock } = this.deps;
    const found = await this.ownAssignment(userId, rawAssignmentId);
    if (isRefusal(found)) return found;
    const { assignment, packageName } = found;
    const now = clock.now();
    const request = newRequest({
      id: readableId('REQ'),
      type: 'remove',
      packageId: assignment.packageId,
      policyId: assignment.policyId,
      requesterId: userId,
      targetUserId: userId,
      schedule: { startAt: now },
      state: 'delivering',
      assignmentId: assignment.id,
      now,
    });
    try {
      await repositories.requests.insert(request);
    } catch (error) {
      if (error instanceof AlreadyOpenError) return refuse('alreadyRequested', `"${packageName}" is already being removed.`);
      throw error;
    }
    await this.deps.workflow.removalRequested(request);
    await repositories.audit.append({ actorId: userId, action: 'request.submitted', packageId: assignment.packageId, userId, requestId: request.id, assignmentId: assignment.id, details: { type: 'remove' } });
    return { ok: true, packageName, request };
  }

  private async ownAssignment(userId: string, rawAssignmentId: unknown): Promise<{ assignment: Assignment; packageName: string } | ReturnType<typeof refuse>> {
    const { repositories } = this.deps;
    const assignmentId = asId(rawAssignmentId);
    if (!assignmentId) return refuse('invalidInput', 'That card did not say which access it is about. Type my access to see yours.');
    const assignment = await repositories.assignments.get(assignmentId);
    if (!assignment || assignment.userId !== userId) return refuse('notFound', `You have no access with the id ${assignmentId.slice(0, 40)}. Type my access to see yours.`);
    const packageName = (await repositories.packages.get(assignment.packageId))?.displayName ?? assignment.packageId;
    if (!ACTIVE_ASSIGNMENT_STATES.includes(assignment.state)) {
      const ended = assignment.state === 'expired' ? 'expired' : 'was removed';
      return refuse('stale', `Your access to "${packageName}" ${ended}${assignment.expiresAt ? ` (${formatInstant(assignment.expiresAt)})` : ''}. Type packages to request it again.`);
    }
    return { assignment, packageName };
  }
}
