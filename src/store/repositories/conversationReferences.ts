import type { BotAddress, ConversationRef } from '../../domain/model';
import { type Collection, type DocumentStore, DuplicateKeyError, type StoredDocument } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

/** Where to reach each user proactively: the 1:1 conversation reference, keyed by Entra object id. */
export class ConversationReferenceRepository {
  private readonly collection: Collection<Doc<ConversationRef>>;
  private readonly welcomes: Collection<{ _id: string; at: Date }>;
  private readonly botAddresses: Collection<BotAddressDoc>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection<Doc<ConversationRef>>('conversationReferences');
    this.welcomes = store.collection('welcomes');
    this.botAddresses = store.collection<BotAddressDoc>('botAddresses');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ name: 'tenantId_1_updatedAt_1', fields: ['tenantId', 'updatedAt'] });
    // The most recently recorded address (no tenant configured): also serves that sort on Cosmos DB RU.
    await this.botAddresses.ensureIndex({ name: 'updatedAt_1', fields: ['updatedAt'] });
  }

  async save(ref: ConversationRef): Promise<void> {
    await this.collection.replace(toDoc(ref), { upsert: true });
  }

  async get(userId: string): Promise<ConversationRef | null> {
    const doc = await this.collection.findOne({ _id: userId });
    return doc ? fromDoc(doc) : null;
  }

  /** Records the bot's address in a tenant (one per tenant, the latest wins). */
  async saveBotAddress(address: BotAddress): Promise<void> {
    await this.botAddresses.replace({ _id: botAddressKey(address.tenantId), ...address }, { upsert: true });
  }

  /**
   * The bot's recorded address in `tenantId`; with no tenant given (none configured), the most
   * recently recorded one. Never another user's conversation reference: those name wherever
   * that user's activity said it came from.
   */
  async botAddress(tenantId?: string): Promise<BotAddress | null> {
    if (tenantId) {
      const doc = await this.botAddresses.findOne({ _id: botAddressKey(tenantId) });
      return doc ? withoutKey(doc) : null;
    }
    const [doc] = await this.botAddresses.find({}, { sort: { updatedAt: -1 }, limit: 1 });
    return doc ? withoutKey(doc) : null;
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

/** Tenant ids are GUIDs, compared without regard to case. */
function botAddressKey(tenantId: string): string {
  return tenantId.toLowerCase();
}

type BotAddressDoc = BotAddress & StoredDocument;

function withoutKey(doc: BotAddressDoc): BotAddress {
  const { _id: _key, ...address } = doc;
  return address;
}
