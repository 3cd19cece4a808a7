// What approvers and requesters are told about approvals, as card data (plain, formatted
// strings: it is queued as a task and rendered later by the bot layer).
import { describeExpiry, formatInstant } from '../domain/lifecycle';
import type { AccessPackage, AccessRequest, Catalog, Decision, Policy } from '../domain/model';
import type { DirectoryUser } from '../directory/port';
import { grantedRoles } from './describe';
import { notice } from './messages';
import type { OutgoingCard } from './notifications';

export interface ApprovalContext {
  request: AccessRequest;
  accessPackage: AccessPackage;
  catalog: Catalog | null;
  policy: Policy;
  requester: DirectoryUser | null;
  /** Names of the people who decided earlier stages, by object id. */
  deciderNames?: ReadonlyMap<string, string>;
}

export type ApprovalOutcome =
  | { kind: 'pending' }
  | { kind: 'decided'; decision: Decision; approverName: string }
  | { kind: 'timedOut' }
  | { kind: 'canceled' };

export function trackKey(requestId: string, stage: number, approverId: string): string {
  return `approval:${requestId}:${stage}:${approverId}`;
}

function answersOf(context: ApprovalContext): { question: string; answer: string }[] {
  return context.request.answers.map((a) => ({
    question: context.policy.questions.find((q) => q.id === a.questionId)?.text ?? a.questionId,
    answer: Array.isArray(a.value) ? a.value.join(', ') : a.value,
  }));
}

function outcomeText(outcome: ApprovalOutcome): { text: string; color: string } {
  switch (outcome.kind) {
    case 'pending':
      return { text: '', color: 'Default' };
    case 'decided': {
      const verb = outcome.decision.decision === 'approve' ? 'Approved' : 'Denied';
      const why = outcome.decision.justification ? `: "${outcome.decision.justification}"` : '';
      return { text: `${verb} by ${outcome.approverName} on ${formatInstant(outcome.decision.at)}${why}`, color: outcome.decision.decision === 'approve' ? 'Good' : 'Attention' };
    }
    case 'timedOut':
      return { text: 'Timed out: nobody decided in time, so the request was denied automatically.', color: 'Warning' };
    case 'canceled':
      return { text: 'Canceled by the requester.', color: 'Default' };
  }
}

/** The card each approver of a stage gets, and how it looks once the stage is over. */
export function approvalCard(context: ApprovalContext, stageIndex: number, deadline: Date, outcome: ApprovalOutcome, banner = ''): OutgoingCard {
  const { request, accessPackage, policy, requester } = context;
  const stageCount = policy.approval.stages.length;
  const roles = grantedRoles(accessPackage, context.catalog).map((r) => `${r.resource} (${r.role})`);
  const { text, color } = outcomeText(outcome);
  const start = request.schedule.startAt;
  const from = start && start.getTime() > request.createdAt.getTime() ? `From ${formatInstant(start)}` : 'From approval';
  // With no end chosen, the policy decides: say what that will be.
  const until = request.schedule.expiresAt ? `until ${formatInstant(request.schedule.expiresAt)}` : `· ${describeExpiry(policy.lifecycle).replace(/^Access /, '')}`;
  const schedule = `${from} ${until}`;
  const kind = request.type === 'extend' ? 'extend' : 'access';
  // Later approvers see who already approved, and why.
  const earlier = request.stages
    .filter((s) => s.index < stageIndex && s.decision)
    .map((s) => {
      const d = s.decision!;
      const why = d.justification ? `: "${d.justification}"` : '';
      return `Step ${s.index + 1} approved by ${context.deciderNames?.get(d.approverId) ?? 'an approver'} on ${formatInstant(d.at)}${why}`;
    })
    .join('\n');
  return {
    template: 'approvalRequest',
    data: {
      requestId: request.id,
      stage: stageIndex,
      title: kind === 'extend' ? `Extend ${accessPackage.displayName}?` : `Access request: ${accessPackage.displayName}`,
      banner,
      requesterName: requester?.displayName ?? request.requesterId,
      requesterDetails: [requester?.jobTitle, requester?.department].filter(Boolean).join(' · '),
      packageName: accessPackage.displayName,
      grants: roles.join(', ') || 'nothing listed',
      policyName: policy.displayName,
      justification: request.justification ?? 'None given',
      answers: answersOf(context),
      schedule,
      stageText: stageCount > 1 ? `Stage ${stageIndex + 1} of ${stageCount}` : 'Single stage',
      earlier,
      timesOut: `Decide by ${formatInstant(deadline)}; after that the request is denied automatically.`,
      justificationRequired: policy.approval.stages[stageIndex]?.approverJustificationRequired ?? false,
      pending: outcome.kind === 'pending',
      outcome: text,
      outcomeColor: color,
    },
  };
}

