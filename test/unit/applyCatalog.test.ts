import { applyCatalog, type ApplyReport, formatApplyReport } from '../../src/catalog/applyCatalog';
import { type CatalogDefinition, formatCatalogError, parseCatalogFile } from '../../src/catalog/catalogFile';
import type { AccessRequest, Assignment } from '../../src/domain/model';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { systemClock } from '../../src/clock';
import { openRepositories, type Repositories } from '../../src/store/repositories';

const FILE = `
catalogs:
  - id: finance
    displayName: Finance
    resources:
      - { id: finance-team, type: group, originId: grp-finance, displayName: Finance team }
  - id: legacy
    displayName: Legacy
    resources:
      - { id: old-team, type: group, originId: grp-old, displayName: Old team }
accessPackages:
  - id: accounting
    catalog: finance
    displayName: Accounting
    resourceRoles: [{ resource: finance-team, role: member }]
    policies:
      - id: employees
        displayName: Employees
        approval:
          stages: [{ approvers: [{ group: grp-finance-approvers }] }]
        questions: [{ id: costCentre, text: Cost centre?, regex: "^[0-9]{4}$" }]
        lifecycle: { expiration: { type: onDate, date: 2030-01-31 } }
      - id: contractors
        displayName: Contractors
        allowedRequestors: { scope: specificDirectoryUsers, groups: [grp-contractors] }
  - id: old-tool
    catalog: legacy
    displayName: Old tool
    resourceRoles: [{ resource: old-team, role: member }]
    policies:
      - { id: everyone, displayName: Everyone }
`;

function definitionOf(text: string): CatalogDefinition {
  const result = parseCatalogFile(text, 'catalog.yaml');
  if (!result.ok) throw new Error(result.errors.map(formatCatalogError).join('\n'));
  return result.catalog;
}

/** The definition without some packages (and their policies) and catalogs. */
function without(definition: CatalogDefinition, remove: { packages?: string[]; catalogs?: string[]; policies?: string[] }): CatalogDefinition {
  const packages = remove.packages ?? [];
  return {
    catalogs: definition.catalogs.filter((c) => !(remove.catalogs ?? []).includes(c.id)),
    packages: definition.packages.filter((p) => !packages.includes(p.id)),
    policies: definition.policies.filter((p) => !packages.includes(p.packageId) && !(remove.policies ?? []).includes(`${p.packageId}/${p.id}`)),
  };
}

const at = new Date('2025-05-01T09:00:00Z');

function assignment(packageId: string, state: Assignment['state'] = 'delivered'): Assignment {
  return {
    id: `a-${packageId}-${state}`,
    packageId,
    policyId: 'everyone',
    userId: 'u-fred',
    state,
    startAt: at,
    roles: [],
    requestIds: [],
    createdAt: at,
    updatedAt: at,
  };
}

function request(packageId: string, state: AccessRequest['state'], userId = 'u-fred'): AccessRequest {
  return {
    id: `r-${packageId}-${state}`,
    type: 'add',
    packageId,
    policyId: 'everyone',
    requesterId: userId,
    targetUserId: userId,
    answers: [],
    schedule: {},
    state,
    stages: [],
    createdAt: at,
    updatedAt: at,
    history: [],
  };
}

