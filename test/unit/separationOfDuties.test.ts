import { checkSeparationOfDuties, groupsGrantedByPackage, type SeparationOfDutiesInput } from '../../src/domain/separationOfDuties';
import { makeCatalog, makePackage } from '../support/domainFixtures';

const names = new Map([
  ['accounting', 'Accounting'],
  ['executive-expenses', 'Executive expense reports'],
  ['payroll', 'Payroll'],
]);

function input(overrides: Partial<SeparationOfDutiesInput> = {}, lists: Record<string, string[]> = {}): SeparationOfDutiesInput {
  return {
    accessPackage: makePackage(),
    heldOrPendingPackageIds: new Set(),
    packageNames: names,
    incompatiblePackagesOf: (id) => lists[id] ?? [],
    memberOfGroupIds: new Set(),
    ...overrides,
  };
}

describe('checkSeparationOfDuties', () => {
  it('passes when nothing conflicts', () => {
    expect(checkSeparationOfDuties(input())).toEqual({ ok: true });
    const unrelated = input({
      accessPackage: makePackage({ incompatibleAccessPackages: ['executive-expenses'], incompatibleGroups: ['executives'] }),
      heldOrPendingPackageIds: new Set(['payroll']),
      memberOfGroupIds: new Set(['finance-staff']),
    });
    expect(checkSeparationOfDuties(unrelated)).toEqual({ ok: true });
  });

  it("refuses when the user holds or has pending a package on this package's incompatible list (Entra's check)", () => {
    const result = checkSeparationOfDuties(
      input({
        accessPackage: makePackage({ incompatibleAccessPackages: ['executive-expenses'] }),
        heldOrPendingPackageIds: new Set(['executive-expenses']),
      }),
    );
    expect(result).toEqual({
      ok: false,
      message: `You can't request "Accounting" while you have "Executive expense reports": the two are incompatible (separation of duties).`,
      conflict: { kind: 'package', id: 'executive-expenses' },
    });
  });

  it('refuses when a held or pending package lists this one, even though this one does not list it (past Entra)', () => {
    const result = checkSeparationOfDuties(
      input({ heldOrPendingPackageIds: new Set(['payroll', 'executive-expenses']) }, { 'executive-expenses': ['accounting'] }),
    );
    expect(result).toEqual({
      ok: false,
      message: `You can't request "Accounting" while you have "Executive expense reports": the two are incompatible (separation of duties).`,
      conflict: { kind: 'package', id: 'executive-expenses' },
    });
  });

  it('is symmetric: the one-sided rule blocks whichever package is requested second', () => {
    const lists = { 'executive-expenses': ['accounting'] };
    const accounting = makePackage();
    const expenses = makePackage({ id: 'executive-expenses', displayName: 'Executive expense reports', incompatibleAccessPackages: ['accounting'] });
    const holdsExpenses = checkSeparationOfDuties(input({ accessPackage: accounting, heldOrPendingPackageIds: new Set(['executive-expenses']) }, lists));
    const holdsAccounting = checkSeparationOfDuties(input({ accessPackage: expenses, heldOrPendingPackageIds: new Set(['accounting']) }, lists));
    expect(holdsExpenses.ok).toBe(false);
    expect(holdsAccounting).toMatchObject({
      ok: false,
      message: `You can't request "Executive expense reports" while you have "Accounting": the two are incompatible (separation of duties).`,
    });
  });

  it('only consults the lists of packages the user holds or has pending', () => {
    const consulted: string[] = [];
    checkSeparationOfDuties(
      input({
        heldOrPendingPackageIds: new Set(['payroll']),
        incompatiblePackagesOf: (id) => {
          consulted.push(id);
          return [];
        },
      }),
    );
    expect(consulted).toEqual(['payroll']);
  });

  it('refuses when the user is a member of an incompatible group', () => {
    const result = checkSeparationOfDuties(
      input({
        accessPackage: makePackage({ incompatibleGroups: ['executives'] }),
        memberOfGroupIds: new Set(['finance-staff', 'executives']),
        groupNames: new Map([['executives', 'Executives']]),
      }),
    );
    expect(result).toEqual({
      ok: false,
      message: `You can't request "Accounting" while you're a member of "Executives": the two are incompatible (separation of duties).`,
      conflict: { kind: 'group', id: 'executives' },
    });
  });

  it('names a group or package by id when its name is unknown', () => {
    const group = checkSeparationOfDuties(
      input({ accessPackage: makePackage({ incompatibleGroups: ['0f1e2d3c'] }), memberOfGroupIds: new Set(['0f1e2d3c']) }),
    );
    expect(group).toMatchObject({
      message: `You can't request "Accounting" while you're a member of the group with id "0f1e2d3c": the two are incompatible (separation of duties).`,
    });
    const withOtherNames = checkSeparationOfDuties(
      input({
        accessPackage: makePackage({ incompatibleGroups: ['0f1e2d3c'] }),
        memberOfGroupIds: new Set(['0f1e2d3c']),
        groupNames: new Map([['someone-else', 'Other']]),
      }),
    );
    expect(withOtherNames).toMatchObject({ conflict: { kind: 'group', id: '0f1e2d3c' } });
    const pkg = checkSeparationOfDuties(
      input({ accessPackage: makePackage({ incompatibleAccessPackages: ['legacy'] }), heldOrPendingPackageIds: new Set(['legacy']) }),
    );
    expect(pkg).toMatchObject({
      message: `You can't request "Accounting" while you have the package with id "legacy": the two are incompatible (separation of duties).`,
    });
  });

  it('reports a package conflict before a group conflict', () => {
    const result = checkSeparationOfDuties(
      input({
        accessPackage: makePackage({ incompatibleAccessPackages: ['payroll'], incompatibleGroups: ['executives'] }),
        heldOrPendingPackageIds: new Set(['payroll']),
        memberOfGroupIds: new Set(['executives']),
      }),
    );
    expect(result).toMatchObject({ ok: false, conflict: { kind: 'package', id: 'payroll' } });
  });

  it("reports the first conflict in the package's own list order", () => {
    const result = checkSeparationOfDuties(
      input({
        accessPackage: makePackage({ incompatibleAccessPackages: ['payroll', 'executive-expenses'] }),
        heldOrPendingPackageIds: new Set(['executive-expenses', 'payroll']),
      }),
    );
    expect(result).toMatchObject({ conflict: { kind: 'package', id: 'payroll' } });
  });

  it('never treats the package as incompatible with itself', () => {
    const selfListed = makePackage({ incompatibleAccessPackages: ['accounting'] });
    const result = checkSeparationOfDuties(
      input({ accessPackage: selfListed, heldOrPendingPackageIds: new Set(['accounting']) }, { accounting: ['accounting'] }),
    );
    expect(result).toEqual({ ok: true });
  });

  it('ignores incompatible groups the user is not in, and memberships in unrelated groups', () => {
    const result = checkSeparationOfDuties(
      input({ accessPackage: makePackage({ incompatibleGroups: ['executives'] }), memberOfGroupIds: new Set(['finance-staff']) }),
    );
    expect(result).toEqual({ ok: true });
  });

  describe('groups that held or pending packages give (both ways)', () => {
    // "audit" excludes group g-ledger; "ledger" gives g-ledger; "treasury" excludes g-audit, which "audit" gives.
    const granted: Record<string, string[]> = { ledger: ['g-ledger'], audit: ['g-audit'], payroll: ['g-payroll'] };
    const excluded: Record<string, string[]> = { treasury: ['g-audit'] };
    const withGroups = (overrides: Partial<SeparationOfDutiesInput>) =>
      input({ groupsGrantedBy: (id) => granted[id] ?? [], incompatibleGroupsOf: (id) => excluded[id] ?? [], packageNames: new Map([['ledger', 'Ledger'], ['treasury', 'Treasury']]), ...overrides });

    it('refuses a package whose incompatible group a pending package will give (not in the directory yet)', () => {
      const result = checkSeparationOfDuties(withGroups({ accessPackage: makePackage({ id: 'audit', displayName: 'Audit', incompatibleGroups: ['g-ledger'] }), heldOrPendingPackageIds: new Set(['ledger']) }));
      expect(result).toEqual({
        ok: false,
        message: `You can't request "Audit" while you have "Ledger": the two are incompatible (separation of duties).`,
        conflict: { kind: 'package', id: 'ledger' },
      });
    });

    it('refuses a package that gives a group a held package excludes (the reverse)', () => {
      const result = checkSeparationOfDuties(withGroups({ accessPackage: makePackage({ id: 'audit', displayName: 'Audit' }), heldOrPendingPackageIds: new Set(['treasury']) }));
      expect(result).toMatchObject({ ok: false, conflict: { kind: 'package', id: 'treasury' } });
    });

    it('prefers a live membership (a group) over a package that will give it', () => {
      const result = checkSeparationOfDuties(
        withGroups({ accessPackage: makePackage({ id: 'audit', incompatibleGroups: ['g-ledger'] }), heldOrPendingPackageIds: new Set(['ledger']), memberOfGroupIds: new Set(['g-ledger']) }),
      );
      expect(result).toMatchObject({ conflict: { kind: 'group', id: 'g-ledger' } });
    });

    it('passes when the groups involved are unrelated, and without the group facts at all', () => {
      expect(checkSeparationOfDuties(withGroups({ accessPackage: makePackage({ id: 'audit', incompatibleGroups: ['g-ledger'] }), heldOrPendingPackageIds: new Set(['payroll']) }))).toEqual({ ok: true });
      expect(checkSeparationOfDuties(input({ accessPackage: makePackage({ id: 'audit', incompatibleGroups: ['g-ledger'] }), heldOrPendingPackageIds: new Set(['ledger']) }))).toEqual({ ok: true });
    });

    it("ignores the package's own groups (holding it again is another rule)", () => {
      const result = checkSeparationOfDuties(withGroups({ accessPackage: makePackage({ id: 'ledger', incompatibleGroups: ['g-ledger'] }), heldOrPendingPackageIds: new Set(['ledger']) }));
      expect(result).toEqual({ ok: true });
    });
  });

  describe('groupsGrantedByPackage', () => {
    it('lists the group and site resources of the package (by object id), not applications', () => {
      const catalog = makeCatalog({
        resources: [
          { id: 'team', type: 'group', originId: 'g-team', displayName: 'Team', roles: [] },
          { id: 'site', type: 'sharePointSite', originId: 'g-site', displayName: 'Site', roles: [] },
          { id: 'app', type: 'application', originId: 'sp-app', displayName: 'App', roles: [{ id: 'r', displayName: 'User' }] },
        ],
      });
      const pkg = makePackage({ resourceRoles: [{ resource: 'team', role: 'owner' }, { resource: 'site', role: 'member' }, { resource: 'app', role: 'r' }, { resource: 'team', role: 'member' }] });
      expect(groupsGrantedByPackage(pkg, catalog)).toEqual(['g-team', 'g-site']);
      expect(groupsGrantedByPackage(pkg, null)).toEqual([]);
    });
  });
});
