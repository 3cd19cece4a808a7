import { randomBytes } from 'node:crypto';
import type { AuditEvent } from '../../domain/model';
import type { Collection, DocumentStore, Filter } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'at'>;

export interface AuditQuery {
  packageId?: string;
  userId?: string;
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

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['at'] });
    await this.collection.ensureIndex({ fields: ['packageId', 'at'] });
    await this.collection.ensureIndex({ fields: ['userId', 'at'] });
    // One kind of event in a time range (the admin digest's escalations).
    await this.collection.ensureIndex({ fields: ['action', 'at'] });
  }

  async append(event: NewAuditEvent): Promise<AuditEvent> {
    const at = this.now();
    const stored: AuditEvent = { id: auditId(at), at, ...event };
    await this.collection.insert(toDoc(stored));
    return stored;
  }

  /** Events of one action in [from, to), oldest first. */
  async listAction(action: string, from: Date, to: Date, limit = 1000): Promise<AuditEvent[]> {
    const docs = await this.collection.find({ action, at: { $gte: from, $lt: to } }, { sort: { at: 1, _id: 1 }, limit });
    return docs.map((d) => fromDoc<AuditEvent>(d));
  }

  async query(query: AuditQuery = {}): Promise<AuditEvent[]> {
    const filter: Filter = {};
    if (query.packageId) filter.packageId = query.packageId;
    if (query.userId) filter.userId = query.userId;
    const at: Record<string, Date> = {};
    if (query.from) at.$gte = query.from;
    if (query.to) at.$lt = query.to;
    if (Object.keys(at).length > 0) filter.at = at;
    const docs = await this.collection.find(filter, { sort: { at: 1, _id: 1 }, limit: query.limit ?? 1000 });
    return docs.map((d) => fromDoc<AuditEvent>(d));
  }
}
