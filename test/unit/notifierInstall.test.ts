// Proactive installation in the notifier (PROACTIVE_INSTALL): a card for someone the bot has no
// chat with goes through the real TeamsAppInstaller into the in-memory Graph first, then into the
// chat Graph returned, through botbuilder's CloudAdapter and a loopback connector. Graph's
// refusals map to task outcomes: 429/503 retry, 403 falls back to opening the chat by member
// id, a wrong catalog id is a configuration error; disabled means no Graph call at all.

import { setupServer, type SetupServerApi } from 'msw/node';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type TurnContext } from 'botbuilder';
import { CardRenderer } from '../../src/bot/cards';
import { type InstallConfigurationError, ProactiveNotifier } from '../../src/bot/notifier';
import { type Config, loadConfig, Secret } from '../../src/config';
import { loadDirectoryFile } from '../../src/directory/directoryFile';
import { INSTALL_PERMISSION, TeamsAppInstaller } from '../../src/directory/teamsAppInstaller';
import type { Task } from '../../src/domain/model';
import type { Logger } from '../../src/logger';
import { TaskRunner } from '../../src/scheduler/taskRunner';
import { NOTIFY_TASKS, type OutgoingCard } from '../../src/services/notifications';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { openRepositories, type Repositories } from '../../src/store/repositories';
import { cardOf, cardText, EXAMPLE_DIRECTORY } from '../support/botHarness';
import { FakeClock } from '../support/fakeClock';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';
import { LoopbackConnector, type RecordedCall, TEAMS_ERRORS } from '../support/loopbackConnector';
import { memoryLogger } from '../support/silentLogger';
import { REPO_ROOT } from '../support/testApp';

const TENANT = '00000000-0000-0000-0000-000000000001';
const CATALOG_ID = '7d2c8e4a-1b3f-4c5d-9e6f-0a1b2c3d4e5f';
const BOT = { id: '28:bot', name: 'Access Packages' };
const NADIA = 'u-nadia'; // the approver: never opened the app
const FRED = 'u-fred'; // has talked to the bot: his reference tells where the bot lives
const DAY = 24 * 60 * 60_000;

function notice(title: string): OutgoingCard {
  return { template: 'notice', data: { title, message: `${title}: details`, tone: 'info', buttons: [] } };
}

