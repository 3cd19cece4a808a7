import type { AccessPackage } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';
import { type Doc, fromDoc, fromDocs, toDoc } from './documents';

export class PackageRepository {
  private readonly collection: Collection<Doc<AccessPackage>>;

  constructor(store: DocumentStore) {
    this.collection = store.collection<Doc<AccessPackage>>('accessPackages');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['catalog'] });
  }

  async get(id: string): Promise<AccessPackage | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async getMany(ids: string[]): Promise<AccessPackage[]> {
    if (ids.length === 0) return [];
    return fromDocs(await this.collection.find({ _id: { $in: ids } }, { sort: { displayName: 1 } }));
  }

  async list(): Promise<AccessPackage[]> {
    return fromDocs(await this.collection.find({}, { sort: { displayName: 1 } }));
  }

  async listByCatalog(catalogId: string): Promise<AccessPackage[]> {
    return fromDocs(await this.collection.find({ catalog: catalogId }, { sort: { displayName: 1 } }));
  }

  async save(accessPackage: AccessPackage): Promise<void> {
    await this.collection.replace(toDoc(accessPackage), { upsert: true });
  }

  async delete(id: string): Promise<boolean> {
    return (await this.collection.delete({ _id: id })) === 1;
  }
}
