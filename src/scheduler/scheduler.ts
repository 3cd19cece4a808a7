import type { Logger } from '../logger';

export interface ScheduledJob {
  name: string;
  /** Does whatever has fallen due; must be safe to run on several instances at once. */
  run(): Promise<void>;
  /**
   * A job that runs itself once started (the task runner: a loop per lane). The scheduler
   * starts, nudges and stops it instead of looping `run`.
   */
  start?(): void;
  stop?(): Promise<void>;
  nudge?(): void;
  /** When the job next has work, if before `horizon`: its loop sleeps until then, not the whole interval. */
  nextDueAt?(horizon: Date): Promise<Date | null>;
}

/** A loop whose job is due again at once looks after at least this long (no busy loop). */
const MIN_DELAY_MS = 20;

/**
 * Drives scheduled work. Once started every job runs in its own loop, so one job never waits
 * for another (the expiry check does not wait for the outbox to drain): each loop's runs never
 * overlap, the next timed from the end of the previous, sooner when the job knows its next due
 * time. `tick` runs every job once, in order (tests, and the catch-up after start). Jobs claim
 * their own units of work with leases, which is what makes several instances safe.
 */
export class Scheduler {
  private readonly loops: JobLoop[];
  private started = false;

  constructor(
    private readonly jobs: ScheduledJob[],
    intervalMs: number,
    private readonly logger: Logger,
    now: () => Date = () => new Date(),
  ) {
    this.loops = jobs.filter((job) => !job.start).map((job) => new JobLoop(job, intervalMs, logger, now));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const job of this.jobs) job.start?.();
    for (const loop of this.loops) loop.start();
  }

  /**
   * Something may have changed (a turn just ended, e.g. an extension moved an expiry check to
   * now): jobs that plan their next run (nextDueAt) look again at once, self-driven jobs are
   * told. Periodic clean-ups keep their interval. Cheap to call often: a run in progress absorbs it.
   */
  nudge(): void {
    if (!this.started) return;
    for (const job of this.jobs) job.nudge?.();
    for (const loop of this.loops) if (loop.plansAhead) loop.wake();
  }

  /** Runs every job once, now, in order (also used by tests and the catch-up after start). */
  async tick(): Promise<void> {
    for (const job of this.jobs) {
      try {
        await job.run();
      } catch (error) {
        this.logger.error({ err: error, job: job.name }, 'scheduled job failed; it will run again next tick');
      }
    }
  }

  /** Stops every loop and waits for runs in progress to finish. */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.loops.map((loop) => loop.stop()), ...this.jobs.map((job) => job.stop?.())]);
  }
}

class JobLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  /** A nudge during a run: run again right after it. */
  private again = false;

  constructor(
    private readonly job: ScheduledJob,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  get plansAhead(): boolean {
    return this.job.nextDueAt !== undefined;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.again = false;
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
      });
    }, delayMs);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      await this.job.run();
    } catch (error) {
      this.logger.error({ err: error, job: this.job.name }, 'scheduled job failed; it will run again');
    }
    if (this.stopped) return;
    let delay = this.intervalMs;
    if (this.job.nextDueAt && !this.again) {
      try {
        const now = this.now();
        const next = await this.job.nextDueAt(new Date(now.getTime() + this.intervalMs));
        if (next) delay = Math.min(this.intervalMs, Math.max(MIN_DELAY_MS, next.getTime() - now.getTime()));
      } catch (error) {
        this.logger.warn({ err: error, job: this.job.name }, 'could not tell when the job is next due; it runs again after the interval');
      }
    }
    if (this.again) delay = 0;
    if (!this.stopped) this.schedule(delay);
  }
}
