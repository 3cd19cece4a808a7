// The shape of the catalog file (DESIGN.md §4), as zod schemas with the documented defaults.
// Every default below is listed in docs/catalog-file.md: keep the two in step.
//
// Structure and types live here (fields, enums, ids, object ids). Value formats that need
// parsing (durations, dates, regexes) and rules relating several fields or entities live in
// crossChecks.ts, so that a bad duration does not keep the rest of its policy unchecked.
//
// The file is validated in pieces — each catalog, resource, package, resource role, policy,
// policy section and question on its own — so that one broken piece does not hide the errors
// of the others; hence `z.unknown()` for the parts that are parsed separately.

import { z } from 'zod';
import type { ApproverRef } from '../domain/model';
import type { Path, UnlocatedError } from './errors';
import { idProblem, objectIdProblem } from './formats';
import { didYouMean } from './suggest';

// ---------------------------------------------------------------------------------------
// Building blocks

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An object that rejects unknown fields, one error per field, at the field's own path and
 * with the nearest expected name. (zod's strictObject reports all unknown keys as one issue
 * on the object, without suggestions.) `when` makes the check run even when other fields
 * of the object are wrong, so every mistake is reported at once.
 */
function strictObject<S extends z.ZodRawShape>(shape: S, what?: string) {
  const known = Object.keys(shape);
  const object = what === undefined ? z.looseObject(shape) : z.looseObject(shape, { error: typeMessage(what) });
  return object.superRefine(
    (value, ctx) => {
      if (!isRecord(value)) return;
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue;
        const hint = didYouMean(key, known) || `; expected one of: ${known.join(', ')}`;
        ctx.addIssue({ code: 'custom', path: [key], message: `unknown field '${key}'${hint}` });
      }
    },
    { when: () => true },
  );
}

/** Replaces zod's "expected object" with a description of what belongs there. */
function typeMessage(what: string) {
  return (issue: { code?: string; input?: unknown }) =>
    issue.code === 'invalid_type' && issue.input !== undefined ? `expected ${what}, got ${describeValue(issue.input)}` : undefined;
}

function stringWith(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });
}

const idSchema = stringWith(idProblem);
const objectIdSchema = stringWith(objectIdProblem);
/** A reference to one of our own ids; whether it exists is checked in crossChecks.ts. */
const referenceSchema = stringWith((v) => (v === '' ? 'must not be empty' : undefined));
const nameSchema = stringWith((v) => (v.trim() === '' ? 'must not be empty' : undefined));
// Durations, dates and regexes are checked in crossChecks.ts rather than here: a bad value
// there must not stop the policy's other rules from being checked (see the file comment).
const durationSchema = z.string();
const regexSchema = z.string();
const dateSchema = z.string();

// ---------------------------------------------------------------------------------------
// Catalogs and resources

export const RESOURCE_TYPES = ['group', 'application', 'sharePointSite', 'directoryRole'] as const;

/** A role is declared as `{ id, displayName }` or just its id. */
const roleDeclarationSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { id: value } : value),
  strictObject({ id: objectIdSchema, displayName: nameSchema.optional() }, 'a role id or { id, displayName }'),
);

export const resourceSchema = strictObject(
  {
    id: idSchema,
    type: z.enum(RESOURCE_TYPES),
    originId: objectIdSchema,
    displayName: nameSchema,
    description: z.string().optional(),
    // Defaults depend on the type; applied in crossChecks.ts.
    roles: z.array(roleDeclarationSchema).optional(),
  },
  'a resource { id, type, originId, displayName }',
);

export const catalogSchema = strictObject(
  {
    id: idSchema,
    displayName: nameSchema,
    description: z.string().default(''),
    enabled: z.boolean().default(true),
    externalUsersEnabled: z.boolean().default(false),
    // Parsed one by one with resourceSchema.
    resources: z.array(z.unknown()).default([]),
  },
  'a catalog { id, displayName, ... }',
);

// ---------------------------------------------------------------------------------------
// Access packages

export const resourceRoleSchema = strictObject(
  { resource: referenceSchema, role: referenceSchema },
  '{ resource, role }',
);

