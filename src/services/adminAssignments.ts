// Direct assignment by an admin (Entra's "New assignment"): any policy of the package,
// admin-only ones included, for a user named by UPN or object id, with dates within the
// policy's limits and its questions answered. Approval follows the policy unless the admin
// skips it with a justification (audited). Everything is checked again on submit: the card
// is not trusted.
import { describeExpiry, formatInstant, maximumExpiry } from '../domain/lifecycle';
import type { AccessPackage, AccessRequest, Catalog, Policy, Question } from '../domain/model';
import { newRequest } from '../domain/newRequest';
import { type FieldError, validateSubmission } from '../domain/requestRules';
import { closestMatch } from '../catalog/suggest';
import { DirectoryError, type DirectoryUser } from '../directory/port';
import type { PersonClaim } from '../store/repositories/personClaims';
import { AlreadyOpenError } from '../store/repositories/requests';
import type { AdminGate } from './admins';
import type { ServiceDependencies } from './deps';
import { GrantChecks, stillClaimed, underPersonClaim } from './grantChecks';
import { describeApproval } from './describe';
import { readableId } from './ids';
import { notice } from './messages';
import type { Notifications } from './notifications';
import { asId, type Outcome, type Refusal, type RefusalReason, refuse } from './outcome';
import { describeState } from './requests';

export interface AdminAssignmentDependencies extends ServiceDependencies {
  notifications: Notifications;
  gate: AdminGate;
}

/** A policy as the admin's form shows it. */
export interface AssignPolicyOption {
  id: string;
  displayName: string;
  description: string;
  /** Who may request through it, in words ("Admin-only: direct assignment"). */
  audience: string;
  approval: string;
  approvalRequired: boolean;
  justificationRequired: boolean;
  expiry: string;
  questions: Question[];
  /** The latest end the policy allows for access starting now; absent when it never expires. */
  latestEnd?: Date;
}

export interface AssignForm {
  packageId: string;
  packageName: string;
  /** Every enabled policy of the package. */
  policies: AssignPolicyOption[];
  /** The policy the form is for; absent when the admin must choose first. */
  chosen?: AssignPolicyOption;
}

export interface AdminAssignData {
  packageId: unknown;
  policyId: unknown;
  /** UPN or object id. */
  user: unknown;
  justification: unknown;
  skipApproval: unknown;
  answers: Record<string, unknown>;
  startDate?: unknown;
  endDate?: unknown;
}

export interface AssignResult {
  request: AccessRequest;
  packageName: string;
  userName: string;
  needsApproval: boolean;
  bypassedApproval: boolean;
  approval: string;
}

const MAX_USER_LENGTH = 256;

/** A form that passed every check but what the user holds (checked again under their claim). */
interface CheckedForm {
  adminId: string;
  accessPackage: AccessPackage;
  policy: Policy;
  user: DirectoryUser;
  needsApproval: boolean;
  bypassedApproval: boolean;
  now: Date;
  schedule: { startAt: Date; expiresAt?: Date };
  answers: AccessRequest['answers'];
  justification?: string;
}

const AUDIENCES: Record<Policy['allowedRequestors']['scope'], string> = {
  specificDirectoryUsers: 'Requestable by named users and groups',
  allMemberUsers: 'Requestable by every member (not guests)',
  allDirectoryUsers: 'Requestable by everyone, guests included',
  notSpecified: 'Admin-only: for direct assignment',
};

export class AdminAssignments {
  constructor(private readonly deps: AdminAssignmentDependencies) {}

  /** What the assign form offers: the package's enabled policies, and the one chosen (or the only one). */
  async form(adminId: string, rawPackageId: unknown, rawPolicyId?: unknown): Promise<Outcome<{ form: AssignForm }>> {
    const refusal = await this.deps.gate.refusal(adminId, 'assign');
    if (refusal) return refuse('notAllowed', refusal);
    const target = await this.loadPackage(rawPackageId);
    if ('ok' in target) return target;
    const { accessPackage, policies } = target;
    const enabled = policies.filter((p) => p.enabled);
    if (enabled.length === 0) {
      const disabled = policies.map((p) => `${accessPackage.id}/${p.id}`);
      const hint = disabled.length > 0 ? ` Its policies are disabled: type enable policy ${disabled[0]} to open one.` : ' Add a policy to it in the catalog file (allowedRequestors notSpecified makes it admin-only).';
      return refuse('unavailable', `"${accessPackage.displayName}" has no enabled policy to assign it through.${hint}`);
    }
    let chosen: Policy | undefined = enabled.length === 1 ? enabled[0] : undefined;
    if (rawPolicyId !== undefined && rawPolicyId !== null && rawPolicyId !== '') {
      const policy = policyIn(policies, rawPolicyId, accessPackage);
      if ('ok' in policy) return policy;
      chosen = policy;
    }
    const options = await Promise.all(enabled.map((p) => this.option(p)));
    return {
      ok: true,
      form: { packageId: accessPackage.id, packageName: accessPackage.displayName, policies: options, ...(chosen ? { chosen: options.find((o) => o.id === chosen!.id)! } : {}) },
    };
  }

