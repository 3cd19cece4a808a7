// Admin commands about admin notices: `notices` (where they go; `here` binds a Teams channel,
// `private` goes back to 1:1) and `digest` (the daily digest now). Decodes and delegates to
// AdminNotices / DigestService; the admin check is the dispatcher's (adminActions.ts).
import type { Directory } from '../directory/port';
import { formatInstant } from '../domain/lifecycle';
import { type AdminNotices, type ChannelBindingInput, labelOf } from '../services/adminNotices';
import type { DigestService } from '../services/digest';
import { type AdminCommandContext, type AdminCommandHandler, type AdminCommandSet, type CommandConversation, usage } from './adminActions';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { VerbHandler } from './selfServiceActions';
import { noticeCard, quoteUserText } from './views';

const HOW_TO_BIND = 'To post them in a Teams channel instead: add the Access Packages app to the team, then type "@Access Packages notices here" in that channel.';

export class AdminNoticeCommands implements AdminCommandSet {
  constructor(
    private readonly notices: AdminNotices,
    private readonly digest: DigestService,
    private readonly directory: Directory,
    private readonly cards: CardRenderer,
    private readonly schedule: { digestTimeUtc: string },
  ) {}

  commands(): Record<string, AdminCommandHandler> {
    return {
      notices: (context) => this.noticesCommand(context),
      digest: () => this.digestNow(),
    };
  }

  verbs(): Record<string, VerbHandler> {
    return {};
  }

  private async noticesCommand({ userId, args, conversation }: AdminCommandContext): Promise<AdaptiveCardJson> {
    const word = (args[0] ?? '').toLowerCase();
    if (args.length > 1 || !['', 'here', 'private'].includes(word)) {
      return usage(this.cards, 'notices, notices here or notices private', `"${quoteUserText(args.join(' '), 40)}" isn't an option. Type notices to see where admin notices go, notices here in a Teams channel to post them there, or notices private to send them to each admin 1:1.`);
    }
    if (word === 'here') return this.bindHere(userId, conversation);
    if (word === 'private') return this.unbind(userId);
    return this.showDestination();
  }

  private async bindHere(userId: string, conversation: CommandConversation): Promise<AdaptiveCardJson> {
    if (conversation.type !== 'channel' || !conversation.channelId) {
      const where = conversation.type === 'groupChat' ? 'a group chat' : 'our 1:1 chat';
      return this.notice(
        'Type this in a Teams channel',
        `notices here binds admin notices to the channel it is typed in, and this is ${where}. Add the Access Packages app to the team, then type "@Access Packages notices here" in the channel where admins should see notices and the daily digest.`,
        'info',
      );
    }
    if (!conversation.trusted) {
      return this.notice(
        "This channel's address couldn't be verified",
        'Notices were not bound: the message did not come with a Bot Framework token that vouches for where the channel is. Type "@Access Packages notices here" in the channel again from the Teams client; if this keeps happening, check the bot\'s authentication settings (MicrosoftAppId).',
        'warning',
      );
    }
    const { channel, previous } = await this.notices.bindChannel(userId, channelBinding(conversation));
    const replaced = previous && previous.channelId !== channel.channelId ? ` They no longer go to ${labelOf(previous)}.` : '';
    return this.notice(
      `Admin notices now go to ${labelOf(channel)}`,
      `Delivery failures, configuration errors and the daily digest (at ${this.schedule.digestTimeUtc} UTC) are posted in this channel.${replaced} Type notices private to send them to each admin 1:1 again.`,
      'info',
    );
  }

  private async unbind(userId: string): Promise<AdaptiveCardJson> {
    const was = await this.notices.unbind(userId);
    if (!was) return this.notice('Admin notices already go to each admin 1:1', `No channel is bound, so nothing changed. ${HOW_TO_BIND}`, 'info');
    return this.notice('Admin notices now go to each admin 1:1', `They are no longer posted in ${labelOf(was)}. ${HOW_TO_BIND}`, 'info');
  }

  private async showDestination(): Promise<AdaptiveCardJson> {
    const destination = await this.notices.destination();
    if (destination.kind === 'channel') {
      const { channel } = destination;
      return this.notice(
        `Admin notices go to ${labelOf(channel)}`,
        `Bound by ${await this.userName(channel.boundBy)} on ${formatInstant(new Date(channel.boundAt))}. Delivery failures, configuration errors and the daily digest (at ${this.schedule.digestTimeUtc} UTC) are posted there. Type notices private to send them to each admin 1:1 instead.`,
        'info',
      );
    }
    const count = destination.adminIds.length;
    return this.notice(
      'Admin notices go to each admin 1:1',
      `${count === 0 ? 'No admins are configured (ADMIN_USER_IDS, ADMIN_GROUP_ID), so they reach nobody.' : `${count} admin${count === 1 ? '' : 's'} get${count === 1 ? 's' : ''} delivery failures, configuration errors and the daily digest (at ${this.schedule.digestTimeUtc} UTC) in their chat with the bot.`} ${HOW_TO_BIND}`,
      count === 0 ? 'warning' : 'info',
    );
  }

  private async digestNow(): Promise<AdaptiveCardJson> {
    const destination = await this.notices.destination();
    const where = destination.kind === 'channel' ? `to ${labelOf(destination.channel)}` : 'to each admin 1:1';
    const card = await this.digest.build(`Asked for now. The daily digest goes out at ${this.schedule.digestTimeUtc} UTC ${where}.`);
    return this.cards.render(card.template, card.data);
  }

  private async userName(userId: string): Promise<string> {
    try {
      return (await this.directory.getUser(userId))?.displayName ?? userId;
    } catch {
      return userId;
    }
  }

  private notice(title: string, message: string, tone: 'info' | 'warning'): AdaptiveCardJson {
    return this.cards.render('notice', noticeCard(title, message, tone));
  }
}

/**
 * The channel as a place to post new messages: the reference of the message that was typed
 * there, pointed at the channel itself (conversation.id without ";messageid=…", which would
 * make every notice a reply in that one thread) and without the incoming activity's id.
 */
export function channelBinding(conversation: CommandConversation): ChannelBindingInput {
  const channelId = conversation.channelId ?? String((conversation.reference.conversation as { id?: unknown } | undefined)?.id ?? '').split(';')[0]!;
  const reference: Record<string, unknown> = { ...conversation.reference };
  delete reference.activityId;
  const incoming = (reference.conversation ?? {}) as Record<string, unknown>;
  reference.conversation = { ...incoming, id: channelId, conversationType: 'channel', isGroup: true };
  // Teams sends no name for a team's General channel (its id is the team's id).
  const channelName = conversation.channelName ?? (conversation.teamId && conversation.teamId === channelId ? 'General' : 'the channel');
  return {
    reference,
    channelId,
    channelName,
    ...(conversation.teamId ? { teamId: conversation.teamId } : {}),
    teamName: conversation.teamName ?? 'the team',
  };
}
