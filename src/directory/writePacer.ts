import { burstFor, DEFAULT_MAX_PACING_WAIT_MS, PacingDeferral, RateLimiter } from '../rateLimiter';

// Paces directory writes within Graph's write quota (about 3,000 per 150 s per app and
// tenant), and holds every write back once Graph answers 429: the quota is the app's, so the
// Retry-After it names applies to all writes, not only to the call that was refused. Writes
// sent while throttled are refused as well (and each one counts against the app).
//
// A write runs inside a task that holds one of its lane's workers: a short wait (up to
// `maxWaitMs`) is slept, a longer one (a 429's pause, a quota spent) throws PacingDeferral and
// the task runner puts the task back until then, so the worker serves a removal meanwhile.

export interface PacingClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /**
   * The longest wait taken inside a task (default 250 ms); longer ones throw PacingDeferral.
   * Virtual clocks, whose sleeps cost nothing, may pass Infinity to always sleep.
   */
  maxWaitMs?: number;
}

export class WritePacer {
  private readonly limiter: RateLimiter;
  private readonly maxWaitMs: number;
  private pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    writesPerSecond: number,
    private readonly clock: PacingClock,
  ) {
    const spec = { ratePerSecond: writesPerSecond, burst: burstFor(writesPerSecond) };
    this.limiter = new RateLimiter({ global: spec, perKey: spec }, clock.now);
    this.maxWaitMs = clock.maxWaitMs ?? DEFAULT_MAX_PACING_WAIT_MS;
  }

  /**
   * Waits until a write may go: after any pause Graph asked for, and at the configured rate.
   * Throws PacingDeferral when that is further off than a task should hold its worker.
   */
  async pace(): Promise<void> {
    for (;;) {
      const paused = this.pausedUntil - this.clock.now();
      if (paused > this.maxWaitMs) throw new PacingDeferral(paused, `Graph asked for a pause in directory writes (429); ${Math.ceil(paused / 1000)} s left`);
      if (paused > 0) await this.clock.sleep(paused);
      // One bucket: the key's bucket is the shared one, so only the shared one is asked.
      const booking = this.limiter.book('directory', this.maxWaitMs, true);
      if (!booking.go) throw new PacingDeferral(booking.laterMs, 'directory writes are paced within Graph\'s write quota');
      if (booking.waitMs > 0) await this.clock.sleep(booking.waitMs);
      // A 429 met by another write while this one waited: wait for that pause too.
      if (this.clock.now() >= this.pausedUntil) return;
    }
  }

  /** Graph refused a call with 429: no write goes before `retryAfterMs` has passed. */
  throttled(retryAfterMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + retryAfterMs);
  }
}
