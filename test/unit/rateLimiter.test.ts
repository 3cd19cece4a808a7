import { burstFor, RateLimiter } from '../../src/rateLimiter';

/** Drives a limiter in virtual time: each call waits what it was told, then "happens". */
function simulate(limiter: RateLimiter, clock: { t: number }, keys: string[]): number[] {
  return keys.map((key) => {
    clock.t += limiter.reserve(key);
    return clock.t;
  });
}

function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0; i < times.length; i++) {
    let n = 0;
    for (let j = i; j < times.length && times[j]! < times[i]! + windowMs; j++) n++;
    best = Math.max(best, n);
  }
  return best;
}

describe('RateLimiter (token buckets, clock injected)', () => {
  it('lets a burst through at once, then spaces calls at the sustained rate', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 100, burst: 100 }, perKey: { ratePerSecond: 2, burst: 3 } }, () => clock.t);
    expect(simulate(limiter, clock, ['a', 'a', 'a', 'a', 'a'])).toEqual([0, 0, 0, 500, 1000]);
  });

  it('keeps separate conversations independent of each other', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 100, burst: 100 }, perKey: { ratePerSecond: 1, burst: 1 } }, () => clock.t);
    expect(simulate(limiter, clock, ['a', 'b', 'a', 'c', 'b'])).toEqual([0, 0, 1000, 1000, 1000]);
  });

  it('the global bucket paces calls across all conversations', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 10, burst: 2 }, perKey: { ratePerSecond: 100, burst: 100 } }, () => clock.t);
    const times = simulate(limiter, clock, ['a', 'b', 'c', 'd', 'e']);
    expect(times).toEqual([0, 0, 100, 200, 300]);
  });

  it('reservations made before anyone waits are already spaced out', () => {
    const limiter = new RateLimiter({ global: { ratePerSecond: 5, burst: 1 }, perKey: { ratePerSecond: 100, burst: 100 } }, () => 0);
    expect([limiter.reserve('a'), limiter.reserve('b'), limiter.reserve('c')]).toEqual([0, 200, 400]);
  });

  it('refills while idle, but never beyond the burst', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 100, burst: 100 }, perKey: { ratePerSecond: 1, burst: 2 } }, () => clock.t);
    simulate(limiter, clock, ['a', 'a']);
    clock.t += 60_000; // a long idle spell refills to 2, not 60
    expect(simulate(limiter, clock, ['a', 'a', 'a']).map((t) => t - 60_000)).toEqual([0, 0, 1000]);
  });

  it('with the defaults (20/s global, 1/s per conversation) a flood stays inside Teams\' limits', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter(
      { global: { ratePerSecond: 20, burst: burstFor(20) }, perKey: { ratePerSecond: 1, burst: burstFor(1) } },
      () => clock.t,
    );
    // 120 cards to one approver, interleaved with 600 cards to 600 other people.
    const keys: string[] = [];
    for (let i = 0; i < 600; i++) keys.push(`user-${i}`, ...(i % 5 === 0 ? ['approver'] : []));
    const times = simulate(limiter, clock, keys);
    const approver = times.filter((_, i) => keys[i] === 'approver');
    // Per conversation: 7 in 1 s, 8 in 2 s, 60 in 30 s. Per app and tenant: 30 a second.
    expect(maxInWindow(approver, 1000)).toBeLessThanOrEqual(7);
    expect(maxInWindow(approver, 2000)).toBeLessThanOrEqual(8);
    expect(maxInWindow(approver, 30_000)).toBeLessThanOrEqual(60);
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(30);
  });

  it('forgets idle conversations so memory stays bounded', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 1000, burst: 1000 }, perKey: { ratePerSecond: 1, burst: 1 }, maxKeys: 10 }, () => clock.t);
    for (let i = 0; i < 10; i++) limiter.reserve(`k${i}`);
    clock.t += 5_000;
    limiter.reserve('fresh');
    expect(limiter.trackedKeys).toBe(1);
  });

  it('refuses rates and bursts that make no sense', () => {
    expect(() => new RateLimiter({ global: { ratePerSecond: 0, burst: 1 }, perKey: { ratePerSecond: 1, burst: 1 } }, () => 0)).toThrow(RangeError);
    expect(() => new RateLimiter({ global: { ratePerSecond: 1, burst: 0 }, perKey: { ratePerSecond: 1, burst: 1 } }, () => 0)).toThrow(RangeError);
  });

  it('burstFor keeps bursts small: the busiest second is at most 1.25× the rate', () => {
    expect(burstFor(1)).toBe(1);
    expect(burstFor(7)).toBe(1);
    expect(burstFor(20)).toBe(5);
  });
});

describe('RateLimiter.book (a caller holding a worker: a short wait, or come back later)', () => {
  it('books a call that may go within the wait; books nothing for one further off in the shared bucket', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 10, burst: 1 }, perKey: { ratePerSecond: 100, burst: 100 } }, () => clock.t);
    expect(limiter.book('a', 250)).toEqual({ go: true, waitMs: 0 });
    expect(limiter.book('b', 250)).toEqual({ go: true, waitMs: 100 });
    expect(limiter.book('c', 250)).toEqual({ go: true, waitMs: 200 });
    // d would wait 300 ms: come back in 50, when it could go within the 250 ms wait.
    expect(limiter.book('d', 250)).toEqual({ go: false, laterMs: 50, turnBooked: false });
    // Nothing was booked for d: the next caller is told the same.
    expect(limiter.book('e', 250)).toEqual({ go: false, laterMs: 50, turnBooked: false });
  });

  it('a busy conversation books one turn per caller, one interval apart; a caller back for its turn asks only the shared bucket', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 100, burst: 100 }, perKey: { ratePerSecond: 1, burst: 1 } }, () => clock.t);
    expect(limiter.book('chat', 250)).toEqual({ go: true, waitMs: 0 });
    expect(limiter.book('chat', 250)).toEqual({ go: false, laterMs: 1000, turnBooked: true });
    expect(limiter.book('chat', 250)).toEqual({ go: false, laterMs: 2000, turnBooked: true });
    clock.t = 1000;
    expect(limiter.book('chat', 250, true)).toEqual({ go: true, waitMs: 0 }); // the first turn
    expect(limiter.book('other', 250)).toEqual({ go: true, waitMs: 0 }); // other chats are not held back
  });

  it('a low-priority caller books the shared bucket only while it is nearly free, so an urgent one always finds room', () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter({ global: { ratePerSecond: 20, burst: 1 }, perKey: { ratePerSecond: 100, burst: 100 } }, () => clock.t);
    const bulk = (key: string) => limiter.book(key, 250, false, 50);
    expect(bulk('w1')).toEqual({ go: true, waitMs: 0 });
    expect(bulk('w2')).toEqual({ go: true, waitMs: 50 });
    expect(bulk('w3')).toMatchObject({ go: false, turnBooked: false }); // would queue 100 ms ahead
    expect(bulk('w4')).toMatchObject({ go: false });
    expect(limiter.book('approver', 250)).toEqual({ go: true, waitMs: 100 });
  });
});
