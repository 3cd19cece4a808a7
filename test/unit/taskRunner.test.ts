import { systemClock } from '../../src/clock';
import type { Directory } from '../../src/directory/port';
import type { Assignment, Task } from '../../src/domain/model';
import { DELIVERY_TASKS, NOTIFY_TASKS, routeTask, WORKFLOW_TASKS } from '../../src/domain/taskTypes';
import { PacingDeferral } from '../../src/rateLimiter';
import { Scheduler } from '../../src/scheduler/scheduler';
import { TaskRunner, type TaskOutcome } from '../../src/scheduler/taskRunner';
import { grantKey } from '../../src/store/repositories/grants';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { TaskRepository } from '../../src/store/repositories/tasks';
import { FakeClock } from '../support/fakeClock';
import { memoryLogger, silentLogger } from '../support/silentLogger';
import { startTestApp } from '../support/testApp';

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

/** A promise the test resolves when it wants (a handler "still running"). */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lanes: access work never waits behind messages', () => {
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

  const runner = (options: Partial<ConstructorParameters<typeof TaskRunner>[3]> = {}) =>
    new TaskRunner(tasks, () => clock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 1_000, workerId: 'w1', ...options });

  it('maps every task type to a lane in one place: removals first, messages and digests apart', () => {
    expect(routeTask(DELIVERY_TASKS.revoke, {})).toMatchObject({ lane: 'access', priority: 0 });
    expect(routeTask(WORKFLOW_TASKS.remove, {})).toMatchObject({ lane: 'access', priority: 0 });
    expect(routeTask(DELIVERY_TASKS.grant, {})).toMatchObject({ lane: 'access', priority: 1 });
    expect(routeTask(WORKFLOW_TASKS.deliver, {})).toMatchObject({ lane: 'access', priority: 1 });
    expect(routeTask(WORKFLOW_TASKS.startApproval, { requestId: 'R1' })).toEqual({ lane: 'approvals', priority: 1, serialKey: 'request:R1' });
    expect(routeTask(NOTIFY_TASKS.send, { userId: 'u', card: { template: 'approvalRequest', data: {} }, trackAs: 'c1' })).toEqual({ lane: 'messages', priority: 0, serialKey: 'card:c1' });
    expect(routeTask(NOTIFY_TASKS.send, { userId: 'u', card: { template: 'notice', data: {} } })).toEqual({ lane: 'messages', priority: 1 });
    expect(routeTask(NOTIFY_TASKS.send, { userId: 'u', card: { template: 'expiryWarning', data: {} } })).toEqual({ lane: 'messages', priority: 2 });
    expect(routeTask('admin.digest', {})).toMatchObject({ lane: 'housekeeping' });
    expect(routeTask(DELIVERY_TASKS.grant, { assignmentId: 'A', index: 0, userId: 'u1' }).serialKey).toBe('user:u1');
  });

  it('a removal runs while every message worker is busy (a flood of slow sends)', async () => {
    const messages = gate();
    let sendsRunning = 0;
    const removed: string[] = [];
    const r = runner({ concurrency: { messages: 2 } })
      .register(NOTIFY_TASKS.send, async () => {
        sendsRunning++;
        await messages.opened;
        return { status: 'done' };
      })
      .register(DELIVERY_TASKS.revoke, async (task) => {
        removed.push(String(task.payload.assignmentId));
        return { status: 'done' };
      });
    for (let i = 0; i < 50; i++) await tasks.enqueue({ type: NOTIFY_TASKS.send, payload: { userId: `u${i}`, card: { template: 'notice', data: {} } } });
    clock.advance(1);
    await tasks.enqueue({ type: DELIVERY_TASKS.revoke, payload: { assignmentId: 'A1', index: 0, userId: 'u-g' } });
    const running = r.run();
    for (let i = 0; i < 100 && removed.length === 0; i++) await sleep(5);
    expect(removed).toEqual(['A1']);
    expect(sendsRunning).toBe(2); // the messages lane is full, and no wider than its concurrency
    messages.open();
    await running;
    expect(await tasks.countByState('done')).toBe(51);
  });

  it('runs up to the lane\'s concurrency at once, and removals before grants', async () => {
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    const handler = async (task: Task) => {
      order.push(task.type);
      running++;
      peak = Math.max(peak, running);
      await sleep(10);
      running--;
      return { status: 'done' } as const;
    };
    const r = runner({ concurrency: { access: 3 } }).register(DELIVERY_TASKS.grant, handler).register(DELIVERY_TASKS.revoke, handler);
    for (let i = 0; i < 9; i++) await tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: `G${i}`, index: 0, userId: `u${i}` } });
    clock.advance(1);
    for (let i = 0; i < 3; i++) await tasks.enqueue({ type: DELIVERY_TASKS.revoke, payload: { assignmentId: `R${i}`, index: 0, userId: `v${i}` } });
    await r.run();
    expect(peak).toBe(3);
    // Queued last, run first: the first three claimed are the removals.
    expect(order.slice(0, 3)).toEqual([DELIVERY_TASKS.revoke, DELIVERY_TASKS.revoke, DELIVERY_TASKS.revoke]);
    expect(await tasks.countByState('done')).toBe(12);
  });

  it('tasks with one serialKey never run at the same time, on two runners; other keys do', async () => {
    const runningByKey = new Map<string, number>();
    let overlap = 0;
    let concurrentKeys = 0;
    const handler = async (task: Task) => {
      const key = String(task.payload.userId);
      runningByKey.set(key, (runningByKey.get(key) ?? 0) + 1);
      if (runningByKey.get(key)! > 1) overlap++;
      concurrentKeys = Math.max(concurrentKeys, [...runningByKey.values()].filter((n) => n > 0).length);
      await sleep(5);
      runningByKey.set(key, runningByKey.get(key)! - 1);
      return { status: 'done' } as const;
    };
    const make = (id: string) => runner({ workerId: id, concurrency: { access: 4 } }).register(DELIVERY_TASKS.grant, handler).register(DELIVERY_TASKS.revoke, handler);
    for (let i = 0; i < 12; i++) {
      await tasks.enqueue({ type: i % 2 ? DELIVERY_TASKS.grant : DELIVERY_TASKS.revoke, payload: { assignmentId: `A${i}`, index: 0, userId: 'u-same' } });
      await tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: `B${i}`, index: 0, userId: `u-${i}` } });
    }
    await Promise.all([make('a').run(), make('b').run()]);
    expect(overlap).toBe(0);
    expect(concurrentKeys).toBeGreaterThan(1);
    expect(await tasks.countByState('done')).toBe(24);
    expect(await store.collection('taskLocks').count({})).toBe(0); // every key freed
  });

  it('a deferred task (pacing) comes back at the time named without using an attempt; a retry uses one', async () => {
    const seen: number[] = [];
    const outcomes: (() => Promise<TaskOutcome>)[] = [
      async () => Promise.reject(new PacingDeferral(2_000, 'paced within Graph\'s write quota')),
      async () => ({ status: 'defer', at: new Date(clock.now().getTime() + 500), reason: 'its turn in the chat' }),
      async () => ({ status: 'retry', at: clock.now(), error: 'throttled (429)' }),
      async () => ({ status: 'done' }),
    ];
    const r = runner().register(DELIVERY_TASKS.grant, async (task) => {
      seen.push(task.attempts);
      return outcomes.shift()!();
    });
    const task = (await tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: 'A', index: 0 } }))!;
    await r.run();
    let stored = await tasks.get(task.id);
    expect(stored).toMatchObject({ state: 'pending', attempts: 0 });
    expect(stored!.lastError).toBeUndefined();
    expect(stored!.dueAt.getTime()).toBe(clock.now().getTime() + 2_000);
    await r.run();
    expect(seen).toEqual([1]); // not due yet
    clock.advance(2_000);
    await r.run();
    stored = await tasks.get(task.id);
    expect(stored).toMatchObject({ state: 'pending', attempts: 0 });
    clock.advance(500);
    await r.run(); // the retry (counted) and, due at once, the success
    expect(seen).toEqual([1, 1, 1, 2]);
    expect(await tasks.get(task.id)).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('work one lane queues for another runs in the same run (a tick still settles a whole flow)', async () => {
    const r = runner()
      .register(WORKFLOW_TASKS.startApproval, async () => {
        await tasks.enqueue({ type: NOTIFY_TASKS.send, payload: { userId: 'approver', card: { template: 'approvalRequest', data: {} } } });
        return { status: 'done' };
      })
      .register(NOTIFY_TASKS.send, async () => ({ status: 'done' }));
    await tasks.enqueue({ type: WORKFLOW_TASKS.startApproval, payload: { requestId: 'R1' } });
    await r.run();
    expect(await tasks.countByState('done')).toBe(2);
  });

  it('once started, a lane runs work as soon as it is queued, and a deferral when it falls due, not a poll later', async () => {
    const real = new TaskRepository(store, () => systemClock.now());
    await real.init();
    const ran: string[] = [];
    const r = new TaskRunner(real, () => systemClock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 100, workerId: 'live', pollMs: 60_000 })
      .register(DELIVERY_TASKS.revoke, async (task) => {
        ran.push(`${String(task.payload.assignmentId)}#${ran.length}`);
        return ran.length === 1 ? { status: 'defer', at: new Date(Date.now() + 200), reason: 'paced' } : { status: 'done' };
      });
    r.start();
    try {
      await sleep(50); // the lanes looked, found nothing, and sleep for a minute
      const queuedAt = Date.now();
      await real.enqueue({ type: DELIVERY_TASKS.revoke, payload: { assignmentId: 'A', index: 0 } });
      for (let i = 0; i < 200 && ran.length < 2; i++) await sleep(10);
      expect(ran).toEqual(['A#0', 'A#1']);
      expect(Date.now() - queuedAt).toBeLessThan(1_500);
    } finally {
      await r.stop();
    }
  });
});

