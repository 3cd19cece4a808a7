// The document-collection port. Repositories are written once against this; the embedded
// (NeDB) and MongoDB adapters both implement it and pass test/contract/storeContract.ts.
//
// Filters and updates are the subset of MongoDB's query language that NeDB implements
// identically. Anything outside the subset is refused by `assertSupportedFilter` /
// `assertSupportedUpdate` so a repository can't come to rely on one adapter's extras.

export interface StoredDocument {
  _id: string;
}

/**
 * Field paths (dot notation allowed) mapped to a value (equality) or an operator object.
 * Logical: $and, $or. Field operators: see FILTER_OPERATORS.
 */
export type Filter = Record<string, unknown>;

/** Update operators: see UPDATE_OPERATORS. Whole-document replacement goes through `replace`. */
export type Update = Partial<Record<(typeof UPDATE_OPERATORS)[number], Record<string, unknown>>>;

export type SortSpec = Record<string, 1 | -1>;

export interface FindOptions {
  sort?: SortSpec;
  skip?: number;
  limit?: number;
  /** Only these top-level fields (and _id) come back: cheaper when a caller needs little of large documents. */
  fields?: string[];
}

export interface IndexSpec {
  /**
   * The index's name in MongoDB, fixed in code so that a later change of its options is found
   * and migrated (see schema.ts). Defaults to MongoDB's own name for the key (`a_1_b_1`).
   */
  name?: string;
  /** One field, or several for a compound index (all ascending; MongoDB walks them both ways). */
  fields: string[];
  unique?: boolean;
  /** Documents lacking the field(s) are not indexed (so unique allows many of them). */
  sparse?: boolean;
  /**
   * Which adapter builds it (both when absent). The embedded store uses an index only for a
   * single field or an equality on every field of a compound one, so it gets single-field
   * indexes MongoDB would not need (a compound index's prefix serves there); MongoDB gets the
   * compound indexes that serve a sort, which the embedded store does in memory.
   */
  only?: 'embedded' | 'mongodb';
}

/** MongoDB's name for an index when none is given: `field_1` per ascending field, joined by `_`. */
export function indexName(spec: Pick<IndexSpec, 'name' | 'fields'>): string {
  return spec.name ?? spec.fields.map((f) => `${f}_1`).join('_');
}

/** What the store did, or would do, to bring one index in line with the code (schema.ts). */
export interface IndexChange {
  collection: string;
  index: string;
  action: 'create' | 'rebuild' | 'drop';
  /** Why, for the log: "missing", "options changed: sparse → not sparse", "no longer used". */
  reason: string;
  /** Documents in the collection (an estimate): what a build has to read. */
  documents: number;
  /** Set when the change must not be made at start-up, saying why (`npm run migrate` makes it). */
  unsafe?: string;
}

export interface IndexSyncOptions {
  /** Only report what would change. */
  dryRun: boolean;
  /**
   * Marks builds over more documents than this as unsafe at start-up (absent: no limit, as
   * for `npm run migrate`). A unique index over existing documents is always marked.
   */
  startupMaxDocuments?: number;
  /** Per collection, names of indexes an earlier layout made that the code no longer wants: dropped when found. */
  retired?: ReadonlyMap<string, readonly string[]>;
}

export interface Collection<T extends StoredDocument> {
  readonly name: string;
  /** Inserts; throws DuplicateKeyError on `_id` or a unique index clash. */
  insert(doc: T): Promise<void>;
  findOne(filter: Filter): Promise<T | null>;
  find(filter: Filter, options?: FindOptions): Promise<T[]>;
  count(filter: Filter): Promise<number>;
  /**
   * Updates at most one document matching `filter`. The filter is the precondition: the
   * update happens only if a document still matches when it is applied. Returns 1 or 0.
   */
  updateOne(filter: Filter, update: Update): Promise<number>;
  /** Updates every matching document; returns how many. */
  updateMany(filter: Filter, update: Update): Promise<number>;
  /**
   * Atomically updates the first document matching `filter` (in `sort` order) and returns
   * it as it is after the update, or null when none matched. Two callers racing for the
   * same document never both get it.
   */
  findOneAndUpdate(filter: Filter, update: Update, options?: { sort?: SortSpec }): Promise<T | null>;
  /** Replaces the document with `doc._id` (inserting it when absent if `upsert`). Returns 1 or 0. */
  replace(doc: T, options?: { upsert?: boolean; precondition?: Filter }): Promise<number>;
  /** Deletes every matching document; returns how many. */
  delete(filter: Filter): Promise<number>;
  ensureIndex(spec: IndexSpec): Promise<void>;
}

