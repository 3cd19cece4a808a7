// Pacing (token buckets) for calls to rate-limited services: the Teams connector and Graph.
// For the Teams connector: Teams throttles per conversation (7 operations a
// second, 8 in two seconds, 60 in thirty) and per app and tenant (50 a second); a bot
// that stays under those limits never has to hammer its way through 429s.
//
// Each bucket is a token bucket written as GCRA (the "virtual scheduling" form): one number
// per bucket, the theoretical time the next call is due. Pure: time is passed in, nothing
// sleeps here; the caller waits for what `reserve` returns. Concurrent callers never exceed a
// limit. Task workers use `book` instead: a short wait is taken, a long one is handed back as
// "come back later" (PacingDeferral) so the worker is free for other work meanwhile.

export interface BucketSpec {
  /** Sustained calls per second. */
  ratePerSecond: number;
  /** Calls allowed back to back after an idle spell (at least 1). */
  burst: number;
}

export interface RateLimiterOptions {
  /** Shared by every call (per app and tenant). */
  global: BucketSpec;
  /** One per key (per conversation). */
  perKey: BucketSpec;
  /** Idle per-key buckets are forgotten once there are more than this many. */
  maxKeys?: number;
}

interface Gcra {
  /** Milliseconds between calls at the sustained rate. */
  interval: number;
  /** How far ahead of the sustained schedule a burst may run. */
  tolerance: number;
}

function gcra(spec: BucketSpec): Gcra {
  if (!(spec.ratePerSecond > 0) || !Number.isFinite(spec.ratePerSecond)) throw new RangeError('ratePerSecond must be a positive number');
  if (!Number.isInteger(spec.burst) || spec.burst < 1) throw new RangeError('burst must be an integer of at least 1');
  const interval = 1000 / spec.ratePerSecond;
  return { interval, tolerance: (spec.burst - 1) * interval };
}

/** What `book` answers: go (after `waitMs`), or come back in `laterMs`. */
export type Booking = { go: true; waitMs: number } | { go: false; laterMs: number; turnBooked: boolean };

/**
 * A paced call would have to wait longer than a task should hold its worker: the task is put
 * back until then (the task runner reschedules it without counting an attempt).
 */
export class PacingDeferral extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'PacingDeferral';
  }
}

/** The longest pacing wait a task takes while holding its worker, unless configured. */
export const DEFAULT_MAX_PACING_WAIT_MS = 250;

export class RateLimiter {
  private readonly global: Gcra;
  private readonly perKey: Gcra;
  private readonly maxKeys: number;
  private globalDue = Number.NEGATIVE_INFINITY;
  private readonly keyDue = new Map<string, number>();

  constructor(
    options: RateLimiterOptions,
    private readonly now: () => number,
  ) {
    this.global = gcra(options.global);
    this.perKey = gcra(options.perKey);
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /**
   * Books the next call for `key` and returns how many milliseconds to wait before making it
   * (0 when it may go now). The booking is made at once, so callers that reserve one after
   * another are spaced out even before any of them has waited.
   */
  reserve(key: string): number {
    const now = this.now();
    const keyDue = this.keyDue.get(key) ?? Number.NEGATIVE_INFINITY;
    // The earliest moment both buckets allow the call.
    const at = Math.max(now, this.globalDue - this.global.tolerance, keyDue - this.perKey.tolerance);
    this.globalDue = Math.max(this.globalDue, at) + this.global.interval;
    this.keyDue.set(key, Math.max(keyDue, at) + this.perKey.interval);
    if (this.keyDue.size > this.maxKeys) this.forgetIdle(now);
    return at - now;
  }

  /**
   * For a caller that holds a worker and must not wait long. Books the call when it may go
   * within `maxWaitMs` and says how long to wait first. Otherwise books no call and says when
   * to come back; when the key (one conversation) is what is busy, its next turn is booked for
   * the caller (`turnBooked`), so callers sent away from one busy key come back one interval
   * apart instead of all at once. Coming back for that turn, the caller passes `turnHeld` and
   * only the shared bucket is asked. (`turnHeld` also suits a caller with a single key whose
   * bucket is the shared one.) `maxSharedWaitMs`, below `maxWaitMs`, keeps a caller of low
   * priority from booking ahead in the shared bucket: it goes only when the bucket is nearly
   * free, so more urgent callers always find room there.
   */
  book(key: string, maxWaitMs: number, turnHeld = false, maxSharedWaitMs = maxWaitMs): Booking {
    const now = this.now();
    const keyDue = this.keyDue.get(key) ?? Number.NEGATIVE_INFINITY;
    const keyAt = turnHeld ? now : Math.max(now, keyDue - this.perKey.tolerance);
    const globalAt = Math.max(now, this.globalDue - this.global.tolerance);
    const sharedWait = Math.min(maxWaitMs, maxSharedWaitMs);
    if (keyAt - now <= maxWaitMs && globalAt - now <= sharedWait) {
      const at = Math.max(keyAt, globalAt);
      this.globalDue = Math.max(this.globalDue, at) + this.global.interval;
      if (!turnHeld) this.keyDue.set(key, Math.max(keyDue, at) + this.perKey.interval);
      if (this.keyDue.size > this.maxKeys) this.forgetIdle(now);
      return { go: true, waitMs: at - now };
    }
    if (!turnHeld && keyAt - now > maxWaitMs) {
      this.keyDue.set(key, Math.max(keyDue, keyAt) + this.perKey.interval);
      return { go: false, laterMs: keyAt - now, turnBooked: true };
    }
    return { go: false, laterMs: Math.max(keyAt, globalAt - sharedWait) - now, turnBooked: false };
  }

  /** Number of per-key buckets currently remembered (for tests and diagnostics). */
  get trackedKeys(): number {
    return this.keyDue.size;
  }

  /** A bucket whose due time has passed is full again: dropping it changes nothing. */
  private forgetIdle(now: number): void {
    for (const [key, due] of this.keyDue) if (due <= now) this.keyDue.delete(key);
  }
}

/** The burst used with a rate: small, so the busiest second (burst + rate) stays near the rate. */
export function burstFor(ratePerSecond: number): number {
  return Math.max(1, Math.floor(ratePerSecond / 4));
}
