import { randomUUID } from 'node:crypto';
import type { Task } from '../../domain/model';
import { type Lane, PRIORITIES, PRIORITY, routeTask, type TaskRoute } from '../../domain/taskTypes';
import { type Collection, type DocumentStore, DuplicateKeyError, type Filter } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

export interface NewTask {
  type: string;
  payload: Record<string, unknown>;
  dueAt?: Date;
  /** Makes enqueueing idempotent: a second task with the same key is not created. */
  dedupeKey?: string;
}

/**
 * `queue` is "lane:priority" while the task is pending, absent once it is done or failed: a
 * claim reads one queue after another, most urgent first, so claiming an approval card never
 * reads through a backlog of bulk notices (the embedded store indexes one field per query).
 */
type TaskDoc = Doc<Task> & { dedupeKey?: string; queue?: string };

function queueOf(route: Pick<TaskRoute, 'lane' | 'priority'>): string {
  return `${route.lane}:${route.priority}`;
}

/** Held while a task with a serialKey runs: at most one per key, across every instance. */
interface LockDoc {
  /** The serialKey. */
  _id: string;
  owner: string;
  taskId: string;
  until: Date;
}

export interface ClaimOptions {
  /** Only this lane's tasks (the runner claims lane by lane). */
  lane?: Lane;
  /** Only these types (the ones the runner has handlers for). */
  types?: string[];
}

/**
 * The durable work queue behind delivery, notifications and scheduled work. A worker claims
 * a due task with a lease and renews it while it runs; if the worker dies the lease runs out
 * and another worker takes over. Tasks sharing a serialKey never run at the same time.
 */