describe('upgrade: tasks queued by a version without lanes', () => {
  it('are given their lane at start-up, and by a running instance (a rolling upgrade)', async () => {
    const store = await openEmbeddedStore({});
    try {
      const raw = store.collection<{ _id: string; type: string; payload: Record<string, unknown>; state: string; dueAt: Date; attempts: number; createdAt: Date; updatedAt: Date }>('tasks');
      const old = (id: string, type: string, payload: Record<string, unknown>) =>
        raw.insert({ _id: id, type, payload, state: 'pending', dueAt: new Date(), attempts: 0, createdAt: new Date(), updatedAt: new Date() });
      await old('before', DELIVERY_TASKS.revoke, { assignmentId: 'A1', index: 0 });
      const tasks = new TaskRepository(store, () => systemClock.now());
      await tasks.init();
      expect(await tasks.get('before')).toMatchObject({ lane: 'access', priority: 0, serialKey: 'assignment:A1' });
      const ran: string[] = [];
      const r = new TaskRunner(tasks, () => systemClock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 10, workerId: 'new', pollMs: 100, adoptEveryMs: 200 }).register(DELIVERY_TASKS.revoke, async (task) => {
        ran.push(task.id);
        return { status: 'done' };
      });
      r.start();
      try {
        for (let i = 0; i < 100 && ran.length < 1; i++) await sleep(10);
        // An instance of the old version queues one more while this one runs: adopted at the
        // next look (here within 200 ms; a minute in production).
        await old('during', DELIVERY_TASKS.revoke, { assignmentId: 'A2', index: 0 });
        for (let i = 0; i < 200 && ran.length < 2; i++) await sleep(10);
      } finally {
        await r.stop();
      }
      expect(ran).toEqual(['before', 'during']);
    } finally {
      await store.close();
    }
  });
});

