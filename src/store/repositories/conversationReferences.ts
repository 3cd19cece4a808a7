import type { ConversationRef } from '../../domain/model';
import { type Collection, type DocumentStore, DuplicateKeyError } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

/** Where to reach each user proactively: the 1:1 conversation reference, keyed by Entra object id. */
export class ConversationReferenceRepository {
  private readonly collection: Collection<Doc<ConversationRef>>;
  private readonly welcomes: Collection<{ _id: string; at: Date }>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection<Doc<ConversationRef>>('conversationReferences');
    this.welcomes = store.collection('welcomes');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['tenantId', 'updatedAt'] });
  }

  async save(ref: ConversationRef): Promise<void> {
    await this.collection.replace(toDoc(ref), { upsert: true });
  }

  async get(userId: string): Promise<ConversationRef | null> {
    const doc = await this.collection.findOne({ _id: userId });
    return doc ? fromDoc(doc) : null;
  }

  /**
   * The most recently stored reference (in `tenantId` when given): the bot's serviceUrl and
   * account are the same for every user of a tenant, so any one will do to open a chat with a
   * user the bot has never talked to.
   */
  async latest(tenantId?: string): Promise<ConversationRef | null> {
    const [doc] = await this.collection.find(tenantId ? { tenantId } : {}, { sort: { updatedAt: -1 }, limit: 1 });
    return doc ? fromDoc(doc) : null;
  }

  /**
   * Drops a user's reference that points at a conversation Teams no longer knows. Only if it
   * still points there: a fresh reference saved meanwhile (the user wrote) is kept.
   */
  async forget(userId: string, conversationId: string): Promise<boolean> {
    return (await this.collection.delete({ _id: userId, 'reference.conversation.id': conversationId })) === 1;
  }

  /** True the first time it is called for a conversation (atomically, across instances). */
  async markWelcomed(conversationId: string): Promise<boolean> {
    try {
      await this.welcomes.insert({ _id: conversationId, at: this.now() });
      return true;
    } catch (error) {
      if (error instanceof DuplicateKeyError) return false;
      throw error;
    }
  }
}
