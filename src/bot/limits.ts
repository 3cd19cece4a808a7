// Per-person limits at the Teams edge (docs/limits.md): how many messages and card actions,
// and how many requests, one person may send per minute. Counted with rate-limiter-flexible
// in the store's counters (shared by every instance on MongoDB), in windows of the injected
// clock's minutes, so every instance (and every test) agrees on when a window ends.
import { createHash } from 'node:crypto';
import type { Activity, Middleware, TurnContext } from 'botbuilder';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { RateLimitCounters } from '../store/rateLimitCounters';
import type { CardRenderer } from './cards';
import { tooManyActivitiesCard, tooManyActivitiesText } from './limitViews';

export interface LimitSettings {
  /** Requests (new, extension, give back) per person per minute; 0: no limit. */
  requestsPerMinute: number;
  /** Messages and card actions per person per minute; 0: no limit. */
  activitiesPerMinute: number;
  /** Open requests per person; 0: no limit. */
  openRequests: number;
}

export const NO_LIMITS: LimitSettings = { requestsPerMinute: 0, activitiesPerMinute: 0, openRequests: 0 };

const WINDOW_MS = 60_000;
/** A counter that takes longer than this is treated as failed (the turn must not wait on it). */
const COUNTER_TIMEOUT_MS = 2_000;
/** After the shared counter failed, count in this instance this long before asking it again. */
const FAILURE_HOLD_MS = 10_000;
/** Store failures are logged at most this often per limit (a dead database must not flood the log). */
const FAILURE_LOG_INTERVAL_MS = 60_000;

export type Take =
  | { allowed: true; refund(): Promise<void> }
  | {
      allowed: false;
      /** Until the person's window ends. */
      retryAfterMs: number;
      /** The refusal that crossed the limit: once per person and window, across instances. */
      first: boolean;
    };

const ALLOWED: Take = { allowed: true, refund: () => Promise.resolve() };

/** Who "a person" is: the Entra object id Teams authenticated, else the channel account id. */
export function personOf(activity: Partial<Activity>): string {
  return activity.from?.aadObjectId || activity.from?.id || '(unknown)';
}

/** A person's key in the counters: long ids are hashed, so a crafted one can't make a huge key. */
function personKey(person: string): string {
  return person.length <= 128 ? person : `sha256:${createHash('sha256').update(person).digest('hex')}`;
}

/**
 * At most `perMinute` takes per person in each minute of the clock (0: unlimited).
 *
 * When the shared counter fails (MongoDB unreachable or slower than 2 s) the limit is counted in
 * this process's memory instead, for 10 s before the shared counter is tried again, with a
 * warning: it fails open to a per-instance limit rather than locking everyone out (closed) or
 * letting a flood through unchecked (fully open). Real time, not the injected clock: this is
 * about the database's health, not the person's window.
 */
