// Runs the shared store contract on every adapter available here: the embedded store in memory
// and file-backed, and MongoDB when MONGODB_URI is set.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dbNameFromUri } from '../../src/store/mongoStore';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { openStore } from '../../src/store/openStore';
import { DuplicateKeyError, type StoredDocument } from '../../src/store/port';
import { type MongoTarget, startMongoTarget, uniqueDbName } from '../support/mongoWire';
import { openMongoTestStore, testMongoIsCosmosRU, testStoreKind } from '../support/testStore';
import { describeStoreContract } from './storeContract';

async function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'store-contract-'));
}

describeStoreContract('embedded, in memory', () => openEmbeddedStore({}));

let fileDir = '';
describeStoreContract(
  'embedded, file-backed',
  async () => {
    fileDir = await makeTempDir();
    return openEmbeddedStore({ dataDir: path.join(fileDir, 'nested', 'data') });
  },
  () => rm(fileDir, { recursive: true, force: true }),
);

// The MongoDB half: MONGODB_URI (a real server, or the MongoDB wire double .ci/run starts), or
// with TEST_STORE=mongodb a double of its own; TEST_MONGODB_COSMOS_RU=1 when the server applies
// Azure Cosmos DB RU rules (.ci/run's --cosmos-ru run).
if (testStoreKind() === 'mongodb') {
  const cosmosRU = testMongoIsCosmosRU();
  let target: MongoTarget | undefined;
  const dbName = uniqueDbName('store_contract');
  describeStoreContract(
    `mongodb${cosmosRU ? ', Cosmos DB RU rules' : ''} (${dbName})`,
    async () => {
      target = await startMongoTarget({ cosmosRU });
      return openMongoTestStore(target.uri, dbName);
    },
    async () => {
      await target?.stop();
    },
    { cosmosRU },
  );
} else {
  console.info('MongoDB contract suite not run: set MONGODB_URI (or TEST_STORE=mongodb) to run it');
}

interface Person extends StoredDocument {
  email?: string;
  tenant?: string;
  name?: string;
  seen?: Date;
  visits?: number;
}

describe('embedded store persistence', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await makeTempDir();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps inserts, updates, deletes and unique indexes across close and reopen', async () => {
    const first = await openEmbeddedStore({ dataDir: dir });
    const people = first.collection<Person>('people');
    await people.ensureIndex({ fields: ['email'], unique: true });
    await people.ensureIndex({ fields: ['tenant', 'name'], unique: true });
    await people.insert({ _id: 'p1', email: 'a@x', tenant: 't', name: 'A', seen: new Date('2025-01-01T00:00:00.000Z') });
    await people.insert({ _id: 'p2', email: 'b@x', tenant: 't', name: 'B', visits: 1 });
    await people.insert({ _id: 'p3', email: 'c@x', tenant: 't', name: 'C' });
    await people.updateOne({ _id: 'p2' }, { $inc: { visits: 1 }, $set: { name: 'B2' } });
    await people.delete({ _id: 'p3' });
    await first.close();

    expect(await readdir(dir)).toContain('people.db');

    const second = await openEmbeddedStore({ dataDir: dir });
    const reopened = second.collection<Person>('people');
    try {
      expect(await reopened.find({}, { sort: { _id: 1 } })).toEqual([
        { _id: 'p1', email: 'a@x', tenant: 't', name: 'A', seen: new Date('2025-01-01T00:00:00.000Z') },
        { _id: 'p2', email: 'b@x', tenant: 't', name: 'B2', visits: 2 },
      ]);
      expect((await reopened.findOne({ _id: 'p1' }))?.seen).toBeInstanceOf(Date);
      await expect(reopened.insert({ _id: 'p4', email: 'a@x' })).rejects.toBeInstanceOf(DuplicateKeyError);
      await expect(reopened.insert({ _id: 'p5', email: 'e@x', tenant: 't', name: 'B2' })).rejects.toBeInstanceOf(DuplicateKeyError);
      await expect(reopened.insert({ _id: 'p1', email: 'new@x' })).rejects.toBeInstanceOf(DuplicateKeyError);
      // The deleted document's values are free again.
      await reopened.insert({ _id: 'p3', email: 'c@x', tenant: 't', name: 'C' });
    } finally {
      await second.close();
    }
  });

  it('has written each change to disk before it resolves (no close needed)', async () => {
    const writer = await openEmbeddedStore({ dataDir: dir });
    try {
      const items = writer.collection<Person>('items');
      await items.insert({ _id: 'i1', name: 'one' });
      await items.updateOne({ _id: 'i1' }, { $set: { name: 'uno' } });

      const reader = await openEmbeddedStore({ dataDir: dir });
      try {
        expect(await reader.collection<Person>('items').findOne({ _id: 'i1' })).toEqual({ _id: 'i1', name: 'uno' });
      } finally {
        await reader.close();
      }
    } finally {
      await writer.close();
    }
  });

  it('refuses use after close', async () => {
    const store = await openEmbeddedStore({ dataDir: dir });
    const items = store.collection<Person>('items');
    await store.close();
    await store.close(); // idempotent
    expect(() => store.collection('items')).toThrow(/closed/);
    await expect(items.findOne({})).rejects.toThrow(/closed/);
    await expect(items.insert({ _id: 'x' })).rejects.toThrow(/closed/);
    await expect(store.ping()).rejects.toThrow(/closed/);
  });
});

describe('openStore', () => {
  it('opens the file-backed embedded store when no MongoDB URI is configured', async () => {
    const dir = await makeTempDir();
    try {
      for (const mongodbUri of [undefined, '', '  ']) {
        const store = await openStore({ mongodbUri, dataDir: dir });
        try {
          expect(store.kind).toBe('embedded');
          await store.collection<Person>('things').insert({ _id: `t${String(mongodbUri?.length)}` });
        } finally {
          await store.close();
        }
      }
      expect(await readdir(dir)).toEqual(['things.db']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('mongoStore database name', () => {
  it.each([
    ['mongodb://localhost:27017', undefined],
    ['mongodb://localhost:27017/', undefined],
    ['mongodb://localhost:27017/?retryWrites=true', undefined],
    ['mongodb://localhost/apps', 'apps'],
    ['mongodb://user:p%40ss@h1:27017,h2:27017/prod?replicaSet=rs0', 'prod'],
    ['mongodb+srv://user:pw@cluster0.example.net/my%20db?retryWrites=true', 'my db'],
  ])('reads %s as %s', (uri, expected) => {
    expect(dbNameFromUri(uri)).toBe(expected);
  });
});
