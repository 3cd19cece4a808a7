import { decide, type DecisionRefusal, escalationTime, reminderTime, selectApprovers, stageDeadline, stageDeciders } from '../domain/approval';
import { formatInstant } from '../domain/lifecycle';
import type { AccessRequest, ApprovalStage, ApproverRef, Policy, RequestStage } from '../domain/model';
import { ACTIVE_ASSIGNMENT_STATES } from '../domain/model';
import type { TaskOutcome } from '../scheduler/taskRunner';
import {
  type ApprovalContext,
  type ApprovalOutcome,
  approvalCard,
  approverEndedByRule,
  approverReminder,
  canceledByAdministrator,
  requesterApproved,
  requesterDenied,
  requesterExtended,
  requesterNoApprover,
  requesterStageApproved,
  requesterTimedOut,
  onBehalf,
  ruleReason,
  targetOutcome,
  trackKey,
} from './approvalMessages';
import type { AdminNotices } from './adminNotices';
import type { AdminPolicy } from './admins';
import type { ServiceDependencies } from './deps';
import { endByRule, GrantChecks } from './grantChecks';
import { notice } from './messages';
import type { Notifications, OutgoingCard } from './notifications';
import { asId, type Outcome, type Refusal, refuse } from './outcome';
import { TASK_TYPES } from './workflow';

export interface ApprovalDependencies extends ServiceDependencies {
  notifications: Notifications;
  admins: AdminPolicy;
  /** Admins hear of separation-of-duties conflicts found at approval. */
  adminNotices: Pick<AdminNotices, 'separationOfDutiesEnded'>;
  /** Fraction of the decision time after which undecided approvers get a reminder. */
  reminderFraction?: number;
}

const DONE: TaskOutcome = { status: 'done' };

/** The outcome of a click, and the card the clicking approver sees (when there is one). */
export type DecisionAnswer = ({ ok: true; card: OutgoingCard; message: string }) | (Refusal & { card?: OutgoingCard });

export interface PendingApproval {
  request: AccessRequest;
  packageName: string;
  approverNames: string[];
  waitingSince?: Date;
}
/** Optimistic concurrency: a decision computed on a version that changed meanwhile is recomputed. */
const MAX_DECISION_ATTEMPTS = 5;

/**
 * Runs approval: resolves each stage's approvers, sends their cards, records the first
 * decision atomically, moves to the next stage or to delivery, and handles escalation,
 * reminders, timeouts and cancellation. Every step is a durable task or a conditional update.
 */
export class ApprovalService {
  private readonly checks: GrantChecks;

  constructor(private readonly deps: ApprovalDependencies) {
    this.checks = new GrantChecks(deps);
  }

  /** Task handlers, by task type. */
  taskHandlers(): Record<string, (payload: Record<string, unknown>, attempts: number) => Promise<TaskOutcome>> {
    return {
      [TASK_TYPES.startApproval]: (p) => this.startStage(String(p.requestId), Number(p.stage ?? 0)),
      [TASK_TYPES.approvalTimeout]: (p) => this.timeOut(String(p.requestId), Number(p.stage)),
      [TASK_TYPES.approvalEscalation]: (p) => this.escalate(String(p.requestId), Number(p.stage)),
      [TASK_TYPES.approvalReminder]: (p) => this.remind(String(p.requestId), Number(p.stage)),
      [TASK_TYPES.cancelApproval]: (p) => this.canceled(String(p.requestId)),
    };
  }

