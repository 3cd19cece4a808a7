// Admin commands and verbs. Each group of admin work (queries, changes, notices, ...) is an
// AdminCommandSet in its own module; this dispatcher puts every one of them behind the admin
// gate, so no admin command or button can be reached without the check (and a refusal is
// always audited).
import type { AdminGate } from '../services/admins';
import type { DeliveryService } from '../services/delivery';
import type { ApprovalActions } from './approvalActions';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { VerbHandler } from './selfServiceActions';
import { noticeCard } from './views';

/** Where an admin command was typed: channel binding and replies need it. */
export interface CommandConversation {
  type: 'personal' | 'channel' | 'groupChat';
  /** Bot Framework conversation reference of this conversation, as received. */
  reference: Record<string, unknown>;
  /** Whether the token vouched for the reference's serviceUrl (bot/trustedOrigin.ts): only then may the bot post there later. */
  trusted: boolean;
  /** Teams channel id (conversation id of the channel's root, without ;messageid=). */
  channelId?: string;
  channelName?: string;
  teamId?: string;
  teamName?: string;
}

export interface AdminCommandContext {
  userId: string;
  /** The words after the command, as typed. */
  args: string[];
  conversation: CommandConversation;
}

export type AdminCommandHandler = (context: AdminCommandContext) => Promise<AdaptiveCardJson>;

/** A group of admin commands and card verbs; the dispatcher adds the admin check. */
export interface AdminCommandSet {
  commands(): Record<string, AdminCommandHandler>;
  verbs(): Record<string, VerbHandler>;
}

export class AdminActions {
  private readonly commandHandlers = new Map<string, AdminCommandHandler>();
  private readonly verbHandlers = new Map<string, VerbHandler>();

  constructor(
    private readonly gate: AdminGate,
    private readonly cards: CardRenderer,
    sets: AdminCommandSet[],
  ) {
    for (const set of sets) {
      for (const [name, handler] of Object.entries(set.commands())) this.commandHandlers.set(name, handler);
      for (const [verb, handler] of Object.entries(set.verbs())) this.verbHandlers.set(verb, handler);
    }
  }

  isAdmin(userId: string): Promise<boolean> {
    return this.gate.isAdmin(userId);
  }

  handles(command: string): boolean {
    return this.commandHandlers.has(command);
  }

  async command(name: string, context: AdminCommandContext): Promise<AdaptiveCardJson> {
    const handler = this.commandHandlers.get(name);
    if (!handler) return this.cards.render('notice', noticeCard('Not available yet', `The ${name} command isn't available in this version.`, 'warning'));
    const refusal = await this.gate.refusal(context.userId, name);
    if (refusal) return this.refused(refusal);
    return handler(context);
  }

  /** Every admin verb, each behind the gate. */
  verbs(): Record<string, VerbHandler> {
    const guarded: Record<string, VerbHandler> = {};
    for (const [verb, handler] of this.verbHandlers) {
      guarded[verb] = async (userId, data) => {
        const refusal = await this.gate.refusal(userId, verb);
        return refusal ? this.refused(refusal) : handler(userId, data);
      };
    }
    return guarded;
  }

  private refused(message: string): AdaptiveCardJson {
    return this.cards.render('notice', noticeCard('Admins only', message, 'warning'));
  }
}

/** approvals and reprocess: the admin commands built with issues 4 and 5. */
export class OperationsCommands implements AdminCommandSet {
  constructor(
    private readonly approvals: ApprovalActions,
    private readonly delivery: DeliveryService,
    private readonly cards: CardRenderer,
  ) {}

  commands(): Record<string, AdminCommandHandler> {
    return {
      approvals: ({ userId, args }) => this.approvals.pending(userId, args[0]),
      reprocess: ({ userId, args }) =>
        args[0]
          ? this.reprocess(userId, args[0])
          : Promise.resolve(usage(this.cards, 'reprocess assignment-id or request-id', 'Give the id of the assignment (as shown in the failure notice) or of the request.')),
    };
  }

  verbs(): Record<string, VerbHandler> {
    return { reprocess: (userId, data) => this.reprocess(userId, data.id) };
  }

  async reprocess(userId: string, assignmentId: unknown): Promise<AdaptiveCardJson> {
    const result = await this.delivery.reprocess(userId, assignmentId);
    if (!result.ok) return this.cards.render('notice', noticeCard(result.reason === 'notAllowed' ? 'Admins only' : 'Nothing to reprocess', result.message, 'warning'));
    const what = 'assignment' in result ? `Every resource role of ${result.assignment.id} is being delivered again.` : `Request ${result.request.id} is being delivered again.`;
    return this.cards.render('notice', noticeCard(`Reprocessing: ${result.packageName}`, `${what} The user and admins hear how it ends.`, 'info'));
  }
}

/** The answer to an admin command typed without what it needs. */
export function usage(cards: CardRenderer, text: string, message: string): AdaptiveCardJson {
  return cards.render('notice', noticeCard(`Usage: ${text}`, message, 'info'));
}
