import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Db, MongoClient } from 'mongodb';
import { StartupError } from '../../src/app';
import { main as migrate } from '../../src/migrate/cli';
import { openMongoStore } from '../../src/store/mongoStore';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { openRepositories } from '../../src/store/repositories';
import { SCHEMA_VERSION } from '../../src/store/schema';
import { FakeClock } from '../support/fakeClock';
import { type MongoTarget, mongoUnavailable, startMongoTarget, uniqueDbName } from '../support/mongoWire';
import { memoryLogger } from '../support/silentLogger';
import { startTestApp } from '../support/testApp';
import { dropDatabase, openMongoTestStore } from '../support/testStore';

// Starting on a database an earlier version made. The layout before named indexes: every index
// under MongoDB's generated name, lifecycleCheckAt still sparse (as the lifecycle job first made
// it), the compound indexes without _id.
type OldIndex = { key: Record<string, 1>; unique?: true; sparse?: true };
const OLD_LAYOUT: Record<string, OldIndex[]> = {
  assignments: [
    { key: { userId: 1, packageId: 1 } },
    { key: { userId: 1 } },
    { key: { packageId: 1, state: 1 } },
    { key: { expiresAt: 1 }, sparse: true },
    { key: { packageId: 1, createdAt: 1 } },
    { key: { packageId: 1 } },
    { key: { lifecycleCheckAt: 1 }, sparse: true },
  ],
  requests: [
    { key: { targetUserId: 1, createdAt: 1 } },
    { key: { targetUserId: 1 } },
    { key: { packageId: 1, state: 1 } },
    { key: { openKey: 1 }, unique: true, sparse: true },
    { key: { packageId: 1, createdAt: 1 } },
    { key: { packageId: 1 } },
    { key: { state: 1 } },
  ],
  tasks: [{ key: { state: 1, dueAt: 1 } }, { key: { state: 1 } }, { key: { dedupeKey: 1 }, unique: true, sparse: true }],
  auditEvents: [
    { key: { at: 1 } },
    { key: { packageId: 1, at: 1 } },
    { key: { userId: 1, at: 1 } },
    { key: { packageId: 1 }, sparse: true },
    { key: { userId: 1 }, sparse: true },
    { key: { requestId: 1 }, sparse: true },
    { key: { assignmentId: 1 }, sparse: true },
    { key: { actorId: 1 } },
    { key: { action: 1, at: 1 } },
  ],
  accessPackages: [{ key: { catalog: 1 } }, { key: { searchTerms: 1 } }, { key: { requestorKeys: 1 } }],
  policies: [{ key: { packageId: 1 } }, { key: { requestorKeys: 1 } }, { key: { 'allowedRequestors.scope': 1 } }],
  conversationReferences: [{ key: { tenantId: 1, updatedAt: 1 } }],
  botAddresses: [{ key: { updatedAt: 1 } }],
  sentCards: [{ key: { userId: 1 } }],
  grants: [{ key: { userId: 1 } }],
  exportFiles: [{ key: { expiresAt: 1 } }],
  exportChunks: [{ key: { expiresAt: 1 } }, { key: { exportId: 1 } }],
};

const NOW = new Date('2026-11-22T09:00:00.000Z');

/** An assignment whose expiry check is due (a Date the sparse NeDB index would hide). */
function dueAssignment(id: string) {
  return {
    _id: id,
    packageId: 'accounting',
    policyId: 'employees',
    userId: `u-${id}`,
    state: 'delivered',
    startAt: new Date(NOW.getTime() - 86_400_000),
    expiresAt: new Date(NOW.getTime() + 3_600_000),
    lifecycleCheckAt: new Date(NOW.getTime() - 60_000),
    roles: [],
    requestIds: [],
    createdAt: NOW,
    updatedAt: NOW,
  };
}

async function makeOldLayout(db: Db, assignments = 1): Promise<void> {
  for (const [collection, indexes] of Object.entries(OLD_LAYOUT)) {
    await db.createCollection(collection);
    for (const { key, ...options } of indexes) await db.collection(collection).createIndex(key, options);
  }
  for (let i = 0; i < assignments; i++) await db.collection('assignments').insertOne(dueAssignment(`A${i}`) as never);
}

async function indexesOf(db: Db, collection: string): Promise<Record<string, { key: unknown; sparse?: boolean; unique?: boolean }>> {
  return Object.fromEntries((await db.collection(collection).listIndexes().toArray()).map((i) => [i.name as string, { key: i.key, ...(i.sparse ? { sparse: true } : {}), ...(i.unique ? { unique: true } : {}) }]));
}

