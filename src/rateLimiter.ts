// Pacing (token buckets) for calls to rate-limited services: the Teams connector and Graph.
// For the Teams connector: Teams throttles per conversation (7 operations a
// second, 8 in two seconds, 60 in thirty) and per app and tenant (50 a second); a bot
// that stays under those limits never has to hammer its way through 429s.
//
// Each bucket is a token bucket written as GCRA (the "virtual scheduling" form): one number
// per bucket, the theoretical time the next call is due. Pure: time is passed in, nothing
// sleeps here; the caller waits for what `reserve` returns. Meant for callers that reserve
// one at a time and wait (the task runner handles one task at a time): concurrent callers
// still never exceed a limit, but one conversation's long wait would hold the others back.

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
