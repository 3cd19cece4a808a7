// View models: the data each card template binds to. Pure functions of domain values.
// Every field a template binds is always present (templating leaves unknown fields as "${x}").
// Text people typed, names and directory text: templates show it in TextRuns (never markdown);
// where it goes into a FactSet (markdown in Teams) the view model passes it through
// literalText(), and inside one of our sentences through inlineText() (src/services/messages.ts).
import { clientPattern } from '../domain/answerPattern';
import { formatDate, formatInstant } from '../domain/lifecycle';
import type { Question } from '../domain/model';
import type { PackageDetails, PackageStatus, PackageSummary } from '../services/catalogBrowser';
import type { AccessSummary } from '../services/access';
import { inlineText, literalText } from '../services/messages';
import type { Refusal } from '../services/outcome';
import type { RequestSummary } from '../services/requests';
import type { ChatCommand } from './commands';

export interface CommandLine {
  usage: string;
  description: string;
}

export function commandLines(commands: readonly ChatCommand[], isAdmin: boolean): CommandLine[] {
  return commands.filter((c) => isAdmin || !c.adminOnly).map(({ usage, description }) => ({ usage, description }));
}

export function helpCard(commands: readonly ChatCommand[], isAdmin: boolean) {
  const visible = commands.filter((c) => isAdmin || !c.adminOnly);
  return {
    intro: 'Request the access you need, follow your requests, and manage what you have — all from this chat.',
    commands: commandLines(visible, isAdmin),
    buttons: visible.filter((c) => c.buttonVerb).map((c) => ({ title: c.buttonTitle ?? c.name, verb: c.buttonVerb })),
    footer: 'Type a command, or use the buttons below.',
  };
}

/** Echoed user text, on one line (inlineText) and cut short so a pasted essay can't blow up the card. */
export function quoteUserText(text: string, max = 80): string {
  const single = inlineText(text);
  return single.length > max ? `${single.slice(0, max - 1)}…` : single;
}

export function unknownCommandCard(text: string, commands: readonly ChatCommand[], isAdmin: boolean, suggestion?: string) {
  return { text: quoteUserText(text), suggestion: suggestion ?? '', commands: commandLines(commands, isAdmin) };
}

export interface Button {
  title: string;
  verb: string;
  id?: string;
}

export function noticeCard(title: string, message: string, tone: 'info' | 'warning' | 'error' = 'info', buttons: Button[] = []) {
  return { title, message, tone, buttons: buttons.map((b) => ({ id: '', ...b })) };
}

const STATUS_TEXT: Record<PackageStatus, string> = {
  available: '',
  assigned: '✓ You have this',
  pending: '⏳ You have asked for this',
};

export function packageListCard(result: { items: PackageSummary[]; total: number; page: number; pageCount: number; text: string }) {
  const { items, total, page, pageCount, text } = result;
  const pager: { title: string; page: number; text: string }[] = [];
  if (page > 0) pager.push({ title: '◀ Previous', page: page - 1, text });
  if (page < pageCount - 1) pager.push({ title: 'Next ▶', page: page + 1, text });
  const count = `${total} package${total === 1 ? '' : 's'}${text ? ` matching "${quoteUserText(text, 40)}"` : ''}`;
  const pages = pageCount > 1 ? ` · page ${page + 1} of ${pageCount}` : '';
  return {
    text,
    summary: total === 0 ? ' ' : `${count}${pages}`,
    items: items.map((item) => ({ ...item, statusText: STATUS_TEXT[item.status] })),
    emptyText: text
      ? `Nothing matches "${quoteUserText(text, 40)}". Try another word, or clear the search.`
      : "There are no access packages you can request right now. If you need access, ask your manager or IT which package fits your role.",
    pager,
  };
}

/**
 * A Teams deep link that opens the chat with the bot with "request <id>" typed in: how a hidden
 * package is shared. Needs the bot's app id, so there is none when auth is disabled locally.
 */
export function packageDeepLink(botAppId: string, packageId: string): string {
  if (!botAppId) return '';
  return `https://teams.microsoft.com/l/chat/0/0?users=28:${encodeURIComponent(botAppId)}&message=${encodeURIComponent(`request ${packageId}`)}`;
}

