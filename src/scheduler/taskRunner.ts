import { randomUUID } from 'node:crypto';
import type { Task } from '../domain/model';
import { LANES, type Lane, routeTask } from '../domain/taskTypes';
import type { Logger } from '../logger';
import { PacingDeferral } from '../rateLimiter';
import type { TaskRepository } from '../store/repositories/tasks';
import type { ScheduledJob } from './scheduler';

/**
 * What a task handler tells the runner. `defer`: not tried, waiting its turn (pacing): back at
 * `at` without using up an attempt. A handler may also throw PacingDeferral for the same.
 */
export type TaskOutcome =
  | { status: 'done' }
  | { status: 'retry'; at: Date; error: string }
  | { status: 'failed'; error: string }
  | { status: 'defer'; at: Date; reason: string };

export type TaskHandler = (task: Task) => Promise<TaskOutcome>;

/** Workers per lane unless configured (TASK_CONCURRENCY_*). */
export const DEFAULT_LANE_CONCURRENCY: Readonly<Record<Lane, number>> = { access: 4, approvals: 2, messages: 8, housekeeping: 1 };

/** A lane that looked and found nothing claimable looks again after at least this long. */
const MIN_IDLE_MS = 50;


export interface TaskRunnerOptions {
  /** How long a claim holds a task; renewed every `heartbeatMs` while it runs. */
  leaseMs: number;
  /** Upper bound (about) of tasks one `run()` handles, so a tick can't run forever. */
  maxPerTick: number;
  workerId?: string;
  /** Tasks of a lane running at once (DEFAULT_LANE_CONCURRENCY where not given). */
  concurrency?: Partial<Record<Lane, number>>;
  /** How often a running task's lease is renewed (default: a third of the lease). */
  heartbeatMs?: number;
  /** Once started: the longest an idle lane sleeps before it looks again (other instances' work). */
  pollMs?: number;
  /** How often a running instance gives a lane to tasks queued by a version without lanes (default a minute). */
  adoptEveryMs?: number;
}

/**
 * Runs the outbox in lanes (domain/taskTypes.ts): each lane claims its own tasks, most urgent
 * first, and runs up to its concurrency at once, so grants, removals and expiry never queue
 * behind messages. A running task's lease is renewed (heartbeat): a dead instance's task is
 * taken over once its short lease runs out, a live one's never. Tasks sharing a serialKey
 * never run at once. A handler that throws is retried in a minute (PacingDeferral: put back
 * without using an attempt); handlers decide back-off and give-up for errors they understand.
 */
export class TaskRunner implements ScheduledJob {
  readonly name = 'tasks';
  readonly workerId: string;
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly lanes: Record<Lane, LaneWorkers>;
  private readonly heartbeatMs: number;
  private started = false;
  private adoptedAt = 0;

