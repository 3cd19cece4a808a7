// The database's layout, versioned. The repositories declare their indexes (each under a name
// fixed in code); at every start the store compares them with what the database has and makes
// only what differs: a missing index is created, one whose options changed is rebuilt, one an
// earlier layout made and the code no longer uses is dropped. A start with nothing to change
// costs one listIndexes per collection and no createIndexes.
//
// A change that is not safe while instances start and serve (a build over a large collection,
// a unique index over existing documents, a data migration marked so) is refused at start-up
// with the command that makes it: `npm run migrate` (src/migrate/cli.ts). So is a database a
// newer version has migrated (schema document newer than the code): an older build must not
// run on it.

import type { Logger } from '../logger';
import { DuplicateKeyError, type Collection, type DocumentStore, type IndexChange, type IndexSpec, type StoredDocument } from './port';

/**
 * The layout this build writes. Raise it with a data migration (MIGRATIONS) when stored
 * documents change in a way older builds can't read; index changes alone need no new version
 * (they are found by comparison, see above).
 *   0: no schema document (every build before it).
 *   1: named indexes, this document.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_COLLECTION = 'schema';
const VERSION_ID = 'version';

/** Start-up builds indexes over at most this many documents unless configured (MIGRATE_AT_STARTUP_MAX_DOCUMENTS). */
export const DEFAULT_STARTUP_MAX_DOCUMENTS = 100_000;

/**
 * Indexes earlier layouts made under names no repository declares any more: dropped when found
 * (after what replaces them exists). Names an index has only for the other adapter (IndexSpec.only)
 * are dropped too, without being listed here.
 */
export const RETIRED_INDEXES: ReadonlyMap<string, readonly string[]> = new Map([
  // Replaced by compound indexes that end in _id, so a page sorted newest first needs no sort.
  ['requests', ['targetUserId_1_createdAt_1', 'packageId_1_createdAt_1']],
  ['assignments', ['packageId_1_createdAt_1']],
  ['auditEvents', ['packageId_1_at_1', 'userId_1_at_1', 'action_1_at_1']],
]);

/** A change of stored documents from one schema version to the next. */
export interface Migration {
  /** The version the database is at once it ran. */
  version: number;
  description: string;
  /** Whether instances may run it while starting (small, idempotent, harmless to a running older instance). */
  safeAtStartup: boolean;
  run(store: DocumentStore): Promise<void>;
}

/** None yet: version 1 changed indexes only. */
export const MIGRATIONS: readonly Migration[] = [];

interface VersionDoc extends StoredDocument {
  version: number;
  updatedAt: Date;
}

/** Refused start-up (or migration): the message says why and what to run. */
export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

export interface SchemaOptions {
  /** 'startup' (default) refuses what is unsafe; 'migrate' (npm run migrate) does it all. */
  mode?: 'startup' | 'migrate';
  /** Only report (npm run migrate -- --dry-run). */
  dryRun?: boolean;
  startupMaxDocuments?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  now?: () => Date;
  migrations?: readonly Migration[];
  /** Receives what was found and done (npm run migrate prints it). */
  report?: (report: SchemaReport) => void;
}

export interface SchemaReport {
  /** The database's version before (0 when it had no schema document). */
  from: number;
  to: number;
  changes: IndexChange[];
  migrations: string[];
  applied: boolean;
}

/**
 * Collects the indexes repositories ask for instead of creating them one by one: `store` is
 * the store to build repositories on (the same store, except that ensureIndex is recorded);
 * `finish()` returns what was asked for and lets later ensureIndex calls through.
 */
export function recordIndexes(target: DocumentStore): { store: DocumentStore; finish(): Map<string, IndexSpec[]> } {
  const wanted = new Map<string, IndexSpec[]>();
  let recording = true;
  const wrap = <T extends StoredDocument>(collection: Collection<T>): Collection<T> =>
    new Proxy(collection, {
      get(real, property) {
        if (property === 'ensureIndex' && recording) {
          return async (spec: IndexSpec) => void wanted.set(real.name, [...(wanted.get(real.name) ?? []), spec]);
        }
        const value: unknown = Reflect.get(real, property, real);
        return typeof value === 'function' ? value.bind(real) : value;
      },
    });
  const store = new Proxy(target, {
    get(real, property) {
      if (property === 'collection') return <T extends StoredDocument>(name: string) => wrap(real.collection<T>(name));
      const value: unknown = Reflect.get(real, property, real);
      return typeof value === 'function' ? value.bind(real) : value;
    },
  });
  return {
    store,
    finish() {
      recording = false;
      return wanted;
    },
  };
}

/**
 * Brings the database to this build's layout (see the top of this file). Throws SchemaError
 * when start-up must not do it.
 */
