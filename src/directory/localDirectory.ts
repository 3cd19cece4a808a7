// The local directory: the Directory port served from a YAML file (directoryFile.ts), for
// embedded mode (`npm start` with no Graph credentials) and tests. Reads and writes behave
// like Microsoft Graph as the Graph adapter reports it: idempotent outcomes, `notFound` for
// missing objects, `invalid` for a role the service principal does not define.
//
// The YAML is the initial state. What the bot changes (direct user memberships, owners, app
// role assignments, directory role assignments) is saved to an optional state file after every write and laid over the
// YAML on the next start, so deliveries survive a restart. Nested groups are structure, not
// state: they always come from the YAML, which is why no write can create a group cycle.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open as openFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { TENANT_SCOPE } from '../domain/directoryRoles';
import { assignmentIdFor, type DirectoryFile, loadDirectoryFile, roleAssignmentIdFor } from './directoryFile';
import {
  type AddOutcome,
  type AppRoleAssignment,
  type Directory,
  type DirectoryGroup,
  DirectoryError,
  type DirectoryRoleAssignment,
  type DirectoryUser,
  type GroupRole,
  type RemoveOutcome,
  type ServicePrincipal,
} from './port';

export interface LocalDirectoryOptions {
  /** Where writes are saved (JSON); loaded over the YAML at construction when it exists. */
  stateFile?: string;
  /** Told about state entries dropped because the YAML no longer has what they refer to. */
  onWarning?: (message: string) => void;
}

interface LocalGroup {
  info: DirectoryGroup;
  /** Direct user members: mutable, saved. */
  users: Set<string>;
  /** Nested groups: from the YAML only. */
  nestedGroups: string[];
  owners: Set<string>;
}

/** A change applied in memory, and how to take it back if it cannot be saved. */
interface Change<T> {
  result: T;
  undo?: () => void;
}

// ---------------------------------------------------------------------------------------
// State file

const STATE_VERSION = 1;

const stateSchema = z.object({
  version: z.literal(STATE_VERSION),
  savedAt: z.string().optional(),
  groups: z.record(z.string(), z.object({ members: z.array(z.string()), owners: z.array(z.string()) })),
  servicePrincipals: z.record(
    z.string(),
    z.object({ appRoleAssignments: z.array(z.object({ id: z.string(), principalId: z.string(), appRoleId: z.string() })) }),
  ),
  // Absent in files saved before directory roles were delivered: the YAML's assignments then stand.
  directoryRoles: z.record(z.string(), z.object({ assignments: z.array(z.object({ id: z.string(), principalId: z.string() })) })).optional(),
});

type DirectoryState = z.infer<typeof stateSchema>;

// ---------------------------------------------------------------------------------------

export class LocalDirectory implements Directory {
  readonly kind = 'local';

  private readonly users = new Map<string, DirectoryUser>();
  private readonly userIdByUpn = new Map<string, string>();
  private readonly managerOf = new Map<string, string>();
  private readonly groups = new Map<string, LocalGroup>();
  private readonly servicePrincipals = new Map<string, ServicePrincipal>();
  /** Per service principal id: assignment id → assignment. */
  private readonly assignments = new Map<string, Map<string, AppRoleAssignment>>();
  /** Role definitions by id (lower case: Entra compares these GUIDs without case). */
  private readonly roleDefinitions = new Map<string, { id: string; displayName: string }>();
  /** Tenant-wide role assignments: assignment id → assignment. */
  private readonly roleAssignments = new Map<string, DirectoryRoleAssignment>();
  private readonly stateFile: string | undefined;
  private readonly warn: (message: string) => void;
  /** Tail of the write queue: each write waits for the previous one's save. */
  private writeQueue: Promise<unknown> = Promise.resolve();

  /** `file` must come from loadDirectoryFile/parseDirectoryFile (references already checked). */
  constructor(file: DirectoryFile, options: LocalDirectoryOptions = {}) {
    this.stateFile = options.stateFile;
    this.warn = options.onWarning ?? (() => undefined);
    this.loadFile(file);
    if (this.stateFile !== undefined) {
      const state = readStateFile(this.stateFile);
      if (state) this.applyState(state);
    }
  }

  static async open(options: { file: string } & LocalDirectoryOptions): Promise<LocalDirectory> {
    const { file, ...rest } = options;
    return new LocalDirectory(await loadDirectoryFile(file), rest);
  }

