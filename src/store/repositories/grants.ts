import type { Grant, ResourceType } from '../../domain/model';
import { type Collection, type DocumentStore, DuplicateKeyError } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

export function grantKey(userId: string, originId: string, role: string): string {
  return `${userId}|${originId}|${role}`;
}

/** The grant ledger: which assignments hold each (user, resource, role). */
export class GrantRepository {
  private readonly collection: Collection<Doc<Grant>>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection<Doc<Grant>>('grants');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ name: 'userId_1', fields: ['userId'] });
  }

  async get(userId: string, originId: string, role: string): Promise<Grant | null> {
    const doc = await this.collection.findOne({ _id: grantKey(userId, originId, role) });
    return doc ? fromDoc(doc) : null;
  }

  async listForUser(userId: string): Promise<Grant[]> {
    return (await this.collection.find({ userId })).map((d) => fromDoc<Grant>(d));
  }

  /** Every ledger row, for reconciliation (a full check is what is asked, so it reads them all). */
  async listAll(): Promise<Grant[]> {
    return (await this.collection.find({})).map((d) => fromDoc<Grant>(d));
  }

  /** Creates the ledger row the first time a role is about to be granted to a user. */
  async open(row: { userId: string; resourceType: ResourceType; originId: string; role: string; preExisting: boolean }): Promise<Grant> {
    const existing = await this.get(row.userId, row.originId, row.role);
    if (existing) return existing;
    const grant: Grant = { id: grantKey(row.userId, row.originId, row.role), ...row, heldBy: [], updatedAt: this.now() };
    try {
      await this.collection.insert(toDoc(grant));
      return grant;
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      // Lost a race with another worker opening the same row: theirs stands.
      const winner = await this.get(row.userId, row.originId, row.role);
      if (!winner) throw error;
      return winner;
    }
  }

  async addHolder(key: string, assignmentId: string): Promise<Grant | null> {
    const doc = await this.collection.findOneAndUpdate({ _id: key }, { $addToSet: { heldBy: assignmentId }, $set: { updatedAt: this.now() } });
    return doc ? fromDoc(doc) : null;
  }

  async removeHolder(key: string, assignmentId: string): Promise<Grant | null> {
    const doc = await this.collection.findOneAndUpdate({ _id: key }, { $pull: { heldBy: assignmentId }, $set: { updatedAt: this.now() } });
    return doc ? fromDoc(doc) : null;
  }

  async delete(key: string): Promise<void> {
    await this.collection.delete({ _id: key });
  }
}
