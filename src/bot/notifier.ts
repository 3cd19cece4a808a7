// The delivery side of proactive messages: services queue `notify.send` / `notify.update`
// tasks (src/services/taskNotifications.ts); this turns each into one paced call to the Teams
// connector and maps the answer to a task outcome (done, retry at a time, or failed).
// Someone the bot has never talked to (an approver, typically) gets the app installed through
// Graph first when proactive installation is on, so the card goes into the chat Graph returns.
import {
  type Attachment,
  type ChannelAccount,
  type CloudAdapter,
  type ConversationParameters,
  type ConversationReference,
  TurnContext,
} from 'botbuilder';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { InstallRefusalReason, InstallResult } from '../directory/teamsAppInstaller';
import { utcDay } from '../domain/digest';
import { PRIORITY } from '../domain/taskTypes';
import type { BotAddress, ConversationRef, Task } from '../domain/model';
import type { Logger } from '../logger';
import type { TaskOutcome, TaskRunner } from '../scheduler/taskRunner';
import { type ChannelAddress, NOTIFY_TASKS, type OutgoingCard } from '../services/notifications';
import type { ConversationReferenceRepository } from '../store/repositories/conversationReferences';
import type { SentCardRepository } from '../store/repositories/sentCards';
import type { TaskRepository } from '../store/repositories/tasks';
import type { CardRenderer } from './cards';
import { type ConnectorFailure, describeConnectorError, summarize } from './connectorErrors';
import { burstFor, DEFAULT_MAX_PACING_WAIT_MS, PacingDeferral, RateLimiter } from '../rateLimiter';
import { disableSdkRetries } from './sdkRetries';

/** First retry after a transient failure; doubles per attempt up to the cap, ±20 % jitter. */
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_CAP_MS = 10 * 60_000;
/** A Retry-After beyond this is treated as this (a misbehaving proxy shouldn't park a card for days). */
const RETRY_AFTER_CAP_MS = 60 * 60_000;
/** Booked turns remembered at most (each is a few dozen bytes). */
const MAX_REMEMBERED_TURNS = 100_000;
/** How long after the pending send's due time an early update looks again. */
const UPDATE_WAIT_MS = 2_000;

/** What to tell an operator for Teams answers that retrying can't fix. */
const HINTS = new Map<string, string>(Object.entries({
  ForbiddenOperationException: 'the app is not installed for this user in personal scope',
  BotNotInConversationRoster: 'the bot is no longer part of this conversation (the app was removed)',
  BotDisabledByAdmin: 'a Teams admin has blocked this app for the user',
  BotNotRegistered: 'the bot registration was not found: check MicrosoftAppId and the Teams channel of the Azure Bot',
  InvalidBotApiHost: "the user's tenant is in a government cloud: set TEAMS_SERVICE_URL to its endpoint",
  MessageSizeTooBig: 'the card is too large for Teams',
}));

export interface ProactiveNotifierDeps {
  /** The app's adapter: proactive turns need its credentials and middleware. */
  adapter: CloudAdapter;
  cards: CardRenderer;
  repositories: { conversationReferences: ConversationReferenceRepository; sentCards: SentCardRepository; tasks: TaskRepository };
  config: Pick<Config, 'bot' | 'tenantId' | 'notify'>;
  /** Task time: retries are scheduled on it. */
  clock: Clock;
  logger: Logger;
  /**
   * Real time for pacing unless given (tests pass a virtual clock and a sleep that moves it).
   * `maxWaitMs`: the longest pacing wait a task takes while holding its worker (default 250 ms);
   * a longer one puts the task back until then (PacingDeferral). Virtual clocks may pass Infinity.
   */
  pacing?: { now: () => number; sleep: (ms: number) => Promise<void>; maxWaitMs?: number };
  /** Jitter source in [0, 1). */
  random?: () => number;
  /**
   * Called when a channel post can't be made (the bot was removed from the team, or Teams kept
   * failing): whoever queued it re-routes the card so it isn't lost. Without it the task fails.
   */
  channelFallback?: (event: ChannelUnreachable) => Promise<void>;
  /**
   * Installs the app for a user the bot has no chat with (PROACTIVE_INSTALL). Without it such
   * users get a chat opened by member id, which Teams refuses unless the app is installed.
   */
  installer?: AppInstaller;
  /** Told (at most once a day per reason and process) when installing is refused for a configuration reason. */
  installRefused?: (refusal: InstallConfigurationError) => Promise<void>;
}

