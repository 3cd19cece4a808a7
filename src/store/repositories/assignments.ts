import { ACTIVE_ASSIGNMENT_STATES, type Assignment, type AssignmentState } from '../../domain/model';
import type { Collection, DocumentStore, Filter, Update } from '../port';
import type { AuditRepository, NewAuditEvent } from './audit';
import { type Doc, fromDoc as fromStoredDoc, toDoc } from './documents';
import { PendingAudit, type WithPendingAudit, withoutPendingAudit } from './pendingAudit';

type AssignmentDoc = WithPendingAudit<Doc<Assignment>>;

function fromDoc(doc: AssignmentDoc): Assignment {
  return fromStoredDoc<Assignment>(withoutPendingAudit(doc));
}

function fromDocs(docs: AssignmentDoc[]): Assignment[] {
  return docs.map(fromDoc);
}

export class AssignmentRepository {
  private readonly collection: Collection<AssignmentDoc>;
  private readonly pendingAudit: PendingAudit<AssignmentDoc>;

  constructor(store: DocumentStore, audit: Pick<AuditRepository, 'prepare' | 'record'>) {
    this.collection = store.collection<AssignmentDoc>('assignments');
    this.pendingAudit = new PendingAudit(this.collection, audit);
  }

  /** Records the audit events a crash left on assignments (start-up); returns how many. */
  async settlePendingAudit(): Promise<number> {
    return this.pendingAudit.settleAll();
  }

