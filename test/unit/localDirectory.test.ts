import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DirectoryFile,
  DirectoryFileError,
  type DirectoryFileIssue,
  formatIssue,
  loadDirectoryFile,
  parseDirectoryFile,
} from '../../src/directory/directoryFile';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { DirectoryError } from '../../src/directory/port';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'directory.yaml');

// The Microsoft 365 Agents Playground's built-in mock data (@microsoft/m365agentsplayground
// 0.2.28, ConfigManager's default config). The bot sees these as activity.from.aadObjectId.
const PLAYGROUND_USERS = [
  { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber', upn: 'alexw@example.com' },
  { aadObjectId: '00000000-0000-0000-0000-0000000000021', name: 'Megan Bowen', upn: 'meganb@example.com' },
  { aadObjectId: '00000000-0000-0000-0000-0000000000022', name: 'Adele Vance', upn: 'adelev@example.com' },
  { aadObjectId: '00000000-0000-0000-0000-0000000000023', name: 'Isaiah Langer', upn: 'isaiah@example.com' },
  { aadObjectId: '00000000-0000-0000-0000-0000000000024', name: 'Patti Fernandez', upn: 'pattif@example.com' },
  { aadObjectId: '00000000-0000-0000-0000-0000000000025', name: 'Lynne Robbins', upn: 'lynner@example.com' },
];
const ALEX = '00000000-0000-0000-0000-0000000000020';
const PATTI = '00000000-0000-0000-0000-0000000000024';
const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';
const INTUNE_ADMIN = '3a2c62db-5318-420d-8d74-23affee5d9d5';

/** Removes the indentation of a template literal so YAML can be written inline. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ''), '');
  const lines = text.replace(/^\n/, '').replace(/\n\s*$/, '\n').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** 1-based line of the first line containing `snippet`. */
function lineOf(text: string, snippet: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(snippet));
  if (index < 0) throw new Error(`snippet not found: ${snippet}`);
  return index + 1;
}

/** 1-based line and column where `snippet` first occurs. */
function positionOf(text: string, snippet: string): { line: number; column: number } {
  const line = lineOf(text, snippet);
  return { line, column: (text.split('\n')[line - 1] ?? '').indexOf(snippet) + 1 };
}

function issuesOf(text: string): DirectoryFileIssue[] {
  try {
    parseDirectoryFile(text, 'directory.yaml');
  } catch (error) {
    if (error instanceof DirectoryFileError) return error.issues;
    throw error;
  }
  throw new Error('expected the file to be rejected');
}

async function expectDirectoryError(promise: Promise<unknown>, kind: DirectoryError['kind']): Promise<DirectoryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DirectoryError);
  expect((error as DirectoryError).kind).toBe(kind);
  return error as DirectoryError;
}

// A small valid directory the error tests break one thing at a time.
const BASE = yaml`
  users:
    - { id: u-a, displayName: A, userPrincipalName: a@example.com }
    - { id: u-b, displayName: B, userPrincipalName: b@example.com, manager: u-a }
  groups:
    - { id: g-1, displayName: One, members: [u-a, g-2], owners: [u-a] }
    - { id: g-2, displayName: Two, members: [u-b], owners: [] }
  servicePrincipals:
    - id: sp-1
      displayName: App
      appRoles: [{ id: r-1, displayName: User }]
      appRoleAssignments: [{ principalId: u-a, appRoleId: r-1 }]
  directoryRoles:
    - { id: role-1, displayName: Reader, assignments: [{ principalId: u-b }] }
`;

