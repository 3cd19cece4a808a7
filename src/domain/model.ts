// Domain model. Names follow Entra's Graph resources (camelCase), see shared/DESIGN.md §3.
// Pure types: no I/O here. Stored documents use `_id` = the domain id so both store
// adapters (NeDB and MongoDB) key them identically.

import type { Lane } from './taskTypes';

export type ResourceType = 'group' | 'application' | 'sharePointSite' | 'directoryRole';

export interface ResourceRoleDefinition {
  /** group: 'member' | 'owner'; application: appRole id; site: 'member' | 'owner'; directoryRole: role definition id. */
  id: string;
  displayName: string;
}

export interface Resource {
  id: string;
  type: ResourceType;
  /** Entra object id (group, service principal, site's Microsoft 365 group, role definition). */
  originId: string;
  displayName: string;
  description?: string;
  roles: ResourceRoleDefinition[];
}

export interface Catalog {
  id: string;
  displayName: string;
  description: string;
  enabled: boolean;
  externalUsersEnabled: boolean;
  resources: Resource[];
  adminOverride?: AdminOverride;
}

/**
 * An admin's enable/disable that differs from the catalog file. Applying the file keeps it
 * (and says so) until an admin sets the value the file says (docs/catalog-file.md).
 */
export interface AdminOverride {
  enabled: boolean;
  /** What the catalog file said when it was last applied (or when the admin switched). */
  fileEnabled: boolean;
  byId: string;
  byName: string;
  at: Date;
}

export interface ResourceRoleRef {
  resource: string;
  /** Resolved role id (group: member|owner; application: appRole id). */
  role: string;
}

export type ApproverRef = { user: string } | { group: string } | { manager: true };

export interface ApprovalStage {
  approvers: ApproverRef[];
  fallbackApprovers: ApproverRef[];
  approverJustificationRequired: boolean;
  /** ISO 8601 duration. */
  durationBeforeAutomaticDenial: string;
  escalation?: { after: string; approvers: ApproverRef[] };
}

export interface ApprovalSettings {
  required: boolean;
  requestorJustificationRequired: boolean;
  stages: ApprovalStage[];
}

export type AllowedRequestors =
  | { scope: 'specificDirectoryUsers'; users: string[]; groups: string[] }
  | { scope: 'allMemberUsers' }
  | { scope: 'allDirectoryUsers' }
  | { scope: 'notSpecified' };

export type QuestionType = 'text' | 'longText' | 'choice';

export interface Question {
  id: string;
  text: string;
  type: QuestionType;
  choices: { value: string; displayName: string }[];
  allowsMultipleSelections: boolean;
  required: boolean;
  regex?: string;
  /** Shown when the answer does not match `regex`. */
  regexMessage?: string;
  maxLength: number;
}

export type Expiration =
  | { type: 'noExpiration' }
  | { type: 'onDate'; date: Date }
  | { type: 'afterDuration'; duration: string };

export interface Lifecycle {
  expiration: Expiration;
  requestorCanChooseSchedule: boolean;
  extension: { allowed: boolean; requiresApproval: boolean };
}

/** Assignment policy. Stored in its own collection (keyed by packageId + id) so eligibility can be queried by index. */
export interface Policy {
  id: string;
  packageId: string;
  displayName: string;
  description: string;
  enabled: boolean;
  allowedRequestors: AllowedRequestors;
  approval: ApprovalSettings;
  questions: Question[];
  lifecycle: Lifecycle;
  adminOverride?: AdminOverride;
}

export interface AccessPackage {
  id: string;
  catalog: string;
  displayName: string;
  description: string;
  hidden: boolean;
  resourceRoles: ResourceRoleRef[];
  incompatibleAccessPackages: string[];
  incompatibleGroups: string[];
  /** False: not offered and new requests refused; existing access stays. Absent (stored before the field existed) means true. */
  enabled?: boolean;
  adminOverride?: AdminOverride;
}

export type RequestType = 'add' | 'extend' | 'remove' | 'adminAdd' | 'adminRemove';

export type RequestState =
  | 'pendingApproval'
  | 'scheduled'
  | 'delivering'
  | 'delivered'
  | 'partiallyDelivered'
  | 'deliveryFailed'
  | 'denied'
  | 'canceled'
  | 'timedOut';

export const FINAL_REQUEST_STATES: readonly RequestState[] = [
  'delivered',
  'partiallyDelivered',
  'deliveryFailed',
  'denied',
  'canceled',
  'timedOut',
];

export interface Decision {
  approverId: string;
  decision: 'approve' | 'deny';
  justification?: string;
  at: Date;
}

export interface RequestStage {
  index: number;
  /** Resolved approver object ids at the time the stage started. */
  approverIds: string[];
  /** True when the primary approvers resolved to nobody and the fallback approvers were asked. */
  usedFallback?: boolean;
  startedAt?: Date;
  decision?: Decision;
  escalatedAt?: Date;
  /** Alternate approvers added at escalation; the primary approvers can still decide. */
  escalationApproverIds?: string[];
}