export interface DocumentStore {
  /** 'embedded' or 'mongodb', for logs and /readyz. */
  readonly kind: string;
  collection<T extends StoredDocument>(name: string): Collection<T>;
  /**
   * Brings every index of the named collections in line with `wanted` (collection name →
   * indexes): creates what is missing, rebuilds what changed, drops what the bot no longer
   * uses. Reads the existing indexes first and changes only what differs. Returns the
   * changes, made or (dryRun) planned. Optional: a store without it gets `ensureIndex` calls.
   */
  syncIndexes?(wanted: ReadonlyMap<string, readonly IndexSpec[]>, options: IndexSyncOptions): Promise<IndexChange[]>;
  /** Resolves when the store answers; rejects otherwise (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DuplicateKeyError extends Error {
  constructor(
    readonly collection: string,
    readonly key: string,
  ) {
    super(`duplicate key in ${collection}: ${key}`);
    this.name = 'DuplicateKeyError';
  }
}

/**
 * The database can't be reached or used just now (network, no server to select, closed, disk
 * I/O): nothing was decided, so the same operation may succeed later. Adapters translate
 * their driver's errors into it, so callers (the bot's failure answers) need not know them.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly collection: string,
    cause: unknown,
  ) {
    super(`store unavailable (${collection}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export class UnsupportedQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedQueryError';
  }
}

export const FILTER_OPERATORS = [
  '$eq',
  '$ne',
  '$in',
  '$nin',
  '$lt',
  '$lte',
  '$gt',
  '$gte',
  '$exists',
  '$regex',
  '$elemMatch',
] as const;

export const LOGICAL_OPERATORS = ['$and', '$or'] as const;

export const UPDATE_OPERATORS = ['$set', '$unset', '$inc', '$push', '$pull', '$addToSet'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof RegExp);
}

function fail(message: string): never {
  throw new UnsupportedQueryError(message);
}

/**
 * A value compared or stored literally. `undefined` is refused in filters because the two
 * engines disagree on it (MongoDB with ignoreUndefined drops the condition and matches
 * everything, NeDB matches nothing); `$`-prefixed or dotted keys because NeDB can't store them
 * and MongoDB can't query them.
 */
function assertLiteral(value: unknown, where: string, allowUndefined: boolean): void {
  if (value === undefined) {
    if (allowUndefined) return;
    fail(`${where}: undefined is not a value (validate input, or leave the condition out)`);
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  // NaN and Infinity would come back from NeDB's JSON file as null.
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(`${where}: ${value} can't be stored`);
    return;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) fail(`${where}: invalid Date`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertLiteral(v, `${where}[${i}]`, allowUndefined));
    return;
  }
  // Only JSON-like data plus Date: class instances, RegExps, Buffers etc. don't survive NeDB.
  const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) fail(`${where}: only plain data and Dates can be stored`);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k.startsWith('$') || k.includes('.')) fail(`${where}: key ${k} can't start with $ or contain a dot`);
    assertLiteral(v, `${where}.${k}`, allowUndefined);
  }
}

function isRangeOperand(value: unknown): boolean {
  // Both engines only compare like with like; booleans, null and objects don't compare the same way.
  return (typeof value === 'number' && !Number.isNaN(value)) || typeof value === 'string' || value instanceof Date;
}

