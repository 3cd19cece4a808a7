import type { Logger } from '../logger';

export interface ScheduledJob {
  name: string;
  /** Does whatever has fallen due; must be safe to run on several instances at once. */
  run(): Promise<void>;
}

/**
 * One loop drives all scheduled work. Ticks never overlap: the next one is timed from the end
 * of the previous, so a slow tick delays rather than piles up. Jobs claim their own units of
 * work with leases, which is what makes several instances safe.
 */
export class Scheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private nudged = false;

  constructor(
    private readonly jobs: ScheduledJob[],
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * Asks for a tick as soon as possible (work was just queued, e.g. an approval card), instead
   * of at the next interval. Cheap to call often: a tick in progress or already due absorbs it.
   */
  nudge(): void {
    if (this.stopped || this.running || this.nudged) return;
    this.nudged = true;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  /** Runs every job once, now (also used by tests and the catch-up after start). */
  async tick(): Promise<void> {
    for (const job of this.jobs) {
      try {
        await job.run();
      } catch (error) {
        this.logger.error({ err: error, job: job.name }, 'scheduled job failed; it will run again next tick');
      }
    }
  }

  /** Stops the loop and waits for a tick in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.nudged = false;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.intervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }
}
