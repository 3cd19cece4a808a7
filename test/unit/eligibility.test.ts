import {
  applicablePolicies,
  packageAvailability,
  policyAdmits,
  policyGroupIds,
  policySpecificity,
  type PackageAvailabilityInput,
} from '../../src/domain/eligibility';
import type { AllowedRequestors, Policy } from '../../src/domain/model';
import { makeCatalog, makeFacts, makePackage, makePolicy } from '../support/domainFixtures';

const specific = (users: string[], groups: string[] = []): AllowedRequestors => ({ scope: 'specificDirectoryUsers', users, groups });
const member = makeFacts({ userId: 'fred', userType: 'Member', groupIds: new Set(['finance-staff']) });
const guest = makeFacts({ userId: 'gina', userType: 'Guest', groupIds: new Set(['partners']) });
const ids = (policies: Policy[]) => policies.map((p) => p.id);

describe('policyAdmits', () => {
  it('admits users listed by id, members and guests alike', () => {
    const policy = makePolicy({ allowedRequestors: specific(['fred', 'gina']) });
    expect(policyAdmits(policy, member)).toBe(true);
    expect(policyAdmits(policy, guest)).toBe(true);
  });

  it('admits members of listed groups, members and guests alike', () => {
    const policy = makePolicy({ allowedRequestors: specific([], ['finance-staff', 'partners']) });
    expect(policyAdmits(policy, member)).toBe(true);
    expect(policyAdmits(policy, guest)).toBe(true);
  });

  it('does not admit someone neither listed nor in a listed group', () => {
    const policy = makePolicy({ allowedRequestors: specific(['lola'], ['executives']) });
    expect(policyAdmits(policy, member)).toBe(false);
    expect(policyAdmits(policy, guest)).toBe(false);
  });

  it('admits nobody through an empty specificDirectoryUsers list', () => {
    expect(policyAdmits(makePolicy({ allowedRequestors: specific([], []) }), member)).toBe(false);
  });

  it('admits only members through allMemberUsers', () => {
    const policy = makePolicy({ allowedRequestors: { scope: 'allMemberUsers' } });
    expect(policyAdmits(policy, member)).toBe(true);
    expect(policyAdmits(policy, guest)).toBe(false);
  });

  it('admits members and guests through allDirectoryUsers', () => {
    const policy = makePolicy({ allowedRequestors: { scope: 'allDirectoryUsers' } });
    expect(policyAdmits(policy, member)).toBe(true);
    expect(policyAdmits(policy, guest)).toBe(true);
  });

  it('admits nobody through notSpecified (admin-only assignment)', () => {
    const policy = makePolicy({ allowedRequestors: { scope: 'notSpecified' } });
    expect(policyAdmits(policy, member)).toBe(false);
    expect(policyAdmits(policy, guest)).toBe(false);
  });

  it.each<AllowedRequestors>([specific(['fred'], ['finance-staff']), { scope: 'allMemberUsers' }, { scope: 'allDirectoryUsers' }])(
    'admits nobody through a disabled policy (%j)',
    (allowedRequestors) => {
      expect(policyAdmits(makePolicy({ enabled: false, allowedRequestors }), member)).toBe(false);
    },
  );
});

describe('policySpecificity', () => {
  it('ranks specific users > all members > all directory users > admin-only', () => {
    expect(policySpecificity(makePolicy({ allowedRequestors: specific([]) }))).toBe(3);
    expect(policySpecificity(makePolicy({ allowedRequestors: { scope: 'allMemberUsers' } }))).toBe(2);
    expect(policySpecificity(makePolicy({ allowedRequestors: { scope: 'allDirectoryUsers' } }))).toBe(1);
    expect(policySpecificity(makePolicy({ allowedRequestors: { scope: 'notSpecified' } }))).toBe(0);
  });
});

