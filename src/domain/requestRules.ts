// Validates an employee's request form against the chosen policy (DESIGN.md §3 questions,
// lifecycle; §6 "bad input gets a clear, specific message and changes nothing").
//
// Every value comes from Adaptive Card data and is untrusted: anything that is not what the
// card could have sent (numbers, objects such as {"$gt": ""}, arrays where not allowed,
// answers to questions the policy doesn't ask) is an error, never coerced. All field errors
// are returned at once so the user can fix the form in one go.

import { matchesWholeAnswer } from './answerPattern';
import { formatDate, maximumExpiry, resolveExpiry } from './lifecycle';
import type { Lifecycle, Policy, Question } from './model';

export const DEFAULT_JUSTIFICATION_MAX_LENGTH = 1000;

export interface FieldError {
  /** "justification", "answers", "answers.<questionId>", "schedule", "startDate" or "endDate". */
  field: string;
  message: string;
}

export interface SubmittedAnswer {
  questionId: string;
  value: string | string[];
}

export interface SubmissionInput {
  policy: Policy;
  justification: unknown;
  answers: Record<string, unknown>;
  schedule: { startDate?: unknown; endDate?: unknown };
  now: Date;
  limits?: { justificationMaxLength: number };
}

export interface ValidSubmission {
  justification?: string;
  /** In the policy's question order; unanswered optional questions are left out. */
  answers: SubmittedAnswer[];
  /**
   * startAt is always set (now when no start was chosen). expiresAt is set only when the
   * requester chose an end date: otherwise the expiry is computed at delivery with
   * maximumExpiry(policy.lifecycle, actualStart), because Entra counts a policy's duration
   * from when access is granted, not from when it was requested.
   */
  schedule: { startAt: Date; expiresAt?: Date };
}

export type SubmissionResult = { ok: true; value: ValidSubmission } | { ok: false; errors: FieldError[] };

type Report = (field: string, message: string) => void;

/** A card value read as text: absent (missing, null, blank), trimmed text, or something else. */
type TextValue = { kind: 'absent' } | { kind: 'text'; value: string } | { kind: 'notText' };

const MS_PER_DAY = 24 * 60 * 60 * 1000;
const DATE_INPUT = /^(\d{4})-(\d{2})-(\d{2})$/;

export function validateSubmission(input: SubmissionInput): SubmissionResult {
  const errors: FieldError[] = [];
  const report: Report = (field, message) => errors.push({ field, message });
  const maxLength = input.limits?.justificationMaxLength ?? DEFAULT_JUSTIFICATION_MAX_LENGTH;

  const justification = checkJustification(input.justification, input.policy, maxLength, report);
  const answers = checkAnswers(input.policy.questions, input.answers, report);
  const schedule = checkSchedule(input.policy.lifecycle, input.schedule, input.now, report);

  if (errors.length > 0 || schedule === undefined) return { ok: false, errors };
  return { ok: true, value: { ...(justification === undefined ? {} : { justification }), answers, schedule } };
}

// ---------------------------------------------------------------------------------------
// Justification

function checkJustification(raw: unknown, policy: Policy, maxLength: number, report: Report): string | undefined {
  const text = readText(raw);
  if (text.kind === 'notText') {
    report('justification', 'The justification must be text.');
    return undefined;
  }
  if (text.kind === 'absent') {
    // The flag counts on its own: an admin may want a reason on record even without approval.
    if (policy.approval.requestorJustificationRequired) {
      report('justification', 'A justification is required: say why you need this access.');
    }
    return undefined;
  }
  const length = characterCount(text.value);
  if (length > maxLength) {
    report('justification', `Your justification can be at most ${maxLength} characters; yours has ${length}.`);
    return undefined;
  }
  return text.value;
}

// ---------------------------------------------------------------------------------------
// Questions

function checkAnswers(questions: Question[], answers: unknown, report: Report): SubmittedAnswer[] {
  if (!isPlainRecord(answers)) {
    report('answers', "The form's answers couldn't be read. Reload the card and try again.");
    return [];
  }
  const known = new Set(questions.map((question) => question.id));
  // A key the policy doesn't ask about means a stale or tampered card; reported once, without
  // echoing the keys, which are attacker-controlled.
  if (Object.keys(answers).some((key) => !known.has(key))) {
    report('answers', "The form included answers to questions this package doesn't ask. Reload the card and try again.");
  }
  const result: SubmittedAnswer[] = [];
  for (const question of questions) {
    const value = checkAnswer(question, ownValue(answers, question.id), (message) => report(`answers.${question.id}`, message));
    if (value !== undefined) result.push({ questionId: question.id, value });
  }
  return result;
}