  /** Resolves the stage's approvers, records them on the request, and sends each a card. */
  async startStage(requestId: string, stageIndex: number): Promise<TaskOutcome> {
    const context = await this.context(requestId);
    if (!context) return DONE;
    const { request, policy } = context;
    const definition = policy.approval.stages[stageIndex];
    // No longer waiting at this stage: nothing to do.
    if (request.state !== 'pendingApproval' || (request.currentStage ?? 0) !== stageIndex || !definition) return DONE;
    const existing = request.stages[stageIndex];
    if (existing) {
      // A rerun: the first run started the stage and may have died before queuing the cards and
      // deadlines. Queue them again; every one is keyed, so what was queued isn't doubled.
      await this.announceStage(context, stageIndex, existing, definition);
      return DONE;
    }

    const now = this.deps.clock.now();
    const primary = await this.resolve(definition.approvers, request.targetUserId);
    const fallback = await this.resolve(definition.fallbackApprovers, request.targetUserId);
    // Nobody approves access for themselves, also when an admin asked for them.
    const notTarget = (id: string) => id !== request.targetUserId;
    const { approverIds, usedFallback } = selectApprovers(primary.filter(notTarget), fallback.filter(notTarget), request.requesterId);
    const stage: RequestStage = { index: stageIndex, approverIds, usedFallback, startedAt: now };

    if (approverIds.length === 0) return this.noApprover(context, stageIndex, now);

    const started = await this.deps.repositories.requests.transition(
      request.id,
      'pendingApproval',
      { $set: { stages: [...request.stages, stage], updatedAt: now }, $push: { history: { at: now, actorId: 'system', action: `stage ${stageIndex + 1} started`, details: `${approverIds.length} approver(s)${usedFallback ? ' (fallback)' : ''}` } } },
      { currentStage: stageIndex, updatedAt: request.updatedAt },
      { actorId: 'system', action: 'approval.stageStarted', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, details: { stage: stageIndex, approverIds, usedFallback } },
    );
    if (!started) return { status: 'retry', at: now, error: 'request changed while its stage was starting' };

    await this.announceStage({ ...context, request: started }, stageIndex, stage, definition);
    return DONE;
  }

  /**
   * An approver's click. Checked against the request as it is now; the first decision of a
   * stage wins and every other click (double click, replay, a second approver) is refused
   * with a specific message. Returns the card the clicking approver should now see.
   */
  async decide(approverId: string, data: Record<string, unknown>): Promise<DecisionAnswer> {
    const requestId = asId(data.requestId);
    const stageIndex = typeof data.stage === 'number' ? data.stage : typeof data.stage === 'string' && /^\d$/.test(data.stage) ? Number(data.stage) : NaN;
    if (!requestId || !Number.isInteger(stageIndex)) return refuse('invalidInput', 'This approval card is incomplete or was altered. Ask the requester to send the request again if it is still needed.');

    for (let attempt = 0; attempt < MAX_DECISION_ATTEMPTS; attempt++) {
      const context = await this.context(requestId);
      if (!context) return refuse('notFound', `There's no request ${requestId.slice(0, 40)}.`);
      const { request, policy } = context;
      const stage = request.stages[stageIndex];
      const isApproverNow = stage ? await this.isApproverNow(approverId, request, policy, stage) : false;
      const now = this.deps.clock.now();
      const result = decide({ request, policy, approverId, stageIndex, decision: data.decision, justification: data.justification, isApproverNow, now });
      if (!result.ok) {
        await this.auditRefusal(approverId, request, stageIndex, result.refusal);
        const message = await this.refusalMessage(result.refusal, context, approverId);
        const refusal = refuse(result.refusal.kind === 'invalid' ? 'invalidInput' : 'notAllowed', message);
        // Where the approver can still act, or should see how it ended, they keep the card.
        const definition = policy.approval.stages[stageIndex];
        if (!stage || !definition) return refusal;
        const deadline = stageDeadline(definition, stage.startedAt ?? now);
        const kind = result.refusal.kind;
        if (kind === 'justificationRequired' || kind === 'justificationTooLong') return { ...refusal, card: approvalCard(context, stageIndex, deadline, { kind: 'pending' }, message) };
        if (kind === 'decided') return { ...refusal, card: approvalCard(context, stageIndex, deadline, { kind: 'decided', decision: result.refusal.decision, approverName: await this.nameOf(result.refusal.decision.approverId) }, message) };
        if (kind === 'notPending' && result.refusal.state === 'denied' && request.endReason) {
          return { ...refusal, card: approvalCard(context, stageIndex, deadline, { kind: 'ended', endReason: request.endReason, personName: personNameOf(context) }, message) };
        }
        if (kind === 'notPending' && (result.refusal.state === 'timedOut' || result.refusal.state === 'canceled')) {
          const ended = result.refusal.state === 'canceled' ? { kind: 'canceled' as const, byAdministrator: canceledByAdministrator(request) } : { kind: 'timedOut' as const };
          return { ...refusal, card: approvalCard(context, stageIndex, deadline, ended, message) };
        }
        return refusal;
      }

      const { decision, next, stages } = result;
      if (decision.decision === 'approve') {
        // Each approval checks again what may have changed while the request waited
        // (separation of duties, eligibility, switches, the account): approving what can no
        // longer be granted ends it instead, and the approver learns why on the card.
        const check = await this.checks.recheck(request, context, 'approval');
        if (!check.ok) {
          const ended = await endByRule(this.deps, request, 'pendingApproval', check.endReason, { currentStage: stageIndex, updatedAt: request.updatedAt }, { packageName: context.accessPackage.displayName }, approverId);
          if (!ended) continue; // someone else changed it first: look again
          return this.endedAnswer({ ...context, request: ended }, stageIndex, approverId, now);
        }
      }
      const historyAction = `${decision.decision === 'approve' ? 'approved' : 'denied'} at stage ${stageIndex + 1}`;
      const updated = await this.deps.repositories.requests.transition(
        request.id,
        'pendingApproval',
        {
          $set: { state: next.state, stages, updatedAt: now, ...(next.currentStage !== undefined ? { currentStage: next.currentStage } : {}) },
          $push: { history: { at: now, actorId: approverId, action: historyAction, ...(decision.justification ? { details: decision.justification } : {}) } },
        },
        { currentStage: stageIndex, updatedAt: request.updatedAt },
        {
          actorId: approverId,
          action: decision.decision === 'approve' ? 'approval.approved' : 'approval.denied',
          packageId: request.packageId,
          userId: request.targetUserId,
          requestId: request.id,
          details: { stage: stageIndex, ...(decision.justification ? { justification: decision.justification } : {}) },
        },
      );
      if (!updated) continue; // someone else changed it first: look again (it may now be decided)

      const approverName = await this.nameOf(approverId);
      const after = { ...context, request: updated };
      const outcome: ApprovalOutcome = { kind: 'decided', decision, approverName };
      const deadline = stageDeadline(policy.approval.stages[stageIndex]!, stage!.startedAt ?? now);
      await this.updateCards(after, stageIndex, outcome, deadline, approverId);
      await this.afterDecision(after, stageIndex, approverName);
      const card = approvalCard(after, stageIndex, deadline, outcome);
      return { ok: true, card, message: decision.decision === 'approve' ? 'Approved.' : 'Denied.' };
    }
    return refuse('stale', 'This request is changing right now. Open the card again in a moment.');
  }

