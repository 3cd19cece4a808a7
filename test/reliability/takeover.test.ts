import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunningApp } from '../../src/app';
import { systemClock } from '../../src/clock';
import { LocalDirectory } from '../../src/directory/localDirectory';
import type { Directory } from '../../src/directory/port';
import { DELIVERY_TASKS } from '../../src/domain/taskTypes';
import { openMongoStore } from '../../src/store/mongoStore';
import type { DocumentStore } from '../../src/store/port';
import { LoopbackConnector } from '../support/loopbackConnector';
import { mongoUnavailable, startMongoTarget, type MongoTarget, uniqueDbName } from '../support/mongoWire';
import { postActivity, startTestApp } from '../support/testApp';
import { BOT, TENANT } from './fixtures';
import { FLOODER, room, writeLoadWorld } from './loadWorld';

// Leases that follow the work (issue 14), two instances sharing MongoDB: instance A claims a
// grant whose directory write hangs, then A dies (its connection to the store is gone: it can
// neither renew nor record). B takes the grant over once A's short lease has run out, well
// within three leases, and it runs to completion exactly once.
const LEASE_MS = 3_000;
const USER = FLOODER;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The shared directory, as instance A sees it: adding a member hangs until A "dies", then fails. */
function hangingAdds(inner: Directory): { directory: Directory; die: () => void } {
  let die!: () => void;
  const died = new Promise<never>((_, reject) => (die = () => reject(new Error('instance A was killed'))));
  died.catch(() => undefined);
  const directory = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === 'addGroupRole') return () => died;
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { directory, die };
}

/** The shared directory, counting the member additions that reached it. */
function countingAdds(inner: Directory): { directory: Directory; adds: () => number } {
  let adds = 0;
  const directory = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === 'addGroupRole') return async (...args: unknown[]) => {
        adds++;
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { directory, adds: () => adds };
}

const unavailable = mongoUnavailable();
if (unavailable) console.info(unavailable);

(unavailable ? describe.skip : describe)('a dead instance\'s task is taken over (two instances, one MongoDB)', () => {
  let target: MongoTarget;
  let dir: string;
  let connector: LoopbackConnector;
  const apps: (RunningApp & { baseUrl: string })[] = [];
  const stores: DocumentStore[] = [];

  beforeAll(async () => {
    target = await startMongoTarget();
    connector = new LoopbackConnector();
    await connector.start();
    dir = mkdtempSync(path.join(tmpdir(), 'ap-takeover-'));
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    for (const store of stores) await store.close().catch(() => undefined);
    await connector.stop();
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`a grant in flight on a killed instance is delivered by the other within 3 leases (lease ${LEASE_MS / 1000} s), exactly once`, async () => {
    const world = writeLoadWorld(dir, { rooms: 1, holders: [] });
    const shared = await LocalDirectory.open({ file: world.directoryFile });
    const a = hangingAdds(shared);
    const b = countingAdds(shared);
    const dbName = uniqueDbName('takeover');
    const env = { TENANT_ID: TENANT, TEAMS_SERVICE_URL: connector.serviceUrl, CATALOG_FILE: world.catalogFile, LOCAL_DIRECTORY_FILE: world.directoryFile, TASK_LEASE_MS: String(LEASE_MS), SCHEDULER_INTERVAL_MS: '1000' };
    const open = async () => {
      const store = await openMongoStore({ uri: target.uri, dbName });
      stores.push(store);
      return store;
    };
    const real = { clock: systemClock, notifierPacing: undefined, directoryPacing: undefined, startScheduler: false };
    const instanceA = await startTestApp(env, { ...real, store: await open(), directory: a.directory });
    apps.push(instanceA);
    const instanceB = await startTestApp(env, { ...real, store: await open(), directory: b.directory });
    apps.push(instanceB);

    // The user asks for Room 1 (no approval) on A; A's loop delivers it and hangs in the write.
    instanceA.scheduler.start();
    const submit = await postActivity(instanceA.baseUrl, {
      id: randomUUID(), channelId: 'msteams', serviceUrl: connector.serviceUrl, recipient: BOT,
      from: { id: `29:${USER}`, aadObjectId: USER, name: USER },
      conversation: { id: `a:personal-${USER}`, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'submitRequest', data: { verb: 'submitRequest', packageId: 'room-1', policyId: 'all' } }, trigger: 'manual' },
    });
    expect(submit.status).toBe(200);
    const tasks = instanceB.store.collection<{ _id: string; type: string; state: string; leaseOwner?: string; attempts: number }>('tasks');
    let grant: { _id: string; leaseOwner?: string } | null = null;
    for (let i = 0; i < 200 && !grant; i++) {
      grant = await tasks.findOne({ type: DELIVERY_TASKS.grant, leaseOwner: instanceA.taskRunner.workerId });
      if (!grant) await sleep(50);
    }
    expect(grant).not.toBeNull();
    // A keeps it while it runs: longer than a lease, B (now running too) does not take it.
    instanceB.scheduler.start();
    await sleep(LEASE_MS * 1.5);
    expect(await tasks.findOne({ _id: grant!._id })).toMatchObject({ state: 'pending', leaseOwner: instanceA.taskRunner.workerId });
    expect(b.adds()).toBe(0);

    // A dies: its connection to the store is gone (no renewal, no outcome), its write never lands.
    const diedAt = Date.now();
    await instanceA.store.close();
    a.die();
    let done: { state: string; leaseOwner?: string; attempts: number } | null = null;
    while (Date.now() - diedAt < LEASE_MS * 5) {
      done = await tasks.findOne({ _id: grant!._id, state: 'done' });
      if (done) break;
      await sleep(100);
    }
    const takeoverMs = Date.now() - diedAt;
    console.log(`takeover (${target.label}): A died holding a grant; B delivered it ${takeoverMs} ms later (lease ${LEASE_MS} ms)`);
    expect(done).toMatchObject({ state: 'done', leaseOwner: instanceB.taskRunner.workerId });
    expect(takeoverMs).toBeLessThan(LEASE_MS * 3);

    // Exactly once: one write reached the directory, one grant audited, the user has the room.
    expect(b.adds()).toBe(1);
    expect(await shared.hasGroupRole(room(1), USER, 'member')).toBe(true);
    const audit = await instanceB.repositories.audit.query({ userId: USER, limit: 100 });
    expect(audit.filter((e) => e.action === 'delivery.granted')).toHaveLength(1);
    for (let i = 0; i < 100; i++) {
      if ((await instanceB.repositories.requests.listForUser(USER)).every((r) => r.state === 'delivered')) break;
      await sleep(50);
    }
    expect((await instanceB.repositories.requests.listForUser(USER)).map((r) => r.state)).toEqual(['delivered']);
  });
});
