// The behaviour every Directory adapter must share (src/directory/port.ts), on the example
// directory (examples/directory.yaml): the local directory and the Graph directory (through the
// real SDK against the in-memory Graph) both run it, so delivery and approvals see the same
// answers whichever is configured. Each test gets a fresh directory from `open`.

import type { Directory } from '../../src/directory/port';
import { DirectoryError } from '../../src/directory/port';

const ALEX = '00000000-0000-0000-0000-0000000000020';
/** Built-in role template ids (examples/directory.yaml): Reports Reader (Victor holds it), Intune Administrator (Ivan). */
const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';
const INTUNE_ADMIN = '3a2c62db-5318-420d-8d74-23affee5d9d5';
const PATTI = '00000000-0000-0000-0000-0000000000024';

async function expectDirectoryError(promise: Promise<unknown>, kind: DirectoryError['kind']): Promise<DirectoryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DirectoryError);
  expect((error as DirectoryError).kind).toBe(kind);
  return error as DirectoryError;
}

export function describeDirectoryContract(name: string, open: () => Promise<Directory>): void {
  describe(`Directory contract: ${name}`, () => {
    let directory: Directory;
    beforeEach(async () => {
      directory = await open();
    });

    describe('reads', () => {
      it('finds users by id and by UPN, case-insensitively; null for nobody', async () => {
        expect((await directory.getUser(ALEX))?.displayName).toBe('Alex Wilber');
        expect((await directory.getUser('AlexW@EXAMPLE.com'))?.id).toBe(ALEX);
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
        // A guest's UPN has '#' in it: it must survive the URL.
        expect((await directory.getUser('grace_contosoaudit.com#EXT#@example.com'))?.id).toBe('u-grace');
        expect(await directory.getUser('u-oscar')).toMatchObject({ accountEnabled: false, department: 'Finance' });
      });

      it('knows managers; null for none and for unknown users', async () => {
        expect((await directory.getManager('u-fred'))?.id).toBe('u-nadia');
        expect((await directory.getManager('u-nadia'))?.id).toBe(PATTI);
        expect(await directory.getManager('u-victor')).toBeNull();
        expect(await directory.getManager('u-nobody')).toBeNull();
      });

      it('gets groups and service principals with their app roles; null when unknown', async () => {
        expect(await directory.getGroup('grp-finance')).toEqual({ id: 'grp-finance', displayName: 'Finance team', description: "The finance department's team and files" });
        expect(await directory.getGroup('grp-executives')).toEqual({ id: 'grp-executives', displayName: 'Executives' });
        expect(await directory.getGroup('grp-nope')).toBeNull();
        expect(await directory.getServicePrincipal('sp-vat')).toEqual({
          id: 'sp-vat',
          appId: '0f8e2d7c-5b1a-4e3f-8a6d-9c4b2e1f7a53',
          displayName: 'VAT returns',
          appRoles: [{ id: 'role-vat-filer', displayName: 'VAT filer', value: 'Vat.File', description: 'Prepare and submit VAT returns' }],
        });
        expect(await directory.getServicePrincipal('sp-nope')).toBeNull();
      });

      it('checks membership transitively, ignoring unknown and repeated group ids', async () => {
        expect(await directory.checkMemberGroups(ALEX, ['grp-finance-approvers', 'grp-finance', 'grp-executives', 'grp-unknown'])).toEqual([
          'grp-finance-approvers',
          'grp-finance',
        ]);
        expect(await directory.checkMemberGroups('u-victor', ['grp-exec-expenses'])).toEqual(['grp-exec-expenses']);
        expect(await directory.checkMemberGroups('u-fred', ['grp-exec-expenses', 'grp-finance', 'grp-all-staff'])).toEqual(['grp-all-staff']);
        expect(await directory.checkMemberGroups('u-lola', ['grp-finance', 'grp-finance'])).toEqual(['grp-finance']);
        expect(await directory.checkMemberGroups('u-lola', [])).toEqual([]);
      });

      it('lists transitive members, users only', async () => {
        expect((await directory.listTransitiveGroupMembers('grp-finance-approvers')).sort()).toEqual([ALEX, 'u-nadia'].sort());
        expect((await directory.listTransitiveGroupMembers('grp-exec-expenses')).sort()).toEqual([PATTI, 'u-lola', 'u-victor'].sort());
      });

      it('sees direct membership and ownership only in hasGroupRole', async () => {
        expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(true);
        expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'owner')).toBe(false);
        expect(await directory.hasGroupRole('grp-finance', 'u-nadia', 'owner')).toBe(true);
        expect(await directory.hasGroupRole('grp-finance-approvers', ALEX, 'member')).toBe(false);
      });

      it("lists a user's own app role assignments on one service principal", async () => {
        const assignments = await directory.listAppRoleAssignments('sp-accounting', 'u-nadia');
        expect(assignments.map((a) => a.appRoleId).sort()).toEqual(['role-accounting-approver', 'role-accounting-user']);
        for (const a of assignments) expect(a).toEqual({ id: expect.any(String), principalId: 'u-nadia', resourceId: 'sp-accounting', appRoleId: a.appRoleId });
        expect(await directory.listAppRoleAssignments('sp-accounting', 'u-fred')).toEqual([]);
      });

      it('throws notFound for unknown users, groups and service principals', async () => {
        await expectDirectoryError(directory.checkMemberGroups('u-nobody', ['grp-finance']), 'notFound');
        await expectDirectoryError(directory.listTransitiveGroupMembers('grp-nope'), 'notFound');
        await expectDirectoryError(directory.hasGroupRole('grp-nope', 'u-lola', 'member'), 'notFound');
        await expectDirectoryError(directory.hasGroupRole('grp-finance', 'u-nobody', 'member'), 'notFound');
        await expectDirectoryError(directory.listAppRoleAssignments('sp-nope', 'u-lola'), 'notFound');
        await expectDirectoryError(directory.listAppRoleAssignments('sp-accounting', 'u-nobody'), 'notFound');
      });
    });

    describe('writes', () => {
      it('adds and removes group members idempotently', async () => {
        expect(await directory.addGroupRole('grp-finance', 'u-fred', 'member')).toBe('added');
        expect(await directory.addGroupRole('grp-finance', 'u-fred', 'member')).toBe('alreadyPresent');
        expect(await directory.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(true);
        expect(await directory.checkMemberGroups('u-fred', ['grp-finance'])).toEqual(['grp-finance']);
        expect(await directory.removeGroupRole('grp-finance', 'u-fred', 'member')).toBe('removed');
        expect(await directory.removeGroupRole('grp-finance', 'u-fred', 'member')).toBe('notPresent');
        expect(await directory.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(false);
      });

      it('says alreadyPresent when the user had it before', async () => {
        expect(await directory.addGroupRole('grp-finance', 'u-lola', 'member')).toBe('alreadyPresent');
      });

      it('keeps members and owners apart', async () => {
        expect(await directory.addGroupRole('grp-finance', 'u-lola', 'owner')).toBe('added');
        expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'owner')).toBe(true);
        expect(await directory.removeGroupRole('grp-finance', 'u-lola', 'owner')).toBe('removed');
        expect(await directory.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(true);
        expect(await directory.removeGroupRole('grp-finance', 'u-fred', 'owner')).toBe('notPresent');
      });

      it('makes a user added to a nested group a transitive member of its parents', async () => {
        await directory.addGroupRole('grp-finance-leads', 'u-fred', 'member');
        expect(await directory.checkMemberGroups('u-fred', ['grp-finance-approvers'])).toEqual(['grp-finance-approvers']);
        expect(await directory.listTransitiveGroupMembers('grp-finance-approvers')).toContain('u-fred');
      });

      it('throws notFound naming the unknown group or user', async () => {
        expect((await expectDirectoryError(directory.addGroupRole('grp-nope', 'u-fred', 'member'), 'notFound')).message).toContain("group 'grp-nope'");
        expect((await expectDirectoryError(directory.addGroupRole('grp-finance', 'u-nobody', 'member'), 'notFound')).message).toContain("user 'u-nobody'");
        await expectDirectoryError(directory.removeGroupRole('grp-nope', 'u-fred', 'owner'), 'notFound');
        const error = await expectDirectoryError(directory.removeGroupRole('grp-finance', 'u-nobody', 'member'), 'notFound');
        expect(error.message).toContain("user 'u-nobody'");
        expect(error.retryable).toBe(false);
      });

      it('adds app role assignments idempotently, returning the existing one', async () => {
        const first = await directory.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-accounting-user');
        expect(first.outcome).toBe('added');
        expect(first.assignment).toEqual({ id: expect.any(String), principalId: 'u-fred', resourceId: 'sp-accounting', appRoleId: 'role-accounting-user' });
        expect(await directory.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-accounting-user')).toEqual({ outcome: 'alreadyPresent', assignment: first.assignment });
        expect(await directory.listAppRoleAssignments('sp-accounting', 'u-fred')).toEqual([first.assignment]);
        const other = await directory.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-accounting-approver');
        expect(other.outcome).toBe('added');
        expect(other.assignment.id).not.toBe(first.assignment.id);
      });

      it('says alreadyPresent for an assignment that was there before, returning it', async () => {
        const [lolas] = await directory.listAppRoleAssignments('sp-accounting', 'u-lola');
        expect(await directory.addAppRoleAssignment('sp-accounting', 'u-lola', 'role-accounting-user')).toEqual({ outcome: 'alreadyPresent', assignment: lolas });
      });

      it('removes app role assignments idempotently, and only through their own service principal', async () => {
        const { assignment } = await directory.addAppRoleAssignment('sp-vat', 'u-fred', 'role-vat-filer');
        expect(await directory.removeAppRoleAssignment('sp-vat', assignment.id)).toBe('removed');
        expect(await directory.removeAppRoleAssignment('sp-vat', assignment.id)).toBe('notPresent');
        expect(await directory.listAppRoleAssignments('sp-vat', 'u-fred')).toEqual([]);
        const [lolas] = await directory.listAppRoleAssignments('sp-accounting', 'u-lola');
        expect(await directory.removeAppRoleAssignment('sp-vat', lolas!.id)).toBe('notPresent');
        expect(await directory.listAppRoleAssignments('sp-accounting', 'u-lola')).toEqual([lolas]);
      });

      it('throws notFound / invalid for bad app role writes, changing nothing', async () => {
        await expectDirectoryError(directory.addAppRoleAssignment('sp-nope', 'u-fred', 'role-accounting-user'), 'notFound');
        await expectDirectoryError(directory.addAppRoleAssignment('sp-accounting', 'u-nobody', 'role-accounting-user'), 'notFound');
        await expectDirectoryError(directory.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-vat-filer'), 'invalid');
        await expectDirectoryError(directory.removeAppRoleAssignment('sp-nope', 'whatever'), 'notFound');
        expect(await directory.listAppRoleAssignments('sp-accounting', 'u-fred')).toEqual([]);
      });

      it('answers concurrent duplicate adds with one added and the rest alreadyPresent', async () => {
        const roles = await Promise.all(Array.from({ length: 3 }, () => directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER)));
        expect(roles.filter((r) => r.outcome === 'added')).toHaveLength(1);
        expect(new Set(roles.map((r) => r.assignment.id)).size).toBe(1);

        const outcomes = await Promise.all(Array.from({ length: 5 }, () => directory.addGroupRole('grp-it-admins', 'u-fred', 'member')));
        expect(outcomes.filter((o) => o === 'added')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'alreadyPresent')).toHaveLength(4);
      });
    });

    describe('directory roles (tenant-wide role assignments)', () => {
      it("lists a user's own tenant-wide assignments of one role; role ids match without case", async () => {
        const [victors] = await directory.listDirectoryRoleAssignments('u-victor', REPORTS_READER);
        expect(victors).toEqual({ id: expect.any(String), principalId: 'u-victor', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' });
        expect(await directory.listDirectoryRoleAssignments('u-victor', REPORTS_READER.toUpperCase())).toEqual([victors]);
        expect(await directory.listDirectoryRoleAssignments('u-victor', INTUNE_ADMIN)).toEqual([]);
        expect(await directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER)).toEqual([]);
        expect((await directory.listDirectoryRoleAssignments('u-ivan', INTUNE_ADMIN)).map((a) => a.principalId)).toEqual(['u-ivan']);
      });

      it('throws notFound naming an unknown user or role definition', async () => {
        expect((await expectDirectoryError(directory.listDirectoryRoleAssignments('u-nobody', REPORTS_READER), 'notFound')).message).toContain("user 'u-nobody'");
        expect((await expectDirectoryError(directory.listDirectoryRoleAssignments('u-fred', 'role-nope'), 'notFound')).message).toContain("role definition 'role-nope'");
      });

      it('assigns a role idempotently, returning the existing assignment', async () => {
        const first = await directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER);
        expect(first).toEqual({ outcome: 'added', assignment: { id: expect.any(String), principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' } });
        expect(await directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER)).toEqual({ outcome: 'alreadyPresent', assignment: first.assignment });
        expect(await directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER)).toEqual([first.assignment]);
        // Another role is another assignment; Victor keeps his.
        expect((await directory.addDirectoryRoleAssignment('u-fred', INTUNE_ADMIN)).assignment.id).not.toBe(first.assignment.id);
        expect(await directory.listDirectoryRoleAssignments('u-victor', REPORTS_READER)).toHaveLength(1);
      });

      it('says alreadyPresent for a role the user held before, returning that assignment', async () => {
        const [victors] = await directory.listDirectoryRoleAssignments('u-victor', REPORTS_READER);
        expect(await directory.addDirectoryRoleAssignment('u-victor', REPORTS_READER)).toEqual({ outcome: 'alreadyPresent', assignment: victors });
      });

      it('removes a role assignment idempotently: notPresent once it is gone, or for an id nobody has', async () => {
        const { assignment } = await directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER);
        expect(await directory.removeDirectoryRoleAssignment(assignment.id)).toBe('removed');
        expect(await directory.removeDirectoryRoleAssignment(assignment.id)).toBe('notPresent');
        expect(await directory.removeDirectoryRoleAssignment('no-such-assignment')).toBe('notPresent');
        expect(await directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER)).toEqual([]);
        expect(await directory.listDirectoryRoleAssignments('u-victor', REPORTS_READER)).toHaveLength(1);
      });

      it('throws notFound for an unknown user or role definition, changing nothing', async () => {
        expect((await expectDirectoryError(directory.addDirectoryRoleAssignment('u-nobody', REPORTS_READER), 'notFound')).message).toContain("user 'u-nobody'");
        const error = await expectDirectoryError(directory.addDirectoryRoleAssignment('u-fred', 'role-nope'), 'notFound');
        expect(error.message).toContain("role definition 'role-nope'");
        expect(error.retryable).toBe(false);
        expect(await directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER)).toEqual([]);
      });
    });
  });
}
