// The directory state behind the in-memory Graph (inMemoryGraph.ts): users, managers, groups with
// nested members and owners, service principals with app roles, app role assignments, directory
// role definitions and role assignments. Objects are kept as Graph's JSON resources (user, group,
// servicePrincipal, appRoleAssignment, unifiedRoleDefinition, unifiedRoleAssignment); failures are
// Graph's status codes with Graph's error codes and messages. Seeded from the same shape as
// examples/directory.yaml (src/directory/directoryFile.ts).

import { randomBytes } from 'node:crypto';
import { assignmentIdFor, type DirectoryFile, roleAssignmentIdFor } from '../../src/directory/directoryFile';

export type Json = Record<string, unknown>;

/** A failed Graph call: HTTP status plus Graph's {error:{code,message}}. */
export class GraphFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GraphFault';
  }
}

/** 404 Request_ResourceNotFound, worded as Graph words it for directory objects. */
export function resourceNotFound(id: string): GraphFault {
  return new GraphFault(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
}

export interface FakeUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail?: string;
  jobTitle?: string;
  department?: string;
  userType: 'Member' | 'Guest';
  accountEnabled: boolean;
}

export interface FakeAppRole {
  id: string;
  displayName: string;
  value?: string;
  description?: string;
  isEnabled?: boolean;
  allowedMemberTypes?: string[];
}

export interface FakeServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  appRoles: FakeAppRole[];
}

export interface FakeGroup {
  id: string;
  displayName: string;
  description?: string;
  /** Direct members: user ids and group ids. */
  members: Set<string>;
  owners: Set<string>;
}

export interface FakeAssignment {
  id: string;
  principalId: string;
  resourceId: string;
  appRoleId: string;
  createdDateTime: string;
}

export interface FakeRoleDefinition {
  id: string;
  displayName: string;
  description?: string;
  isBuiltIn: boolean;
}

export interface FakeRoleAssignment {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  /** "/" (tenant), "/administrativeUnits/{id}" or "/{application object id}". */
  directoryScopeId: string;
}

export type GroupRelation = 'members' | 'owners';

export class FakeDirectory {
  readonly users = new Map<string, FakeUser>();
  readonly managerOf = new Map<string, string>();
  readonly groups = new Map<string, FakeGroup>();
  readonly servicePrincipals = new Map<string, FakeServicePrincipal>();
  readonly assignments = new Map<string, FakeAssignment>();
  readonly roleDefinitions = new Map<string, FakeRoleDefinition>();
  readonly roleAssignments = new Map<string, FakeRoleAssignment>();

  static fromFile(file: DirectoryFile): FakeDirectory {
    const directory = new FakeDirectory();
    for (const { manager, ...user } of file.users) {
      directory.addUser(user);
      if (manager !== undefined) directory.managerOf.set(user.id, manager);
    }
    for (const g of file.groups) directory.addGroup({ id: g.id, displayName: g.displayName, description: g.description, members: g.members, owners: g.owners });
    for (const sp of file.servicePrincipals) {
      directory.addServicePrincipal({ id: sp.id, appId: sp.appId ?? sp.id, displayName: sp.displayName, appRoles: sp.appRoles.map((r) => ({ ...r })) });
      for (const a of sp.appRoleAssignments) {
        const id = a.id ?? assignmentIdFor(sp.id, a.principalId, a.appRoleId);
        directory.assignments.set(id, { id, principalId: a.principalId, resourceId: sp.id, appRoleId: a.appRoleId, createdDateTime: '2024-01-01T00:00:00Z' });
      }
    }
    for (const role of file.directoryRoles) {
      directory.addRoleDefinition({ id: role.id, displayName: role.displayName, description: role.description, isBuiltIn: true });
      for (const a of role.assignments) {
        const id = a.id ?? roleAssignmentIdFor(role.id, a.principalId);
        directory.roleAssignments.set(id, { id, principalId: a.principalId, roleDefinitionId: role.id, directoryScopeId: '/' });
      }
    }
    return directory;
  }