export class PerMinuteLimit {
  private readonly counter: RateLimiterAbstract | undefined;
  private readonly local: RateLimiterMemory | undefined;
  private lastFailureLog = Number.NEGATIVE_INFINITY;
  private sharedFailedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly name: string,
    readonly perMinute: number,
    private readonly counters: RateLimitCounters,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: { blockInMemoryWhenOver?: boolean } = {},
  ) {
    if (perMinute <= 0) return;
    const counter = counters.create({ name, points: perMinute, durationSec: WINDOW_MS / 1000, ...options });
    this.counter = counter;
    this.local = counters.shared ? new RateLimiterMemory({ keyPrefix: name, points: perMinute, duration: WINDOW_MS / 1000 }) : undefined;
  }

  get enabled(): boolean {
    return this.counter !== undefined;
  }

  async take(person: string): Promise<Take> {
    if (!this.counter) return ALLOWED;
    const now = this.clock.now().getTime();
    const windowStart = now - (((now % WINDOW_MS) + WINDOW_MS) % WINDOW_MS);
    const key = `${personKey(person)}@${windowStart}`;
    try {
      await this.run((limiter) => limiter.consume(key));
      return { allowed: true, refund: () => this.refund(key) };
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      const retryAfterMs = windowStart + WINDOW_MS - now;
      const first = refusal.consumedPoints === this.perMinute + 1;
      if (first) this.logger.warn({ person: personKey(person), limit: this.name, perMinute: this.perMinute, retryAfterMs }, 'per-person limit reached: refused until the minute is over');
      return { allowed: false, retryAfterMs, first };
    }
  }

  /** Gives back a take whose work was refused for another reason (a form to fix is not a request). */
  private async refund(key: string): Promise<void> {
    try {
      await this.run((limiter) => limiter.reward(key));
    } catch (error) {
      // Not worth failing the turn: the person loses one of their points for this minute.
      this.logger.warn({ err: error, limit: this.name }, 'could not give back a per-person limit point');
    }
  }

  /** On the shared counter; on this process's memory when that fails. Refusals pass through. */
  private async run(operation: (limiter: RateLimiterAbstract) => Promise<RateLimiterRes>): Promise<RateLimiterRes> {
    const counter = this.counter!;
    if (!this.counters.shared || !this.local) return operation(counter);
    if (Date.now() - this.sharedFailedAt < FAILURE_HOLD_MS) return operation(this.local);
    try {
      return await withTimeout(COUNTER_TIMEOUT_MS, this.counters.ready().then(() => operation(counter)));
    } catch (error) {
      if (error instanceof RateLimiterRes) throw error;
      this.sharedFailedAt = Date.now();
      this.logFailure(error);
      return operation(this.local);
    }
  }

  private logFailure(error: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
    this.lastFailureLog = now;
    this.logger.warn({ err: error, limit: this.name }, 'per-person limit counted in this instance only: the shared counter in MongoDB failed');
  }
}

/** The operation's result, or a rejection once `ms` have passed without one. */
async function withTimeout<T>(ms: number, operation: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the shared counter did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Universal Actions: an invoke answered with a message leaves the card as it is. */
const MESSAGE_RESPONSE = 'application/vnd.microsoft.activity.message';

/**
 * Middleware (after the tenant guard): a person over their messages-and-card-actions limit gets
 * no service until their minute is over. Nothing runs: no handler, no store write, no reply
 * beyond the refusal. A refused card action is answered with a small card (a message in
 * channels and group chats, where a card answer would replace the card for everyone); a
 * refused message only the first time in the window, so a flood of messages doesn't become a
 * flood of replies into the same chat.
 */
export class ActivityLimit implements Middleware {
  constructor(
    private readonly limit: PerMinuteLimit,
    private readonly cards: CardRenderer,
  ) {}

  async onTurn(context: TurnContext, next: () => Promise<void>): Promise<void> {
    const { activity } = context;
    // What a person sends: typed messages, Action.Submit (a message) and invokes (Action.Execute).
    if (!this.limit.enabled || (activity.type !== 'message' && activity.type !== 'invoke')) return next();
    const take = await this.limit.take(personOf(activity));
    if (take.allowed) return next();

    if (activity.type === 'invoke') {
      await context.sendActivity({ type: 'invokeResponse', value: this.invokeAnswer(context, take.retryAfterMs) });
    } else if (take.first) {
      await context.sendActivity(tooManyActivitiesText('message', take.retryAfterMs));
    }
  }

  private invokeAnswer(context: TurnContext, retryAfterMs: number) {
    const { activity } = context;
    if (activity.name !== 'adaptiveCard/action') {
      // Other invokes have no card to show; 429 says the same to the client.
      return { status: 429, body: { error: tooManyActivitiesText('action', retryAfterMs) } };
    }
    const kind = activity.conversation?.conversationType;
    if (kind === 'channel' || kind === 'groupChat') {
      return { status: 200, body: { statusCode: 200, type: MESSAGE_RESPONSE, value: tooManyActivitiesText('action', retryAfterMs) } };
    }
    return { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: this.cards.render('notice', tooManyActivitiesCard(retryAfterMs)) } };
  }
}
