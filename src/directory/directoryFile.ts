// The local directory file (LOCAL_DIRECTORY_FILE, DESIGN.md §5): users, groups with nested
// members, service principals with app roles, managers, and Entra directory roles with the
// users who hold them, standing in for Entra ID when
// the bot runs without Graph credentials. Example: examples/directory.yaml.
//
// Validation runs in three passes, each collecting every error it finds so an admin can fix
// the file in one go: YAML syntax, the shape of each entry (zod), then the references
// between entries (duplicate ids, unknown users/groups/roles, groups nested in themselves).
// Every error is located: file, line, column, path.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { compareLocated, formatLocatedError, formatPath, type LocatedError, locatePath, type Path, positionOf } from '../yamlLocation';

export { formatLocatedError as formatIssue } from '../yamlLocation';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------
// Schema

// Ids are opaque: Entra object ids are GUIDs, but the Playground's mock ids are not quite
// (their last block has 13 digits), and readable ids like `u-lola` keep examples legible.
const id = z.string().trim().min(1, 'must not be empty');
const text = z.string().trim().min(1, 'must not be empty');

const userSchema = z.strictObject({
  id,
  displayName: text,
  userPrincipalName: text,
  mail: text.optional(),
  jobTitle: text.optional(),
  department: text.optional(),
  userType: z.enum(['Member', 'Guest']).default('Member'),
  accountEnabled: z.boolean().default(true),
  /** The manager's user id. */
  manager: id.optional(),
});

const groupSchema = z.strictObject({
  id,
  displayName: text,
  description: text.optional(),
  /** User ids and group ids: a group listed here is nested, its members are members too. */
  members: z.array(id).default([]),
  /** User ids. */
  owners: z.array(id).default([]),
});

const appRoleSchema = z.strictObject({
  id,
  displayName: text,
  value: text.optional(),
  description: text.optional(),
});

const appRoleAssignmentSchema = z.strictObject({
  /** Optional: when absent a stable id is derived, so it survives restarts (see assignmentIdFor). */
  id: id.optional(),
  principalId: id,
  appRoleId: id,
});

const servicePrincipalSchema = z.strictObject({
  id,
  appId: text.optional(),
  displayName: text,
  appRoles: z.array(appRoleSchema).default([]),
  appRoleAssignments: z.array(appRoleAssignmentSchema).default([]),
});

const directoryRoleAssignmentSchema = z.strictObject({
  /** Optional: when absent a stable id is derived (see roleAssignmentIdFor). */
  id: id.optional(),
  /** A user id: the user holds the role at tenant scope ("/"). */
  principalId: id,
});

/** An Entra role definition (Graph's unifiedRoleDefinition) and its tenant-wide assignments. */
const directoryRoleSchema = z.strictObject({
  /** The role definition id: a built-in role's template id (the same in every tenant), or a custom role's id. */
  id,
  displayName: text,
  description: text.optional(),
  assignments: z.array(directoryRoleAssignmentSchema).default([]),
});

export const directoryFileSchema = z.strictObject({
  users: z.array(userSchema).default([]),
  groups: z.array(groupSchema).default([]),
  servicePrincipals: z.array(servicePrincipalSchema).default([]),
  directoryRoles: z.array(directoryRoleSchema).default([]),
});

export type DirectoryFile = z.output<typeof directoryFileSchema>;
export type DirectoryFileUser = DirectoryFile['users'][number];
export type DirectoryFileGroup = DirectoryFile['groups'][number];
export type DirectoryFileServicePrincipal = DirectoryFile['servicePrincipals'][number];
export type DirectoryFileRole = DirectoryFile['directoryRoles'][number];

// ---------------------------------------------------------------------------------------
// Errors

/** e.g. path `groups[2].members[0]`. */
export type DirectoryFileIssue = LocatedError;

/** Thrown by the loaders; `issues` holds every problem found, in file order. */
export class DirectoryFileError extends Error {
  constructor(readonly issues: DirectoryFileIssue[]) {
    super(`Invalid directory file:\n${issues.map((i) => `  ${formatLocatedError(i)}`).join('\n')}`);
    this.name = 'DirectoryFileError';
  }
}

interface UnlocatedIssue {
  path: Path;
  message: string;
}

// ---------------------------------------------------------------------------------------
// Loading

/** Reads, parses and validates the directory file; throws DirectoryFileError on any problem. */
export async function loadDirectoryFile(path: string): Promise<DirectoryFile> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    throw new DirectoryFileError([{ file: path, path: '', message: readErrorMessage(error) }]);
  }
  return parseDirectoryFile(content, path);
}