function assertEqualityOperand(value: unknown, where: string): void {
  // A RegExp would be a pattern in NeDB but a literal in MongoDB.
  if (value instanceof RegExp) fail(`${where}: use $regex for patterns`);
  assertLiteral(value, where, false);
}

function assertOperatorArgument(op: string, arg: unknown, where: string): void {
  switch (op) {
    case '$eq':
    case '$ne':
      assertEqualityOperand(arg, where);
      return;
    case '$in':
    case '$nin':
      if (!Array.isArray(arg)) fail(`${where}: ${op} takes an array`);
      arg.forEach((v, i) => assertEqualityOperand(v, `${where}[${i}]`));
      return;
    case '$lt':
    case '$lte':
    case '$gt':
    case '$gte':
      if (!isRangeOperand(arg)) fail(`${where}: ${op} takes a number, a string or a Date`);
      return;
    case '$exists':
      if (typeof arg !== 'boolean') fail(`${where}: $exists takes a boolean`);
      return;
    case '$regex':
      if (!(arg instanceof RegExp)) fail(`${where}: $regex takes a RegExp`);
      // g and y make RegExp.test stateful, so NeDB would skip matches.
      if (arg.global || arg.sticky) fail(`${where}: $regex flags g and y are not supported`);
      return;
    case '$elemMatch':
      if (!isPlainObject(arg)) fail(`${where}: $elemMatch takes a filter object`);
      assertSupportedFilter(arg, where);
      return;
  }
}

export function assertSupportedFilter(filter: Filter, where = 'filter'): void {
  if (!isPlainObject(filter)) fail(`${where}: must be an object`);
  for (const [key, value] of Object.entries(filter)) {
    if (key.startsWith('$')) {
      if (!(LOGICAL_OPERATORS as readonly string[]).includes(key)) fail(`${where}: operator ${key} is not supported`);
      // NeDB answers an empty $and/$or (true/false); MongoDB rejects it.
      if (!Array.isArray(value) || value.length === 0) fail(`${where}: ${key} takes a non-empty array`);
      value.forEach((sub, i) => assertSupportedFilter(sub as Filter, `${where}.${key}[${i}]`));
      continue;
    }
    if (isPlainObject(value)) {
      const keys = Object.keys(value);
      const operatorKeys = keys.filter((k) => k.startsWith('$'));
      if (operatorKeys.length > 0 && operatorKeys.length !== keys.length) {
        fail(`${where}.${key}: operators can't be mixed with plain fields`);
      }
      for (const op of operatorKeys) {
        if (!(FILTER_OPERATORS as readonly string[]).includes(op)) fail(`${where}.${key}: operator ${op} is not supported`);
        assertOperatorArgument(op, value[op], `${where}.${key}.${op}`);
      }
      if (operatorKeys.length > 0) continue;
    }
    // Plain value: equality (or a pattern when it is a RegExp).
    if (!(value instanceof RegExp)) assertLiteral(value, `${where}.${key}`, false);
    else assertOperatorArgument('$regex', value, `${where}.${key}`);
  }
}

/**
 * Refuses a document the two engines would store differently. Both adapters call it on
 * insert and replace; `undefined` fields are allowed and dropped (MongoDB's ignoreUndefined).
 */
export function assertStorableDocument(doc: StoredDocument): void {
  if (!isPlainObject(doc)) fail('document: must be an object');
  if (typeof doc._id !== 'string' || doc._id === '') fail('document: _id must be a non-empty string');
  assertLiteral(doc, 'document', true);
}

function assertFieldPath(path: string, where: string): void {
  if (path === '_id' || path.startsWith('_id.')) fail(`${where}: can't change _id`);
  if (path.startsWith('$') || path.split('.').some((part) => part === '' || part.startsWith('$'))) {
    fail(`${where}: ${path} is not a field path`);
  }
}

