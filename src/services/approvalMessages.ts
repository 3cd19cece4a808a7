// What approvers and requesters are told about approvals, as card data (plain, formatted
// strings: it is queued as a task and rendered later by the bot layer).
// Names and reasons people typed are put in sentences with inlineText() (one line: a reason
// can't fake a line of the card); FactSet values, which Teams reads as markdown, go through
// literalText(); the justification and answers keep their lines in TextRuns (messages.ts).
import { describeExpiry, formatInstant } from '../domain/lifecycle';
import type { AccessPackage, AccessRequest, Catalog, Decision, Policy, RequestEndReason } from '../domain/model';
import type { DirectoryUser } from '../directory/port';
import { grantedRoles } from './describe';
import { inlineText, literalText, notice } from './messages';
import type { OutgoingCard } from './notifications';

export interface ApprovalContext {
  request: AccessRequest;
  accessPackage: AccessPackage;
  catalog: Catalog | null;
  policy: Policy;
  requester: DirectoryUser | null;
  /** The user the access is for, when someone else (an admin) asked: loaded only then. */
  target?: DirectoryUser | null;
  /** Names of the people who decided earlier stages, by object id. */
  deciderNames?: ReadonlyMap<string, string>;
}

export type ApprovalOutcome =
  | { kind: 'pending' }
  | { kind: 'decided'; decision: Decision; approverName: string }
  | { kind: 'timedOut' }
  | { kind: 'canceled'; byAdministrator?: boolean }
  /** The bot ended it: a rule checked again no longer held (nobody could grant it any more). */
  | { kind: 'ended'; endReason: RequestEndReason; personName: string };

/** An admin asked for someone else (adminAdd): the target hears the outcome too. */
export function onBehalf(context: ApprovalContext): boolean {
  return context.request.requesterId !== context.request.targetUserId;
}

/** A canceled request whose cancel came from someone else than the requester: an administrator (src/services/adminChanges.ts). */
export function canceledByAdministrator(request: AccessRequest): boolean {
  return request.state === 'canceled' && request.history[request.history.length - 1]?.actorId !== request.requesterId;
}

function targetName(context: ApprovalContext): string {
  return inlineText(context.target?.displayName ?? context.request.targetUserId);
}

/** A decision's reason inside one of our sentences: `: "reason"`, or nothing. */
function because(justification: string | undefined): string {
  return justification ? `: "${inlineText(justification)}"` : '';
}

/** " for Fred Jansen" when the requester asked for someone else; '' otherwise. */
function forWhom(context: ApprovalContext): string {
  return onBehalf(context) ? ` for ${targetName(context)}` : '';
}

export function trackKey(requestId: string, stage: number, approverId: string): string {
  return `approval:${requestId}:${stage}:${approverId}`;
}

function answersOf(context: ApprovalContext): { question: string; answer: string }[] {
  return context.request.answers.map((a) => ({
    question: inlineText(context.policy.questions.find((q) => q.id === a.questionId)?.text ?? a.questionId),
    // A TextRun: the answer keeps its lines and is never markdown.
    answer: Array.isArray(a.value) ? a.value.join(', ') : a.value,
  }));
}

function outcomeText(outcome: ApprovalOutcome): { text: string; color: string } {
  switch (outcome.kind) {
    case 'pending':
      return { text: '', color: 'Default' };
    case 'decided': {
      const verb = outcome.decision.decision === 'approve' ? 'Approved' : 'Denied';
      return { text: `${verb} by ${inlineText(outcome.approverName)} on ${formatInstant(outcome.decision.at)}${because(outcome.decision.justification)}`, color: outcome.decision.decision === 'approve' ? 'Good' : 'Attention' };
    }
    case 'timedOut':
      return { text: 'Timed out: nobody decided in time, so the request was denied automatically.', color: 'Warning' };
    case 'canceled':
      return { text: outcome.byAdministrator ? 'Canceled by an administrator.' : 'Canceled by the requester.', color: 'Default' };
    case 'ended':
      return { text: `Can't be granted any more: ${ruleReason(outcome.endReason, { name: outcome.personName })}. The request has ended, nothing was delivered, and the requester has been told.`, color: 'Attention' };
  }
}

