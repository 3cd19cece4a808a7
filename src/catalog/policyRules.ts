// The rules of one assignment policy (requestors, approval stages and approvers, questions,
// lifecycle, durations and dates) and its conversion into the domain Policy with every
// default applied. Pure: data in, data out.

import { compareDurations } from '../domain/duration';
import type {
  AllowedRequestors,
  ApprovalSettings,
  ApprovalStage,
  ApproverRef,
  Expiration,
  Lifecycle,
  Policy,
  Question,
} from '../domain/model';
import { checkNoRepeats, type Parsed, type Path, type Report } from './errors';
import { dateProblem, durationProblem, parseDateText, regexProblem } from './formats';
import type { AllowedRequestorsInput, ApprovalInput, LifecycleInput, PolicyInput, QuestionInput, StageInput } from './schema';

/** A policy after schema validation: its own fields and each section, where they parsed. */
export interface ParsedPolicy {
  path: Path;
  raw: unknown;
  fields?: PolicyInput;
  allowedRequestors?: AllowedRequestorsInput;
  approval?: ApprovalInput;
  questions: Parsed<QuestionInput>[];
  lifecycle?: LifecycleInput;
}

// A free-text answer longer than this is refused. Long text gets more room (Entra's own
// questions have no documented limit; these keep approval cards readable). Choice answers
// are bounded by their choices; the number is there because every question has one.
const DEFAULT_MAX_LENGTH = { text: 1000, longText: 4000, choice: 1000 } as const;

/** The domain Policy, or undefined when a part of it did not parse (its errors are already reported). */
export function buildPolicy(parsed: ParsedPolicy, packageId: string, report: Report): Policy | undefined {
  const { path } = parsed;
  const allowedRequestors = parsed.allowedRequestors && buildAllowedRequestors(parsed.allowedRequestors, [...path, 'allowedRequestors'], report);
  const approval = parsed.approval && buildApproval(parsed.approval, [...path, 'approval'], report);
  const questions = parsed.questions.map(({ value, path: questionPath }) => buildQuestion(value, questionPath, report));
  const lifecycle = parsed.lifecycle && buildLifecycle(parsed.lifecycle, [...path, 'lifecycle'], report);
  const value = parsed.fields;
  if (!value || !allowedRequestors || !approval || !lifecycle) return undefined;
  return {
    id: value.id,
    packageId,
    displayName: value.displayName,
    description: value.description,
    enabled: value.enabled,
    allowedRequestors,
    approval,
    questions,
    lifecycle,
  };
}

function buildLifecycle(input: LifecycleInput, path: Path, report: Report): Lifecycle {
  return {
    expiration: buildExpiration(input.expiration, [...path, 'expiration'], report),
    requestorCanChooseSchedule: input.requestorCanChooseSchedule,
    extension: { allowed: input.extension.allowed, requiresApproval: input.extension.requiresApproval },
  };
}

function buildExpiration(input: LifecycleInput['expiration'], path: Path, report: Report): Expiration {
  switch (input.type) {
    case 'noExpiration':
      return { type: 'noExpiration' };
    case 'afterDuration':
      checkFormat(input.duration, durationProblem, [...path, 'duration'], report);
      return { type: 'afterDuration', duration: input.duration };
    case 'onDate': {
      // With an error reported the definition is never returned, so the placeholder is never seen.
      const date = parseDateText(input.date);
      if (!date) report([...path, 'date'], dateProblem(input.date) ?? 'not a date');
      return { type: 'onDate', date: date ?? new Date(Number.NaN) };
    }
  }
}

function checkFormat(value: string, problem: (value: string) => string | undefined, path: Path, report: Report): boolean {
  const message = problem(value);
  if (message !== undefined) report(path, message);
  return message === undefined;
}

function buildAllowedRequestors(input: AllowedRequestorsInput, path: Path, report: Report): AllowedRequestors {
  if (input.scope !== 'specificDirectoryUsers') return { scope: input.scope };
  if (input.users.length === 0 && input.groups.length === 0) {
    report(path, 'specificDirectoryUsers needs at least one entry in users or groups');
  }
  checkNoRepeats(input.users, [...path, 'users'], 'user', report);
  checkNoRepeats(input.groups, [...path, 'groups'], 'group', report);
  return { scope: 'specificDirectoryUsers', users: input.users, groups: input.groups };
}

