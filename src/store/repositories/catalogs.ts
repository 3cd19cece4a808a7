import type { Catalog } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';
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

  async delete(id: string): Promise<boolean> {
    return (await this.collection.delete({ _id: id })) === 1;
  }
}
