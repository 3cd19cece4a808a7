// When a turn fails (the directory or the store is down, or any exception in a handler), the
// person still gets an answer: a card for a card action (Action.Execute and Action.Submit), a
// plain apology for a typed message. Each failure is logged once, as one structured error line
// whose reference the answer shows. The words are in failureViews.ts.

import type { TurnContext } from 'botbuilder';
import { DirectoryError } from '../directory/port';
import type { Logger } from '../logger';
import { readableId } from '../services/ids';
import { StoreUnavailableError } from '../store/port';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import { type FailureKind, type FailureNotice, type RetryAction, failureCard, failureText } from './failureViews';

/** Wrapped errors are looked through this deep (services may wrap a port's error as `cause`). */
const MAX_CAUSE_DEPTH = 5;

/** What kind of failure an error is, looking through its causes for a port's error. */
export function classifyFailure(error: unknown): FailureKind {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current instanceof Error; depth++) {
    if (current instanceof DirectoryError) {
      if (current.retryable) return 'directoryUnavailable';
      if (current.kind === 'forbidden') return 'directoryRefused';
      return 'unexpected';
    }
    if (current instanceof StoreUnavailableError) return 'storeUnavailable';
    current = current.cause;
  }
  return 'unexpected';
}

export class FailureAnswers {
  constructor(private readonly deps: { cards: CardRenderer; logger: Logger }) {}

  /** Logs the failure (once: callers answer it and don't rethrow) and names it for the answer. */
  record(context: TurnContext, error: unknown, verb?: string): FailureNotice {
    const notice: FailureNotice = { kind: classifyFailure(error), reference: readableId('ERR') };
    const { activity } = context;
    this.deps.logger.error(
      {
        err: error,
        failure: notice.kind,
        reference: notice.reference,
        activityType: activity.type,
        ...(activity.name ? { activityName: activity.name } : {}),
        ...(verb ? { verb } : {}),
        conversationType: activity.conversation?.conversationType,
      },
      'turn failed; the user was told',
    );
    return notice;
  }

  card(notice: FailureNotice, retry?: RetryAction): AdaptiveCardJson {
    return this.deps.cards.render('failure', failureCard(notice, retry));
  }

  text(notice: FailureNotice): string {
    return failureText(notice);
  }

  /**
   * Sends an answer the failure path owns. If even that can't be sent (the connector is down
   * too), it is logged as a warning under the same reference, not thrown again.
   */
  async send(notice: FailureNotice, answer: () => Promise<unknown>): Promise<void> {
    try {
      await answer();
    } catch (error) {
      this.deps.logger.warn({ err: error, reference: notice.reference }, 'could not send the failure answer');
    }
  }

  /**
   * The adapter's onTurnError: failures outside the bot's own handlers (middleware, or an
   * answer that couldn't be sent). A card action gets its card as the invoke response (not
   * botbuilder's bare 501), a message a plain apology; other activities are only logged.
   */
  async answerTurnError(context: TurnContext, error: unknown): Promise<void> {
    const { activity } = context;
    const notice = this.record(context, error);
    if (activity.type === 'invoke' && activity.name === 'adaptiveCard/action') {
      const body = { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: this.card(notice) };
      await this.send(notice, () => context.sendActivity({ type: 'invokeResponse', value: { status: 200, body } }));
    } else if (activity.type === 'message' && typeof activity.value === 'object' && activity.value !== null) {
      // Action.Submit: the card's data arrives as the message's value.
      await this.send(notice, () => context.sendActivity({ attachments: [this.deps.cards.attachment('failure', failureCard(notice))] }));
    } else if (activity.type === 'message') {
      await this.send(notice, () => context.sendActivity(this.text(notice)));
    }
  }
}
