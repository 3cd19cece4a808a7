import { deliveredState, removalFinished, retryDelayMs } from '../domain/delivery';
import { privilegedRoleName } from '../domain/directoryRoles';
import { revokeStep } from '../domain/ledger';
import { DELIVERY_TASKS } from '../domain/taskTypes';
import { formatInstant, maximumExpiry } from '../domain/lifecycle';
import { ACTIVE_ASSIGNMENT_STATES, type AccessPackage, type AccessRequest, type Assignment, type Catalog, type Resource } from '../domain/model';
import { DirectoryError } from '../directory/port';
import type { Logger } from '../logger';
import type { TaskOutcome } from '../scheduler/taskRunner';
import { DuplicateKeyError, StoreUnavailableError } from '../store/port';
import type { NewAuditEvent } from '../store/repositories/audit';
import { grantKey } from '../store/repositories/grants';
import type { AdminNotices, DirectoryOperation } from './adminNotices';
import type { AdminPolicy } from './admins';
import type { ServiceDependencies } from './deps';
import { announceEndedByRule, endByRule, GrantChecks } from './grantChecks';
import { grantedRoles } from './describe';
import { notice } from './messages';
import type { Notifications } from './notifications';
import { asId, type Outcome, refuse } from './outcome';
import { describeState } from './requests';
import { TASK_TYPES } from './workflow';

export { DELIVERY_TASKS };

export interface DeliveryDependencies extends ServiceDependencies {
  notifications: Notifications;
  admins: AdminPolicy;
  /** Where admin notices go (the bound channel, or each admin 1:1). */
  adminNotices: AdminNotices;
  logger: Logger;
  /** Waits until a directory write may go (pacing within Graph's write quota). */
  pace: () => Promise<void>;
  /** The directory answered 429: hold every write back this long (the quota is the app's). */
  throttled: (retryAfterMs: number) => void;
  /** Attempts per resource role before it is reported failed. */
  maxAttempts: number;
  /** ALLOW_PRIVILEGED_ROLES: checked again before every grant of a directory role (default false). */
  allowPrivilegedRoles?: boolean;
  random?: () => number;
}

const DONE: TaskOutcome = { status: 'done' };
/** A delivery that finds the person claimed by another change tries again this soon. */
const CLAIM_RETRY_MS = 2_000;
const BACKOFF = { baseMs: 5_000, capMs: 15 * 60_000 };

type RoleTarget =
  | { kind: 'group'; groupId: string; role: 'member' | 'owner' }
  | { kind: 'appRole'; servicePrincipalId: string; appRoleId: string }
  | { kind: 'directoryRole'; roleDefinitionId: string };

/**
 * Delivers and removes access through the directory: one durable task per resource role,
 * the grant ledger deciding what to add and what to leave, retries with back-off honouring
 * Retry-After, pacing within the write quota. Every step is idempotent, so a task run twice
 * (after a crash, or a lost lease) ends in the same directory state.
 */
export class DeliveryService {
  private readonly checks: GrantChecks;

  constructor(private readonly deps: DeliveryDependencies) {
    this.checks = new GrantChecks(deps);
  }

  taskHandlers(): Record<string, (payload: Record<string, unknown>, attempts: number) => Promise<TaskOutcome>> {
    return {
      [TASK_TYPES.deliver]: (p) => this.deliver(String(p.requestId)),
      [DELIVERY_TASKS.grant]: (p, attempts) => this.grant(String(p.assignmentId), Number(p.index), attempts),
      [TASK_TYPES.remove]: (p) => this.startRemoval(String(p.assignmentId), p.requestId ? String(p.requestId) : undefined, p.reason === 'expired' ? 'expired' : 'removed'),
      [DELIVERY_TASKS.revoke]: (p, attempts) => this.revoke(String(p.assignmentId), Number(p.index), attempts),
    };
  }

