// MongoDB adapter of the document-collection port. The port's filters and updates are a
// subset of MongoDB's language, so they pass through unchanged once checked; documents are
// stored as given (`undefined` fields dropped by the driver's ignoreUndefined).

import {
  MongoClient,
  type MongoClientOptions,
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
import { type ExistingIndex, existingIndexOf, type IndexStep, namedSpecs, planIndexes } from './indexPlan';
import {
  assertStorableDocument,
  assertFindOptions,
  assertSupportedFilter,
  assertSupportedUpdate,
  DuplicateKeyError,
  StoreUnavailableError,
  indexName,
  type IndexChange,
  type IndexSyncOptions,
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
const NAMESPACE_NOT_FOUND = 26;
const INDEX_NOT_FOUND = 27;
const INDEX_OPTIONS_CONFLICT = 85;
const INDEX_KEY_SPECS_CONFLICT = 86;

/** How long an operation may wait for an unresponsive server, unless configured (MONGODB_TIMEOUT_MS). */
export const DEFAULT_MONGODB_TIMEOUT_MS = 5000;

/** Port documents as the driver sees them: string _ids, any fields. */
type Stored = Document & { _id: string };

export interface MongoStoreOptions {
  uri: string;
  dbName?: string;
  /** The longest one operation waits for an unresponsive server before it fails (see mongoClientOptions). */
  timeoutMs?: number;
}

export async function openMongoStore(options: MongoStoreOptions): Promise<DocumentStore> {
  const clientOptions = mongoClientOptions(options.uri, options.timeoutMs ?? DEFAULT_MONGODB_TIMEOUT_MS);
  const client = new MongoClient(options.uri, clientOptions);
  await client.connect();
  const dbName = options.dbName ?? dbNameFromUri(options.uri) ?? DEFAULT_DB_NAME;
  return new MongoStore(client, client.db(dbName), { uri: options.uri, dbName, clientOptions });
}

/** The driver's per-stage timeouts that MONGODB_TIMEOUT_MS sets. */
const STAGE_TIMEOUTS = ['serverSelectionTimeoutMS', 'connectTimeoutMS', 'waitQueueTimeoutMS', 'socketTimeoutMS'] as const;

/**
 * Driver options bounding how long an operation waits for a server that does not answer (the
 * driver's defaults wait 30 s to select a server and forever on a stalled socket). The driver
 * (7.x) has no overall operation timeout (its `timeoutMS` is deprecated and does nothing), so
 * each stage gets half of `timeoutMs`: it retries a failed read or write once, so an
 * operation fails within about `timeoutMs`. A timeout written in the URI wins over this one.
 */
export function mongoClientOptions(uri: string, timeoutMs: number): MongoClientOptions {
  const stage = Math.max(1, Math.ceil(timeoutMs / 2));
  const inUri = new Set(uriOptionNames(uri).map((n) => n.toLowerCase()));
  const options: MongoClientOptions = { ignoreUndefined: true };
  for (const name of STAGE_TIMEOUTS) if (!inUri.has(name.toLowerCase())) options[name] = stage;
  return options;
}

/** The option names in a connection string's query (the driver reads them case-insensitively). */
function uriOptionNames(uri: string): string[] {
  const query = uri.indexOf('?');
  return query < 0 ? [] : [...new URLSearchParams(uri.slice(query + 1)).keys()];
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
    private readonly connection: { uri: string; dbName: string; clientOptions: MongoClientOptions },
  ) {}

  get database(): Db {
    return this.db;
  }

  collection<T extends StoredDocument>(name: string): Collection<T> {
    assertCollectionName(name);
    return new MongoStoreCollection<T>(name, this.db.collection<Stored>(name), (steps) => this.applyIndexSteps(name, steps));
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    const builder = this.builder;
    this.builder = undefined;
    await Promise.all([this.client.close(), builder?.then((b) => b.close(), () => undefined)]);
  }

  async syncIndexes(wanted: ReadonlyMap<string, readonly IndexSpec[]>, options: IndexSyncOptions): Promise<IndexChange[]> {
    // One listIndexes (and, where there is something to build, one count) per collection, in
    // parallel: a start with nothing to change costs that and no createIndexes.
    const plans = await Promise.all(
      [...wanted].map(async ([name, specs]) => {
        assertCollectionName(name);
        const retired = new Set([...(options.retired?.get(name) ?? []), ...specs.filter((s) => s.only === 'embedded').map((s) => indexName(s))]);
        const steps = await planCollection(this.db.collection(name), name, namedSpecs(name, specs, 'mongodb'), { retired, startupMaxDocuments: options.startupMaxDocuments });
        return { name, steps };
      }),
    );
    if (!options.dryRun) for (const { name, steps } of plans) await this.applyIndexSteps(name, steps);
    return plans.flatMap(({ steps }) => steps.map(({ spec: _spec, drops: _drops, ...change }) => change));
  }

  /**
   * Index builds go through a client of their own without the socket timeout: a build sends
   * nothing until it is done, and may take longer than any operation the bot serves. Made on
   * first use (start-ups with nothing to build never open it), closed with the store.
   */
  private builder?: Promise<MongoClient>;

  private async applyIndexSteps(name: string, steps: readonly IndexStep[]): Promise<void> {
    if (steps.length === 0) return;
    this.builder ??= new MongoClient(this.connection.uri, { ...this.connection.clientOptions, socketTimeoutMS: 0 }).connect().catch((error: unknown) => {
      this.builder = undefined; // the next attempt connects again
      throw error;
    });
    const builder = await this.builder;
    await applySteps(builder.db(this.connection.dbName).collection(name), name, steps);
  }
}

function assertCollectionName(name: string): void {
  if (!COLLECTION_NAME.test(name) || name.startsWith('system.')) throw new Error(`invalid collection name: ${JSON.stringify(name)}`);
}

/** The collection's indexes as they are; none when it does not exist yet. */
async function listExisting(collection: MongoCollection<Document>): Promise<ExistingIndex[]> {
  try {
    return (await collection.listIndexes().toArray()).map((raw) => existingIndexOf(raw));
  } catch (error) {
    if (error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}

async function planCollection(collection: MongoCollection<Document>, name: string, wanted: ReturnType<typeof namedSpecs>, options: { retired: ReadonlySet<string>; startupMaxDocuments?: number }): Promise<IndexStep[]> {
  const existing = await listExisting(collection);
  const plan = (documents: number) => planIndexes(name, existing, wanted, documents, options);
  const steps = plan(0);
  // Counting is only needed when something is to be built, and only in a collection that exists.
  if (existing.length === 0 || !steps.some((s) => s.spec)) return steps;
  return plan(await collection.estimatedDocumentCount());
}

/** Rebuilds, then creates, then drops (an index retires once what replaces it exists). */
async function applySteps(collection: MongoCollection<Document>, name: string, steps: readonly IndexStep[]): Promise<void> {
  const order = { rebuild: 0, create: 1, drop: 2 } as const;
  for (const step of [...steps].sort((a, b) => order[a.action] - order[b.action])) {
    if (step.drops) await dropIndex(collection, step.drops);
    if (step.action === 'drop') await dropIndex(collection, step.index);
    if (step.spec) await createIndex(collection, name, step.spec);
  }
}

async function dropIndex(collection: MongoCollection<Document>, name: string): Promise<void> {
  try {
    await collection.dropIndex(name);
  } catch (error) {
    // Another instance starting at the same time dropped it first.
    if (!(error instanceof MongoServerError && error.code === INDEX_NOT_FOUND)) throw error;
  }
}

async function createIndex(collection: MongoCollection<Document>, name: string, spec: ReturnType<typeof namedSpecs>[number]): Promise<void> {
  const keys = Object.fromEntries(spec.fields.map((f) => [f, 1 as const]));
  // Options only when set: an explicit `unique: false` could read as a different index.
  const options = { name: spec.name, ...(spec.unique ? { unique: true } : {}), ...(spec.sparse ? { sparse: true } : {}) };
  try {
    await collection.createIndex(keys, options);
  } catch (error) {
    // Another instance starting at the same time made it (or is mid-way through a rebuild):
    // fine if what is there now is this very index.
    if (error instanceof MongoServerError && (error.code === INDEX_OPTIONS_CONFLICT || error.code === INDEX_KEY_SPECS_CONFLICT)) {
      const now = (await listExisting(collection)).find((e) => e.name === spec.name);
      if (now && planIndexes(name, [now], [spec], 0, { retired: new Set() }).length === 0) return;
    }
    throw translateError(name, error);
  }
}

class MongoStoreCollection<T extends StoredDocument> implements Collection<T> {
  constructor(
    readonly name: string,
    private readonly collection: MongoCollection<Stored>,
    private readonly applyIndexSteps: (steps: readonly IndexStep[]) => Promise<void>,
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
      // second document with the same _id. The port's answer to that is "not replaced". A clash
      // on any other unique index is a real duplicate, as in insert.
      if (upsert && precondition && isDuplicateKey(error) && isIdClash(error) && (await this.collection.countDocuments({ _id: doc._id }, { limit: 1 })) > 0) {
        return 0;
      }
      throw translateError(this.name, error);
    }
  }

  async delete(filter: Filter): Promise<number> {
    assertSupportedFilter(filter);
    return (await this.guard(() => this.collection.deleteMany(asMongoFilter(filter)))).deletedCount;
  }

  /** Creates the index if missing, rebuilds it if its options changed (see indexPlan.ts); nothing otherwise. */
  async ensureIndex(spec: IndexSpec): Promise<void> {
    if (spec.fields.length === 0 || spec.fields.some((f) => f === '' || f.startsWith('$') || f.includes(','))) {
      throw new UnsupportedQueryError(`index: bad fields ${JSON.stringify(spec.fields)}`);
    }
    const steps = await planCollection(this.collection as unknown as MongoCollection<Document>, this.name, namedSpecs(this.name, [spec], 'mongodb'), { retired: new Set() });
    await this.applyIndexSteps(steps);
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

/** Whether a duplicate key error is on the _id index (keyPattern since MongoDB 4.4; the message names the index always). */
function isIdClash(error: MongoServerError): boolean {
  const keyPattern: unknown = error.keyPattern;
  if (typeof keyPattern === 'object' && keyPattern !== null) {
    const fields = Object.keys(keyPattern);
    return fields.length === 1 && fields[0] === '_id';
  }
  return / index: _id_ /.test(error.message);
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

