import { openMongoStore } from '../../src/store/mongoStore';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { PERSON_CLAIM_LEASE_MS, PersonClaimRepository } from '../../src/store/repositories/personClaims';
import { FakeClock } from '../support/fakeClock';
import { type MongoTarget, mongoUnavailable, startMongoTarget, uniqueDbName } from '../support/mongoWire';

// The per-person claim behind separation of duties: on each store adapter, one holder at a
// time however many race for it, only the holder renews or releases it, and a holder that died
// blocks nobody longer than its lease.
function describeClaims(name: string, open: () => Promise<DocumentStore>, done: () => Promise<void> = async () => undefined) {
  describe(`person claims (${name})`, () => {
    let store: DocumentStore;
    let clock: FakeClock;
    let claims: PersonClaimRepository;

    beforeEach(async () => {
      store = await open();
      clock = new FakeClock();
      claims = new PersonClaimRepository(store, () => clock.now());
      await claims.init();
    });
    afterEach(async () => {
      await store.close();
    });
    afterAll(done);

    it('one holder at a time: a second claim waits for the release', async () => {
      const first = await claims.tryAcquire('u-fred', 'request');
      expect(first).toMatchObject({ personId: 'u-fred', purpose: 'request', takenOver: false });
      expect(await claims.tryAcquire('u-fred', 'adminAssign')).toBeNull();
      // Other people are not held up.
      expect(await claims.tryAcquire('u-lola', 'request')).not.toBeNull();
      expect(await claims.holder('u-fred')).toMatchObject({ purpose: 'request' });
      await claims.release(first!);
      expect(await claims.holder('u-fred')).toBeNull();
      expect(await claims.tryAcquire('u-fred', 'adminAssign')).toMatchObject({ purpose: 'adminAssign' });
    });

    it('of twenty racing for one person, exactly one gets the claim', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => claims.tryAcquire('u-fred', `racer ${i}`)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("a holder that died is taken over once its lease ran out, and can then neither renew nor release the new holder's claim", async () => {
      const dead = (await claims.tryAcquire('u-fred', 'request'))!;
      clock.advance(PERSON_CLAIM_LEASE_MS - 1);
      expect(await claims.tryAcquire('u-fred', 'delivery')).toBeNull();
      clock.advance(1);
      const [taker, other] = await Promise.all([claims.tryAcquire('u-fred', 'delivery'), claims.tryAcquire('u-fred', 'extend')]);
      const winner = taker ?? other;
      expect([taker, other].filter(Boolean)).toHaveLength(1);
      expect(winner).toMatchObject({ takenOver: true });
      expect(await claims.renew(dead)).toBe(false);
      await claims.release(dead);
      expect(await claims.holder('u-fred')).toMatchObject({ purpose: winner!.purpose });
      expect(await claims.renew(winner!)).toBe(true);
    });

    it('renewing pushes the lease on from now', async () => {
      const claim = (await claims.tryAcquire('u-fred', 'request'))!;
      clock.advance(PERSON_CLAIM_LEASE_MS - 1000);
      expect(await claims.renew(claim)).toBe(true);
      clock.advance(2000);
      expect(await claims.tryAcquire('u-fred', 'delivery')).toBeNull();
      expect(claim.leaseUntil.getTime()).toBe(clock.now().getTime() - 2000 + PERSON_CLAIM_LEASE_MS);
    });

    it('acquire waits while the claim is held and gets it when released; gives up after its wait', async () => {
      const held = (await claims.tryAcquire('u-fred', 'request'))!;
      const waiting = claims.acquire('u-fred', 'adminAssign', 2000);
      setTimeout(() => void claims.release(held), 30);
      expect(await waiting).toMatchObject({ purpose: 'adminAssign' });
      const started = Date.now();
      expect(await claims.acquire('u-fred', 'extend', 150)).toBeNull();
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('releaseAll (embedded start-up) drops every claim', async () => {
      await claims.tryAcquire('u-fred', 'request');
      await claims.tryAcquire('u-lola', 'request');
      expect(await claims.releaseAll()).toBe(2);
      expect(await claims.tryAcquire('u-fred', 'request')).not.toBeNull();
    });
  });
}

describeClaims('embedded store', () => openEmbeddedStore({}));

const unavailable = mongoUnavailable();
if (unavailable) console.info(unavailable);
if (!unavailable) {
  for (const [label, options] of [['standalone', {}], ['replica set', { replicaSet: 'rs0' }]] as const) {
    let target: MongoTarget | undefined;
    const dbName = uniqueDbName('claims');
    let round = 0;
    describeClaims(
      `MongoDB wire double or MONGODB_URI, ${label}`,
      async () => {
        target ??= await startMongoTarget(options);
        return openMongoStore({ uri: target.uri, dbName: `${dbName}_${round++}` });
      },
      async () => {
        await target?.stop();
      },
    );
  }
}