  /** An approved (or approval-free) request becomes an assignment with one task per resource role. */
  async deliver(requestId: string): Promise<TaskOutcome> {
    const { repositories, clock } = this.deps;
    const request = await repositories.requests.get(requestId);
    if (request?.state === 'denied' && request.endReason?.checkedAt === 'delivery') {
      // Ended by this step's check in a run that may have died before telling anyone: tell them (keyed, so once).
      await announceEndedByRule(this.deps, request, (await repositories.packages.get(request.packageId))?.displayName ?? request.packageId);
      return DONE;
    }
    if (!request || (request.state !== 'delivering' && request.state !== 'scheduled')) return DONE;
    const accessPackage = await repositories.packages.get(request.packageId);
    const policy = await repositories.policies.get(request.packageId, request.policyId);
    const now = clock.now();
    if (!accessPackage || !policy) return this.failedBeforeAssignment(request);

    // The assignment id follows from the request: a retried task finds the one it made.
    const assignmentId = `ASG-${request.id}`;
    // Expiry counts from the actual start (now), unless the requester chose an end date.
    const expiresAt = request.schedule.expiresAt ?? maximumExpiry(policy.lifecycle, now);
    // A rerun finds the assignment it made: what was checked then stands.
    const made = await repositories.assignments.get(assignmentId);
    if (request.schedule.expiresAt && request.schedule.expiresAt.getTime() <= now.getTime() && !made) {
      return this.endedBeforeStart(request, accessPackage.displayName, request.schedule.expiresAt);
    }
    if (made) return this.startDelivery(request, made);
    // The last check before anything reaches the directory, under the person's claim (no other
    // change that can give them access checks or writes meanwhile): separation of duties against
    // what they hold and their live group memberships, eligibility, switches, their account.
    const claim = await repositories.personClaims.tryAcquire(request.targetUserId, 'delivery');
    if (!claim) return { status: 'retry', at: new Date(now.getTime() + CLAIM_RETRY_MS), error: `another change to ${request.targetUserId}'s access is being made` };
    try {
      const catalog = await repositories.catalogs.get(accessPackage.catalog);
      const check = await this.checks.recheck(request, { accessPackage, policy, catalog }, 'delivery');
      if (!check.ok) {
        await endByRule(this.deps, request, ['delivering', 'scheduled'], check.endReason, {}, { packageName: accessPackage.displayName });
        return DONE;
      }
      if (!(await repositories.personClaims.renew(claim))) return { status: 'retry', at: now, error: 'the per-person claim was taken over while checking; checking again' };
      return await this.createAssignment(request, accessPackage, assignmentId, expiresAt, now);
    } finally {
      await repositories.personClaims.release(claim);
    }
  }

  /** The assignment, audited with its insert (a rerun of this task finds it and audits nothing), then its delivery. */
  private async createAssignment(request: AccessRequest, accessPackage: AccessPackage, assignmentId: string, expiresAt: Date | undefined, now: Date): Promise<TaskOutcome> {
    const { repositories } = this.deps;
    const assignment: Assignment = {
      id: assignmentId,
      packageId: request.packageId,
      policyId: request.policyId,
      userId: request.targetUserId,
      state: 'delivering',
      startAt: now,
      // lifecycleCheckAt = now: the lifecycle job plans its warnings and expiry.
      ...(expiresAt ? { expiresAt, expirySetAt: now, lifecycleCheckAt: now } : {}),
      roles: accessPackage.resourceRoles.map((r) => ({ resource: r.resource, role: r.role, state: 'pending' as const })),
      requestIds: [request.id],
      createdAt: now,
      updatedAt: now,
    };
    try {
      await repositories.assignments.insert(assignment, { actorId: 'system', action: 'assignment.created', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, assignmentId });
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
    }
    return this.startDelivery(request, assignment);
  }

