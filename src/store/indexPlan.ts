// What it takes to bring a collection's indexes in line with the code: compares the indexes a
// database has (listIndexes) with the ones the repositories declare, by name first (names are
// fixed in code, see IndexSpec.name), then by key. Pure: the MongoDB adapter lists, counts and
// applies; schema.ts decides whether the plan may run at start-up.

import { type IndexChange, type IndexSpec, indexName } from './port';

/** An index as the database describes it, reduced to what the bot sets. */
export interface ExistingIndex {
  name: string;
  /** The ascending fields in order; null when the key is anything else (descending, text, hashed…). */
  fields: string[] | null;
  unique: boolean;
  sparse: boolean;
  /** Options the bot never sets (collation, partialFilterExpression, expireAfterSeconds, hidden…). */
  extras: string[];
}

export type NamedIndexSpec = IndexSpec & { name: string };

/** One step of a plan: the change, plus what applying it needs. */
export interface IndexStep extends IndexChange {
  /** The index to build (create, rebuild). */
  spec?: NamedIndexSpec;
  /** The index to drop first (rebuild: the old one, under its own name). */
  drops?: string;
}

/** Options every index declared by the code has; anything else the database reports is "extra". */
const KNOWN_OPTIONS = new Set(['v', 'key', 'name', 'unique', 'sparse', 'ns', 'background']);

/** Reads one entry of listIndexes. */
export function existingIndexOf(raw: Record<string, unknown>): ExistingIndex {
  const key = (raw.key ?? {}) as Record<string, unknown>;
  const ascending = Object.values(key).every((direction) => direction === 1);
  return {
    name: String(raw.name),
    fields: ascending ? Object.keys(key) : null,
    unique: raw.unique === true,
    sparse: raw.sparse === true,
    extras: Object.keys(raw).filter((k) => !KNOWN_OPTIONS.has(k)),
  };
}

/** The declared indexes of one collection for one adapter, named, each name once. */
export function namedSpecs(collection: string, specs: readonly IndexSpec[], adapter: 'embedded' | 'mongodb'): NamedIndexSpec[] {
  const byName = new Map<string, NamedIndexSpec>();
  for (const spec of specs) {
    if (spec.only !== undefined && spec.only !== adapter) continue;
    const named = { ...spec, name: indexName(spec) };
    const seen = byName.get(named.name);
    if (seen && !sameSpec(seen, named)) throw new Error(`index ${named.name} on ${collection} is declared twice, differently`);
    byName.set(named.name, named);
  }
  return [...byName.values()];
}

function sameSpec(a: IndexSpec, b: IndexSpec): boolean {
  return sameFields(a.fields, b.fields) && !!a.unique === !!b.unique && !!a.sparse === !!b.sparse;
}

function sameFields(a: readonly string[] | null, b: readonly string[]): boolean {
  return a !== null && a.length === b.length && a.every((f, i) => f === b[i]);
}

/** Why `existing` is not `spec`, or undefined when it is. */
export function difference(existing: ExistingIndex, spec: IndexSpec): string | undefined {
  const parts: string[] = [];
  if (!sameFields(existing.fields, spec.fields)) parts.push(`key ${existing.fields ? `(${existing.fields.join(', ')})` : 'not ascending'} → (${spec.fields.join(', ')})`);
  if (existing.unique !== !!spec.unique) parts.push(existing.unique ? 'unique → not unique' : 'not unique → unique');
  if (existing.sparse !== !!spec.sparse) parts.push(existing.sparse ? 'sparse → not sparse' : 'not sparse → sparse');
  if (existing.extras.length > 0) parts.push(`has options the bot does not set (${existing.extras.join(', ')})`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

export interface PlanOptions {
  /** Names this collection's indexes had in an earlier layout, or have for the other adapter: dropped when found. */
  retired: ReadonlySet<string>;
  /** Builds over more documents than this are unsafe at start-up (absent: no limit). */
  startupMaxDocuments?: number;
}

/**
 * The steps that make `existing` equal `wanted` for one collection of `documents` documents.
 * Indexes neither wanted nor retired (an operator's own) are left alone. Order of application:
 * rebuilds, creates, then drops (a retired index goes once its replacement exists).
 */
export function planIndexes(collection: string, existing: readonly ExistingIndex[], wanted: readonly NamedIndexSpec[], documents: number, options: PlanOptions): IndexStep[] {
  const steps: IndexStep[] = [];
  const accounted = new Set<string>(['_id_']);
  for (const spec of wanted) {
    accounted.add(spec.name);
    const byName = existing.find((e) => e.name === spec.name);
    if (byName) {
      const diff = difference(byName, spec);
      if (diff) steps.push(build(collection, spec, documents, options, 'rebuild', `options changed: ${diff}`, spec.name));
      continue;
    }
    // The same key under another name (an earlier layout's, or made by hand): MongoDB refuses a
    // second index on one key, so it is replaced.
    const byKey = existing.find((e) => e.name !== '_id_' && !wanted.some((w) => w.name === e.name) && sameFields(e.fields, spec.fields));
    if (byKey) {
      accounted.add(byKey.name);
      steps.push(build(collection, spec, documents, options, 'rebuild', `replaces ${byKey.name} (same key${difference(byKey, spec) ? `, ${difference(byKey, spec)}` : ''})`, byKey.name));
      continue;
    }
    steps.push(build(collection, spec, documents, options, 'create', 'missing'));
  }
  for (const index of existing) {
    if (accounted.has(index.name) || !options.retired.has(index.name)) continue;
    steps.push({ collection, index: index.name, action: 'drop', reason: 'no longer used', documents });
  }
  return steps;
}

function build(collection: string, spec: NamedIndexSpec, documents: number, options: PlanOptions, action: 'create' | 'rebuild', reason: string, drops?: string): IndexStep {
  const unsafe =
    spec.unique && documents > 0
      ? `a unique index over ${documents} existing document(s): it fails on any duplicate, and Azure Cosmos DB for MongoDB (RU) refuses it on a collection that has documents`
      : options.startupMaxDocuments !== undefined && documents > options.startupMaxDocuments
        ? `builds over ${documents} documents (start-up builds over at most ${options.startupMaxDocuments}: MIGRATE_AT_STARTUP_MAX_DOCUMENTS)`
        : undefined;
  return { collection, index: spec.name, action, reason, documents, spec, ...(drops ? { drops } : {}), ...(unsafe ? { unsafe } : {}) };
}
