import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setupServer, type SetupServerApi } from 'msw/node';
import type { RunningApp } from '../../src/app';
import { Secret } from '../../src/config';
import { loadDirectoryFile } from '../../src/directory/directoryFile';
import { GraphDirectory } from '../../src/directory/graphDirectory';
import { INSTALL_PERMISSION } from '../../src/directory/teamsAppInstaller';
import type { StoredDocument } from '../../src/store/port';
import { cardOf, cardText, EXAMPLE_DIRECTORY } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import type { FakeClock } from '../support/fakeClock';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';
import { LoopbackConnector, type RecordedCall } from '../support/loopbackConnector';
import { postActivity, startTestApp } from '../support/testApp';

// Proactive installation wired end to end (issue 7): the app as startApp builds it from the
// settings (PROACTIVE_INSTALL, TEAMS_APP_CATALOG_ID, Graph credentials), the in-memory Graph
// behind the real graph-client code, and a loopback connector. Fred requests through
// /api/messages; his approvers Nadia (his manager) and Lola never opened the app: the bot
// installs it for them and their approval cards arrive in the chats Graph returned. A 403 falls back to opening the
// chat by member id and tells the admins; with the setting off, Graph is never asked.
const TENANT = '00000000-0000-0000-0000-000000000001';
const CATALOG_ID = '7d2c8e4a-1b3f-4c5d-9e6f-0a1b2c3d4e5f';
const BOT = { id: '28:bot', name: 'Access Packages' };
const GRAPH_ENV = { AZURE_TENANT_ID: TEST_TENANT_ID, AZURE_CLIENT_ID: TEST_CLIENT_ID, AZURE_CLIENT_SECRET: TEST_CLIENT_SECRET };

interface Person {
  aadObjectId: string;
  name: string;
}
const fred: Person = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: Person = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const LOLA = 'u-lola';

const CATALOG = `
catalogs:
  - id: finance
    displayName: Finance
    description: Finance access
    resources:
      - { id: finance-team, type: group, originId: grp-finance, displayName: Finance team }
accessPackages:
  - id: finance-team
    catalog: finance
    displayName: Finance team
    description: The finance department's team and files
    resourceRoles:
      - { resource: finance-team, role: member }
    policies:
      - id: staff
        displayName: Staff
        allowedRequestors: { scope: allMemberUsers }
        approval:
          required: true
          stages:
            - approvers: [{ manager: true }, { user: u-lola }]
              fallbackApprovers: [{ user: u-victor }]
        lifecycle:
          expiration: { type: afterDuration, duration: P30D }
`;

