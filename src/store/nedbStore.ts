// Embedded adapter of the document-collection port, on @seald-io/nedb: one Datastore per
// collection, in memory or in `<dataDir>/<name>.db` (an append-only file NeDB compacts on load,
// periodically and on close). NeDB is single-process: one store instance per data directory.
//
// NeDB's matcher and modifiers differ from MongoDB's in a few places; this adapter translates
// so that the shared contract (test/contract/storeContract.ts) holds with MongoDB's semantics:
// - filters are rewritten (`toNedbFilter`): NeDB has no `$eq`; its `$ne`/`$nin` match an array
//   when any element differs (MongoDB: when no element equals); `null` doesn't match a missing
//   field; `$exists: true` doesn't match an empty array; several operators on one array field
//   must hold for the same element (MongoDB: for any elements). Each such condition becomes a
//   clause of one top-level `$and`, into which a caller's own `$and` is flattened.
// - `$pull` from a missing field throws in NeDB and does nothing in MongoDB.
// - `undefined` fields are dropped (MongoDB's ignoreUndefined), Dates are copied (NeDB hands out
//   the Date objects it keeps).

import { mkdir, open as openFile } from 'node:fs/promises';
import path from 'node:path';
import Datastore from '@seald-io/nedb';
import { namedSpecs } from './indexPlan';
import { speedUpAllIndexUpdates } from './nedbIndexUpdates';
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

type Doc = Record<string, unknown>;
type Db = Datastore<Doc>;

/** Collection names become file names: keep them to a safe alphabet. */
const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const DEFAULT_COMPACTION_INTERVAL_MS = 10 * 60 * 1000;
const MAX_CLAIM_ATTEMPTS = 50;

export interface EmbeddedStoreOptions {
  /** Directory of the data files; undefined keeps everything in memory. */
  dataDir?: string;
  /** How often file-backed collections are compacted (NeDB files are append-only). */
  compactionIntervalMs?: number;
}

export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<DocumentStore> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  return new EmbeddedStore(options.dataDir, options.compactionIntervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS);
}

class EmbeddedStore implements DocumentStore {
  readonly kind = 'embedded';
  private readonly collections = new Map<string, EmbeddedCollection<StoredDocument>>();
  private readonly compactionTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dataDir: string | undefined,
    compactionIntervalMs: number,
  ) {
    if (dataDir !== undefined) {
      // unref: compaction alone must not keep the process alive.
      this.compactionTimer = setInterval(() => this.compactAll(), compactionIntervalMs);
      this.compactionTimer.unref();
    }
  }

  collection<T extends StoredDocument>(name: string): Collection<T> {
    this.assertOpen();
    assertCollectionName(name);
    let collection = this.collections.get(name);
    if (!collection) {
      const filename = this.dataDir === undefined ? undefined : path.join(this.dataDir, `${name}.db`);
      const db = new Datastore<Doc>({ filename, inMemoryOnly: filename === undefined });
      collection = new EmbeddedCollection(name, db, filename, () => this.assertOpen());
      this.collections.set(name, collection);
    }
    return collection as unknown as Collection<T>;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await Promise.all([...this.collections.values()].map((c) => c.loaded));
  }

  /**
   * NeDB keeps an index's definition in the data file and rebuilds it at every load. This store
   * belongs to the bot alone, so an index the code no longer declares is dropped, and one whose
   * options changed is rebuilt: NeDB's ensureIndex keeps an existing index as it is, so a data
   * file from an earlier layout would otherwise keep that layout's index for good.
   */
  async syncIndexes(wanted: ReadonlyMap<string, readonly IndexSpec[]>, options: IndexSyncOptions): Promise<IndexChange[]> {
    const changes: IndexChange[] = [];
    for (const [name, specs] of wanted) {
      const collection = this.collection(name) as unknown as EmbeddedCollection<StoredDocument>;
      changes.push(...(await collection.syncIndexes(namedSpecs(name, specs, 'embedded'), options.dryRun)));
    }
    return changes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    await Promise.all([...this.collections.values()].map((c) => c.flush()));
  }

  private compactAll(): void {
    // A failed compaction leaves the append-only file valid; the next run (or close) retries.
    for (const collection of this.collections.values()) collection.flush().catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('embedded store is closed');
  }
}

/**
 * A write cut off by a crash (power loss, a full disk) can leave the append-only file ending in
 * half a line. NeDB counts it as corrupt and, in a small collection, refuses to start (over its
 * 10 % corruptAlertThreshold). Only the last line can be torn: it was never acknowledged, so it
 * is dropped (or, when it is whole and only its newline is missing, completed). Anything
 * corrupt before the last line still stops NeDB, as it should.
 */
