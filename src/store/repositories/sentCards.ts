import type { ConversationRef, Task } from '../../domain/model';
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

/**
 * What the notifier remembers about messages it sent, plus the two reads (and one guarded
 * delete) of neighbouring collections it needs to decide what to do next.
 */
export class SentCardRepository {
  private readonly collection: Collection<Doc<SentCard>>;
  // Read here rather than through TaskRepository / ConversationReferenceRepository only
  // because those files are owned elsewhere; each query is small and says what it wants.
  private readonly tasks: Collection<Doc<Task>>;
  private readonly references: Collection<Doc<ConversationRef>>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection('sentCards');
    this.tasks = store.collection('tasks');
    this.references = store.collection('conversationReferences');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['userId'] });
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

  /** The unfinished task of `type` that will send the card tracked as `trackAs`, if any. */
  async pendingTaskFor(type: string, trackAs: string): Promise<Pick<Task, 'id' | 'dueAt'> | null> {
    const [doc] = await this.tasks.find({ type, state: 'pending', 'payload.trackAs': trackAs }, { sort: { dueAt: 1 }, limit: 1 });
    return doc ? { id: doc._id, dueAt: doc.dueAt } : null;
  }

  /**
   * The most recently stored conversation reference (in `tenantId` when given): the bot's
   * serviceUrl and account are the same for every user of a tenant, so any one will do to
   * open a chat with a user the bot has never talked to.
   */
  async latestReference(tenantId?: string): Promise<ConversationRef | null> {
    const [doc] = await this.references.find(tenantId ? { tenantId } : {}, { sort: { updatedAt: -1 }, limit: 1 });
    return doc ? fromDoc<ConversationRef>(doc) : null;
  }

  /**
   * Drops a user's stored reference that points at a conversation Teams no longer knows. Only
   * if it still points there: a fresh reference saved meanwhile (the user wrote) is kept.
   */
  async forgetReference(userId: string, conversationId: string): Promise<boolean> {
    return (await this.references.delete({ _id: userId, 'reference.conversation.id': conversationId })) === 1;
  }
}
