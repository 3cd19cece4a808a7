// Where admin notices go, and the notices that aren't about one request: configuration errors
// and a lost channel. One door for every admin notice (delivery failures, configuration errors,
// the daily digest): to the bound Teams channel when there is one, else 1:1 to every admin.
// Durable through the notifications port; a key per notice and recipient keeps each one single.
import type { Clock } from '../clock';
import { utcDay } from '../domain/digest';
import { formatInstant } from '../domain/lifecycle';
import type { AccessRequest } from '../domain/model';
import type { Directory } from '../directory/port';
import type { Logger } from '../logger';
import type { NewAuditEvent } from '../store/repositories/audit';
import type { SettingsRepository } from '../store/repositories/settings';
import type { AdminPolicy } from './admins';
import { notice } from './messages';
import type { ChannelAddress, Notifications, OutgoingCard } from './notifications';

/** The settings entry holding the bound channel (shared by every instance). */
export const ADMIN_CHANNEL_SETTING = 'adminNotices.channel';

/** A Teams channel as the bot layer describes it when `notices here` is typed there. */
export interface ChannelBindingInput {
  /** Conversation reference of the channel itself: conversation.id is the channel id, without ;messageid=. */
  reference: Record<string, unknown>;
  channelId: string;
  channelName: string;
  teamId?: string;
  teamName: string;
}

export interface AdminChannel extends ChannelBindingInput {
  boundBy: string;
  /** ISO 8601; also tells one binding of the same channel from a later one. */
  boundAt: string;
}

export type NoticeDestination = { kind: 'channel'; channel: AdminChannel } | { kind: 'admins'; adminIds: string[] };

/** Directory operations delivery performs, with the Graph application permission each needs (README's table). */
export const DIRECTORY_OPERATIONS = {
  addGroupMember: { title: 'adding group members', action: 'add users to groups', permission: 'GroupMember.ReadWrite.All' },
  addGroupOwner: { title: 'adding group owners', action: 'make users group owners', permission: 'Group.ReadWrite.All' },
  addAppRole: { title: 'assigning app roles', action: 'assign app roles to users', permission: 'AppRoleAssignment.ReadWrite.All and Application.Read.All' },
  removeGroupMember: { title: 'removing group members', action: 'remove users from groups', permission: 'GroupMember.ReadWrite.All' },
  removeGroupOwner: { title: 'removing group owners', action: 'remove group owners', permission: 'Group.ReadWrite.All' },
  removeAppRole: { title: 'removing app roles', action: "remove users' app role assignments", permission: 'AppRoleAssignment.ReadWrite.All' },
  addDirectoryRole: { title: 'assigning Entra roles', action: 'assign Microsoft Entra roles to users', permission: 'RoleManagement.ReadWrite.Directory' },
  removeDirectoryRole: { title: 'removing Entra roles', action: "remove users' Microsoft Entra role assignments", permission: 'RoleManagement.ReadWrite.Directory' },
} as const;

export type DirectoryOperation = keyof typeof DIRECTORY_OPERATIONS;

export interface AdminNoticesDependencies {
  settings: SettingsRepository;
  admins: AdminPolicy;
  /** The listed admins: still told when the admin group can't be read (that may be the very permission missing). */
  adminUserIds: readonly string[];
  notifications: Notifications;
  audit: { append(event: NewAuditEvent): Promise<unknown> };
  directory: Directory;
  clock: Clock;
  logger: Logger;
}

export class AdminNotices {
  private readonly log: Logger;

  constructor(private readonly deps: AdminNoticesDependencies) {
    this.log = deps.logger.child({ component: 'adminNotices' });
  }

  /** Queues `card` for admins. `key` names the notice; a second send with the same key queues nothing. */
  async send(card: OutgoingCard, key: string): Promise<void> {
    const channel = await this.channel();
    if (channel) {
      await this.deps.notifications.sendToChannel(channelAddress(channel), card, { key: `${key}:channel:${channel.channelId}` });
      return;
    }
    await this.toEachAdmin(card, key);
  }

  /** Where notices go now. */
  async destination(): Promise<NoticeDestination> {
    const channel = await this.channel();
    return channel ? { kind: 'channel', channel } : { kind: 'admins', adminIds: await this.recipients() };
  }

  async channel(): Promise<AdminChannel | null> {
    const value = await this.deps.settings.get<unknown>(ADMIN_CHANNEL_SETTING);
    return isAdminChannel(value) ? value : null;
  }

