// Counters for the per-person limits (src/bot/limits.ts), kept where the store keeps its data:
// on MongoDB in one collection every instance shares (rate-limiter-flexible's Mongo store:
// an atomic upsert with $inc per key, a TTL index to clear old windows), on the embedded
// store in this process's memory (the embedded store serves one process).
import type { CreateIndexesOptions, Db, IndexSpecification } from 'mongodb';
import { RateLimiterMemory, RateLimiterMongo, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '../logger';
import { mongoDatabaseOf } from './mongoStore';
import type { DocumentStore } from './port';

/** The collection beside the port's collections; its documents are the library's, not ours. */
export const RATE_LIMIT_COLLECTION = 'rateLimits';

export interface CounterOptions {
  /** Tells one limit's keys from another's in the shared collection. */
  name: string;
  points: number;
  durationSec: number;
  /**
   * Once a key is over its points, refuse it from this process's memory for the rest of its
   * window instead of asking the database again (a flood costs no database work). Only for
   * counters that never give points back.
   */
  blockInMemoryWhenOver?: boolean;
}

export interface RateLimitCounters {
  /** True when every instance counts in the same place (MongoDB). */
  readonly shared: boolean;
  /** Resolves once the counters can be used (indexes in place); retried after a failure. */
  ready(): Promise<void>;
  create(options: CounterOptions): RateLimiterAbstract;
}

export function rateLimitCountersFor(store: DocumentStore, logger?: Logger): RateLimitCounters {
  const db = mongoDatabaseOf(store);
  if (!db) return memoryRateLimitCounters();
  let indexes: Promise<void> | undefined;
  return {
    shared: true,
    ready() {
      // Counters are not used before the indexes exist; a failure is tried again on the next use.
      indexes ??= ensureRateLimitIndexes(db.collection(RATE_LIMIT_COLLECTION), logger).catch((error: unknown) => {
        indexes = undefined;
        throw error;
      });
      return indexes;
    },
    create: (options) => mongoCounter(db, options),
  };
}

/** What index creation needs of a collection (a driver Collection; a stub in tests). */
export interface IndexTarget {
  createIndex(keys: IndexSpecification, options: CreateIndexesOptions): Promise<string>;
}

/**
 * The indexes rate-limiter-flexible's Mongo store relies on. The unique index on `key` is what
 * makes two instances' first upserts of a key count once (the loser gets E11000 and the library
 * retries): without it, it fails. The TTL index only clears finished windows (documents past
 * `expire` are ignored by the library's own filter): MongoDB takes `{expire: -1}` with
 * expireAfterSeconds 0, as the library creates it; Azure Cosmos DB for MongoDB (RU) allows a
 * TTL index only on its `_ts` field ("The TTL index is an index on the _ts field"), where two
 * minutes without an update is a finished one-minute window.
 */
export async function ensureRateLimitIndexes(collection: IndexTarget, logger?: Logger): Promise<void> {
  await collection.createIndex({ key: 1 }, { unique: true });
  try {
    await collection.createIndex({ expire: -1 }, { expireAfterSeconds: 0 });
  } catch (error) {
    try {
      await collection.createIndex({ _ts: 1 }, { expireAfterSeconds: 120 });
      logger?.info({ collection: RATE_LIMIT_COLLECTION }, 'per-person limit windows expire through a TTL index on _ts (Azure Cosmos DB for MongoDB)');
    } catch {
      // Counting still works; finished windows stay until removed by hand.
      logger?.warn({ err: error, collection: RATE_LIMIT_COLLECTION }, 'no TTL index for per-person limit windows: finished windows are not removed automatically');
    }
  }
}

/** Counters in this process's memory. */
export function memoryRateLimitCounters(): RateLimitCounters {
  return {
    shared: false,
    ready: () => Promise.resolve(),
    create: (options) => new RateLimiterMemory({ keyPrefix: options.name, points: options.points, duration: options.durationSec }),
  };
}

function mongoCounter(db: Db, options: CounterOptions): RateLimiterMongo {
  return new RateLimiterMongo({
    storeClient: db,
    tableName: RATE_LIMIT_COLLECTION,
    keyPrefix: options.name,
    points: options.points,
    duration: options.durationSec,
    // Indexes are created by ready() (ensureRateLimitIndexes), awaited and retried, not
    // fire-and-forget with a console.error.
    disableIndexesCreation: true,
    ...(options.blockInMemoryWhenOver ? { inMemoryBlockOnConsumed: options.points + 1 } : {}),
  });
}