export async function repairTornTail(filename: string): Promise<'none' | 'completed' | 'dropped'> {
  let handle;
  try {
    handle = await openFile(filename, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw error;
  }
  try {
    const content = await handle.readFile('utf8');
    if (content.length === 0 || content.endsWith('\n')) return 'none';
    const cut = content.lastIndexOf('\n') + 1;
    const tail = content.slice(cut);
    try {
      JSON.parse(tail);
      await handle.write('\n', Buffer.byteLength(content));
      return 'completed';
    } catch {
      await handle.truncate(Buffer.byteLength(content.slice(0, cut)));
      return 'dropped';
    }
  } finally {
    await handle.close();
  }
}

class EmbeddedCollection<T extends StoredDocument> implements Collection<T> {
  /** Resolves once the data file is read; every operation awaits it. */
  readonly loaded: Promise<void>;
  /**
   * Writes run one at a time, so multi-step writes (find a candidate, then update it) are
   * atomic with respect to each other. NeDB's own queue only orders single calls.
   */
  private readonly writes = new SerialQueue();

  constructor(
    readonly name: string,
    private readonly db: Db,
    private readonly filename: string | undefined,
    private readonly assertOpen: () => void,
  ) {
    this.loaded = (filename ? repairTornTail(filename) : Promise.resolve())
      .then(() => db.loadDatabaseAsync())
      .then(() => speedUpAllIndexUpdates(db as unknown as { indexes: Record<string, unknown> }));
    // Failures surface through the operations that await `loaded`; this only avoids an
    // unhandled rejection when none has been called yet.
    this.loaded.catch(() => undefined);
  }

  async insert(doc: T): Promise<void> {
    assertStorableDocument(doc);
    await this.write((db) => db.insertAsync(clone(doc) as Doc));
  }

  async findOne(filter: Filter): Promise<T | null> {
    assertSupportedFilter(filter);
    const db = await this.ready();
    const found: unknown = await db.findOneAsync(toNedbFilter(filter));
    return found ? (clone(found) as T) : null;
  }

  async find(filter: Filter, options: FindOptions = {}): Promise<T[]> {
    assertSupportedFilter(filter);
    assertFindOptions(options);
    const db = await this.ready();
    let cursor = db.findAsync(toNedbFilter(filter));
    if (options.sort) cursor = cursor.sort(options.sort);
    if (options.skip) cursor = cursor.skip(options.skip);
    if (options.limit) cursor = cursor.limit(options.limit);
    if (options.fields) cursor = cursor.projection(Object.fromEntries(options.fields.map((f) => [f, 1])));
    const found: unknown = await cursor;
    return (found as unknown[]).map((d) => clone(d) as T);
  }

  async count(filter: Filter): Promise<number> {
    assertSupportedFilter(filter);
    const db = await this.ready();
    const n: unknown = await db.countAsync(toNedbFilter(filter));
    return n as number;
  }

  async updateOne(filter: Filter, update: Update): Promise<number> {
    assertSupportedFilter(filter);
    assertSupportedUpdate(update);
    return this.write((db) => applyUpdate(db, toNedbFilter(filter), prepareUpdate(update), false));
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    assertSupportedFilter(filter);
    assertSupportedUpdate(update);
    return this.write((db) => applyUpdate(db, toNedbFilter(filter), prepareUpdate(update), true));
  }

  async findOneAndUpdate(filter: Filter, update: Update, options: { sort?: SortSpec } = {}): Promise<T | null> {
    assertSupportedFilter(filter);
    assertSupportedUpdate(update);
    if (options.sort) assertFindOptions({ sort: options.sort });
    const query = toNedbFilter(filter);
    const prepared = prepareUpdate(update);
    return this.write(async (db) => {
      // NeDB's update has no sort, so: find the first candidate in sort order, then update it
      // only if it still matches the filter. While every write goes through `this.writes` the
      // re-check cannot fail; it is kept (with a bounded retry) so that a write slipping past
      // the queue could cost a retry but never a double claim.
      for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
        let cursor = db.findOneAsync(query);
        if (options.sort) cursor = cursor.sort(options.sort);
        const candidate = (await cursor) as unknown as Doc | null;
        if (!candidate) return null;
        const effective = withoutMissingPulls(candidate, prepared);
        if (!effective) return clone(candidate) as T;
        const result = await db.updateAsync({ _id: candidate._id, $and: [query] }, effective, {
          multi: false,
          returnUpdatedDocs: true,
        });
        if (result.numAffected === 1) return clone(result.affectedDocuments) as T;
      }
      throw new Error(`${this.name}: findOneAndUpdate gave up after ${MAX_CLAIM_ATTEMPTS} contended attempts`);
    });
  }

  async replace(doc: T, options: { upsert?: boolean; precondition?: Filter } = {}): Promise<number> {
    assertStorableDocument(doc);
    if (options.precondition) assertSupportedFilter(options.precondition, 'precondition');
    const query: Doc = options.precondition ? { _id: doc._id, $and: [toNedbFilter(options.precondition)] } : { _id: doc._id };
    return this.write(async (db) => {
      // A modifier-free update replaces the whole document (keeping _id).
      const { numAffected } = await db.updateAsync(query, clone(doc), { multi: false });
      if (numAffected > 0 || !options.upsert) return numAffected;
      // Like MongoDB's upsert: insert only when no document has this _id (a failed
      // precondition on an existing document is not an invitation to insert).
      const existing: unknown = await db.countAsync({ _id: doc._id });
      if ((existing as number) > 0) return 0;
      await db.insertAsync(clone(doc) as Doc);
      return 1;
    });
  }

  async delete(filter: Filter): Promise<number> {
    assertSupportedFilter(filter);
    return this.write((db) => db.removeAsync(toNedbFilter(filter), { multi: true }));
  }

  async ensureIndex(spec: IndexSpec): Promise<void> {
    assertIndexSpec(spec);
    if (spec.only === 'mongodb') return;
    await this.write(async (db) => {
      await ensureNedbIndex(db, spec);
      speedUpAllIndexUpdates(db as unknown as { indexes: Record<string, unknown> });
    });
  }

  /** Makes this collection's indexes exactly `wanted` (see EmbeddedStore.syncIndexes). */
  async syncIndexes(wanted: readonly (IndexSpec & { name: string })[], dryRun: boolean): Promise<IndexChange[]> {
    for (const spec of wanted) assertIndexSpec(spec);
    return this.write(async (db) => {
      const indexes = (db as unknown as { indexes: Record<string, NedbIndexInfo> }).indexes;
      const documents = db.getAllData().length;
      const byKey = new Map(wanted.map((spec) => [nedbKey(spec.fields), spec]));
      const changes: IndexChange[] = [];
      const change = (index: string, action: IndexChange['action'], reason: string) => changes.push({ collection: this.name, index, action, reason, documents });
      for (const key of Object.keys(indexes)) {
        if (key === '_id' || byKey.has(key)) continue;
        change(indexName({ fields: key.split(',') }), 'drop', 'no longer used');
        if (!dryRun) await db.removeIndexAsync(key);
      }
      for (const [key, spec] of byKey) {
        const index = indexes[key];
        const diff = index && nedbDifference(index, spec);
        if (index && !diff) continue;
        change(spec.name, index ? 'rebuild' : 'create', diff ? `options changed: ${diff}` : 'missing');
        if (!dryRun) await ensureNedbIndex(db, spec);
      }
      if (!dryRun) speedUpAllIndexUpdates(db as unknown as { indexes: Record<string, unknown> });
      return changes;
    });
  }

  /** Waits for queued writes, then (file-backed) rewrites the data file compactly. */
  async flush(): Promise<void> {
    await this.writes.run(async () => {
      try {
        await this.loaded;
      } catch {
        return; // nothing was loaded, so nothing to write back
      }
      if (this.filename === undefined) return;
      await this.db.compactDatafileAsync();
    });
  }

  private async ready(): Promise<Db> {
    try {
      this.assertOpen();
      await this.loaded;
    } catch (error) {
      // Closed, or its data file couldn't be read: nothing can be done with it just now.
      throw new StoreUnavailableError(this.name, error);
    }
    return this.db;
  }

  private write<R>(operation: (db: Db) => Promise<R>): Promise<R> {
    try {
      this.assertOpen();
    } catch (error) {
      throw new StoreUnavailableError(this.name, error);
    }
    return this.writes.run(async () => {
      const db = await this.ready();
      try {
        return await operation(db);
      } catch (error) {
        throw translateError(this.name, error);
      }
    });
  }
}

