// Counters for the per-person limits (src/bot/limits.ts), kept where the store keeps its data:
// on MongoDB in one collection every instance shares (rate-limiter-flexible's Mongo store:
// an atomic upsert with $inc per key, a TTL index to clear old windows), on the embedded
// store in this process's memory (the embedded store serves one process).
import { RateLimiterMemory, RateLimiterMongo, type RateLimiterAbstract } from 'rate-limiter-flexible';
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

export function rateLimitCountersFor(store: DocumentStore): RateLimitCounters {
  const db = mongoDatabaseOf(store);
  if (!db) return memoryRateLimitCounters();
  let indexes: Promise<void> | undefined;
  return {
    shared: true,
    ready() {
      // The unique key index is what makes concurrent first upserts of a key from two
      // instances count once (the loser gets E11000 and the library retries): counters are not
      // used before it exists. A failure is tried again on the next use.
      indexes ??= mongoCounter(db, { name: 'indexes', points: 1, durationSec: 1 })
        .createIndexes()
        .catch((error: unknown) => {
          indexes = undefined;
          throw error;
        });
      return indexes;
    },
    create: (options) => mongoCounter(db, options),
  };
}

/** Counters in this process's memory. */
export function memoryRateLimitCounters(): RateLimitCounters {
  return {
    shared: false,
    ready: () => Promise.resolve(),
    create: (options) => new RateLimiterMemory({ keyPrefix: options.name, points: options.points, duration: options.durationSec }),
  };
}

function mongoCounter(db: NonNullable<ReturnType<typeof mongoDatabaseOf>>, options: CounterOptions): RateLimiterMongo {
  return new RateLimiterMongo({
    storeClient: db,
    tableName: RATE_LIMIT_COLLECTION,
    keyPrefix: options.name,
    points: options.points,
    duration: options.durationSec,
    // Indexes are created by ready(), awaited and retried, not fire-and-forget with a console.error.
    disableIndexesCreation: true,
    ...(options.blockInMemoryWhenOver ? { inMemoryBlockOnConsumed: options.points + 1 } : {}),
  });
}