  // -------------------------------------------------------------------------------------
  // Seeding

  addUser(user: Omit<FakeUser, 'userType' | 'accountEnabled'> & Partial<Pick<FakeUser, 'userType' | 'accountEnabled'>>, managerId?: string): void {
    this.users.set(user.id, { userType: 'Member', accountEnabled: true, ...user });
    if (managerId !== undefined) this.managerOf.set(user.id, managerId);
  }

  addGroup(group: { id: string; displayName: string; description?: string; members?: Iterable<string>; owners?: Iterable<string> }): void {
    this.groups.set(group.id, {
      id: group.id,
      displayName: group.displayName,
      description: group.description,
      members: new Set(group.members ?? []),
      owners: new Set(group.owners ?? []),
    });
  }

  addServicePrincipal(sp: FakeServicePrincipal): void {
    this.servicePrincipals.set(sp.id, { ...sp, appRoles: sp.appRoles.map((r) => ({ isEnabled: true, allowedMemberTypes: ['User'], ...r })) });
  }

  addRoleDefinition(role: FakeRoleDefinition): void {
    this.roleDefinitions.set(role.id, { ...role });
  }

  // -------------------------------------------------------------------------------------
  // Lookups (throwing Graph's 404)

  /** Role definition ids are GUIDs, matched without case as Graph does. */
  roleDefinition(id: string): FakeRoleDefinition {
    const role = this.roleDefinitions.get(id) ?? [...this.roleDefinitions.values()].find((r) => r.id.toLowerCase() === id.toLowerCase());
    if (!role) throw resourceNotFound(id);
    return role;
  }

  user(idOrUpn: string): FakeUser {
    const byId = this.users.get(idOrUpn);
    if (byId) return byId;
    // Graph matches userPrincipalName case-insensitively.
    const lower = idOrUpn.toLowerCase();
    const byUpn = [...this.users.values()].find((u) => u.userPrincipalName.toLowerCase() === lower);
    if (!byUpn) throw resourceNotFound(idOrUpn);
    return byUpn;
  }

  group(id: string): FakeGroup {
    const group = this.groups.get(id);
    if (!group) throw resourceNotFound(id);
    return group;
  }

  servicePrincipal(id: string): FakeServicePrincipal {
    const sp = this.servicePrincipals.get(id);
    if (!sp) throw resourceNotFound(id);
    return sp;
  }

  manager(userId: string): FakeUser {
    const user = this.user(userId);
    const managerId = this.managerOf.get(user.id);
    const manager = managerId === undefined ? undefined : this.users.get(managerId);
    if (!manager) throw resourceNotFound('manager');
    return manager;
  }