  /** The clicking approver's answer (and every other approver's card) once a check ended the request. */
  private async endedAnswer(context: ApprovalContext, stageIndex: number, approverId: string, now: Date): Promise<DecisionAnswer> {
    const { request, policy } = context;
    const endReason = request.endReason!;
    const outcome: ApprovalOutcome = { kind: 'ended', endReason, personName: personNameOf(context) };
    const stage = request.stages[stageIndex];
    const deadline = stageDeadline(policy.approval.stages[stageIndex]!, stage?.startedAt ?? now);
    await this.updateCards(context, stageIndex, outcome, deadline, approverId);
    const message = approverEndedByRule(endReason, personNameOf(context));
    return { ...refuse('notAllowed', message), card: approvalCard(context, stageIndex, deadline, outcome, message) };
  }

  private async afterDecision(context: ApprovalContext, stageIndex: number, approverName: string): Promise<void> {
    const { request } = context;
    const { notifications, workflow } = this.deps;
    const decision = request.stages[stageIndex]?.decision;
    if (request.state === 'denied' && decision) {
      await notifications.send(request.requesterId, requesterDenied(context, decision, approverName), { key: `denied:${request.id}` });
      await this.tellTarget(context, targetOutcome(context, { kind: 'denied', approverName, decision }), `denied:${request.id}`);
    } else if (request.state === 'pendingApproval') {
      await notifications.send(request.requesterId, requesterStageApproved(context, approverName, stageIndex + 1), { key: `stage:${request.id}:${stageIndex}` });
      await this.deps.repositories.tasks.enqueue({
        type: TASK_TYPES.startApproval,
        payload: { requestId: request.id, stage: stageIndex + 1 },
        dedupeKey: `${TASK_TYPES.startApproval}:${request.id}:${stageIndex + 1}`,
      });
    } else if (request.type === 'extend') {
      await this.applyExtension(context, approverName);
    } else {
      await workflow.approved(request);
      await notifications.send(request.requesterId, requesterApproved(context, approverName, request.state === 'scheduled'), { key: `approved:${request.id}` });
      await this.tellTarget(context, targetOutcome(context, { kind: 'approved', approverName, scheduled: request.state === 'scheduled' }), `approved:${request.id}`);
    }
  }

