import { packageAvailability } from '../domain/eligibility';
import { formatDate, formatInstant } from '../domain/lifecycle';
import type { AccessPackage, AccessRequest, Policy, RequestState, RequestType } from '../domain/model';
import { newRequest } from '../domain/newRequest';
import { validateSubmission } from '../domain/requestRules';
import type { PersonClaim } from '../store/repositories/personClaims';
import { AlreadyOpenError } from '../store/repositories/requests';
import { ruleSummary } from './approvalMessages';
import type { ServiceDependencies } from './deps';
import { GrantChecks, stillClaimed, underPersonClaim } from './grantChecks';
import { readableId } from './ids';
import { asId, type Outcome, type Refusal, refuse } from './outcome';
import { isRefusal, loadRequestor, type Requestor } from './requestor';

export interface SubmissionData {
  packageId: unknown;
  policyId: unknown;
  justification: unknown;
  answers: Record<string, unknown>;
  startDate?: unknown;
  endDate?: unknown;
}

export interface RequestSummary {
  id: string;
  packageId: string;
  packageName: string;
  type: AccessRequest['type'];
  state: RequestState;
  stateText: string;
  createdAt: Date;
  canCancel: boolean;
}

const CANCELABLE: readonly RequestState[] = ['pendingApproval', 'scheduled'];

/**
 * The requests a person's open-request limit counts: what they asked for themselves (a new
 * package, an extension, giving access back). An admin's direct assignment or removal is the
 * admin's act, not the person's, and counts for neither.
 */
export const SELF_SERVICE_REQUEST_TYPES: readonly RequestType[] = ['add', 'extend', 'remove'];

export interface RequestLimits {
  /** Open requests one person may have (asked for by them); 0: no limit. */
  openRequests: number;
}

export class RequestService {
  constructor(
    private readonly deps: ServiceDependencies,
    private readonly limits: RequestLimits = { openRequests: 0 },
  ) {}

  /**
   * Re-checks everything on the server (the card is not trusted), then stores the request and
   * hands it over to approval or delivery. A refusal stores nothing.
   */
  async submit(userId: string, data: SubmissionData): Promise<Outcome<{ request: AccessRequest; packageName: string; needsApproval: boolean }>> {
    const { repositories, directory } = this.deps;
    const packageId = asId(data.packageId);
    const policyId = asId(data.policyId);
    if (!packageId || !policyId) return refuse('invalidInput', 'That form is incomplete or was altered: it does not say which package and policy it is for. Open the package again and resend.');
    // Before any directory work: a person at the limit costs one indexed count. Counted again
    // under the person's claim, so two submissions racing at the limit can't both pass.
    const tooMany = await this.openRequestLimit(userId);
    if (tooMany) return tooMany;

    const accessPackage = await repositories.packages.get(packageId);
    if (!accessPackage) return refuse('notFound', `There's no access package with the id "${packageId.slice(0, 60)}" any more. Type packages to see the ones you can request.`);
    const requestor = await loadRequestor(directory, repositories.policies, userId, accessPackage.incompatibleGroups);
    if (isRefusal(requestor)) return requestor;

    const catalog = await repositories.catalogs.get(accessPackage.catalog);
    const availability = packageAvailability({
      catalog,
      accessPackage,
      policies: await repositories.policies.listForPackage(accessPackage.id),
      facts: requestor.facts,
      viaDirectLink: true,
    });
    if (!availability.available) return refuse(availability.reason === 'notEligible' ? 'notEligible' : 'unavailable', availability.message);
    const policy = availability.policies.find((p) => p.id === policyId);
    if (!policy) {
      return refuse('stale', `This form is out of date: its policy no longer applies to you for "${accessPackage.displayName}". Open the package again to get the current form.`);
    }
    // What the person holds or has asked for is checked, and the request stored, under their
    // claim: two submissions (or an admin's assignment) at the same moment can't both pass.
    return underPersonClaim(this.deps, userId, 'request', (claim) => this.submitUnderClaim(userId, data, accessPackage, policy, requestor, claim));
  }