  // -------------------------------------------------------------------------------------
  // Reads

  async getUser(idOrUpn: string): Promise<DirectoryUser | null> {
    const id = this.users.has(idOrUpn) ? idOrUpn : this.userIdByUpn.get(idOrUpn.toLowerCase());
    const user = id === undefined ? undefined : this.users.get(id);
    return user ? { ...user } : null;
  }

  /** Null for a user without a manager and for an unknown user: Graph answers both with 404. */
  async getManager(userId: string): Promise<DirectoryUser | null> {
    const managerId = this.managerOf.get(userId);
    return managerId === undefined ? null : this.getUser(managerId);
  }

  async getGroup(groupId: string): Promise<DirectoryGroup | null> {
    const group = this.groups.get(groupId);
    return group ? { ...group.info } : null;
  }

  async getServicePrincipal(servicePrincipalId: string): Promise<ServicePrincipal | null> {
    const sp = this.servicePrincipals.get(servicePrincipalId);
    return sp ? { ...sp, appRoles: sp.appRoles.map((r) => ({ ...r })) } : null;
  }

  /** Unknown group ids are not an error, they are just not in the answer (as in Graph). */
  async checkMemberGroups(userId: string, groupIds: string[]): Promise<string[]> {
    this.requireUser(userId);
    const unique = [...new Set(groupIds)];
    return unique.filter((groupId) => this.groups.has(groupId) && this.transitiveUsers(groupId).has(userId));
  }

  async listTransitiveGroupMembers(groupId: string): Promise<string[]> {
    this.requireGroup(groupId);
    return [...this.transitiveUsers(groupId)];
  }

  async hasGroupRole(groupId: string, userId: string, role: GroupRole): Promise<boolean> {
    const group = this.requireGroup(groupId);
    this.requireUser(userId);
    return roleSet(group, role).has(userId);
  }

  async listAppRoleAssignments(servicePrincipalId: string, userId: string): Promise<AppRoleAssignment[]> {
    this.requireServicePrincipal(servicePrincipalId);
    this.requireUser(userId);
    return [...this.assignmentsOf(servicePrincipalId).values()].filter((a) => a.principalId === userId).map((a) => ({ ...a }));
  }

  async listDirectoryRoleAssignments(userId: string, roleDefinitionId: string): Promise<DirectoryRoleAssignment[]> {
    this.requireUser(userId);
    const role = this.requireRoleDefinition(roleDefinitionId);
    return [...this.roleAssignments.values()].filter((a) => a.principalId === userId && a.roleDefinitionId === role.id).map((a) => ({ ...a }));
  }

  // -------------------------------------------------------------------------------------
  // Writes

  addGroupRole(groupId: string, userId: string, role: GroupRole): Promise<AddOutcome> {
    return this.write(() => {
      const members = roleSet(this.requireGroup(groupId), role);
      this.requireUser(userId);
      if (members.has(userId)) return { result: 'alreadyPresent' };
      members.add(userId);
      return { result: 'added', undo: () => members.delete(userId) };
    });
  }

  removeGroupRole(groupId: string, userId: string, role: GroupRole): Promise<RemoveOutcome> {
    return this.write(() => {
      const group = this.requireGroup(groupId);
      const members = roleSet(group, role);
      this.requireUser(userId);
      if (!members.has(userId)) return { result: 'notPresent' };
      // Set.delete + add would move the user to the end; rebuild to keep the file stable on undo.
      const before = [...members];
      members.delete(userId);
      return { result: 'removed', undo: () => replaceSet(members, before) };
    });
  }

  addAppRoleAssignment(
    servicePrincipalId: string,
    userId: string,
    appRoleId: string,
  ): Promise<{ outcome: AddOutcome; assignment: AppRoleAssignment }> {
    return this.write<{ outcome: AddOutcome; assignment: AppRoleAssignment }>(() => {
      const sp = this.requireServicePrincipal(servicePrincipalId);
      this.requireUser(userId);
      if (!sp.appRoles.some((r) => r.id === appRoleId)) {
        throw new DirectoryError('invalid', `service principal '${servicePrincipalId}' has no app role '${appRoleId}'`);
      }
      const assignments = this.assignmentsOf(servicePrincipalId);
      const existing = [...assignments.values()].find((a) => a.principalId === userId && a.appRoleId === appRoleId);
      if (existing) return { result: { outcome: 'alreadyPresent', assignment: { ...existing } } };

      const assignment: AppRoleAssignment = { id: randomUUID(), principalId: userId, resourceId: servicePrincipalId, appRoleId };
      assignments.set(assignment.id, assignment);
      return { result: { outcome: 'added', assignment: { ...assignment } }, undo: () => assignments.delete(assignment.id) };
    });
  }

