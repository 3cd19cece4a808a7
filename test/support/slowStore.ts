import type { Collection, DocumentStore, StoredDocument } from '../../src/store/port';

/**
 * A store whose every collection call first waits `ms()` milliseconds, as a database a network
 * hop away does: races that an in-process store settles between two awaits get the time to
 * interleave. Behaviour is the inner store's; only the timing changes.
 */
export function slowStore(inner: DocumentStore, ms: () => number): DocumentStore {
  const wait = async () => {
    const delay = ms();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  };
  return {
    kind: inner.kind,
    ping: () => inner.ping(),
    close: () => inner.close(),
    collection<T extends StoredDocument>(name: string): Collection<T> {
      const collection = inner.collection<T>(name);
      return {
        name: collection.name,
        insert: async (doc) => (await wait(), collection.insert(doc)),
        findOne: async (filter) => (await wait(), collection.findOne(filter)),
        find: async (filter, options) => (await wait(), collection.find(filter, options)),
        count: async (filter) => (await wait(), collection.count(filter)),
        updateOne: async (filter, update) => (await wait(), collection.updateOne(filter, update)),
        updateMany: async (filter, update) => (await wait(), collection.updateMany(filter, update)),
        findOneAndUpdate: async (filter, update, options) => (await wait(), collection.findOneAndUpdate(filter, update, options)),
        replace: async (doc, options) => (await wait(), collection.replace(doc, options)),
        delete: async (filter) => (await wait(), collection.delete(filter)),
        ensureIndex: (spec) => collection.ensureIndex(spec),
      };
    },
  };
}