export function packageDetailsCard(details: PackageDetails, botAppId = '') {
  const { accessPackage, status } = details;
  const statusText =
    status === 'assigned'
      ? `You have this access${details.expiresAt ? ` until ${formatInstant(details.expiresAt)}` : ''}.`
      : status === 'pending'
        ? `You have already asked for this (request ${details.pendingRequestId}).`
        : '';
  const several = details.offers.length > 1;
  return {
    displayName: accessPackage.displayName,
    description: accessPackage.description || ' ',
    catalogName: details.catalogName,
    // FactSet: markdown in Teams.
    roles: details.roles.map((r) => ({ resource: literalText(r.resource), role: literalText(r.role), kind: literalText(r.kind) })),
    statusText,
    offers: details.offers.map((offer) => ({
      id: offer.id,
      packageId: accessPackage.id,
      heading: several ? `Policy: ${offer.displayName}` : 'How to get it',
      // Admin-authored (the catalog file): may use markdown, like the package's description.
      description: offer.description,
      approval: literalText(offer.approval),
      expiry: literalText(offer.expiry),
      justification: offer.justificationRequired ? 'Required' : 'Optional',
      canRequest: status === 'available',
      buttonTitle: several ? `Request via ${offer.displayName}` : 'Request access',
    })),
    followUp: status === 'assigned' ? [{ title: 'My access', verb: 'myAccess' }] : status === 'pending' ? [{ title: 'My requests', verb: 'myRequests' }] : [],
    // Our markdown (a link and bold); the id inside it is escaped.
    shareText: botAppId
      ? `Share this package: [link](${packageDeepLink(botAppId, accessPackage.id)}), or tell people to type **request ${literalText(accessPackage.id)}**.`
      : `Others can open it by typing **request ${literalText(accessPackage.id)}**.`,
  };
}

export const ANSWER_PREFIX = 'answer:';

export interface FormState {
  values?: Record<string, unknown>;
  refusal?: Refusal;
}

/** A form's questions as the request and assign forms bind them, with typed answers and errors kept. */
export function questionInputs(questions: readonly Question[], values: Record<string, unknown>, refusal: Refusal | undefined) {
  return questions.map((question) => ({
    inputId: `${ANSWER_PREFIX}${question.id}`,
    text: question.required ? `${question.text} (required)` : question.text,
    type: question.type,
    required: question.required,
    allowsMultipleSelections: question.allowsMultipleSelections,
    maxLength: question.maxLength,
    errorMessage: question.regexMessage ?? 'Please answer this question.',
    // The client checks the format before sending where its JavaScript engine reads the pattern
    // as the server does ('' = no client check); the server checks again either way. The
    // admin's regexMessage says what a good answer looks like, so it is the placeholder too.
    clientRegex: (question.regex !== undefined && clientPattern(question.regex)) || '',
    placeholder: question.regexMessage ?? '',
    choices: question.choices,
    answer: textValue(values[`${ANSWER_PREFIX}${question.id}`]),
    error: fieldError(refusal, `answers.${question.id}`),
  }));
}

/** The messages of a refusal's errors on these fields, for the text under an input. */
export function fieldError(refusal: Refusal | undefined, ...fields: string[]): string {
  return refusal?.fieldErrors?.filter((e) => fields.includes(e.field)).map((e) => e.message).join(' ') ?? '';
}

/** A submitted input's value as text (multi-select choices arrive as arrays). */
export function textValue(value: unknown): string {
  return typeof value === 'string' ? value : Array.isArray(value) ? value.filter((v) => typeof v === 'string').join(',') : '';
}

/** YYYY-MM-DD, what Input.Date takes. */
export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function requestFormCard(details: PackageDetails, policyId: string, now: Date, state: FormState = {}) {
  const offer = details.offers.find((o) => o.id === policyId)!;
  const values = state.values ?? {};
  const refusal = state.refusal;
  const fieldErrors = refusal?.fieldErrors ?? [];
  const unplaced = fieldErrors.filter((e) => e.field === 'answers' || e.field === 'schedule');
  return {
    packageName: details.accessPackage.displayName,
    packageId: details.accessPackage.id,
    policyId: offer.id,
    terms: `${offer.approval} ${offer.expiry}.`,
    errorSummary: refusal ? [refusal.message, ...unplaced.map((e) => e.message)].join(' ') : '',
    justificationLabel: offer.justificationRequired ? 'Justification (required)' : 'Justification (optional)',
    justificationRequired: offer.justificationRequired,
    justification: textValue(values.justification),
    justificationError: fieldError(refusal, 'justification'),
    questions: questionInputs(offer.questions, values, refusal),
    canChooseSchedule: offer.canChooseSchedule,
    today: isoDate(now),
    latestEndDate: offer.latestEnd ? isoDate(offer.latestEnd) : '',
    startDate: textValue(values.startDate),
    endDate: textValue(values.endDate),
    scheduleHint: offer.latestEnd ? `Leave empty to start now. Access can last until ${formatDate(offer.latestEnd)} at the latest.` : 'Leave empty to start now.',
    scheduleError: fieldError(refusal, 'startDate', 'endDate'),
  };
}