  /** Binds notices to a channel (replacing any earlier binding); audited. */
  async bindChannel(userId: string, input: ChannelBindingInput): Promise<{ channel: AdminChannel; previous: AdminChannel | null }> {
    const previous = await this.channel();
    const channel: AdminChannel = { ...input, boundBy: userId, boundAt: this.deps.clock.now().toISOString() };
    await this.deps.settings.set(ADMIN_CHANNEL_SETTING, channel, userId);
    await this.deps.audit.append({
      actorId: userId,
      action: 'admin.noticesBound',
      details: { channelId: input.channelId, channelName: input.channelName, teamName: input.teamName, ...(input.teamId ? { teamId: input.teamId } : {}), ...(previous ? { previousChannelId: previous.channelId } : {}) },
    });
    this.log.info({ channel: labelOf(channel), by: userId }, 'admin notices bound to a channel');
    return { channel, previous };
  }

  /** Back to 1:1; null (and nothing audited) when no channel was bound. */
  async unbind(userId: string): Promise<AdminChannel | null> {
    const channel = await this.channel();
    if (!channel) return null;
    const cleared = await this.deps.settings.clearIf(ADMIN_CHANNEL_SETTING, { channelId: channel.channelId, boundAt: channel.boundAt });
    if (!cleared) return null; // someone else changed it at this moment: their change stands
    await this.deps.audit.append({ actorId: userId, action: 'admin.noticesUnbound', details: { channelId: channel.channelId, channelName: channel.channelName, teamName: channel.teamName } });
    this.log.info({ channel: labelOf(channel), by: userId }, 'admin notices unbound: back to 1:1');
    return channel;
  }

  /**
   * The directory refused an operation for lack of permission: admins hear it once per operation
   * and UTC day, however many roles fail. Never throws: the failure is recorded on the role anyway.
   */
  async configurationError(operation: DirectoryOperation, detail: string): Promise<void> {
    try {
      const info = DIRECTORY_OPERATIONS[operation];
      // Graph's own answer names the permission of the exact call that failed; the table is the fallback.
      const permission = /needs the (.+?) application permission/.exec(detail)?.[1] ?? info.permission;
      const card = notice(
        `Configuration error: ${info.title}`,
        `Microsoft Graph refused to let the bot ${info.action}: ${detail.replace(/[.\s]+$/, '')}. ` +
          `This needs the ${permission} application permission with admin consent (see the permission table in the README). ` +
          'Grant it, then reprocess the failed deliveries (each has its own notice; the daily digest lists them). You get this notice at most once a day per operation.',
        'error',
      );
      await this.send(card, `config:${operation}:${utcDay(this.deps.clock.now())}`);
    } catch (error) {
      this.log.error({ err: error, operation }, 'could not queue the configuration error notice');
    }
  }

  /**
   * A separation-of-duties conflict found after a request was accepted (at an approval or just
   * before delivery): the bot ended it and delivered nothing. Admins hear of each one, because
   * it means access arrived outside the bot (a group joined directly), the catalog's
   * incompatibilities changed while requests waited, or conflicting requests predate the
   * per-person claim. Never throws: the request has ended either way.
   */
  async separationOfDutiesEnded(event: { request: AccessRequest; packageName: string; userName: string }): Promise<void> {
    const { request, packageName, userName } = event;
    const endReason = request.endReason;
    try {
      if (!endReason) return;
      const conflict = endReason.conflict;
      const what = conflict
        ? conflict.kind === 'group'
          ? `${userName} is a member of group "${conflict.displayName ?? conflict.id}" (${conflict.id}), which "${packageName}" lists as incompatible`
          : `${userName} holds or asked first for "${conflict.displayName ?? conflict.id}" (${conflict.id}), which is incompatible with "${packageName}"`
        : `${userName} holds access incompatible with "${packageName}"`;
      const where = endReason.checkedAt === 'approval' ? 'when an approver approved it' : 'just before delivery';
      const why =
        conflict?.kind === 'group'
          ? 'Membership of that group was not given through this package: check who added it (directly in Entra, or another tool).'
          : 'This happens when the catalog file made the two incompatible after the requests were made, or when conflicting requests predate this check.';
      const card = notice(
        `Separation of duties: request ${request.id} ended`,
        `Request ${request.id} (${packageName} for ${userName}) was ended ${where}: ${what}. Nothing was delivered and the requester has been told. ${why}`,
        'warning',
      );
      await this.send(card, `sod:${request.id}`);
    } catch (error) {
      this.log.error({ err: error, requestId: request.id }, 'could not queue the separation-of-duties notice');
    }
  }

