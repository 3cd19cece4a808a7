import { WritePacer } from '../../src/directory/writePacer';
import { PacingDeferral } from '../../src/rateLimiter';

/** Virtual time: sleeping moves the clock, and every sleep is recorded. `maxWaitMs`: the longest wait slept. */
function virtualClock(maxWaitMs = Number.POSITIVE_INFINITY) {
  const clock = { ms: 0, sleeps: [] as number[], maxWaitMs, now: () => clock.ms, sleep: async (ms: number) => void (clock.sleeps.push(ms), (clock.ms += ms)) };
  return clock;
}

describe('WritePacer (directory writes within Graph\'s quota)', () => {
  it('lets a small burst go at once, then paces at the configured rate', async () => {
    const clock = virtualClock();
    const pacer = new WritePacer(20, clock); // burst 5
    for (let i = 0; i < 25; i++) await pacer.pace();
    // 5 at once, then one every 50 ms: 20 more take 1 s (the first of them waits for the burst's bookings).
    expect(clock.ms).toBeGreaterThanOrEqual(950);
    expect(clock.ms).toBeLessThanOrEqual(1_050);
  });

  it('after a 429, holds every write back for the Retry-After', async () => {
    const clock = virtualClock();
    const pacer = new WritePacer(1_000, clock);
    await pacer.pace();
    pacer.throttled(30_000);
    await pacer.pace();
    expect(clock.ms).toBeGreaterThanOrEqual(30_000);
    const after = clock.ms;
    await pacer.pace(); // the pause is over: back to the rate
    expect(clock.ms - after).toBeLessThan(10);
  });

  it('a later, shorter Retry-After does not cut a pause short', async () => {
    const clock = virtualClock();
    const pacer = new WritePacer(1_000, clock);
    pacer.throttled(10_000);
    pacer.throttled(2_000);
    await pacer.pace();
    expect(clock.ms).toBeGreaterThanOrEqual(10_000);
  });

  it('a write waiting for its turn also waits for a pause raised meanwhile', async () => {
    const clock = { ms: 0, maxWaitMs: Number.POSITIVE_INFINITY, now: () => clock.ms, sleep: async (ms: number) => {
      // While this write sleeps, another write is refused with a 5 s Retry-After.
      if (!raised) { raised = true; pacer.throttled(5_000); }
      clock.ms += ms;
    } };
    let raised = false;
    const pacer = new WritePacer(1, clock); // burst 1: the second write waits 1 s
    await pacer.pace();
    await pacer.pace();
    expect(clock.ms).toBeGreaterThanOrEqual(5_000);
  });

  describe('inside a task (a worker must not be held for long)', () => {
    it('after a 429, a write is put back for the rest of the pause instead of sleeping through it', async () => {
      const clock = virtualClock(250);
      const pacer = new WritePacer(1_000, clock);
      await pacer.pace();
      pacer.throttled(30_000);
      clock.ms += 10_000;
      const deferral = await pacer.pace().then(() => undefined, (error: unknown) => error);
      expect(deferral).toBeInstanceOf(PacingDeferral);
      expect((deferral as PacingDeferral).delayMs).toBe(20_000);
      expect(clock.sleeps).toEqual([]);
      clock.ms += 20_000; // its time has come: it goes
      await pacer.pace();
      expect(clock.sleeps).toEqual([]);
    });

    it('short waits (within the bound) are slept; a write that would wait longer is put back and books nothing', async () => {
      // Time stands still while writes are booked (as when several workers ask at once).
      const clock = { ms: 0, sleeps: [] as number[], maxWaitMs: 250, now: () => clock.ms, sleep: async (ms: number) => void clock.sleeps.push(ms) };
      const pacer = new WritePacer(20, clock); // burst 5, then one per 50 ms
      const outcomes: (number | 'deferred')[] = [];
      for (let i = 0; i < 12; i++) {
        const before = clock.sleeps.length;
        outcomes.push(await pacer.pace().then(() => clock.sleeps[before] ?? 0, () => 'deferred'));
      }
      // 5 at once, then 50..250 ms of waiting (slept), then everything further off is put back.
      expect(outcomes).toEqual([0, 0, 0, 0, 0, 50, 100, 150, 200, 250, 'deferred', 'deferred']);
      // Put-back writes booked nothing: at 300 ms the next write goes at once (had the two
      // put back booked their turns, it would wait 100 ms behind them).
      clock.ms = 300;
      const slept = clock.sleeps.length;
      await pacer.pace();
      expect(clock.sleeps.length).toBe(slept);
    });
  });
});
