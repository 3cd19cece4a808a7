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

  async init(): Promise<void> {}

  async save(ref: ConversationRef): Promise<void> {
    await this.collection.replace(toDoc(ref), { upsert: true });
  }

  async get(userId: string): Promise<ConversationRef | null> {
    const doc = await this.collection.findOne({ _id: userId });
    return doc ? fromDoc(doc) : null;
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
