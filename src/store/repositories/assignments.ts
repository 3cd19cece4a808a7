import { ACTIVE_ASSIGNMENT_STATES, type Assignment } from '../../domain/model';
import type { Collection, DocumentStore, Update } from '../port';
import { type Doc, fromDoc, fromDocs, toDoc } from './documents';

export class AssignmentRepository {
  private readonly collection: Collection<Doc<Assignment>>;

  constructor(store: DocumentStore) {
    this.collection = store.collection<Doc<Assignment>>('assignments');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['userId', 'packageId'] });
    await this.collection.ensureIndex({ fields: ['packageId', 'state'] });
    // Expiry scans read only what is due: cost follows the number due, not the total.
    await this.collection.ensureIndex({ fields: ['expiresAt'], sparse: true });
  }

  async insert(assignment: Assignment): Promise<void> {
    await this.collection.insert(toDoc(assignment));
  }

  async get(id: string): Promise<Assignment | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromDoc(doc) : null;
  }

  async listActiveForUser(userId: string): Promise<Assignment[]> {
    return fromDocs(
      await this.collection.find({ userId, state: { $in: [...ACTIVE_ASSIGNMENT_STATES] } }, { sort: { startAt: -1 } }),
    );
  }

  async countActiveForPackage(packageId: string): Promise<number> {
    return this.collection.count({ packageId, state: { $in: [...ACTIVE_ASSIGNMENT_STATES] } });
  }

  async update(id: string, precondition: Record<string, unknown>, update: Update): Promise<Assignment | null> {
    const doc = await this.collection.findOneAndUpdate({ ...precondition, _id: id }, update);
    return doc ? fromDoc(doc) : null;
  }
}
