import { randomUUID } from 'node:crypto';
import type { Task } from '../domain/model';
import type { Logger } from '../logger';
import type { TaskRepository } from '../store/repositories/tasks';
import type { ScheduledJob } from './scheduler';

/** What a task handler tells the runner. */
export type TaskOutcome = { status: 'done' } | { status: 'retry'; at: Date; error: string } | { status: 'failed'; error: string };

export type TaskHandler = (task: Task) => Promise<TaskOutcome>;

/** Tasks leased per claim query. Each is held for the whole lease, so keep batches modest. */
const CLAIM_BATCH = 25;

export interface TaskRunnerOptions {
  leaseMs: number;
  /** Upper bound of tasks handled per tick, so one tick can't run forever. */
  maxPerTick: number;
  workerId?: string;
}

/**
 * Claims due tasks one at a time (atomically, with a lease) and hands each to the handler
 * registered for its type. A handler that throws is treated as a retry in one minute; the
 * handler itself decides back-off and give-up for errors it understands.
 */
export class TaskRunner implements ScheduledJob {
  readonly name = 'tasks';
  readonly workerId: string;
  private readonly handlers = new Map<string, TaskHandler>();

  constructor(
    private readonly tasks: TaskRepository,
    private readonly now: () => Date,
    private readonly logger: Logger,
    private readonly options: TaskRunnerOptions,
  ) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
  }

  register(type: string, handler: TaskHandler): this {
    if (this.handlers.has(type)) throw new Error(`a handler for task type ${type} is already registered`);
    this.handlers.set(type, handler);
    return this;
  }

  async run(): Promise<void> {
    const types = [...this.handlers.keys()];
    if (types.length === 0) return;
    let handled = 0;
    while (handled < this.options.maxPerTick) {
      const batch = await this.tasks.claimBatch(this.workerId, this.options.leaseMs, Math.min(CLAIM_BATCH, this.options.maxPerTick - handled), types);
      if (batch.length === 0) return;
      for (const task of batch) await this.handle(task);
      handled += batch.length;
    }
  }

  private async handle(task: Task): Promise<void> {
    const handler = this.handlers.get(task.type);
    if (!handler) return; // claimDue only returns registered types
    let outcome: TaskOutcome;
    try {
      outcome = await handler(task);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      outcome = { status: 'retry', at: new Date(this.now().getTime() + 60_000), error: message };
    }
    const kept = await this.record(task, outcome);
    if (!kept) this.logger.warn({ taskId: task.id, type: task.type }, 'task lease was lost before its outcome was recorded; another worker owns it now');
    if (outcome.status !== 'done') this.logger.warn({ taskId: task.id, type: task.type, outcome }, 'task did not complete');
  }

  private record(task: Task, outcome: TaskOutcome): Promise<boolean> {
    switch (outcome.status) {
      case 'done':
        return this.tasks.complete(task.id, this.workerId);
      case 'retry':
        return this.tasks.retry(task.id, this.workerId, outcome.at, outcome.error);
      case 'failed':
        return this.tasks.fail(task.id, this.workerId, outcome.error);
    }
  }
}