/** The normalised answer, or undefined when unanswered or invalid (then reported). */
function checkAnswer(question: Question, raw: unknown, report: (message: string) => void): string | string[] | undefined {
  const outcome =
    question.type === 'choice'
      ? question.allowsMultipleSelections
        ? readMultipleChoice(question, raw)
        : readSingleChoice(question, raw)
      : readTextAnswer(question, raw);
  if (outcome.kind === 'error') {
    report(outcome.message);
    return undefined;
  }
  if (outcome.kind === 'absent') {
    if (question.required) report(`An answer to ${quoted(question.text)} is required.`);
    return undefined;
  }
  return outcome.value;
}

type AnswerOutcome<T> = { kind: 'absent' } | { kind: 'value'; value: T } | { kind: 'error'; message: string };

function readTextAnswer(question: Question, raw: unknown): AnswerOutcome<string> {
  const text = readText(raw);
  if (text.kind === 'notText') return notTextError(question);
  if (text.kind === 'absent') return text;
  const length = characterCount(text.value);
  // Length first: the regex's time is bounded for answers up to maxLength (answerPattern.ts).
  if (length > question.maxLength) {
    return { kind: 'error', message: `The answer to ${quoted(question.text)} can be at most ${question.maxLength} characters; yours has ${length}.` };
  }
  if (question.regex !== undefined) {
    const matches = matchesWholeAnswer(question.regex, text.value);
    if (matches === null) {
      // The catalog validates regexes, so this is a broken deployment (or a pattern stored
      // before RE2 was required): fail closed.
      return { kind: 'error', message: `The answer to ${quoted(question.text)} can't be checked because the question is set up wrongly. Ask IT to fix it.` };
    }
    if (!matches) {
      return { kind: 'error', message: question.regexMessage ?? `The answer to ${quoted(question.text)} isn't in the expected format.` };
    }
  }
  return { kind: 'value', value: text.value };
}

function readSingleChoice(question: Question, raw: unknown): AnswerOutcome<string> {
  const text = readText(raw);
  if (text.kind === 'notText') return notTextError(question);
  if (text.kind === 'absent') return text;
  const valid = choiceValues(question);
  if (valid.has(text.value)) return { kind: 'value', value: text.value };
  const parts = splitSelection(text.value);
  if (parts.length > 1 && parts.every((part) => valid.has(part))) {
    return { kind: 'error', message: `Choose only one answer for ${quoted(question.text)}.` };
  }
  return invalidChoice(question);
}

/**
 * Adaptive Cards send a multi-select Input.ChoiceSet as one comma-separated string; an array is
 * accepted too. Duplicates are dropped, order kept.
 */
function readMultipleChoice(question: Question, raw: unknown): AnswerOutcome<string[]> {
  const valid = choiceValues(question);
  let selected: string[];
  if (typeof raw === 'string') {
    const whole = raw.trim();
    // A single choice whose value itself contains a comma must not be split apart.
    selected = valid.has(whole) ? [whole] : splitSelection(whole);
  } else if (Array.isArray(raw)) {
    if (!raw.every((item): item is string => typeof item === 'string')) return notTextError(question);
    selected = raw.map((item) => item.trim()).filter((item) => item !== '');
  } else if (raw === undefined || raw === null) {
    selected = [];
  } else {
    return notTextError(question);
  }
  const distinct = [...new Set(selected)];
  if (distinct.length === 0) return { kind: 'absent' };
  if (!distinct.every((value) => valid.has(value))) return invalidChoice(question);
  return { kind: 'value', value: distinct };
}

function choiceValues(question: Question): Set<string> {
  return new Set(question.choices.map((choice) => choice.value));
}

