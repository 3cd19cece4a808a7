import { policyAdmits } from '../domain/eligibility';
import { extensionPlan, formatInstant } from '../domain/lifecycle';
import { ACTIVE_ASSIGNMENT_STATES, type AccessRequest, type Assignment, type Policy } from '../domain/model';
import { newRequest } from '../domain/newRequest';
import type { PersonClaim } from '../store/repositories/personClaims';
import { AlreadyOpenError } from '../store/repositories/requests';
import type { ServiceDependencies } from './deps';
import { GrantChecks, stillClaimed, underPersonClaim } from './grantChecks';
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
  /** Extending goes to the policy's approvers (so My access offers a reason box). */
  extendRequiresApproval: boolean;
  /** `extend` refuses without a justification: the approvers require one. */
  extendJustificationRequired: boolean;
  /** The end an extension now would give; absent when it would lift the expiry (or isn't allowed). */
  extendUntil?: Date;
  extendNote?: string;
  removalPending: boolean;
}

/** What a warning offers: extend (and how), or why not. */
export type ExtensionOffer =
  | { allowed: true; newExpiresAt?: Date; requiresApproval: boolean; justificationRequired: boolean }
  | { allowed: false; message: string };

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
        // The same rule `extend` applies, so the card asks for a reason exactly when it is needed.
        extendRequiresApproval: plan.allowed && plan.requiresApproval,
        extendJustificationRequired: plan.allowed && plan.requiresApproval && (policy?.approval.requestorJustificationRequired ?? false),
        ...(plan.allowed && plan.newExpiresAt ? { extendUntil: plan.newExpiresAt } : {}),
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
    const plan = extensionPlan({ assignment, policy, now: clock.now() });
    if (!plan.allowed) return refuse('notAllowed', plan.message);

    const text = typeof justification === 'string' ? justification.trim().slice(0, 1000) : undefined;
    if (policy.approval.requestorJustificationRequired && plan.requiresApproval && !text) {
      return refuse('invalidInput', 'Please say why you need the extension: the approvers need a justification.', [{ field: 'justification', message: 'A justification is required.' }]);
    }
    // Under the person's claim, like every change that can give them access: an extension
    // prolongs access, so it must not prolong access that now conflicts (separation of duties).
    return underPersonClaim(this.deps, userId, 'extend', (claim) => this.extendUnderClaim(claim, userId, assignment, packageName, policy, plan, text));
  }

  private async extendUnderClaim(
    claim: PersonClaim,
    userId: string,
    assignment: Assignment,
    packageName: string,
    policy: Policy,
    plan: { newExpiresAt?: Date; requiresApproval: boolean },
    text: string | undefined,
  ): Promise<Outcome<{ packageName: string; extendedTo?: Date; request?: AccessRequest }>> {
    const { repositories, clock } = this.deps;
    const accessPackage = await repositories.packages.get(assignment.packageId);
    if (accessPackage) {
      const sod = await new GrantChecks(this.deps).separationOfDuties(userId, accessPackage);
      if (!sod.ok) {
        const other = sod.conflict.kind === 'group' ? `you're a member of "${sod.conflictName ?? sod.conflict.id}"` : `you have (or asked for) "${sod.conflictName ?? sod.conflict.id}"`;
        return refuse('separationOfDuties', `You can't extend "${packageName}": ${other}, and the two are incompatible (separation of duties). It ends as planned; give one of them back if you need the other.`);
      }
    }
    const now = clock.now();

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
    const submitted = { actorId: userId, action: 'request.submitted', packageId: assignment.packageId, userId, requestId: request.id, assignmentId: assignment.id, details: { type: 'extend' } };
    const lost = await stillClaimed(this.deps, claim);
    if (lost) return lost;
    try {
      // Without approval the change is the assignment's (audited below), not a submission.
      await repositories.requests.insert(request, plan.requiresApproval ? submitted : undefined);
    } catch (error) {
      if (error instanceof AlreadyOpenError) return refuse('alreadyRequested', `You already asked to extend "${packageName}". Type my requests to follow it.`);
      throw error;
    }

    if (plan.requiresApproval) {
      await this.deps.workflow.submitted(request);
      return { ok: true, packageName, request };
    }

    // No approval: the new expiry applies now, provided nothing changed the assignment meanwhile.
    // The lifecycle job plans the new expiry's warnings afresh (lifecycleCheckAt = now).
    const update = plan.newExpiresAt
      ? { $set: { expiresAt: plan.newExpiresAt, expirySetAt: now, lifecycleCheckAt: now, updatedAt: now }, $push: { requestIds: request.id } }
      : { $unset: { expiresAt: true, expirySetAt: true, lifecycleCheckAt: true }, $set: { updatedAt: now }, $push: { requestIds: request.id } };
    const extended = await repositories.assignments.update(assignment.id, { state: { $in: [...ACTIVE_ASSIGNMENT_STATES] }, expiresAt: assignment.expiresAt }, update, {
      actorId: userId,
      action: 'assignment.extended',
      packageId: assignment.packageId,
      userId,
      requestId: request.id,
      assignmentId: assignment.id,
      details: { from: assignment.expiresAt?.toISOString() ?? null, to: plan.newExpiresAt?.toISOString() ?? null },
    });
    if (!extended) return refuse('stale', `"${packageName}" changed while you were extending it. Type my access to see it as it is now.`);
    return { ok: true, packageName, extendedTo: plan.newExpiresAt };
  }

  /**
   * Whether the owner may extend this assignment now, as `extend` would decide: the policy's
   * extension plan, the user still in the policy's scope, no extension already waiting.
   */
  async extensionOffer(assignment: Assignment): Promise<ExtensionOffer> {
    const { repositories, clock, directory } = this.deps;
    const policy = await repositories.policies.get(assignment.packageId, assignment.policyId);
    if (!policy) return { allowed: false, message: 'It can\'t be extended: the policy it was granted under no longer exists.' };
    const plan = extensionPlan({ assignment, policy, now: clock.now() });
    if (!plan.allowed) return plan;
    const pending = await repositories.requests.findOpen(assignment.userId, assignment.packageId, 'extend');
    if (pending) return { allowed: false, message: `An extension is waiting for approval (${pending.id}).` };
    const requestor = await loadRequestor(directory, repositories.policies, assignment.userId);
    if (isRefusal(requestor) || !policyAdmits(policy, requestor.facts)) return { allowed: false, message: "It can't be extended: its policy no longer includes you. Ask your manager or IT." };
    return { ...plan, justificationRequired: plan.requiresApproval && policy.approval.requestorJustificationRequired };
  }

  /**
   * "Let it expire": no more warnings for this expiry (the lifecycle job's next check moves to
   * the expiry itself). `rawExpiresAt` is the expiry the warning was about: if the access has
   * been extended since, the new expiry keeps its warnings.
   */
  async letExpire(userId: string, rawAssignmentId: unknown, rawExpiresAt?: unknown): Promise<Outcome<{ packageName: string; expiresAt: Date }>> {
    const { repositories, clock } = this.deps;
    const found = await this.ownAssignment(userId, rawAssignmentId);
    if (isRefusal(found)) return found;
    const { assignment, packageName } = found;
    const expiresAt = assignment.expiresAt;
    if (!expiresAt) return refuse('notAllowed', `Your access to "${packageName}" doesn't expire, so there is nothing to let expire. Type my access to give it back instead.`);
    if (rawExpiresAt !== undefined && rawExpiresAt !== expiresAt.toISOString()) {
      return refuse('stale', `Your access to "${packageName}" has changed since that reminder: it now ends on ${formatInstant(expiresAt)}. You'll be reminded again before then.`);
    }
    if (expiresAt.getTime() <= clock.now().getTime() || !assignment.lifecycleCheckAt) {
      return refuse('stale', `Your access to "${packageName}" is already ending. Type my access to see what you have now.`);
    }
    // The next check moves to the expiry itself (after the last warning it is there already).
    const quieted = await repositories.assignments.update(
      assignment.id,
      { state: { $in: [...ACTIVE_ASSIGNMENT_STATES] }, expiresAt, lifecycleCheckAt: { $lte: expiresAt }, expiryAccepted: { $ne: expiresAt } },
      { $set: { lifecycleCheckAt: expiresAt, expiryAccepted: expiresAt } },
      { actorId: userId, action: 'assignment.letExpire', packageId: assignment.packageId, userId, assignmentId: assignment.id, details: { expiresAt: expiresAt.toISOString() } },
    );
    if (quieted) return { ok: true, packageName, expiresAt };
    // A second press finds it already quiet: same answer, nothing changed or audited again.
    const current = await repositories.assignments.get(assignment.id);
    if (current?.expiryAccepted?.getTime() === expiresAt.getTime() && current.expiresAt?.getTime() === expiresAt.getTime()) return { ok: true, packageName, expiresAt };
    return refuse('stale', `Your access to "${packageName}" changed meanwhile. Type my access to see it as it is now.`);
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
      await repositories.requests.insert(request, { actorId: userId, action: 'request.submitted', packageId: assignment.packageId, userId, requestId: request.id, assignmentId: assignment.id, details: { type: 'remove' } });
    } catch (error) {
      if (error instanceof AlreadyOpenError) return refuse('alreadyRequested', `"${packageName}" is already being removed.`);
      throw error;
    }
    await this.deps.workflow.removalRequested(request);
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