  /** One grant task per resource role (keyed: a rerun queues nothing twice). */
  private async startDelivery(request: AccessRequest, assignment: Assignment): Promise<TaskOutcome> {
    const { repositories, clock } = this.deps;
    const assignmentId = assignment.id;
    await repositories.requests.transition(request.id, ['delivering', 'scheduled'], { $set: { state: 'delivering', assignmentId, updatedAt: clock.now() } });
    for (let index = 0; index < assignment.roles.length; index++) {
      // userId: one user's grants and removals take turns (the ledger; domain/taskTypes.ts).
      await repositories.tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId, index, userId: assignment.userId }, dedupeKey: `${DELIVERY_TASKS.grant}:${assignmentId}:${index}` });
    }
    if (assignment.roles.length === 0) await this.settleDelivery(assignmentId);
    return DONE;
  }

  /** The requester's chosen end passed before the access could start (approved too late): nothing is delivered. */
  private async endedBeforeStart(request: AccessRequest, packageName: string, chosenEnd: Date): Promise<TaskOutcome> {
    const { repositories, clock, notifications } = this.deps;
    const now = clock.now();
    const requestId = request.id;
    const canceled = await repositories.requests.transition(
      requestId,
      ['delivering', 'scheduled'],
      {
        $set: { state: 'canceled', updatedAt: now },
        $push: { history: { at: now, actorId: 'system', action: 'canceled', details: `its end date (${formatInstant(chosenEnd)}) passed before it could start` } },
      },
      {},
      { actorId: 'system', action: 'request.endedBeforeStart', packageId: request.packageId, userId: request.targetUserId, requestId, details: { expiresAt: chosenEnd.toISOString() } },
    );
    if (!canceled) return DONE;
    await notifications.send(
      canceled.requesterId,
      notice(`Not started: ${packageName}`, `Request ${requestId} was approved after the end date you chose (${formatInstant(chosenEnd)}) had passed, so no access was set up. Request it again with new dates if you still need it.`, 'warning', [{ title: 'Browse packages', verb: 'packages' }]),
      { key: `endedBeforeStart:${requestId}` },
    );
    return DONE;
  }

  /** One resource role for one assignment: ledger first, then the directory, then the record. */
  async grant(assignmentId: string, index: number, attempts: number): Promise<TaskOutcome> {
    const { repositories, directory } = this.deps;
    const context = await this.roleContext(assignmentId, index);
    // A role that cannot be delivered was recorded failed: the assignment may be complete now
    // (every role failing this way must still end the delivery and tell people).
    if (!context) {
      await this.settleDelivery(assignmentId);
      return DONE;
    }
    const { assignment, role, target, resource } = context;
    // Already recorded by an earlier run: that run may have died before settling the assignment.
    if (role.state !== 'pending') {
      await this.settleDelivery(assignmentId);
      return DONE;
    }
    // The catalog refuses privileged roles unless allowed; this holds even for a catalog a
    // differently configured instance applied, or an assignment made before the setting changed.
    const privileged = target.kind === 'directoryRole' && !this.deps.allowPrivilegedRoles ? privilegedRoleName(target.roleDefinitionId) : undefined;
    if (privileged !== undefined) {
      const message = `configuration error: '${privileged}' is a privileged Entra role, and ALLOW_PRIVILEGED_ROLES is not true`;
      await this.recordRole(assignmentId, index, 'pending', { state: 'failed', error: message }, { actorId: 'system', action: 'delivery.failed', packageId: assignment.packageId, userId: assignment.userId, assignmentId, details: { resource: role.resource, role: role.role, error: message } });
      await this.settleDelivery(assignmentId);
      return DONE;
    }

    try {
      const key = grantKey(assignment.userId, resource.originId, role.role);
      let row = await repositories.grants.get(assignment.userId, resource.originId, role.role);
      if (!row) {
        // The only moment the directory is asked whether the user had it before us.
        const hadIt = await this.holds(target, assignment.userId);
        row = await repositories.grants.open({ userId: assignment.userId, resourceType: resource.type, originId: resource.originId, role: role.role, preExisting: hadIt });
      }
      await repositories.grants.addHolder(key, assignmentId);
      if (!row.preExisting) {
        await this.deps.pace();
        if (target.kind === 'group') await directory.addGroupRole(target.groupId, assignment.userId, target.role);
        else if (target.kind === 'appRole') await directory.addAppRoleAssignment(target.servicePrincipalId, assignment.userId, target.appRoleId);
        else await directory.addDirectoryRoleAssignment(assignment.userId, target.roleDefinitionId);
      }
      await this.recordRole(assignmentId, index, 'pending', { state: 'delivered' }, {
        actorId: 'system',
        action: row.preExisting ? 'delivery.alreadyHeld' : 'delivery.granted',
        packageId: assignment.packageId,
        userId: assignment.userId,
        assignmentId,
        details: { resource: role.resource, role: role.role },
      });
    } catch (error) {
      const outcome = await this.onDirectoryError(error, attempts, async (message) => {
        await this.recordRole(assignmentId, index, 'pending', { state: 'failed', error: message }, { actorId: 'system', action: 'delivery.failed', packageId: assignment.packageId, userId: assignment.userId, assignmentId, details: { resource: role.resource, role: role.role, error: message } });
      }, operationOf(target, 'add'));
      if (outcome.status === 'retry') return outcome;
    }
    await this.settleDelivery(assignmentId);
    return DONE;
  }

  /** Ends an assignment: every resource role is handed to a removal task (ledger rules apply). */
  async startRemoval(assignmentId: string, requestId: string | undefined, reason: 'removed' | 'expired'): Promise<TaskOutcome> {
    const { repositories, clock } = this.deps;
    const assignment = await repositories.assignments.get(assignmentId);
    if (!assignment) return DONE;
    const now = clock.now();
    // An expiry that was extended (or lifted) after the removal was queued no longer applies.
    if (reason === 'expired' && (!assignment.expiresAt || assignment.expiresAt.getTime() > now.getTime())) return DONE;
    if (ACTIVE_ASSIGNMENT_STATES.includes(assignment.state)) {
      const roles = assignment.roles.map((r) => ({ resource: r.resource, role: r.role, state: 'removing' as const }));
      const marked = await repositories.assignments.update(
        assignmentId,
        { state: assignment.state, updatedAt: assignment.updatedAt },
        // Ending: the lifecycle job has nothing more to do with it.
        { $set: { roles, endReason: reason, removalStartedAt: now, updatedAt: now }, $unset: { lifecycleCheckAt: true, lifecycleLeaseUntil: true } },
      );
      if (!marked) return { status: 'retry', at: now, error: 'assignment changed while removal started' };
      for (let index = 0; index < roles.length; index++) {
        await repositories.tasks.enqueue({ type: DELIVERY_TASKS.revoke, payload: { assignmentId, index, userId: assignment.userId, ...(requestId ? { requestId } : {}) }, dedupeKey: `${DELIVERY_TASKS.revoke}:${assignmentId}:${index}` });
      }
      if (roles.length === 0) await this.settleRemoval(assignmentId);
    }
    return DONE;
  }

  async revoke(assignmentId: string, index: number, attempts: number): Promise<TaskOutcome> {
    const { repositories, directory } = this.deps;
    const context = await this.roleContext(assignmentId, index);
    if (!context) {
      await this.settleRemoval(assignmentId);
      return DONE;
    }
    const { assignment, role, target, resource } = context;
    if (role.state !== 'removing') {
      await this.settleRemoval(assignmentId); // an earlier run may have died before settling it
      return DONE;
    }
    try {
      const key = grantKey(assignment.userId, resource.originId, role.role);
      const row = await repositories.grants.get(assignment.userId, resource.originId, role.role);
      const step = revokeStep(row, assignmentId);
      if (step.kind === 'remove') {
        await this.deps.pace();
        if (target.kind === 'group') await directory.removeGroupRole(target.groupId, assignment.userId, target.role);
        else if (target.kind === 'appRole') {
          const held = await directory.listAppRoleAssignments(target.servicePrincipalId, assignment.userId);
          for (const a of held.filter((h) => h.appRoleId === target.appRoleId)) await directory.removeAppRoleAssignment(target.servicePrincipalId, a.id);
        } else {
          // Found by principal and role definition, then deleted by id; none left is success.
          for (const a of await directory.listDirectoryRoleAssignments(assignment.userId, target.roleDefinitionId)) await directory.removeDirectoryRoleAssignment(a.id);
        }
      }
      // The directory is settled first; only then does the ledger forget this holder.
      const after = row ? await repositories.grants.removeHolder(key, assignmentId) : null;
      if (after && after.heldBy.length === 0) await repositories.grants.delete(key);
      await this.recordRole(assignmentId, index, 'removing', { state: 'removed' }, {
        actorId: 'system',
        action: step.kind === 'remove' ? 'delivery.revoked' : 'delivery.kept',
        packageId: assignment.packageId,
        userId: assignment.userId,
        assignmentId,
        details: { resource: role.resource, role: role.role, ...(step.kind === 'keep' ? { reason: step.reason } : {}) },
      });
    } catch (error) {
      const outcome = await this.onDirectoryError(error, attempts, async (message) => {
        await this.recordRole(assignmentId, index, 'removing', { state: 'failed', error: message }, { actorId: 'system', action: 'removal.failed', packageId: assignment.packageId, userId: assignment.userId, assignmentId, details: { resource: role.resource, role: role.role, error: message } });
      }, operationOf(target, 'remove'));
      if (outcome.status === 'retry') return outcome;
    }
    await this.settleRemoval(assignmentId);
    return DONE;
  }

  /**
   * Admin: delivers every resource role of an active assignment again. Repairs access removed
   * outside the bot (the ledger still holds it, so the write is made) and retries failed roles.
   * A request id works too: its assignment is reprocessed, or, for a request whose delivery
   * failed before it had one (its package was missing), delivery is queued again.
   */
  async reprocess(adminId: string, rawAssignmentId: unknown): Promise<Outcome<{ assignment: Assignment; packageName: string } | { request: AccessRequest; packageName: string }>> {
    const { repositories, clock, admins } = this.deps;
    if (!(await admins.isAdmin(adminId))) {
      await repositories.audit.append({ actorId: adminId, action: 'admin.refused', details: { command: 'reprocess' } });
      return refuse('notAllowed', 'Only access package administrators can reprocess a delivery.');
    }
    const assignmentId = asId(rawAssignmentId);
    let assignment = assignmentId ? await repositories.assignments.get(assignmentId) : null;
    if (!assignment && assignmentId) {
      const request = await repositories.requests.get(assignmentId);
      if (request && !request.assignmentId) return this.redeliver(adminId, request);
      if (request?.assignmentId) assignment = await repositories.assignments.get(request.assignmentId);
    }
    if (!assignment) return refuse('notFound', `There's no assignment or request ${String(assignmentId ?? '').slice(0, 60)}.`);
    const { accessPackage } = await this.packageOf(assignment);
    const packageName = accessPackage?.displayName ?? assignment.packageId;
    if (!ACTIVE_ASSIGNMENT_STATES.includes(assignment.state) || assignment.roles.some((r) => r.state === 'removing')) {
      return refuse('stale', `The assignment of "${packageName}" has ended or is being removed; there is nothing to deliver again.`);
    }
    const now = clock.now();
    const round = (assignment.reprocessCount ?? 0) + 1;
    const roles = assignment.roles.map((r) => ({ resource: r.resource, role: r.role, state: 'pending' as const }));
    const restarted = await repositories.assignments.update(
      assignment.id,
      { state: assignment.state, updatedAt: assignment.updatedAt },
      { $set: { roles, state: 'delivering', reprocessCount: round, updatedAt: now } },
      { actorId: adminId, action: 'admin.reprocess', packageId: assignment.packageId, userId: assignment.userId, assignmentId: assignment.id, details: { round } },
    );
    if (!restarted) return refuse('stale', `The assignment of "${packageName}" changed meanwhile; try again.`);
    for (const requestId of assignment.requestIds) {
      await repositories.requests.transition(requestId, ['delivered', 'partiallyDelivered', 'deliveryFailed'], { $set: { state: 'delivering', updatedAt: now } });
    }
    for (let index = 0; index < roles.length; index++) {
      await repositories.tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: assignment.id, index, userId: assignment.userId }, dedupeKey: `${DELIVERY_TASKS.grant}:${assignment.id}:${index}:r${round}` });
    }
    return { ok: true, assignment: restarted, packageName };
  }

  /** A request whose delivery failed before it made an assignment goes back to delivery, once its package is there again. */
  private async redeliver(adminId: string, request: AccessRequest): Promise<Outcome<{ request: AccessRequest; packageName: string }>> {
    const { repositories, clock } = this.deps;
    const accessPackage = await repositories.packages.get(request.packageId);
    const packageName = accessPackage?.displayName ?? request.packageId;
    if (request.state !== 'deliveryFailed' || (request.type !== 'add' && request.type !== 'adminAdd')) {
      const why = request.state === 'deliveryFailed' ? 'it has nothing to deliver' : `${describeState(request, new Map()).replace(/^./, (c) => c.toLowerCase())}, and there is no assignment yet`;
      return refuse('stale', `Request ${request.id} for "${packageName}" can't be reprocessed: ${why}. Only a failed delivery can be.`);
    }
    if (!accessPackage || !(await repositories.policies.get(request.packageId, request.policyId))) {
      return refuse('stale', `Request ${request.id} can't be delivered yet: its package "${request.packageId}" or policy "${request.policyId}" is not in the store. Put it back in the catalog file and type apply catalog, then reprocess.`);
    }
    // The request was closed when it failed, so nothing stops a newer one for the same access.
    if ((await repositories.assignments.listActiveForUser(request.targetUserId)).some((a) => a.packageId === request.packageId) || (await repositories.requests.findOpen(request.targetUserId, request.packageId))) {
      return refuse('stale', `Request ${request.id} is not needed any more: the user has "${packageName}" now, or a newer request for it.`);
    }
    const now = clock.now();
    const round = request.history.filter((h) => h.action === 'reprocessed').length + 1;
    const requeued = await repositories.requests.transition(
      request.id,
      'deliveryFailed',
      { $set: { state: 'delivering', updatedAt: now }, $push: { history: { at: now, actorId: adminId, action: 'reprocessed' } } },
      { assignmentId: { $exists: false }, updatedAt: request.updatedAt },
      { actorId: adminId, action: 'admin.reprocess', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, details: { round } },
    );
    if (!requeued) return refuse('stale', `Request ${request.id} changed meanwhile; try again.`);
    await repositories.tasks.enqueue({ type: TASK_TYPES.deliver, payload: { requestId: request.id }, dedupeKey: `${TASK_TYPES.deliver}:${request.id}:r${round}` });
    return { ok: true, request: requeued, packageName };
  }

  /**
   * The package or policy vanished (the catalog changed) before the access could be set up:
   * the request ends as deliveryFailed with no assignment, and the requester and admins are told
   * (an admin reprocesses it once the package is back).
   */
  private async failedBeforeAssignment(request: AccessRequest): Promise<TaskOutcome> {
    const { repositories, clock, notifications } = this.deps;
    const now = clock.now();
    const failed = await repositories.requests.transition(request.id, ['delivering', 'scheduled'], {
      $set: { state: 'deliveryFailed', updatedAt: now },
      $push: { history: { at: now, actorId: 'system', action: 'deliveryFailed', details: 'its package or policy is no longer in the catalog' } },
    });
    // Moved by an earlier run that died before telling anyone: the notices are keyed, so sending again repeats nothing.
    const current = failed ?? (await repositories.requests.get(request.id));
    if (current?.state !== 'deliveryFailed' || current.assignmentId) return DONE;
    const round = current.history.filter((h) => h.action === 'reprocessed').length;
    const what = `"${request.packageId}" (policy "${request.policyId}")`;
    await notifications.send(
      current.targetUserId,
      notice("Couldn't deliver your request", `Request ${request.id} was approved, but the access package ${what} is no longer offered, so no access was set up. IT has been told.`, 'error'),
      { key: `deliveryFailed:${request.id}:${round}` },
    );
    await this.deps.adminNotices.send(
      notice(
        `Delivery failed: request ${request.id}`,
        `Package ${what} of request ${request.id} is not in the store any more, so nothing was delivered. Put it back in the catalog file and type apply catalog, then reprocess ${request.id}.`,
        'error',
        [{ title: 'Reprocess', verb: 'reprocess', id: request.id }],
      ),
      `failed:${request.id}:${round}`,
    );
    return DONE;
  }

  /** When every role has an outcome: the assignment's and request's state, and the requester told. */
  private async settleDelivery(assignmentId: string): Promise<void> {
    const { repositories, clock, notifications } = this.deps;
    const assignment = await repositories.assignments.get(assignmentId);
    if (!assignment) return;
    const now = clock.now();
    let state: Assignment['state'];
    if (assignment.state === 'delivering') {
      const outcome = deliveredState(assignment.roles);
      if (!outcome) return;
      const settled = await repositories.assignments.update(
        assignmentId,
        { state: 'delivering' },
        { $set: { state: outcome, updatedAt: now } },
        { actorId: 'system', action: `assignment.${outcome}`, packageId: assignment.packageId, userId: assignment.userId, assignmentId },
      );
      if (!settled) return; // another worker settled it
      state = outcome;
    } else {
      // Settled (and audited, with the same write) by a run that may have died before the
      // rest: finish it. The requests' moves are conditional and the notices keyed, so
      // repeating them changes nothing that was done.
      if (assignment.state !== 'delivered' && assignment.state !== 'partiallyDelivered' && assignment.state !== 'deliveryFailed') return;
      state = assignment.state;
    }
    for (const requestId of assignment.requestIds) {
      await repositories.requests.transition(requestId, 'delivering', { $set: { state, updatedAt: now }, $push: { history: { at: now, actorId: 'system', action: state } } });
    }
    const { accessPackage, catalog } = await this.packageOf(assignment);
    const names = accessPackage ? grantedRoles(accessPackage, catalog) : [];
    const describe = (i: number) => (names[i] ? `${names[i]!.resource} (${names[i]!.role})` : `${assignment.roles[i]!.resource} (${assignment.roles[i]!.role})`);
    const got = assignment.roles.map((r, i) => (r.state === 'delivered' ? describe(i) : '')).filter(Boolean);
    const missing = assignment.roles.map((r, i) => (r.state === 'failed' ? describe(i) : '')).filter(Boolean);
    const name = accessPackage?.displayName ?? assignment.packageId;
    const until = assignment.expiresAt ? ` until ${formatInstant(assignment.expiresAt)}` : '';
    const givenBy = await this.assignedBy(assignment);
    const card =
      state === 'delivered'
        ? notice(`You now have access: ${name}`, `${givenBy}You now have${until ? ` (${until.trim()})` : ''}: ${got.join(', ') || 'everything in the package'}. It may take a few minutes to show in each app.`, 'info', [{ title: 'My access', verb: 'myAccess' }])
        : state === 'partiallyDelivered'
          ? notice(`Partly delivered: ${name}`, `You now have: ${got.join(', ')}. Not yet: ${missing.join(', ')}. IT has been told and will sort it out.`, 'warning', [{ title: 'My access', verb: 'myAccess' }])
          : notice(`Couldn't deliver: ${name}`, `Your access could not be set up (${missing.join(', ')}). IT has been told and will sort it out.`, 'error');
    const round = assignment.reprocessCount ?? 0;
    await notifications.send(assignment.userId, card, { key: `delivered:${assignmentId}:${round}` });
    if (state !== 'delivered') await this.tellAdmins(assignment, name, missing, round);
  }

  /** "Ivan Petrov, an access package administrator, gave you this access. " for a direct assignment; '' otherwise. */
  private async assignedBy(assignment: Assignment): Promise<string> {
    const first = assignment.requestIds[0] ? await this.deps.repositories.requests.get(assignment.requestIds[0]) : null;
    if (first?.type !== 'adminAdd') return '';
    const admin = (await this.deps.directory.getUser(first.requesterId))?.displayName ?? 'An administrator';
    return `${admin}, an access package administrator, gave you this access. `;
  }

  /** Admins hear about every failed delivery at once, with what failed and a Reprocess button. */
  private async tellAdmins(assignment: Assignment, packageName: string, missing: string[], round: number): Promise<void> {
    const user = (await this.deps.directory.getUser(assignment.userId))?.displayName ?? assignment.userId;
    const errors = [...new Set(assignment.roles.filter((r) => r.state === 'failed').map((r) => r.error ?? 'unknown error'))];
    const card = notice(
      `Delivery failed: ${packageName} for ${user}`,
      `Not delivered: ${missing.join(', ')}. Reason: ${errors.join('; ')}. Assignment ${assignment.id}. Fix the cause, then reprocess.`,
      'error',
      [{ title: 'Reprocess', verb: 'reprocess', id: assignment.id }],
    );
    await this.deps.adminNotices.send(card, `failed:${assignment.id}:${round}`);
  }

  private async settleRemoval(assignmentId: string): Promise<void> {
    const { repositories, clock, notifications } = this.deps;
    const assignment = await repositories.assignments.get(assignmentId);
    if (!assignment || !removalFinished(assignment.roles)) return;
    const now = clock.now();
    const reason = assignment.endReason ?? 'removed';
    const open = await repositories.requests.listOpenForUser(assignment.userId);
    if (ACTIVE_ASSIGNMENT_STATES.includes(assignment.state)) {
      const ended = await repositories.assignments.update(
        assignmentId,
        { state: assignment.state },
        { $set: { state: reason, updatedAt: now } },
        { actorId: 'system', action: `assignment.${reason}`, packageId: assignment.packageId, userId: assignment.userId, assignmentId },
      );
      if (!ended) return;
    } else if (assignment.state !== reason) {
      return;
    }
    // Otherwise ended (and audited, with the same write) by a run that may have died before the
    // rest: finish it; the moves are conditional and the notice keyed, so nothing is doubled.
    for (const request of open.filter((r) => (r.type === 'remove' || r.type === 'adminRemove') && r.assignmentId === assignmentId)) {
      await repositories.requests.transition(request.id, 'delivering', { $set: { state: 'delivered', updatedAt: now } });
    }
    const { accessPackage, catalog } = await this.packageOf(assignment);
    const name = accessPackage?.displayName ?? assignment.packageId;
    const failed = assignment.roles.filter((r) => r.state === 'failed').length;
    const { removed, stayed } = await this.removalOutcome(assignment, accessPackage ? grantedRoles(accessPackage, catalog) : []);
    const what = `${removed.length > 0 ? ` Removed: ${removed.join(', ')}.` : ''}${stayed.length > 0 ? ` Still yours: ${stayed.join(', ')}.` : ''}`;
    const message =
      failed > 0
        ? `Your access to "${name}" has ended; ${failed} item(s) could not be removed yet and IT has been told.${what}`
        : `Your access to "${name}" has ${reason === 'expired' ? 'expired' : 'been removed'}.${what || ' Access you had before, or that another package gives you, stays.'}`;
    await notifications.send(assignment.userId, notice(reason === 'expired' ? `Expired: ${name}` : `Removed: ${name}`, message, 'info', [{ title: 'Browse packages', verb: 'packages' }]), { key: `ended:${assignmentId}` });
    if (failed > 0) await this.tellAdminsRemovalFailed(assignment, name, accessPackage ? grantedRoles(accessPackage, catalog) : []);
  }

  /**
   * Access that should have ended is still in the directory (an Entra role past its expiry is the
   * case that matters most): admins hear it at once, as the requester was promised.
   */
  private async tellAdminsRemovalFailed(assignment: Assignment, packageName: string, names: { resource: string; role: string }[]): Promise<void> {
    const user = (await this.deps.directory.getUser(assignment.userId))?.displayName ?? assignment.userId;
    const failed = assignment.roles.map((r, i) => ({ r, label: names[i] ? `${names[i]!.resource} (${names[i]!.role})` : `${r.resource} (${r.role})` })).filter(({ r }) => r.state === 'failed');
    const errors = [...new Set(failed.map(({ r }) => r.error ?? 'unknown error'))];
    await this.deps.adminNotices.send(
      notice(
        `Removal failed: ${packageName} for ${user}`,
        `Still in the directory: ${failed.map((f) => f.label).join(', ')}. Reason: ${errors.join('; ')}. Assignment ${assignment.id} has ended. Take it away in Microsoft Entra, or fix the cause; reconcile lists what is still held.`,
        'error',
      ),
      `removalFailed:${assignment.id}`,
    );
  }

  /**
   * What the removal took away and what the ledger kept (had before, or held through another
   * package), from the removal's audited outcomes: each role's name as the user knows it.
   */
  private async removalOutcome(assignment: Assignment, names: { resource: string; role: string }[]): Promise<{ removed: string[]; stayed: string[] }> {
    const events = assignment.removalStartedAt ? await this.deps.repositories.audit.query({ userId: assignment.userId, from: assignment.removalStartedAt }) : [];
    const removed: string[] = [];
    const stayed: string[] = [];
    assignment.roles.forEach((role, i) => {
      const event = events.find(
        (e) => e.assignmentId === assignment.id && (e.action === 'delivery.revoked' || e.action === 'delivery.kept') && e.details?.resource === role.resource && e.details?.role === role.role,
      );
      if (!event) return;
      const label = names[i] ? `${names[i]!.resource} (${names[i]!.role})` : `${role.resource} (${role.role})`;
      if (event.action === 'delivery.revoked') removed.push(label);
      else if (event.details?.reason === 'preExisting') stayed.push(`${label}, which you had before`);
      else if (event.details?.reason === 'heldByOthers') stayed.push(`${label}, through another package`);
    });
    return { removed, stayed };
  }

  /** Retryable errors wait (at least as long as the directory asked); others fail the role now. */
  private async onDirectoryError(error: unknown, attempts: number, fail: (message: string) => Promise<void>, operation?: DirectoryOperation): Promise<TaskOutcome> {
    const now = this.deps.clock.now();
    if (error instanceof DirectoryError && error.kind === 'throttled') this.deps.throttled(error.retryAfterMs ?? BACKOFF.baseMs);
    if (error instanceof DirectoryError && error.retryable && attempts < this.deps.maxAttempts) {
      const delay = retryDelayMs(attempts, error.retryAfterMs, { ...BACKOFF, random: (this.deps.random ?? Math.random)() });
      return { status: 'retry', at: new Date(now.getTime() + delay), error: error.message };
    }
    if (!(error instanceof DirectoryError)) {
      // A bug, not the directory: the runner retries and logs it, but not forever, or the
      // delivery would never end. A store outage is retried for as long as it lasts: nothing
      // could be recorded meanwhile anyway.
      if (attempts < this.deps.maxAttempts || error instanceof StoreUnavailableError) throw error;
      this.deps.logger.error({ err: error, attempts }, 'a delivery step kept failing with an unexpected error; recorded as failed');
      await fail(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
      return { status: 'done' };
    }
    const message = error.kind === 'forbidden' ? `configuration error: ${error.message}` : error.message;
    if (error.kind === 'forbidden') {
      this.deps.logger.error({ err: error }, 'the bot lacks a directory permission; see the README permission table');
      // Once per operation and day for all roles failing alike; never throws (the role is failed below either way).
      if (operation) await this.deps.adminNotices.configurationError(operation, error.message);
    }
    await fail(message);
    return { status: 'done' };
  }

  /** A role's outcome, audited with the same write (and only by the run that records it). */
  private async recordRole(assignmentId: string, index: number, from: string, change: { state: string; error?: string }, audit?: NewAuditEvent): Promise<void> {
    await this.deps.repositories.assignments.update(
      assignmentId,
      { [`roles.${index}.state`]: from },
      { $set: { [`roles.${index}.state`]: change.state, ...(change.error ? { [`roles.${index}.error`]: change.error } : {}), updatedAt: this.deps.clock.now() } },
      audit,
    );
  }

  private async roleContext(assignmentId: string, index: number) {
    const assignment = await this.deps.repositories.assignments.get(assignmentId);
    const role = assignment?.roles[index];
    if (!assignment || !role) return null;
    const { catalog } = await this.packageOf(assignment);
    const resource = catalog?.resources.find((r) => r.id === role.resource);
    const target = resource ? targetOf(resource, role.role) : null;
    if (!resource || !target) {
      // Only a role still on its way is recorded: a rerun must not turn a delivered role into a failed one.
      if (role.state === 'pending' || role.state === 'removing') {
        const error = !resource ? `resource ${role.resource} is no longer in the catalog` : `role '${role.role}' of ${resource.type} '${resource.id}' cannot be delivered (the catalog no longer defines it so)`;
        const action = role.state === 'pending' ? 'delivery.failed' : 'removal.failed';
        await this.recordRole(assignmentId, index, role.state, { state: 'failed', error }, { actorId: 'system', action, packageId: assignment.packageId, userId: assignment.userId, assignmentId, details: { resource: role.resource, role: role.role, error } });
      }
      return null;
    }
    return { assignment, role, resource, target };
  }

  private async holds(target: RoleTarget, userId: string): Promise<boolean> {
    if (target.kind === 'group') return this.deps.directory.hasGroupRole(target.groupId, userId, target.role);
    if (target.kind === 'directoryRole') return (await this.deps.directory.listDirectoryRoleAssignments(userId, target.roleDefinitionId)).length > 0;
    return (await this.deps.directory.listAppRoleAssignments(target.servicePrincipalId, userId)).some((a) => a.appRoleId === target.appRoleId);
  }

  private async packageOf(assignment: Assignment): Promise<{ accessPackage: AccessPackage | null; catalog: Catalog | null }> {
    const accessPackage = await this.deps.repositories.packages.get(assignment.packageId);
    const catalog = accessPackage ? await this.deps.repositories.catalogs.get(accessPackage.catalog) : null;
    return { accessPackage, catalog };
  }
}

/**
 * Groups and SharePoint sites (through their Microsoft 365 group) by membership; apps by app
 * role; directory roles by a tenant-wide role assignment of the role definition (originId).
 * Null for what the catalog validator would refuse today (a catalog stored by an older version).
 */
function targetOf(resource: Resource, role: string): RoleTarget | null {
  if ((resource.type === 'group' || resource.type === 'sharePointSite') && (role === 'member' || role === 'owner')) return { kind: 'group', groupId: resource.originId, role };
  if (resource.type === 'application') return { kind: 'appRole', servicePrincipalId: resource.originId, appRoleId: role };
  if (resource.type === 'directoryRole' && role.toLowerCase() === resource.originId.toLowerCase()) return { kind: 'directoryRole', roleDefinitionId: resource.originId };
  return null;
}

/** The directory operation behind a role write, for configuration error notices. */
function operationOf(target: RoleTarget, direction: 'add' | 'remove'): DirectoryOperation {
  const what = target.kind === 'appRole' ? 'AppRole' : target.kind === 'directoryRole' ? 'DirectoryRole' : target.role === 'owner' ? 'GroupOwner' : 'GroupMember';
  return `${direction}${what}`;
}