  /** An assignment id this service principal does not hold is `notPresent`, like Graph's 404 on delete. */
  removeAppRoleAssignment(servicePrincipalId: string, assignmentId: string): Promise<RemoveOutcome> {
    return this.write(() => {
      this.requireServicePrincipal(servicePrincipalId);
      const assignments = this.assignmentsOf(servicePrincipalId);
      const existing = assignments.get(assignmentId);
      if (!existing) return { result: 'notPresent' };
      const before = [...assignments.entries()];
      assignments.delete(assignmentId);
      return { result: 'removed', undo: () => replaceMap(assignments, before) };
    });
  }

  addDirectoryRoleAssignment(userId: string, roleDefinitionId: string): Promise<{ outcome: AddOutcome; assignment: DirectoryRoleAssignment }> {
    return this.write<{ outcome: AddOutcome; assignment: DirectoryRoleAssignment }>(() => {
      const role = this.requireRoleDefinition(roleDefinitionId);
      this.requireUser(userId);
      const existing = [...this.roleAssignments.values()].find((a) => a.principalId === userId && a.roleDefinitionId === role.id);
      if (existing) return { result: { outcome: 'alreadyPresent', assignment: { ...existing } } };
      const assignment: DirectoryRoleAssignment = { id: roleAssignmentIdFor(role.id, userId), principalId: userId, roleDefinitionId: role.id, directoryScopeId: TENANT_SCOPE };
      this.roleAssignments.set(assignment.id, assignment);
      return { result: { outcome: 'added', assignment: { ...assignment } }, undo: () => this.roleAssignments.delete(assignment.id) };
    });
  }

  /** An unknown assignment id is `notPresent`, like Graph's 404 on delete. */
  removeDirectoryRoleAssignment(assignmentId: string): Promise<RemoveOutcome> {
    return this.write(() => {
      if (!this.roleAssignments.has(assignmentId)) return { result: 'notPresent' };
      const before = [...this.roleAssignments.entries()];
      this.roleAssignments.delete(assignmentId);
      return { result: 'removed', undo: () => replaceMap(this.roleAssignments, before) };
    });
  }

  // -------------------------------------------------------------------------------------
  // Building

  private loadFile(file: DirectoryFile): void {
    for (const u of file.users) {
      this.users.set(u.id, toDirectoryUser(u));
      this.userIdByUpn.set(u.userPrincipalName.toLowerCase(), u.id);
      if (u.manager !== undefined) this.managerOf.set(u.id, u.manager);
    }
    const groupIds = new Set(file.groups.map((g) => g.id));
    for (const g of file.groups) {
      this.groups.set(g.id, {
        info: withoutUndefined({ id: g.id, displayName: g.displayName, description: g.description }),
        users: new Set(g.members.filter((m) => !groupIds.has(m))),
        nestedGroups: g.members.filter((m) => groupIds.has(m)),
        owners: new Set(g.owners),
      });
    }
    for (const sp of file.servicePrincipals) {
      this.servicePrincipals.set(sp.id, withoutUndefined({
        id: sp.id,
        appId: sp.appId,
        displayName: sp.displayName,
        appRoles: sp.appRoles.map((r) => withoutUndefined({ ...r })),
      }));
      const assignments = new Map<string, AppRoleAssignment>();
      for (const a of sp.appRoleAssignments) {
        const id = a.id ?? assignmentIdFor(sp.id, a.principalId, a.appRoleId);
        assignments.set(id, { id, principalId: a.principalId, resourceId: sp.id, appRoleId: a.appRoleId });
      }
      this.assignments.set(sp.id, assignments);
    }
    for (const role of file.directoryRoles) {
      this.roleDefinitions.set(role.id.toLowerCase(), { id: role.id, displayName: role.displayName });
      for (const a of role.assignments) {
        const id = a.id ?? roleAssignmentIdFor(role.id, a.principalId);
        this.roleAssignments.set(id, { id, principalId: a.principalId, roleDefinitionId: role.id, directoryScopeId: TENANT_SCOPE });
      }
    }
  }

