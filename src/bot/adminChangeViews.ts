// View models of the admin change cards (assign, and reports such as apply's). Pure functions
// of service results; every field a template binds is always present. Text people typed and
// names: TextRuns in the templates, literalText() in FactSets, inlineText() in our sentences.
import { formatDate, formatInstant } from '../domain/lifecycle';
import type { AssignForm, AssignPolicyOption, AssignResult } from '../services/adminAssignments';
import { inlineText, literalText } from '../services/messages';
import type { Refusal } from '../services/outcome';
import { type Button, fieldError, type FormState, isoDate, questionInputs, quoteUserText, textValue } from './views';

/** Step 1 when a package has several policies: which one to assign through. */
export function assignChooseCard(form: AssignForm) {
  return {
    packageName: form.packageName,
    packageId: form.packageId,
    policies: form.policies.map((p) => ({
      id: p.id,
      packageId: form.packageId,
      displayName: p.displayName,
      // Admin-authored (the catalog file): may use markdown.
      description: p.description,
      // FactSet values: markdown in Teams (group and user names in them come from the directory).
      audience: literalText(p.audience),
      approval: literalText(p.approval),
      expiry: literalText(p.expiry),
      buttonTitle: `Assign via ${p.displayName}`,
    })),
  };
}

/** The assign form for one policy; with `state`, shown again with the values kept and each problem next to its field. */
export function assignFormCard(form: AssignForm, policy: AssignPolicyOption, now: Date, state: FormState = {}) {
  const values = state.values ?? {};
  const refusal = state.refusal;
  const unplaced = (refusal?.fieldErrors ?? []).filter((e) => e.field === 'answers' || e.field === 'schedule');
  return {
    packageName: form.packageName,
    packageId: form.packageId,
    policyId: policy.id,
    policyName: policy.displayName,
    terms: `${policy.audience}. ${policy.approval} ${policy.expiry}.`,
    canChangePolicy: form.policies.length > 1,
    errorSummary: refusal ? [refusal.message, ...unplaced.map((e) => e.message)].join(' ') : '',
    user: textValue(values.user),
    userError: fieldError(refusal, 'user'),
    approvalRequired: policy.approvalRequired,
    skipApproval: values.skipApproval === true || values.skipApproval === 'true' ? 'true' : 'false',
    justificationLabel: policy.justificationRequired ? 'Justification (required)' : policy.approvalRequired ? 'Justification (required to skip approval)' : 'Justification (optional)',
    justificationRequired: policy.justificationRequired,
    justification: textValue(values.justification),
    justificationError: fieldError(refusal, 'justification'),
    questions: questionInputs(policy.questions, values, refusal),
    today: isoDate(now),
    latestEndDate: policy.latestEnd ? isoDate(policy.latestEnd) : '',
    startDate: textValue(values.startDate),
    endDate: textValue(values.endDate),
    scheduleHint: policy.latestEnd
      ? `Leave both empty to start now and end when the policy says. Access can last until ${formatDate(policy.latestEnd)} at the latest.`
      : 'Leave both empty to start now; without an end date the access lasts until removed.',
    scheduleError: fieldError(refusal, 'startDate', 'endDate'),
  };
}

/** The answer to a successful assign: what happens next, and who hears it. */
export function assignedNotice(result: AssignResult): { title: string; message: string } {
  const { request } = result;
  const packageName = inlineText(result.packageName);
  const userName = inlineText(result.userName);
  const starts = request.state === 'scheduled' && request.schedule.startAt ? `Access starts on ${formatInstant(request.schedule.startAt)}` : 'Access is being set up now';
  if (request.state === 'pendingApproval') {
    return {
      title: `Sent for approval: ${packageName} for ${userName}`,
      message: `Request ${request.id}. ${result.approval} You and ${userName} will hear the outcome.`,
    };
  }
  const approval = result.bypassedApproval ? 'Approval skipped; your justification is in the audit log.' : 'No approval needed.';
  return { title: `Assigned: ${packageName} to ${userName}`, message: `Request ${request.id}. ${approval} ${starts}; ${userName} will be told when it's ready.` };
}

/** A titled list of lines (apply's report, a file's errors). */
export function reportCard(title: string, summary: string, lines: string[], tone: 'info' | 'warning' | 'error' = 'info', buttons: Button[] = []) {
  return {
    title,
    summary,
    tone,
    lines: lines.map((text) => ({ text, color: /^(warning|error)\b/.test(text) ? 'Warning' : /^note\b/.test(text) ? 'Accent' : 'Default' })),
    buttons: buttons.map((b) => ({ id: '', ...b })),
  };
}

/** The problems of a refused file, one line each. */
export function refusalLines(refusal: Refusal): string[] {
  return (refusal.fieldErrors ?? []).map((e) => quoteUserText(e.message, 400));
}
