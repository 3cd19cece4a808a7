import {
  type AdaptiveCardInvokeResponse,
  type Attachment,
  type InvokeResponse,
  TeamsActivityHandler,
  TurnContext,
} from 'botbuilder';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { ConversationReferenceRepository } from '../store/repositories/conversationReferences';
import type { CardRenderer, AdaptiveCardJson } from './cards';
import { CHAT_COMMANDS, parseCommand, suggestCommand } from './commands';
import type { AdminActions, CommandConversation } from './adminActions';
import type { ApprovalActions } from './approvalActions';
import type { SelfServiceActions } from './selfServiceActions';
import { FailureAnswers } from './failures';
import { helpCard, noticeCard, quoteUserText, unknownCommandCard } from './views';
import { trustedBotAddress, trustedServiceUrl } from './trustedOrigin';

export interface BotDependencies {
  cards: CardRenderer;
  conversationReferences: ConversationReferenceRepository;
  selfService: SelfServiceActions;
  approvals: ApprovalActions;
  admin: AdminActions;
  clock: Clock;
  logger: Logger;
}

/** A card-button press, decoded the same way for Action.Execute and Action.Submit. */
interface CardAction {
  verb: string;
  data: Record<string, unknown>;
}

type ActionHandler = (userId: string, data: Record<string, unknown>) => Promise<AdaptiveCardJson>;

const MAX_TEXT_LENGTH = 2000;

/**
 * Buttons on cards posted for everyone in a channel or group chat (admin notices, the digest).
 * Answering their Action.Execute with a card would replace that card for the whole
 * conversation, so there the presser gets the answer as a message and the card stays.
 */
const SHARED_CARD_VERBS: ReadonlySet<string> = new Set(['reprocess']);

/** Universal Actions: an invoke answered with a message leaves the card as it is. */
const MESSAGE_RESPONSE = 'application/vnd.microsoft.activity.message';

/**
 * Teams I/O only: decodes activities, delegates, and renders the answer as a card.
 * Business rules live in the domain and services, never here.
 */
export class AccessPackagesBot extends TeamsActivityHandler {
  private readonly actions = new Map<string, ActionHandler>();
  /** The bot address last recorded per tenant by this instance (saves a write per activity). */
  private readonly botAddressesSaved = new Map<string, { key: string; at: number }>();
  private readonly failures: FailureAnswers;

  constructor(private readonly deps: BotDependencies) {
    super();
    this.failures = new FailureAnswers({ cards: deps.cards, logger: deps.logger });
    this.actions.set('help', async (userId) => this.deps.cards.render('help', helpCard(CHAT_COMMANDS, await this.deps.admin.isAdmin(userId))));
    for (const [verb, handler] of Object.entries({ ...deps.selfService.verbs(), ...deps.approvals.verbs(), ...deps.admin.verbs() })) this.actions.set(verb, handler);

    this.onMessage(async (context, next) => {
      const submitted = decodeSubmit(context.activity.value);
      try {
        await this.rememberConversation(context);
        if (submitted) await this.replyToSubmit(context, submitted);
        else await this.replyToText(context);
      } catch (error) {
        // Action.Submit gets a card saying what went wrong (with Try again), a typed message a
        // plain apology; either way the error is logged once here and goes no further.
        const notice = this.failures.record(context, error, submitted?.verb || undefined);
        const retry = submitted?.verb ? submitted : undefined;
        await this.failures.send(notice, () =>
          context.sendActivity(submitted ? { attachments: [cardAttachment(this.failures.card(notice, retry))] } : this.failures.text(notice)),
        );
      }
      await next();
    });

    this.onMembersAdded(async (context, next) => {
      const botWasAdded = (context.activity.membersAdded ?? []).some((m) => m.id === context.activity.recipient.id);
      if (botWasAdded) await this.welcome(context);
      await next();
    });

    this.onInstallationUpdateAdd(async (context, next) => {
      await this.welcome(context);
      await next();
    });
  }