  private async submitUnderClaim(
    userId: string,
    data: SubmissionData,
    accessPackage: AccessPackage,
    policy: Policy,
    requestor: Requestor,
    claim: PersonClaim,
  ): Promise<Outcome<{ request: AccessRequest; packageName: string; needsApproval: boolean }>> {
    const { repositories, clock } = this.deps;
    const active = await repositories.assignments.listActiveForUser(userId);
    const current = active.find((a) => a.packageId === accessPackage.id);
    if (current) {
      const until = current.expiresAt ? ` until ${formatInstant(current.expiresAt)}` : '';
      return refuse('alreadyAssigned', `You already have "${accessPackage.displayName}"${until}. Type my access to see it${until ? ' or extend it' : ''}.`);
    }
    const pending = await repositories.requests.findOpen(userId, accessPackage.id);
    if (pending) return refuse('alreadyRequested', alreadyRequestedMessage(accessPackage.displayName, pending));

    const sod = await new GrantChecks(this.deps).separationOfDuties(userId, accessPackage, undefined, requestor.facts.groupIds);
    if (!sod.ok) return refuse('separationOfDuties', sod.message);
    const tooMany = await this.openRequestLimit(userId);
    if (tooMany) return tooMany;

    const now = clock.now();
    const validation = validateSubmission({
      policy,
      justification: data.justification,
      answers: data.answers,
      schedule: { startDate: data.startDate, endDate: data.endDate },
      now,
    });
    if (!validation.ok) {
      return refuse('invalidInput', 'Please fix the highlighted answers and send the request again.', validation.errors);
    }

    const { value } = validation;
    const needsApproval = policy.approval.required && policy.approval.stages.length > 0;
    const startsLater = value.schedule.startAt.getTime() > now.getTime();
    const request = newRequest({
      id: readableId('REQ'),
      type: 'add',
      packageId: accessPackage.id,
      policyId: policy.id,
      requesterId: userId,
      targetUserId: userId,
      justification: value.justification,
      answers: value.answers,
      schedule: { startAt: value.schedule.startAt, ...(value.schedule.expiresAt ? { expiresAt: value.schedule.expiresAt } : {}) },
      state: needsApproval ? 'pendingApproval' : startsLater ? 'scheduled' : 'delivering',
      now,
    });
    const lost = await stillClaimed(this.deps, claim);
    if (lost) return lost;
    try {
      await repositories.requests.insert(request, {
        actorId: userId,
        action: 'request.submitted',
        packageId: accessPackage.id,
        userId,
        requestId: request.id,
        details: { policyId: policy.id, state: request.state },
      });
    } catch (error) {
      if (!(error instanceof AlreadyOpenError)) throw error;
      const winner = await repositories.requests.findOpen(userId, accessPackage.id);
      return refuse('alreadyRequested', alreadyRequestedMessage(accessPackage.displayName, winner));
    }
    await this.deps.workflow.submitted(request);
    return { ok: true, request, packageName: accessPackage.displayName, needsApproval };
  }

  /** The refusal when the person already has as many open requests as they may, else null. */
  private async openRequestLimit(userId: string): Promise<Refusal | null> {
    const limit = this.limits.openRequests;
    if (limit <= 0) return null;
    const open = await this.deps.repositories.requests.countOpenRequestedBy(userId, SELF_SERVICE_REQUEST_TYPES);
    if (open < limit) return null;
    return { ...refuse('tooManyOpenRequests', `open requests: ${open} of at most ${limit}`), openRequests: { open, limit } };
  }

  /** The user's recent requests, newest first. */
  async myRequests(userId: string): Promise<RequestSummary[]> {
    const { repositories } = this.deps;
    const requests = await repositories.requests.listForUser(userId, 20);
    const names = new Map((await repositories.packages.getMany([...new Set(requests.map((r) => r.packageId))])).map((p) => [p.id, p.displayName]));
    const approverNames = await this.approverNames(requests);
    return requests.map((request) => ({
      id: request.id,
      packageId: request.packageId,
      packageName: names.get(request.packageId) ?? request.packageId,
      type: request.type,
      state: request.state,
      stateText: describeState(request, approverNames),
      createdAt: request.createdAt,
      canCancel: CANCELABLE.includes(request.state) && request.requesterId === userId,
    }));
  }

