import type { AccessRequest, RequestType } from '../../src/domain/model';
import { competingPackageIds, recheckRequest, type RecheckInput } from '../../src/domain/recheck';
import { makeAssignment, makeCatalog, makeFacts, makePackage, makePolicy, NOW } from '../support/domainFixtures';

function input(overrides: Partial<RecheckInput> = {}, sod: Partial<RecheckInput['separationOfDuties']> = {}): RecheckInput {
  return {
    requestType: 'add',
    catalog: makeCatalog(),
    accessPackage: makePackage({ incompatibleAccessPackages: ['payroll'] }),
    policy: makePolicy(),
    target: { userType: 'Member', accountEnabled: true },
    facts: makeFacts(),
    separationOfDuties: { heldOrPendingPackageIds: new Set(), packageNames: new Map(), incompatiblePackagesOf: () => [], memberOfGroupIds: new Set(), ...sod },
    ...overrides,
  };
}

describe('recheckRequest: a waiting request checked again', () => {
  it('passes when nothing changed', () => {
    expect(recheckRequest(input())).toEqual({ ok: true });
  });

  it('ends a request whose person now holds (or asked first for) an incompatible package, whoever asked', () => {
    for (const requestType of ['add', 'adminAdd', 'extend'] as RequestType[]) {
      expect(recheckRequest(input({ requestType }, { heldOrPendingPackageIds: new Set(['payroll']) }))).toEqual({ ok: false, rule: 'separationOfDuties', conflict: { kind: 'package', id: 'payroll' } });
    }
  });

  it('ends a request whose person joined an incompatible group meanwhile (outside the bot)', () => {
    const result = recheckRequest(input({ accessPackage: makePackage({ incompatibleGroups: ['g-exec'] }) }, { memberOfGroupIds: new Set(['g-exec']) }));
    expect(result).toEqual({ ok: false, rule: 'separationOfDuties', conflict: { kind: 'group', id: 'g-exec' } });
  });

  it('ends a request whose person left the group the policy is for; an admin direct assignment overrides eligibility', () => {
    const policy = makePolicy({ allowedRequestors: { scope: 'specificDirectoryUsers', users: [], groups: ['g-finance'] } });
    expect(recheckRequest(input({ policy }))).toEqual({ ok: false, rule: 'notEligible' });
    expect(recheckRequest(input({ policy, facts: makeFacts({ groupIds: new Set(['g-finance']) }) }))).toEqual({ ok: true });
    expect(recheckRequest(input({ policy, requestType: 'adminAdd' }))).toEqual({ ok: true });
    expect(recheckRequest(input({ policy: makePolicy({ allowedRequestors: { scope: 'notSpecified' } }), requestType: 'adminAdd' }))).toEqual({ ok: true });
    expect(recheckRequest(input({ policy, requestType: 'extend' }))).toEqual({ ok: false, rule: 'notEligible' });
  });

  it('ends a request for a disabled or vanished account, whoever asked', () => {
    for (const requestType of ['add', 'adminAdd', 'extend'] as RequestType[]) {
      expect(recheckRequest(input({ requestType, target: { userType: 'Member', accountEnabled: false } }))).toEqual({ ok: false, rule: 'accountDisabled' });
      expect(recheckRequest(input({ requestType, target: null }))).toEqual({ ok: false, rule: 'accountDisabled' });
    }
  });

  it('ends new access (not an extension) when the catalog or package is switched off; any request when its policy is', () => {
    expect(recheckRequest(input({ catalog: makeCatalog({ enabled: false }) }))).toEqual({ ok: false, rule: 'catalogDisabled' });
    expect(recheckRequest(input({ catalog: null, requestType: 'adminAdd' }))).toEqual({ ok: false, rule: 'catalogDisabled' });
    expect(recheckRequest(input({ accessPackage: makePackage({ enabled: false }), requestType: 'adminAdd' }))).toEqual({ ok: false, rule: 'packageDisabled' });
    expect(recheckRequest(input({ policy: makePolicy({ enabled: false }), requestType: 'adminAdd' }))).toEqual({ ok: false, rule: 'policyDisabled' });
    expect(recheckRequest(input({ requestType: 'extend', catalog: makeCatalog({ enabled: false }), accessPackage: makePackage({ enabled: false }) }))).toEqual({ ok: true });
    expect(recheckRequest(input({ requestType: 'extend', policy: makePolicy({ enabled: false }) }))).toEqual({ ok: false, rule: 'policyDisabled' });
  });

  it("ends a guest's request when the catalog stops accepting guests", () => {
    const guest = { userType: 'Guest' as const, accountEnabled: true };
    expect(recheckRequest(input({ target: guest, policy: makePolicy({ allowedRequestors: { scope: 'allDirectoryUsers' } }) }))).toEqual({ ok: false, rule: 'externalUsersNotAllowed' });
    expect(recheckRequest(input({ target: guest, requestType: 'adminAdd', catalog: makeCatalog({ externalUsersEnabled: true }) }))).toEqual({ ok: true });
  });

  it('checks the person and the switches before separation of duties, and never holds back a removal', () => {
    expect(recheckRequest(input({ target: null }, { heldOrPendingPackageIds: new Set(['payroll']) }))).toMatchObject({ rule: 'accountDisabled' });
    expect(recheckRequest(input({ requestType: 'remove', target: null, catalog: null }, { heldOrPendingPackageIds: new Set(['payroll']) }))).toEqual({ ok: true });
    expect(recheckRequest(input({ requestType: 'adminRemove', policy: makePolicy({ enabled: false }) }))).toEqual({ ok: true });
  });
});

describe('competingPackageIds: what a request is checked against', () => {
  const request = (id: string, packageId: string, at = NOW, type: RequestType = 'add'): Pick<AccessRequest, 'id' | 'type' | 'packageId' | 'createdAt'> => ({ id, type, packageId, createdAt: at });
  const later = new Date(NOW.getTime() + 1000);

  it('a new submission competes with everything held and every open add request', () => {
    const held = [makeAssignment({ packageId: 'ledger' })];
    const open = [request('R1', 'payments', later), request('R2', 'audit', NOW, 'adminAdd'), request('R3', 'ledger', NOW, 'extend'), request('R4', 'ledger', NOW, 'remove')];
    expect(competingPackageIds(undefined, held, open)).toEqual(new Set(['ledger', 'payments', 'audit']));
  });

  it('a stored request competes with what is held (not through itself) and with open requests that came first', () => {
    const self = request('R5', 'ledger', NOW);
    const held = [makeAssignment({ packageId: 'vat', requestIds: ['R0'] }), makeAssignment({ packageId: 'ledger', requestIds: ['R5'] })];
    const open = [self, request('R1', 'payments', new Date(NOW.getTime() - 1)), request('R9', 'audit', later), request('R2', 'treasury', NOW), request('R7', 'payroll', NOW)];
    // R2 has the same instant and a lower id: it came first; R7 the same instant and a higher id: after.
    expect(competingPackageIds(self, held, open)).toEqual(new Set(['vat', 'payments', 'treasury']));
  });

  it('of two conflicting open requests, exactly one gives way', () => {
    const a = request('REQ-A', 'ledger', NOW);
    const b = request('REQ-B', 'payments', NOW);
    expect(competingPackageIds(a, [], [a, b]).has('payments')).toBe(false);
    expect(competingPackageIds(b, [], [a, b]).has('ledger')).toBe(true);
  });
});