/** Parses and validates directory YAML; `fileName` is only used in error messages. */
export function parseDirectoryFile(content: string, fileName: string): DirectoryFile {
  const lineCounter = new LineCounter();
  // prettyErrors off: we add the position ourselves, in the same format as every other error.
  const doc = parseDocument(content, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new DirectoryFileError(
      doc.errors.map((e) => ({ file: fileName, path: '', ...positionOf(lineCounter, e.pos[0]), message: e.message })),
    );
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // e.g. an alias to nothing, or an alias bomb.
    throw new DirectoryFileError([{ file: fileName, path: '', message: (error as Error).message }]);
  }
  // An empty file is a valid, empty directory: every section defaults to [].
  // reportInput: lets schemaIssues tell a missing field from a wrong one.
  const parsed = directoryFileSchema.safeParse(data ?? {}, { reportInput: true });
  const locate = (issues: UnlocatedIssue[]): DirectoryFileIssue[] =>
    issues
      .map((i) => ({ file: fileName, path: formatPath(i.path), ...locatePath(doc, lineCounter, i.path, 'value'), message: i.message }))
      .sort(compareLocated);

  if (!parsed.success) {
    throw new DirectoryFileError(locate(parsed.error.issues.flatMap(schemaIssues)));
  }
  const problems = checkReferences(parsed.data);
  if (problems.length > 0) throw new DirectoryFileError(locate(problems));
  return parsed.data;
}

/**
 * The id of an assignment given in the file without one. Derived from what it assigns, not
 * random, so it is the same on every start: callers (the grant ledger) keep assignment ids.
 */