describe('leases follow the work (heartbeat)', () => {
  let store: DocumentStore;
  let tasks: TaskRepository;

  beforeEach(async () => {
    store = await openEmbeddedStore({});
    tasks = new TaskRepository(store, () => systemClock.now());
    await tasks.init();
  });

  afterEach(() => store.close());

  it('a running task keeps its short lease: no other worker takes it while it runs', async () => {
    const busy = gate();
    const runs: string[] = [];
    const a = new TaskRunner(tasks, () => systemClock.now(), silentLogger, { leaseMs: 300, maxPerTick: 10, workerId: 'a' }).register(DELIVERY_TASKS.grant, async () => {
      runs.push('a');
      await busy.opened;
      return { status: 'done' };
    });
    const b = new TaskRunner(tasks, () => systemClock.now(), silentLogger, { leaseMs: 300, maxPerTick: 10, workerId: 'b' }).register(DELIVERY_TASKS.grant, async () => {
      runs.push('b');
      return { status: 'done' };
    });
    const task = (await tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: 'A', index: 0, userId: 'u' } }))!;
    const running = a.run();
    for (let i = 0; i < 10; i++) {
      await sleep(100); // three leases long, in all
      await b.run();
    }
    busy.open();
    await running;
    expect(runs).toEqual(['a']);
    expect(await tasks.get(task.id)).toMatchObject({ state: 'done', leaseOwner: 'a' });
  });

  it('a dead worker\'s task (and its key) is taken over once the lease runs out, and the dead one can\'t record over the new owner', async () => {
    const task = (await tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: 'A', index: 0, userId: 'u' } }))!;
    // "dead" claims it (lease and key lock) and never renews: its process died.
    const [claimed] = await tasks.claimBatch('dead', 300, 1);
    expect(claimed?.id).toBe(task.id);
    const runs: string[] = [];
    const b = new TaskRunner(tasks, () => systemClock.now(), silentLogger, { leaseMs: 300, maxPerTick: 10, workerId: 'b' }).register(DELIVERY_TASKS.grant, async () => {
      runs.push('b');
      return { status: 'done' };
    });
    await b.run();
    expect(runs).toEqual([]); // still leased
    const diedAt = Date.now();
    while (runs.length === 0 && Date.now() - diedAt < 3_000) {
      await sleep(50);
      await b.run();
    }
    expect(runs).toEqual(['b']);
    expect(Date.now() - diedAt).toBeLessThan(900); // within about a lease (300 ms) of polling
    expect(await tasks.complete(task.id, 'dead')).toBe(false);
    expect(await tasks.get(task.id)).toMatchObject({ state: 'done', leaseOwner: 'b' });
  });

  it('a worker that lost its lease (it stalled) logs it and does not record its outcome over the new owner', async () => {
    const { logger, lines } = memoryLogger();
    const stalled = gate();
    // Renews far too seldom: its lease (200 ms) runs out while the handler still runs.
    const a = new TaskRunner(tasks, () => systemClock.now(), logger, { leaseMs: 200, heartbeatMs: 10_000, maxPerTick: 10, workerId: 'a' }).register(DELIVERY_TASKS.grant, async () => {
      await stalled.opened;
      return { status: 'failed', error: 'late' };
    });
    const b = new TaskRunner(tasks, () => systemClock.now(), silentLogger, { leaseMs: 5_000, maxPerTick: 10, workerId: 'b' }).register(DELIVERY_TASKS.grant, async () => ({ status: 'done' }));
    const task = (await tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: 'A', index: 0 } }))!;
    const running = a.run();
    await sleep(300);
    await b.run();
    expect(await tasks.get(task.id)).toMatchObject({ state: 'done', leaseOwner: 'b' });
    stalled.open();
    await running;
    expect(await tasks.get(task.id)).toMatchObject({ state: 'done' }); // not "failed" by the stalled one
    expect(lines().some((l) => String(l.msg).includes('task lease was lost before its outcome was recorded'))).toBe(true);
  });
});