  /** An approved extension changes the assignment's end at once: there is nothing to deliver. */
  private async applyExtension(context: ApprovalContext, approverName: string): Promise<void> {
    const { request } = context;
    const { repositories, clock, notifications } = this.deps;
    const now = clock.now();
    if (request.assignmentId) {
      // The new expiry's warnings are planned afresh (lifecycleCheckAt = now).
      const update = request.schedule.expiresAt
        ? { $set: { expiresAt: request.schedule.expiresAt, expirySetAt: now, lifecycleCheckAt: now, updatedAt: now }, $addToSet: { requestIds: request.id } }
        : { $unset: { expiresAt: true, expirySetAt: true, lifecycleCheckAt: true }, $set: { updatedAt: now }, $addToSet: { requestIds: request.id } };
      // Only while the access lasts: approved after it expired or was given back, there is nothing to extend.
      const extended = await repositories.assignments.update(request.assignmentId, { state: { $in: [...ACTIVE_ASSIGNMENT_STATES] }, expiresAt: { $gt: now }, endReason: { $exists: false } }, update);
      if (!extended) return this.extensionTooLate(context);
    }
    await repositories.requests.transition(
      request.id,
      ['delivering', 'scheduled'],
      { $set: { state: 'delivered', updatedAt: now } },
      {},
      { actorId: 'system', action: 'assignment.extended', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, ...(request.assignmentId ? { assignmentId: request.assignmentId } : {}) },
    );
    await notifications.send(request.requesterId, requesterExtended(context, approverName), { key: `extended:${request.id}` });
  }

  /** The extension was approved after the access had ended: the requester is told, nothing changes. */
  private async extensionTooLate(context: ApprovalContext): Promise<void> {
    const { request, accessPackage } = context;
    const { repositories, clock, notifications } = this.deps;
    const now = clock.now();
    const canceled = await repositories.requests.transition(
      request.id,
      ['delivering', 'scheduled'],
      {
        $set: { state: 'canceled', updatedAt: now },
        $push: { history: { at: now, actorId: 'system', action: 'canceled', details: 'the access had ended before the extension was approved' } },
      },
      {},
      { actorId: 'system', action: 'request.extensionTooLate', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, ...(request.assignmentId ? { assignmentId: request.assignmentId } : {}) },
    );
    if (!canceled) return;
    await notifications.send(
      request.requesterId,
      notice(`Not extended: ${accessPackage.displayName}`, `Your extension (${request.id}) was approved, but your access had already ended, so there was nothing to extend. Request the package again if you still need it.`, 'warning', [{ title: 'Browse packages', verb: 'packages' }]),
      { key: `extended:${request.id}` },
    );
  }

  /** Automatic denial when a stage's decision time runs out. */
  async timeOut(requestId: string, stageIndex: number): Promise<TaskOutcome> {
    const context = await this.context(requestId);
    if (!context) return DONE;
    const now = this.deps.clock.now();
    const { request } = context;
    const stage = request.stages[stageIndex];
    const timedOut = await this.deps.repositories.requests.transition(
      requestId,
      'pendingApproval',
      { $set: { state: 'timedOut', updatedAt: now }, $push: { history: { at: now, actorId: 'system', action: `timed out at stage ${stageIndex + 1}` } } },
      { currentStage: stageIndex },
      { actorId: 'system', action: 'approval.timedOut', packageId: request.packageId, userId: request.targetUserId, requestId, details: { stage: stageIndex, approverIds: stage ? stageDeciders(stage) : [] } },
    );
    if (!timedOut) return DONE; // decided, canceled or moved on in time
    const after = { ...context, request: timedOut };
    await this.updateCards(after, stageIndex, { kind: 'timedOut' }, now);
    await this.deps.notifications.send(timedOut.requesterId, requesterTimedOut(after), { key: `timedOut:${requestId}` });
    await this.tellTarget(after, targetOutcome(after, { kind: 'timedOut' }), `timedOut:${requestId}`);
    return DONE;
  }