/**
 * Why a rule checked again stopped a request, as a clause about the person it was for: "you
 * ..." to them, "Fred Jansen ..." to others.
 */
export function ruleReason(endReason: RequestEndReason, person: { you: true } | { name: string }): string {
  const you = 'you' in person;
  const who = you ? 'you' : person.name;
  const has = you ? 'have' : 'has';
  const is = you ? 'are' : 'is';
  const whose = you ? 'your' : `${person.name}'s`;
  const conflictName = endReason.conflict ? (endReason.conflict.displayName !== undefined ? `"${endReason.conflict.displayName}"` : `the ${endReason.conflict.kind} with id "${endReason.conflict.id}"`) : 'another package';
  switch (endReason.rule) {
    case 'separationOfDuties':
      return endReason.conflict?.kind === 'group'
        ? `${who} ${is} now a member of ${conflictName}, which is incompatible with this package (separation of duties)`
        : `${who} ${has} ${conflictName} (or asked for it first), which is incompatible with this package (separation of duties)`;
    case 'notEligible':
      return `its policy no longer includes ${you ? 'you' : 'them'} (for example, ${who} left the group it is for)`;
    case 'catalogDisabled':
      return 'its catalog has been closed for requests';
    case 'packageDisabled':
      return 'the package has been closed for new requests';
    case 'policyDisabled':
      return 'its policy has been closed for requests';
    case 'accountDisabled':
      return `${whose} account is disabled or no longer in the directory`;
    case 'externalUsersNotAllowed':
      return 'its catalog no longer accepts guest users';
  }
}

/** A short, neutral phrase for lists and states ("my requests", admin views). */
export function ruleSummary(endReason: RequestEndReason): string {
  const name = endReason.conflict ? `"${endReason.conflict.displayName ?? endReason.conflict.id}"` : 'other access';
  switch (endReason.rule) {
    case 'separationOfDuties':
      return endReason.conflict?.kind === 'group' ? `conflicts with membership of ${name} (separation of duties)` : `conflicts with ${name} (separation of duties)`;
    case 'notEligible':
      return 'its policy no longer includes the person it was for';
    case 'catalogDisabled':
      return 'its catalog was closed for requests';
    case 'packageDisabled':
      return 'the package was closed for new requests';
    case 'policyDisabled':
      return 'its policy was closed for requests';
    case 'accountDisabled':
      return 'the account is disabled or gone';
    case 'externalUsersNotAllowed':
      return 'its catalog no longer accepts guest users';
  }
}

/** Where the check happened, in words. */
function whenChecked(endReason: RequestEndReason): string {
  return endReason.checkedAt === 'approval' ? 'when it was approved' : 'just before delivery';
}

/** What a request the bot ended says to the person reading it: ended, why, what now. */
export interface EndedRequestInfo {
  request: AccessRequest;
  packageName: string;
  /** The person it was for, when someone else (an admin) asked. */
  targetName?: string;
}

/** To the requester: their request ended because a rule no longer holds. */
export function requestEndedByRule(info: EndedRequestInfo): OutgoingCard {
  const { request, packageName, targetName } = info;
  const endReason = request.endReason!;
  const reason = ruleReason(endReason, targetName !== undefined ? { name: targetName } : { you: true });
  const next = nextStep(endReason, targetName !== undefined);
  return notice(
    `Can't be granted: ${packageName}`,
    `Request ${request.id}${targetName !== undefined ? ` for ${targetName}` : ''} was checked again ${whenChecked(endReason)} and can no longer be granted: ${reason}. It has ended and nothing was delivered. ${next}`,
    'warning',
    [{ title: 'My requests', verb: 'myRequests' }],
  );
}

/** To the person an admin asked for. */
export function targetEndedByRule(info: EndedRequestInfo, adminName: string | undefined): OutgoingCard {
  const { request, packageName } = info;
  const endReason = request.endReason!;
  return notice(
    `Can't be granted: ${packageName}`,
    `The access ${adminName ?? 'an administrator'} asked for you (request ${request.id}) can no longer be granted: ${ruleReason(endReason, { you: true })}. It has ended and nothing was delivered. ${nextStep(endReason, false)}`,
    'warning',
    [{ title: 'My requests', verb: 'myRequests' }],
  );
}