const unavailable = mongoUnavailable();
if (unavailable) console.info(unavailable);

(unavailable ? describe.skip : describe)('schema migration at start-up on MongoDB (MongoDB wire double)', () => {
  let target: MongoTarget;
  let client: MongoClient;
  let dbName: string;
  let db: Db;

  beforeAll(async () => {
    target = await startMongoTarget({ double: true });
    client = await new MongoClient(target.uri).connect();
  });

  afterAll(async () => {
    await client?.close();
    await target?.stop();
  });

  beforeEach(() => {
    dbName = uniqueDbName('schema');
    db = client.db(dbName);
  });

  afterEach(() => dropDatabase(target.uri, dbName));

  /** What start-up threw (the store it was given is closed after). */
  async function refusedStart(env: Record<string, string>): Promise<unknown> {
    const store = await openMongoStore({ uri: target.uri, dbName });
    try {
      await startTestApp(env, { store }).then((app) => app.close());
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await store.close();
    }
  }

  const migrateCli = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await migrate(argv, {}, { out: (l) => out.push(l), err: (l) => err.push(l) }, { openStore: () => openMongoStore({ uri: target.uri, dbName }) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('a database of the earlier layout (generated names, lifecycleCheckAt sparse) is migrated at start-up, logged, and works', async () => {
    await makeOldLayout(db);
    const logs = memoryLogger();
    const app = await startTestApp({}, { store: await openMongoStore({ uri: target.uri, dbName }), logger: logs.logger });
    try {
      const assignments = await indexesOf(db, 'assignments');
      expect(assignments.lifecycleCheckAt_1).toEqual({ key: { lifecycleCheckAt: 1 } });
      expect(assignments.packageId_1_createdAt_1__id_1).toEqual({ key: { packageId: 1, createdAt: 1, _id: 1 } });
      // Retired: an earlier layout's compound index, and single-field indexes MongoDB serves from a compound one's prefix.
      expect(Object.keys(assignments)).not.toEqual(expect.arrayContaining(['packageId_1_createdAt_1']));
      expect(assignments).not.toHaveProperty('userId_1');
      expect(assignments).not.toHaveProperty('packageId_1');
      const requests = await indexesOf(db, 'requests');
      expect(requests).toMatchObject({ openKey_1: { unique: true, sparse: true }, targetUserId_1_createdAt_1__id_1: {}, state_1_createdAt_1__id_1: {}, createdAt_1__id_1: {} });
      expect(requests).not.toHaveProperty('targetUserId_1_createdAt_1');
      expect(requests).not.toHaveProperty('state_1');
      const audit = await indexesOf(db, 'auditEvents');
      expect(Object.keys(audit).sort()).toEqual(['_id_', 'action_1_at_1__id_1', 'actorId_1_at_1__id_1', 'assignmentId_1', 'at_1__id_1', 'packageId_1_at_1__id_1', 'requestId_1', 'userId_1_at_1__id_1']);
      expect(await indexesOf(db, 'accessPackages')).toHaveProperty('displayName_1__id_1');
      expect(await db.collection('schema').findOne({ _id: 'version' as never })).toMatchObject({ version: SCHEMA_VERSION });

      const messages = logs.lines().map((l) => l.msg);
      expect(messages).toContain('index rebuilt: assignments.lifecycleCheckAt_1 (options changed: sparse → not sparse)');
      expect(messages).toContain('index dropped: requests.targetUserId_1_createdAt_1 (no longer used)');

      // It works: the expiry scan finds the assignment due, a user's requests list answers.
      app.clock.set(NOW);
      expect((await app.repositories.assignments.claimLifecycleDue(NOW, 60_000, 10)).map((a) => a.id)).toEqual(['A0']);
      expect(await app.repositories.requests.listForUser('u-A0')).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('a start with nothing to change lists the indexes and creates or drops none', async () => {
    const first = await openMongoStore({ uri: target.uri, dbName });
    await openRepositories(first, new FakeClock());
    await first.close();
    const before = await target.control!.commandCounts();
    const second = await openMongoStore({ uri: target.uri, dbName });
    await openRepositories(second, new FakeClock());
    await second.close();
    const after = await target.control!.commandCounts();
    const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    expect(delta('createIndexes')).toBe(0);
    expect(delta('dropIndexes')).toBe(0);
    expect(delta('listIndexes')).toBeGreaterThan(10);
  });

  it('two instances starting at once on an earlier layout both start, and the layout ends right', async () => {
    await makeOldLayout(db);
    const stores = await Promise.all([openMongoStore({ uri: target.uri, dbName }), openMongoStore({ uri: target.uri, dbName })]);
    try {
      await Promise.all(stores.map((store) => openRepositories(store, new FakeClock())));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    expect((await indexesOf(db, 'assignments')).lifecycleCheckAt_1).toEqual({ key: { lifecycleCheckAt: 1 } });
    expect(Object.keys(await indexesOf(db, 'requests')).sort()).toEqual(['_id_', 'createdAt_1__id_1', 'openKey_1', 'packageId_1_createdAt_1__id_1', 'packageId_1_state_1', 'requesterId_1', 'state_1_createdAt_1__id_1', 'targetUserId_1_createdAt_1__id_1']);
  });

  it('start-up refuses a rebuild over more documents than MIGRATE_AT_STARTUP_MAX_DOCUMENTS, changing nothing; npm run migrate makes it', async () => {
    await makeOldLayout(db, 30);
    const refused = await refusedStart({ MIGRATE_AT_STARTUP_MAX_DOCUMENTS: '10' });
    expect(refused).toBeInstanceOf(StartupError);
    const message = (refused as Error).message;
    expect(message).toContain('assignments: rebuild index lifecycleCheckAt_1 (options changed: sparse → not sparse): builds over 30 documents (start-up builds over at most 10: MIGRATE_AT_STARTUP_MAX_DOCUMENTS)');
    expect(message).toContain('Run `npm run migrate` once, with the same MONGODB_URI');
    expect((await indexesOf(db, 'assignments')).lifecycleCheckAt_1).toEqual({ key: { lifecycleCheckAt: 1 }, sparse: true });
    expect(await db.collection('schema').countDocuments()).toBe(0);

    const plan = await migrateCli(['--dry-run']);
    expect(plan.code).toBe(0);
    expect(plan.out).toContain('Store: mongodb, schema version 0 → 1 (dry run: nothing changed)');
    expect(plan.out).toContain('assignments: rebuild index lifecycleCheckAt_1 (options changed: sparse → not sparse) [30 document(s)]');
    expect((await indexesOf(db, 'assignments')).lifecycleCheckAt_1).toHaveProperty('sparse', true);

    const made = await migrateCli([]);
    expect(made).toMatchObject({ code: 0, err: '' });
    expect(made.out).toMatch(/\d+ change\(s\) made\./);
    expect((await indexesOf(db, 'assignments')).lifecycleCheckAt_1).toEqual({ key: { lifecycleCheckAt: 1 } });
    expect((await migrateCli([])).out).toContain('Nothing to change.');

    const app = await startTestApp({ MIGRATE_AT_STARTUP_MAX_DOCUMENTS: '10' }, { store: await openMongoTestStore(target.uri, uniqueDbName('unused')) });
    await app.close();
    const started = await startTestApp({ MIGRATE_AT_STARTUP_MAX_DOCUMENTS: '10' }, { store: await openMongoStore({ uri: target.uri, dbName }) });
    await started.close();
  });

  it('a database a newer version migrated is refused at start-up and by npm run migrate, naming both versions', async () => {
    await db.collection('schema').insertOne({ _id: 'version' as never, version: SCHEMA_VERSION + 1, updatedAt: NOW });
    const refused = await refusedStart({});
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toContain(`The database is at schema version ${SCHEMA_VERSION + 1}, newer than this build's (${SCHEMA_VERSION})`);
    const cli = await migrateCli([]);
    expect(cli.code).toBe(1);
    expect(cli.err).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    // Nothing was touched: no collection or index was made.
    expect((await db.listCollections().toArray()).map((c) => c.name)).toEqual(['schema']);
  });
});

(unavailable ? describe.skip : describe)('schema on Azure Cosmos DB for MongoDB RU rules (MongoDB wire double --cosmos-ru)', () => {
  let target: MongoTarget;
  let client: MongoClient;

  beforeAll(async () => {
    target = await startMongoTarget({ double: true, cosmosRU: true });
    client = await new MongoClient(target.uri).connect();
  });

  afterAll(async () => {
    await client?.close();
    await target?.stop();
  });

  it('a first start on an empty database makes every index, the unique ones included, and sorts are served', async () => {
    const app = await startTestApp({}, { store: await openMongoTestStore(target.uri, uniqueDbName('cosmos')) });
    try {
      // Sorted reads the double refuses without an index of exactly their fields.
      expect(await app.repositories.requests.listForUser('u-fred')).toEqual([]);
      expect(await app.repositories.requests.listPending()).toEqual([]);
      expect((await app.repositories.packages.list()).length).toBeGreaterThan(0);
      expect((await app.repositories.catalogs.list()).length).toBeGreaterThan(0);
      expect(await app.repositories.audit.latest({}, 10)).toEqual([]);
      expect(await app.repositories.assignments.listForPackage('accounting', { skip: 0, limit: 10 })).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('a unique index missing on a collection with documents is refused at start-up, and npm run migrate says what to do', async () => {
    const dbName = uniqueDbName('cosmos');
    const db = client.db(dbName);
    try {
      await db.collection('requests').insertOne({ _id: 'REQ-1' as never, targetUserId: 'u-fred', state: 'denied' });
      const store = await openMongoStore({ uri: target.uri, dbName });
      const refused = await startTestApp({}, { store }).then(
        (app) => app.close(),
        (e: unknown) => e,
      );
      await store.close();
      expect(refused).toBeInstanceOf(StartupError);
      expect((refused as Error).message).toContain('requests: create index openKey_1 (missing): a unique index over 1 existing document(s)');
      const err: string[] = [];
      const code = await migrate([], {}, { out: () => undefined, err: (l) => err.push(l) }, { openStore: () => openMongoStore({ uri: target.uri, dbName }) });
      expect(code).toBe(1);
      expect(err.join('\n')).toContain('Azure Cosmos DB for MongoDB (RU) builds a unique index only on an empty collection: export the collection, drop it');
    } finally {
      await dropDatabase(target.uri, dbName);
    }
  });
});

describe('schema on the embedded store', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'schema-embedded-'));
  });

  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a data file from the layout with a sparse lifecycleCheckAt index is rebuilt at load, so the expiry scan sees its Dates again; an index no longer declared is dropped', async () => {
    // As NeDB wrote it: index definitions in the data file, rebuilt at every load. NeDB's own
    // ensureIndex keeps an index it loaded as it was, and its sparse index leaves Dates out.
    const doc = { ...dueAssignment('A0'), startAt: { $$date: NOW.getTime() - 86_400_000 }, expiresAt: { $$date: NOW.getTime() + 3_600_000 }, lifecycleCheckAt: { $$date: NOW.getTime() - 60_000 }, createdAt: { $$date: NOW.getTime() }, updatedAt: { $$date: NOW.getTime() } };
    await writeFile(
      path.join(dir, 'assignments.db'),
      [{ $$indexCreated: { fieldName: 'lifecycleCheckAt', unique: false, sparse: true } }, { $$indexCreated: { fieldName: 'createdAt,packageId', unique: false, sparse: false } }, doc].map((l) => JSON.stringify(l)).join('\n') + '\n',
    );
    const logs = memoryLogger();
    const store = await openEmbeddedStore({ dataDir: dir });
    try {
      const repositories = await openRepositories(store, new FakeClock(), { logger: logs.logger });
      expect((await repositories.assignments.claimLifecycleDue(NOW, 60_000, 10)).map((a) => a.id)).toEqual(['A0']);
      const messages = logs.lines().map((l) => l.msg);
      expect(messages).toContain('index rebuilt: assignments.lifecycleCheckAt_1 (options changed: sparse → not sparse)');
      expect(messages).toContain('index dropped: assignments.createdAt_1_packageId_1 (no longer used)');
      expect(await store.collection('schema').findOne({ _id: 'version' })).toMatchObject({ version: SCHEMA_VERSION });
    } finally {
      await store.close();
    }
  });

  it('refuses a data directory a newer version migrated', async () => {
    await writeFile(path.join(dir, 'schema.db'), `${JSON.stringify({ _id: 'version', version: SCHEMA_VERSION + 1, updatedAt: { $$date: NOW.getTime() } })}\n`);
    const store = await openEmbeddedStore({ dataDir: dir });
    try {
      await expect(openRepositories(store, new FakeClock())).rejects.toThrow(`The database is at schema version ${SCHEMA_VERSION + 1}`);
    } finally {
      await store.close();
    }
  });
});