export async function ensureSchema(store: DocumentStore, wanted: ReadonlyMap<string, readonly IndexSpec[]>, options: SchemaOptions = {}): Promise<SchemaReport> {
  const startup = (options.mode ?? 'startup') === 'startup';
  const versions = store.collection<VersionDoc>(SCHEMA_COLLECTION);
  const from = (await versions.findOne({ _id: VERSION_ID }))?.version ?? 0;
  if (from > SCHEMA_VERSION) throw new SchemaError(downgradeMessage(from));
  const pending = [...(options.migrations ?? MIGRATIONS)].filter((m) => m.version > from && m.version <= SCHEMA_VERSION).sort((a, b) => a.version - b.version);
  const unsafe = startup ? pending.filter((m) => !m.safeAtStartup).map((m) => `data migration to version ${m.version}: ${m.description}`) : [];

  let planned: IndexChange[] = [];
  if (store.syncIndexes) {
    const limit = startup ? (options.startupMaxDocuments ?? DEFAULT_STARTUP_MAX_DOCUMENTS) : undefined;
    planned = await store.syncIndexes(wanted, { dryRun: true, startupMaxDocuments: limit, retired: RETIRED_INDEXES });
    if (startup) unsafe.unshift(...planned.filter((c) => c.unsafe).map(describeChange));
  }
  if (unsafe.length > 0) throw new SchemaError(migrationRequiredMessage(unsafe));
  const report: SchemaReport = { from, to: SCHEMA_VERSION, changes: planned, migrations: pending.map((m) => m.description), applied: !options.dryRun };
  if (options.dryRun) {
    options.report?.(report);
    return report;
  }

  if (!store.syncIndexes) {
    // A store without index comparison (a test double wrapping one): ask for each index.
    for (const [name, specs] of wanted) for (const spec of specs) await store.collection(name).ensureIndex(spec);
  } else if (planned.length > 0) {
    // Planned and made in two passes: another instance starting meanwhile may have done some.
    report.changes = await store.syncIndexes(wanted, { dryRun: false, retired: RETIRED_INDEXES });
    logChanges(store, report.changes, options.logger);
  }
  const now = options.now ?? (() => new Date());
  for (const migration of pending) {
    await migration.run(store);
    options.logger?.warn({ version: migration.version, migration: migration.description }, 'schema migration done');
    await setVersion(versions, migration.version, now());
  }
  if (from < SCHEMA_VERSION) await setVersion(versions, SCHEMA_VERSION, now());
  options.report?.(report);
  return report;
}

/** Raises the stored version (never lowers it: a newer instance may have gone further meanwhile). */
async function setVersion(versions: Collection<VersionDoc>, version: number, now: Date): Promise<void> {
  if ((await versions.updateOne({ _id: VERSION_ID, version: { $lt: version } }, { $set: { version, updatedAt: now } })) === 1) return;
  try {
    await versions.insert({ _id: VERSION_ID, version, updatedAt: now });
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error; // it exists, at this version or later
  }
}

function logChanges(store: DocumentStore, changes: IndexChange[], logger: SchemaOptions['logger']): void {
  if (!logger || changes.length === 0) return;
  for (const change of changes.filter((c) => c.action !== 'create')) {
    logger.warn({ collection: change.collection, index: change.index, reason: change.reason, documents: change.documents }, `index ${change.action === 'drop' ? 'dropped' : 'rebuilt'}: ${change.collection}.${change.index} (${change.reason})`);
  }
  const counts = { created: changes.filter((c) => c.action === 'create').length, rebuilt: changes.filter((c) => c.action === 'rebuild').length, dropped: changes.filter((c) => c.action === 'drop').length };
  // The embedded store builds its indexes at every load; only MongoDB's are news.
  if (store.kind === 'embedded') logger.debug(counts, 'indexes brought in line with the code');
  else logger.info(counts, 'indexes brought in line with the code');
}

export function describeChange(change: IndexChange): string {
  return `${change.collection}: ${change.action} index ${change.index} (${change.reason})${change.unsafe ? `: ${change.unsafe}` : ''}`;
}

function migrationRequiredMessage(unsafe: string[]): string {
  return [
    'The database needs changes that are not made at start-up:',
    ...unsafe.map((line) => `  - ${line}`),
    'Run `npm run migrate` once, with the same MONGODB_URI (in the container image: `node dist/migrate/cli.js`).',
    'Running instances keep serving while it builds; start the bot again when it has finished. `npm run migrate -- --dry-run` shows the plan.',
  ].join('\n');
}

function downgradeMessage(version: number): string {
  return [
    `The database is at schema version ${version}, newer than this build's (${SCHEMA_VERSION}): a newer version of the bot migrated it.`,
    'Run that version (or a newer one). To go back to this version, restore the backup taken before the upgrade (docs/deployment.md, Upgrading).',
  ].join('\n');
}