  /** Users in the group or in any group nested in it, each once. */
  transitiveUsers(groupId: string): FakeUser[] {
    const seen = new Set<string>();
    const out = new Map<string, FakeUser>();
    const visit = (id: string): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const group = this.groups.get(id);
      if (!group) return;
      for (const member of group.members) {
        const user = this.users.get(member);
        if (user) out.set(user.id, user);
        else visit(member);
      }
    };
    this.group(groupId);
    visit(groupId);
    return [...out.values()];
  }

  /** Transitive: the user is in the group or in a group nested in it (checkMemberGroups). */
  isTransitiveMember(userId: string, groupId: string): boolean {
    return this.groups.has(groupId) && this.transitiveUsers(groupId).some((u) => u.id === userId);
  }

  assignmentsOfUser(userId: string): FakeAssignment[] {
    const user = this.user(userId);
    // Graph also returns assignments of groups the user is a direct member of.
    const directGroups = new Set([...this.groups.values()].filter((g) => g.members.has(user.id)).map((g) => g.id));
    return [...this.assignments.values()].filter((a) => a.principalId === user.id || directGroups.has(a.principalId));
  }

  assignmentsOn(servicePrincipalId: string): FakeAssignment[] {
    this.servicePrincipal(servicePrincipalId);
    return [...this.assignments.values()].filter((a) => a.resourceId === servicePrincipalId);
  }

  // -------------------------------------------------------------------------------------
  // Writes, with Graph's answers

  addReference(groupId: string, relation: GroupRelation, objectId: string): void {
    const group = this.group(groupId);
    if (!this.users.has(objectId) && !(relation === 'members' && this.groups.has(objectId))) throw resourceNotFound(objectId);
    const set = group[relation];
    if (set.has(objectId)) {
      throw new GraphFault(400, 'Request_BadRequest', `One or more added object references already exist for the following modified properties: '${relation}'.`);
    }
    set.add(objectId);
  }

  removeReference(groupId: string, relation: GroupRelation, objectId: string): void {
    const group = this.group(groupId);
    // Graph names the group in this 404 whether the group or the reference is missing.
    if (!group[relation].delete(objectId)) throw resourceNotFound(groupId);
  }

  assign(servicePrincipalId: string, body: { principalId?: unknown; resourceId?: unknown; appRoleId?: unknown }): FakeAssignment {
    const sp = this.servicePrincipal(servicePrincipalId);
    if (typeof body.principalId !== 'string' || typeof body.resourceId !== 'string' || typeof body.appRoleId !== 'string') {
      throw new GraphFault(400, 'Request_BadRequest', 'Invalid request body: principalId, resourceId and appRoleId are required.');
    }
    if (body.resourceId !== sp.id) throw new GraphFault(400, 'Request_BadRequest', 'Not a valid reference update.');
    const user = this.users.get(body.principalId);
    if (!user) throw resourceNotFound(body.principalId);
    if (!sp.appRoles.some((r) => r.id === body.appRoleId && r.isEnabled !== false)) {
      throw new GraphFault(400, 'Request_BadRequest', `Permission being assigned was not found on application '${sp.appId}'.`);
    }
    const duplicate = [...this.assignments.values()].some((a) => a.principalId === user.id && a.resourceId === sp.id && a.appRoleId === body.appRoleId);
    if (duplicate) throw new GraphFault(400, 'Request_BadRequest', 'Permission being assigned already exists on the object.');
    // Real ids are 43-character base64url strings.
    const assignment = { id: randomBytes(32).toString('base64url').slice(0, 43), principalId: user.id, resourceId: sp.id, appRoleId: body.appRoleId, createdDateTime: new Date().toISOString() };
    this.assignments.set(assignment.id, assignment);
    return assignment;
  }

  unassign(servicePrincipalId: string, assignmentId: string): void {
    this.servicePrincipal(servicePrincipalId);
    const assignment = this.assignments.get(assignmentId);
    if (!assignment || assignment.resourceId !== servicePrincipalId) throw resourceNotFound(assignmentId);
    this.assignments.delete(assignmentId);
  }

  /**
   * POST /roleManagement/directory/roleAssignments (rbacapplication-post-roleassignments): one of
   * directoryScopeId or appScopeId is required; an unknown principal or role definition is a 404;
   * the same principal, role and scope twice is Graph's 400 "A conflicting object ...".
   */
  assignRole(body: Json): FakeRoleAssignment {
    const { principalId, roleDefinitionId, directoryScopeId, appScopeId } = body;
    if (typeof principalId !== 'string' || typeof roleDefinitionId !== 'string') {
      throw new GraphFault(400, 'Request_BadRequest', 'Invalid request body: principalId and roleDefinitionId are required.');
    }
    if (typeof directoryScopeId !== 'string' && typeof appScopeId !== 'string') {
      throw new GraphFault(400, 'Request_BadRequest', 'Either appScopeId or directoryScopeId must be specified.');
    }
    if (typeof directoryScopeId !== 'string') throw new GraphFault(400, 'Request_BadRequest', 'appScopeId is not supported for the directory provider.');
    const role = this.roleDefinition(roleDefinitionId);
    const principal = this.users.get(principalId) ?? this.groups.get(principalId);
    if (!principal) throw resourceNotFound(principalId);
    const duplicate = [...this.roleAssignments.values()].some((a) => a.principalId === principal.id && a.roleDefinitionId === role.id && a.directoryScopeId === directoryScopeId);
    if (duplicate) throw new GraphFault(400, 'Request_BadRequest', 'A conflicting object with one or more of the specified property values is present in the directory.');
    const assignment = { id: directoryScopeId === '/' ? roleAssignmentIdFor(role.id, principal.id) : `${randomBytes(32).toString('base64url').slice(0, 43)}-1`, principalId: principal.id, roleDefinitionId: role.id, directoryScopeId };
    this.roleAssignments.set(assignment.id, assignment);
    return assignment;
  }

  unassignRole(assignmentId: string): void {
    if (!this.roleAssignments.delete(assignmentId)) throw resourceNotFound(assignmentId);
  }

  // -------------------------------------------------------------------------------------
  // Graph's JSON resources

  userJson(user: FakeUser): Json {
    return {
      '@odata.type': '#microsoft.graph.user',
      id: user.id,
      displayName: user.displayName,
      userPrincipalName: user.userPrincipalName,
      mail: user.mail ?? null,
      jobTitle: user.jobTitle ?? null,
      department: user.department ?? null,
      userType: user.userType,
      accountEnabled: user.accountEnabled,
      givenName: null,
      surname: null,
      businessPhones: [],
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
    };
  }

  groupJson(group: FakeGroup): Json {
    return {
      '@odata.type': '#microsoft.graph.group',
      id: group.id,
      displayName: group.displayName,
      description: group.description ?? null,
      groupTypes: [],
      securityEnabled: true,
      mailEnabled: false,
      mailNickname: group.id,
    };
  }

  servicePrincipalJson(sp: FakeServicePrincipal): Json {
    return {
      '@odata.type': '#microsoft.graph.servicePrincipal',
      id: sp.id,
      appId: sp.appId,
      displayName: sp.displayName,
      servicePrincipalType: 'Application',
      appRoles: sp.appRoles.map((r) => ({
        id: r.id,
        displayName: r.displayName,
        value: r.value ?? null,
        description: r.description ?? null,
        isEnabled: r.isEnabled ?? true,
        allowedMemberTypes: r.allowedMemberTypes ?? ['User'],
        origin: 'Application',
      })),
    };
  }

  assignmentJson(a: FakeAssignment): Json {
    const principal = this.users.get(a.principalId) ?? this.groups.get(a.principalId);
    return {
      id: a.id,
      deletedDateTime: null,
      appRoleId: a.appRoleId,
      createdDateTime: a.createdDateTime,
      principalDisplayName: principal?.displayName ?? null,
      principalId: a.principalId,
      principalType: this.users.has(a.principalId) ? 'User' : 'Group',
      resourceDisplayName: this.servicePrincipals.get(a.resourceId)?.displayName ?? null,
      resourceId: a.resourceId,
    };
  }

  roleDefinitionJson(role: FakeRoleDefinition): Json {
    return {
      id: role.id,
      description: role.description ?? null,
      displayName: role.displayName,
      isBuiltIn: role.isBuiltIn,
      isEnabled: true,
      resourceScopes: ['/'],
      templateId: role.id,
      version: '1',
      rolePermissions: [],
    };
  }

  roleAssignmentJson(a: FakeRoleAssignment): Json {
    return { id: a.id, principalId: a.principalId, roleDefinitionId: a.roleDefinitionId, directoryScopeId: a.directoryScopeId, resourceScope: a.directoryScopeId };
  }

  /** Any directory object by id, as the JSON its type has (for member lists). */
  objectJson(id: string): Json | undefined {
    const user = this.users.get(id);
    if (user) return this.userJson(user);
    const group = this.groups.get(id);
    return group ? this.groupJson(group) : undefined;
  }
}
