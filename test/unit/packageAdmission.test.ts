// Packages carry the requestor keys of their enabled policies so that browsing is one indexed
// query (see src/store/repositories/policies.ts). These tests hold the derived keys to the
// policies they come from, through every kind of policy write and after a crash between them.
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { openRepositories, type Repositories } from '../../src/store/repositories';
import { keysForRequestor } from '../../src/store/repositories/policies';
import { makeCatalog, makePackage, makePolicy, NOW } from '../support/domainFixtures';

const member = (userId: string, groupIds: string[] = []) => keysForRequestor({ userId, isMember: true, groupIds });
const guest = (userId: string) => keysForRequestor({ userId, isMember: false, groupIds: [] });

describe('package requestor keys (browse index)', () => {
  let store: DocumentStore;
  let repos: Repositories;

  beforeEach(async () => {
    store = await openEmbeddedStore({});
    repos = await openRepositories(store, { now: () => NOW });
    await repos.catalogs.save(makeCatalog());
  });
  afterEach(() => store.close());

  async function browse(keys: string[], text = ''): Promise<string[]> {
    return (await repos.packages.search({ requestorKeys: keys, catalogIds: ['finance'], text, skip: 0, limit: 50 })).items.map((p) => p.id);
  }

  async function storedKeys(packageId: string): Promise<string[] | undefined> {
    return (await repos.packages.requestorKeysById()).get(packageId);
  }

  it('offers a package to whom its enabled policies admit, and no one else', async () => {
    await repos.packages.save(makePackage({ id: 'accounting' }));
    await repos.packages.save(makePackage({ id: 'payments', displayName: 'Payments' }));
    await repos.policies.save(makePolicy({ packageId: 'accounting', id: 'employees', allowedRequestors: { scope: 'allMemberUsers' } }));
    await repos.policies.save(makePolicy({ packageId: 'payments', id: 'team', allowedRequestors: { scope: 'specificDirectoryUsers', users: ['u-alex'], groups: ['g-finance'] } }));

    expect(await browse(member('u-fred'))).toEqual(['accounting']);
    expect(await browse(member('u-alex'))).toEqual(['accounting', 'payments']);
    expect(await browse(member('u-gina', ['g-finance']))).toEqual(['accounting', 'payments']);
    expect(await browse(guest('u-grace'))).toEqual([]);
    expect(await browse(member('u-alex'), 'pay')).toEqual(['payments']);
    expect(await browse(member('u-fred'), 'pay')).toEqual([]);
  });

  it('follows every policy write: disable, enable, a second policy, deletion', async () => {
    await repos.packages.save(makePackage());
    await repos.policies.save(makePolicy({ id: 'employees' }));
    await repos.policies.save(makePolicy({ id: 'guests', allowedRequestors: { scope: 'allDirectoryUsers' } }));
    expect(await storedKeys('accounting')).toEqual(['scope:allDirectoryUsers', 'scope:allMemberUsers']);
    expect(await browse(guest('u-grace'))).toEqual(['accounting']);

    expect(await repos.policies.switchEnabled('accounting', 'guests', true, false, null)).toBe(true);
    expect(await browse(guest('u-grace'))).toEqual([]);
    expect(await browse(member('u-fred'))).toEqual(['accounting']);

    await repos.policies.setEnabled('accounting', 'guests', true);
    expect(await browse(guest('u-grace'))).toEqual(['accounting']);

    await repos.policies.delete('accounting', 'guests');
    await repos.policies.save(makePolicy({ id: 'employees', enabled: false }));
    expect(await storedKeys('accounting')).toEqual([]);
    expect(await browse(member('u-fred'))).toEqual([]);
  });

  it('saving a package again (an apply that changed its name) keeps its keys', async () => {
    await repos.packages.save(makePackage());
    await repos.policies.save(makePolicy());
    await repos.packages.save(makePackage({ displayName: 'Accounting (renamed)' }));
    expect(await browse(member('u-fred'))).toEqual(['accounting']);
    expect((await repos.packages.get('accounting'))?.displayName).toBe('Accounting (renamed)');
  });

  it('refreshAllPackageKeys repairs keys a crash left stale or an older version never wrote', async () => {
    await repos.packages.save(makePackage({ id: 'accounting' }));
    await repos.packages.save(makePackage({ id: 'payments', displayName: 'Payments' }));
    await repos.policies.save(makePolicy({ packageId: 'accounting' }));
    await repos.policies.save(makePolicy({ packageId: 'payments' }));
    // A crash between a policy write and its package's refresh; a document from before the field.
    await store.collection('accessPackages').updateOne({ _id: 'accounting' }, { $set: { requestorKeys: ['user:u-mallory'] } });
    await store.collection('accessPackages').updateOne({ _id: 'payments' }, { $unset: { requestorKeys: true } });
    expect(await browse(member('u-fred'))).toEqual([]);
    expect(await browse(member('u-mallory'))).toEqual(['accounting']);

    expect(await repos.policies.refreshAllPackageKeys()).toBe(2);
    expect(await browse(member('u-fred'))).toEqual(['accounting', 'payments']);
    expect(await browse(member('u-mallory'))).toEqual(['accounting', 'payments']);
    expect(await repos.policies.refreshAllPackageKeys()).toBe(0); // nothing left to correct
  });

  it('a page without words comes from a listing kept in memory: this process\'s writes show at once, another instance\'s within a minute', async () => {
    let now = NOW.getTime();
    const clock = { now: () => new Date(now) };
    const here = await openRepositories(store, clock);
    const elsewhere = await openRepositories(store, clock); // a second instance on the same store
    await here.catalogs.save(makeCatalog());
    await here.packages.save(makePackage({ id: 'accounting' }));
    await here.policies.save(makePolicy({ packageId: 'accounting' }));
    const page = async () => (await here.packages.search({ requestorKeys: member('u-fred'), catalogIds: ['finance'], skip: 0, limit: 10 })).items.map((p) => p.id);
    expect(await page()).toEqual(['accounting']);

    // Written here: seen at once.
    await here.packages.switchEnabled('accounting', true, false, null);
    expect(await page()).toEqual([]);
    await here.packages.switchEnabled('accounting', false, true, null);
    expect(await page()).toEqual(['accounting']);

    // Written by the other instance: seen once the listing is a minute old.
    await elsewhere.packages.save(makePackage({ id: 'payments', displayName: 'Payments' }));
    await elsewhere.policies.save(makePolicy({ packageId: 'payments' }));
    now += 59_000;
    expect(await page()).toEqual(['accounting']);
    now += 1_000;
    expect(await page()).toEqual(['accounting', 'payments']);
    // Searching with words always reads the store.
    expect((await here.packages.search({ requestorKeys: member('u-fred'), catalogIds: ['finance'], text: 'pay', skip: 0, limit: 10 })).items.map((p) => p.id)).toEqual(['payments']);
  });
});