/** What the notifier needs of src/directory/teamsAppInstaller.ts. */
export interface AppInstaller {
  installFor(userId: string): Promise<InstallResult>;
}

/** Proactive installation refused for a reason only an admin can fix. */
export interface InstallConfigurationError {
  reason: Extract<InstallRefusalReason, 'forbidden' | 'notFound' | 'invalid'>;
  /** The installer's message: what failed, the permission or setting to fix, and the fallback meanwhile. */
  message: string;
}

/** A channel post that could not be made. */
export interface ChannelUnreachable {
  channel: ChannelAddress;
  card: OutgoingCard;
  /** The key the post was queued with (fallback keys derive from it), else the task id. */
  key: string;
  /** 403 or 404: the bot can't post there any more, retrying won't help. */
  gone: boolean;
  reason: string;
}

interface SendPayload {
  userId: string;
  card: OutgoingCard;
  trackAs?: string;
}

interface ChannelPayload {
  channel: ChannelAddress;
  card: OutgoingCard;
  key?: string;
}

interface UpdatePayload {
  trackAs: string;
  card: OutgoingCard;
}

/** Where a message went (or failed to go). */
type Delivery =
  | { ok: true; activityId?: string; conversationId: string; reference: Record<string, unknown> }
  | { ok: false; failure: ConnectorFailure; conversationId?: string };

type TurnResult<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** What proactive installation means for one send. */
type InstallStep =
  /** Installed (now or before): send into this chat. */
  | { kind: 'chat'; chatId: string }
  /** Not installed: open a chat the usual way; `note` explains why if that fails too. */
  | { kind: 'fallback'; note?: string }
  /** Retry later, or give up now. */
  | { kind: 'outcome'; outcome: TaskOutcome };

/** The bot's own address in a tenant, enough to open a 1:1 chat with any user there. */
export interface NewChatAddress {
  serviceUrl: string;
  bot: ChannelAccount;
  tenantId: string;
}

export class ProactiveNotifier {
  private readonly limiter: RateLimiter;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pacingNow: () => number;
  private readonly maxWaitMs: number;
  /** One interval of the shared (per app and tenant) rate. */
  private readonly intervalMs: number;
  /** Turns in a busy chat booked for tasks sent away until then, by task id (pacing time). */
  private readonly turns = new Map<string, { key: string; at: number }>();
  private readonly random: () => number;
  private readonly log: Logger;
  /** Install refusals already logged, by reason, with the UTC day: logged once a day, not per card. */
  private readonly refusalsLogged = new Map<InstallRefusalReason, string>();

  constructor(private readonly deps: ProactiveNotifierDeps) {
    const { notify } = deps.config;
    const pacing = deps.pacing ?? { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };
    this.limiter = new RateLimiter(
      {
        global: { ratePerSecond: notify.ratePerSecond, burst: burstFor(notify.ratePerSecond) },
        perKey: { ratePerSecond: notify.ratePerConversationPerSecond, burst: burstFor(notify.ratePerConversationPerSecond) },
      },
      pacing.now,
    );
    this.sleep = pacing.sleep;
    this.pacingNow = pacing.now;
    this.maxWaitMs = pacing.maxWaitMs ?? DEFAULT_MAX_PACING_WAIT_MS;
    this.intervalMs = 1000 / notify.ratePerSecond;
    this.random = deps.random ?? Math.random;
    this.log = deps.logger.child({ component: 'notifier' });
  }

  register(runner: TaskRunner): void {
    runner.register(NOTIFY_TASKS.send, (task) => this.send(task));
    runner.register(NOTIFY_TASKS.update, (task) => this.update(task));
  }