  /**
   * The bot may not install the app for someone it must message (PROACTIVE_INSTALL): admins hear
   * it once per reason and UTC day. `message` (the installer's) names the fix and the fallback.
   */
  async installRefused(refusal: { reason: 'forbidden' | 'notFound' | 'invalid'; message: string }): Promise<void> {
    try {
      const card = notice(
        'Configuration error: installing the app for people',
        `The bot could not install Access Packages for someone it has to message (typically an approver who never opened it): ${refusal.message.replace(/[.\s]+$/, '')}. ` +
          'Meanwhile it opens the chat directly, which Teams allows only when the app is installed for that person. You get this notice at most once a day.',
        'error',
      );
      await this.send(card, `config:teamsAppInstall:${refusal.reason}:${utcDay(this.deps.clock.now())}`);
    } catch (error) {
      this.log.error({ err: error, reason: refusal.reason }, 'could not queue the installation refusal notice');
    }
  }

  /**
   * A channel post failed for good: the card goes 1:1 to every admin so it isn't lost. When the
   * bot can't post there any more (403/404), the binding is dropped and admins are told once.
   */
  async channelUnreachable(event: { channel: ChannelAddress; card: OutgoingCard; key: string; gone: boolean; reason: string }): Promise<void> {
    if (event.gone) {
      const channelId = conversationIdOf(event.channel.reference);
      const current = await this.channel();
      let cleared = false;
      if (current && channelId === current.channelId && event.channel.tag === current.boundAt) {
        cleared = await this.deps.settings.clearIf(ADMIN_CHANNEL_SETTING, { channelId: current.channelId, boundAt: current.boundAt });
        if (cleared) {
          await this.deps.audit.append({ actorId: 'system', action: 'admin.noticesUnbound', details: { channelId: current.channelId, channelName: current.channelName, teamName: current.teamName, reason: event.reason } });
          this.log.warn({ channel: labelOf(current), reason: event.reason }, 'the admin channel can no longer be reached: notices go 1:1 again');
        }
      }
      // Told once per binding (the key); not when admins have meanwhile bound another channel.
      if (cleared || !current) await this.toEachAdmin(this.channelLost(event.channel, event.reason), `channelLost:${channelId}:${event.channel.tag ?? ''}`);
    }
    await this.toEachAdmin(event.card, `${event.key}:fallback`);
  }

  private channelLost(channel: ChannelAddress, reason: string): OutgoingCard {
    return notice(
      'Admin notices channel no longer works',
      `The bot could not post to ${channel.label} (Teams answered: ${reason}); the app may have been removed from the team or the channel deleted. ` +
        'Admin notices now come to each admin 1:1, starting with the one it could not post. To use a channel again, add the app to the team and type "@Access Packages notices here" in the channel.',
      'warning',
    );
  }

  /** Everyone to tell: the group's members too when it can be read, the listed admins always. */
  async recipients(): Promise<string[]> {
    try {
      return await this.deps.admins.admins();
    } catch (error) {
      this.log.error({ err: error }, 'could not read the admin group; telling the listed admins only');
      return [...this.deps.adminUserIds];
    }
  }

  private async toEachAdmin(card: OutgoingCard, key: string): Promise<void> {
    const adminIds = await this.recipients();
    if (adminIds.length === 0) this.log.warn({ key }, 'no admins are configured (ADMIN_USER_IDS, ADMIN_GROUP_ID): an admin notice reaches nobody');
    for (const adminId of adminIds) await this.deps.notifications.send(adminId, card, { key: `${key}:${adminId}` });
  }
}

/** "General (IT admins)". */
export function labelOf(channel: Pick<AdminChannel, 'channelName' | 'teamName'>): string {
  return `${channel.channelName} (${channel.teamName})`;
}

/** "General (IT admins), bound by Ivan Petrov on 22 Nov 2026 at 09:00 UTC" needs the binder's name; this gives the rest. */
export function boundSince(channel: AdminChannel): string {
  return formatInstant(new Date(channel.boundAt));
}

function channelAddress(channel: AdminChannel): ChannelAddress {
  return { reference: channel.reference, label: labelOf(channel), tag: channel.boundAt };
}

function conversationIdOf(reference: Record<string, unknown>): string | undefined {
  const conversation = reference.conversation;
  return typeof conversation === 'object' && conversation !== null && typeof (conversation as { id?: unknown }).id === 'string' ? (conversation as { id: string }).id : undefined;
}

function isAdminChannel(value: unknown): value is AdminChannel {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.channelId === 'string' &&
    typeof v.channelName === 'string' &&
    typeof v.teamName === 'string' &&
    typeof v.boundBy === 'string' &&
    typeof v.boundAt === 'string' &&
    typeof v.reference === 'object' &&
    v.reference !== null &&
    conversationIdOf(v.reference as Record<string, unknown>) !== undefined
  );
}