  /** Adds the stage's alternate approvers; the primary approvers can still decide. */
  async escalate(requestId: string, stageIndex: number): Promise<TaskOutcome> {
    const context = await this.context(requestId);
    if (!context) return DONE;
    const { request, policy } = context;
    const stage = request.stages[stageIndex];
    const definition = policy.approval.stages[stageIndex];
    if (request.state !== 'pendingApproval' || request.currentStage !== stageIndex || !stage || stage.escalatedAt || !definition?.escalation) return DONE;
    const now = this.deps.clock.now();
    const alternates = (await this.resolve(definition.escalation.approvers, request.targetUserId)).filter((id) => id !== request.requesterId && id !== request.targetUserId);
    const added = alternates.filter((id) => !stage.approverIds.includes(id));
    const stages = request.stages.map((s, i) => (i === stageIndex ? { ...s, escalatedAt: now, escalationApproverIds: added } : s));
    const escalated = await this.deps.repositories.requests.transition(
      requestId,
      'pendingApproval',
      { $set: { stages, updatedAt: now }, $push: { history: { at: now, actorId: 'system', action: `escalated at stage ${stageIndex + 1}` } } },
      { currentStage: stageIndex, updatedAt: request.updatedAt },
      { actorId: 'system', action: 'approval.escalated', packageId: request.packageId, userId: request.targetUserId, requestId, details: { stage: stageIndex, addedApproverIds: added } },
    );
    if (!escalated) return { status: 'retry', at: now, error: 'request changed while escalating' };
    const deadline = stageDeadline(definition, stage.startedAt ?? now);
    const banner = `Escalated to you: the first approvers have not decided since ${formatInstant(stage.startedAt ?? now)}.`;
    for (const approverId of added) await this.sendCard({ ...context, request: escalated }, stageIndex, approverId, deadline, banner);
    return DONE;
  }

  async remind(requestId: string, stageIndex: number): Promise<TaskOutcome> {
    const context = await this.context(requestId);
    if (!context) return DONE;
    const { request, policy } = context;
    const stage = request.stages[stageIndex];
    const definition = policy.approval.stages[stageIndex];
    if (request.state !== 'pendingApproval' || request.currentStage !== stageIndex || !stage || stage.decision || !definition) return DONE;
    const deadline = stageDeadline(definition, stage.startedAt ?? this.deps.clock.now());
    for (const approverId of stageDeciders(stage)) {
      await this.deps.notifications.send(approverId, approverReminder(context, deadline), { key: `reminder:${requestId}:${stageIndex}:${approverId}` });
    }
    await this.deps.repositories.audit.append({ actorId: 'system', action: 'approval.reminded', packageId: request.packageId, userId: request.targetUserId, requestId, details: { stage: stageIndex } });
    return DONE;
  }

  /** The requester withdrew: every approver's card of the current stage says so. */
  async canceled(requestId: string): Promise<TaskOutcome> {
    const context = await this.context(requestId);
    if (!context || context.request.state !== 'canceled') return DONE;
    const index = context.request.currentStage ?? 0;
    const stage = context.request.stages[index];
    const definition = context.policy.approval.stages[index];
    const byAdministrator = canceledByAdministrator(context.request);
    if (stage && definition) await this.updateCards(context, index, { kind: 'canceled', byAdministrator }, stageDeadline(definition, stage.startedAt ?? this.deps.clock.now()));
    return DONE;
  }

  /** The user an admin asked for hears the outcome too (the admin, as requester, already did). */
  private async tellTarget(context: ApprovalContext, card: OutgoingCard, key: string): Promise<void> {
    if (onBehalf(context)) await this.deps.notifications.send(context.request.targetUserId, card, { key: `${key}:target` });
  }

  /** Requests waiting for approval, with who holds them. Admins only; a refusal is audited. */
  async pending(userId: string, packageId?: string): Promise<Outcome<{ rows: PendingApproval[] }>> {
    const { repositories } = this.deps;
    if (!(await this.deps.admins.isAdmin(userId))) {
      await repositories.audit.append({ actorId: userId, action: 'admin.refused', details: { command: 'approvals', ...(packageId ? { packageId } : {}) } });
      return refuse('notAllowed', "Only access package administrators can see everyone's pending approvals. Type my requests to see yours.");
    }
    const requests = await repositories.requests.listPending(packageId);
    const names = new Map((await repositories.packages.getMany([...new Set(requests.map((r) => r.packageId))])).map((p) => [p.id, p.displayName]));
    const rows = [];
    for (const request of requests) {
      const stage = request.stages[request.currentStage ?? 0];
      const approverNames = stage ? await Promise.all(stageDeciders(stage).map((id) => this.nameOf(id))) : [];
      rows.push({ request, packageName: names.get(request.packageId) ?? request.packageId, approverNames, waitingSince: stage?.startedAt });
    }
    return { ok: true, rows };
  }

