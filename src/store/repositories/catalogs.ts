import type { AdminOverride, Catalog } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';
import type { AuditRepository, NewAuditEvent } from './audit';
import { enabledIs, switchUpdate } from './switches';
import { type Doc, fromDoc as fromStoredDoc, toDoc } from './documents';
import { PendingAudit, type WithPendingAudit, withoutPendingAudit } from './pendingAudit';

type CatalogDoc = WithPendingAudit<Doc<Catalog>>;

function fromDoc(doc: CatalogDoc): Catalog {
  return fromStoredDoc<Catalog>(withoutPendingAudit(doc));
}

export class CatalogRepository {
  private readonly collection: Collection<CatalogDoc>;
  private readonly pendingAudit: PendingAudit<CatalogDoc>;

  constructor(store: DocumentStore, audit: Pick<AuditRepository, 'prepare' | 'record'>) {
    this.collection = store.collection<CatalogDoc>('catalogs');
    this.pendingAudit = new PendingAudit(this.collection, audit);
  }

  /** Records the audit events a crash left on catalogs (start-up); returns how many. */
  async settlePendingAudit(): Promise<number> {
    return this.pendingAudit.settleAll();
  }

  async init(): Promise<void> {
    // Catalogs in display order (Azure Cosmos DB RU refuses the sort without it).
    await this.collection.ensureIndex({ name: 'displayName_1__id_1', fields: ['displayName', '_id'], only: 'mongodb' });
  }

  async get(id: string): Promise<Catalog | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async list(): Promise<Catalog[]> {
    return (await this.collection.find({}, { sort: { displayName: 1, _id: 1 } })).map(fromDoc);
  }

  async save(catalog: Catalog): Promise<void> {
    await this.collection.replace(toDoc(catalog), { upsert: true });
  }

  async setEnabled(id: string, enabled: boolean): Promise<boolean> {
    return (await this.collection.updateOne({ _id: id }, { $set: { enabled } })) === 1;
  }

  /**
   * An admin's enable/disable: written only while `enabled` is still `expected`, so two admins
   * switching at once change it once. `override` null clears a recorded override. `audit` is
   * recorded with the change (see pendingAudit.ts).
   */
  async switchEnabled(id: string, expected: boolean, enabled: boolean, override: AdminOverride | null, audit?: NewAuditEvent): Promise<boolean> {
    return (await this.pendingAudit.updateOne(id, enabledIs(expected), switchUpdate(enabled, override), audit)) === 1;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.collection.delete({ _id: id })) === 1;
  }
}