export function requesterApproved(context: ApprovalContext, approverName: string, scheduled: boolean): OutgoingCard {
  const { request, accessPackage } = context;
  const then = scheduled && request.schedule.startAt ? `Your access starts on ${formatInstant(request.schedule.startAt)}.` : "Your access is being set up; you'll get a message when it's ready.";
  return notice(`Approved: ${accessPackage.displayName}`, `${approverName} approved your request ${request.id}. ${then}`, 'info', [{ title: 'My requests', verb: 'myRequests' }]);
}

export function requesterExtended(context: ApprovalContext, approverName: string): OutgoingCard {
  const { request, accessPackage } = context;
  const until = request.schedule.expiresAt ? `until ${formatInstant(request.schedule.expiresAt)}` : 'with no end date';
  return notice(`Extended: ${accessPackage.displayName}`, `${approverName} approved your extension (${request.id}). Your access now lasts ${until}.`, 'info', [{ title: 'My access', verb: 'myAccess' }]);
}

export function requesterStageApproved(context: ApprovalContext, approverName: string, nextStage: number): OutgoingCard {
  const stages = context.policy.approval.stages.length;
  return notice(
    `Step ${nextStage} of ${stages} approved: ${context.accessPackage.displayName}`,
    `${approverName} approved your request ${context.request.id}. It now goes to the next approver (step ${nextStage + 1} of ${stages}).`,
    'info',
    [{ title: 'My requests', verb: 'myRequests' }],
  );
}

export function requesterDenied(context: ApprovalContext, decision: Decision, approverName: string): OutgoingCard {
  const why = decision.justification ? ` Their reason: "${decision.justification}"` : ' They gave no reason.';
  return notice(`Denied: ${context.accessPackage.displayName}`, `${approverName} denied your request ${context.request.id}.${why}`, 'warning', [{ title: 'My requests', verb: 'myRequests' }]);
}

export function requesterTimedOut(context: ApprovalContext): OutgoingCard {
  return notice(
    `Timed out: ${context.accessPackage.displayName}`,
    `Nobody decided on your request ${context.request.id} in time, so it was denied automatically. You can request it again; consider telling the approvers first.`,
    'warning',
    [{ title: 'Browse packages', verb: 'packages' }],
  );
}

export function requesterNoApprover(context: ApprovalContext, stage: number): OutgoingCard {
  return notice(
    `Can't be approved: ${context.accessPackage.displayName}`,
    `Your request ${context.request.id} could not go to approval: step ${stage + 1} has no approver who can decide it. IT has been told; you can try again later.`,
    'error',
  );
}

export function approverReminder(context: ApprovalContext, deadline: Date): OutgoingCard {
  const name = context.requester?.displayName ?? 'Someone';
  return notice(
    `Reminder: ${name} is waiting for your decision`,
    `${name}'s request ${context.request.id} for "${context.accessPackage.displayName}" still needs a decision. Without one by ${formatInstant(deadline)} it is denied automatically. The card with Approve and Deny is further up in this chat.`,
    'info',
  );
}
