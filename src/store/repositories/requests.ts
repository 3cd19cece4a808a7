import type { AccessRequest, RequestState } from '../../domain/model';
import type { Collection, DocumentStore, Update } from '../port';
import { type Doc, fromDoc, fromDocs, toDoc } from './documents';

export const OPEN_REQUEST_STATES: readonly RequestState[] = ['pendingApproval', 'scheduled', 'delivering'];

export class RequestRepository {
  private readonly collection: Collection<Doc<AccessRequest>>;

  constructor(store: DocumentStore) {
    this.collection = store.collection<Doc<AccessRequest>>('requests');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['targetUserId', 'createdAt'] });
    await this.collection.ensureIndex({ fields: ['packageId', 'state'] });
  }

  async insert(request: AccessRequest): Promise<void> {
    await this.collection.insert(toDoc(request));
  }

  async get(id: string): Promise<AccessRequest | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async listForUser(userId: string, limit = 20): Promise<AccessRequest[]> {
    return fromDocs(await this.collection.find({ targetUserId: userId }, { sort: { createdAt: -1 }, limit }));
  }

  async countOpenForPackage(packageId: string): Promise<number> {
    return this.collection.count({ packageId, state: { $in: [...OPEN_REQUEST_STATES] } });
  }

  /**
   * Atomic state transition: applies `update` only if the request is still in `from`.
   * Returns the request after the update, or null when it had already moved on.
   */
  async transition(id: string, from: RequestState | readonly RequestState[], update: Update): Promise<AccessRequest | null> {
    const states = typeof from === 'string' ? [from] : [...from];
    const doc = await this.collection.findOneAndUpdate({ _id: id, state: { $in: states } }, update);
    return doc ? fromDoc(doc) : null;
  }
}