/** MongoDB refuses an update that touches a path twice (or a path and its parent); NeDB would apply both. */
function assertNoConflictingPaths(paths: string[]): void {
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      const [a, b] = [paths[i], paths[j]];
      if (a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)) fail(`update: ${a} and ${b} conflict`);
    }
  }
}

/** `$push`/`$addToSet` take a value, or `{ $each: [...] }` (plus `$slice` for `$push`). */
function assertArrayAddition(op: string, value: unknown, where: string): void {
  if (!isPlainObject(value) || !Object.keys(value).some((k) => k.startsWith('$'))) {
    assertLiteral(value, where, true);
    return;
  }
  const allowed = op === '$push' ? ['$each', '$slice'] : ['$each'];
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length > 0) fail(`${where}: ${op} modifier ${extra.join(', ')} is not supported`);
  if (!Array.isArray(value.$each)) fail(`${where}: ${op} with modifiers takes $each: [...]`);
  if (value.$slice !== undefined && !Number.isInteger(value.$slice)) fail(`${where}: $slice takes an integer`);
  assertLiteral(value.$each, `${where}.$each`, true);
}

const PULL_OPERATORS = ['$ne', '$in', '$nin', '$lt', '$lte', '$gt', '$gte', '$regex'];

/** `$pull` takes a value, a filter on array elements that are documents, or operators on scalar elements. */
function assertPullCondition(value: unknown, where: string): void {
  if (!isPlainObject(value)) {
    assertEqualityOperand(value, where);
    return;
  }
  const operators = Object.keys(value).filter((k) => k.startsWith('$'));
  if (operators.length === 0) {
    assertSupportedFilter(value, where);
    return;
  }
  if (operators.length !== Object.keys(value).length) fail(`${where}: operators can't be mixed with plain fields`);
  for (const op of operators) {
    if (!PULL_OPERATORS.includes(op)) fail(`${where}: operator ${op} is not supported in $pull`);
    assertOperatorArgument(op, value[op], `${where}.${op}`);
  }
}

function assertOperatorValue(op: string, path: string, value: unknown): void {
  const where = `update.${op}.${path}`;
  switch (op) {
    case '$set':
      assertLiteral(value, where, true);
      return;
    case '$inc':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${where}: $inc takes a number`);
      return;
    case '$push':
    case '$addToSet':
      assertArrayAddition(op, value, where);
      return;
    case '$pull':
      assertPullCondition(value, where);
      return;
    // $unset ignores its value.
  }
}

export function assertSupportedUpdate(update: Update): void {
  if (!isPlainObject(update)) fail('update: must be an object');
  const keys = Object.keys(update);
  if (keys.length === 0) fail('update: empty update');
  const paths: string[] = [];
  for (const key of keys) {
    if (!(UPDATE_OPERATORS as readonly string[]).includes(key)) fail(`update: operator ${key} is not supported`);
    const fields = (update as Record<string, unknown>)[key];
    if (!isPlainObject(fields)) fail(`update: ${key} takes an object`);
    for (const [path, value] of Object.entries(fields)) {
      assertFieldPath(path, `update.${key}`);
      assertOperatorValue(key, path, value);
      paths.push(path);
    }
  }
  assertNoConflictingPaths(paths);
}

/** Options both adapters can honour the same way. */
export function assertFindOptions(options: FindOptions): void {
  for (const [key, value] of [['skip', options.skip], ['limit', options.limit]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) throw new UnsupportedQueryError(`find: ${key} must be a non-negative integer`);
  }
  for (const [field, direction] of Object.entries(options.sort ?? {})) {
    if (field.startsWith('$') || (direction !== 1 && direction !== -1)) throw new UnsupportedQueryError(`find: bad sort on ${field}`);
  }
  if (options.fields !== undefined && (options.fields.length === 0 || options.fields.some((f) => typeof f !== 'string' || f === '' || f.startsWith('$') || f.includes('.')))) {
    throw new UnsupportedQueryError(`find: fields must be top-level field names (got ${JSON.stringify(options.fields)})`);
  }
}
