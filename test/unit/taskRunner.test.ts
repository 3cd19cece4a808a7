import type { Task } from '../../src/domain/model';
import { Scheduler } from '../../src/scheduler/scheduler';
import { TaskRunner, type TaskOutcome } from '../../src/scheduler/taskRunner';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { TaskRepository } from '../../src/store/repositories/tasks';
import { FakeClock } from '../support/fakeClock';
import { memoryLogger, silentLogger } from '../support/silentLogger';

describe('task queue and runner', () => {
  let store: DocumentStore;
  let clock: FakeClock;
  let tasks: TaskRepository;

  beforeEach(async () => {
    store = await openEmbeddedStore({});
    clock = new FakeClock();
    tasks = new TaskRepository(store, () => clock.now());
    await tasks.init();
  });

  afterEach(() => store.close());

  function runner(workerId: string, leaseMs = 60_000) {
    return new TaskRunner(tasks, () => clock.now(), silentLogger, { leaseMs, maxPerTick: 100, workerId });
  }

  it('runs due tasks oldest first, once each, and leaves future ones', async () => {
    const seen: string[] = [];
    const r = runner('w1').register('demo', async (task) => {
      seen.push(String(task.payload.n));
      return { status: 'done' };
    });
    await tasks.enqueue({ type: 'demo', payload: { n: 2 }, dueAt: new Date(clock.now().getTime() - 1000) });
    await tasks.enqueue({ type: 'demo', payload: { n: 1 }, dueAt: new Date(clock.now().getTime() - 5000) });
    await tasks.enqueue({ type: 'demo', payload: { n: 3 }, dueAt: new Date(clock.now().getTime() + 60_000) });
    await r.run();
    expect(seen).toEqual(['1', '2']);
    await r.run();
    expect(seen).toEqual(['1', '2']);
    clock.advance(60_000);
    await r.run();
    expect(seen).toEqual(['1', '2', '3']);
    expect(await tasks.countByState('done')).toBe(3);
  });

  it('enqueue with a dedupe key creates the task once', async () => {
    expect(await tasks.enqueue({ type: 'demo', payload: {}, dedupeKey: 'warn:a1:P1D' })).not.toBeNull();
    expect(await tasks.enqueue({ type: 'demo', payload: {}, dedupeKey: 'warn:a1:P1D' })).toBeNull();
    expect(await tasks.countByState('pending')).toBe(1);
  });

  it('a retry outcome reschedules the task with its error, a failure parks it', async () => {
    const outcomes: TaskOutcome[] = [
      { status: 'retry', at: new Date(clock.now().getTime() + 30_000), error: 'throttled' },
      { status: 'failed', error: 'gave up' },
    ];
    const attempts: number[] = [];
    const r = runner('w1').register('flaky', async (task: Task) => {
      attempts.push(task.attempts);
      return outcomes.shift()!;
    });
    const task = (await tasks.enqueue({ type: 'flaky', payload: {} }))!;
    await r.run();
    expect(await tasks.get(task.id)).toMatchObject({ state: 'pending', lastError: 'throttled', attempts: 1 });
    await r.run();
    expect(attempts).toEqual([1]);
    clock.advance(30_000);
    await r.run();
    expect(attempts).toEqual([1, 2]);
    expect(await tasks.get(task.id)).toMatchObject({ state: 'failed', lastError: 'gave up' });
  });

  it('a handler that throws is retried a minute later', async () => {
    const r = runner('w1').register('boom', async () => {
      throw new Error('kaboom');
    });
    const task = (await tasks.enqueue({ type: 'boom', payload: {} }))!;
    await r.run();
    const after = await tasks.get(task.id);
    expect(after).toMatchObject({ state: 'pending', lastError: 'kaboom' });
    expect(after!.dueAt.getTime()).toBe(clock.now().getTime() + 60_000);
  });

  it('a leased task is invisible to other workers until the lease runs out', async () => {
    const task = (await tasks.enqueue({ type: 'demo', payload: {} }))!;
    const claimed = await tasks.claimDue('w1', 60_000);
    expect(claimed?.id).toBe(task.id);
    expect(await tasks.claimDue('w2', 60_000)).toBeNull();
    clock.advance(60_001);
    const reclaimed = await tasks.claimDue('w2', 60_000);
    expect(reclaimed).toMatchObject({ id: task.id, leaseOwner: 'w2', attempts: 2 });
    // The first worker lost its lease: it can no longer record an outcome.
    expect(await tasks.complete(task.id, 'w1')).toBe(false);
    expect(await tasks.complete(task.id, 'w2')).toBe(true);
  });

  it('two runners on one store never run the same task twice', async () => {
    const runs = new Map<string, number>();
    const handler = async (task: Task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await new Promise((resolve) => setImmediate(resolve));
      return { status: 'done' } as const;
    };
    for (let i = 0; i < 40; i++) await tasks.enqueue({ type: 'demo', payload: { i } });
    await Promise.all([runner('a').register('demo', handler).run(), runner('b').register('demo', handler).run()]);
    expect(runs.size).toBe(40);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
  });

  it('a runner only claims task types it has a handler for', async () => {
    await tasks.enqueue({ type: 'other', payload: {} });
    const r = runner('w1').register('demo', async () => ({ status: 'done' }));
    await r.run();
    expect(await tasks.countByState('pending')).toBe(1);
  });

  it('refuses two handlers for one type', () => {
    const r = runner('w1').register('demo', async () => ({ status: 'done' }));
    expect(() => r.register('demo', async () => ({ status: 'done' }))).toThrow(/already registered/);
  });
});

describe('Scheduler', () => {
  it('keeps ticking after a job fails, and logs the failure', async () => {
    const { logger, lines } = memoryLogger();
    let good = 0;
    const scheduler = new Scheduler(
      [
        { name: 'broken', run: async () => Promise.reject(new Error('nope')) },
        { name: 'good', run: async () => void good++ },
      ],
      1000,
      logger,
    );
    await scheduler.tick();
    await scheduler.tick();
    expect(good).toBe(2);
    expect(lines().filter((l) => l.job === 'broken' && l.level === 50)).toHaveLength(2);
  });

  it('a nudge runs a tick at once instead of at the next interval; nudges while stopped do nothing', async () => {
    jest.useFakeTimers();
    try {
      let ticks = 0;
      const scheduler = new Scheduler([{ name: 'count', run: async () => void ticks++ }], 60_000, silentLogger);
      scheduler.nudge();
      await jest.advanceTimersByTimeAsync(10);
      expect(ticks).toBe(0);
      scheduler.start();
      await jest.advanceTimersByTimeAsync(0);
      expect(ticks).toBe(1);
      scheduler.nudge();
      scheduler.nudge();
      await jest.advanceTimersByTimeAsync(0);
      expect(ticks).toBe(2);
      await jest.advanceTimersByTimeAsync(59_999);
      expect(ticks).toBe(2);
      await jest.advanceTimersByTimeAsync(1);
      expect(ticks).toBe(3);
      await scheduler.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('runs on its interval once started and stops cleanly', async () => {
    jest.useFakeTimers();
    try {
      let ticks = 0;
      const scheduler = new Scheduler([{ name: 'count', run: async () => void ticks++ }], 100, silentLogger);
      scheduler.start();
      await jest.advanceTimersByTimeAsync(0);
      expect(ticks).toBe(1);
      await jest.advanceTimersByTimeAsync(250);
      expect(ticks).toBe(3);
      await scheduler.stop();
      await jest.advanceTimersByTimeAsync(1000);
      expect(ticks).toBe(3);
    } finally {
      jest.useRealTimers();
    }
  });
});