function splitSelection(text: string): string[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

// Choice values entered by the user are never echoed: they may be hostile or huge.
function invalidChoice(question: Question): AnswerOutcome<never> {
  return { kind: 'error', message: `Choose from the offered answers for ${quoted(question.text)}.` };
}

function notTextError(question: Question): AnswerOutcome<never> {
  return { kind: 'error', message: `The answer to ${quoted(question.text)} must be text.` };
}

// ---------------------------------------------------------------------------------------
// Schedule

function checkSchedule(
  lifecycle: Lifecycle,
  raw: unknown,
  now: Date,
  report: Report,
): { startAt: Date; expiresAt?: Date } | undefined {
  if (!isPlainRecord(raw)) {
    report('schedule', "The form's dates couldn't be read. Reload the card and try again.");
    return undefined;
  }
  const startRaw = ownValue(raw, 'startDate');
  const endRaw = ownValue(raw, 'endDate');
  if (!lifecycle.requestorCanChooseSchedule) {
    if (readText(startRaw).kind !== 'absent' || readText(endRaw).kind !== 'absent') {
      report('schedule', "This package doesn't let you choose dates: access starts when it's granted and lasts as long as the package allows.");
      return undefined;
    }
    return checkPolicyStillGrants(lifecycle, now, report) ? { startAt: new Date(now.getTime()) } : undefined;
  }
  return checkChosenSchedule(lifecycle, startRaw, endRaw, now, report);
}

/** An onDate policy whose date has passed can't grant anything, whatever the form says. */
function checkPolicyStillGrants(lifecycle: Lifecycle, now: Date, report: Report): boolean {
  const resolution = resolveExpiry(lifecycle, now);
  if (!resolution.ok) report('schedule', resolution.message);
  return resolution.ok;
}

function checkChosenSchedule(
  lifecycle: Lifecycle,
  startRaw: unknown,
  endRaw: unknown,
  now: Date,
  report: Report,
): { startAt: Date; expiresAt?: Date } | undefined {
  const today = startOfUtcDay(now);
  const startDay = readDateInput(startRaw, 'start date', (message) => report('startDate', message));
  const endDay = readDateInput(endRaw, 'end date', (message) => report('endDate', message));
  if (startDay === null || endDay === null) return undefined;

  if (startDay !== undefined && startDay.getTime() < today.getTime()) {
    report('startDate', "The start date can't be in the past.");
    return undefined;
  }
  // A start of today means now: access can't begin at a midnight that has already passed.
  const startAt = startDay === undefined || startDay.getTime() === today.getTime() ? new Date(now.getTime()) : startDay;

  if (!checkStartBeforePolicyEnd(lifecycle, startAt, now, report)) return undefined;
  if (endDay === undefined) return { startAt };

  const endAt = new Date(endDay.getTime() + MS_PER_DAY - 1);
  if (endAt.getTime() <= startAt.getTime()) {
    report('endDate', startDay === undefined ? "The end date can't be in the past." : "The end date can't be before the start date.");
    return undefined;
  }
  const resolution = resolveExpiry(lifecycle, startAt, capToLastAllowedDay(lifecycle, startAt, endDay, endAt));
  if (!resolution.ok) {
    report('endDate', resolution.message);
    return undefined;
  }
  return resolution.expiresAt === undefined ? { startAt } : { startAt, expiresAt: resolution.expiresAt };
}

/** For onDate policies: the chosen start must come before the date access ends for everyone. */
function checkStartBeforePolicyEnd(lifecycle: Lifecycle, startAt: Date, now: Date, report: Report): boolean {
  const expiration = lifecycle.expiration;
  if (expiration.type !== 'onDate' || expiration.date.getTime() > startAt.getTime()) return true;
  if (expiration.date.getTime() > now.getTime()) {
    report('startDate', `The start date must be before ${formatDate(expiration.date)}, when this package's access ends.`);
    return false;
  }
  return checkPolicyStillGrants(lifecycle, now, report);
}

/**
 * Choosing the very day the policy's maximum falls on is accepted and capped at that maximum:
 * a date picker offers days, and "90 days from 10:00" ends at 10:00, before that day's end.
 */
function capToLastAllowedDay(lifecycle: Lifecycle, startAt: Date, endDay: Date, endAt: Date): Date {
  const maximum = maximumExpiry(lifecycle, startAt);
  if (maximum === undefined || endAt.getTime() <= maximum.getTime()) return endAt;
  return startOfUtcDay(maximum).getTime() === endDay.getTime() ? maximum : endAt;
}

/**
 * An Input.Date value ("YYYY-MM-DD") as 00:00 UTC that day. undefined when absent; null when
 * invalid (then reported).
 */
function readDateInput(raw: unknown, label: string, report: (message: string) => void): Date | undefined | null {
  const text = readText(raw);
  if (text.kind === 'absent') return undefined;
  if (text.kind === 'notText') {
    report(`The ${label} must be text in the form YYYY-MM-DD.`);
    return null;
  }
  const date = parseCalendarDay(text.value);
  if (date === undefined) report(`The ${label} isn't a valid date: use the form YYYY-MM-DD.`);
  return date ?? null;
}

function parseCalendarDay(text: string): Date | undefined {
  const match = DATE_INPUT.exec(text);
  if (!match) return undefined;
  const date = new Date(`${text}T00:00:00.000Z`);
  // Round-trip check: rejects 2026-02-30 and 2026-13-01 however the engine parses them.
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text) return undefined;
  return date;
}

function startOfUtcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

// ---------------------------------------------------------------------------------------
// Untrusted values

function readText(raw: unknown): TextValue {
  // Cards omit empty inputs or send "" (or null through some clients): all mean "no answer".
  if (raw === undefined || raw === null) return { kind: 'absent' };
  if (typeof raw !== 'string') return { kind: 'notText' };
  const value = raw.trim();
  return value === '' ? { kind: 'absent' } : { kind: 'text', value };
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own properties only: a question id such as "constructor" must not read Object.prototype. */
function ownValue(record: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** Length in characters as people count them (code points), so an emoji counts once. */
function characterCount(text: string): number {
  return Array.from(text).length;
}

function quoted(text: string): string {
  return `"${text}"`;
}
