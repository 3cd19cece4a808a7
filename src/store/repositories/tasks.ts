import { randomUUID } from 'node:crypto';
import type { Task } from '../../domain/model';
import { type Collection, type DocumentStore, DuplicateKeyError } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

export interface NewTask {
  type: string;
  payload: Record<string, unknown>;
  dueAt?: Date;
  /** Makes enqueueing idempotent: a second task with the same key is not created. */
  dedupeKey?: string;
}

/**
 * The durable work queue behind delivery, notifications and scheduled work. A worker claims
 * a due task with a lease; if it dies the lease runs out and another worker takes over.
 */
export class TaskRepository {
  private readonly collection: Collection<Doc<Task> & { dedupeKey?: string }>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection('tasks');
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
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.collection.insert({ ...toDoc(created), ...(task.dedupeKey ? { dedupeKey: task.dedupeKey } : {}) });
      return created;
    } catch (error) {
      if (task.dedupeKey && error instanceof DuplicateKeyError) return null;
      throw error;
    }
  }

  async get(id: string): Promise<Task | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc<Task>(doc) : null;
  }

  /** Atomically leases the oldest due task whose lease (if any) has run out. */
  async claimDue(owner: string, leaseMs: number, types?: string[]): Promise<Task | null> {
    const [task] = await this.claimBatch(owner, leaseMs, 1, types);
    return task ?? null;
  }

  /**
   * Leases up to `max` due tasks, oldest first. One query finds candidates; each is then
   * claimed by id with the same conditions, so a task another worker took meanwhile is
   * skipped. That costs one scan of the due tasks per batch instead of one per task.
   */
  async claimBatch(owner: string, leaseMs: number, max: number, types?: string[]): Promise<Task[]> {
    const now = this.now();
    const due = {
      state: 'pending',
      dueAt: { $lte: now },
      $or: [{ leaseUntil: { $exists: false } }, { leaseUntil: { $lte: now } }],
      ...(types ? { type: { $in: types } } : {}),
    };
    const candidates = await this.collection.find(due, { sort: { dueAt: 1 }, limit: max });
    const claimed: Task[] = [];
    for (const candidate of candidates) {
      const doc = await this.collection.findOneAndUpdate(
        { ...due, _id: candidate._id },
        { $set: { leaseOwner: owner, leaseUntil: new Date(now.getTime() + leaseMs), updatedAt: now }, $inc: { attempts: 1 } },
      );
      if (doc) claimed.push(fromDoc<Task>(doc));
    }
    return claimed;
  }

  /**
   * Frees every lease on pending work. Only for a store one process owns (the embedded store):
   * at start-up any lease found there was held by this process before it died (kill -9, power
   * loss), so waiting for it to run out would only delay the work. Returns how many.
   */
  async releaseLeases(): Promise<number> {
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
      { $set: { state: 'done', updatedAt: now }, $unset: { leaseUntil: true } },
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

  async fail(id: string, owner: string, error: string): Promise<boolean> {
    const changed = await this.collection.updateOne(
      { _id: id, leaseOwner: owner, state: 'pending' },
      { $set: { state: 'failed', lastError: error, updatedAt: this.now() }, $unset: { leaseUntil: true } },
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
}