  /** Re-checks the whole form, then stores an adminAdd request and hands it to approval or delivery. */
  async assign(adminId: string, data: AdminAssignData): Promise<Outcome<AssignResult>> {
    const { clock } = this.deps;
    const refusal = await this.deps.gate.refusal(adminId, 'assign');
    if (refusal) return refuse('notAllowed', refusal);
    const target = await this.loadPackage(data.packageId);
    if ('ok' in target) return target;
    const { accessPackage, catalog, policies } = target;
    const policy = policyIn(policies, data.policyId, accessPackage);
    if ('ok' in policy) return policy;

    const problems: FieldError[] = [];
    const user = await this.checkUser(data.user, accessPackage, catalog);
    if ('problem' in user) problems.push({ field: 'user', message: user.problem.message });

    const now = clock.now();
    const needsApproval = policy.approval.required && policy.approval.stages.length > 0;
    // Skipping means something only where there is an approval to skip.
    const bypassedApproval = needsApproval && (data.skipApproval === true || data.skipApproval === 'true');
    // The admin chooses dates whatever the policy lets requesters do (Entra's direct assignment),
    // within the policy's limits; the justification rule is checked below with admin wording.
    const asAdmin: Policy = {
      ...policy,
      approval: { ...policy.approval, requestorJustificationRequired: false },
      lifecycle: { ...policy.lifecycle, requestorCanChooseSchedule: true },
    };
    const validation = validateSubmission({ policy: asAdmin, justification: data.justification, answers: data.answers, schedule: { startDate: data.startDate, endDate: data.endDate }, now });
    if (!validation.ok) problems.push(...validation.errors);
    const justification = validation.ok ? validation.value.justification : undefined;
    const unwritten = typeof data.justification !== 'string' || data.justification.trim() === '';
    if (unwritten && !problems.some((p) => p.field === 'justification') && (bypassedApproval || policy.approval.requestorJustificationRequired)) {
      problems.push({
        field: 'justification',
        message: bypassedApproval ? 'A justification is required to skip approval; it is kept in the audit log.' : 'This policy requires a justification.',
      });
    }
    if (problems.length > 0 || !validation.ok || 'problem' in user) {
      const only = 'problem' in user && problems.length === 1 ? user.problem : undefined;
      return refuse(only?.reason ?? 'invalidInput', only?.message ?? 'Please fix the highlighted fields and assign again.', problems);
    }

    const { schedule, answers } = validation.value;
    // Checked again and stored under the user's claim: a request or another assignment for them
    // at the same moment can't slip past separation of duties (or the one-open-request rule).
    return underPersonClaim(this.deps, user.id, 'adminAssign', (claim) =>
      this.storeUnderClaim(claim, { adminId, accessPackage, policy, user, needsApproval, bypassedApproval, now, schedule, answers, ...(justification ? { justification } : {}) }),
    );
  }

  /** The assignment's request, stored (with its audit event) under the user's claim, then handed over. */
  private async storeUnderClaim(claim: PersonClaim, form: CheckedForm): Promise<Outcome<AssignResult>> {
    const { repositories } = this.deps;
    const { adminId, accessPackage, policy, user, needsApproval, bypassedApproval, now, schedule, answers, justification } = form;
    const holding = await this.holdingProblem(user, accessPackage);
    if (holding) return refuse(holding.reason, holding.message, [{ field: 'user', message: holding.message }]);
    const startsLater = schedule.startAt.getTime() > now.getTime();
    const request = newRequest({
      id: readableId('REQ'),
      type: 'adminAdd',
      packageId: accessPackage.id,
      policyId: policy.id,
      requesterId: adminId,
      targetUserId: user.id,
      ...(justification ? { justification } : {}),
      answers,
      schedule: { startAt: schedule.startAt, ...(schedule.expiresAt ? { expiresAt: schedule.expiresAt } : {}) },
      state: needsApproval && !bypassedApproval ? 'pendingApproval' : startsLater ? 'scheduled' : 'delivering',
      now,
    });
    if (bypassedApproval) request.history.push({ at: now, actorId: adminId, action: 'approval skipped by an administrator', details: justification });
    const lost = await stillClaimed(this.deps, claim);
    if (lost) return lost;
    try {
      await repositories.requests.insert(request, {
        actorId: adminId,
        action: 'admin.assign',
        packageId: accessPackage.id,
        userId: user.id,
        requestId: request.id,
        details: { policyId: policy.id, bypassedApproval, justification: justification ?? null, state: request.state },
      });
    } catch (error) {
      if (!(error instanceof AlreadyOpenError)) throw error;
      const message = openRequestMessage(user.displayName, accessPackage.displayName, await repositories.requests.findOpen(user.id, accessPackage.id));
      return refuse('alreadyRequested', message, [{ field: 'user', message }]);
    }
    await this.deps.workflow.submitted(request);
    const approval = await this.approvalText(policy);
    await this.tellUser(request, adminId, user, accessPackage.displayName);
    return { ok: true, request, packageName: accessPackage.displayName, userName: user.displayName, needsApproval, bypassedApproval, approval };
  }

