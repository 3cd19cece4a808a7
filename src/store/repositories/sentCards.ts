import type { Collection, DocumentStore } from '../port';
import { type Doc, fromDoc, toDoc } from './documents';

/** A card the notifier sent under a `trackAs` name, so a later update can replace it in place. */
export interface SentCard {
  /** The `trackAs` name. */
  id: string;
  userId: string;
  conversationId: string;
  /** The connector's id of the message, needed to update it. */
  activityId: string;
  /** The Bot Framework ConversationReference the message went out on. */
  reference: Record<string, unknown>;
  /** The task that sent it: a send retried after its outcome was lost is not sent twice. */
  sentByTaskId: string;
  /**
   * When the card now showing was queued (the creating task's createdAt). An update queued
   * before that is stale and is skipped, so a retried old update can't hide a newer one.
   */
  cardQueuedAt: Date;
  sentAt: Date;
  updatedAt: Date;
}

/** What the notifier remembers about messages it sent. */
export class SentCardRepository {
  private readonly collection: Collection<Doc<SentCard>>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection('sentCards');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ name: 'userId_1', fields: ['userId'] });
  }

  async get(trackAs: string): Promise<SentCard | null> {
    const doc = await this.collection.findOne({ _id: trackAs });
    return doc ? fromDoc<SentCard>(doc) : null;
  }

  /** Remembers (or, for the same name sent again, replaces) a sent card. */
  async record(card: Omit<SentCard, 'sentAt' | 'updatedAt'>): Promise<void> {
    const now = this.now();
    await this.collection.replace(toDoc<SentCard>({ ...card, sentAt: now, updatedAt: now }), { upsert: true });
  }

  /** Notes that the card queued at `queuedAt` now shows, unless a newer one already does. */
  async markUpdated(trackAs: string, queuedAt: Date): Promise<boolean> {
    const changed = await this.collection.updateOne(
      { _id: trackAs, cardQueuedAt: { $lte: queuedAt } },
      { $set: { cardQueuedAt: queuedAt, updatedAt: this.now() } },
    );
    return changed === 1;
  }

  async delete(trackAs: string): Promise<void> {
    await this.collection.delete({ _id: trackAs });
  }
}