  /**
   * Card actions are decoded here rather than by botbuilder's own adaptiveCard/action parsing,
   * which throws on a value without an action (a crafted invoke would become a 500).
   */
  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    if (context.activity.name !== 'adaptiveCard/action') return super.onInvokeActivity(context);
    const value = context.activity.value as { action?: { verb?: unknown; data?: unknown } } | undefined;
    const action = decodeAction(value?.action?.verb, value?.action?.data);
    let card: AdaptiveCardJson;
    try {
      await this.rememberConversation(context);
      card = action ? await this.perform(context, action) : this.badAction();
    } catch (error) {
      // Not botbuilder's bare 501: a card saying what went wrong, logged once here. Its Try
      // again button sends the same data, so answers typed on a form aren't lost with it.
      card = this.failures.card(this.failures.record(context, error, action?.verb), action);
    }
    if (action && SHARED_CARD_VERBS.has(action.verb) && isSharedConversation(context)) {
      return { status: 200, body: { statusCode: 200, type: MESSAGE_RESPONSE, value: cardMessage(card) } };
    }
    const body: AdaptiveCardInvokeResponse = { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card };
    return { status: 200, body };
  }

  /** For the adapter's onTurnError: failures outside the handlers above, answered the same way. */
  answerTurnError(context: TurnContext, error: unknown): Promise<void> {
    return this.failures.answerTurnError(context, error);
  }

  private async replyToText(context: TurnContext): Promise<void> {
    const raw = TurnContext.removeRecipientMention(context.activity) ?? context.activity.text ?? '';
    if (raw.length > MAX_TEXT_LENGTH) {
      await this.sendCard(context, 'notice', noticeCard('That message is too long', `Commands are short: at most ${MAX_TEXT_LENGTH} characters. Type help to see them.`, 'warning'));
      return;
    }
    const parsed = parseCommand(raw);
    if (parsed.command?.name === 'help' || parsed.text === '') {
      await this.sendCard(context, 'help', helpCard(CHAT_COMMANDS, await this.isAdmin(context)));
      return;
    }
    if (!parsed.command) {
      this.deps.logger.info({ text: quoteUserText(parsed.text, 40) }, 'unknown command');
      const isAdmin = await this.isAdmin(context);
      const visible = CHAT_COMMANDS.filter((c) => isAdmin || !c.adminOnly);
      await this.sendCard(context, 'unknownCommand', unknownCommandCard(parsed.text, CHAT_COMMANDS, isAdmin, suggestCommand(parsed.text, visible)));
      return;
    }
    const userId = context.activity.from?.aadObjectId;
    const { name } = parsed.command;
    const card = !userId
      ? this.unknownUser()
      : parsed.command.adminOnly
        ? await this.deps.admin.command(name, { userId, args: parsed.args, conversation: commandConversation(context) })
        : await this.runCommand(userId, name, parsed.args);
    await context.sendActivity({ attachments: [cardAttachment(card)] });
  }

  /** Typed commands map onto the same handlers as the card buttons. */
  private runCommand(userId: string, name: string, args: string[]): Promise<AdaptiveCardJson> {
    const self = this.deps.selfService;
    switch (name) {
      case 'packages':
        return self.packages(userId, args.join(' '), 0);
      case 'request':
        return args[0] ? self.details(userId, args[0]) : Promise.resolve(this.usage('request package-id', 'Give the id of the package, for example: request accounting.'));
      case 'my requests':
        return self.myRequests(userId);
      case 'my access':
        return self.myAccess(userId);
      default:
        return Promise.resolve(this.deps.cards.render('help', helpCard(CHAT_COMMANDS, false)));
    }
  }

  /** Admins see the admin commands in help; the check is the same one every admin command passes. */
  private async isAdmin(context: TurnContext): Promise<boolean> {
    const userId = context.activity.from?.aadObjectId;
    return userId ? this.deps.admin.isAdmin(userId) : false;
  }

  private usage(usage: string, message: string): AdaptiveCardJson {
    return this.deps.cards.render('notice', noticeCard(`Usage: ${usage}`, message, 'info'));
  }

  private unknownUser(): AdaptiveCardJson {
    return this.deps.cards.render('notice', noticeCard("I can't tell who you are", 'Your message arrived without your Microsoft Entra identity, so I can\'t look up your access. Please write to me from Microsoft Teams.', 'warning'));
  }

  private async replyToSubmit(context: TurnContext, action: CardAction): Promise<void> {
    const card = await this.perform(context, action);
    await context.sendActivity({ attachments: [cardAttachment(card)] });
  }

  private async perform(context: TurnContext, action: CardAction): Promise<AdaptiveCardJson> {
    const handler = this.actions.get(action.verb);
    if (!handler) return this.badAction(action.verb);
    // The acting user is always the one Teams authenticated, never an id from card data.
    const userId = context.activity.from?.aadObjectId;
    if (!userId) return this.unknownUser();
    return handler(userId, action.data);
  }

  private badAction(verb?: string): AdaptiveCardJson {
    const what = verb ? `"${quoteUserText(verb, 40)}"` : 'without a valid action';
    return this.deps.cards.render(
      'notice',
      noticeCard("That button didn't work", `The card sent an action I don't know (${what}). It may come from an older version of this app: type help to start again.`, 'warning'),
    );
  }

  private async welcome(context: TurnContext): Promise<void> {
    await this.rememberConversation(context);
    const firstTime = await this.deps.conversationReferences.markWelcomed(context.activity.conversation.id);
    // Teams sends both installationUpdate and conversationUpdate on install: welcome once.
    if (!firstTime) return;
    await this.sendCard(context, 'welcome', { name: firstName(context.activity.from?.name) });
  }

  /**
   * Stores where to reach this user later (approval cards, status, expiry warnings), and the
   * bot's own address in the tenant (where chats with people it never talked to are opened).
   * Only from an activity whose serviceUrl the Bot Framework vouched for: otherwise anyone
   * could name a URL of theirs and receive what is meant for others.
   */
  private async rememberConversation(context: TurnContext): Promise<void> {
    const { activity } = context;
    if (!trustedServiceUrl(context)) {
      if (activity.serviceUrl) this.deps.logger.warn({ from: activity.from?.aadObjectId, activityType: activity.type }, 'conversation not remembered: its serviceUrl was not vouched for by the token');
      return;
    }
    const address = trustedBotAddress(context);
    if (address) await this.rememberBotAddress(address);
    const userId = activity.from?.aadObjectId;
    const conversationType = activity.conversation?.conversationType;
    if (!userId || (conversationType && conversationType !== 'personal')) return;
    await this.deps.conversationReferences.save({
      id: userId,
      tenantId: activity.conversation.tenantId,
      reference: TurnContext.getConversationReference(activity) as Record<string, unknown>,
      updatedAt: this.deps.clock.now(),
    });
  }

  /** Written when it changes (or once an hour), not on every activity. */
  private async rememberBotAddress(address: NonNullable<ReturnType<typeof trustedBotAddress>>): Promise<void> {
    const key = `${address.tenantId.toLowerCase()} ${address.serviceUrl} ${address.bot.id} ${address.bot.name ?? ''}`;
    const now = this.deps.clock.now();
    const last = this.botAddressesSaved.get(address.tenantId.toLowerCase());
    if (last && last.key === key && now.getTime() - last.at < 60 * 60_000) return;
    await this.deps.conversationReferences.saveBotAddress({ ...address, updatedAt: now });
    this.botAddressesSaved.set(address.tenantId.toLowerCase(), { key, at: now.getTime() });
  }

  private async sendCard(context: TurnContext, template: string, data: object): Promise<void> {
    await context.sendActivity({ attachments: [this.deps.cards.attachment(template, data)] });
  }
}