  async send(task: Task): Promise<TaskOutcome> {
    if (task.payload.channel !== undefined) return this.postToChannel(task);
    const payload = decodeSend(task.payload);
    if (typeof payload === 'string') return this.fail(task, payload);
    const { sentCards, conversationReferences } = this.deps.repositories;

    if (payload.trackAs) {
      // This very task already delivered the card and only its "done" was lost (lease ran out,
      // process died): sending again would show the user the same card twice.
      const earlier = await sentCards.get(payload.trackAs);
      if (earlier?.sentByTaskId === task.id) return { status: 'done' };
    }

    const attachment = this.render(payload.card);
    if (typeof attachment === 'string') return this.fail(task, attachment);

    const stored = await conversationReferences.get(payload.userId);
    let delivery: Delivery;
    /** Why the app could not be installed, when that explains a failure. */
    let note: string | undefined;
    if (stored) {
      delivery = await this.sendOn(task, storedReference(stored), attachment);
      if (!delivery.ok && delivery.failure.kind === 'conversationNotFound') {
        // The chat is gone (e.g. the user removed the chat history). Forget it and open a new
        // one at once; the bot's serviceUrl and account in the old reference are still good.
        await conversationReferences.forget(payload.userId, delivery.conversationId ?? '');
        this.log.info({ taskId: task.id, userId: payload.userId, conversationId: delivery.conversationId }, 'stored conversation no longer exists; opening a new chat');
        const address = await this.newChatAddress(stored);
        if (typeof address === 'string') return this.fail(task, `can't reach user ${payload.userId}: ${address}`);
        delivery = await this.sendOnNewChat(task, payload.userId, address, attachment);
      }
    } else {
      const address = await this.newChatAddress();
      if (typeof address === 'string') return this.fail(task, `can't reach user ${payload.userId}: ${address}`);
      const step: InstallStep = this.deps.installer ? await this.install(task, payload, this.deps.installer) : { kind: 'fallback' };
      if (step.kind === 'outcome') return step.outcome;
      if (step.kind === 'chat') {
        delivery = await this.sendOnInstalledChat(task, payload.userId, address, step.chatId, attachment);
      } else {
        delivery = await this.sendOnNewChat(task, payload.userId, address, attachment);
        note = step.note;
      }
    }

    if (delivery.ok) {
      if (payload.trackAs) await this.track(task, payload, delivery);
      this.log.debug({ taskId: task.id, userId: payload.userId, conversationId: delivery.conversationId, template: payload.card.template }, 'card sent');
      return { status: 'done' };
    }
    return this.outcomeFor(task, delivery.failure, `sending ${payload.card.template} to user ${payload.userId}`, note);
  }

  /**
   * Installs the app for a user with no stored chat and says where to send. Idempotent: an app
   * already installed (by the user, a setup policy, another instance) just yields its chat.
   */
  private async install(task: Task, payload: SendPayload, installer: AppInstaller): Promise<InstallStep> {
    const what = `installing the app for user ${payload.userId} to send ${payload.card.template}`;
    let result: InstallResult;
    try {
      result = await installer.installFor(payload.userId);
    } catch (error) {
      // The installer answers with refusals; a throw is a fault (e.g. no token): worth a retry.
      result = { ok: false, reason: 'unavailable', retryable: true, message: error instanceof Error ? error.message : String(error) };
    }
    if (result.ok) {
      this.refusalsLogged.clear(); // working again: a later refusal is news
      this.log.info({ taskId: task.id, userId: payload.userId, chatId: result.chatId, newlyInstalled: result.newlyInstalled }, result.newlyInstalled ? 'app installed for the user' : 'app already installed for the user');
      return { kind: 'chat', chatId: result.chatId };
    }
    switch (result.reason) {
      case 'throttled':
      case 'unavailable': {
        if (task.attempts >= this.deps.config.notify.maxAttempts) {
          // The last attempt: the app may be installed anyway (setup policy), so try the usual way.
          return { kind: 'fallback', note: `installing the app kept failing (${result.message})` };
        }
        const delay = result.retryAfterMs !== undefined ? Math.min(Math.max(result.retryAfterMs, 1000), RETRY_AFTER_CAP_MS) : this.backoff(task.attempts);
        this.log.debug({ taskId: task.id, attempts: task.attempts, delayMs: delay, failure: result.message }, 'app installation will be retried');
        return { kind: 'outcome', outcome: { status: 'retry', at: new Date(this.deps.clock.now().getTime() + delay), error: `${what}: ${result.message}` } };
      }
      case 'userNotFound':
        return { kind: 'outcome', outcome: this.fail(task, `${what}: ${result.message}`) };
      case 'forbidden':
      case 'notFound':
      case 'invalid': {
        await this.reportRefusal({ reason: result.reason, message: result.message });
        const prefix = result.reason === 'forbidden' ? 'the bot may not install the app for them' : 'configuration error';
        return { kind: 'fallback', note: `${prefix}: ${result.message}` };
      }
    }
  }