describe('applicablePolicies', () => {
  const finance = makePolicy({ id: 'finance', displayName: 'Finance staff', allowedRequestors: specific([], ['finance-staff']) });
  const everyone = makePolicy({ id: 'everyone', displayName: 'Everyone', allowedRequestors: { scope: 'allMemberUsers' } });
  const directory = makePolicy({ id: 'directory', displayName: 'Directory', allowedRequestors: { scope: 'allDirectoryUsers' } });

  it('keeps only the most specific admitting policy', () => {
    expect(ids(applicablePolicies([directory, everyone, finance], member))).toEqual(['finance']);
  });

  it('falls back to a less specific policy when the specific one does not admit the user', () => {
    const outsider = makeFacts({ userId: 'olga', groupIds: new Set() });
    expect(ids(applicablePolicies([directory, everyone, finance], outsider))).toEqual(['everyone']);
  });

  it('gives a guest only the policies open to guests', () => {
    expect(ids(applicablePolicies([everyone, directory], guest))).toEqual(['directory']);
  });

  it('returns every tied policy, ordered by displayName, then id', () => {
    const b = makePolicy({ id: 'b', displayName: 'Contractors', allowedRequestors: specific(['fred']) });
    const a = makePolicy({ id: 'a', displayName: 'auditors', allowedRequestors: specific([], ['finance-staff']) });
    const c = makePolicy({ id: 'c', displayName: 'Analysts', allowedRequestors: specific([], ['finance-staff']) });
    const input = [b, everyone, a, c];
    // Case-insensitive for people: "auditors" sorts between "Analysts" and "Contractors".
    expect(ids(applicablePolicies(input, member))).toEqual(['c', 'a', 'b']);
    // Equal names compare by id so the order never depends on the input order.
    const sameName = [makePolicy({ id: 'z', displayName: 'Same', allowedRequestors: specific(['fred']) }), makePolicy({ id: 'y', displayName: 'Same', allowedRequestors: specific(['fred']) })];
    expect(ids(applicablePolicies(sameName, member))).toEqual(['y', 'z']);
    expect(ids(applicablePolicies([...sameName].reverse(), member))).toEqual(['y', 'z']);
    expect(ids(input)).toEqual(['b', 'everyone', 'a', 'c']); // input untouched
  });

  it('ignores disabled policies, even more specific ones', () => {
    const disabledFinance = { ...finance, enabled: false };
    expect(ids(applicablePolicies([disabledFinance, everyone], member))).toEqual(['everyone']);
  });

  it('is empty when nothing admits the user', () => {
    expect(applicablePolicies([], member)).toEqual([]);
    expect(applicablePolicies([makePolicy({ allowedRequestors: { scope: 'notSpecified' } })], member)).toEqual([]);
  });
});

