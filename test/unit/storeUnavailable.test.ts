// A store that can't be used just now says so with StoreUnavailableError, whatever the adapter,
// so the bot can tell a person "I couldn't reach my records" instead of a generic failure.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openMongoStore } from '../../src/store/mongoStore';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { type Collection, DuplicateKeyError, StoreUnavailableError } from '../../src/store/port';

type Things = Collection<{ _id: string; n?: number }>;

async function expectEveryOperationUnavailable(docs: Things): Promise<void> {
  const operations: [string, () => Promise<unknown>][] = [
    ['findOne', () => docs.findOne({})],
    ['find', () => docs.find({})],
    ['count', () => docs.count({})],
    ['insert', () => docs.insert({ _id: 'b' })],
    ['updateOne', () => docs.updateOne({ _id: 'a' }, { $set: { n: 2 } })],
    ['findOneAndUpdate', () => docs.findOneAndUpdate({ _id: 'a' }, { $set: { n: 3 } })],
    ['replace', () => docs.replace({ _id: 'a', n: 4 })],
    ['delete', () => docs.delete({ _id: 'a' })],
  ];
  for (const [name, operation] of operations) {
    await expect(operation().then(() => `${name} succeeded`)).rejects.toBeInstanceOf(StoreUnavailableError);
  }
}

describe('StoreUnavailableError', () => {
  it('the embedded store, once closed, refuses every operation with it', async () => {
    const store = await openEmbeddedStore({});
    // Repositories hold their collections for the life of the process, as here.
    const docs: Things = store.collection('things');
    await docs.insert({ _id: 'a', n: 1 });
    await store.close();
    await expectEveryOperationUnavailable(docs);
  });

  it('the file-backed embedded store reports a data file it can no longer write to', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'store-unavailable-'));
    try {
      const store = await openEmbeddedStore({ dataDir: path.join(dir, 'data') });
      const docs = store.collection<{ _id: string }>('things');
      await docs.insert({ _id: 'a' });
      // The data directory disappears (unmounted volume): the append fails with ENOENT.
      await rm(path.join(dir, 'data'), { recursive: true, force: true });
      await expect(docs.insert({ _id: 'b' })).rejects.toBeInstanceOf(StoreUnavailableError);
      // A real conflict is still a conflict, not an outage.
      await expect(docs.insert({ _id: 'a' })).rejects.toBeInstanceOf(DuplicateKeyError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const mongoUri = process.env.MONGODB_URI;
  // Like the store contract, run against a real server only when one is given.
  if (mongoUri) {
    it('MongoDB, once the client is closed, refuses every operation with it', async () => {
      const store = await openMongoStore({ uri: mongoUri, dbName: `store_unavailable_${process.pid}` });
      const docs: Things = store.collection('things');
      await store.close();
      await expectEveryOperationUnavailable(docs);
    });
  }
});