  /** Logs a configuration refusal with its fix, and tells admins, once a day per reason (not once per card). */
  private async reportRefusal(refusal: InstallConfigurationError): Promise<void> {
    const day = utcDay(this.deps.clock.now());
    if (this.refusalsLogged.get(refusal.reason) === day) return;
    this.refusalsLogged.set(refusal.reason, day);
    // Missing consent is expected until an admin grants it; a wrong catalog id or request is a bug in the setup.
    const level = refusal.reason === 'forbidden' ? 'warn' : 'error';
    this.log[level]({ reason: refusal.reason, failure: refusal.message }, 'proactive installation refused: opening chats by member id instead, which needs the app installed');
    try {
      await this.deps.installRefused?.(refusal);
    } catch (error) {
      this.log.error({ err: error }, 'could not report the proactive installation refusal');
    }
  }

  /**
   * A new post in a Teams channel (continueConversation on the channel's reference; never a
   * new chat). When the post can't be made the card goes to `channelFallback` instead.
   */
  async postToChannel(task: Task): Promise<TaskOutcome> {
    const payload = decodeChannel(task.payload);
    if (typeof payload === 'string') return this.fail(task, payload);
    const attachment = this.render(payload.card);
    if (typeof attachment === 'string') return this.fail(task, attachment);
    const { channel } = payload;
    const delivery = await this.sendOn(task, channel.reference as Partial<ConversationReference>, attachment);
    if (delivery.ok) {
      this.log.debug({ taskId: task.id, channel: channel.label, template: payload.card.template }, 'card posted to channel');
      return { status: 'done' };
    }
    const { failure } = delivery;
    const what = `posting ${payload.card.template} to channel ${channel.label}`;
    // 403/404: removed from the team, the channel deleted, or posting blocked.
    const gone = failure.status === 403 || failure.status === 404;
    if (!gone) {
      const outcome = this.outcomeFor(task, failure, what);
      if (outcome.status !== 'failed') return outcome;
    }
    if (!this.deps.channelFallback) return this.fail(task, `${what}: ${summarize(failure)}`);
    const reason = summarize(failure);
    this.log.warn({ taskId: task.id, channel: channel.label, gone, failure: reason }, 'channel post failed; the card goes to the fallback');
    await this.deps.channelFallback({ channel, card: payload.card, key: payload.key ?? `task:${task.id}`, gone, reason });
    return { status: 'failed', error: `${what}: ${reason}; sent to the fallback instead` };
  }