  /**
   * Lays the saved state over the YAML's. Groups and service principals the state does not
   * mention (added to the YAML since) keep the YAML's initial state; entries naming objects
   * the YAML no longer has are dropped, since nothing could resolve them.
   */
  private applyState(state: DirectoryState): void {
    for (const [groupId, saved] of Object.entries(state.groups)) {
      const group = this.groups.get(groupId);
      if (!group) {
        this.warn(`directory state: group '${groupId}' is no longer in the directory file; its saved members are ignored`);
        continue;
      }
      replaceSet(group.users, this.knownUsers(saved.members, `members of '${groupId}'`));
      replaceSet(group.owners, this.knownUsers(saved.owners, `owners of '${groupId}'`));
    }
    for (const [spId, saved] of Object.entries(state.servicePrincipals)) {
      const sp = this.servicePrincipals.get(spId);
      const assignments = this.assignments.get(spId);
      if (!sp || !assignments) {
        this.warn(`directory state: service principal '${spId}' is no longer in the directory file; its saved assignments are ignored`);
        continue;
      }
      const roleIds = new Set(sp.appRoles.map((r) => r.id));
      const kept = saved.appRoleAssignments.filter((a) => {
        const ok = this.users.has(a.principalId) && roleIds.has(a.appRoleId);
        if (!ok) this.warn(`directory state: dropped assignment '${a.id}' on '${spId}' (unknown user or app role)`);
        return ok;
      });
      replaceMap(assignments, kept.map((a) => [a.id, { ...a, resourceId: spId }]));
    }
    if (state.directoryRoles) {
      // The state has every role's assignments as saved; roles the YAML added since keep the YAML's.
      const saved = new Map(Object.entries(state.directoryRoles));
      const kept: DirectoryRoleAssignment[] = [...this.roleAssignments.values()].filter((a) => !saved.has(a.roleDefinitionId));
      for (const [roleId, entry] of saved) {
        const role = this.roleDefinitions.get(roleId.toLowerCase());
        if (!role) {
          this.warn(`directory state: role definition '${roleId}' is no longer in the directory file; its saved assignments are ignored`);
          continue;
        }
        for (const a of entry.assignments) {
          if (this.users.has(a.principalId)) kept.push({ id: a.id, principalId: a.principalId, roleDefinitionId: role.id, directoryScopeId: TENANT_SCOPE });
          else this.warn(`directory state: dropped role assignment '${a.id}' of '${roleId}' (unknown user '${a.principalId}')`);
        }
      }
      replaceMap(this.roleAssignments, kept.map((a) => [a.id, a]));
    }
  }

  private knownUsers(ids: string[], what: string): string[] {
    const unknown = ids.filter((id) => !this.users.has(id));
    if (unknown.length > 0) this.warn(`directory state: dropped unknown users from ${what}: ${unknown.join(', ')}`);
    return ids.filter((id) => this.users.has(id));
  }

  // -------------------------------------------------------------------------------------
  // Helpers

  /** Users in the group or any group nested in it; `seen` guards against cycles regardless. */
  private transitiveUsers(groupId: string, seen = new Set<string>(), out = new Set<string>()): Set<string> {
    const group = this.groups.get(groupId);
    if (!group || seen.has(groupId)) return out;
    seen.add(groupId);
    for (const userId of group.users) out.add(userId);
    for (const nested of group.nestedGroups) this.transitiveUsers(nested, seen, out);
    return out;
  }

  private requireUser(userId: string): DirectoryUser {
    const user = this.users.get(userId);
    if (!user) throw new DirectoryError('notFound', `user '${userId}' does not exist`);
    return user;
  }

  private requireGroup(groupId: string): LocalGroup {
    const group = this.groups.get(groupId);
    if (!group) throw new DirectoryError('notFound', `group '${groupId}' does not exist`);
    return group;
  }

  private requireServicePrincipal(servicePrincipalId: string): ServicePrincipal {
    const sp = this.servicePrincipals.get(servicePrincipalId);
    if (!sp) throw new DirectoryError('notFound', `service principal '${servicePrincipalId}' does not exist`);
    return sp;
  }

