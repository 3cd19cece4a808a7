import { randomUUID } from 'node:crypto';

export interface ActivityPerson {
  aadObjectId: string;
  name: string;
}

export interface ActivityTarget {
  /** The loopback connector's address: where the bot sends its replies. */
  serviceUrl: string;
  tenantId: string;
  bot: { id: string; name: string };
}

/** An activity from a user in their 1:1 chat with the bot, shaped as Teams posts it to /api/messages. */
export function personalActivity(target: ActivityTarget, person: ActivityPerson, extra: Record<string, unknown>, conversationId = `a:personal-${person.aadObjectId}`) {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: target.serviceUrl,
    from: { id: `29:${person.aadObjectId}`, name: person.name, aadObjectId: person.aadObjectId },
    recipient: target.bot,
    conversation: { id: conversationId, conversationType: 'personal', tenantId: target.tenantId },
    channelData: { tenant: { id: target.tenantId } },
    ...extra,
  };
}
