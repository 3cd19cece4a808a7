import { ACTIVE_ASSIGNMENT_STATES, type Assignment, type AssignmentState } from '../../domain/model';
import type { Collection, DocumentStore, Filter, Update } from '../port';
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
    // Admin lists and exports of a package's assignments, newest first (see requests.ts).
    await this.collection.ensureIndex({ fields: ['packageId', 'createdAt'] });
    await this.collection.ensureIndex({ fields: ['packageId'] });
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

  /** One page of a package's assignments in the given states (all when absent), newest first. */
  async listForPackage(packageId: string, options: { states?: readonly AssignmentState[]; skip: number; limit: number }): Promise<Assignment[]> {
    return fromDocs(await this.collection.find(packageFilter(packageId, options.states), { sort: { createdAt: -1, _id: -1 }, skip: options.skip, limit: options.limit }));
  }

  async countForPackage(packageId: string, states?: readonly AssignmentState[]): Promise<number> {
    return this.collection.count(packageFilter(packageId, states));
  }
}

function packageFilter(packageId: string, states: readonly AssignmentState[] | undefined): Filter {
  if (!states) return { packageId };
  return states.length === 1 ? { packageId, state: states[0] } : { packageId, state: { $in: [...states] } };
}