describe('directory file', () => {
  it('loads the example directory', async () => {
    const file = await loadDirectoryFile(EXAMPLE);
    expect(file.users.length).toBeGreaterThanOrEqual(12);
    expect(file.groups.map((g) => g.id)).toEqual(
      expect.arrayContaining(['grp-finance', 'grp-finance-approvers', 'grp-all-staff', 'grp-it-admins', 'grp-executives']),
    );
    expect(file.servicePrincipals.map((sp) => sp.id)).toEqual(['sp-accounting', 'sp-vat']);
  });

  it('applies defaults: Member, enabled, empty lists', () => {
    const file = parseDirectoryFile(
      yaml`
        users: [{ id: u, displayName: U, userPrincipalName: u@example.com }]
        groups: [{ id: g, displayName: G }]
        servicePrincipals: [{ id: sp, displayName: SP }]
      `,
      'd.yaml',
    );
    expect(file.users[0]).toMatchObject({ userType: 'Member', accountEnabled: true });
    expect(file.groups[0]).toMatchObject({ members: [], owners: [] });
    expect(file.servicePrincipals[0]).toMatchObject({ appRoles: [], appRoleAssignments: [] });
  });

  it('accepts an empty file as an empty directory', () => {
    expect(parseDirectoryFile('', 'd.yaml')).toEqual({ users: [], groups: [], servicePrincipals: [], directoryRoles: [] });
  });

  it('reports a missing file', async () => {
    await expect(loadDirectoryFile('/nonexistent/directory.yaml')).rejects.toThrow('/nonexistent/directory.yaml: file not found');
  });

  it('reports YAML syntax errors with their line', () => {
    const text = 'users:\n  - id: u\n   displayName: [unclosed\n';
    const [issue] = issuesOf(text);
    expect(issue).toMatchObject({ file: 'directory.yaml', path: '' });
    expect(issue?.line).toBeGreaterThanOrEqual(2);
  });

  it('reports schema errors at the offending field, with line and column', () => {
    const text = yaml`
      users:
        - id: u-a
          displayName: A
          userPrincipalName: a@example.com
          userType: Visitor
    `;
    const issues = issuesOf(text);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'users[0].userType', ...positionOf(text, 'Visitor') });
    expect(issues[0]?.message).toContain('Member');
  });

  it('says "is required" for a missing field, located at its entry', () => {
    const text = yaml`
      users:
        - id: u-a
          userPrincipalName: a@example.com
    `;
    expect(issuesOf(text)).toEqual([
      { file: 'directory.yaml', path: 'users[0].displayName', line: lineOf(text, 'id: u-a'), column: 5, message: 'is required' },
    ]);
  });

  it('names unknown fields (typos) at the field', () => {
    const text = yaml`
      users:
        - id: u-a
          displayName: A
          userPrincipleName: a@example.com
    `;
    const issues = issuesOf(text);
    expect(issues).toContainEqual(expect.objectContaining({ path: 'users[0].userPrincipleName', line: 4, message: "unknown field 'userPrincipleName'" }));
    expect(issues).toContainEqual(expect.objectContaining({ path: 'users[0].userPrincipalName', message: 'is required' }));
  });

  it('formats issues as file:line:col: path: message', () => {
    const text = BASE.replace('manager: u-a', 'manager: u-zz');
    const { line, column } = positionOf(text, 'u-zz');
    const [issue] = issuesOf(text);
    expect(formatIssue(issue as DirectoryFileIssue)).toBe(`directory.yaml:${line}:${column}: users[1].manager: unknown user 'u-zz'`);
  });

  it('collects every problem, in file order, into one error message', () => {
    const text = BASE.replace('manager: u-a', 'manager: u-zz').replace('members: [u-b]', 'members: [u-yy]');
    let error: unknown;
    try {
      parseDirectoryFile(text, 'directory.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DirectoryFileError);
    const issues = (error as DirectoryFileError).issues;
    expect(issues.map((i) => i.path)).toEqual(['users[1].manager', 'groups[1].members[0]']);
    expect((error as Error).message).toContain('directory.yaml:3:');
    expect((error as Error).message).toContain("unknown member 'u-yy'");
  });

  describe('reference checks', () => {
    it('accepts the base fixture', () => {
      expect(() => parseDirectoryFile(BASE, 'd.yaml')).not.toThrow();
    });

    it.each([
      ['a duplicate user id', BASE.replace('id: u-b,', 'id: u-a,'), 'users[1].id', "duplicate id 'u-a' (already used by users[0])"],
      ['an id shared by a user and a group', BASE.replace('id: g-2,', 'id: u-b,').replace('g-2]', 'u-b]'), 'groups[1].id', "duplicate id 'u-b' (already used by users[1])"],
      ['a duplicate UPN differing in case', BASE.replace('b@example.com', 'A@Example.com'), 'users[1].userPrincipalName', "duplicate userPrincipalName 'A@Example.com' (already used by users[0])"],
      ['an unknown manager', BASE.replace('manager: u-a', 'manager: u-zz'), 'users[1].manager', "unknown user 'u-zz'"],
      ['a group as manager', BASE.replace('manager: u-a', 'manager: g-1'), 'users[1].manager', "unknown user 'g-1' ('g-1' is a group)"],
      ['a user managing themself', BASE.replace('manager: u-a', 'manager: u-b'), 'users[1].manager', 'a user cannot be their own manager'],
      ['an unknown member', BASE.replace('members: [u-b]', 'members: [u-zz]'), 'groups[1].members[0]', "unknown member 'u-zz': not a user or group id"],
      ['a service principal as member', BASE.replace('members: [u-b]', 'members: [sp-1]'), 'groups[1].members[0]', "unknown member 'sp-1': not a user or group id ('sp-1' is a service principal)"],
      ['a member listed twice', BASE.replace('members: [u-b]', 'members: [u-b, u-b]'), 'groups[1].members[1]', "member 'u-b' is listed twice"],
      ['an unknown owner', BASE.replace('owners: [u-a]', 'owners: [u-zz]'), 'groups[0].owners[0]', "unknown owner 'u-zz': owners must be user ids"],
      ['a group as owner', BASE.replace('owners: [u-a]', 'owners: [g-2]'), 'groups[0].owners[0]', "unknown owner 'g-2': owners must be user ids ('g-2' is a group)"],
      ['an unknown principalId', BASE.replace('principalId: u-a', 'principalId: u-zz'), 'servicePrincipals[0].appRoleAssignments[0].principalId', "unknown user 'u-zz'"],
      ['an unknown appRoleId', BASE.replace('appRoleId: r-1', 'appRoleId: r-9'), 'servicePrincipals[0].appRoleAssignments[0].appRoleId', "'sp-1' has no app role 'r-9' (its roles: 'r-1')"],
      ['a duplicate app role id', BASE.replace('[{ id: r-1, displayName: User }]', '[{ id: r-1, displayName: User }, { id: r-1, displayName: Admin }]'), 'servicePrincipals[0].appRoles[1].id', "duplicate app role id 'r-1'"],
      [
        'a duplicate assignment',
        BASE.replace('[{ principalId: u-a, appRoleId: r-1 }]', '[{ principalId: u-a, appRoleId: r-1 }, { principalId: u-a, appRoleId: r-1 }]'),
        'servicePrincipals[0].appRoleAssignments[1]',
        "'u-a' is assigned 'r-1' twice",
      ],
      ['a group holding a directory role', BASE.replace('principalId: u-b }', 'principalId: g-1 }'), 'directoryRoles[0].assignments[0]', "unknown user 'g-1': a role is assigned to user ids here ('g-1' is a group)"],
      ['a role holder listed twice', BASE.replace('[{ principalId: u-b }]', '[{ principalId: u-b }, { principalId: u-b }]'), 'directoryRoles[0].assignments[1]', "principal 'u-b' is listed twice"],
      [
        'a role definition id listed twice, differing in case',
        `${BASE}  - { id: ROLE-1, displayName: Other }\n`,
        'directoryRoles[1].id',
        "duplicate role definition id 'ROLE-1' (already used by directoryRoles[0])",
      ],
    ])('rejects %s, located', (_name, text, path, message) => {
      const issues = issuesOf(text);
      expect(issues).toContainEqual(expect.objectContaining({ file: 'directory.yaml', path, message }));
      const issue = issues.find((i) => i.path === path);
      expect(issue?.line).toBeGreaterThan(0);
      expect(issue?.column).toBeGreaterThan(0);
    });

    it('rejects a group that contains itself directly', () => {
      const text = BASE.replace('members: [u-b]', 'members: [u-b, g-2]');
      expect(issuesOf(text)).toEqual([
        expect.objectContaining({ path: 'groups[1].members[1]', line: lineOf(text, 'id: g-2'), message: "group 'g-2' contains itself: g-2 → g-2" }),
      ]);
    });

    it('rejects a cycle through nested groups once, at the entry that closes it', () => {
      const text = yaml`
        users: [{ id: u, displayName: U, userPrincipalName: u@example.com }]
        groups:
          - id: g-a
            displayName: A
            members: [u, g-b]
          - id: g-b
            displayName: B
            members:
              - g-c
          - id: g-c
            displayName: C
            members:
              - u
              - g-a
      `;
      const issues = issuesOf(text);
      expect(issues).toEqual([
        {
          file: 'directory.yaml',
          path: 'groups[2].members[1]',
          // At the value after '- ', where the loop closes.
          line: lineOf(text, '- g-a'),
          column: positionOf(text, '- g-a').column + 2,
          message: "group 'g-a' contains itself: g-a → g-b → g-c → g-a",
        },
      ]);
    });

    it('allows the same group nested along two paths (a diamond is not a cycle)', () => {
      const text = yaml`
        users: [{ id: u, displayName: U, userPrincipalName: u@example.com }]
        groups:
          - { id: top, displayName: Top, members: [left, right] }
          - { id: left, displayName: Left, members: [bottom] }
          - { id: right, displayName: Right, members: [bottom] }
          - { id: bottom, displayName: Bottom, members: [u] }
      `;
      expect(() => parseDirectoryFile(text, 'd.yaml')).not.toThrow();
    });
  });
});

