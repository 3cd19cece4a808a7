import type { AuditEvent } from '../../domain/model';
import type { Collection, Filter, StoredDocument, Update } from '../port';
import type { AuditRepository, NewAuditEvent } from './audit';

// Audit events written with the state change they record. Appending the event after the change
// is a second write, and a crash between the two (kill -9, power loss) left the change
// unaudited. So the event rides in the changed document itself, in the same atomic write
// (`pendingAudit`); it is then recorded in the audit log under the id it was given (recording
// it twice changes nothing) and taken off the document. At start-up, settleAll records what a
// crash left on documents.

export const PENDING_AUDIT_FIELD = 'pendingAudit';

export type WithPendingAudit<T> = T & { pendingAudit?: AuditEvent[] };

/** The document without its pending audit events: they are storage, not domain. */
export function withoutPendingAudit<T extends object>(doc: WithPendingAudit<T>): T {
  const { pendingAudit, ...rest } = doc;
  return rest as T;
}

export class PendingAudit<T extends StoredDocument> {
  constructor(
    private readonly collection: Collection<WithPendingAudit<T>>,
    private readonly audit: Pick<AuditRepository, 'prepare' | 'record'>,
  ) {}

  prepare(event: NewAuditEvent): AuditEvent {
    return this.audit.prepare(event);
  }

  /** `update` that also adds `event` to the document's pending audit events. */
  private withEvent(update: Update, event: AuditEvent): Update {
    return { ...update, $push: { ...(update.$push ?? {}), [PENDING_AUDIT_FIELD]: event } };
  }

  /** findOneAndUpdate of document `id` (while `filter` holds), recording `audit` with the change. */
  async findOneAndUpdate(id: string, filter: Filter, update: Update, audit?: NewAuditEvent): Promise<WithPendingAudit<T> | null> {
    const event = audit && this.prepare(audit);
    const doc = await this.collection.findOneAndUpdate({ ...filter, _id: id }, event ? this.withEvent(update, event) : update);
    if (doc && event) await this.settle(id, event);
    return doc;
  }

  /** updateOne of document `id` (while `filter` holds), recording `audit` with the change; 1 or 0. */
  async updateOne(id: string, filter: Filter, update: Update, audit?: NewAuditEvent): Promise<number> {
    const event = audit && this.prepare(audit);
    const changed = await this.collection.updateOne({ ...filter, _id: id }, event ? this.withEvent(update, event) : update);
    if (changed === 1 && event) await this.settle(id, event);
    return changed;
  }

  /** Records an event written with a change of document `id`, then takes it off the document. */
  async settle(id: string, event: AuditEvent): Promise<void> {
    await this.audit.record(event);
    await this.collection.updateOne({ _id: id }, { $pull: { [PENDING_AUDIT_FIELD]: { id: event.id } } });
  }

  /** Records every event a crash left on documents of this collection; returns how many. */
  async settleAll(): Promise<number> {
    let settled = 0;
    for (const doc of await this.collection.find({ [`${PENDING_AUDIT_FIELD}.0`]: { $exists: true } }, { fields: [PENDING_AUDIT_FIELD] })) {
      for (const event of doc.pendingAudit ?? []) {
        await this.settle(doc._id, event);
        settled++;
      }
    }
    return settled;
  }
}
