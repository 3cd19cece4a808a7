import type { AdminOverride, Catalog } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';
import { enabledIs, switchUpdate } from './switches';
import { type Doc, fromDoc, fromDocs, toDoc } from './documents';

export class CatalogRepository {
  private readonly collection: Collection<Doc<Catalog>>;

  constructor(store: DocumentStore) {
    this.collection = store.collection<Doc<Catalog>>('catalogs');
  }

  async init(): Promise<void> {}

  async get(id: string): Promise<Catalog | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async list(): Promise<Catalog[]> {
    return fromDocs(await this.collection.find({}, { sort: { displayName: 1 } }));
  }

  async save(catalog: Catalog): Promise<void> {
    await this.collection.replace(toDoc(catalog), { upsert: true });
  }

  async setEnabled(id: string, enabled: boolean): Promise<boolean> {
    return (await this.collection.updateOne({ _id: id }, { $set: { enabled } })) === 1;
  }

  /**
   * An admin's enable/disable: written only while `enabled` is still `expected`, so two admins
   * switching at once change it once. `override` null clears a recorded override.
   */
  async switchEnabled(id: string, expected: boolean, enabled: boolean, override: AdminOverride | null): Promise<boolean> {
    return (await this.collection.updateOne({ _id: id, ...enabledIs(expected) }, switchUpdate(enabled, override))) === 1;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.collection.delete({ _id: id })) === 1;
  }
}
