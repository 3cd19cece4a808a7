// The directory port: what the bot needs from Entra ID. The local adapter (YAML file) serves
// embedded mode and tests; the Graph adapter implements the same port against Microsoft Graph.

export interface DirectoryUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail?: string;
  jobTitle?: string;
  department?: string;
  /** Entra's userType: guests are 'Guest'. */
  userType: 'Member' | 'Guest';
  accountEnabled: boolean;
}

export interface DirectoryGroup {
  id: string;
  displayName: string;
  description?: string;
}

export interface AppRole {
  id: string;
  displayName: string;
  value?: string;
  description?: string;
}

export interface ServicePrincipal {
  id: string;
  appId?: string;
  displayName: string;
  appRoles: AppRole[];
}

export interface AppRoleAssignment {
  id: string;
  principalId: string;
  resourceId: string;
  appRoleId: string;
}

/**
 * An active Microsoft Entra role assignment (Graph's unifiedRoleAssignment): a role definition
 * given to a principal at a scope; "/" is the whole tenant, the only scope the bot assigns.
 */
export interface DirectoryRoleAssignment {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  directoryScopeId: string;
}

export type GroupRole = 'member' | 'owner';

/** Outcome of an idempotent write: the state now holds either way. */
export type AddOutcome = 'added' | 'alreadyPresent';
export type RemoveOutcome = 'removed' | 'notPresent';

export type DirectoryErrorKind =
  | 'notFound' // the group, user, service principal or role definition does not exist
  | 'forbidden' // the app lacks a permission: a configuration error, not worth retrying
  | 'throttled' // 429: retry after retryAfterMs
  | 'unavailable' // 5xx or network: retry with back-off
  | 'invalid'; // the request itself is wrong (bad role id, ...)

export class DirectoryError extends Error {
  constructor(
    readonly kind: DirectoryErrorKind,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DirectoryError';
  }

  get retryable(): boolean {
    return this.kind === 'throttled' || this.kind === 'unavailable';
  }
}

export interface Directory {
  /** 'local' or 'graph', for logs. */
  readonly kind: string;
  /** By object id or userPrincipalName; null when there is no such user. */
  getUser(idOrUpn: string): Promise<DirectoryUser | null>;
  /** The user's manager, or null when none is set. */
  getManager(userId: string): Promise<DirectoryUser | null>;
  getGroup(groupId: string): Promise<DirectoryGroup | null>;
  getServicePrincipal(servicePrincipalId: string): Promise<ServicePrincipal | null>;
  /** Which of `groupIds` the user belongs to, transitively (nested groups count). */
  checkMemberGroups(userId: string, groupIds: string[]): Promise<string[]>;
  /** Object ids of every user in the group, transitively. */
  listTransitiveGroupMembers(groupId: string): Promise<string[]>;
  /** Direct membership or ownership, as delivery sees it (not transitive). */
  hasGroupRole(groupId: string, userId: string, role: GroupRole): Promise<boolean>;
  addGroupRole(groupId: string, userId: string, role: GroupRole): Promise<AddOutcome>;
  removeGroupRole(groupId: string, userId: string, role: GroupRole): Promise<RemoveOutcome>;
  /** The user's app role assignments on one resource service principal. */
  listAppRoleAssignments(servicePrincipalId: string, userId: string): Promise<AppRoleAssignment[]>;
  addAppRoleAssignment(servicePrincipalId: string, userId: string, appRoleId: string): Promise<{ outcome: AddOutcome; assignment: AppRoleAssignment }>;
  removeAppRoleAssignment(servicePrincipalId: string, assignmentId: string): Promise<RemoveOutcome>;
  /**
   * The user's own active role assignments at tenant scope ("/") of one role definition: not
   * those of groups the user is in, nor those scoped to an administrative unit or an app.
   */
  listDirectoryRoleAssignments(userId: string, roleDefinitionId: string): Promise<DirectoryRoleAssignment[]>;
  /** Assigns the role at tenant scope; `alreadyPresent` (with the existing assignment) when the user has it there. */
  addDirectoryRoleAssignment(userId: string, roleDefinitionId: string): Promise<{ outcome: AddOutcome; assignment: DirectoryRoleAssignment }>;
  /** Ends one role assignment by id; `notPresent` when there is no such assignment (any more). */
  removeDirectoryRoleAssignment(assignmentId: string): Promise<RemoveOutcome>;
}
