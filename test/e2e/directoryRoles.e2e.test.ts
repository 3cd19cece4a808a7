import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setupServer, type SetupServerApi } from 'msw/node';
import type { RunningApp } from '../../src/app';
import { Secret } from '../../src/config';
import { loadDirectoryFile } from '../../src/directory/directoryFile';
import { GraphDirectory } from '../../src/directory/graphDirectory';
import { cardOf, cardText, EXAMPLE_DIRECTORY } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import type { FakeClock } from '../support/fakeClock';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';
import { LoopbackConnector } from '../support/loopbackConnector';
import { postActivity, startTestApp } from '../support/testApp';
import { personalActivity } from '../support/teamsActivity';

// An Entra role end to end: requested and approved through the real /api/messages, assigned in
// the in-memory Graph by the real graph-client code (POST /roleManagement/directory/
// roleAssignments), and removed by the bot's own just-in-time expiry (found with a filtered
// list, deleted by id), the scheduler tick driving everything and a loopback connector
// recording each card. Also: a role held before is left alone, and an app without
// RoleManagement.ReadWrite.Directory gets a configuration error in front of an admin at once.
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };
const MINUTE = 60_000;
const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';

interface Person {
  aadObjectId: string;
  name: string;
}
const fred: Person = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const victor: Person = { aadObjectId: 'u-victor', name: 'Victor Hale' }; // holds Reports Reader already
const nadia: Person = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const ivan: Person = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' }; // the admin

const CATALOG = `
catalogs:
  - id: it
    displayName: IT
    resources:
      - { id: reports-reader, type: directoryRole, originId: ${REPORTS_READER}, displayName: Reports Reader }
accessPackages:
  - id: reports-jit
    catalog: it
    displayName: Sign-in reports (just-in-time)
    resourceRoles: [{ resource: reports-reader, role: Entra role }]
    policies:
      - id: on-call
        displayName: On call
        approval:
          required: true
          requestorJustificationRequired: true
          stages:
            - approvers: [{ user: u-nadia }]
              fallbackApprovers: [{ user: u-victor }]
        lifecycle:
          expiration: { type: afterDuration, duration: PT2M }
          extension: { allowed: false }
`;

