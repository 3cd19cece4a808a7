import { MongoClient } from 'mongodb';
import { openMongoStore } from '../../src/store/mongoStore';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { type MongoTarget, startMongoTarget, uniqueDbName } from './mongoWire';

// Which store the tests run on, so any suite runs in either mode:
//   TEST_STORE=embedded   the in-memory embedded store (the default without MONGODB_URI)
//   TEST_STORE=mongodb    MongoDB: MONGODB_URI if set (a real server, or the MongoDB wire double
//                         .ci/run starts), else a MongoDB wire double started for this test process
//   MONGODB_URI=...       alone: MongoDB, as TEST_STORE=mongodb
// In MongoDB mode every test store is a database of its own, dropped when the store is closed.

export type TestStoreKind = 'embedded' | 'mongodb';

export function testStoreKind(env: Record<string, string | undefined> = process.env): TestStoreKind {
  const chosen = env.TEST_STORE?.trim().toLowerCase();
  if (chosen === 'embedded' || chosen === 'mongodb') return chosen;
  if (chosen) throw new Error(`TEST_STORE must be embedded or mongodb (got "${env.TEST_STORE}")`);
  return env.MONGODB_URI?.trim() ? 'mongodb' : 'embedded';
}

/** The MongoDB tests use applies Azure Cosmos DB RU rules (TEST_MONGODB_COSMOS_RU=1, set by .ci/run for its --cosmos-ru run). */
export function testMongoIsCosmosRU(env: Record<string, string | undefined> = process.env): boolean {
  return /^(1|true)$/i.test(env.TEST_MONGODB_COSMOS_RU?.trim() ?? '');
}

// MONGODB_URI, or one MongoDB wire double shared by the stores open in this test file: started
// with the first, stopped a moment after the last closes (the next test usually opens one).
let shared: Promise<MongoTarget> | undefined;
let open = 0;
let idle: NodeJS.Timeout | undefined;

function acquireTarget(): Promise<MongoTarget> {
  open++;
  if (idle) clearTimeout(idle);
  idle = undefined;
  shared ??= startMongoTarget({ cosmosRU: testMongoIsCosmosRU() });
  return shared;
}

function releaseTarget(): void {
  if (--open > 0 || !shared) return;
  const target = shared;
  idle = setTimeout(() => {
    if (open > 0 || shared !== target) return;
    shared = undefined;
    void target.then((t) => t.stop());
  }, 2000);
  idle.unref();
}

/** A store of its own for one test: the in-memory embedded store, or a fresh MongoDB database dropped at close. */
export async function openTestStore(options: { kind?: TestStoreKind; prefix?: string } = {}): Promise<DocumentStore> {
  if ((options.kind ?? testStoreKind()) === 'embedded') return openEmbeddedStore({});
  let target: MongoTarget;
  try {
    target = await acquireTarget();
  } catch (error) {
    releaseTarget();
    throw error;
  }
  return openMongoTestStore(target.uri, uniqueDbName(options.prefix ?? 'test'), releaseTarget);
}

/** A MongoDB store on database `dbName`, which is dropped when the store is closed (once). */
export async function openMongoTestStore(uri: string, dbName: string, onClosed: () => void = () => undefined): Promise<DocumentStore> {
  const store = await openMongoStore({ uri, dbName });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      try {
        await store.close();
        await dropDatabase(uri, dbName);
      } finally {
        onClosed();
      }
    })();
    return closing;
  };
  return new Proxy(store, {
    get(real, property) {
      if (property === 'close') return close;
      const value: unknown = Reflect.get(real, property, real);
      return typeof value === 'function' ? value.bind(real) : value;
    },
  });
}

export async function dropDatabase(uri: string, dbName: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

/**
 * Documents in creation order, sorted here rather than by the store: Azure Cosmos DB RU refuses
 * a sort without an index, and the bot keeps none on createdAt (tests read tasks this way).
 */
export function byCreatedAt<T extends { createdAt: Date }>(docs: T[]): T[] {
  return [...docs].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}
