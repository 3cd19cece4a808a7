import { randomBytes } from 'node:crypto';
import type { AuditEvent } from '../../domain/model';
import { type Collection, type DocumentStore, DuplicateKeyError, type Filter } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'>;

export interface AuditQuery {
  packageId?: string;
  userId?: string;
  requestId?: string;
  assignmentId?: string;
  /** Events done by this user (actorId) or about them (userId). */
  involving?: string;
  from?: Date;
  to?: Date;
  limit?: number;
}

let sequence = 0;

/**
 * Ids sort in the order events were appended: the time, then a per-process sequence for events
 * in the same millisecond, then randomness so instances never clash.
 */
function auditId(at: Date): string {
  sequence = (sequence + 1) % 1_000_000;
  return `${at.getTime().toString().padStart(15, '0')}-${sequence.toString().padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
}

/** Append-only: this repository offers no update and no delete. */
export class AuditRepository {
  private readonly collection: Collection<Doc<AuditEvent>>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection<Doc<AuditEvent>>('auditEvents');
  }

  // Every read sorts by (at, _id) and is limited: on MongoDB each filter has a compound index
  // ending in (at, _id), so the newest N events of a package or a person cost N index entries,
  // with no sort stage. The embedded store uses single-field indexes (and sorts in memory).
  async init(): Promise<void> {
    // The whole log by time (audit without a subject, the widening windows of latest()); also
    // the sort on (at, _id) as Azure Cosmos DB RU needs it served.
    await this.collection.ensureIndex({ name: 'at_1__id_1', fields: ['at', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'at_1', fields: ['at'], only: 'embedded' });
    // A package's or a person's events (as subject, or as actor: admin "audit user x").
    await this.collection.ensureIndex({ name: 'packageId_1_at_1__id_1', fields: ['packageId', 'at', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'userId_1_at_1__id_1', fields: ['userId', 'at', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'actorId_1_at_1__id_1', fields: ['actorId', 'at', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'packageId_1', fields: ['packageId'], sparse: true, only: 'embedded' });
    await this.collection.ensureIndex({ name: 'userId_1', fields: ['userId'], sparse: true, only: 'embedded' });
    await this.collection.ensureIndex({ name: 'actorId_1', fields: ['actorId'], only: 'embedded' });
    // The history of one request or assignment (admin "show"): a few events, sorted after.
    await this.collection.ensureIndex({ name: 'requestId_1', fields: ['requestId'], sparse: true });
    await this.collection.ensureIndex({ name: 'assignmentId_1', fields: ['assignmentId'], sparse: true });
    // One kind of event in a time range (the admin digest's escalations).
    await this.collection.ensureIndex({ name: 'action_1_at_1__id_1', fields: ['action', 'at', '_id'], only: 'mongodb' });
  }

  async append(event: NewAuditEvent): Promise<AuditEvent> {
    const stored = this.prepare(event);
    await this.record(stored);
    return stored;
  }

  /** The event with its id and time fixed now, to be recorded later (see pendingAudit.ts). */
  prepare(event: NewAuditEvent): AuditEvent {
    const at = this.now();
    return { id: auditId(at), at, ...event };
  }

  /** Records a prepared event; recording the same event again changes nothing. */
  async record(event: AuditEvent): Promise<void> {
    try {
      await this.collection.insert(toDoc(event));
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
    }
  }

  /** Matching events, oldest first (at most `limit`, default 1000). */
  /** Events of one action in [from, to), oldest first. */
  async listAction(action: string, from: Date, to: Date, limit = 1000): Promise<AuditEvent[]> {
    const docs = await this.collection.find({ action, at: { $gte: from, $lt: to } }, { sort: { at: 1, _id: 1 }, limit });
    return docs.map((d) => fromDoc<AuditEvent>(d));
  }

  async query(query: AuditQuery = {}): Promise<AuditEvent[]> {
    return this.find(query, 1, query.limit ?? 1000);
  }

  /**
   * The newest `limit` matching events, newest first. Without a package, user, request or
   * assignment to narrow by, the time index is read in widening windows back from `to` (or
   * now), so the newest few events cost what they are, not the whole log.
   */
  async latest(query: Omit<AuditQuery, 'limit'>, limit: number): Promise<AuditEvent[]> {
    const narrowed = query.packageId || query.userId || query.requestId || query.assignmentId || query.involving;
    if (!narrowed) {
      const end = query.to ?? this.now();
      for (const days of LATEST_WINDOWS_DAYS) {
        const start = new Date(end.getTime() - days * MS_PER_DAY);
        if (query.from && start.getTime() <= query.from.getTime()) break;
        const events = await this.find({ ...query, from: start }, -1, limit);
        if (events.length >= limit) return events;
      }
      // Fewer than `limit` in the last year: the whole range asked for.
    }
    return this.find(query, -1, limit);
  }

  /**
   * Whether any event names this package or user (as subject or actor): one deleted from the
   * catalog or the directory still has its history.
   */
  async mentions(field: 'packageId' | 'userId', value: string): Promise<boolean> {
    if ((await this.collection.findOne({ [field]: value })) !== null) return true;
    return field === 'userId' && (await this.collection.findOne({ actorId: value })) !== null;
  }

  /**
   * "Involving" is two index-backed reads (as actor, as subject) merged, rather than an $or
   * the embedded store would answer by scanning every event.
   */
  private async find(query: AuditQuery, direction: 1 | -1, limit: number): Promise<AuditEvent[]> {
    const sort = { at: direction, _id: direction };
    const { involving, ...rest } = query;
    if (involving === undefined) return (await this.collection.find(auditFilter(rest), { sort, limit })).map((d) => fromDoc<AuditEvent>(d));
    const [asActor, asSubject] = await Promise.all([
      this.collection.find({ ...auditFilter(rest), actorId: involving }, { sort, limit }),
      this.collection.find({ ...auditFilter(rest), userId: involving }, { sort, limit }),
    ]);
    const merged = new Map<string, Doc<AuditEvent>>();
    for (const doc of [...asActor, ...asSubject]) merged.set(doc._id, doc);
    // Ids sort as the events were appended (see auditId), so they order the merge.
    return [...merged.values()]
      .sort((a, b) => direction * (a._id < b._id ? -1 : a._id > b._id ? 1 : 0))
      .slice(0, limit)
      .map((d) => fromDoc<AuditEvent>(d));
  }
}

const MS_PER_DAY = 24 * 60 * 60 * 1000;
const LATEST_WINDOWS_DAYS = [1, 7, 31, 366];

function auditFilter(query: AuditQuery): Filter {
  const filter: Filter = {};
  if (query.packageId) filter.packageId = query.packageId;
  if (query.userId) filter.userId = query.userId;
  if (query.requestId) filter.requestId = query.requestId;
  if (query.assignmentId) filter.assignmentId = query.assignmentId;
  const at: Record<string, Date> = {};
  if (query.from) at.$gte = query.from;
  if (query.to) at.$lt = query.to;
  if (Object.keys(at).length > 0) filter.at = at;
  return filter;
}