export const packageSchema = strictObject(
  {
    id: idSchema,
    catalog: referenceSchema,
    displayName: nameSchema,
    description: z.string().default(''),
    hidden: z.boolean().default(false),
    // Off: the package is not offered and new requests are refused; existing access stays.
    enabled: z.boolean().default(true),
    // Parsed one by one with resourceRoleSchema.
    resourceRoles: z.array(z.unknown()).default([]),
    incompatibleAccessPackages: z.array(referenceSchema).default([]),
    incompatibleGroups: z.array(objectIdSchema).default([]),
    // Parsed one by one with the policy schemas.
    policies: z.array(z.unknown()).default([]),
  },
  'an access package { id, catalog, displayName, ... }',
);

// ---------------------------------------------------------------------------------------
// Assignment policies

const approverSchema = strictObject(
  { user: objectIdSchema.optional(), group: objectIdSchema.optional(), manager: z.literal(true).optional() },
  'an approver { user: <id> }, { group: <id> } or { manager: true }',
)
  .superRefine((value, ctx) => {
    const kinds = [value.user, value.group, value.manager].filter((v) => v !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: 'custom', message: 'an approver is exactly one of { user: <id> }, { group: <id> } or { manager: true }' });
    }
  })
  .transform((value): ApproverRef => {
    if (value.user !== undefined) return { user: value.user };
    if (value.group !== undefined) return { group: value.group };
    return { manager: true };
  });

/** Entra allows at most three approval stages. */
export const MAX_APPROVAL_STAGES = 3;

const stageSchema = strictObject(
  {
    approvers: z.array(approverSchema).min(1),
    fallbackApprovers: z.array(approverSchema).default([]),
    approverJustificationRequired: z.boolean().default(false),
    durationBeforeAutomaticDenial: durationSchema.default('P14D'),
    escalation: strictObject({ after: durationSchema, approvers: z.array(approverSchema).min(1) }, '{ after, approvers }').optional(),
  },
  'an approval stage { approvers, ... }',
);

export const approvalSchema = strictObject(
  {
    // No default here: when omitted, it follows from whether stages are given (crossChecks.ts).
    required: z.boolean().optional(),
    requestorJustificationRequired: z.boolean().default(false),
    stages: z.array(stageSchema).max(MAX_APPROVAL_STAGES, `at most ${MAX_APPROVAL_STAGES} approval stages are allowed`).optional(),
  },
  '{ required, requestorJustificationRequired, stages }',
);

export const allowedRequestorsSchema = z.discriminatedUnion('scope', [
  strictObject({
    scope: z.literal('specificDirectoryUsers'),
    users: z.array(objectIdSchema).default([]),
    groups: z.array(objectIdSchema).default([]),
  }),
  strictObject({ scope: z.literal('allMemberUsers') }),
  strictObject({ scope: z.literal('allDirectoryUsers') }),
  strictObject({ scope: z.literal('notSpecified') }),
]);

/** A choice is given as its text or as `{ value, displayName }`. */
const choiceSchema = z.preprocess(
  (value) => (typeof value === 'string' || typeof value === 'number' ? { value: String(value) } : value),
  strictObject({ value: nameSchema, displayName: nameSchema.optional() }, 'a choice text or { value, displayName }'),
);

export const QUESTION_TYPES = ['text', 'longText', 'choice'] as const;

export const questionSchema = strictObject(
  {
    id: idSchema,
    text: nameSchema,
    type: z.enum(QUESTION_TYPES).default('text'),
    choices: z.array(choiceSchema).default([]),
    allowsMultipleSelections: z.boolean().default(false),
    required: z.boolean().default(false),
    regex: regexSchema.optional(),
    regexMessage: nameSchema.optional(),
    // Default depends on the type (crossChecks.ts).
    maxLength: z.number().int().positive().optional(),
  },
  'a question { id, text, type, ... }',
);

const expirationSchema = z.discriminatedUnion('type', [
  strictObject({ type: z.literal('noExpiration') }),
  strictObject({ type: z.literal('onDate'), date: dateSchema }),
  strictObject({ type: z.literal('afterDuration'), duration: durationSchema }),
]);

/** Entra's default assignment lifetime is 365 days. */
export const DEFAULT_EXPIRATION = { type: 'afterDuration', duration: 'P365D' } as const;

