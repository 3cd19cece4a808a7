// Per-person limits (issue 13, point 8): the LIMIT_* settings, the words a refused person
// reads, who "a person" is, and PerMinuteLimit's window on the injected clock and its
// behaviour when the shared counter fails.
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { PerMinuteLimit, personOf } from '../../src/bot/limits';
import { tooManyActivitiesText, tooManyOpenRequestsCard, tooManyRequestsCard, waitWords } from '../../src/bot/limitViews';
import { loadConfig } from '../../src/config';
import { ensureRateLimitIndexes, memoryRateLimitCounters, type RateLimitCounters } from '../../src/store/rateLimitCounters';
import { FakeClock } from '../support/fakeClock';
import { memoryLogger, silentLogger } from '../support/silentLogger';

describe('LIMIT_* settings', () => {
  it('default to generous limits: 20 requests and 300 messages or card actions a minute, 100 open requests', () => {
    expect(loadConfig({}, '/srv/bot').limits).toEqual({ requestsPerMinute: 20, activitiesPerMinute: 300, openRequests: 100 });
  });

  it('read each limit, 0 included (no limit)', () => {
    const config = loadConfig({ LIMIT_REQUESTS_PER_MINUTE: '5', LIMIT_ACTIVITIES_PER_MINUTE: ' 0 ', LIMIT_OPEN_REQUESTS: '1000000' }, '/srv/bot');
    expect(config.limits).toEqual({ requestsPerMinute: 5, activitiesPerMinute: 0, openRequests: 1_000_000 });
  });

  it.each([
    ['LIMIT_REQUESTS_PER_MINUTE', '-1'],
    ['LIMIT_ACTIVITIES_PER_MINUTE', '2.5'],
    ['LIMIT_OPEN_REQUESTS', 'lots'],
    ['LIMIT_OPEN_REQUESTS', '1000001'],
  ])('refuse %s=%s with one line naming the setting and what it takes', (name, value) => {
    expect(() => loadConfig({ [name]: value }, '/srv/bot')).toThrow(`Configuration error: ${name} must be a whole number from 0 (no limit) to 1000000 (got "${value}")`);
  });
});

describe('what a refused person reads', () => {
  it('says how long to wait in whole seconds, rounded up', () => {
    expect(waitWords(40_000)).toBe('40 seconds');
    expect(waitWords(39_001)).toBe('40 seconds');
    expect(waitWords(1)).toBe('1 second');
    expect(waitWords(0)).toBe('1 second');
    expect(waitWords(60_000)).toBe('1 minute');
  });

  it('says what happened and when to try again', () => {
    expect(tooManyRequestsCard(40_000).message).toBe("You've sent a lot of requests in the last minute. Try again in 40 seconds.");
    expect(tooManyActivitiesText('message', 12_500)).toBe("You've sent me a lot of messages in the last minute. Try again in 13 seconds.");
    expect(tooManyActivitiesText('action', 1_000)).toBe("You've pressed a lot of buttons in the last minute. Try again in 1 second.");
  });

  it('for open requests: how many are open, and that cancelling or decisions free room', () => {
    const card = tooManyOpenRequestsCard(100, 100);
    expect(card.message).toContain('You have 100 open requests');
    expect(card.message).toContain('Cancel the ones you no longer need in my requests, or wait until approvers decide on some');
    expect(card.buttons).toEqual([{ id: '', title: 'My requests', verb: 'myRequests' }]);
  });
});

describe('personOf', () => {
  it('is the Entra object id, else the channel account id', () => {
    expect(personOf({ from: { id: '29:abc', name: 'Fred', aadObjectId: 'u-fred' } })).toBe('u-fred');
    expect(personOf({ from: { id: '29:abc', name: 'Fred' } })).toBe('29:abc');
    expect(personOf({})).toBe('(unknown)');
  });

});