describe('an Entra role end to end (/api/messages, in-memory Graph)', () => {
  const graph = new InMemoryGraph(new FakeDirectory());
  let server: SetupServerApi;
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string; clock: FakeClock };
  let dir: string;

  beforeAll(async () => {
    server = setupServer(...graph.handlers());
    server.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname === '127.0.0.1' ? undefined : print.error()) });
    dir = await mkdtemp(path.join(tmpdir(), 'roles-e2e-'));
    await writeFile(path.join(dir, 'catalog.yaml'), CATALOG);
  });

  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    graph.reset(FakeDirectory.fromFile(await loadDirectoryFile(EXAMPLE_DIRECTORY)));
    connector = new LoopbackConnector();
    await connector.start();
    const directory = GraphDirectory.fromConfig({
      auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
      endpoint: graph.graphEndpoint,
      authorityHost: graph.authorityHost,
    });
    app = await startTestApp({ TENANT_ID: TENANT, CATALOG_FILE: path.join(dir, 'catalog.yaml'), ADMIN_USER_IDS: ivan.aadObjectId }, { directory });
  });

  afterEach(async () => {
    try {
      await app?.close();
    } finally {
      await connector.stop();
    }
  });

  function activity(person: Person, extra: Record<string, unknown>) {
    return personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, person, extra);
  }

  async function press(person: Person, data: Record<string, unknown>): Promise<string> {
    const response = await postActivity(app.baseUrl, activity(person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }));
    expect(response.status).toBe(200);
    const card = (response.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return cardText(card);
  }

  /** Scheduler ticks (outbox, then lifecycle) until one changes nothing more. */
  async function settle(): Promise<void> {
    const tasks = app.store.collection('tasks');
    for (let i = 0; i < 20; i++) {
      const before = await tasks.count({ state: { $in: ['done', 'failed'] } });
      const pending = await tasks.count({ state: 'pending' });
      await app.scheduler.tick();
      if ((await tasks.count({ state: { $in: ['done', 'failed'] } })) === before && (await tasks.count({ state: 'pending' })) === pending) return;
    }
    throw new Error('tasks kept falling due');
  }

  /** Card texts that reached the person's personal chat (or one the bot opened for them). */
  function cardsTo(person: Person): string[] {
    const created = connector.calls.filter((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[] | undefined)?.[0]?.id === person.aadObjectId).map((c) => c.responseId);
    const theirs = new Set([`a:personal-${person.aadObjectId}`, ...created]);
    return connector.calls.filter((c) => c.method === 'POST' && c.conversationId && theirs.has(c.conversationId) && cardOf(c.body)).map((c) => cardText(cardOf(c.body)));
  }

  /** The user's tenant-wide Reports Reader assignments in Graph. */
  function inGraph(userId: string) {
    return [...graph.directory.roleAssignments.values()].filter((a) => a.principalId === userId && a.roleDefinitionId === REPORTS_READER && a.directoryScopeId === '/');
  }

  async function requestAndApprove(person: Person): Promise<string> {
    await postActivity(app.baseUrl, activity(person, { type: 'message', text: 'help' }));
    expect(await press(person, { verb: 'submitRequest', packageId: 'reports-jit', policyId: 'on-call', justification: 'Sign-in alert 7' })).toContain('Request sent for approval');
    await settle();
    const [request] = await app.repositories.requests.listForUser(person.aadObjectId);
    expect(await press(nadia, { verb: 'decide', requestId: request!.id, stage: 0, decision: 'approve' })).toContain('Approved by Nadia Okafor');
    await settle();
    return request!.id;
  }

  it('requested, approved, assigned in Graph at tenant scope, removed at its two-minute expiry', async () => {
    const requestId = await requestAndApprove(fred);
    expect((await app.repositories.requests.get(requestId))!.state).toBe('delivered');
    expect(inGraph('u-fred')).toHaveLength(1);
    const created = graph.writeLog().filter((c) => c.method === 'POST' && c.path === '/roleManagement/directory/roleAssignments');
    expect(created.map((c) => [c.status, c.body])).toEqual([[201, { '@odata.type': '#microsoft.graph.unifiedRoleAssignment', principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' }]]);
    expect(cardsTo(fred).join('\n')).toContain('You now have access: Sign-in reports (just-in-time)');
    expect(cardsTo(fred).join('\n')).toContain('Reports Reader (Entra role)');

    app.clock.advance(MINUTE);
    await settle();
    expect(inGraph('u-fred')).toHaveLength(1); // not before its time

    app.clock.advance(MINUTE);
    await settle();
    expect(inGraph('u-fred')).toEqual([]);
    const request = (await app.repositories.requests.get(requestId))!;
    expect((await app.repositories.assignments.get(request.assignmentId!))!.state).toBe('expired');
    const deleted = graph.writeLog().filter((c) => c.method === 'DELETE');
    expect(deleted.map((c) => [c.path.startsWith('/roleManagement/directory/roleAssignments/'), c.status])).toEqual([[true, 204]]);
    expect(cardsTo(fred).find((t) => t.includes('Expired: Sign-in reports (just-in-time)'))).toContain('Removed: Reports Reader (Entra role).');
    expect(await app.repositories.grants.listForUser('u-fred')).toEqual([]);
  });

  it('a role the user held before is neither assigned again nor removed at expiry', async () => {
    const [before] = inGraph('u-victor');
    const requestId = await requestAndApprove(victor);
    expect((await app.repositories.requests.get(requestId))!.state).toBe('delivered');
    app.clock.advance(2 * MINUTE);
    await settle();
    expect(inGraph('u-victor')).toEqual([before]);
    expect(graph.writeLog()).toEqual([]);
    expect(cardsTo(victor).find((t) => t.includes('Expired: Sign-in reports (just-in-time)'))).toContain('Still yours: Reports Reader (Entra role), which you had before.');
  });

  it('without RoleManagement.ReadWrite.Directory: delivery fails at once, and the admin hears it is a configuration error', async () => {
    graph.withoutPermission('RoleManagement.ReadWrite.Directory');
    await postActivity(app.baseUrl, activity(ivan, { type: 'message', text: 'help' }));
    const requestId = await requestAndApprove(fred);
    expect((await app.repositories.requests.get(requestId))!.state).toBe('deliveryFailed');
    expect(inGraph('u-fred')).toEqual([]);
    // Refused at the first call (the pre-existing check), not retried.
    expect(graph.calls.filter((c) => c.path.startsWith('/roleManagement/') && c.status === 403).length).toBeGreaterThan(0);
    expect(await app.store.collection('tasks').count({ type: 'grant.add', attempts: { $gt: 1 } })).toBe(0);
    const toIvan = cardsTo(ivan).join('\n');
    expect(toIvan).toContain('Configuration error: assigning Entra roles');
    expect(toIvan).toContain('RoleManagement.ReadWrite.Directory');
    expect(toIvan).toContain('Delivery failed: Sign-in reports (just-in-time) for Fred Jansen');
    expect(cardsTo(fred).join('\n')).toContain("Couldn't deliver: Sign-in reports (just-in-time)");
  });
});