export class TaskRepository {
  private readonly collection: Collection<TaskDoc>;
  private readonly locks: Collection<LockDoc>;
  private readonly listeners: ((task: Task) => void)[] = [];

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection('tasks');
    this.locks = store.collection('taskLocks');
  }

  async init(): Promise<void> {
    // Due pending tasks, earliest first: MongoDB reads exactly those from this index.
    await this.collection.ensureIndex({ name: 'state_1_dueAt_1', fields: ['state', 'dueAt'] });
    // The embedded store can't use the compound index for a range on dueAt; this one keeps its
    // claim queries to pending tasks instead of every task ever run.
    await this.collection.ensureIndex({ name: 'state_1', fields: ['state'], only: 'embedded' });
    // The sort on dueAt alone, as Azure Cosmos DB RU needs it served (an index with exactly its field).
    await this.collection.ensureIndex({ name: 'dueAt_1', fields: ['dueAt'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'dedupeKey_1', fields: ['dedupeKey'], unique: true, sparse: true });
    // Claims read one queue (lane and priority) oldest due first: MongoDB serves them from the
    // compound index, the embedded store from the single field.
    await this.collection.ensureIndex({ name: 'queue_1', fields: ['queue'], only: 'embedded' });
    await this.collection.ensureIndex({ name: 'queue_1_dueAt_1', fields: ['queue', 'dueAt'] });
    await this.routeUnrouted();
  }

  /** Called with each task queued by this process (the runner wakes the task's lane). */
  onEnqueued(listener: (task: Task) => void): void {
    this.listeners.push(listener);
  }

  /** Returns the new task, or null when one with the same dedupeKey already exists. */
  async enqueue(task: NewTask): Promise<Task | null> {
    const now = this.now();
    const created: Task = {
      id: randomUUID(),
      type: task.type,
      payload: task.payload,
      state: 'pending',
      dueAt: task.dueAt ?? now,
      attempts: 0,
      ...routeTask(task.type, task.payload),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.collection.insert({ ...toDoc(created), queue: queueOf({ lane: created.lane!, priority: created.priority! }), ...(task.dedupeKey ? { dedupeKey: task.dedupeKey } : {}) });
    } catch (error) {
      if (task.dedupeKey && error instanceof DuplicateKeyError) return null;
      throw error;
    }
    for (const listener of this.listeners) listener(created);
    return created;
  }

  async get(id: string): Promise<Task | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toTask(doc) : null;
  }

  /** Atomically leases the oldest due task (of any lane) whose lease (if any) has run out. */
  async claimDue(owner: string, leaseMs: number, types?: string[]): Promise<Task | null> {
    const [task] = await this.claimBatch(owner, leaseMs, 1, { types });
    return task ?? null;
  }

  /**
   * Leases up to `max` due tasks, most urgent (priority, then oldest due) first. One query
   * finds candidates; each is then claimed by id with the same conditions, so a task another
   * worker took meanwhile is skipped. A task with a serialKey is claimed only with its key's
   * lock, so two of them never run at once (the same key twice in one batch: only the first).
   */
  async claimBatch(owner: string, leaseMs: number, max: number, filter: ClaimOptions | string[] = {}): Promise<Task[]> {
    const options: ClaimOptions = Array.isArray(filter) ? { types: filter } : filter;
    const now = this.now();
    const leaseUntil = new Date(now.getTime() + leaseMs);
    const busy = await this.busyKeys(now);
    const claimed: Task[] = [];
    const keys = new Set<string>();
    for (const { queue, bulk } of this.queues(options)) {
      if (claimed.length >= max) break;
      const due = this.claimable(now, options, busy, queue);
      // Some spares: candidates whose key is taken in this batch are passed over. Bulk work
      // (thousands of warnings) is taken in the order it was queued, unsorted: sorting the
      // whole backlog on every claim would cost the embedded store more than sending it.
      const candidates = await this.collection.find(due, { ...(bulk ? {} : { sort: { dueAt: 1 } }), limit: (max - claimed.length) * 2 });
      for (const candidate of candidates) {
        if (claimed.length >= max) break;
        const key = candidate.serialKey;
        if (key !== undefined) {
          if (keys.has(key)) continue;
          keys.add(key);
          if (!(await this.lock(key, owner, candidate._id, leaseUntil, now))) continue;
        }
        const doc = await this.collection.findOneAndUpdate(
          { ...due, _id: candidate._id },
          { $set: { leaseOwner: owner, leaseUntil, updatedAt: now }, $inc: { attempts: 1 } },
        );
        if (doc) claimed.push(toTask(doc));
        else if (key !== undefined) await this.unlock(key, owner, candidate._id);
      }
    }
    return claimed;
  }

  /**
   * When the next task the runner could claim falls due (a retry, a deferral), or null when
   * there is none: the runner sleeps until then, not a whole interval. (A task leased by a dead
   * worker is found by the runner's poll once its lease has run out.)
   */
  async nextClaimableAt(options: ClaimOptions = {}): Promise<Date | null> {
    const now = this.now();
    const busy = await this.busyKeys(now);
    let next: Date | null = null;
    for (const { queue } of this.queues(options)) {
      const filter = this.claimable(now, options, busy, queue);
      delete filter.dueAt;
      const [first] = await this.collection.find(filter, { sort: { dueAt: 1 }, limit: 1, fields: ['dueAt'] });
      if (first && (!next || first.dueAt < next)) next = first.dueAt;
      if (next && next <= now) break; // due now: the rest can't be sooner
    }
    return next;
  }

  /**
   * Extends a running task's lease (and its key's lock). False when the lease is no longer
   * this owner's: it ran out and another worker took the task over.
   */
  async renew(task: Pick<Task, 'id' | 'serialKey'>, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.now();
    const until = new Date(now.getTime() + leaseMs);
    const changed = await this.collection.updateOne({ _id: task.id, leaseOwner: owner, state: 'pending' }, { $set: { leaseUntil: until } });
    if (changed !== 1) return false;
    // The key's lock too: if it lapsed and another task of the key took it, this run has lost its turn.
    if (task.serialKey === undefined) return true;
    return (await this.locks.updateOne({ _id: task.serialKey, owner, taskId: task.id }, { $set: { until } })) === 1;
  }

  /** Frees the key's lock once the task's outcome is recorded (only this owner's, for this task). */
  async unlock(serialKey: string, owner: string, taskId: string): Promise<void> {
    await this.locks.delete({ _id: serialKey, owner, taskId });
  }

  /**
   * Frees every lease and key lock on pending work. Only for a store one process owns (the
   * embedded store): at start-up any lease found there was held by this process before it died
   * (kill -9, power loss), so waiting for it to run out would only delay the work. Returns how many.
   */
  async releaseLeases(): Promise<number> {
    await this.locks.delete({});
    return this.collection.updateMany(
      { state: 'pending', leaseUntil: { $exists: true } },
      { $unset: { leaseUntil: true, leaseOwner: true }, $set: { updatedAt: this.now() } },
    );
  }

  /** Marks done; only the lease holder may (a worker whose lease expired has lost the task). */
  async complete(id: string, owner: string): Promise<boolean> {
    const now = this.now();
    const changed = await this.collection.updateOne(
      { _id: id, leaseOwner: owner, state: 'pending' },
      { $set: { state: 'done', updatedAt: now }, $unset: { leaseUntil: true, queue: true } },
    );
    return changed === 1;
  }

  /** Releases the lease and schedules another attempt at `retryAt`. */
  async retry(id: string, owner: string, retryAt: Date, error: string): Promise<boolean> {
    const changed = await this.collection.updateOne(
      { _id: id, leaseOwner: owner, state: 'pending' },
      { $set: { dueAt: retryAt, lastError: error, updatedAt: this.now() }, $unset: { leaseUntil: true, leaseOwner: true } },
    );
    return changed === 1;
  }

  /**
   * Releases the lease until `at` without using up an attempt: the task was not tried, it
   * waits its turn (pacing within Graph's or Teams' limits). Its claim's attempt is given back.
   */
  async defer(id: string, owner: string, at: Date): Promise<boolean> {
    const changed = await this.collection.updateOne(
      { _id: id, leaseOwner: owner, state: 'pending' },
      { $set: { dueAt: at, updatedAt: this.now() }, $unset: { leaseUntil: true, leaseOwner: true }, $inc: { attempts: -1 } },
    );
    return changed === 1;
  }

  async fail(id: string, owner: string, error: string): Promise<boolean> {
    const changed = await this.collection.updateOne(
      { _id: id, leaseOwner: owner, state: 'pending' },
      { $set: { state: 'failed', lastError: error, updatedAt: this.now() }, $unset: { leaseUntil: true, queue: true } },
    );
    return changed === 1;
  }

  /** The earliest unfinished task of `type` whose payload has `field` = `value`, if any. */
  async findPending(type: string, field: string, value: string): Promise<Pick<Task, 'id' | 'dueAt'> | null> {
    const [doc] = await this.collection.find({ type, state: 'pending', [`payload.${field}`]: value }, { sort: { dueAt: 1 }, limit: 1 });
    return doc ? { id: doc._id, dueAt: doc.dueAt } : null;
  }

  async countByState(state: Task['state']): Promise<number> {
    return this.collection.count({ state });
  }

  /** The queues to claim from, most urgent first (all pending work when no lane is named). */
  private queues(options: ClaimOptions): { queue?: string; bulk: boolean }[] {
    if (!options.lane) return [{ bulk: false }];
    return PRIORITIES.map((priority) => ({ queue: queueOf({ lane: options.lane!, priority }), bulk: priority === PRIORITY.bulk }));
  }

  /** Pending, due, not leased, its key not locked; `queue` last: the embedded store indexes by the last plain field. */
  private claimable(now: Date, options: ClaimOptions, busy: string[], queue: string | undefined): Filter {
    return {
      dueAt: { $lte: now },
      $or: [{ leaseUntil: { $exists: false } }, { leaseUntil: { $lte: now } }],
      ...(options.types ? { type: { $in: options.types } } : {}),
      ...(busy.length > 0 ? { serialKey: { $nin: busy } } : {}),
      state: 'pending',
      ...(queue ? { queue } : {}),
    };
  }

  /** Keys whose lock is held now (a handful: at most one per running task). */
  private async busyKeys(now: Date): Promise<string[]> {
    return (await this.locks.find({ until: { $gt: now } })).map((l) => l._id);
  }

  /** Takes the key's lock for `taskId`: free, or left by a worker whose lease ran out. */
  private async lock(key: string, owner: string, taskId: string, until: Date, now: Date): Promise<boolean> {
    try {
      await this.locks.insert({ _id: key, owner, taskId, until });
      return true;
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      return (await this.locks.findOneAndUpdate({ _id: key, until: { $lte: now } }, { $set: { owner, taskId, until } })) !== null;
    }
  }

  /**
   * Tasks queued by a version without lanes (before an upgrade, or by an instance not yet
   * upgraded in a rolling one) get their lane, priority and key, so this version claims them.
   * Returns how many.
   */
  async routeUnrouted(): Promise<number> {
    const unrouted = await this.collection.find({ queue: { $exists: false }, state: 'pending' });
    let routed = 0;
    for (const doc of unrouted) {
      const route = routeTask(doc.type, doc.payload);
      routed += await this.collection.updateOne({ _id: doc._id, state: 'pending', queue: { $exists: false } }, { $set: { ...route, queue: queueOf(route) } });
    }
    return routed;
  }
}

function toTask(doc: TaskDoc): Task {
  const { queue: _queue, dedupeKey: _dedupeKey, ...rest } = doc;
  return fromDoc<Task>(rest);
}