function cardAttachment(card: AdaptiveCardJson): Attachment {
  return { contentType: 'application/vnd.microsoft.card.adaptive', content: card };
}

/** Where a command was typed, for admin commands that act on the conversation (channel binding). */
function commandConversation(context: TurnContext): CommandConversation {
  const { activity } = context;
  const channelData = (activity.channelData ?? {}) as { channel?: { id?: unknown; name?: unknown }; team?: { id?: unknown; name?: unknown } };
  const kind = activity.conversation?.conversationType;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const channelId = text(channelData.channel?.id);
  return {
    type: kind === 'channel' ? 'channel' : kind === 'groupChat' ? 'groupChat' : 'personal',
    reference: TurnContext.getConversationReference(activity) as Record<string, unknown>,
    trusted: trustedServiceUrl(context) !== undefined,
    ...(channelId ? { channelId } : {}),
    ...(text(channelData.channel?.name) ? { channelName: text(channelData.channel?.name) } : {}),
    ...(text(channelData.team?.id) ? { teamId: text(channelData.team?.id) } : {}),
    ...(text(channelData.team?.name) ? { teamName: text(channelData.team?.name) } : {}),
  };
}

/** A channel or group chat: a card there is seen by everyone in it. */
function isSharedConversation(context: TurnContext): boolean {
  const kind = context.activity.conversation?.conversationType;
  return kind === 'channel' || kind === 'groupChat';
}

/** The answer card's text blocks as one message ("Title. Message."), for a message invoke response. */
function cardMessage(card: AdaptiveCardJson): string {
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const element = node as Record<string, unknown>;
      const text = element.type === 'TextBlock' ? element.text : element.type === 'RichTextBlock' ? runsText(element.inlines) : undefined;
      if (typeof text === 'string' && text.trim()) texts.push(text.trim());
      // Actions (and their fallbacks) are buttons the message can't carry.
      for (const [key, value] of Object.entries(element)) if (key !== 'actions' && key !== 'fallback') walk(value);
    }
  };
  walk(card.body);
  return texts.map((t) => (/[.!?:]$/.test(t) ? t : `${t}.`)).join(' ');
}

/** A RichTextBlock's TextRuns as one string. */
function runsText(inlines: unknown): string {
  return Array.isArray(inlines) ? inlines.map((run: { text?: unknown } | string) => (typeof run === 'string' ? run : String(run?.text ?? ''))).join('') : '';
}

function firstName(name: string | undefined): string {
  return name?.trim().split(/\s+/)[0] ?? '';
}

/** Card data is untrusted: only a plain object with a short string verb is an action. */
export function decodeAction(verb: unknown, data: unknown): CardAction | undefined {
  if (typeof verb !== 'string' || verb.length === 0 || verb.length > 64) return undefined;
  const payload = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  return { verb, data: payload };
}

/** Action.Submit (the fallback of Action.Execute) arrives as a message whose value holds the data. */
function decodeSubmit(value: unknown): CardAction | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const data = value as Record<string, unknown>;
  return decodeAction(data.verb, data) ?? { verb: '', data };
}