describe('packageAvailability', () => {
  const base = (overrides: Partial<PackageAvailabilityInput> = {}): PackageAvailabilityInput => ({
    catalog: makeCatalog(),
    accessPackage: makePackage(),
    policies: [makePolicy()],
    facts: member,
    viaDirectLink: false,
    ...overrides,
  });

  it('is available with the applicable policies', () => {
    const result = packageAvailability(base());
    expect(result).toEqual({ available: true, policies: [makePolicy()] });
  });

  it('offers several tied policies for the user to pick', () => {
    const a = makePolicy({ id: 'a', displayName: 'A', allowedRequestors: specific(['fred']) });
    const b = makePolicy({ id: 'b', displayName: 'B', allowedRequestors: specific([], ['finance-staff']) });
    const result = packageAvailability(base({ policies: [b, makePolicy(), a] }));
    expect(result.available && ids(result.policies)).toEqual(['a', 'b']);
  });

  it('refuses when the catalog is disabled', () => {
    expect(packageAvailability(base({ catalog: makeCatalog({ enabled: false }) }))).toEqual({
      available: false,
      reason: 'catalogDisabled',
      message: `You can't request "Accounting" right now: its catalog isn't open for requests. Ask IT if you still need it.`,
    });
  });

  it('refuses a disabled package, even through its direct link; a package stored without the field is enabled', () => {
    const disabled = makePackage({ enabled: false });
    expect(packageAvailability(base({ accessPackage: disabled, viaDirectLink: true }))).toEqual({
      available: false,
      reason: 'packageDisabled',
      message: `You can't request "Accounting" right now: it isn't open for new requests. Ask IT if you still need it.`,
    });
    expect(packageAvailability(base({ accessPackage: makePackage({ enabled: true }) }))).toMatchObject({ available: true });
    expect(packageAvailability(base({ accessPackage: makePackage() }))).toMatchObject({ available: true });
    // The catalog is checked first: a disabled catalog says so, whatever its packages say.
    expect(packageAvailability(base({ catalog: makeCatalog({ enabled: false }), accessPackage: disabled }))).toMatchObject({ reason: 'catalogDisabled' });
  });

  it('treats a missing catalog as a disabled one', () => {
    const result = packageAvailability(base({ catalog: null }));
    expect(result).toMatchObject({ available: false, reason: 'catalogDisabled' });
  });

  it('hides a hidden package unless reached through its direct link', () => {
    const hidden = makePackage({ hidden: true });
    expect(packageAvailability(base({ accessPackage: hidden }))).toEqual({
      available: false,
      reason: 'hidden',
      message: `"Accounting" isn't listed for requests. Use the link you were given for it, or ask IT for one.`,
    });
    expect(packageAvailability(base({ accessPackage: hidden, viaDirectLink: true }))).toMatchObject({ available: true });
  });

  it('a direct link does not bypass any other rule', () => {
    const result = packageAvailability(
      base({ accessPackage: makePackage({ hidden: true }), viaDirectLink: true, policies: [makePolicy({ allowedRequestors: specific(['lola']) })] }),
    );
    expect(result).toMatchObject({ available: false, reason: 'notEligible' });
  });

  it('refuses guests when the catalog does not accept external users', () => {
    const policies = [makePolicy({ allowedRequestors: { scope: 'allDirectoryUsers' } })];
    expect(packageAvailability(base({ facts: guest, policies }))).toEqual({
      available: false,
      reason: 'externalUsersNotAllowed',
      message: `You can't request "Accounting": its catalog doesn't accept requests from guest users. Ask your contact in the organization to arrange access for you.`,
    });
  });

  it('refuses guests even when named by a policy, if the catalog is closed to external users', () => {
    const policies = [makePolicy({ allowedRequestors: specific(['gina']) })];
    expect(packageAvailability(base({ facts: guest, policies }))).toMatchObject({ reason: 'externalUsersNotAllowed' });
  });

  it('admits guests when the catalog accepts external users and a policy admits them', () => {
    const policies = [makePolicy({ allowedRequestors: { scope: 'allDirectoryUsers' } })];
    const result = packageAvailability(base({ catalog: makeCatalog({ externalUsersEnabled: true }), facts: guest, policies }));
    expect(result).toMatchObject({ available: true });
  });

  it('says the package is not open to requests when it has no enabled policy', () => {
    const expected = {
      available: false,
      reason: 'noPolicy',
      message: `You can't request "Accounting": it isn't open to requests. IT assigns it directly; ask them if you need it.`,
    };
    expect(packageAvailability(base({ policies: [] }))).toEqual(expected);
    expect(packageAvailability(base({ policies: [makePolicy({ enabled: false })] }))).toEqual(expected);
    // Only admin-only policies: nobody can request it, so it is "not open to requests", not "not open to you".
    expect(packageAvailability(base({ policies: [makePolicy({ allowedRequestors: { scope: 'notSpecified' } })] }))).toEqual(expected);
  });

  it('says the package is not open to this user when policies exist but none admits them', () => {
    expect(packageAvailability(base({ policies: [makePolicy({ allowedRequestors: specific(['lola'], ['executives']) })] }))).toEqual({
      available: false,
      reason: 'notEligible',
      message: `You can't request "Accounting": it isn't open to you. Ask your manager or IT which package fits your role.`,
    });
  });

  it('a guest in an open catalog without a guest-admitting policy is not eligible', () => {
    const result = packageAvailability(base({ catalog: makeCatalog({ externalUsersEnabled: true }), facts: guest }));
    expect(result).toMatchObject({ available: false, reason: 'notEligible' });
  });

  it('ignores policies that belong to another package', () => {
    const foreign = makePolicy({ packageId: 'executive-expenses', allowedRequestors: { scope: 'allDirectoryUsers' } });
    expect(packageAvailability(base({ policies: [foreign] }))).toMatchObject({ reason: 'noPolicy' });
  });

  it('checks in order: catalog, hidden, guest, policy, eligibility', () => {
    const everything = base({
      catalog: makeCatalog({ enabled: false }),
      accessPackage: makePackage({ hidden: true }),
      facts: guest,
      policies: [],
    });
    expect(packageAvailability(everything)).toMatchObject({ reason: 'catalogDisabled' });
    expect(packageAvailability({ ...everything, catalog: makeCatalog() })).toMatchObject({ reason: 'hidden' });
    expect(packageAvailability({ ...everything, catalog: makeCatalog(), viaDirectLink: true })).toMatchObject({ reason: 'externalUsersNotAllowed' });
    expect(packageAvailability({ ...everything, catalog: makeCatalog({ externalUsersEnabled: true }), viaDirectLink: true })).toMatchObject({
      reason: 'noPolicy',
    });
  });

  it('names the package in every message', () => {
    const accessPackage = makePackage({ displayName: 'Executive expense reports' });
    const results = [
      packageAvailability(base({ accessPackage, catalog: null })),
      packageAvailability(base({ accessPackage: { ...accessPackage, hidden: true } })),
      packageAvailability(base({ accessPackage, facts: guest })),
      packageAvailability(base({ accessPackage, policies: [] })),
      packageAvailability(base({ accessPackage, policies: [makePolicy({ allowedRequestors: specific([]) })] })),
    ];
    for (const result of results) {
      expect(result.available).toBe(false);
      if (!result.available) {
        expect(result.message).toContain('"Executive expense reports"');
        expect(result.message).toMatch(/\.$/);
      }
    }
  });
});

describe('policyGroupIds', () => {
  it('lists distinct groups of enabled specificDirectoryUsers policies, in first-seen order', () => {
    const policies = [
      makePolicy({ id: 'a', allowedRequestors: specific(['fred'], ['g1', 'g2']) }),
      makePolicy({ id: 'b', allowedRequestors: specific([], ['g2', 'g3']) }),
      makePolicy({ id: 'c', allowedRequestors: { scope: 'allMemberUsers' } }),
      makePolicy({ id: 'd', enabled: false, allowedRequestors: specific([], ['g4']) }),
    ];
    expect(policyGroupIds(policies)).toEqual(['g1', 'g2', 'g3']);
  });

  it('is empty when no policy names groups', () => {
    expect(policyGroupIds([])).toEqual([]);
    expect(policyGroupIds([makePolicy({ allowedRequestors: specific(['fred']) })])).toEqual([]);
  });
});