  async update(task: Task): Promise<TaskOutcome> {
    const payload = decodeUpdate(task.payload);
    if (typeof payload === 'string') return this.fail(task, payload);
    const { sentCards } = this.deps.repositories;

    const sent = await sentCards.get(payload.trackAs);
    if (!sent) {
      const pending = await this.deps.repositories.tasks.findPending(NOTIFY_TASKS.send, 'trackAs', payload.trackAs);
      if (pending) {
        // The card hasn't gone out yet; look again just after its send is due. Not counted
        // against the attempt budget: the send's own budget bounds this wait.
        const after = Math.max(pending.dueAt.getTime(), this.deps.clock.now().getTime()) + UPDATE_WAIT_MS;
        return { status: 'retry', at: new Date(after), error: `waiting for card ${payload.trackAs} to be sent first` };
      }
      this.log.debug({ taskId: task.id, trackAs: payload.trackAs }, 'no card was sent under this name: nothing to update');
      return { status: 'done' };
    }
    if (task.createdAt.getTime() < sent.cardQueuedAt.getTime()) {
      this.log.debug({ taskId: task.id, trackAs: payload.trackAs }, 'a newer card already shows: stale update skipped');
      return { status: 'done' };
    }

    const attachment = this.render(payload.card);
    if (typeof attachment === 'string') return this.fail(task, attachment);

    await this.pace(task, sent.conversationId);
    const result = await this.inTurn(
      (logic) => this.deps.adapter.continueConversationAsync(this.deps.config.bot.appId, sent.reference as Partial<ConversationReference>, logic),
      (context) => context.updateActivity({ id: sent.activityId, type: 'message', attachments: [attachment] }),
    );
    if (result.ok) {
      await sentCards.markUpdated(payload.trackAs, task.createdAt);
      this.log.debug({ taskId: task.id, trackAs: payload.trackAs, activityId: sent.activityId }, 'card updated');
      return { status: 'done' };
    }

    const failure = this.describe(result.error);
    if (failure.kind === 'activityNotFound' || failure.kind === 'conversationNotFound') {
      // The message (or its whole chat) is gone; later updates have nothing to replace either.
      await sentCards.delete(payload.trackAs);
      return this.fail(task, `card ${payload.trackAs} no longer exists in Teams, so it can't be updated (${summarize(failure)})`);
    }
    return this.outcomeFor(task, failure, `updating card ${payload.trackAs} for user ${sent.userId}`);
  }

  /**
   * Where to open a chat with a user the bot has no reference for: the bot's own address as
   * recorded from a vouched-for activity in the tenant, else the user's own old reference,
   * else configuration. Never from another user's conversation reference.
   */
  private async newChatAddress(own?: ConversationRef): Promise<NewChatAddress | string> {
    const { config } = this.deps;
    const recorded = await this.deps.repositories.conversationReferences.botAddress(config.tenantId ?? config.bot.appTenantId);
    return resolveNewChatAddress(recorded ?? (own ? addressIn(own) : null), config);
  }

  private async sendOn(task: Task, reference: Partial<ConversationReference>, attachment: Attachment): Promise<Delivery> {
    const conversationId = reference.conversation?.id ?? '';
    await this.pace(task, conversationId);
    const result = await this.inTurn(
      (logic) => this.deps.adapter.continueConversationAsync(this.deps.config.bot.appId, reference, logic),
      (context) => context.sendActivity({ type: 'message', attachments: [attachment] }),
    );
    if (!result.ok) return { ok: false, failure: this.describe(result.error), conversationId };
    return { ok: true, activityId: result.value?.id, conversationId, reference: withoutActivityId(reference) };
  }

  private async sendOnNewChat(task: Task, userId: string, address: NewChatAddress, attachment: Attachment): Promise<Delivery> {
    const parameters: ConversationParameters = {
      isGroup: false,
      bot: address.bot,
      // Teams accepts the user's Entra object id as the member id when opening a 1:1 chat.
      members: [account(userId)],
      tenantId: address.tenantId,
      channelData: { tenant: { id: address.tenantId } },
    };
    let conversationId: string | undefined;
    await this.pace(task, `new:${userId}`);
    const result = await this.inTurn(
      (logic) => this.deps.adapter.createConversationAsync(this.deps.config.bot.appId, 'msteams', address.serviceUrl, '', parameters, logic),
      async (context) => {
        conversationId = context.activity.conversation.id;
        const reference = newChatReference(userId, address, conversationId);
        // Saved before sending: the chat exists now whether or not the message gets through.
        await this.deps.repositories.conversationReferences.save({ id: userId, tenantId: address.tenantId, reference, updatedAt: this.deps.clock.now() });
        // Inside the turn the chat exists already: wait (a new chat's turn is due at once).
        await this.pace(task, conversationId, false);
        const response = await context.sendActivity({ type: 'message', attachments: [attachment] });
        return { activityId: response?.id, reference };
      },
    );
    if (!result.ok) return { ok: false, failure: this.describe(result.error), conversationId };
    return { ok: true, activityId: result.value.activityId, conversationId: conversationId ?? '', reference: result.value.reference };
  }