describe('applyCatalog', () => {
  let store: DocumentStore;
  let repos: Repositories;
  const definition = definitionOf(FILE);

  beforeEach(async () => {
    store = await openEmbeddedStore({});
    repos = await openRepositories(store, systemClock);
  });

  afterEach(async () => {
    await store.close();
  });

  it('creates everything, then finds everything unchanged on the second run', async () => {
    const first = await applyCatalog(definition, repos);
    expect(first.catalogs.created).toEqual(['finance', 'legacy']);
    expect(first.packages.created).toEqual(['accounting', 'old-tool']);
    expect(first.policies.created).toEqual(['accounting/employees', 'accounting/contractors', 'old-tool/everyone']);

    // What is stored is exactly the definition (dates included).
    expect(await repos.catalogs.get('finance')).toEqual(definition.catalogs[0]);
    expect(await repos.packages.get('accounting')).toEqual(definition.packages[0]);
    expect(await repos.policies.get('accounting', 'employees')).toEqual(definition.policies[0]);

    const second = await applyCatalog(definitionOf(FILE), repos);
    expect(second).toEqual<ApplyReport>({
      dryRun: false,
      catalogs: { created: [], updated: [], unchanged: ['finance', 'legacy'], deleted: [], kept: [], overridden: [] },
      packages: { created: [], updated: [], unchanged: ['accounting', 'old-tool'], deleted: [], kept: [], overridden: [] },
      policies: {
        created: [],
        updated: [],
        unchanged: ['accounting/employees', 'accounting/contractors', 'old-tool/everyone'],
        deleted: [],
        kept: [],
        overridden: [],
      },
    });
    expect(formatApplyReport(second)).toBe('catalogs: 2 unchanged\npackages: 2 unchanged\npolicies: 3 unchanged');
  });

  it('updates what changed and names the changed fields', async () => {
    await applyCatalog(definition, repos);
    const changed = definitionOf(
      FILE.replace('    displayName: Accounting\n', '    displayName: Accounting\n    description: For the accounting team\n    hidden: true\n').replace(
        'displayName: Everyone',
        'displayName: Everyone, enabled: false',
      ),
    );
    const report = await applyCatalog(changed, repos);
    expect(report.packages.updated).toEqual([{ id: 'accounting', fields: ['description', 'hidden'] }]);
    expect(report.packages.unchanged).toEqual(['old-tool']);
    expect(report.policies.updated).toEqual([{ id: 'old-tool/everyone', fields: ['enabled'] }]);
    expect(report.catalogs.unchanged).toEqual(['finance', 'legacy']);
    expect((await repos.packages.get('accounting'))?.hidden).toBe(true);
    expect((await repos.policies.get('old-tool', 'everyone'))?.enabled).toBe(false);
    expect(formatApplyReport(report)).toContain('packages: 1 updated (accounting: description, hidden), 1 unchanged');
  });

  it('deletes packages, policies and catalogs the file dropped when nothing depends on them', async () => {
    await applyCatalog(definition, repos);
    // Finished assignments and requests do not hold a package.
    await repos.assignments.insert(assignment('old-tool', 'expired'));
    await repos.requests.insert(request('old-tool', 'denied'));

    const report = await applyCatalog(without(definition, { packages: ['old-tool'], catalogs: ['legacy'], policies: ['accounting/contractors'] }), repos);
    expect(report.packages.deleted).toEqual(['old-tool']);
    expect(report.policies.deleted.sort()).toEqual(['accounting/contractors', 'old-tool/everyone']);
    expect(report.catalogs.deleted).toEqual(['legacy']);
    expect(await repos.packages.get('old-tool')).toBeNull();
    expect(await repos.policies.listForPackage('old-tool')).toEqual([]);
    expect(await repos.policies.get('accounting', 'contractors')).toBeNull();
    expect(await repos.catalogs.get('legacy')).toBeNull();
    expect(formatApplyReport(report)).toContain('catalogs: 1 deleted (legacy), 1 unchanged');
  });

  it('keeps a package with active assignments, its policies (closed to new requests) and its catalog', async () => {
    await applyCatalog(definition, repos);
    await repos.assignments.insert(assignment('old-tool'));
    await repos.requests.insert(request('old-tool', 'pendingApproval'));
    await repos.requests.insert(request('old-tool', 'delivering', 'u-lola'));

    const dropped = without(definition, { packages: ['old-tool'], catalogs: ['legacy'] });
    const report = await applyCatalog(dropped, repos);
    expect(report.packages.kept).toEqual([{ id: 'old-tool', reason: '1 active assignment / 2 open requests; remove them first' }]);
    expect(report.packages.deleted).toEqual([]);
    expect(report.policies.kept).toEqual([{ id: 'old-tool/everyone', reason: "its package 'old-tool' is kept; new requests now disabled" }]);
    expect(report.catalogs.kept).toEqual([{ id: 'legacy', reason: 'still holds kept package old-tool' }]);
    expect(await repos.packages.get('old-tool')).not.toBeNull();
    expect(await repos.catalogs.get('legacy')).not.toBeNull();
    expect((await repos.policies.get('old-tool', 'everyone'))?.enabled).toBe(false);
    expect(formatApplyReport(report).split('\n')).toEqual([
      'catalogs: 1 kept, 1 unchanged',
      'packages: 1 kept, 1 unchanged',
      'policies: 1 kept, 2 unchanged',
      "warning: catalog 'legacy' kept: still holds kept package old-tool",
      "warning: package 'old-tool' kept: 1 active assignment / 2 open requests; remove them first",
      "warning: policy 'old-tool/everyone' kept: its package 'old-tool' is kept; new requests now disabled",
    ]);

    // Still reported (not silently accepted) on the next run; nothing more is written.
    const again = await applyCatalog(dropped, repos);
    expect(again.packages.kept).toHaveLength(1);
    expect(again.policies.kept).toEqual([{ id: 'old-tool/everyone', reason: "its package 'old-tool' is kept; new requests already disabled" }]);

    // Once the assignment and requests are gone, the next apply removes it all.
    await repos.assignments.update('a-old-tool-delivered', {}, { $set: { state: 'removed' } });
    await repos.requests.transition('r-old-tool-pendingApproval', 'pendingApproval', { $set: { state: 'canceled' } });
    await repos.requests.transition('r-old-tool-delivering', 'delivering', { $set: { state: 'delivered' } });
    const finally_ = await applyCatalog(dropped, repos);
    expect(finally_.packages.deleted).toEqual(['old-tool']);
    expect(finally_.policies.deleted).toEqual(['old-tool/everyone']);
    expect(finally_.catalogs.deleted).toEqual(['legacy']);
  });

  it('keeps a dropped policy while its package is in use', async () => {
    await applyCatalog(definition, repos);
    await repos.requests.insert(request('accounting', 'pendingApproval'));
    const report = await applyCatalog(without(definition, { policies: ['accounting/contractors'] }), repos);
    expect(report.policies.kept).toEqual([
      { id: 'accounting/contractors', reason: 'its package has 0 active assignments / 1 open request; new requests now disabled' },
    ]);
    expect((await repos.policies.get('accounting', 'contractors'))?.enabled).toBe(false);

    // Putting it back in the file re-enables it.
    const restored = await applyCatalog(definition, repos);
    expect(restored.policies.updated).toEqual([{ id: 'accounting/contractors', fields: ['enabled'] }]);
    expect((await repos.policies.get('accounting', 'contractors'))?.enabled).toBe(true);
  });

  it('changes nothing on a dry run, but reports what it would do', async () => {
    const report = await applyCatalog(definition, repos, { dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.packages.created).toEqual(['accounting', 'old-tool']);
    expect(await repos.catalogs.list()).toEqual([]);
    expect(await repos.packages.list()).toEqual([]);
    expect(formatApplyReport(report).split('\n')[0]).toBe('dry run: nothing was written; this is what apply would do');

    await applyCatalog(definition, repos);
    await repos.assignments.insert(assignment('old-tool'));
    const dropped = without(definition, { packages: ['old-tool', 'accounting'], catalogs: ['legacy', 'finance'] });
    const dry = await applyCatalog(dropped, repos, { dryRun: true });
    expect(dry.packages.deleted).toEqual(['accounting']);
    expect(dry.packages.kept.map((k) => k.id)).toEqual(['old-tool']);
    expect(await repos.packages.list()).toHaveLength(2);
    expect((await repos.policies.get('old-tool', 'everyone'))?.enabled).toBe(true);
  });

  it("keeps an admin's enable/disable the file disagrees with, reports it, and lets the file win once it agrees", async () => {
    await applyCatalog(definition, repos);
    const override = { enabled: false, fileEnabled: true, byId: 'u-ivan', byName: 'Ivan Petrov', at: new Date('2026-11-22T09:00:00Z') };
    expect(await repos.policies.switchEnabled('accounting', 'employees', true, false, override)).toBe(true);
    expect(await repos.packages.switchEnabled('old-tool', true, false, override)).toBe(true);
    // Precondition: a second switch from the same starting point changes nothing.
    expect(await repos.packages.switchEnabled('old-tool', true, false, override)).toBe(false);

    const report = await applyCatalog(definition, repos);
    expect(report.policies.overridden).toEqual([{ id: 'accounting/employees', override }]);
    expect(report.packages.overridden).toEqual([{ id: 'old-tool', override }]);
    expect(report.policies.unchanged).toContain('accounting/employees'); // nothing written
    expect((await repos.policies.get('accounting', 'employees'))?.enabled).toBe(false);
    expect(formatApplyReport(report).split('\n')).toEqual([
      'catalogs: 2 unchanged',
      'packages: 1 kept as an admin set it, 2 unchanged',
      'policies: 1 kept as an admin set it, 3 unchanged',
      "note: package 'old-tool' kept disabled by Ivan Petrov on 22 Nov 2026 at 09:00 UTC (the file says enabled); type enable package old-tool to clear",
      "note: policy 'accounting/employees' kept disabled by Ivan Petrov on 22 Nov 2026 at 09:00 UTC (the file says enabled); type enable policy accounting/employees to clear",
    ]);

    // Other changes in the file still apply to an overridden record.
    const renamed = { ...definition, policies: definition.policies.map((p) => (p.id === 'employees' ? { ...p, displayName: 'Staff' } : p)) };
    const changed = await applyCatalog(renamed, repos);
    expect(changed.policies.updated).toEqual([{ id: 'accounting/employees', fields: ['displayName'] }]);
    expect(await repos.policies.get('accounting', 'employees')).toMatchObject({ displayName: 'Staff', enabled: false, adminOverride: override });

    // The file now says disabled too: nothing left to keep, the override goes.
    const agreed = { ...definition, packages: definition.packages.map((p) => (p.id === 'old-tool' ? { ...p, enabled: false } : p)) };
    const cleared = await applyCatalog(agreed, repos);
    expect(cleared.packages.overridden).toEqual([]);
    expect(cleared.packages.updated).toEqual([{ id: 'old-tool', fields: ['adminOverride'] }]);
    expect(await repos.packages.get('old-tool')).toMatchObject({ enabled: false });
    expect((await repos.packages.get('old-tool'))?.adminOverride).toBeUndefined();
  });

  it('a policy taken out of the file while in use is closed, whatever an admin enabled', async () => {
    await applyCatalog(definition, repos);
    await repos.requests.insert(request('accounting', 'pendingApproval'));
    await applyCatalog(without(definition, { policies: ['accounting/contractors'] }), repos);
    const enabledByIvan = { enabled: true, fileEnabled: false, byId: 'u-ivan', byName: 'Ivan Petrov', at };
    expect(await repos.policies.switchEnabled('accounting', 'contractors', false, true, enabledByIvan)).toBe(true);
    const report = await applyCatalog(without(definition, { policies: ['accounting/contractors'] }), repos);
    expect(report.policies.kept.map((k) => k.reason)).toEqual(['its package has 0 active assignments / 1 open request; new requests now disabled']);
    const policy = await repos.policies.get('accounting', 'contractors');
    expect(policy?.enabled).toBe(false);
    expect(policy?.adminOverride).toBeUndefined();
  });

  it('reads a package without the enabled field (stored before it existed) as enabled', async () => {
    await applyCatalog(definition, repos);
    const { enabled, ...legacy } = (await repos.packages.get('accounting'))!;
    expect(enabled).toBe(true);
    await repos.packages.save(legacy);
    expect(await repos.packages.switchEnabled('accounting', true, false, null)).toBe(true);
    expect((await repos.packages.get('accounting'))?.enabled).toBe(false);
  });

  it('repairs the browse keys of packages (a crash between a policy write and its package) at every apply', async () => {
    await applyCatalog(definition, repos);
    await store.collection('accessPackages').updateMany({}, { $unset: { requestorKeys: true } });
    const fred = { requestorKeys: ['scope:allDirectoryUsers', 'scope:allMemberUsers', 'user:u-fred'], catalogIds: ['finance', 'legacy'], skip: 0, limit: 10 };
    expect((await repos.packages.search(fred)).total).toBe(0);
    await applyCatalog(definition, repos); // nothing in the file changed
    expect((await repos.packages.search(fred)).items.map((p) => p.id)).toEqual(['accounting', 'old-tool']);
  });

  it('reports "none" for an empty definition on an empty store', async () => {
    const report = await applyCatalog({ catalogs: [], packages: [], policies: [] }, repos);
    expect(formatApplyReport(report)).toBe('catalogs: none\npackages: none\npolicies: none');
  });
});
