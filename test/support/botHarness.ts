import { ClaimsIdentity } from 'botframework-connector';
import { type Activity, type InvokeResponse, TestAdapter, type TurnContext } from 'botbuilder';
import type { AccessPackagesBot } from '../../src/bot/accessPackagesBot';
import type { LimitSettings } from '../../src/bot/limits';
import { TenantGuard } from '../../src/bot/tenantGuard';
import { applyCatalog } from '../../src/catalog/applyCatalog';
import { formatCatalogError, loadCatalogFile } from '../../src/catalog/catalogFile';
import { buildBot, registerTaskHandlers } from '../../src/composeBot';
import { TaskRunner } from '../../src/scheduler/taskRunner';
import type { AdminNotices } from '../../src/services/adminNotices';
import type { ApprovalService } from '../../src/services/approvals';
import type { DigestService } from '../../src/services/digest';
import type { DeliveryService } from '../../src/services/delivery';
import type { LifecycleService } from '../../src/services/lifecycle';
import { LocalDirectory } from '../../src/directory/localDirectory';
import type { Directory } from '../../src/directory/port';
import type { Logger } from '../../src/logger';
import type { DocumentStore } from '../../src/store/port';
import { rateLimitCountersFor } from '../../src/store/rateLimitCounters';
import { openRepositories, type Repositories } from '../../src/store/repositories';
import path from 'node:path';
import { FakeClock } from './fakeClock';

export const EXAMPLE_DIRECTORY = path.resolve(__dirname, '..', '..', 'examples', 'directory.yaml');
export const EXAMPLE_CATALOG = path.resolve(__dirname, '..', '..', 'examples', 'catalog.yaml');
import { silentLogger } from './silentLogger';
import { openTestStore } from './testStore';

export interface BotHarness {
  adapter: TestAdapter;
  bot: AccessPackagesBot;
  store: DocumentStore;
  repositories: Repositories;
  clock: FakeClock;
  directory: Directory;
  /** Runs due tasks (approval steps, notifications queued as tasks) as the scheduler would. */
  taskRunner: TaskRunner;
  approvals: ApprovalService;
  delivery: DeliveryService;
  /** The lifecycle job (expiry warnings, expiry), run by hand as the scheduler would. */
  lifecycle: LifecycleService;
  adminNotices: AdminNotices;
  /** The daily digest; `digest.ensureScheduled()` is the scheduler job the app runs each tick. */
  digest: DigestService;
  /** The invoke response of the last invoke activity processed. */
  lastInvokeResponse(): InvokeResponse | undefined;
  /** Virtual milliseconds the directory-write pacing has waited so far. */
  pacingMs(): number;
  close(): Promise<void>;
}

/** The bot on botbuilder's TestAdapter with a store of its own (testStore.ts: embedded, or MongoDB): handler-level tests. */
export interface HarnessOptions {
  tenantId?: string;
  logger?: Logger;
  directory?: Directory;
  exampleCatalog?: boolean;
  adminUserIds?: string[];
  adminGroupId?: string;
  /** EXPIRY_WARNINGS (default P14D, P1D, PT15M). */
  warningOffsets?: string[];
  /** Share a store with another harness (a second instance, or a restart). */
  store?: DocumentStore;
  clock?: FakeClock;
  /**
   * The caller's identity CloudAdapter would have established (default: vouchingIdentity).
   * Undefined: none, as for a call that was never authenticated.
   */
  identity?: (activity: Partial<Activity>) => ClaimsIdentity | undefined;
  /** The catalog file "apply catalog" reads (default: the example catalog). */
  catalogFile?: string;
  /** Per-person limits (LIMIT_*), counted in memory; none when absent. */
  limits?: LimitSettings;
  /** ALLOW_PRIVILEGED_ROLES (default false). */
  allowPrivilegedRoles?: boolean;
}

