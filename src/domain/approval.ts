// Approval rules (DESIGN.md §3, Entra's behaviour): who decides a stage, what a decision
// does to the request, and when a stage escalates, reminds and times out. Pure: the caller
// resolves approver references to ids through the directory and passes the time in.

import { addDuration } from './duration';
import type { AccessRequest, ApprovalStage, Decision, Policy, RequestStage, RequestState } from './model';

export const DEFAULT_DECISION_TIME = 'P14D';
export const MAX_DECISION_JUSTIFICATION = 1000;

/**
 * The people who decide a stage: the primary approvers minus the requester (nobody approves
 * their own request); when that leaves nobody, the fallback approvers (minus the requester).
 */
export function selectApprovers(primary: readonly string[], fallback: readonly string[], requesterId: string): { approverIds: string[]; usedFallback: boolean } {
  const unique = (ids: readonly string[]) => [...new Set(ids)].filter((id) => id !== requesterId);
  const chosen = unique(primary);
  if (chosen.length > 0) return { approverIds: chosen, usedFallback: false };
  return { approverIds: unique(fallback), usedFallback: true };
}

export function stageDeadline(stage: ApprovalStage, startedAt: Date): Date {
  return addDuration(startedAt, stage.durationBeforeAutomaticDenial || DEFAULT_DECISION_TIME);
}

export function escalationTime(stage: ApprovalStage, startedAt: Date): Date | undefined {
  return stage.escalation ? addDuration(startedAt, stage.escalation.after) : undefined;
}

/** Reminders go to undecided approvers after `fraction` of the decision time (default halfway). */
export function reminderTime(stage: ApprovalStage, startedAt: Date, fraction = 0.5): Date {
  const deadline = stageDeadline(stage, startedAt).getTime();
  return new Date(startedAt.getTime() + Math.round((deadline - startedAt.getTime()) * fraction));
}

export type DecisionRefusal =
  | { kind: 'decided'; decision: Decision }
  | { kind: 'notPending'; state: RequestState }
  | { kind: 'otherStage'; currentStage: number }
  | { kind: 'ownRequest' }
  | { kind: 'notApprover' }
  | { kind: 'justificationRequired' }
  | { kind: 'justificationTooLong' }
  | { kind: 'invalid' };

export interface DecisionInput {
  request: AccessRequest;
  policy: Policy;
  approverId: string;
  stageIndex: number;
  decision: unknown;
  justification: unknown;
  /** Whether the directory says this person may decide this stage right now. */
  isApproverNow: boolean;
  now: Date;
}

export type DecisionResult =
  | { ok: true; decision: Decision; next: { state: RequestState; currentStage?: number }; stages: RequestStage[] }
  | { ok: false; refusal: DecisionRefusal };

/**
 * Checks a click against the request as it is now and works out the transition: approve at
 * the last stage ends approval, at an earlier stage moves on, and any deny ends the request.
 * Who may decide is checked first, so someone who isn't an approver learns nothing about
 * the request (not even who decided it).
 */
export function decide(input: DecisionInput): DecisionResult {
  const { request, policy, approverId, stageIndex, now } = input;
  if (input.decision !== 'approve' && input.decision !== 'deny') return { ok: false, refusal: { kind: 'invalid' } };
  if (approverId === request.requesterId || approverId === request.targetUserId) return { ok: false, refusal: { kind: 'ownRequest' } };
  if (!input.isApproverNow) return { ok: false, refusal: { kind: 'notApprover' } };
  const clicked = request.stages[stageIndex];
  if (clicked?.decision) return { ok: false, refusal: { kind: 'decided', decision: clicked.decision } };
  if (request.state !== 'pendingApproval') return { ok: false, refusal: { kind: 'notPending', state: request.state } };
  const current = request.currentStage ?? 0;
  const stage = request.stages[current];
  if (stageIndex !== current || !stage) return { ok: false, refusal: { kind: 'otherStage', currentStage: current } };

  if (input.justification !== undefined && input.justification !== null && typeof input.justification !== 'string') {
    return { ok: false, refusal: { kind: 'invalid' } };
  }
  const justification = typeof input.justification === 'string' ? input.justification.trim() : '';
  if (justification.length > MAX_DECISION_JUSTIFICATION) return { ok: false, refusal: { kind: 'justificationTooLong' } };
  const definition = policy.approval.stages[current];
  if (definition?.approverJustificationRequired && justification === '') return { ok: false, refusal: { kind: 'justificationRequired' } };

  const decision: Decision = { approverId, decision: input.decision, at: now, ...(justification ? { justification } : {}) };
  const stages = request.stages.map((s, i) => (i === current ? { ...s, decision } : s));
  if (input.decision === 'deny') return { ok: true, decision, next: { state: 'denied' }, stages };
  const last = current >= policy.approval.stages.length - 1;
  if (!last) return { ok: true, decision, next: { state: 'pendingApproval', currentStage: current + 1 }, stages };
  const startsLater = (request.schedule.startAt?.getTime() ?? 0) > now.getTime();
  return { ok: true, decision, next: { state: startsLater ? 'scheduled' : 'delivering' }, stages };
}

/** Everyone who may decide the stage now: its approvers plus, once escalated, the alternates. */
export function stageDeciders(stage: RequestStage): string[] {
  return [...new Set([...stage.approverIds, ...(stage.escalationApproverIds ?? [])])];
}