  /** The user hears of it now only when it waits (approval or its start); delivery tells them otherwise. */
  private async tellUser(request: AccessRequest, adminId: string, user: DirectoryUser, packageName: string): Promise<void> {
    if (request.state !== 'pendingApproval' && request.state !== 'scheduled') return;
    const adminName = (await this.deps.directory.getUser(adminId))?.displayName ?? 'An administrator';
    const then =
      request.state === 'pendingApproval'
        ? "It is waiting for approval; you'll get a message when it's decided."
        : `Your access starts on ${formatInstant(request.schedule.startAt ?? request.createdAt)}; you'll get a message when it's ready.`;
    await this.deps.notifications.send(
      user.id,
      notice(`Requested for you: ${packageName}`, `${adminName}, an access package administrator, asked for "${packageName}" for you (request ${request.id}). ${then}`, 'info', [{ title: 'My requests', verb: 'myRequests' }]),
      { key: `adminAssign:${request.id}` },
    );
  }

  /** The package with its catalog and policies, if it may be assigned at all. */
  private async loadPackage(rawPackageId: unknown): Promise<{ accessPackage: AccessPackage; catalog: Catalog; policies: Policy[] } | Refusal> {
    const { repositories } = this.deps;
    const packageId = asId(rawPackageId);
    if (!packageId) return refuse('invalidInput', 'Give the id of the package to assign, for example: assign accounting.');
    const accessPackage = await repositories.packages.get(packageId);
    if (!accessPackage) {
      const match = closestMatch(packageId, (await repositories.packages.list()).map((p) => p.id));
      return refuse('notFound', `There's no access package "${packageId.slice(0, 60)}".${match ? ` Did you mean ${match}?` : ''}`);
    }
    const catalog = await repositories.catalogs.get(accessPackage.catalog);
    // A disabled catalog or package is an emergency stop: nothing new, not even by an admin.
    if (!catalog || !catalog.enabled) {
      return refuse('unavailable', `"${accessPackage.displayName}" can't be assigned: its catalog "${catalog?.displayName ?? accessPackage.catalog}" is disabled. Type enable catalog ${accessPackage.catalog} first.`);
    }
    if (accessPackage.enabled === false) return refuse('unavailable', `"${accessPackage.displayName}" is disabled. Type enable package ${accessPackage.id} first.`);
    return { accessPackage, catalog, policies: await repositories.policies.listForPackage(accessPackage.id) };
  }

  /** The user named on the form, if they may be given this package; otherwise the problem with them. */
  private async checkUser(raw: unknown, accessPackage: AccessPackage, catalog: Catalog): Promise<DirectoryUser | { problem: { reason: RefusalReason; message: string } }> {
    const { repositories } = this.deps;
    const problem = (reason: RefusalReason, message: string) => ({ problem: { reason, message } });
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (text === '') return problem('invalidInput', "Give the user's sign-in name (UPN, e.g. fredj@example.com) or object id.");
    if (text.length > MAX_USER_LENGTH || /\s/.test(text)) return problem('invalidInput', "That isn't a sign-in name or object id: give one, without spaces.");
    const user = await this.findUser(text);
    if (!user) return problem('unknownUser', `There's no user "${text.slice(0, 80)}" in the directory. Check the sign-in name (UPN) or object id.`);
    if (!user.accountEnabled) return problem('unknownUser', `${user.displayName}'s account is disabled in the directory, so they can't be given access.`);
    if (user.userType === 'Guest' && !catalog.externalUsersEnabled) {
      return problem('notEligible', `${user.displayName} is a guest, and catalog "${catalog.displayName}" doesn't accept external users (externalUsersEnabled is off).`);
    }
    const active = await repositories.assignments.listActiveForUser(user.id);
    const current = active.find((a) => a.packageId === accessPackage.id);
    if (current) {
      const until = current.expiresAt ? ` until ${formatInstant(current.expiresAt)}` : '';
      return problem('alreadyAssigned', `${user.displayName} already has "${accessPackage.displayName}"${until} (assignment ${current.id}).`);
    }
    const open = await repositories.requests.findOpen(user.id, accessPackage.id);
    if (open) return problem('alreadyRequested', openRequestMessage(user.displayName, accessPackage.displayName, open));
    const sod = await this.separationOfDuties(user, accessPackage);
    if (sod) return problem('separationOfDuties', sod);
    return user;
  }