export async function createBotHarness(options: HarnessOptions = {}): Promise<BotHarness> {
  const store = options.store ?? (await openTestStore());
  const clock = options.clock ?? new FakeClock();
  const logger = options.logger ?? silentLogger;
  const repositories = await openRepositories(store, clock);
  if (options.exampleCatalog) {
    const catalog = await loadCatalogFile(EXAMPLE_CATALOG);
    if (!catalog.ok) throw new Error(`example catalog invalid: ${catalog.errors.map(formatCatalogError).join('; ')}`);
    await applyCatalog(catalog.catalog, repositories);
  }
  const directory = options.directory ?? (await LocalDirectory.open({ file: EXAMPLE_DIRECTORY }));
  let virtualMs = 0;
  const graph = buildBot({ repositories, directory, clock, logger, admins: { userIds: options.adminUserIds ?? [], groupId: options.adminGroupId },
    catalogFile: options.catalogFile ?? EXAMPLE_CATALOG,
    delivery: { writesPerSecond: 1000, maxAttempts: 5, allowPrivilegedRoles: options.allowPrivilegedRoles ?? false, pacing: { now: () => virtualMs, sleep: async (ms) => void (virtualMs += ms), maxWaitMs: Number.POSITIVE_INFINITY } },
    ...(options.warningOffsets ? { lifecycle: { warningOffsets: options.warningOffsets } } : {}),
    ...(options.limits ? { limits: { settings: options.limits, counters: rateLimitCountersFor(store) } } : {}),
  });
  const { bot } = graph;
  const taskRunner = new TaskRunner(repositories.tasks, () => clock.now(), logger, { leaseMs: 60_000, maxPerTick: 1000, workerId: 'test' });
  registerTaskHandlers(taskRunner, graph);
  let invokeResponse: InvokeResponse | undefined;
  const adapter = new TestAdapter(async (context: TurnContext) => bot.run(context));
  // Activities that name no serviceUrl get a loopback one, as the Agents Playground's.
  adapter.conversation.serviceUrl = HARNESS_SERVICE_URL;
  // TestAdapter queues invoke responses like any reply; keep them apart for the test to read.
  // Registered before the tenant guard so its answers are seen too.
  adapter.use(async (context, next) => {
    invokeResponse = undefined;
    context.onSendActivities(async (_ctx, activities, sendNext) => {
      for (const activity of activities) if (activity.type === 'invokeResponse') invokeResponse = activity.value as InvokeResponse;
      return sendNext();
    });
    await next();
  });
  // CloudAdapter puts the caller's identity in the turn state; TestAdapter doesn't.
  const identify = options.identity ?? vouchingIdentity;
  adapter.use(async (context, next) => {
    const identity = identify(context.activity);
    if (identity) context.turnState.set(context.adapter.BotIdentityKey, identity);
    await next();
  });
  adapter.use(new TenantGuard(options.tenantId, logger));
  adapter.use(graph.activityLimit);
  return {
    adapter,
    bot,
    store,
    repositories,
    clock,
    directory,
    taskRunner,
    approvals: graph.approvals,
    delivery: graph.delivery,
    lifecycle: graph.lifecycle,
    adminNotices: graph.adminNotices,
    digest: graph.digest,
    lastInvokeResponse: () => invokeResponse,
    pacingMs: () => virtualMs,
    close: () => store.close(),
  };
}

/** A user as Teams describes them on an activity. */
export interface TeamsUser {
  aadObjectId: string;
  name: string;
}

/**
 * What CloudAdapter establishes for a genuine activity: with authentication disabled (the
 * loopback serviceUrls of local tools) an identity without claims; otherwise, as after
 * validating a Bot Framework channel token, one whose serviceurl claim is the activity's.
 */
export function vouchingIdentity(activity: Partial<Activity>): ClaimsIdentity {
  const serviceUrl = activity.serviceUrl ?? '';
  if (/^https?:\/\/(127\.|localhost[:/])/.test(serviceUrl)) return new ClaimsIdentity([], 'anonymous');
  return new ClaimsIdentity([{ type: 'serviceurl', value: serviceUrl }, { type: 'ver', value: '1.0' }, { type: 'aud', value: 'test-app-id' }], true);
}

/** Where the TestAdapter says activities come from (nothing listens there). */
export const HARNESS_SERVICE_URL = 'http://127.0.0.1:9/test-connector/';

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

/** All texts of a card (TextBlocks, RichTextBlocks, facts), in order: what a person reads. */
export function cardText(card: unknown): string {
  const texts: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const obj = node as Record<string, unknown>;
      // TextBlocks and facts are markdown: a backslash-escaped character reads as the character.
      if (obj.type === 'TextBlock' && typeof obj.text === 'string') texts.push(unescapeMarkdown(obj.text));
      if (obj.type === 'RichTextBlock' && Array.isArray(obj.inlines)) texts.push((obj.inlines as { text?: unknown }[]).map((run) => (typeof run === 'string' ? run : String(run.text ?? ''))).join(''));
      if (obj.type === 'FactSet' && Array.isArray(obj.facts)) for (const f of obj.facts as { title: string; value: string }[]) texts.push(unescapeMarkdown(`${f.title} ${f.value}`));
      Object.values(obj).forEach(walk);
    }
  };
  walk(card);
  return texts.join('\n');
}

/** CommonMark backslash escapes (literalText's) as the characters they stand for. */
function unescapeMarkdown(text: string): string {
  return text.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/** Titles of the card's actions (buttons). */
export function cardButtons(card: unknown): string[] {
  const actions = (card as { actions?: { title: string }[] } | undefined)?.actions ?? [];
  return actions.map((a) => a.title);
}