/** Runs tasks one after another; a failing task doesn't stop the ones queued after it. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<R>(task: () => Promise<R>): Promise<R> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// Updates

/**
 * Applies `update` to the first (or every) document matching `query`; returns how many matched.
 * Runs inside the collection's write queue.
 */
async function applyUpdate(db: Db, query: Doc, update: Update, multi: boolean): Promise<number> {
  if (!update.$pull) return (await db.updateAsync(query, update, { multi })).numAffected;
  // $pull needs the documents: NeDB throws on a missing field where MongoDB does nothing.
  const found: unknown = multi ? await db.findAsync(query) : [await db.findOneAsync(query)].filter(Boolean);
  const docs = found as Doc[];
  const groups = new Map<string, { update: Update; ids: unknown[] }>();
  for (const doc of docs) {
    const effective = withoutMissingPulls(doc, update);
    if (!effective) continue; // only $pulls from missing fields: a no-op, but still a match
    const key = Object.keys(effective.$pull ?? {}).join('\n');
    const group = groups.get(key) ?? { update: effective, ids: [] };
    group.ids.push(doc._id);
    groups.set(key, group);
  }
  for (const group of groups.values()) await db.updateAsync({ _id: { $in: group.ids } }, group.update, { multi: true });
  return docs.length;
}