describe('PerMinuteLimit', () => {
  it('allows perMinute takes per person in a minute of the clock and says when the minute ends', async () => {
    const clock = new FakeClock('2026-11-22T09:00:00Z');
    const limit = new PerMinuteLimit('requests', 3, memoryRateLimitCounters(), clock, silentLogger);
    for (let i = 0; i < 3; i++) expect((await limit.take('u-fred')).allowed).toBe(true);
    clock.advance(20_000);
    expect(await limit.take('u-fred')).toEqual({ allowed: false, retryAfterMs: 40_000, first: true });
    expect(await limit.take('u-fred')).toEqual({ allowed: false, retryAfterMs: 40_000, first: false });
    // Someone else has their own count.
    expect((await limit.take('u-lola')).allowed).toBe(true);
    clock.advance(39_999);
    expect(await limit.take('u-fred')).toMatchObject({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect((await limit.take('u-fred')).allowed).toBe(true);
  });

  it('gives a refunded take back to the same minute', async () => {
    const clock = new FakeClock('2026-11-22T09:00:00Z');
    const limit = new PerMinuteLimit('requests', 2, memoryRateLimitCounters(), clock, silentLogger);
    for (let i = 0; i < 5; i++) {
      const take = await limit.take('u-fred');
      expect(take.allowed).toBe(true);
      if (take.allowed) await take.refund();
    }
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect((await limit.take('u-fred')).allowed).toBe(false);
  });

  it('counts a long id under a short hashed key, so a crafted one makes no huge key', async () => {
    const keys: string[] = [];
    const memory = memoryRateLimitCounters();
    const counters: RateLimitCounters = {
      ...memory,
      create: (options) => {
        const limiter = memory.create(options);
        const consume = limiter.consume.bind(limiter);
        limiter.consume = (key, points) => (keys.push(String(key)), consume(key, points));
        return limiter;
      },
    };
    const limit = new PerMinuteLimit('activities', 1, counters, new FakeClock('2026-11-22T09:00:00Z'), silentLogger);
    const long = 'x'.repeat(100_000);
    expect((await limit.take(long)).allowed).toBe(true);
    expect((await limit.take(long)).allowed).toBe(false);
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect(keys[0]).toMatch(/^sha256:[0-9a-f]{64}@1795338000000$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).toBe('u-fred@1795338000000');
  });

  it('with 0 allows everything and counts nothing', async () => {
    const counters: RateLimitCounters = { shared: false, ready: () => Promise.resolve(), create: () => { throw new Error('not used when the limit is off'); } };
    const limit = new PerMinuteLimit('requests', 0, counters, new FakeClock(), silentLogger);
    expect(limit.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect((await limit.take('u-fred')).allowed).toBe(true);
  });

  it('when the shared counter fails, counts in this instance with one warning instead of failing the turn', async () => {
    const failing = { consume: () => Promise.reject(new Error('connection refused')), reward: () => Promise.reject(new Error('connection refused')) } as unknown as RateLimiterAbstract;
    const counters: RateLimitCounters = { shared: true, ready: () => Promise.resolve(), create: () => failing };
    const { logger, lines } = memoryLogger();
    const limit = new PerMinuteLimit('activities', 2, counters, new FakeClock(), logger);
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect(await limit.take('u-fred')).toMatchObject({ allowed: false, first: true });
    const warnings = lines().filter((l) => l.msg === 'per-person limit counted in this instance only: the shared counter in MongoDB failed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, limit: 'activities' });
  });

  it('when the shared counter does not answer, gives up on it after 2 s and counts here for a while', async () => {
    const hanging = { consume: () => new Promise(() => undefined) } as unknown as RateLimiterAbstract;
    const counters: RateLimitCounters = { shared: true, ready: () => Promise.resolve(), create: () => hanging };
    const limit = new PerMinuteLimit('activities', 2, counters, new FakeClock(), silentLogger);
    const started = Date.now();
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    const next = Date.now();
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect((await limit.take('u-fred')).allowed).toBe(false);
    expect(Date.now() - next).toBeLessThan(500);
  });

  it('when the shared counter can not get ready (indexes), falls back too', async () => {
    const counters: RateLimitCounters = {
      shared: true,
      ready: () => Promise.reject(new Error('not primary')),
      create: (options) => new RateLimiterMemory({ keyPrefix: options.name, points: options.points, duration: options.durationSec }),
    };
    const limit = new PerMinuteLimit('activities', 1, counters, new FakeClock(), silentLogger);
    expect((await limit.take('u-fred')).allowed).toBe(true);
    expect((await limit.take('u-fred')).allowed).toBe(false);
  });
});

describe('ensureRateLimitIndexes (MongoDB counters)', () => {
  function target(refuse: (keys: Record<string, unknown>) => Error | undefined) {
    const created: [Record<string, unknown>, Record<string, unknown>][] = [];
    return {
      created,
      createIndex: async (keys: unknown, options: unknown) => {
        const error = refuse(keys as Record<string, unknown>);
        if (error) throw error;
        created.push([keys as Record<string, unknown>, options as Record<string, unknown>]);
        return 'name';
      },
    };
  }

  it('on MongoDB: the unique key index and the TTL index on expire, as rate-limiter-flexible documents them', async () => {
    const mongo = target(() => undefined);
    await ensureRateLimitIndexes(mongo);
    expect(mongo.created).toEqual([[{ key: 1 }, { unique: true }], [{ expire: -1 }, { expireAfterSeconds: 0 }]]);
  });

  it('on Azure Cosmos DB for MongoDB (RU), where a TTL index must be on _ts: expires windows two minutes after their last update', async () => {
    const cosmos = target((keys) => ('expire' in keys ? new Error("The expireAfterSeconds option is supported on '_ts' field only.") : undefined));
    const { logger, lines } = memoryLogger();
    await ensureRateLimitIndexes(cosmos, logger);
    expect(cosmos.created).toEqual([[{ key: 1 }, { unique: true }], [{ _ts: 1 }, { expireAfterSeconds: 120 }]]);
    expect(lines().map((l) => l.msg)).toEqual(['per-person limit windows expire through a TTL index on _ts (Azure Cosmos DB for MongoDB)']);
  });

  it('without any TTL index counting still works (with a warning); without the unique key index it does not', async () => {
    const noTtl = target((keys) => ('key' in keys ? undefined : new Error('TTL not supported')));
    const { logger, lines } = memoryLogger();
    await ensureRateLimitIndexes(noTtl, logger);
    expect(lines().map((l) => [l.level, l.msg])).toEqual([[40, 'no TTL index for per-person limit windows: finished windows are not removed automatically']]);
    await expect(ensureRateLimitIndexes(target((keys) => ('key' in keys ? new Error('not primary') : undefined)))).rejects.toThrow('not primary');
  });
});