describe('one user\'s grant and removal of one role take turns (grant ledger)', () => {
  it('a removal of A and a grant of B for the same group membership, run by four workers: the user keeps it, the ledger holds B', async () => {
    // The directory takes 100 ms to remove a member: without turns, the grant of B would be
    // recorded (and skipped in the directory, already a member) while A's removal is under way,
    // which then removes the membership B holds.
    let app: Awaited<ReturnType<typeof startTestApp>> | undefined;
    const slowDirectory = (inner: Directory): Directory =>
      new Proxy(inner, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (property !== 'removeGroupRole' || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          return async (...args: unknown[]) => {
            await sleep(100);
            return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        },
      });
    const { LocalDirectory } = await import('../../src/directory/localDirectory');
    const { EXAMPLE_DIRECTORY } = await import('../support/botHarness');
    const directory = slowDirectory(await LocalDirectory.open({ file: EXAMPLE_DIRECTORY }));
    app = await startTestApp({}, { directory });
    try {
      const user = 'u-fred';
      const now = app.clock.now();
      const base = { packageId: 'accounting', policyId: 'employees', userId: user, startAt: now, requestIds: [], createdAt: now, updatedAt: now };
      const held: Assignment = { ...base, id: 'ASG-A', state: 'delivered', roles: [{ resource: 'finance-team', role: 'member', state: 'removing' }], endReason: 'removed' };
      const incoming: Assignment = { ...base, id: 'ASG-B', state: 'delivering', roles: [{ resource: 'finance-team', role: 'member', state: 'pending' }] };
      await app.repositories.assignments.insert(held);
      await app.repositories.assignments.insert(incoming);
      await directory.addGroupRole('grp-finance', user, 'member');
      await app.repositories.grants.open({ userId: user, resourceType: 'group', originId: 'grp-finance', role: 'member', preExisting: false });
      await app.repositories.grants.addHolder(grantKey(user, 'grp-finance', 'member'), 'ASG-A');
      // As delivery queues them (the removal first: it is the more urgent).
      await app.repositories.tasks.enqueue({ type: DELIVERY_TASKS.revoke, payload: { assignmentId: 'ASG-A', index: 0, userId: user } });
      await app.repositories.tasks.enqueue({ type: DELIVERY_TASKS.grant, payload: { assignmentId: 'ASG-B', index: 0, userId: user } });
      await app.taskRunner.run();
      expect((await app.repositories.assignments.get('ASG-B'))!.roles[0]!.state).toBe('delivered');
      expect((await app.repositories.assignments.get('ASG-A'))!.roles[0]!.state).toBe('removed');
      expect((await app.repositories.grants.get(user, 'grp-finance', 'member'))?.heldBy).toEqual(['ASG-B']);
      expect(await directory.hasGroupRole('grp-finance', user, 'member')).toBe(true);
    } finally {
      await app.close();
    }
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

  it('a nudge runs a job that plans its next run at once, not at the next interval; a periodic clean-up keeps its interval; nudges while stopped do nothing', async () => {
    jest.useFakeTimers();
    try {
      let planned = 0;
      let periodic = 0;
      const scheduler = new Scheduler(
        [
          { name: 'plans', run: async () => void planned++, nextDueAt: async () => null },
          { name: 'periodic', run: async () => void periodic++ },
        ],
        60_000,
        silentLogger,
      );
      scheduler.nudge();
      await jest.advanceTimersByTimeAsync(10);
      expect(planned).toBe(0);
      scheduler.start();
      await jest.advanceTimersByTimeAsync(0);
      expect([planned, periodic]).toEqual([1, 1]);
      scheduler.nudge();
      scheduler.nudge();
      await jest.advanceTimersByTimeAsync(0);
      expect([planned, periodic]).toEqual([2, 1]);
      await jest.advanceTimersByTimeAsync(59_999);
      expect([planned, periodic]).toEqual([2, 1]);
      await jest.advanceTimersByTimeAsync(1);
      expect([planned, periodic]).toEqual([3, 2]);
      await scheduler.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  it('each job runs in its own loop: a job stuck in a long run does not hold back another, which wakes at its next due time', async () => {
    let stuckRuns = 0;
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    let dueRuns = 0;
    let nextDue = 0;
    const scheduler = new Scheduler(
      [
        { name: 'outbox', run: async () => { stuckRuns++; await stuck; } },
        // Due again 100 ms after its first run, then not for a minute.
        { name: 'expiry', run: async () => void (nextDue = Date.now() + (++dueRuns === 1 ? 100 : 60_000)), nextDueAt: async () => new Date(nextDue) },
      ],
      60_000,
      silentLogger,
    );
    scheduler.start();
    await sleep(50);
    expect([stuckRuns, dueRuns]).toEqual([1, 1]);
    await sleep(200); // woke at its next due time (100 ms), not after the minute
    expect(dueRuns).toBe(2);
    release();
    await scheduler.stop();
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