  /** Sends into the 1:1 chat Graph returned after installing the app; remembered as the user's chat. */
  private async sendOnInstalledChat(task: Task, userId: string, address: NewChatAddress, chatId: string, attachment: Attachment): Promise<Delivery> {
    const reference = newChatReference(userId, address, chatId);
    // Saved before sending, as for a chat opened here: it exists whether or not this message gets through.
    await this.deps.repositories.conversationReferences.save({ id: userId, tenantId: address.tenantId, reference, updatedAt: this.deps.clock.now() });
    return this.sendOn(task, reference as Partial<ConversationReference>, attachment);
  }

  private async track(task: Task, payload: SendPayload, delivery: Extract<Delivery, { ok: true }>): Promise<void> {
    if (!payload.trackAs) return;
    if (!delivery.activityId) {
      this.log.warn({ taskId: task.id, trackAs: payload.trackAs }, 'Teams returned no message id: this card cannot be updated later');
      return;
    }
    await this.deps.repositories.sentCards.record({
      id: payload.trackAs,
      userId: payload.userId,
      conversationId: delivery.conversationId,
      activityId: delivery.activityId,
      reference: delivery.reference,
      sentByTaskId: task.id,
      cardQueuedAt: task.createdAt,
    });
  }

  /**
   * Runs `action` in a proactive turn and hands back its result or error. Errors are caught
   * inside the turn because the app's onTurnError would otherwise log and swallow them.
   */
  private async inTurn<T>(start: (logic: (context: TurnContext) => Promise<void>) => Promise<void>, action: (context: TurnContext) => Promise<T>): Promise<TurnResult<T>> {
    let result: TurnResult<T> | undefined;
    try {
      await start(async (context) => {
        disableSdkRetries(context, this.deps.adapter);
        try {
          result = { ok: true, value: await action(context) };
        } catch (error) {
          result = { ok: false, error };
        }
      });
    } catch (error) {
      // Thrown before the turn ran: creating the chat, or getting a token.
      return { ok: false, error };
    }
    // Middleware (the tenant guard) may end a turn without running it.
    return result ?? { ok: false, error: new TurnDroppedError() };
  }

  private describe(error: unknown): ConnectorFailure {
    if (error instanceof TurnDroppedError) return { kind: 'permanent', message: error.message };
    return describeConnectorError(error, this.deps.clock.now().getTime());
  }

  /** `note` (why the app could not be installed) is added to a failure's message. */
  private outcomeFor(task: Task, failure: ConnectorFailure, what: string, note?: string): TaskOutcome {
    const summary = summarize(failure);
    const tail = note ? `; ${note}` : '';
    switch (failure.kind) {
      case 'throttled':
      case 'transient': {
        if (task.attempts >= this.deps.config.notify.maxAttempts) {
          return this.fail(task, `${what}: gave up after ${task.attempts} attempts: ${summary}${tail}`);
        }
        const delay = failure.kind === 'throttled' && failure.retryAfterMs !== undefined ? Math.min(Math.max(failure.retryAfterMs, 1000), RETRY_AFTER_CAP_MS) : this.backoff(task.attempts);
        this.log.debug({ taskId: task.id, attempts: task.attempts, delayMs: delay, failure: summary }, 'connector call will be retried');
        return { status: 'retry', at: new Date(this.deps.clock.now().getTime() + delay), error: `${what}: ${summary}` };
      }
      case 'blocked':
        this.log.warn({ taskId: task.id, failure: summary }, 'the user has blocked the bot; messages to them fail until they unblock it');
        return { status: 'failed', error: `${what}: the user has blocked the bot (${summary})${tail}` };
      default: {
        const hint = failure.code ? HINTS.get(failure.code) : undefined;
        const auth = failure.status === 401 ? 'the connector refused the bot\'s credentials: check MicrosoftAppId, MicrosoftAppPassword and MicrosoftAppType' : undefined;
        return this.fail(task, `${what}: ${[hint ?? auth, summary].filter(Boolean).join(': ')}${tail}`);
      }
    }
  }