export function requestSubmittedCard(input: { requestId: string; packageName: string; sentAt: Date; needsApproval: boolean; state: string; approval: string }) {
  const nextSteps = input.needsApproval
    ? `${input.approval} You'll get a message here when it's decided, and again when your access is ready. You can cancel it while it waits.`
    : input.state === 'scheduled'
      ? "No approval is needed. Your access will be set up when it starts; you'll get a message here."
      : "No approval is needed. Your access is being set up now; you'll get a message here when it's ready.";
  return {
    title: input.needsApproval ? 'Request sent for approval' : 'Request accepted',
    // FactSet values: markdown in Teams.
    packageName: literalText(input.packageName),
    requestId: literalText(input.requestId),
    sentAt: literalText(formatInstant(input.sentAt)),
    nextSteps,
  };
}

const STATE_COLOR: Record<string, string> = {
  delivered: 'Good',
  denied: 'Attention',
  deliveryFailed: 'Attention',
  timedOut: 'Warning',
  partiallyDelivered: 'Warning',
};

const TYPE_PREFIX: Record<string, string> = { add: '', adminAdd: '', extend: 'Extend: ', remove: 'Remove: ', adminRemove: 'Removed by IT: ' };

export function myRequestsCard(items: RequestSummary[], notice = '') {
  return {
    notice,
    items: items.map((r) => ({
      id: r.id,
      title: `${TYPE_PREFIX[r.type] ?? ''}${r.packageName}`,
      // Says why it was denied in the approver's words: on one line, as all of our lines are.
      stateText: inlineText(r.stateText),
      color: STATE_COLOR[r.state] ?? 'Default',
      meta: `${r.id} · sent ${formatInstant(r.createdAt)}`,
      canCancel: r.canCancel,
    })),
  };
}

export function myAccessCard(items: AccessSummary[], notice = '') {
  return {
    notice,
    items: items.map((a) => ({
      assignmentId: a.assignmentId,
      packageName: a.packageName,
      period: `Since ${formatInstant(a.startAt)}${a.expiresAt ? ` · ends ${formatInstant(a.expiresAt)}` : ' · no end date'}${a.state === 'delivering' ? ' · being set up' : a.state === 'partiallyDelivered' ? ' · partly set up' : a.state === 'deliveryFailed' ? ' · setup failed, IT has been told' : ''}`,
      rolesText: rolesText(a),
      note: a.removalPending ? 'Removal in progress.' : (a.extendNote ?? ''),
      canExtend: a.canExtend && !a.removalPending,
      // Extend opens a reason box when the approvers decide (as on the expiry warning).
      askJustification: a.extendRequiresApproval,
      extendText: `Extending asks the approvers to keep it${a.extendUntil ? ` until ${formatInstant(a.extendUntil)}` : ''}.`,
      // Input ids are unique per card, so each item's box is named after its assignment.
      justificationId: justificationInputId(a.assignmentId),
      justificationRequired: a.extendJustificationRequired,
      justificationLabel: a.extendJustificationRequired ? 'Why do you need it longer? (required)' : 'Why do you need it longer? (optional)',
      canRemove: !a.removalPending,
    })),
  };
}

/** The id of the reason box next to an item's Extend button in My access. */
export function justificationInputId(assignmentId: string): string {
  return `justification:${assignmentId}`;
}

export function rolesText(a: Pick<AccessSummary, 'roles'>): string {
  return a.roles.map((r) => `${r.resource} (${r.role})`).join(', ') || 'no resources';
}

export function confirmRemoveCard(a: AccessSummary) {
  return { packageName: a.packageName, assignmentId: a.assignmentId, rolesText: rolesText(a) };
}