function buildApproval(input: ApprovalInput, path: Path, report: Report): ApprovalSettings {
  const given = input.stages ?? [];
  // Listing stages but omitting `required` means approval is wanted; an explicit
  // `required: false` switches approval off while keeping the stages in the file.
  const required = input.required ?? given.length > 0;
  if (required && given.length === 0) {
    report([...path, 'required'], 'approval is required but no stages are given: add 1 to 3 stages under approval.stages');
  }
  const stages = given.map((stage, s) => buildStage(stage, [...path, 'stages', s], report));
  return {
    required,
    requestorJustificationRequired: input.requestorJustificationRequired,
    // Stored only when they apply, so nothing downstream can mistake them for active.
    stages: required ? stages : [],
  };
}

function buildStage(input: StageInput, path: Path, report: Report): ApprovalStage {
  const hasFallback = input.fallbackApprovers.length > 0;
  const requireFallbackForManager = (approvers: ApproverRef[], listPath: Path) =>
    approvers.forEach((approver, a) => {
      if ('manager' in approver && !hasFallback) {
        report([...listPath, a], "{ manager: true } needs fallbackApprovers in the same stage, for requesters who have no manager");
      }
    });
  requireFallbackForManager(input.approvers, [...path, 'approvers']);
  const timeoutValid = checkFormat(input.durationBeforeAutomaticDenial, durationProblem, [...path, 'durationBeforeAutomaticDenial'], report);
  input.fallbackApprovers.forEach((approver, f) => {
    if ('manager' in approver) report([...path, 'fallbackApprovers', f], 'a fallback approver must be a user or a group, not { manager: true }');
  });
  if (input.escalation) {
    requireFallbackForManager(input.escalation.approvers, [...path, 'escalation', 'approvers']);
    const afterValid = checkFormat(input.escalation.after, durationProblem, [...path, 'escalation', 'after'], report);
    if (afterValid && timeoutValid && compareDurations(input.escalation.after, input.durationBeforeAutomaticDenial) >= 0) {
      report(
        [...path, 'escalation', 'after'],
        `escalation after ${input.escalation.after} would come when the request has already timed out (durationBeforeAutomaticDenial ${input.durationBeforeAutomaticDenial}); escalate earlier`,
      );
    }
  }
  return {
    approvers: input.approvers,
    fallbackApprovers: input.fallbackApprovers,
    approverJustificationRequired: input.approverJustificationRequired,
    durationBeforeAutomaticDenial: input.durationBeforeAutomaticDenial,
    ...(input.escalation ? { escalation: { after: input.escalation.after, approvers: input.escalation.approvers } } : {}),
  };
}

function buildQuestion(input: QuestionInput, path: Path, report: Report): Question {
  if (input.type === 'choice') {
    if (input.choices.length === 0) report([...path, 'choices'], 'a choice question needs at least one choice');
    if (input.regex !== undefined) report([...path, 'regex'], 'regex applies to text and longText questions, not to choice');
    if (input.maxLength !== undefined) report([...path, 'maxLength'], 'maxLength applies to text and longText questions, not to choice');
    checkNoRepeats(input.choices.map((c) => c.value), [...path, 'choices'], 'choice', report);
  } else {
    if (input.choices.length > 0) report([...path, 'choices'], `only choice questions have choices (this one is ${input.type}); set type: choice or remove them`);
    if (input.allowsMultipleSelections) report([...path, 'allowsMultipleSelections'], 'applies to choice questions only');
  }
  const maxLength = input.maxLength ?? DEFAULT_MAX_LENGTH[input.type];
  if (input.regex !== undefined) checkFormat(input.regex, (pattern) => regexProblem(pattern, maxLength), [...path, 'regex'], report);
  if (input.regexMessage !== undefined && input.regex === undefined) {
    report([...path, 'regexMessage'], 'regexMessage is shown when an answer does not match regex, but there is no regex');
  }
  return {
    id: input.id,
    text: input.text,
    type: input.type,
    choices: input.choices.map((c) => ({ value: c.value, displayName: c.displayName ?? c.value })),
    allowsMultipleSelections: input.allowsMultipleSelections,
    required: input.required,
    ...(input.regex === undefined ? {} : { regex: input.regex }),
    ...(input.regexMessage === undefined ? {} : { regexMessage: input.regexMessage }),
    maxLength,
  };
}
