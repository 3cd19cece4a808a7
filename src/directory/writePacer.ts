import { RateLimiter, burstFor } from '../rateLimiter';

// Paces directory writes within Graph's write quota (about 3,000 per 150 s per app and
// tenant), and holds every write back once Graph answers 429: the quota is the app's, so the
// Retry-After it names applies to all writes, not only to the call that was refused. Writes
// sent while throttled are refused as well (and each one counts against the app).

export interface PacingClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export class WritePacer {
  private readonly limiter: RateLimiter;
  private pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    writesPerSecond: number,
    private readonly clock: PacingClock,
  ) {
    const spec = { ratePerSecond: writesPerSecond, burst: burstFor(writesPerSecond) };
    this.limiter = new RateLimiter({ global: spec, perKey: spec }, clock.now);
  }

  /** Waits until a write may go: after any pause Graph asked for, and at the configured rate. */
  async pace(): Promise<void> {
    for (;;) {
      const paused = this.pausedUntil - this.clock.now();
      if (paused > 0) await this.clock.sleep(paused);
      const wait = this.limiter.reserve('directory');
      if (wait > 0) await this.clock.sleep(wait);
      // A 429 met by another write while this one waited: wait for that pause too.
      if (this.clock.now() >= this.pausedUntil) return;
    }
  }

  /** Graph refused a call with 429: no write goes before `retryAfterMs` has passed. */
  throttled(retryAfterMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + retryAfterMs);
  }
}