  private requireRoleDefinition(roleDefinitionId: string): { id: string; displayName: string } {
    const role = this.roleDefinitions.get(roleDefinitionId.toLowerCase());
    if (!role) throw new DirectoryError('notFound', `role definition '${roleDefinitionId}' does not exist`);
    return role;
  }

  private assignmentsOf(servicePrincipalId: string): Map<string, AppRoleAssignment> {
    let assignments = this.assignments.get(servicePrincipalId);
    if (!assignments) {
      assignments = new Map();
      this.assignments.set(servicePrincipalId, assignments);
    }
    return assignments;
  }

  /**
   * Runs writes one at a time: each applies its change and saves before the next starts, so
   * concurrent calls can neither interleave their saves (an older snapshot landing last) nor
   * decide their outcome on state another write is halfway through. A change that cannot be
   * saved is undone, so memory never claims what the disk lost.
   */
  private write<T>(change: () => Change<T>): Promise<T> {
    const run = this.writeQueue.then(async () => {
      const { result, undo } = change();
      if (undo && this.stateFile !== undefined) {
        try {
          await writeFileAtomic(this.stateFile, JSON.stringify(this.snapshot(), null, 2));
        } catch (error) {
          undo();
          throw new DirectoryError('unavailable', `could not save the directory state to ${this.stateFile}: ${(error as Error).message}`);
        }
      }
      return result;
    });
    // The queue must go on after a failed write; the caller still sees the failure via `run`.
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  private snapshot(): DirectoryState {
    const groups: DirectoryState['groups'] = {};
    for (const [id, g] of this.groups) groups[id] = { members: [...g.users], owners: [...g.owners] };
    const servicePrincipals: DirectoryState['servicePrincipals'] = {};
    for (const [id, assignments] of this.assignments) {
      servicePrincipals[id] = {
        appRoleAssignments: [...assignments.values()].map(({ id: aid, principalId, appRoleId }) => ({ id: aid, principalId, appRoleId })),
      };
    }
    const directoryRoles: NonNullable<DirectoryState['directoryRoles']> = {};
    for (const role of this.roleDefinitions.values()) directoryRoles[role.id] = { assignments: [] };
    for (const a of this.roleAssignments.values()) directoryRoles[a.roleDefinitionId]?.assignments.push({ id: a.id, principalId: a.principalId });
    return { version: STATE_VERSION, savedAt: new Date().toISOString(), groups, servicePrincipals, directoryRoles };
  }
}

// ---------------------------------------------------------------------------------------

function toDirectoryUser(u: DirectoryFile['users'][number]): DirectoryUser {
  return withoutUndefined({
    id: u.id,
    displayName: u.displayName,
    userPrincipalName: u.userPrincipalName,
    mail: u.mail,
    jobTitle: u.jobTitle,
    department: u.department,
    userType: u.userType,
    accountEnabled: u.accountEnabled,
  });
}

function roleSet(group: LocalGroup, role: GroupRole): Set<string> {
  return role === 'owner' ? group.owners : group.users;
}

function replaceSet<T>(set: Set<T>, values: Iterable<T>): void {
  set.clear();
  for (const v of values) set.add(v);
}

function replaceMap<K, V>(map: Map<K, V>, entries: Iterable<readonly [K, V]>): void {
  map.clear();
  for (const [k, v] of entries) map.set(k, v);
}

/** Drops absent optional fields, so results compare equal to objects that never had them. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads the saved state, or undefined when there is none yet. A state file that is there but
 * unreadable stops the start: carrying on would overwrite it with the YAML's state at the
 * first write and silently lose every delivery it records.
 */
function readStateFile(path: string): DirectoryState | undefined {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: cannot read the directory state: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (error) {
    throw new Error(`${path}: the directory state is not valid JSON (${(error as Error).message}); fix or delete it`);
  }
  const parsed = stateSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
    throw new Error(`${path}: the directory state is not in the expected format${where}: ${first?.message ?? ''}; fix or delete it`);
  }
  return parsed.data;
}

/** Writes a temporary file next to `path`, flushes it, then renames it over `path`: all or nothing. */
async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  try {
    const handle = await openFile(temp, 'w');
    try {
      await handle.writeFile(content, 'utf8');
      // Flushed before the rename, so a crash cannot leave the new name on unwritten data.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