  /** Graph answers a malformed UPN with 400 rather than 404: both mean "no such user" here. */
  private async findUser(idOrUpn: string): Promise<DirectoryUser | null> {
    try {
      return await this.deps.directory.getUser(idOrUpn);
    } catch (error) {
      if (error instanceof DirectoryError && (error.kind === 'invalid' || error.kind === 'notFound')) return null;
      throw error;
    }
  }

  /** The same rule as for requests (checked both ways, pending requests and the groups packages give included), worded for the admin. */
  private async separationOfDuties(user: DirectoryUser, accessPackage: AccessPackage): Promise<string | undefined> {
    const result = await new GrantChecks(this.deps).separationOfDuties(user.id, accessPackage);
    if (result.ok) return undefined;
    const { kind, id } = result.conflict;
    const name = result.conflictName ?? (kind === 'group' ? (await this.deps.directory.getGroup(id))?.displayName : undefined) ?? id;
    const other = kind === 'package' ? `have, or have asked for, "${name}"` : `are a member of "${name}"`;
    return `${user.displayName} can't be given "${accessPackage.displayName}": they ${other}, and the two are incompatible (separation of duties).`;
  }

  /**
   * What the user holds or has asked for, checked under their claim just before the request is
   * stored: the form's check ran before the claim, and something may have arrived meanwhile.
   */
  private async holdingProblem(user: DirectoryUser, accessPackage: AccessPackage): Promise<{ reason: RefusalReason; message: string } | undefined> {
    const { repositories } = this.deps;
    const current = (await repositories.assignments.listActiveForUser(user.id)).find((a) => a.packageId === accessPackage.id);
    if (current) return { reason: 'alreadyAssigned', message: `${user.displayName} already has "${accessPackage.displayName}" (assignment ${current.id}).` };
    const open = await repositories.requests.findOpen(user.id, accessPackage.id);
    if (open) return { reason: 'alreadyRequested', message: openRequestMessage(user.displayName, accessPackage.displayName, open) };
    const sod = await this.separationOfDuties(user, accessPackage);
    return sod ? { reason: 'separationOfDuties', message: sod } : undefined;
  }

  private async option(policy: Policy): Promise<AssignPolicyOption> {
    const approvalRequired = policy.approval.required && policy.approval.stages.length > 0;
    return {
      id: policy.id,
      displayName: policy.displayName,
      description: policy.description,
      audience: AUDIENCES[policy.allowedRequestors.scope],
      approval: await this.approvalText(policy),
      approvalRequired,
      justificationRequired: policy.approval.requestorJustificationRequired,
      expiry: describeExpiry(policy.lifecycle),
      questions: policy.questions,
      latestEnd: maximumExpiry(policy.lifecycle, this.deps.clock.now()),
    };
  }

  /** The requester-facing description, worded for someone assigning another person. */
  private async approvalText(policy: Policy): Promise<string> {
    return (await describeApproval(this.deps.directory, policy)).replace(/\byour manager\b/g, "the user's manager").replace('access is granted right away', 'access is set up right away');
  }
}

/** The enabled policy named by the form, or why it can't be used. */
function policyIn(policies: Policy[], rawPolicyId: unknown, accessPackage: AccessPackage): Policy | Refusal {
  const policyId = asId(rawPolicyId);
  if (!policyId) return refuse('invalidInput', `That form doesn't say which policy of "${accessPackage.displayName}" to use. Type assign ${accessPackage.id} to start again.`);
  const policy = policies.find((p) => p.id === policyId);
  if (!policy) {
    const known = policies.map((p) => p.id).join(', ') || 'none';
    return refuse('notFound', `"${accessPackage.displayName}" has no policy "${policyId.slice(0, 60)}". Its policies: ${known}.`);
  }
  if (!policy.enabled) return refuse('unavailable', `Policy "${policy.displayName}" of "${accessPackage.displayName}" is disabled. Type enable policy ${accessPackage.id}/${policy.id} first, or choose another.`);
  return policy;
}

function openRequestMessage(userName: string, packageName: string, open: AccessRequest | null): string {
  if (!open) return `${userName} already has an open request for "${packageName}".`;
  const state = describeState(open, new Map()).replace(/^./, (c) => c.toLowerCase());
  return `${userName} already has an open request for "${packageName}": ${open.id}, ${state}. Cancel it first (cancel ${open.id}) or let it finish.`;
}
