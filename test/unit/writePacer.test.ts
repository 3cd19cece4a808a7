import { WritePacer } from '../../src/directory/writePacer';

/** Virtual time: sleeping moves the clock, and every sleep is recorded. */
function virtualClock() {
  const clock = { ms: 0, sleeps: [] as number[], now: () => clock.ms, sleep: async (ms: number) => void (clock.sleeps.push(ms), (clock.ms += ms)) };
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
    const clock = { ms: 0, now: () => clock.ms, sleep: async (ms: number) => {
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
});