export const lifecycleSchema = strictObject(
  {
    expiration: expirationSchema.default({ ...DEFAULT_EXPIRATION }),
    requestorCanChooseSchedule: z.boolean().default(false),
    extension: strictObject(
      { allowed: z.boolean().default(false), requiresApproval: z.boolean().default(true) },
      '{ allowed, requiresApproval }',
    ).prefault({}),
  },
  '{ expiration, requestorCanChooseSchedule, extension }',
);

/**
 * A policy's own fields. Its sections are parsed on their own (policySections), so that a
 * mistake in one (say `enabled: yes`) does not keep the rules of the others from being checked.
 */
export const policySchema = strictObject(
  {
    id: idSchema,
    displayName: nameSchema,
    description: z.string().default(''),
    enabled: z.boolean().default(true),
    allowedRequestors: z.unknown().optional(),
    approval: z.unknown().optional(),
    // Parsed one by one with questionSchema.
    questions: z.array(z.unknown()).default([]),
    lifecycle: z.unknown().optional(),
  },
  'a policy { id, displayName, ... }',
);

/** The sections of a policy, with their defaults when left out. */
export const policySections = {
  allowedRequestors: allowedRequestorsSchema.default({ scope: 'allMemberUsers' }),
  approval: approvalSchema.prefault({}),
  lifecycle: lifecycleSchema.prefault({}),
};

export const fileSchema = strictObject(
  {
    // Parsed one by one with catalogSchema / packageSchema.
    catalogs: z.array(z.unknown()).default([]),
    accessPackages: z.array(z.unknown()).default([]),
  },
  "a mapping with 'catalogs' and 'accessPackages'",
);

export type CatalogInput = z.output<typeof catalogSchema>;
export type ResourceInput = z.output<typeof resourceSchema>;
export type PackageInput = z.output<typeof packageSchema>;
export type ResourceRoleInput = z.output<typeof resourceRoleSchema>;
export type PolicyInput = z.output<typeof policySchema>;
export type AllowedRequestorsInput = z.output<typeof allowedRequestorsSchema>;
export type ApprovalInput = z.output<typeof approvalSchema>;
export type StageInput = NonNullable<ApprovalInput['stages']>[number];
export type QuestionInput = z.output<typeof questionSchema>;
export type LifecycleInput = z.output<typeof lifecycleSchema>;

// ---------------------------------------------------------------------------------------
// Running a schema and wording its issues

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: UnlocatedError[] };

/** Parses `value`, found at `path` in the file; errors carry full paths and plain-English messages. */
export function parseAt<T>(schema: z.ZodType<T>, value: unknown, path: Path): ParseResult<T> {
  const result = schema.safeParse(value, { error: describeIssue });
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({
      path: [...path, ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)))],
      message: issue.message,
    })),
  };
}

/** The messages zod would word generically, worded for an admin editing YAML. */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required field is missing';
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const quoteHint =
        issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean')
          ? ' (put it in quotes)'
          : '';
      return `expected ${expected}, got ${describeValue(issue.input)}${quoteHint}`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v));
      if (values.length === 1) return `expected ${values[0]}, got ${describeValue(issue.input)}`;
      const got = typeof issue.input === 'string' ? didYouMean(issue.input, values) : '';
      return `expected one of: ${values.join(', ')}; got ${describeValue(issue.input)}${got}`;
    }
    case 'invalid_union': {
      if (issue.discriminator === undefined) return undefined;
      const options = ('options' in issue && Array.isArray(issue.options) ? issue.options : []).map((v) => String(v));
      const input = isRecord(issue.input) ? issue.input[issue.discriminator] : undefined;
      if (input === undefined) return `required field is missing; expected one of: ${options.join(', ')}`;
      const hint = typeof input === 'string' ? didYouMean(input, options) : '';
      return `expected one of: ${options.join(', ')}; got ${describeValue(input)}${hint}`;
    }
    case 'too_small':
      if (issue.origin === 'array') return `needs at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return issue.inclusive === false ? `must be greater than ${String(issue.minimum)}` : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'array') return `allows at most ${String(issue.maximum)} items`;
      return `must be at most ${String(issue.maximum)}`;
    default:
      return undefined;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

/** "the number 12", "'yes'", "false", "a list", for messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}