/** The approver's banner when their click found the request could no longer be granted. */
export function approverEndedByRule(endReason: RequestEndReason, personName: string): string {
  return `Your approval was not recorded: this request can no longer be granted, because ${ruleReason(endReason, { name: personName })}. It has ended; the requester has been told.`;
}

function nextStep(endReason: RequestEndReason, forSomeoneElse: boolean): string {
  switch (endReason.rule) {
    case 'separationOfDuties':
      return forSomeoneElse ? 'Remove the conflicting access first if this one is really needed.' : 'If you need this one instead, give the other back first (my access), then request it again.';
    case 'notEligible':
      return 'Ask your manager or IT which package fits your role now.';
    case 'accountDisabled':
      return 'Ask IT to check the account.';
    default:
      return 'Ask IT if it is still needed.';
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
  // Who the access is for: job and department describe them, not an admin asking for them.
  const person = onBehalf(context) ? context.target : requester;
  // Later approvers see who already approved, and why: one line per step.
  const earlierSteps = request.stages
    .filter((s) => s.index < stageIndex && s.decision)
    .map((s) => {
      const d = s.decision!;
      return { text: `Step ${s.index + 1} approved by ${inlineText(context.deciderNames?.get(d.approverId) ?? 'an approver')} on ${formatInstant(d.at)}${because(d.justification)}` };
    });
  const packageName = inlineText(accessPackage.displayName);
  return {
    template: 'approvalRequest',
    data: {
      requestId: request.id,
      stage: stageIndex,
      title: kind === 'extend' ? `Extend ${packageName}?` : `Access request: ${packageName}`,
      banner,
      // "Ivan Petrov asks for Fred Jansen": approvers decide about the person who gets the access.
      requesterName: `${inlineText(requester?.displayName ?? request.requesterId)}${onBehalf(context) ? ` asks for ${targetName(context)}` : ''}`,
      requesterDetails: [person?.jobTitle, person?.department].map((part) => inlineText(part ?? '')).filter(Boolean).join(' · '),
      // FactSet values: markdown in Teams, so escaped.
      packageName: literalText(accessPackage.displayName),
      grants: literalText(roles.join(', ') || 'nothing listed'),
      policyName: literalText(policy.displayName),
      // A TextRun: the justification keeps its lines and is never markdown.
      justification: request.justification ?? 'None given',
      answers: answersOf(context),
      schedule: literalText(schedule),
      stageText: stageCount > 1 ? `Stage ${stageIndex + 1} of ${stageCount}` : 'Single stage',
      earlierSteps,
      timesOut: `Decide by ${formatInstant(deadline)}; after that the request is denied automatically.`,
      justificationRequired: policy.approval.stages[stageIndex]?.approverJustificationRequired ?? false,
      pending: outcome.kind === 'pending',
      outcome: text,
      outcomeColor: color,
    },
  };
}

export function requesterApproved(context: ApprovalContext, approverName: string, scheduled: boolean): OutgoingCard {
  const { request } = context;
  const packageName = inlineText(context.accessPackage.displayName);
  const then = onBehalf(context)
    ? scheduled && request.schedule.startAt
      ? `Their access starts on ${formatInstant(request.schedule.startAt)}.`
      : "Their access is being set up; they'll be told when it's ready."
    : scheduled && request.schedule.startAt
      ? `Your access starts on ${formatInstant(request.schedule.startAt)}.`
      : "Your access is being set up; you'll get a message when it's ready.";
  return notice(`Approved: ${packageName}`, `${inlineText(approverName)} approved your request ${request.id}${forWhom(context)}. ${then}`, 'info', [{ title: 'My requests', verb: 'myRequests' }]);
}

export function requesterExtended(context: ApprovalContext, approverName: string): OutgoingCard {
  const { request } = context;
  const until = request.schedule.expiresAt ? `until ${formatInstant(request.schedule.expiresAt)}` : 'with no end date';
  return notice(`Extended: ${inlineText(context.accessPackage.displayName)}`, `${inlineText(approverName)} approved your extension (${request.id}). Your access now lasts ${until}.`, 'info', [{ title: 'My access', verb: 'myAccess' }]);
}

export function requesterStageApproved(context: ApprovalContext, approverName: string, nextStage: number): OutgoingCard {
  const stages = context.policy.approval.stages.length;
  return notice(
    `Step ${nextStage} of ${stages} approved: ${inlineText(context.accessPackage.displayName)}`,
    `${inlineText(approverName)} approved your request ${context.request.id}${forWhom(context)}. It now goes to the next approver (step ${nextStage + 1} of ${stages}).`,
    'info',
    [{ title: 'My requests', verb: 'myRequests' }],
  );
}

export function requesterDenied(context: ApprovalContext, decision: Decision, approverName: string): OutgoingCard {
  const why = decision.justification ? ` Their reason: "${inlineText(decision.justification)}"` : ' They gave no reason.';
  return notice(`Denied: ${inlineText(context.accessPackage.displayName)}`, `${inlineText(approverName)} denied your request ${context.request.id}${forWhom(context)}.${why}`, 'warning', [{ title: 'My requests', verb: 'myRequests' }]);
}

export function requesterTimedOut(context: ApprovalContext): OutgoingCard {
  return notice(
    `Timed out: ${inlineText(context.accessPackage.displayName)}`,
    `Nobody decided on your request ${context.request.id}${forWhom(context)} in time, so it was denied automatically. You can request it again; consider telling the approvers first.`,
    'warning',
    [{ title: 'Browse packages', verb: 'packages' }],
  );
}

export function requesterNoApprover(context: ApprovalContext, stage: number): OutgoingCard {
  return notice(
    `Can't be approved: ${inlineText(context.accessPackage.displayName)}`,
    `Your request ${context.request.id}${forWhom(context)} could not go to approval: step ${stage + 1} has no approver who can decide it. IT has been told; you can try again later.`,
    'error',
  );
}

export function approverReminder(context: ApprovalContext, deadline: Date): OutgoingCard {
  const name = inlineText(context.requester?.displayName ?? 'Someone');
  return notice(
    `Reminder: ${name} is waiting for your decision`,
    `${name}'s request ${context.request.id} for "${inlineText(context.accessPackage.displayName)}" still needs a decision. Without one by ${formatInstant(deadline)} it is denied automatically. The card with Approve and Deny is further up in this chat.`,
    'info',
  );
}

/** What the user an admin asked for hears when approval ends (the admin, as requester, hears it too). */
export function targetOutcome(context: ApprovalContext, outcome: { kind: 'approved'; approverName: string; scheduled: boolean } | { kind: 'denied'; approverName: string; decision: Decision } | { kind: 'timedOut' | 'noApprover' }): OutgoingCard {
  const { request } = context;
  const name = inlineText(context.accessPackage.displayName);
  const asked = `the access ${inlineText(context.requester?.displayName ?? 'an administrator')} asked for you (request ${request.id})`;
  switch (outcome.kind) {
    case 'approved': {
      const then = outcome.scheduled && request.schedule.startAt ? `Your access starts on ${formatInstant(request.schedule.startAt)}.` : "You'll get a message when your access is ready.";
      return notice(`Approved: ${name}`, `${inlineText(outcome.approverName)} approved ${asked}. ${then}`, 'info', [{ title: 'My requests', verb: 'myRequests' }]);
    }
    case 'denied': {
      const why = outcome.decision.justification ? ` Their reason: "${inlineText(outcome.decision.justification)}"` : '';
      return notice(`Denied: ${name}`, `${inlineText(outcome.approverName)} denied ${asked}.${why}`, 'warning', [{ title: 'My requests', verb: 'myRequests' }]);
    }
    case 'timedOut':
      return notice(`Not approved: ${name}`, `Nobody decided on ${asked} in time, so it was denied automatically.`, 'warning', [{ title: 'My requests', verb: 'myRequests' }]);
    case 'noApprover':
      return notice(`Can't be approved: ${name}`, `${capitalised(asked)} could not go to approval: no approver can decide it. IT has been told.`, 'error');
  }
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
