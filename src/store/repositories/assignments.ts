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

  async update(id: string, precondition: Record<string, unknown>, update: Update): Promise<Assignment | null> {
    const doc = await this.collection.findOneAndUpdate({ ...precondition, _id: id }, update);
    return doc ? fromDoc(doc) : null;
  }
}