  // Names are fixed (schema.ts compares them with the database's). MongoDB uses a compound
  // index's prefix for an equality on its first field; the embedded store needs a single-field
  // index for that (`only: 'embedded'`), and sorts in memory, so indexes that only serve a sort
  // are MongoDB's (`only: 'mongodb'`). Azure Cosmos DB for MongoDB (RU) wants an index with
  // exactly a sort's fields for every sort (docs/deployment.md): those end in _id.
  async init(): Promise<void> {
    // A user's assignments (my access, eligibility and separation-of-duties checks).
    await this.collection.ensureIndex({ name: 'userId_1_packageId_1', fields: ['userId', 'packageId'] });
    await this.collection.ensureIndex({ name: 'userId_1', fields: ['userId'], only: 'embedded' });
    await this.collection.ensureIndex({ name: 'packageId_1_state_1', fields: ['packageId', 'state'] });
    // Expiry scans read only what is due, soonest first: cost follows the number due, not the total.
    await this.collection.ensureIndex({ name: 'expiresAt_1', fields: ['expiresAt'], sparse: true });
    // Admin lists and exports of a package's assignments, newest first: MongoDB walks this
    // index backwards (no sort stage); the embedded store reads the package's single index.
    await this.collection.ensureIndex({ name: 'packageId_1_createdAt_1__id_1', fields: ['packageId', 'createdAt', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'packageId_1', fields: ['packageId'], only: 'embedded' });
    // Sorts as Cosmos DB RU needs them served: newest first (pages), most recently changed first (digest).
    await this.collection.ensureIndex({ name: 'createdAt_1__id_1', fields: ['createdAt', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'updatedAt_1', fields: ['updatedAt'], only: 'mongodb' });
    // The lifecycle job's due scan: a range on this one field, so it costs what is due, not the
    // collection. Not sparse: NeDB leaves Date values out of a sparse index (it takes a Date
    // for an empty object), so a range query on one finds nothing. A database made while it
    // was sparse gets it rebuilt at start-up (schema.ts).
    await this.collection.ensureIndex({ name: 'lifecycleCheckAt_1', fields: ['lifecycleCheckAt'] });
  }

  /** Stores a new assignment, with `audit` recorded as part of it. */
  async insert(assignment: Assignment, audit?: NewAuditEvent): Promise<void> {
    const event = audit && this.pendingAudit.prepare(audit);
    await this.collection.insert({ ...toDoc(assignment), ...(event ? { pendingAudit: [event] } : {}) });
    if (event) await this.pendingAudit.settle(assignment.id, event);
  }

  async get(id: string): Promise<Assignment | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  /** Every assignment, for reconciliation (a full check is what is asked, so it reads them all). */
  async listAll(): Promise<Assignment[]> {
    return fromDocs(await this.collection.find({}));
  }

  /** The user's active assignments, latest start first. */
  async listActiveForUser(userId: string): Promise<Assignment[]> {
    // A handful per user, all of them read: sorted here rather than by the store, which would
    // need an index on startAt for the sort alone (Azure Cosmos DB RU refuses unindexed sorts).
    const docs = await this.collection.find({ userId, state: { $in: [...ACTIVE_ASSIGNMENT_STATES] } });
    return fromDocs(docs).sort((a, b) => b.startAt.getTime() - a.startAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  async countActiveForPackage(packageId: string): Promise<number> {
    return this.collection.count({ packageId, state: { $in: [...ACTIVE_ASSIGNMENT_STATES] } });
  }

  /**
   * Leases up to `max` assignments whose lifecycle check is due: those whose expiry has come
   * first (removal never waits behind warnings), then earliest check first. One query finds
   * candidates; each is then claimed by id under the same conditions (and the check it was due
   * at), so one another instance took meanwhile is skipped.
   */
  async claimLifecycleDue(now: Date, leaseMs: number, max: number): Promise<Assignment[]> {
    // lifecycleCheckAt last: the embedded store serves a query from its last indexed range.
    const due = (expiredOnly: boolean) => ({
      ...(expiredOnly ? { expiresAt: { $lte: now } } : {}),
      $or: [{ lifecycleLeaseUntil: { $exists: false } }, { lifecycleLeaseUntil: { $lte: now } }],
      lifecycleCheckAt: { $lte: now },
    });
    const claimed: Assignment[] = [];
    for (const expiredOnly of [true, false]) {
      if (claimed.length >= max) break;
      const candidates = await this.collection.find(due(expiredOnly), { sort: { lifecycleCheckAt: 1 }, limit: max - claimed.length });
      for (const candidate of candidates) {
        const doc = await this.collection.findOneAndUpdate(
          { ...due(expiredOnly), _id: candidate._id, lifecycleCheckAt: candidate.lifecycleCheckAt as Date },
          { $set: { lifecycleLeaseUntil: new Date(now.getTime() + leaseMs) } },
        );
        if (doc) claimed.push(fromDoc(doc));
      }
    }
    return claimed;
  }

  /**
   * Extends the claim on an assignment being checked (heartbeat), if it is still the one this
   * run made: its lease is the token. Updates `assignment.lifecycleLeaseUntil` to the new token.
   */
  async renewLifecycleLease(assignment: Assignment, leaseMs: number, now: Date): Promise<boolean> {
    if (!assignment.lifecycleLeaseUntil) return false;
    const until = new Date(now.getTime() + leaseMs);
    const renewed = await this.collection.updateOne({ _id: assignment.id, lifecycleLeaseUntil: assignment.lifecycleLeaseUntil }, { $set: { lifecycleLeaseUntil: until } });
    if (renewed === 1) assignment.lifecycleLeaseUntil = until;
    return renewed === 1;
  }

  /** The earliest lifecycle check due before `horizon` that nobody holds (or whose claim ran out), if any. */
  async nextLifecycleCheckAt(now: Date, horizon: Date): Promise<Date | null> {
    const [next] = await this.collection.find(
      { $or: [{ lifecycleLeaseUntil: { $exists: false } }, { lifecycleLeaseUntil: { $lte: now } }], lifecycleCheckAt: { $lte: horizon } },
      { sort: { lifecycleCheckAt: 1 }, limit: 1, fields: ['lifecycleCheckAt'] },
    );
    const held = await this.collection.find({ lifecycleLeaseUntil: { $gt: now }, lifecycleCheckAt: { $lte: horizon } }, { limit: 50, fields: ['lifecycleLeaseUntil'] });
    const times = [next?.lifecycleCheckAt, ...held.map((d) => d.lifecycleLeaseUntil)].filter((d): d is Date => d instanceof Date);
    return times.length > 0 ? new Date(Math.min(...times.map((d) => d.getTime()))) : null;
  }

  /**
   * Frees every lifecycle claim. Only for a store one process owns (the embedded store): at
   * start-up a claim found there was this process's before it died. Returns how many.
   */
  async releaseLifecycleLeases(): Promise<number> {
    return this.collection.updateMany({ lifecycleLeaseUntil: { $exists: true } }, { $unset: { lifecycleLeaseUntil: true } });
  }

  /** Active, expiring assignments the lifecycle job has never planned (made before it existed). */
  async listUnplanned(limit: number): Promise<Assignment[]> {
    return fromDocs(
      await this.collection.find(
        { expiresAt: { $exists: true }, lifecycleCheckAt: { $exists: false }, endReason: { $exists: false }, state: { $in: [...ACTIVE_ASSIGNMENT_STATES] } },
        { limit },
      ),
    );
  }

  /** Active assignments expiring in [from, to), soonest first (the expiresAt index bounds the scan). */
  async listExpiringBetween(from: Date, to: Date, limit = 5000): Promise<Assignment[]> {
    return fromDocs(
      await this.collection.find({ expiresAt: { $gte: from, $lt: to }, state: { $in: [...ACTIVE_ASSIGNMENT_STATES] } }, { sort: { expiresAt: 1 }, limit }),
    );
  }

  /**
   * One package's assignments in one state, most recently changed first. Equality on both
   * fields, so both stores answer from the (packageId, state) index.
   */
  async listForPackageInState(packageId: string, state: Assignment['state'], limit = 200): Promise<Assignment[]> {
    return fromDocs(await this.collection.find({ packageId, state }, { sort: { updatedAt: -1 }, limit }));
  }

  /**
   * Applies `update` if the assignment still matches `precondition`; `audit` is recorded with
   * the change, in the same write (see pendingAudit.ts), and only if it happens.
   */
  async update(id: string, precondition: Record<string, unknown>, update: Update, audit?: NewAuditEvent): Promise<Assignment | null> {
    const doc = await this.pendingAudit.findOneAndUpdate(id, precondition, update, audit);
    return doc ? fromDoc(doc) : null;
  }

  /** One page of a package's assignments in the given states (all when absent), newest first. */
  async listForPackage(packageId: string, options: { states?: readonly AssignmentState[]; skip: number; limit: number }): Promise<Assignment[]> {
    return fromDocs(await this.collection.find(packageFilter(packageId, options.states), { sort: { createdAt: -1, _id: -1 }, skip: options.skip, limit: options.limit }));
  }

  async countForPackage(packageId: string, states?: readonly AssignmentState[]): Promise<number> {
    return this.collection.count(packageFilter(packageId, states));
  }
}

function packageFilter(packageId: string, states: readonly AssignmentState[] | undefined): Filter {
  if (!states) return { packageId };
  return states.length === 1 ? { packageId, state: states[0] } : { packageId, state: { $in: [...states] } };
}