  private async noApprover(context: ApprovalContext, stageIndex: number, now: Date): Promise<TaskOutcome> {
    const { request } = context;
    const denied = await this.deps.repositories.requests.transition(
      request.id,
      'pendingApproval',
      { $set: { state: 'denied', updatedAt: now }, $push: { history: { at: now, actorId: 'system', action: `no approver for stage ${stageIndex + 1}` } } },
      { currentStage: stageIndex },
      { actorId: 'system', action: 'approval.noApprover', packageId: request.packageId, userId: request.targetUserId, requestId: request.id, details: { stage: stageIndex } },
    );
    if (!denied) return DONE;
    await this.deps.notifications.send(request.requesterId, requesterNoApprover(context, stageIndex), { key: `noApprover:${request.id}` });
    await this.tellTarget(context, targetOutcome(context, { kind: 'noApprover' }), `noApprover:${request.id}`);
    return DONE;
  }

  /** The approvers' cards and the stage's deadline, escalation and reminder: all keyed, so safe to repeat. */
  private async announceStage(context: ApprovalContext, stageIndex: number, stage: RequestStage, definition: ApprovalStage): Promise<void> {
    const startedAt = stage.startedAt ?? this.deps.clock.now();
    const deadline = stageDeadline(definition, startedAt);
    for (const approverId of stage.approverIds) await this.sendCard(context, stageIndex, approverId, deadline);
    await this.schedule(TASK_TYPES.approvalTimeout, context.request.id, stageIndex, deadline);
    const escalateAt = escalationTime(definition, startedAt);
    if (escalateAt && escalateAt < deadline) await this.schedule(TASK_TYPES.approvalEscalation, context.request.id, stageIndex, escalateAt);
    await this.schedule(TASK_TYPES.approvalReminder, context.request.id, stageIndex, reminderTime(definition, startedAt, this.deps.reminderFraction));
  }

  private async sendCard(context: ApprovalContext, stageIndex: number, approverId: string, deadline: Date, banner = ''): Promise<void> {
    const key = trackKey(context.request.id, stageIndex, approverId);
    await this.deps.notifications.send(approverId, approvalCard(context, stageIndex, deadline, { kind: 'pending' }, banner), { key, trackAs: key });
    await this.deps.repositories.audit.append({
      actorId: 'system',
      action: 'approval.cardSent',
      packageId: context.request.packageId,
      userId: context.request.targetUserId,
      requestId: context.request.id,
      details: { stage: stageIndex, approverId },
    });
  }

  /** Every decider's card of the stage shows the outcome, without buttons. */
  private async updateCards(context: ApprovalContext, stageIndex: number, outcome: ApprovalOutcome, deadline: Date, except?: string): Promise<void> {
    const stage = context.request.stages[stageIndex];
    if (!stage) return;
    for (const approverId of stageDeciders(stage)) {
      // The deciding approver gets the updated card as the answer to the click itself.
      if (approverId === except) continue;
      await this.deps.notifications.update(trackKey(context.request.id, stageIndex, approverId), approvalCard(context, stageIndex, deadline, outcome));
    }
  }

  private async schedule(type: string, requestId: string, stage: number, dueAt: Date): Promise<void> {
    await this.deps.repositories.tasks.enqueue({ type, payload: { requestId, stage }, dueAt, dedupeKey: `${type}:${requestId}:${stage}` });
  }

  /** Whether the person may decide this stage now: still named by the policy (groups re-checked). */
  private async isApproverNow(approverId: string, request: AccessRequest, policy: Policy, stage: RequestStage): Promise<boolean> {
    if (!stageDeciders(stage).includes(approverId)) return false;
    const definition = policy.approval.stages[stage.index];
    if (!definition) return false;
    const refs: ApproverRef[] = [
      ...definition.approvers,
      ...(stage.usedFallback ? definition.fallbackApprovers : []),
      ...(stage.escalatedAt && definition.escalation ? definition.escalation.approvers : []),
    ];
    for (const ref of refs) {
      if ('user' in ref && ref.user === approverId) return true;
      if ('manager' in ref && (await this.deps.directory.getManager(request.targetUserId))?.id === approverId) return true;
      if ('group' in ref && (await this.deps.directory.checkMemberGroups(approverId, [ref.group])).length > 0) return true;
    }
    return false;
  }