describe('LocalDirectory (example directory)', () => {
  let directory: LocalDirectory;
  beforeEach(async () => {
    directory = await LocalDirectory.open({ file: EXAMPLE });
  });

  it('is a local directory', () => {
    expect(directory.kind).toBe('local');
  });

  it.each(PLAYGROUND_USERS)('has the Playground user $name under its real aadObjectId', async ({ aadObjectId, name, upn }) => {
    const user = await directory.getUser(aadObjectId);
    expect(user).toMatchObject({ id: aadObjectId, displayName: name, userPrincipalName: upn, userType: 'Member', accountEnabled: true });
  });

  it('finds users by UPN, case-insensitively', async () => {
    expect((await directory.getUser('alexw@example.com'))?.id).toBe(ALEX);
    expect((await directory.getUser('AlexW@EXAMPLE.com'))?.id).toBe(ALEX);
    expect((await directory.getUser('LOLAM@example.com'))?.id).toBe('u-lola');
    expect(await directory.getUser('nobody@example.com')).toBeNull();
    expect(await directory.getUser('u-nobody')).toBeNull();
  });

  it('returns the full user, without absent optional fields', async () => {
    expect(await directory.getUser('u-grace')).toEqual({
      id: 'u-grace',
      displayName: 'Grace Kim (Contoso Audit)',
      userPrincipalName: 'grace_contosoaudit.com#EXT#@example.com',
      mail: 'grace@contosoaudit.com',
      jobTitle: 'External Auditor',
      userType: 'Guest',
      accountEnabled: true,
    });
    expect(await directory.getUser('u-oscar')).toMatchObject({ accountEnabled: false });
  });

  it('returns copies, so callers cannot change the directory', async () => {
    const user = await directory.getUser('u-lola');
    (user as { displayName: string }).displayName = 'Changed';
    expect((await directory.getUser('u-lola'))?.displayName).toBe('Lola Martin');
  });

  it('knows managers; null for none and for unknown users', async () => {
    expect((await directory.getManager('u-fred'))?.id).toBe('u-nadia');
    expect((await directory.getManager('u-nadia'))?.id).toBe(PATTI);
    expect((await directory.getManager(ALEX))?.displayName).toBe('Nadia Okafor');
    expect(await directory.getManager('u-victor')).toBeNull();
    expect(await directory.getManager('u-nobody')).toBeNull();
  });

  it('gets groups and service principals', async () => {
    expect(await directory.getGroup('grp-finance')).toEqual({ id: 'grp-finance', displayName: 'Finance team', description: "The finance department's team and files" });
    expect(await directory.getGroup('grp-nope')).toBeNull();
    const sp = await directory.getServicePrincipal('sp-accounting');
    expect(sp?.appRoles.map((r) => [r.id, r.displayName])).toEqual([
      ['role-accounting-user', 'User'],
      ['role-accounting-approver', 'Approver'],
    ]);
    expect((await directory.getServicePrincipal('sp-vat'))?.appRoles).toEqual([
      { id: 'role-vat-filer', displayName: 'VAT filer', value: 'Vat.File', description: 'Prepare and submit VAT returns' },
    ]);
    expect(await directory.getServicePrincipal('sp-nope')).toBeNull();
  });

  it('checks membership transitively through nested groups', async () => {
    // Alex is in grp-finance-approvers only through grp-finance-leads.
    expect(await directory.checkMemberGroups(ALEX, ['grp-finance-approvers', 'grp-finance', 'grp-executives', 'grp-unknown'])).toEqual([
      'grp-finance-approvers',
      'grp-finance',
    ]);
    // The CEO reaches the expense reports through grp-executives; Fred does not.
    expect(await directory.checkMemberGroups('u-victor', ['grp-exec-expenses'])).toEqual(['grp-exec-expenses']);
    expect(await directory.checkMemberGroups('u-fred', ['grp-exec-expenses', 'grp-finance', 'grp-all-staff'])).toEqual(['grp-all-staff']);
    expect(await directory.checkMemberGroups('u-lola', ['grp-finance', 'grp-finance'])).toEqual(['grp-finance']);
  });

  it('lists transitive members (users only)', async () => {
    expect((await directory.listTransitiveGroupMembers('grp-finance-approvers')).sort()).toEqual([ALEX, 'u-nadia'].sort());
    expect((await directory.listTransitiveGroupMembers('grp-exec-expenses')).sort()).toEqual([PATTI, 'u-lola', 'u-victor'].sort());
  });

  it('hasGroupRole sees direct membership and ownership only', async () => {
    expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(true);
    expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'owner')).toBe(false);
    expect(await directory.hasGroupRole('grp-finance', 'u-nadia', 'owner')).toBe(true);
    // Transitive only: not a direct member.
    expect(await directory.hasGroupRole('grp-finance-approvers', ALEX, 'member')).toBe(false);
  });

  it('gives Lola what Fred will ask for: the Finance team and the Accounting User role', async () => {
    expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(true);
    const [assignment] = await directory.listAppRoleAssignments('sp-accounting', 'u-lola');
    expect(assignment).toMatchObject({ principalId: 'u-lola', resourceId: 'sp-accounting', appRoleId: 'role-accounting-user' });
    expect(await directory.listAppRoleAssignments('sp-accounting', 'u-fred')).toEqual([]);
  });

  it('gives assignments from the file the same id on every start', async () => {
    const again = await LocalDirectory.open({ file: EXAMPLE });
    const [first] = await directory.listAppRoleAssignments('sp-accounting', 'u-lola');
    const [second] = await again.listAppRoleAssignments('sp-accounting', 'u-lola');
    expect(first?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(second?.id).toBe(first?.id);
  });

  it('throws notFound for unknown users, groups and service principals on reads', async () => {
    await expectDirectoryError(directory.checkMemberGroups('u-nobody', ['grp-finance']), 'notFound');
    await expectDirectoryError(directory.listTransitiveGroupMembers('grp-nope'), 'notFound');
    await expectDirectoryError(directory.hasGroupRole('grp-nope', 'u-lola', 'member'), 'notFound');
    await expectDirectoryError(directory.hasGroupRole('grp-finance', 'u-nobody', 'member'), 'notFound');
    await expectDirectoryError(directory.listAppRoleAssignments('sp-nope', 'u-lola'), 'notFound');
    await expectDirectoryError(directory.listAppRoleAssignments('sp-accounting', 'u-nobody'), 'notFound');
  });
});

