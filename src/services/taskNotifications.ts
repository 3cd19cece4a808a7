import type { TaskRepository } from '../store/repositories/tasks';
import { type ChannelAddress, NOTIFY_TASKS, type Notifications, type OutgoingCard, type SendOptions } from './notifications';

/** Notifications as durable tasks: queued with the state change, delivered by the notifier. */
export class TaskNotifications implements Notifications {
  constructor(private readonly tasks: TaskRepository) {}

  async send(userId: string, card: OutgoingCard, options: SendOptions = {}): Promise<void> {
    await this.tasks.enqueue({
      type: NOTIFY_TASKS.send,
      payload: { userId, card, ...(options.trackAs ? { trackAs: options.trackAs } : {}) },
      ...(options.key ? { dedupeKey: `${NOTIFY_TASKS.send}:${options.key}` } : {}),
    });
  }

  async sendToChannel(channel: ChannelAddress, card: OutgoingCard, options: { key?: string } = {}): Promise<void> {
    // The key travels along: if the channel can't be reached, the fallback derives its own keys from it.
    await this.tasks.enqueue({
      type: NOTIFY_TASKS.send,
      payload: { channel: { ...channel }, card, ...(options.key ? { key: options.key } : {}) },
      ...(options.key ? { dedupeKey: `${NOTIFY_TASKS.send}:${options.key}` } : {}),
    });
  }

  async update(trackAs: string, card: OutgoingCard): Promise<void> {
    // Updates are not de-duplicated: the latest one queued is the one that shows last.
    await this.tasks.enqueue({ type: NOTIFY_TASKS.update, payload: { trackAs, card } });
  }
}