describe('ProactiveNotifier with proactive installation (in-memory Graph, loopback connector)', () => {
  const graph = new InMemoryGraph(new FakeDirectory());
  let server: SetupServerApi;
  let connector: LoopbackConnector;
  let store: DocumentStore;
  let clock: FakeClock;
  let repositories: Repositories;
  let adapter: CloudAdapter;
  let runner: TaskRunner;
  let turnErrors: Error[];
  let refusals: InstallConfigurationError[];
  let logs: ReturnType<typeof memoryLogger>;
  const graphConfig = {
    auth: { kind: 'clientSecret' as const, tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
    endpoint: graph.graphEndpoint,
    authorityHost: graph.authorityHost,
  };

  beforeAll(async () => {
    // Graph and its sign-in are intercepted; the loopback connector's traffic goes through.
    server = setupServer(...graph.handlers());
    server.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname === '127.0.0.1' ? undefined : print.error()) });
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterAll(async () => {
    server.close();
    await connector.stop();
  });

  beforeEach(async () => {
    graph.reset(FakeDirectory.fromFile(await loadDirectoryFile(EXAMPLE_DIRECTORY)));
    graph.teams.publish({ id: CATALOG_ID });
    connector.calls.length = 0;
    connector.resetResponses();
    store = await openEmbeddedStore({});
    clock = new FakeClock();
    repositories = await openRepositories(store, clock);
    adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({ MicrosoftAppId: '' }));
    turnErrors = [];
    adapter.onTurnError = async (_context: TurnContext, error: Error) => void turnErrors.push(error);
    runner = new TaskRunner(repositories.tasks, () => clock.now(), memoryLogger().logger, { leaseMs: 60_000, maxPerTick: 100, workerId: 'test' });
    refusals = [];
    logs = memoryLogger();
    await storeReference(FRED, 'a:fred');
  });

  afterEach(async () => {
    expect(turnErrors).toEqual([]);
    await store.close();
  });

  function config(env: Record<string, string> = {}): Config {
    return loadConfig({ LOG_LEVEL: 'silent', ...env }, REPO_ROOT);
  }

  /** A notifier with the real installer (catalog id as given), or none when `installer` is false. */
  function makeNotifier(options: { installer?: boolean; catalogId?: string; env?: Record<string, string>; logger?: Logger } = {}): ProactiveNotifier {
    const notifier = new ProactiveNotifier({
      adapter,
      cards: new CardRenderer(),
      repositories,
      config: config(options.env),
      clock,
      logger: options.logger ?? logs.logger,
      pacing: { now: () => 0, sleep: async () => undefined, maxWaitMs: Number.POSITIVE_INFINITY },
      random: () => 0.5,
      ...(options.installer === false ? {} : { installer: TeamsAppInstaller.fromConfig(graphConfig, options.catalogId ?? CATALOG_ID) }),
      installRefused: async (refusal) => void refusals.push(refusal),
    });
    notifier.register(runner);
    return notifier;
  }

  /** What the bot records when a user writes: their reference and the bot's address. */
  async function storeReference(userId: string, conversationId: string): Promise<void> {
    await repositories.conversationReferences.saveBotAddress({ tenantId: TENANT, serviceUrl: connector.serviceUrl, bot: BOT, updatedAt: clock.now() });
    await repositories.conversationReferences.save({
      id: userId,
      tenantId: TENANT,
      reference: {
        channelId: 'msteams',
        serviceUrl: connector.serviceUrl,
        bot: BOT,
        user: { id: `29:${userId}`, aadObjectId: userId },
        conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
      },
      updatedAt: clock.now(),
    });
  }

  async function queueSend(userId: string, card: OutgoingCard, trackAs?: string): Promise<Task> {
    return (await repositories.tasks.enqueue({ type: NOTIFY_TASKS.send, payload: { userId, card, ...(trackAs ? { trackAs } : {}) } }))!;
  }

  const teamworkCalls = () => graph.calls.filter((c) => c.path.includes('/teamwork/'));
  const messages = () => connector.calls.filter((c) => c.method === 'POST' && c.conversationId !== undefined);
  const titleOf = (call: RecordedCall) => cardText(cardOf(call.body)).split('\n')[0];
  const refusalLogs = () => logs.lines().filter((l) => l.msg === 'proactive installation refused: opening chats by member id instead, which needs the app installed');

  it('installs the app for someone with no chat and sends the card into the chat Graph returned', async () => {
    makeNotifier();
    const task = await queueSend(NADIA, notice('Please approve'), 'approval:r1:u-nadia');
    await runner.run();

    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done', attempts: 1 });
    const installation = graph.teams.installationOf(NADIA, CATALOG_ID);
    expect(installation).toBeDefined();
    expect(teamworkCalls().map((c) => `${c.method} ${c.status}`)).toEqual(['POST 201', 'GET 200', 'GET 200']);
    // No chat opened by member id: the card went straight into the installed app's chat.
    expect(connector.createdConversations).toEqual([]);
    expect(messages()).toHaveLength(1);
    expect(messages()[0]).toMatchObject({ conversationId: installation!.chatId, status: 200 });
    expect(messages()[0]!.body).toMatchObject({ from: { id: BOT.id }, conversation: { id: installation!.chatId } });
    expect(titleOf(messages()[0]!)).toBe('Please approve');

    // Remembered as her chat (the bot's serviceUrl and account from Fred's reference) and tracked for updates.
    expect(await repositories.conversationReferences.get(NADIA)).toMatchObject({
      tenantId: TENANT,
      reference: { serviceUrl: connector.serviceUrl, bot: BOT, user: { aadObjectId: NADIA }, conversation: { id: installation!.chatId, conversationType: 'personal' } },
    });
    expect(await repositories.sentCards.get('approval:r1:u-nadia')).toMatchObject({ conversationId: installation!.chatId, activityId: messages()[0]!.responseId });

    // The next card needs no Graph call at all.
    graph.calls.length = 0;
    await queueSend(NADIA, notice('Reminder'));
    await runner.run();
    expect(graph.calls).toEqual([]);
    expect(messages().map((c) => c.conversationId)).toEqual([installation!.chatId, installation!.chatId]);
    expect(logs.lines().filter((l) => l.msg === 'app installed for the user')).toHaveLength(1);
  });

  it('an app already installed (setup policy, another instance) counts as installed: 409, same chat, nothing installed twice', async () => {
    const existing = graph.teams.installFor(NADIA, CATALOG_ID);
    makeNotifier();
    const task = await queueSend(NADIA, notice('Please approve'));
    await runner.run();

    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done' });
    expect(teamworkCalls()[0]).toMatchObject({ method: 'POST', status: 409 });
    expect(graph.teams.installations.filter((i) => i.userId === NADIA)).toHaveLength(1);
    expect(messages().map((c) => c.conversationId)).toEqual([existing.chatId]);
    expect(logs.lines().filter((l) => l.msg === 'app already installed for the user')).toHaveLength(1);
  });

  it('nothing changes for someone with a stored chat: no Graph call', async () => {
    makeNotifier();
    const tokens = graph.identity.requests.length;
    const task = await queueSend(FRED, notice('Approved'));
    await runner.run();

    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done' });
    expect(graph.calls).toEqual([]);
    expect(graph.identity.requests).toHaveLength(tokens);
    expect(messages().map((c) => c.conversationId)).toEqual(['a:fred']);
  });

  it('disabled (no installer): no Graph call at all, the chat is opened by member id as before', async () => {
    makeNotifier({ installer: false });
    const tokens = graph.identity.requests.length;
    const task = await queueSend(NADIA, notice('Please approve'));
    await runner.run();

    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done' });
    expect(graph.calls).toEqual([]);
    expect(graph.identity.requests).toHaveLength(tokens);
    expect(connector.createdConversations).toEqual([{ isGroup: false, bot: BOT, members: [{ id: NADIA }], tenantId: TENANT, channelData: { tenant: { id: TENANT } } }]);
    expect(refusals).toEqual([]);
  });

  describe('Graph refuses the installation (403: permission missing)', () => {
    it('falls back to opening the chat by member id; logged and reported once a day, not per card', async () => {
      graph.deny({ method: 'POST', path: /\/teamwork\/installedApps$/ }, { times: 3 });
      makeNotifier();
      const first = await queueSend(NADIA, notice('Please approve'));
      await runner.run();

      expect(await repositories.tasks.get(first.id)).toMatchObject({ state: 'done' });
      expect(graph.teams.installations).toEqual([]);
      expect(connector.createdConversations).toHaveLength(1);
      expect(connector.createdConversations[0]).toMatchObject({ members: [{ id: NADIA }] });
      expect(titleOf(messages()[0]!)).toBe('Please approve');
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.reason).toBe('forbidden');
      expect(refusals[0]!.message).toContain(INSTALL_PERMISSION);
      expect(refusals[0]!.message).toContain('open Access Packages in Teams once');
      expect(refusalLogs()).toHaveLength(1);
      expect(refusalLogs()[0]).toMatchObject({ level: 40, reason: 'forbidden', failure: expect.stringContaining(INSTALL_PERMISSION) });

      // Someone else the same day: refused again, falls back again, but not logged or reported again.
      const second = await queueSend('u-lola', notice('Please approve'));
      await runner.run();
      expect(await repositories.tasks.get(second.id)).toMatchObject({ state: 'done' });
      expect(teamworkCalls().map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([`POST /users/${NADIA}/teamwork/installedApps 403`, 'POST /users/u-lola/teamwork/installedApps 403']);
      expect(connector.createdConversations).toHaveLength(2);
      expect(refusals).toHaveLength(1);
      expect(refusalLogs()).toHaveLength(1);

      // The next day it is news again.
      clock.advance(DAY);
      await queueSend('u-victor', notice('Please approve'));
      await runner.run();
      expect(graph.teams.installations).toEqual([]);
      expect(connector.createdConversations).toHaveLength(3);
      expect(refusals).toHaveLength(2);
      expect(refusalLogs()).toHaveLength(2);
    });

    it('when the fallback fails too (app not installed), the task fails naming the permission and the fallback', async () => {
      graph.deny({ method: 'POST', path: `/users/${NADIA}/teamwork/installedApps` });
      connector.respond(TEAMS_ERRORS.notInstalled(), { when: (c) => c.path === '/v3/conversations' });
      makeNotifier();
      const task = await queueSend(NADIA, notice('Please approve'));
      await runner.run();

      const failed = (await repositories.tasks.get(task.id))!;
      expect(failed).toMatchObject({ state: 'failed', attempts: 1 });
      expect(failed.lastError).toContain('sending notice to user u-nadia: the app is not installed for this user in personal scope: 403 ForbiddenOperationException');
      expect(failed.lastError).toContain(`the bot may not install the app for them: Graph refused to install the Teams app '${CATALOG_ID}' for user 'u-nadia'`);
      expect(failed.lastError).toContain(`needs the ${INSTALL_PERMISSION} application permission`);
      expect(failed.lastError).toContain('the user must open Access Packages in Teams once, or an admin pre-installs it for them with a Teams app setup policy');
      expect(messages()).toEqual([]);
      expect(await repositories.conversationReferences.get(NADIA)).toBeNull();
    });
  });

  it('429 from Graph: retried at its Retry-After, then installed and delivered once', async () => {
    graph.throttle({ method: 'POST', path: `/users/${NADIA}/teamwork/installedApps` }, { retryAfterSeconds: 7 });
    makeNotifier();
    const task = await queueSend(NADIA, notice('Please approve'));
    await runner.run();

    const waiting = (await repositories.tasks.get(task.id))!;
    expect(waiting).toMatchObject({ state: 'pending', lastError: expect.stringContaining('installing the app for user u-nadia to send notice: Graph throttled the request') });
    expect(waiting.dueAt.getTime() - clock.now().getTime()).toBe(7000);
    expect(connector.calls).toEqual([]);
    expect(graph.teams.installations).toEqual([]);

    clock.advance(7000);
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done', attempts: 2 });
    expect(messages().map((c) => c.conversationId)).toEqual([graph.teams.installationOf(NADIA, CATALOG_ID)!.chatId]);
    expect(refusals).toEqual([]);
  });

  it('503 from Graph: retried with back-off; on the last attempt the chat is opened by member id instead', async () => {
    graph.fail({ method: 'POST', path: `/users/${NADIA}/teamwork/installedApps` }, { times: 2 });
    makeNotifier({ env: { NOTIFY_MAX_ATTEMPTS: '2' } });
    const task = await queueSend(NADIA, notice('Please approve'));
    await runner.run();

    const waiting = (await repositories.tasks.get(task.id))!;
    expect(waiting).toMatchObject({ state: 'pending', lastError: expect.stringContaining('503') });
    expect(waiting.dueAt.getTime() - clock.now().getTime()).toBe(5000); // the first back-off step (jitter 0.5 = none)
    expect(connector.calls).toEqual([]);

    clock.advance(5000);
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done', attempts: 2 });
    expect(connector.createdConversations).toHaveLength(1);
    expect(titleOf(messages()[0]!)).toBe('Please approve');
  });

  it('an app missing from the tenant catalog is a configuration error naming TEAMS_APP_CATALOG_ID', async () => {
    connector.respond(TEAMS_ERRORS.notInstalled(), { when: (c) => c.path === '/v3/conversations' });
    makeNotifier({ catalogId: '00000000-1111-2222-3333-444444444444' });
    const task = await queueSend(NADIA, notice('Please approve'));
    await runner.run();

    const failed = (await repositories.tasks.get(task.id))!;
    expect(failed.state).toBe('failed');
    expect(failed.lastError).toContain('; configuration error: cannot install the Teams app');
    expect(failed.lastError).toContain('check TEAMS_APP_CATALOG_ID');
    expect(refusals.map((r) => r.reason)).toEqual(['notFound']);
    expect(refusals[0]!.message).toContain('TEAMS_APP_CATALOG_ID');
    expect(refusalLogs()[0]).toMatchObject({ level: 50, reason: 'notFound' });
    expect(graph.teams.installations).toEqual([]);
  });

  it('a user the directory does not know: the task fails at once, nothing sent', async () => {
    makeNotifier();
    const task = await queueSend('u-nobody', notice('Please approve'));
    await runner.run();

    const failed = (await repositories.tasks.get(task.id))!;
    expect(failed).toMatchObject({ state: 'failed', attempts: 1 });
    expect(failed.lastError).toBe("installing the app for user u-nobody to send notice: cannot install the Teams app '7d2c8e4a-1b3f-4c5d-9e6f-0a1b2c3d4e5f' for user 'u-nobody': user 'u-nobody' does not exist");
    expect(connector.calls).toEqual([]);
    expect(refusals).toEqual([]);
  });

  it('an installer that throws (no token, say) is retried, not lost', async () => {
    new ProactiveNotifier({
      adapter,
      cards: new CardRenderer(),
      repositories,
      config: config(),
      clock,
      logger: logs.logger,
      pacing: { now: () => 0, sleep: async () => undefined, maxWaitMs: Number.POSITIVE_INFINITY },
      random: () => 0.5,
      installer: { installFor: async () => Promise.reject(new Error('AADSTS7000215: Invalid client secret provided.')) },
    }).register(runner);
    const task = await queueSend(NADIA, notice('Please approve'));
    await runner.run();

    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'pending', lastError: 'installing the app for user u-nadia to send notice: AADSTS7000215: Invalid client secret provided.' });
    expect(connector.calls).toEqual([]);
  });
});
