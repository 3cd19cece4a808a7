import { type Activity, INVOKE_RESPONSE_KEY, type InvokeResponse, TestAdapter, type TurnContext } from 'botbuilder';
import { AccessPackagesBot } from '../../src/bot/accessPackagesBot';
import { CardRenderer } from '../../src/bot/cards';
import { TenantGuard } from '../../src/bot/tenantGuard';
import type { Logger } from '../../src/logger';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { openRepositories, type Repositories } from '../../src/store/repositories';
import { FakeClock } from './fakeClock';
import { silentLogger } from './silentLogger';

export interface BotHarness {
  adapter: TestAdapter;
  bot: AccessPackagesBot;
  store: DocumentStore;
  repositories: Repositories;
  clock: FakeClock;
  /** The invoke response of the last invoke activity processed. */
  lastInvokeResponse(): InvokeResponse | undefined;
  close(): Promise<void>;
}

/** The bot on botbuilder's TestAdapter with an in-memory store: handler-level tests. */
export async function createBotHarness(options: { tenantId?: string; logger?: Logger } = {}): Promise<BotHarness> {
  const store = await openEmbeddedStore({});
  const clock = new FakeClock();
  const logger = options.logger ?? silentLogger;
  const repositories = await openRepositories(store, clock);
  const bot = new AccessPackagesBot({ cards: new CardRenderer(), conversationReferences: repositories.conversationReferences, clock, logger });
  let invokeResponse: InvokeResponse | undefined;
  const adapter = new TestAdapter(async (context: TurnContext) => {
    await bot.run(context);
    const activity = context.turnState.get(INVOKE_RESPONSE_KEY) as Partial<Activity> | undefined;
    if (activity) invokeResponse = activity.value as InvokeResponse;
  });
  adapter.use(new TenantGuard(options.tenantId, logger));
  return {
    adapter,
    bot,
    store,
    repositories,
    clock,
    lastInvokeResponse: () => invokeResponse,
    close: () => store.close(),
  };
}

/** A user as Teams describes them on an activity. */
export interface TeamsUser {
  aadObjectId: string;
  name: string;
}

export const TENANT = '00000000-0000-0000-0000-000000000001';

export function from(user: TeamsUser) {
  return { id: `29:${user.aadObjectId}`, aadObjectId: user.aadObjectId, name: user.name };
}

export function personalMessage(user: TeamsUser, text: string, extra: Partial<Activity> = {}): Partial<Activity> {
  return {
    type: 'message',
    text,
    from: from(user),
    conversation: { id: `a:personal-${user.aadObjectId}`, conversationType: 'personal', tenantId: TENANT, isGroup: false, name: '' },
    channelData: { tenant: { id: TENANT } },
    ...extra,
  };
}

export function cardInvoke(user: TeamsUser, verb: string, data: Record<string, unknown> = {}, extra: Partial<Activity> = {}): Partial<Activity> {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    from: from(user),
    conversation: { id: `a:personal-${user.aadObjectId}`, conversationType: 'personal', tenantId: TENANT, isGroup: false, name: '' },
    channelData: { tenant: { id: TENANT } },
    value: { action: { type: 'Action.Execute', verb, data: { verb, ...data } }, trigger: 'manual' },
    ...extra,
  };
}

/** The Adaptive Card carried by a bot reply, or undefined. */
export function cardOf(activity: Partial<Activity> | undefined): Record<string, unknown> | undefined {
  const attachment = activity?.attachments?.[0];
  return attachment?.contentType === 'application/vnd.microsoft.card.adaptive' ? (attachment.content as Record<string, unknown>) : undefined;
}

/** All TextBlock texts of a card, in order: what a person reads. */
export function cardText(card: unknown): string {
  const texts: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const obj = node as Record<string, unknown>;
      if (obj.type === 'TextBlock' && typeof obj.text === 'string') texts.push(obj.text);
      if (obj.type === 'FactSet' && Array.isArray(obj.facts)) for (const f of obj.facts as { title: string; value: string }[]) texts.push(`${f.title} ${f.value}`);
      Object.values(obj).forEach(walk);
    }
  };
  walk(card);
  return texts.join('\n');
}

/** Titles of the card's actions (buttons). */
export function cardButtons(card: unknown): string[] {
  const actions = (card as { actions?: { title: string }[] } | undefined)?.actions ?? [];
  return actions.map((a) => a.title);
}