describe('LocalDirectory writes', () => {
  let directory: LocalDirectory;
  beforeEach(async () => {
    directory = await LocalDirectory.open({ file: EXAMPLE });
  });

  // Writes shared with the Graph adapter (groups, app roles) are in test/contract/directoryContract.ts.

  it('throws notFound / invalid for bad app role writes', async () => {
    await expectDirectoryError(directory.addAppRoleAssignment('sp-nope', 'u-fred', 'role-accounting-user'), 'notFound');
    await expectDirectoryError(directory.addAppRoleAssignment('sp-accounting', 'u-nobody', 'role-accounting-user'), 'notFound');
    const invalid = await expectDirectoryError(directory.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-vat-filer'), 'invalid');
    expect(invalid.message).toContain("'sp-accounting' has no app role 'role-vat-filer'");
    await expectDirectoryError(directory.removeAppRoleAssignment('sp-nope', 'whatever'), 'notFound');
    expect(await directory.listAppRoleAssignments('sp-accounting', 'u-fred')).toEqual([]);
  });

  it('keeps working after a failed write', async () => {
    await expectDirectoryError(directory.addGroupRole('grp-nope', 'u-fred', 'member'), 'notFound');
    expect(await directory.addGroupRole('grp-finance', 'u-fred', 'member')).toBe('added');
  });
});

describe('LocalDirectory state file', () => {
  let dir: string;
  let stateFile: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'local-directory-'));
    // A subdirectory that does not exist yet, as ./data on a first start.
    stateFile = join(dir, 'data', 'directory-state.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('survives a restart: memberships, owners and assignments', async () => {
    const first = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    await first.addGroupRole('grp-finance', 'u-fred', 'member');
    await first.addGroupRole('grp-it-admins', 'u-fred', 'owner');
    await first.removeGroupRole('grp-finance', 'u-lola', 'member');
    const { assignment } = await first.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-accounting-user');
    const [nadiasVat] = await first.listAppRoleAssignments('sp-vat', 'u-nadia');
    await first.removeAppRoleAssignment('sp-vat', nadiasVat!.id);

    const second = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    expect(await second.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(true);
    expect(await second.hasGroupRole('grp-it-admins', 'u-fred', 'owner')).toBe(true);
    expect(await second.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(false);
    expect(await second.listAppRoleAssignments('sp-accounting', 'u-fred')).toEqual([assignment]);
    expect(await second.listAppRoleAssignments('sp-vat', 'u-nadia')).toEqual([]);
    // What was not touched is still as in the file, nesting included.
    expect(await second.checkMemberGroups(ALEX, ['grp-finance-approvers'])).toEqual(['grp-finance-approvers']);
    expect(await second.removeAppRoleAssignment('sp-accounting', assignment.id)).toBe('removed');
  });

  it('survives a restart: directory role assignments, given and taken', async () => {
    const first = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    const { assignment } = await first.addDirectoryRoleAssignment('u-fred', REPORTS_READER);
    const [victors] = await first.listDirectoryRoleAssignments('u-victor', REPORTS_READER);
    expect(await first.removeDirectoryRoleAssignment(victors!.id)).toBe('removed');

    const second = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    expect(await second.listDirectoryRoleAssignments('u-fred', REPORTS_READER)).toEqual([assignment]);
    expect(await second.listDirectoryRoleAssignments('u-victor', REPORTS_READER)).toEqual([]);
    // A role the write did not touch is as in the file.
    expect(await second.listDirectoryRoleAssignments('u-ivan', INTUNE_ADMIN)).toHaveLength(1);
  });

  it('reads a state file saved before roles were delivered: the file\'s role assignments stand', async () => {
    const first = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    await first.addGroupRole('grp-finance', 'u-fred', 'member');
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
    delete saved.directoryRoles;
    await writeFile(stateFile, JSON.stringify(saved));
    const second = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    expect(await second.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(true);
    expect(await second.listDirectoryRoleAssignments('u-victor', REPORTS_READER)).toHaveLength(1);
  });

  it('does not write anything until something changes', async () => {
    const directory = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    expect(await directory.addGroupRole('grp-finance', 'u-lola', 'member')).toBe('alreadyPresent');
    await expect(readFile(stateFile, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('persists 50 concurrent writes, none lost', async () => {
    const file = await loadDirectoryFile(EXAMPLE);
    const extraUsers = Array.from({ length: 50 }, (_, i) => ({
      id: `u-${i}`,
      displayName: `User ${i}`,
      userPrincipalName: `u${i}@example.com`,
      userType: 'Member' as const,
      accountEnabled: true,
    }));
    const bigger: DirectoryFile = { ...file, users: [...file.users, ...extraUsers] };
    const directory = new LocalDirectory(bigger, { stateFile });

    const outcomes = await Promise.all([
      ...extraUsers.map((u) => directory.addGroupRole('grp-all-staff', u.id, 'member')),
      ...extraUsers.map((u) => directory.addAppRoleAssignment('sp-vat', u.id, 'role-vat-filer').then((r) => r.outcome)),
    ]);
    expect(outcomes.every((o) => o === 'added')).toBe(true);

    const reopened = new LocalDirectory(bigger, { stateFile });
    const members = await reopened.listTransitiveGroupMembers('grp-all-staff');
    for (const u of extraUsers) {
      expect(members).toContain(u.id);
      expect(await reopened.listAppRoleAssignments('sp-vat', u.id)).toHaveLength(1);
    }
    // Every temporary file was renamed into place.
    expect(await readdir(join(dir, 'data'))).toEqual(['directory-state.json']);
  });

  it('answers concurrent duplicate adds with one added and the rest alreadyPresent', async () => {
    const directory = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => directory.addGroupRole('grp-finance', 'u-fred', 'member')));
    expect(outcomes.filter((o) => o === 'added')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'alreadyPresent')).toHaveLength(19);
    const results = await Promise.all(Array.from({ length: 10 }, () => directory.addAppRoleAssignment('sp-vat', 'u-fred', 'role-vat-filer')));
    expect(new Set(results.map((r) => r.assignment.id)).size).toBe(1);
  });

  it('drops saved entries the directory file no longer has, with a warning', async () => {
    const first = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    await first.addGroupRole('grp-finance', 'u-fred', 'member');
    await first.addAppRoleAssignment('sp-vat', 'u-fred', 'role-vat-filer');
    await first.addDirectoryRoleAssignment('u-fred', REPORTS_READER);

    const file = await loadDirectoryFile(EXAMPLE);
    const withoutFred: DirectoryFile = {
      ...file,
      users: file.users.filter((u) => u.id !== 'u-fred'),
      groups: file.groups.map((g) => ({ ...g, members: g.members.filter((m) => m !== 'u-fred') })),
    };
    const warnings: string[] = [];
    const second = new LocalDirectory(withoutFred, { stateFile, onWarning: (m) => warnings.push(m) });
    expect(await second.listTransitiveGroupMembers('grp-finance')).not.toContain('u-fred');
    expect(await second.listAppRoleAssignments('sp-vat', 'u-nadia')).toHaveLength(1);
    expect(await second.listDirectoryRoleAssignments('u-victor', REPORTS_READER)).toHaveLength(1);
    expect(warnings.join('\n')).toContain('u-fred');
    expect(warnings.some((w) => w.includes('role assignment') && w.includes("unknown user 'u-fred'"))).toBe(true);
  });

  it('keeps the file state of groups added to the YAML after the state was saved', async () => {
    const first = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    await first.addGroupRole('grp-finance', 'u-fred', 'member');
    const file = await loadDirectoryFile(EXAMPLE);
    const withNewGroup: DirectoryFile = { ...file, groups: [...file.groups, { id: 'grp-new', displayName: 'New', members: ['u-lola'], owners: [] }] };
    const second = new LocalDirectory(withNewGroup, { stateFile });
    expect(await second.hasGroupRole('grp-new', 'u-lola', 'member')).toBe(true);
    expect(await second.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(true);
  });

  it('refuses to start on a corrupt state file rather than overwrite it', async () => {
    const first = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    await first.addGroupRole('grp-finance', 'u-fred', 'member');
    await writeFile(stateFile, '{ "version": 1, "groups": ');
    await expect(LocalDirectory.open({ file: EXAMPLE, stateFile })).rejects.toThrow('not valid JSON');
    await writeFile(stateFile, JSON.stringify({ version: 99, groups: {}, servicePrincipals: {} }));
    await expect(LocalDirectory.open({ file: EXAMPLE, stateFile })).rejects.toThrow('not in the expected format');
  });

  it('undoes a write it cannot save and reports it as unavailable', async () => {
    const directory = await LocalDirectory.open({ file: EXAMPLE, stateFile });
    // The state file's directory cannot be created once a regular file has its name.
    await writeFile(join(dir, 'data'), 'not a directory');
    const error = await expectDirectoryError(directory.addGroupRole('grp-finance', 'u-fred', 'member'), 'unavailable');
    expect(error.retryable).toBe(true);
    expect(await directory.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(false);
    await expectDirectoryError(directory.removeGroupRole('grp-finance', 'u-lola', 'member'), 'unavailable');
    expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(true);
  });
});