/** The update without `$pull`s on paths `doc` lacks; null when nothing is left to do. */
function withoutMissingPulls(doc: Doc, update: Update): Update | null {
  if (!update.$pull) return update;
  const pulls = Object.entries(update.$pull).filter(([p]) => !isMissingPath(doc, p));
  const { $pull: _dropped, ...rest } = update;
  const effective: Update = pulls.length > 0 ? { ...rest, $pull: Object.fromEntries(pulls) } : rest;
  // Never hand NeDB an empty update: it would treat `{}` as a replacement document.
  return Object.keys(effective).length > 0 ? effective : null;
}

/** True when following `fieldPath` through objects (and array indexes) ends nowhere. */
function isMissingPath(doc: Doc, fieldPath: string): boolean {
  let current: unknown = doc;
  for (const part of fieldPath.split('.')) {
    if (Array.isArray(current) && /^\d+$/.test(part)) current = current[Number(part)];
    else if (isRecord(current) && !Array.isArray(current)) current = current[part];
    else return false; // a scalar or array in the way: let NeDB decide (it errs, like MongoDB)
    if (current === undefined) return true;
  }
  return false;
}

/** Copies operator arguments, dropping `undefined` fields as MongoDB's ignoreUndefined does. */
function prepareUpdate(update: Update): Update {
  return clone(update) as Update;
}

// ---------------------------------------------------------------------------------------------
// Filters

/** Rewrites a port filter (MongoDB semantics) into an equivalent NeDB query. */
function toNedbFilter(filter: Filter): Doc {
  const simple: Doc = {};
  const complex: Doc[] = [];
  for (const clause of conjuncts(filter)) {
    const [key] = Object.keys(clause);
    // Keep `{ field: condition }` at top level where possible: NeDB only uses indexes there.
    // Everything else (`$not`, `$or`, a second condition on a field) joins the one `$and`.
    if (!key.startsWith('$') && !(key in simple)) simple[key] = clause[key];
    else complex.push(clause);
  }
  // NeDB queries through the LAST indexed equality field it finds at top level: put _id (unique)
  // last, so a lookup by id with preconditions ({ _id, state: 'pending' }) reads one document
  // instead of every document sharing the precondition's value.
  if ('_id' in simple) {
    const id = simple._id;
    delete simple._id;
    simple._id = id;
  }
  return complex.length > 0 ? { ...simple, $and: complex } : simple;
}

/**
 * The filter as one-key NeDB clauses that must all hold. A caller's `$and` is flattened into
 * them (rather than kept as a key), so it can't collide with the `$and` the translation builds.
 */
function conjuncts(filter: Filter): Doc[] {
  return Object.entries(filter).flatMap(([key, value]): Doc[] => {
    if (key === '$and') return (value as Filter[]).flatMap(conjuncts);
    if (key === '$or') return [{ $or: (value as Filter[]).map(toNedbFilter) }];
    if (isOperatorObject(value)) return Object.entries(value).map(([op, arg]) => fieldClause(key, op, arg));
    return [equals(key, value)];
  });
}