export interface Schedule {
  startAt?: Date;
  expiresAt?: Date;
}

export interface HistoryEntry {
  at: Date;
  actorId: string;
  action: string;
  details?: string;
}

export type SubmittedAnswerValue = string | string[];

/**
 * Rules checked again after submission (at each approval and just before delivery), because
 * what they depend on can change while a request waits (docs/lifecycle.md, "Checked again").
 */
export type RecheckedRule =
  | 'separationOfDuties'
  | 'notEligible'
  | 'catalogDisabled'
  | 'packageDisabled'
  | 'policyDisabled'
  | 'accountDisabled'
  | 'externalUsersNotAllowed';

/**
 * Why the bot itself ended a request (state `denied`, as Entra records a failed policy check):
 * a rule checked again no longer held. Absent when an approver denied it.
 */
export interface RequestEndReason {
  rule: RecheckedRule;
  /** Where it was found: when an approver decided (or a stage started), or just before delivery. */
  checkedAt: 'approval' | 'delivery';
  /** separationOfDuties: what it conflicts with; the name as it was then, for messages and history. */
  conflict?: { kind: 'package' | 'group'; id: string; displayName?: string };
}

export interface AccessRequest {
  id: string;
  type: RequestType;
  packageId: string;
  policyId: string;
  requesterId: string;
  targetUserId: string;
  justification?: string;
  answers: { questionId: string; value: SubmittedAnswerValue }[];
  schedule: Schedule;
  state: RequestState;
  currentStage?: number;
  stages: RequestStage[];
  assignmentId?: string;
  /** Set when the bot ended the request because a rule checked again no longer held (state denied). */
  endReason?: RequestEndReason;
  createdAt: Date;
  updatedAt: Date;
  history: HistoryEntry[];
}

export type AssignmentState =
  | 'delivering'
  | 'delivered'
  | 'partiallyDelivered'
  | 'deliveryFailed'
  | 'expired'
  | 'removed';

export const ACTIVE_ASSIGNMENT_STATES: readonly AssignmentState[] = [
  'delivering',
  'delivered',
  'partiallyDelivered',
  'deliveryFailed',
];

export type RoleDeliveryState = 'pending' | 'delivered' | 'failed' | 'removing' | 'removed';

export interface DeliveredRole {
  resource: string;
  role: string;
  state: RoleDeliveryState;
  error?: string;
}

export interface Assignment {
  id: string;
  packageId: string;
  policyId: string;
  userId: string;
  state: AssignmentState;
  startAt: Date;
  /** Absent for noExpiration. */
  expiresAt?: Date;
  roles: DeliveredRole[];
  requestIds: string[];
  /** Why removal was started: given back or removed by an admin, or expired. */
  endReason?: 'removed' | 'expired';
  /** How many times an admin has had it delivered again (keys the new round of tasks). */
  reprocessCount?: number;
  /** When the current `expiresAt` was set (delivery or extension): warnings count from here. */
  expirySetAt?: Date;
  /**
   * When the lifecycle job must next look at it (a warning threshold, or the expiry). Absent:
   * never (no expiry, or removal has started). Thresholds before it have been handled.
   */
  lifecycleCheckAt?: Date;
  /** The lifecycle job's claim on it: another instance leaves it alone until this passes. */
  lifecycleLeaseUntil?: Date;
  /** The expiry its user chose to "Let it expire" (no more warnings for it). */
  expiryAccepted?: Date;
  /** When removal started (its directory outcomes are audited from then on). */
  removalStartedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** Ledger row: who holds (user, resource origin, role) and whether the user had it before us. */
export interface Grant {
  id: string;
  userId: string;
  resourceType: ResourceType;
  originId: string;
  role: string;
  heldBy: string[];
  preExisting: boolean;
  updatedAt: Date;
}

export type TaskState = 'pending' | 'done' | 'failed';

/** A durable unit of work (outbox): claimed with a lease, retried with back-off. */
export interface Task {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  state: TaskState;
  dueAt: Date;
  attempts: number;
  leaseOwner?: string;
  leaseUntil?: Date;
  lastError?: string;
  /** How the outbox runs it (domain/taskTypes.ts routeTask), stamped when it is queued. */
  lane?: Lane;
  priority?: number;
  serialKey?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface ConversationRef {
  /** The user's Entra object id. */
  id: string;
  tenantId?: string;
  /** Bot Framework ConversationReference, stored as received. */
  reference: Record<string, unknown>;
  updatedAt: Date;
}

/**
 * The bot's own address in a tenant (its serviceUrl and Teams account), as last seen on an
 * activity whose serviceUrl the Bot Framework vouched for: where chats with people the bot has
 * never talked to are opened.
 */
export interface BotAddress {
  tenantId: string;
  serviceUrl: string;
  bot: { id: string; name?: string };
  updatedAt: Date;
}

export interface AuditEvent {
  id: string;
  at: Date;
  actorId: string;
  action: string;
  packageId?: string;
  userId?: string;
  requestId?: string;
  assignmentId?: string;
  details?: Record<string, unknown>;
}
