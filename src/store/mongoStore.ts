// MongoDB adapter of the document-collection port. The port's filters and updates are a
// subset of MongoDB's language, so they pass through unchanged once checked; documents are
// stored as given (`undefined` fields dropped by the driver's ignoreUndefined).

import {
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  type Collection as MongoCollection,
  type Db,
  type Document,
  type Filter as MongoFilter,
  type UpdateFilter,
} from 'mongodb';
import {
  assertStorableDocument,
  assertFindOptions,
  assertSupportedFilter,
  assertSupportedUpdate,
  DuplicateKeyError,
  StoreUnavailableError,
  UnsupportedQueryError,
  type Collection,
  type DocumentStore,
  type Filter,
  type FindOptions,
  type IndexSpec,
  type SortSpec,
  type StoredDocument,
  type Update,
} from './port';

const DEFAULT_DB_NAME = 'accessPackages';
/** Same alphabet as the embedded store, so a name valid in one is valid in the other. */
const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const DUPLICATE_KEY = 11000;

/** Port documents as the driver sees them: string _ids, any fields. */
type Stored = Document & { _id: string };

export async function openMongoStore(options: { uri: string; dbName?: string }): Promise<DocumentStore> {
  const client = new MongoClient(options.uri, { ignoreUndefined: true });
  await client.connect();
  const db = client.db(options.dbName ?? dbNameFromUri(options.uri) ?? DEFAULT_DB_NAME);
  return new MongoStore(client, db);
}

/** The database named in the URI path (`mongodb://host/<db>?...`), if any. */
export function dbNameFromUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]+)/.exec(uri);
  return match ? decodeURIComponent(match[1]) : undefined;
}

/**
 * The database behind a MongoDB store, or undefined for any other store. Only for a library
 * that keeps its own collection beside the port's (the per-person limits' counters,
 * rateLimitCounters.ts): repositories go through the port.
 */
export function mongoDatabaseOf(store: DocumentStore): Db | undefined {
  return store instanceof MongoStore ? store.database : undefined;
}

class MongoStore implements DocumentStore {
  readonly kind = 'mongodb';

  constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
  ) {}

  get database(): Db {
    return this.db;
  }

  collection<T extends StoredDocument>(name: string): Collection<T> {
    if (!COLLECTION_NAME.test(name) || name.startsWith('system.')) throw new Error(`invalid collection name: ${JSON.stringify(name)}`);
    return new MongoStoreCollection<T>(name, this.db.collection<Stored>(name));
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

class MongoStoreCollection<T extends StoredDocument> implements Collection<T> {
  constructor(
    readonly name: string,
    private readonly collection: MongoCollection<Stored>,
  ) {}

  async insert(doc: T): Promise<void> {
    assertStorableDocument(doc);
    // A shallow copy: the driver would otherwise be free to decorate the caller's object.
    await this.guard(() => this.collection.insertOne({ ...doc } as Stored));
  }

  async findOne(filter: Filter): Promise<T | null> {
    assertSupportedFilter(filter);
    return (await this.guard(() => this.collection.findOne(asMongoFilter(filter)))) as T | null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    assertSupportedFilter(filter);
    assertFindOptions(options);
    const { sort, skip, limit, fields } = options;
    const projection = fields ? Object.fromEntries(fields.map((f) => [f, 1])) : undefined;
    const docs = await this.guard(() => this.collection.find(asMongoFilter(filter), { sort, skip, limit, ...(projection ? { projection } : {}) }).toArray());
    return docs as unknown as T[];
  }

  async count(filter: Filter): Promise<number> {
    assertSupportedFilter(filter);
    return this.guard(() => this.collection.countDocuments(asMongoFilter(filter)));
  }

  async updateOne(filter: Filter, update: Update): Promise<number> {
    assertSupportedFilter(filter);
    assertSupportedUpdate(update);
    // matchedCount, not modifiedCount: "the precondition held" is what callers ask.
    const result = await this.guard(() => this.collection.updateOne(asMongoFilter(filter), asMongoUpdate(update)));
    return result.matchedCount;
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    assertSupportedFilter(filter);
    assertSupportedUpdate(update);
    const result = await this.guard(() => this.collection.updateMany(asMongoFilter(filter), asMongoUpdate(update)));
    return result.matchedCount;
  }

  async findOneAndUpdate(filter: Filter, update: Update, options: { sort?: SortSpec } = {}): Promise<T | null> {
    assertSupportedFilter(filter);
    assertSupportedUpdate(update);
    if (options.sort) assertFindOptions({ sort: options.sort });
    const doc = await this.guard(() =>
      this.collection.findOneAndUpdate(asMongoFilter(filter), asMongoUpdate(update), {
        sort: options.sort,
        returnDocument: 'after',
        includeResultMetadata: false,
      }),
    );
    return doc as T | null;
  }

  async replace(doc: T, options: { upsert?: boolean; precondition?: Filter } = {}): Promise<number> {
    assertStorableDocument(doc);
    const { precondition, upsert = false } = options;
    if (precondition) assertSupportedFilter(precondition, 'precondition');
    // _id stays a top-level equality (so an upsert inserts with it); the precondition goes in
    // $and so its own keys, even _id, can't collide with it.
    const filter: MongoFilter<Stored> = precondition ? { _id: doc._id, $and: [precondition] } : { _id: doc._id };
    try {
      const result = await this.collection.replaceOne(filter, { ...doc } as Stored, { upsert });
      return result.matchedCount + result.upsertedCount;
    } catch (error) {
      // With a precondition that fails on an existing document, an upsert tries to insert a
      // second document with the same _id. The port's answer to that is "not replaced".
      if (upsert && precondition && isDuplicateKey(error) && (await this.collection.countDocuments({ _id: doc._id }, { limit: 1 })) > 0) {
        return 0;
      }
      throw translateError(this.name, error);
    }
  }

  async delete(filter: Filter): Promise<number> {
    assertSupportedFilter(filter);
    return (await this.guard(() => this.collection.deleteMany(asMongoFilter(filter)))).deletedCount;
  }

  async ensureIndex(spec: IndexSpec): Promise<void> {
    if (spec.fields.length === 0 || spec.fields.some((f) => f === '' || f.startsWith('$') || f.includes(','))) {
      throw new UnsupportedQueryError(`index: bad fields ${JSON.stringify(spec.fields)}`);
    }
    const keys = Object.fromEntries(spec.fields.map((f) => [f, 1 as const]));
    // Options only when set: an explicit `unique: false` could read as a different index.
    const options = { ...(spec.unique ? { unique: true } : {}), ...(spec.sparse ? { sparse: true } : {}) };
    await this.guard(() => this.collection.createIndex(keys, options));
  }

  private async guard<R>(operation: () => Promise<R>): Promise<R> {
    try {
      return await operation();
    } catch (error) {
      throw translateError(this.name, error);
    }
  }
}

// The port's Filter/Update are checked subsets of the driver's types.
function asMongoFilter(filter: Filter): MongoFilter<Stored> {
  return filter as MongoFilter<Stored>;
}

function asMongoUpdate(update: Update): UpdateFilter<Stored> {
  return update as UpdateFilter<Stored>;
}

function isDuplicateKey(error: unknown): error is MongoServerError {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

function translateError(collection: string, error: unknown): unknown {
  if (isDuplicateKey(error)) return new DuplicateKeyError(collection, describeKey(error));
  if (isUnreachable(error)) return new StoreUnavailableError(collection, error);
  return error;
}

/** The server can't be reached (network, no primary to select, client closed): try later. */
function isUnreachable(error: unknown): boolean {
  return (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError
  );
}

/** The clashing value(s), formatted like the embedded store does. */
function describeKey(error: MongoServerError): string {
  const keyValue: unknown = error.keyValue;
  if (typeof keyValue !== 'object' || keyValue === null) return error.message;
  const values = Object.values(keyValue);
  if (values.length !== 1) return JSON.stringify(keyValue);
  return typeof values[0] === 'string' ? values[0] : JSON.stringify(values[0]);
}