function fieldClause(fieldPath: string, op: string, arg: unknown): Doc {
  switch (op) {
    case '$eq':
      return equals(fieldPath, arg);
    case '$ne':
      return { $not: equals(fieldPath, arg) };
    case '$in':
      return isIn(fieldPath, arg as unknown[]);
    case '$nin':
      return { $not: isIn(fieldPath, arg as unknown[]) };
    case '$exists':
      return arg ? exists(fieldPath) : { $not: exists(fieldPath) };
    case '$elemMatch':
      return { [fieldPath]: { $elemMatch: toNedbFilter(arg as Filter) } };
    default:
      return { [fieldPath]: { [op]: arg } };
  }
}

/** MongoDB: `null` also matches a missing field. */
function equals(fieldPath: string, value: unknown): Doc {
  return value === null ? { $or: [{ [fieldPath]: null }, { $not: exists(fieldPath) }] } : { [fieldPath]: value };
}

function isIn(fieldPath: string, values: unknown[]): Doc {
  const clause = { [fieldPath]: { $in: values } };
  return values.includes(null) ? { $or: [clause, { $not: exists(fieldPath) }] } : clause;
}

/** MongoDB: an empty array exists. NeDB looks at its (absent) elements instead. */
function exists(fieldPath: string): Doc {
  return { $or: [{ [fieldPath]: { $exists: true } }, { [fieldPath]: { $size: 0 } }] };
}

function isOperatorObject(value: unknown): value is Doc {
  return isRecord(value) && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof RegExp) && Object.keys(value).some((k) => k.startsWith('$'));
}

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Deep copy of stored data: fresh Dates, `undefined` object fields dropped and `undefined`
 * array elements turned into null (as MongoDB's driver does with ignoreUndefined).
 */
function clone(value: unknown): unknown {
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) return Array.from(value, (v) => (v === undefined ? null : clone(v)));
  if (value instanceof RegExp || !isRecord(value)) return value;
  const copy: Doc = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) copy[k] = clone(v);
  return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** File-system errors that leave the data file unwritable for now (full or read-only disk, ...). */
const IO_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE', 'EBUSY', 'ENOENT']);

function translateError(collection: string, error: unknown): unknown {
  if (isRecord(error) && error.errorType === 'uniqueViolated') return new DuplicateKeyError(collection, describeKey(error.key));
  if (isRecord(error) && typeof error.code === 'string' && IO_ERROR_CODES.has(error.code)) return new StoreUnavailableError(collection, error);
  return error;
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? key : JSON.stringify(key);
}

function assertCollectionName(name: string): void {
  if (!COLLECTION_NAME.test(name) || name.startsWith('system.')) throw new Error(`invalid collection name: ${JSON.stringify(name)}`);
}


/** What NeDB's Index keeps of the options. */
interface NedbIndexInfo {
  unique: boolean;
  sparse: boolean;
}

/** NeDB keys a compound index by its sorted field list; uniqueness doesn't depend on order. */
function nedbKey(fields: readonly string[]): string {
  return [...fields].sort().join(',');
}

/**
 * NeDB 4's sparse indexes skip Date values (it takes a Date for an all-undefined compound
 * key), so range queries through them find nothing. Sparseness only matters for uniqueness:
 * a non-unique index is built non-sparse (documents without the field never match a range).
 */
function nedbOptions(spec: IndexSpec): NedbIndexInfo {
  return { unique: spec.unique ?? false, sparse: (spec.unique ?? false) && (spec.sparse ?? false) };
}

function nedbDifference(index: NedbIndexInfo, spec: IndexSpec): string | undefined {
  const wanted = nedbOptions(spec);
  const parts: string[] = [];
  if (index.unique !== wanted.unique) parts.push(index.unique ? 'unique → not unique' : 'not unique → unique');
  if (index.sparse !== wanted.sparse) parts.push(index.sparse ? 'sparse → not sparse' : 'not sparse → sparse');
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** ensureIndex that also replaces an index of the same key whose options differ (NeDB's keeps it). */
async function ensureNedbIndex(db: Db, spec: IndexSpec): Promise<void> {
  const key = nedbKey(spec.fields);
  const existing = (db as unknown as { indexes: Record<string, NedbIndexInfo | undefined> }).indexes[key];
  if (existing && nedbDifference(existing, spec)) await db.removeIndexAsync(key);
  await db.ensureIndexAsync({ fieldName: spec.fields.length === 1 ? spec.fields[0]! : [...spec.fields], ...nedbOptions(spec) });
}

function assertIndexSpec(spec: IndexSpec): void {
  if (spec.fields.length === 0 || spec.fields.some((f) => f === '' || f.startsWith('$') || f.includes(','))) {
    throw new UnsupportedQueryError(`index: bad fields ${JSON.stringify(spec.fields)}`);
  }
}
