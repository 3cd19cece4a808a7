// The port through which services tell people things. Services never talk to Teams: they
// queue a card for a user (durably, as a task); the bot layer's notifier delivers it,
// paced, and remembers where it went so the same card can be updated in place later.

/** A card by template name (cards/<template>.json) and the plain JSON data it binds. */
export interface OutgoingCard {
  template: string;
  data: Record<string, unknown>;
}

export interface SendOptions {
  /** Makes queuing idempotent: a second send with the same key is not queued. */
  key?: string;
  /** Remembers the sent message under this name so `update` can replace it later. */
  trackAs?: string;
}

/** A Teams channel to post into: each card is a new post, not a reply. */
export interface ChannelAddress {
  /** Conversation reference whose conversation.id is the channel id (no ;messageid=). */
  reference: Record<string, unknown>;
  /** For logs and messages, e.g. "General (IT admins)". */
  label: string;
  /** Names what the channel stands for (e.g. which binding); handed back if it can't be reached. */
  tag?: string;
}

export interface Notifications {
  /** Queues a card to the user's personal chat with the bot (created if there is none yet). */
  send(userId: string, card: OutgoingCard, options?: SendOptions): Promise<void>;
  /** Queues a new post in a Teams channel; `key` makes it idempotent as for `send`. */
  sendToChannel(channel: ChannelAddress, card: OutgoingCard, options?: { key?: string }): Promise<void>;
  /** Queues an in-place update of a card sent with `trackAs`; nothing happens if none was. */
  update(trackAs: string, card: OutgoingCard): Promise<void>;
}

// Task type names, lanes and priorities: domain/taskTypes.ts.
export { NOTIFY_TASKS } from '../domain/taskTypes';