  /** Withdraws a request that is still waiting. Only the requester may. */
  async cancel(userId: string, rawRequestId: unknown): Promise<Outcome<{ request: AccessRequest; packageName: string }>> {
    const { repositories, clock } = this.deps;
    const requestId = asId(rawRequestId);
    if (!requestId) return refuse('invalidInput', 'That card did not say which request to cancel. Type my requests to see them.');
    const request = await repositories.requests.get(requestId);
    // Someone else's request is "not found" to this user: ids are not a way to learn about others.
    if (!request || request.requesterId !== userId) return refuse('notFound', `You have no request ${requestId.slice(0, 40)}. Type my requests to see yours.`);
    const packageName = (await repositories.packages.get(request.packageId))?.displayName ?? request.packageId;
    const now = clock.now();
    const canceled = await repositories.requests.transition(
      request.id,
      CANCELABLE,
      { $set: { state: 'canceled', updatedAt: now }, $push: { history: { at: now, actorId: userId, action: 'canceled' } } },
      {},
      { actorId: userId, action: 'request.canceled', packageId: request.packageId, userId, requestId: request.id },
    );
    if (!canceled) {
      const latest = (await repositories.requests.get(request.id)) ?? request;
      return refuse('stale', `Request ${request.id} for "${packageName}" can't be canceled any more: ${describeState(latest, new Map()).replace(/^./, (c) => c.toLowerCase())}.`);
    }
    await this.deps.workflow.canceled(canceled);
    return { ok: true, request: canceled, packageName };
  }

  private async approverNames(requests: AccessRequest[]): Promise<Map<string, string>> {
    const ids = new Set(requests.flatMap((r) => r.stages.map((s) => s.decision?.approverId).filter((id): id is string => Boolean(id))));
    const names = new Map<string, string>();
    for (const id of ids) names.set(id, (await this.deps.directory.getUser(id))?.displayName ?? 'an approver');
    return names;
  }
}

function alreadyRequestedMessage(packageName: string, pending: AccessRequest | null): string {
  const when = pending ? ` on ${formatDate(pending.createdAt)} (request ${pending.id})` : '';
  return `You already asked for "${packageName}"${when}. It is ${pending ? describeState(pending, new Map()).replace(/^./, (c) => c.toLowerCase()) : 'being processed'}. Type my requests to follow it.`;
}

/** One line a requester understands, for each state. */
export function describeState(request: AccessRequest, approverNames: ReadonlyMap<string, string>): string {
  switch (request.state) {
    case 'pendingApproval': {
      const total = request.stages.length;
      const stage = (request.currentStage ?? 0) + 1;
      return total > 1 ? `Waiting for approval (stage ${stage} of ${total})` : 'Waiting for approval';
    }
    case 'scheduled':
      return `Approved; access starts on ${formatInstant(request.schedule.startAt ?? request.createdAt)}`;
    case 'delivering':
      return 'Approved; access is being set up';
    case 'delivered':
      return 'Done: access delivered';
    case 'partiallyDelivered':
      return 'Partly delivered: some access could not be set up yet, and IT has been told';
    case 'deliveryFailed':
      return 'Delivery failed: IT has been told and will sort it out';
    case 'denied': {
      if (request.endReason) return `Ended: it can no longer be granted (${ruleSummary(request.endReason)}); nothing was delivered`;
      const decision = [...request.stages].reverse().find((s) => s.decision?.decision === 'deny')?.decision;
      if (!decision) return 'Denied';
      const who = approverNames.get(decision.approverId) ?? 'an approver';
      return `Denied by ${who}${decision.justification ? `: "${decision.justification}"` : ''}`;
    }
    case 'canceled':
      return 'Canceled';
    case 'timedOut':
      return 'Timed out: no approver decided in time';
  }
}
