// Small factories for domain objects: every field has a sensible default, tests override
// only what they are about.

import type { RequestorFacts } from '../../src/domain/eligibility';
import type {
  AccessPackage,
  ApprovalSettings,
  ApprovalStage,
  Assignment,
  Catalog,
  Lifecycle,
  Policy,
  Question,
} from '../../src/domain/model';

export const NOW = new Date('2026-11-22T09:00:00.000Z');

export function makeCatalog(overrides: Partial<Catalog> = {}): Catalog {
  return {
    id: 'finance',
    displayName: 'Finance',
    description: 'Access for the finance department',
    enabled: true,
    externalUsersEnabled: false,
    resources: [],
    ...overrides,
  };
}

export function makePackage(overrides: Partial<AccessPackage> = {}): AccessPackage {
  return {
    id: 'accounting',
    catalog: 'finance',
    displayName: 'Accounting',
    description: 'What accounting employees need',
    hidden: false,
    resourceRoles: [{ resource: 'finance-team', role: 'member' }],
    incompatibleAccessPackages: [],
    incompatibleGroups: [],
    ...overrides,
  };
}

export function makeStage(overrides: Partial<ApprovalStage> = {}): ApprovalStage {
  return {
    approvers: [{ user: 'approver-1' }],
    fallbackApprovers: [],
    approverJustificationRequired: false,
    durationBeforeAutomaticDenial: 'P14D',
    ...overrides,
  };
}

export function makeApproval(overrides: Partial<ApprovalSettings> = {}): ApprovalSettings {
  return { required: true, requestorJustificationRequired: true, stages: [makeStage()], ...overrides };
}

export function makeLifecycle(overrides: Partial<Lifecycle> = {}): Lifecycle {
  return {
    expiration: { type: 'afterDuration', duration: 'P90D' },
    requestorCanChooseSchedule: false,
    extension: { allowed: true, requiresApproval: true },
    ...overrides,
  };
}

export function makeQuestion(overrides: Partial<Question> = {}): Question {
  return {
    id: 'costCentre',
    text: 'What is your cost centre?',
    type: 'text',
    choices: [],
    allowsMultipleSelections: false,
    required: true,
    maxLength: 1000,
    ...overrides,
  };
}

export function makeChoiceQuestion(overrides: Partial<Question> = {}): Question {
  return makeQuestion({
    id: 'region',
    text: 'Which region do you work in?',
    type: 'choice',
    choices: [
      { value: 'emea', displayName: 'Europe, Middle East and Africa' },
      { value: 'amer', displayName: 'Americas' },
      { value: 'apac', displayName: 'Asia Pacific' },
    ],
    ...overrides,
  });
}

export type PolicyOverrides = Partial<Omit<Policy, 'approval' | 'lifecycle'>> & {
  approval?: Partial<ApprovalSettings>;
  lifecycle?: Partial<Lifecycle>;
};

export function makePolicy(overrides: PolicyOverrides = {}): Policy {
  const { approval, lifecycle, ...rest } = overrides;
  return {
    id: 'employees',
    packageId: 'accounting',
    displayName: 'Employees',
    description: '',
    enabled: true,
    allowedRequestors: { scope: 'allMemberUsers' },
    questions: [],
    ...rest,
    approval: makeApproval(approval),
    lifecycle: makeLifecycle(lifecycle),
  };
}

export function makeAssignment(overrides: Partial<Assignment> = {}): Assignment {
  return {
    id: 'assignment-1',
    packageId: 'accounting',
    policyId: 'employees',
    userId: 'fred',
    state: 'delivered',
    startAt: new Date('2026-09-01T09:00:00.000Z'),
    expiresAt: new Date('2026-11-30T09:00:00.000Z'),
    roles: [{ resource: 'finance-team', role: 'member', state: 'delivered' }],
    requestIds: ['request-1'],
    createdAt: new Date('2026-09-01T09:00:00.000Z'),
    updatedAt: new Date('2026-09-01T09:00:00.000Z'),
    ...overrides,
  };
}

export function makeFacts(overrides: Partial<RequestorFacts> = {}): RequestorFacts {
  return { userId: 'fred', userType: 'Member', groupIds: new Set<string>(), ...overrides };
}