describe('proactive installation end to end (/api/messages, in-memory Graph, loopback connector)', () => {
  const graph = new InMemoryGraph(new FakeDirectory());
  let server: SetupServerApi;
  let connector: LoopbackConnector;
  let app: (RunningApp & { baseUrl: string; clock: FakeClock }) | undefined;
  let dir: string;

  beforeAll(async () => {
    // Graph and its sign-in are intercepted; the app's own loopback traffic goes through.
    server = setupServer(...graph.handlers());
    server.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname === '127.0.0.1' ? undefined : print.error()) });
    dir = await mkdtemp(path.join(tmpdir(), 'proactive-install-e2e-'));
    await writeFile(path.join(dir, 'catalog.yaml'), CATALOG);
  });

  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    graph.reset(FakeDirectory.fromFile(await loadDirectoryFile(EXAMPLE_DIRECTORY)));
    graph.teams.publish({ id: CATALOG_ID });
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterEach(async () => {
    try {
      await app?.close();
      app = undefined;
    } finally {
      await connector.stop();
    }
  });

  async function start(env: Record<string, string>): Promise<RunningApp & { baseUrl: string; clock: FakeClock }> {
    const directory = GraphDirectory.fromConfig({
      auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
      endpoint: graph.graphEndpoint,
      authorityHost: graph.authorityHost,
    });
    app = await startTestApp({ TENANT_ID: TENANT, CATALOG_FILE: path.join(dir, 'catalog.yaml'), ...GRAPH_ENV, ...env }, { directory });
    return app;
  }

  function activity(person: Person, conversationId: string, extra: Record<string, unknown>) {
    return {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: `29:${person.aadObjectId}`, name: person.name, aadObjectId: person.aadObjectId },
      recipient: BOT,
      conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      ...extra,
    };
  }

  async function press(running: RunningApp & { baseUrl: string }, person: Person, conversationId: string, data: Record<string, unknown>): Promise<string> {
    const response = await postActivity(
      running.baseUrl,
      activity(person, conversationId, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }),
    );
    expect(response.status).toBe(200);
    const card = (response.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return cardText(card);
  }

  /** Fred talks to the bot, then asks for the package; the outbox runs until it is quiet. */
  async function fredRequests(running: RunningApp & { baseUrl: string }): Promise<string> {
    expect((await postActivity(running.baseUrl, activity(fred, 'a:personal-u-fred', { type: 'message', text: 'help' }))).status).toBe(200);
    expect(await press(running, fred, 'a:personal-u-fred', { verb: 'submitRequest', packageId: 'finance-team', policyId: 'staff' })).toContain('Request sent for approval');
    await settle(running);
    const [request] = await running.repositories.requests.listForUser(fred.aadObjectId);
    return request!.id;
  }

  async function settle(running: RunningApp): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const pending = await running.store.collection('tasks').count({ state: 'pending', dueAt: { $lte: running.clock.now() } });
      if (pending === 0) return;
      await running.scheduler.tick();
    }
    throw new Error('tasks kept falling due');
  }

  const cardsIn = (conversationId: string): RecordedCall[] => connector.calls.filter((c) => c.method === 'POST' && c.conversationId === conversationId && c.status === 200 && cardOf(c.body));
  const teamworkCalls = () => graph.calls.filter((c) => c.path.includes('/teamwork/'));
  const membersOfCreatedChats = () => connector.createdConversations.map((body) => (body.members as { id: string }[])[0]!.id);

  it('installs the app for approvers who never opened it: approval cards arrive in the chats Graph returned, and are updated there', async () => {
    const running = await start({ TEAMS_APP_CATALOG_ID: CATALOG_ID, PROACTIVE_INSTALL: 'true' });
    const requestId = await fredRequests(running);

    const nadiaApp = graph.teams.installationOf(nadia.aadObjectId, CATALOG_ID);
    const lolaApp = graph.teams.installationOf(LOLA, CATALOG_ID);
    expect(nadiaApp).toBeDefined();
    expect(lolaApp).toBeDefined();
    const nadiaCalls = teamworkCalls().filter((c) => c.path.startsWith('/users/u-nadia/'));
    expect(nadiaCalls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      `POST /users/u-nadia/teamwork/installedApps 201`,
      `GET /users/u-nadia/teamwork/installedApps 200`,
      `GET /users/u-nadia/teamwork/installedApps/${nadiaApp!.id}/chat 200`,
    ]);
    expect(teamworkCalls()).toHaveLength(6);
    expect(teamworkCalls().every((c) => c.authorization?.startsWith('Bearer '))).toBe(true);
    // Nobody's chat was opened by member id: Fred has his, the approvers got theirs from Graph.
    expect(connector.createdConversations).toEqual([]);
    for (const chatId of [nadiaApp!.chatId, lolaApp!.chatId]) {
      const cards = cardsIn(chatId);
      expect(cards).toHaveLength(1);
      expect(cards[0]!.body).toMatchObject({ from: { id: BOT.id }, conversation: { id: chatId } });
      expect(validateCard(cardOf(cards[0]!.body)!)).toEqual([]);
      expect(cardText(cardOf(cards[0]!.body))).toContain('Finance team');
      expect(JSON.stringify(cardOf(cards[0]!.body))).toContain('"verb":"decide"');
    }

    // Nadia approves from her chat; Lola's card is replaced in place in hers; Fred hears the outcome.
    const [lolaCard] = cardsIn(lolaApp!.chatId);
    expect(await press(running, nadia, nadiaApp!.chatId, { verb: 'decide', requestId, stage: 0, decision: 'approve' })).toContain('Approved by Nadia Okafor');
    await settle(running);
    const update = connector.calls.find((c) => c.method === 'PUT' && c.conversationId === lolaApp!.chatId);
    expect(update).toMatchObject({ activityId: lolaCard!.responseId, status: 200 });
    expect(cardText(cardOf(update!.body))).toContain('Approved by Nadia Okafor');
    expect((await running.repositories.requests.get(requestId))!.state).toBe('delivered');
    expect(cardsIn('a:personal-u-fred').map((c) => cardText(cardOf(c.body))).join('\n')).toContain('You now have access: Finance team');
    // Installed once each, and no Graph call for the later cards.
    expect(graph.teams.installations).toHaveLength(2);
    expect(teamworkCalls()).toHaveLength(6);
  });

  it('Graph refuses (403, permission missing): the card goes the usual way and the admins are told what to grant', async () => {
    graph.deny({ method: 'POST', path: /\/teamwork\/installedApps$/ }, { times: 5 });
    const running = await start({ TEAMS_APP_CATALOG_ID: CATALOG_ID, PROACTIVE_INSTALL: 'true', ADMIN_USER_IDS: 'u-ivan' });
    await fredRequests(running);

    expect(graph.teams.installations).toEqual([]);
    // The approval cards in chats opened by member id; Ivan's notice likewise.
    expect(membersOfCreatedChats().sort()).toEqual(['u-ivan', 'u-lola', 'u-nadia']);
    const chatOf = (userId: string) => connector.calls.find((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[])[0]!.id === userId)!.responseId!;
    expect(JSON.stringify(cardOf(cardsIn(chatOf('u-nadia'))[0]!.body))).toContain('"verb":"decide"');
    const notices = cardsIn(chatOf('u-ivan')).map((c) => cardText(cardOf(c.body)));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('Configuration error: installing the app for people');
    expect(notices[0]).toContain(INSTALL_PERMISSION);
    expect(notices[0]).toContain('an admin pre-installs it for them with a Teams app setup policy');
    const tasks = await running.store.collection<StoredDocument & { state: string }>('tasks').find({ type: 'notify.send' });
    expect(tasks.map((t) => t.state)).toEqual(tasks.map(() => 'done'));
  });

  it('PROACTIVE_INSTALL off (Graph configured): no Graph installation call at all, the chat is opened by member id', async () => {
    const running = await start({ TEAMS_APP_CATALOG_ID: CATALOG_ID });
    await fredRequests(running);

    expect(teamworkCalls()).toEqual([]);
    expect(graph.teams.installations).toEqual([]);
    expect(membersOfCreatedChats().sort()).toEqual(['u-lola', 'u-nadia']);
    expect(connector.sent.some((body) => JSON.stringify(cardOf(body)).includes('"verb":"decide"'))).toBe(true);
  });
});