export function assignmentIdFor(servicePrincipalId: string, principalId: string, appRoleId: string): string {
  const hex = createHash('sha256').update(`${servicePrincipalId}\n${principalId}\n${appRoleId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The id of a role assignment given in the file without one, and of every role assignment the
 * local directory makes. Derived from what it assigns (a user holds a role at tenant scope at
 * most once), shaped like Graph's: 43 base64url characters and a "-1" suffix.
 */
export function roleAssignmentIdFor(roleDefinitionId: string, principalId: string): string {
  return `${createHash('sha256').update(`role\n${roleDefinitionId}\n${principalId}`).digest('base64url').slice(0, 43)}-1`;
}

// ---------------------------------------------------------------------------------------
// Reference checks

function checkReferences(file: DirectoryFile): UnlocatedIssue[] {
  return [
    ...checkUniqueIds(file),
    ...checkUniqueUserPrincipalNames(file),
    ...checkManagers(file),
    ...checkGroups(file),
    ...findGroupCycles(file),
    ...checkServicePrincipals(file),
    ...checkDirectoryRoles(file),
  ];
}

/** Users, groups and service principals share one object-id space, as in Entra. */
function checkUniqueIds(file: DirectoryFile): UnlocatedIssue[] {
  const firstSeen = new Map<string, string>();
  const issues: UnlocatedIssue[] = [];
  const visit = (objectId: string, path: Path): void => {
    const earlier = firstSeen.get(objectId);
    if (earlier === undefined) firstSeen.set(objectId, formatPath(path));
    else issues.push({ path: [...path, 'id'], message: `duplicate id '${objectId}' (already used by ${earlier})` });
  };
  file.users.forEach((u, i) => visit(u.id, ['users', i]));
  file.groups.forEach((g, i) => visit(g.id, ['groups', i]));
  file.servicePrincipals.forEach((sp, i) => visit(sp.id, ['servicePrincipals', i]));
  return issues;
}

/** getUser looks users up by UPN, case-insensitively, so two UPNs must not differ only by case. */
function checkUniqueUserPrincipalNames(file: DirectoryFile): UnlocatedIssue[] {
  const firstSeen = new Map<string, number>();
  const issues: UnlocatedIssue[] = [];
  file.users.forEach((u, i) => {
    const key = u.userPrincipalName.toLowerCase();
    const earlier = firstSeen.get(key);
    if (earlier === undefined) firstSeen.set(key, i);
    else issues.push({ path: ['users', i, 'userPrincipalName'], message: `duplicate userPrincipalName '${u.userPrincipalName}' (already used by users[${earlier}])` });
  });
  return issues;
}

function checkManagers(file: DirectoryFile): UnlocatedIssue[] {
  const userIds = new Set(file.users.map((u) => u.id));
  const issues: UnlocatedIssue[] = [];
  file.users.forEach((u, i) => {
    if (u.manager === undefined) return;
    const path = ['users', i, 'manager'];
    if (u.manager === u.id) issues.push({ path, message: 'a user cannot be their own manager' });
    else if (!userIds.has(u.manager)) issues.push({ path, message: `unknown user '${u.manager}'${describeOther(file, u.manager)}` });
  });
  return issues;
}

function checkGroups(file: DirectoryFile): UnlocatedIssue[] {
  const userIds = new Set(file.users.map((u) => u.id));
  const groupIds = new Set(file.groups.map((g) => g.id));
  const issues: UnlocatedIssue[] = [];
  file.groups.forEach((g, gi) => {
    checkList(g.members, ['groups', gi, 'members'], 'member', issues, (ref) =>
      userIds.has(ref) || groupIds.has(ref) ? undefined : `unknown member '${ref}': not a user or group id${describeOther(file, ref)}`,
    );
    checkList(g.owners, ['groups', gi, 'owners'], 'owner', issues, (ref) =>
      userIds.has(ref) ? undefined : `unknown owner '${ref}': owners must be user ids${describeOther(file, ref)}`,
    );
  });
  return issues;
}

/** Reports each entry `problem` finds, and entries listed twice. */
function checkList(
  refs: string[],
  path: Path,
  what: string,
  issues: UnlocatedIssue[],
  problem: (ref: string) => string | undefined,
): void {
  const seen = new Set<string>();
  refs.forEach((ref, i) => {
    const message = seen.has(ref) ? `${what} '${ref}' is listed twice` : problem(ref);
    if (message !== undefined) issues.push({ path: [...path, i], message });
    seen.add(ref);
  });
}

/**
 * A group that contains itself, directly or through nested groups, has no meaningful
 * membership (Entra refuses it too). Each cycle is reported once, at the member entry that
 * closes it, with the whole loop spelled out.
 */
function findGroupCycles(file: DirectoryFile): UnlocatedIssue[] {
  const indexById = new Map(file.groups.map((g, i) => [g.id, i]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const issues: UnlocatedIssue[] = [];

  const visit = (groupId: string): void => {
    state.set(groupId, 'visiting');
    stack.push(groupId);
    const gi = indexById.get(groupId) ?? -1;
    file.groups[gi]?.members.forEach((member, mi) => {
      if (!indexById.has(member)) return;
      const memberState = state.get(member);
      if (memberState === 'visiting') {
        const loop = [...stack.slice(stack.indexOf(member)), member].join(' → ');
        issues.push({ path: ['groups', gi, 'members', mi], message: `group '${member}' contains itself: ${loop}` });
      } else if (memberState === undefined) {
        visit(member);
      }
    });
    stack.pop();
    state.set(groupId, 'done');
  };

  for (const g of file.groups) if (!state.has(g.id)) visit(g.id);
  return issues;
}

function checkServicePrincipals(file: DirectoryFile): UnlocatedIssue[] {
  const userIds = new Set(file.users.map((u) => u.id));
  const issues: UnlocatedIssue[] = [];
  file.servicePrincipals.forEach((sp, si) => {
    const roleIds = new Set<string>();
    sp.appRoles.forEach((role, ri) => {
      if (roleIds.has(role.id)) issues.push({ path: ['servicePrincipals', si, 'appRoles', ri, 'id'], message: `duplicate app role id '${role.id}'` });
      roleIds.add(role.id);
    });

    const seen = new Set<string>();
    sp.appRoleAssignments.forEach((a, ai) => {
      const path = ['servicePrincipals', si, 'appRoleAssignments', ai];
      // Group principals are possible in Entra, but the port only reads users' assignments.
      if (!userIds.has(a.principalId)) {
        issues.push({ path: [...path, 'principalId'], message: `unknown user '${a.principalId}'${describeOther(file, a.principalId)}` });
      }
      if (!roleIds.has(a.appRoleId)) {
        const known = [...roleIds].map((r) => `'${r}'`).join(', ') || 'none';
        issues.push({ path: [...path, 'appRoleId'], message: `'${sp.id}' has no app role '${a.appRoleId}' (its roles: ${known})` });
      }
      const key = `${a.principalId}\n${a.appRoleId}`;
      if (seen.has(key)) issues.push({ path, message: `'${a.principalId}' is assigned '${a.appRoleId}' twice` });
      seen.add(key);
    });
  });
  return issues;
}

function checkDirectoryRoles(file: DirectoryFile): UnlocatedIssue[] {
  const userIds = new Set(file.users.map((u) => u.id));
  const issues: UnlocatedIssue[] = [];
  const firstSeen = new Map<string, number>();
  file.directoryRoles.forEach((role, ri) => {
    // Role definition ids are GUIDs in Entra, compared without regard to case.
    const key = role.id.toLowerCase();
    const earlier = firstSeen.get(key);
    if (earlier === undefined) firstSeen.set(key, ri);
    else issues.push({ path: ['directoryRoles', ri, 'id'], message: `duplicate role definition id '${role.id}' (already used by directoryRoles[${earlier}])` });
    checkList(role.assignments.map((a) => a.principalId), ['directoryRoles', ri, 'assignments'], 'principal', issues, (ref) =>
      // Role-assignable groups can hold roles in Entra, but delivery only reads users' own assignments.
      userIds.has(ref) ? undefined : `unknown user '${ref}': a role is assigned to user ids here${describeOther(file, ref)}`,
    );
  });
  return issues;
}

/** Says what an id is when it exists but is the wrong kind of object, e.g. a group as manager. */
function describeOther(file: DirectoryFile, objectId: string): string {
  if (file.groups.some((g) => g.id === objectId)) return ` ('${objectId}' is a group)`;
  if (file.servicePrincipals.some((sp) => sp.id === objectId)) return ` ('${objectId}' is a service principal)`;
  return '';
}


/** zod's issue in the file's terms: "required" for a missing field, one issue per unknown key. */
function schemaIssues(issue: z.core.$ZodIssue): UnlocatedIssue[] {
  const path = issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment)));
  if (issue.code === 'unrecognized_keys') {
    // Usually a typo (the Playground's own files say `userPrincipleName`): point at the key.
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown field '${key}'` }));
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return [{ path, message: 'is required' }];
  return [{ path, message: issue.message }];
}

function readErrorMessage(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory, not a directory file';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}