  /** Approver references → user object ids (groups transitively, the requester's manager). */
  private async resolve(refs: ApproverRef[], targetUserId: string): Promise<string[]> {
    const { directory } = this.deps;
    const ids: string[] = [];
    for (const ref of refs) {
      if ('user' in ref) {
        const user = await directory.getUser(ref.user);
        if (user?.accountEnabled) ids.push(user.id);
      } else if ('group' in ref) {
        ids.push(...(await directory.listTransitiveGroupMembers(ref.group)));
      } else {
        const manager = await directory.getManager(targetUserId);
        if (manager?.accountEnabled) ids.push(manager.id);
      }
    }
    return [...new Set(ids)];
  }

  private async context(requestId: string): Promise<ApprovalContext | null> {
    const { repositories, directory } = this.deps;
    const request = await repositories.requests.get(requestId);
    if (!request) return null;
    const accessPackage = await repositories.packages.get(request.packageId);
    const policy = await repositories.policies.get(request.packageId, request.policyId);
    if (!accessPackage || !policy) return null;
    const catalog = await repositories.catalogs.get(accessPackage.catalog);
    const requester = await directory.getUser(request.requesterId);
    const target = request.targetUserId !== request.requesterId ? await directory.getUser(request.targetUserId) : undefined;
    const deciders = [...new Set(request.stages.flatMap((st) => (st.decision ? [st.decision.approverId] : [])))];
    const deciderNames = new Map<string, string>();
    for (const id of deciders) deciderNames.set(id, await this.nameOf(id));
    return { request, accessPackage, catalog, policy, requester, deciderNames, ...(target !== undefined ? { target } : {}) };
  }

  private async nameOf(userId: string): Promise<string> {
    return (await this.deps.directory.getUser(userId))?.displayName ?? 'an approver';
  }

  private async refusalMessage(refusal: DecisionRefusal, context: ApprovalContext, approverId: string): Promise<string> {
    const { request } = context;
    switch (refusal.kind) {
      case 'decided': {
        const verb = refusal.decision.decision === 'approve' ? 'approved' : 'denied';
        const who = refusal.decision.approverId === approverId ? 'you' : await this.nameOf(refusal.decision.approverId);
        return `This request was already ${verb} by ${who} on ${formatInstant(refusal.decision.at)}. Your click changed nothing.`;
      }
      case 'notPending': {
        if (refusal.state === 'denied' && request.endReason) return `This request was ended by the bot: it could no longer be granted, because ${ruleReason(request.endReason, { name: personNameOf(context) })}. Your click changed nothing.`;
        const what: Record<string, string> = { canceled: canceledByAdministrator(request) ? 'canceled by an administrator' : 'canceled by the requester', timedOut: 'denied automatically because nobody decided in time', denied: 'denied' };
        return `This request was ${what[refusal.state] ?? 'already decided'}. Your click changed nothing.`;
      }
      case 'otherStage':
        return `This card is for an earlier step; the request is now at step ${refusal.currentStage + 1}. Your click changed nothing.`;
      case 'ownRequest':
        return 'You can\'t decide your own request.';
      case 'notApprover':
        return `You are not an approver of request ${request.id} (or no longer are). Your click changed nothing.`;
      case 'justificationRequired':
        return 'This step needs a reason for your decision: write it in the box, then approve or deny.';
      case 'justificationTooLong':
        return 'Please keep the reason under 1000 characters.';
      case 'invalid':
        return 'This approval card is incomplete or was altered. Your click changed nothing.';
    }
  }

  private async auditRefusal(approverId: string, request: AccessRequest, stageIndex: number, refusal: DecisionRefusal): Promise<void> {
    await this.deps.repositories.audit.append({
      actorId: approverId,
      action: 'approval.refused',
      packageId: request.packageId,
      userId: request.targetUserId,
      requestId: request.id,
      details: { stage: stageIndex, reason: refusal.kind },
    });
  }
}

/** The person the access is for, by name: approvers decide about them. */
function personNameOf(context: ApprovalContext): string {
  const person = onBehalf(context) ? context.target : context.requester;
  return person?.displayName ?? context.request.targetUserId;
}