  constructor(
    private readonly tasks: TaskRepository,
    private readonly now: () => Date,
    private readonly logger: Logger,
    private readonly options: TaskRunnerOptions,
  ) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
    this.heartbeatMs = options.heartbeatMs ?? Math.max(100, Math.floor(options.leaseMs / 3));
    const lanes = {} as Record<Lane, LaneWorkers>;
    for (const lane of LANES) {
      const concurrency = options.concurrency?.[lane] ?? DEFAULT_LANE_CONCURRENCY[lane];
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency of lane ${lane} must be a whole number of at least 1`);
      lanes[lane] = new LaneWorkers(lane, concurrency, this);
    }
    this.lanes = lanes;
    // Work queued by this process starts at once (other instances' work: at the next poll).
    tasks.onEnqueued((task) => {
      if (this.handlers.has(task.type)) this.lanes[task.lane ?? laneOf(task.type)].wake();
    });
  }

  register(type: string, handler: TaskHandler): this {
    if (this.handlers.has(type)) throw new Error(`a handler for task type ${type} is already registered`);
    this.handlers.set(type, handler);
    return this;
  }

  /** The task types of `lane` this runner handles. */
  typesOf(lane: Lane): string[] {
    return [...this.handlers.keys()].filter((type) => laneOf(type) === lane);
  }

  /**
   * Runs what is due now, every lane at once, until nothing more is (work one lane queues for
   * another is run too). Tests and the scheduler's tick use it; once started, lanes run on their own.
   */
  async run(): Promise<void> {
    let handled = 0;
    while (handled < this.options.maxPerTick) {
      const counts = await Promise.all(LANES.map((lane) => this.lanes[lane].drain(this.options.maxPerTick - handled)));
      const round = counts.reduce((sum, n) => sum + n, 0);
      if (round === 0) return;
      handled += round;
    }
  }

  /** Each lane claims and runs on its own from now on, sleeping while it has nothing due. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const lane of LANES) this.lanes[lane].start(this.options.pollMs ?? 15_000);
  }

  /** Stops claiming and waits for the running tasks to finish. */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all(LANES.map((lane) => this.lanes[lane].stop()));
  }

  /**
   * A turn just ended. Nothing to do: work this process queues wakes its own lane when it is
   * queued (onEnqueued), and other instances' work is found by each lane's poll.
   */
  nudge(): void {}

  /** @internal (LaneWorkers) */
  claim(lane: Lane, max: number): Promise<Task[]> {
    const types = this.typesOf(lane);
    if (types.length === 0) return Promise.resolve([]);
    return this.tasks.claimBatch(this.workerId, this.options.leaseMs, max, { lane, types });
  }

  /** @internal (LaneWorkers) */
  laneFailed(lane: Lane, error: unknown): void {
    this.logger.error({ err: error, lane }, 'a task lane could not claim work; it looks again after the poll interval');
  }

  /**
   * @internal (LaneWorkers) While instances of a version without lanes still queue work (a
   * rolling upgrade), their tasks are given a lane here, once a minute at most.
   */
  async adoptUnrouted(): Promise<void> {
    if (Date.now() - this.adoptedAt < (this.options.adoptEveryMs ?? 60_000)) return;
    this.adoptedAt = Date.now();
    const adopted = await this.tasks.routeUnrouted();
    if (adopted === 0) return;
    this.logger.info({ adopted }, 'gave a lane to tasks queued by an instance of an older version');
    for (const lane of LANES) this.lanes[lane].wake();
  }

  /** @internal (LaneWorkers) Milliseconds until the lane's next task can be claimed, or null if none waits. */
  async msUntilClaimable(lane: Lane): Promise<number | null> {
    const types = this.typesOf(lane);
    if (types.length === 0) return null;
    const next = await this.tasks.nextClaimableAt({ lane, types });
    return next ? next.getTime() - this.now().getTime() : null;
  }

  /** @internal (LaneWorkers) Runs one claimed task and records its outcome; never throws. */
  async execute(task: Task): Promise<void> {
    const handler = this.handlers.get(task.type);
    if (!handler) return; // claims only return registered types
    const heartbeat = this.heartbeat(task);
    let outcome: TaskOutcome;
    try {
      outcome = await handler(task);
    } catch (error) {
      if (error instanceof PacingDeferral) {
        outcome = { status: 'defer', at: new Date(this.now().getTime() + Math.max(0, error.delayMs)), reason: error.message };
      } else {
        const message = error instanceof Error ? error.message : String(error);
        outcome = { status: 'retry', at: new Date(this.now().getTime() + 60_000), error: message };
      }
    } finally {
      heartbeat.stop();
    }
    try {
      const kept = await this.record(task, outcome);
      if (!kept) this.logger.warn({ taskId: task.id, type: task.type }, 'task lease was lost before its outcome was recorded; another worker owns it now');
      if (outcome.status === 'defer') this.logger.debug({ taskId: task.id, type: task.type, priority: task.priority, at: outcome.at, reason: outcome.reason }, 'task waits its turn');
      else if (outcome.status !== 'done') this.logger.warn({ taskId: task.id, type: task.type, outcome }, 'task did not complete');
    } catch (error) {
      this.logger.error({ err: error, taskId: task.id, type: task.type }, 'could not record a task outcome; it runs again when its lease runs out');
    } finally {
      if (task.serialKey !== undefined) {
        await this.tasks.unlock(task.serialKey, this.workerId, task.id).catch((error: unknown) => this.logger.warn({ err: error, taskId: task.id }, 'could not free a task key; it frees itself when its lease runs out'));
      }
    }
  }

  /** Renews the task's lease every heartbeatMs until stopped; logs once if the lease was lost. */
  private heartbeat(task: Task): { stop(): void } {
    let lost = false;
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing || lost) return;
      renewing = true;
      this.tasks
        .renew(task, this.workerId, this.options.leaseMs)
        .then((held) => {
          if (held) return;
          lost = true;
          this.logger.warn({ taskId: task.id, type: task.type }, 'task lease lost while it ran (another worker may take it over); its outcome will not be recorded over the new owner');
        })
        .catch((error: unknown) => this.logger.warn({ err: error, taskId: task.id }, 'could not renew a task lease; trying again'))
        .finally(() => (renewing = false));
    }, this.heartbeatMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  private record(task: Task, outcome: TaskOutcome): Promise<boolean> {
    switch (outcome.status) {
      case 'done':
        return this.tasks.complete(task.id, this.workerId);
      case 'retry':
        return this.tasks.retry(task.id, this.workerId, outcome.at, outcome.error);
      case 'defer':
        return this.tasks.defer(task.id, this.workerId, outcome.at);
      case 'failed':
        return this.tasks.fail(task.id, this.workerId, outcome.error);
    }
  }
}

function laneOf(type: string): Lane {
  return routeTask(type, {}).lane;
}

/**
 * One lane's workers: claims up to `concurrency` tasks, starts each, and claims again as each
 * finishes (or when woken because work was queued), until nothing is claimable and none runs.
 */
class LaneWorkers {
  private readonly running = new Set<Promise<void>>();
  private draining?: Promise<number>;
  private loop?: Promise<void>;
  private stopped = true;
  private woken = false;
  private wakeUp?: () => void;

  constructor(
    readonly lane: Lane,
    private readonly concurrency: number,
    private readonly runner: TaskRunner,
  ) {}

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Claims and runs what is due; returns how many tasks it ran. One drain at a time per lane. */
  async drain(max: number): Promise<number> {
    while (this.draining) {
      this.wake();
      await this.draining;
    }
    const draining = this.pump(max);
    this.draining = draining;
    try {
      return await draining;
    } finally {
      this.draining = undefined;
    }
  }

  start(pollMs: number): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          await this.drain(Number.POSITIVE_INFINITY);
        } catch (error) {
          // The store is unreachable (what ran has finished): look again after the poll interval.
          this.runner.laneFailed(this.lane, error);
        }
        if (this.stopped) break;
        await this.idle(pollMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    this.loop = undefined;
    await this.draining;
    await Promise.all([...this.running]);
  }

  private async pump(max: number): Promise<number> {
    let started = 0;
    for (;;) {
      const free = this.concurrency - this.running.size;
      const asked = this.stopping() ? 0 : Math.min(free, max - started);
      let claimed = 0;
      if (asked > 0) {
        this.woken = false; // what was queued before this claim, the claim sees
        let batch: Task[] = [];
        try {
          batch = await this.runner.claim(this.lane, asked);
        } catch (error) {
          // The store is unreachable: what runs finishes; the loop looks again later.
          if (this.running.size === 0) throw error;
        }
        for (const task of batch) this.startTask(task);
        claimed = batch.length;
        started += claimed;
      }
      if (this.running.size === 0 && claimed === 0) return started;
      // Full, at the bound, or nothing more to claim now: wait for a worker to come free or new work.
      if (claimed < asked || asked === 0 || this.running.size >= this.concurrency) await this.wakeOr([...this.running]);
    }
  }

  /** Set while stop() waits: no new claims. (A drain by run() after stop still claims.) */
  private stopping(): boolean {
    return this.stopped && this.loop !== undefined;
  }

  private startTask(task: Task): void {
    const running: Promise<void> = this.runner.execute(task).finally(() => this.running.delete(running));
    this.running.add(running);
  }

  /** Sleeps until the lane's next task falls due (at most pollMs), or until woken. */
  private async idle(pollMs: number): Promise<void> {
    let delay = pollMs;
    try {
      if (this.lane === 'housekeeping') await this.runner.adoptUnrouted();
      const next = await this.runner.msUntilClaimable(this.lane);
      if (next !== null) delay = Math.min(pollMs, Math.max(MIN_IDLE_MS, next));
    } catch {
      // The store is unreachable: look again after the poll interval.
    }
    let timer: NodeJS.Timeout | undefined;
    await this.wakeOr([new Promise<void>((resolve) => (timer = setTimeout(resolve, delay).unref()))]);
    clearTimeout(timer);
  }

  private wakeOr(others: Promise<unknown>[]): Promise<unknown> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return Promise.race([...others, new Promise<void>((resolve) => (this.wakeUp = resolve))]).finally(() => {
      this.wakeUp = undefined;
      this.woken = false;
    });
  }
}