  /** Exponential back-off with ±20 % jitter, so retries from a burst don't collide again. */
  private backoff(attempt: number): number {
    const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }

  private fail(task: Task, error: string): TaskOutcome {
    this.log.error({ taskId: task.id, type: task.type, error }, 'proactive message failed');
    return { status: 'failed', error };
  }

  private render(card: OutgoingCard): Attachment | string {
    try {
      return this.deps.cards.attachment(card.template, card.data);
    } catch (error) {
      return `card ${card.template} could not be rendered: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /**
   * Waits for the call's turn within Teams' limits: a short wait holding the worker, a longer
   * one by throwing PacingDeferral (the task is put back until then, no attempt used). A busy
   * chat's next turn is booked for the task sent away, so a backlog for one chat comes back
   * one turn apart. `mayDefer` false: always wait (a side effect has already happened).
   */
  private async pace(task: Task, key: string, mayDefer = true): Promise<void> {
    if (!mayDefer) {
      const wait = this.limiter.reserve(key);
      if (wait > 0) await this.sleep(wait);
      return;
    }
    // Priority in the shared bucket: a lower-priority message books it only while it is less
    // full (bulk: nearly free), so an approval card always finds room within the short wait and
    // a backlog of notices can't keep it waiting. While the bucket is too full the message looks
    // again within that wait, then goes back to the queue.
    const sharedWaitMs = task.priority === PRIORITY.bulk ? this.intervalMs : task.priority === PRIORITY.urgent ? this.maxWaitMs : Math.max(this.intervalMs, this.maxWaitMs / 2);
    const started = this.pacingNow();
    for (;;) {
      const now = this.pacingNow();
      const turn = this.turns.get(task.id);
      const held = turn?.key === key;
      if (held && turn.at - now > this.maxWaitMs) throw new PacingDeferral(turn.at - now, `waiting for its turn in conversation ${key} (Teams' per-conversation limit)`);
      const booking = this.limiter.book(key, this.maxWaitMs, held, sharedWaitMs);
      if (booking.go) {
        if (held) this.turns.delete(task.id);
        if (booking.waitMs > 0) await this.sleep(booking.waitMs);
        return;
      }
      if (booking.turnBooked) {
        this.bookTurn(task.id, key, now + booking.laterMs, now);
        throw new PacingDeferral(booking.laterMs, `conversation ${key} is busy (Teams' per-conversation limit)`);
      }
      if (now - started + booking.laterMs > this.maxWaitMs) throw new PacingDeferral(booking.laterMs, "paced within Teams' per-app limit");
      await this.sleep(Math.max(1, booking.laterMs));
    }
  }

  /** Remembers a booked turn; forgets long-past ones (their tasks ran elsewhere or gave up). */
  private bookTurn(taskId: string, key: string, at: number, now: number): void {
    this.turns.set(taskId, { key, at });
    if (this.turns.size <= MAX_REMEMBERED_TURNS) return;
    for (const [id, t] of this.turns) if (t.at < now - 10 * 60_000) this.turns.delete(id);
    // Still too many: drop the oldest (they book their turn again when they come back).
    for (const id of this.turns.keys()) {
      if (this.turns.size <= MAX_REMEMBERED_TURNS) break;
      this.turns.delete(id);
    }
  }
}

class TurnDroppedError extends Error {
  constructor() {
    super('the proactive turn was dropped by middleware before it ran (is TENANT_ID a different tenant from the stored conversation?)');
    this.name = 'TurnDroppedError';
  }
}

/**
 * The address for a new 1:1 chat: the bot's address recorded in the tenant (bot/trustedOrigin.ts),
 * else the bot's Teams id (`28:` + its app id) on TEAMS_SERVICE_URL (Teams' public endpoint by
 * default).
 */
export function resolveNewChatAddress(recorded: BotAddress | null, config: Pick<Config, 'bot' | 'tenantId' | 'notify'>): NewChatAddress | string {
  const tenantId = config.tenantId ?? recorded?.tenantId ?? config.bot.appTenantId;
  const bot = recorded?.bot.id ? account(recorded.bot.id, recorded.bot.name) : config.bot.appId ? account(`28:${config.bot.appId}`) : undefined;
  if (!bot) return "the bot has not received a message yet and MicrosoftAppId is empty, so the bot's Teams id is unknown";
  if (!tenantId) return 'the tenant is unknown: set TENANT_ID (or MicrosoftAppTenantId)';
  return { serviceUrl: recorded?.serviceUrl ?? config.notify.serviceUrl, bot, tenantId };
}

/** The bot's address as a user's own stored reference names it (it was vouched for when stored). */
function addressIn(own: ConversationRef): BotAddress | null {
  const reference = storedReference(own);
  const tenantId = own.tenantId ?? reference.conversation?.tenantId;
  if (!reference.serviceUrl || !reference.bot?.id || !tenantId) return null;
  return { tenantId, serviceUrl: reference.serviceUrl, bot: reference.bot.name ? { id: reference.bot.id, name: reference.bot.name } : { id: reference.bot.id }, updatedAt: own.updatedAt };
}

/** A ChannelAccount by id alone: `name` is optional on the wire though the schema types insist. */
function account(id: string, name?: string): ChannelAccount {
  return (name ? { id, name } : { id }) as ChannelAccount;
}

function storedReference(stored: ConversationRef): Partial<ConversationReference> {
  // Saved from TurnContext.getConversationReference by the bot, so it has that shape.
  return stored.reference as Partial<ConversationReference>;
}

/** The reference of a chat the notifier opened itself (the user's 29: id isn't known yet). */
function newChatReference(userId: string, address: NewChatAddress, conversationId: string): Record<string, unknown> {
  return {
    channelId: 'msteams',
    serviceUrl: address.serviceUrl,
    bot: address.bot,
    user: { id: userId, aadObjectId: userId },
    conversation: { id: conversationId, conversationType: 'personal', isGroup: false, tenantId: address.tenantId },
  };
}

/** A reference to reuse later: the id of whatever activity it came from means nothing then. */
function withoutActivityId(reference: Partial<ConversationReference>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...reference };
  delete copy.activityId;
  return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeCard(value: unknown): OutgoingCard | undefined {
  if (!isRecord(value) || typeof value.template !== 'string' || !isRecord(value.data)) return undefined;
  return { template: value.template, data: value.data };
}

function decodeSend(payload: Record<string, unknown>): SendPayload | string {
  const card = decodeCard(payload.card);
  if (typeof payload.userId !== 'string' || payload.userId === '') return 'malformed notify.send task: userId missing';
  if (!card) return 'malformed notify.send task: card must be {template, data}';
  if (payload.trackAs !== undefined && (typeof payload.trackAs !== 'string' || payload.trackAs === '')) return 'malformed notify.send task: trackAs must be a string';
  return { userId: payload.userId, card, ...(payload.trackAs ? { trackAs: payload.trackAs } : {}) };
}

function decodeChannel(payload: Record<string, unknown>): ChannelPayload | string {
  const card = decodeCard(payload.card);
  const channel = payload.channel;
  if (!isRecord(channel) || !isRecord(channel.reference) || !isRecord(channel.reference.conversation) || typeof channel.reference.conversation.id !== 'string') {
    return 'malformed notify.send task: channel must carry a conversation reference';
  }
  if (!card) return 'malformed notify.send task: card must be {template, data}';
  const label = typeof channel.label === 'string' && channel.label ? channel.label : channel.reference.conversation.id;
  const address: ChannelAddress = { reference: channel.reference, label, ...(typeof channel.tag === 'string' ? { tag: channel.tag } : {}) };
  return { channel: address, card, ...(typeof payload.key === 'string' && payload.key ? { key: payload.key } : {}) };
}

function decodeUpdate(payload: Record<string, unknown>): UpdatePayload | string {
  const card = decodeCard(payload.card);
  if (typeof payload.trackAs !== 'string' || payload.trackAs === '') return 'malformed notify.update task: trackAs missing';
  if (!card) return 'malformed notify.update task: card must be {template, data}';
  return { trackAs: payload.trackAs, card };
}
