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

// The headline test: a PT2M just-in-time package that needs approval, requested and
// approved through the real /api/messages, delivered into the in-memory Graph by the real
// graph-client code, warned, expired and removed from Graph as the (fake) clock moves, with
// the scheduler loop's tick driving everything and a loopback connector recording each card.
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };
const MINUTE = 60_000;

interface Person {
  aadObjectId: string;
  name: string;
}
const fred: Person = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: Person = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };

// Ids are examples/directory.yaml's, which seeds the in-memory Graph.
const CATALOG = `
catalogs:
  - id: finance
    displayName: Finance
    description: Finance access
    resources:
      - { id: finance-team, type: group, originId: grp-finance, displayName: Finance team }
      - id: accounting-app
        type: application
        originId: sp-accounting
        displayName: Accounting
        roles:
          - { id: role-accounting-user, displayName: User }
          - { id: role-accounting-approver, displayName: Approver }
accessPackages:
  - id: payment-approval
    catalog: finance
    displayName: Payment approval (just-in-time)
    description: Approve one payment batch
    resourceRoles:
      - { resource: finance-team, role: member }
      - { resource: accounting-app, role: Approver }
    policies:
      - id: on-call
        displayName: On call
        allowedRequestors: { scope: allMemberUsers }
        approval:
          required: true
          requestorJustificationRequired: true
          stages:
            - approvers: [{ user: u-nadia }]
              fallbackApprovers: [{ user: u-victor }]
        lifecycle:
          expiration: { type: afterDuration, duration: PT2M }
          extension: { allowed: true, requiresApproval: true }
`;

describe('PT2M just-in-time lifecycle end to end (/api/messages, in-memory Graph)', () => {
  const graph = new InMemoryGraph(new FakeDirectory());
  let server: SetupServerApi;
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string; clock: FakeClock };
  let dir: string;

  beforeAll(async () => {
    // Graph and its sign-in are intercepted; the app's own loopback traffic goes through.
    server = setupServer(...graph.handlers());
    server.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname === '127.0.0.1' ? undefined : print.error()) });
    dir = await mkdtemp(path.join(tmpdir(), 'lifecycle-e2e-'));
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
    app = await startTestApp({ TENANT_ID: TENANT, CATALOG_FILE: path.join(dir, 'catalog.yaml') }, { directory });
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

  /** Cards that reached the person's personal chat. */
  function cardsTo(person: Person): { text: string; card: Record<string, unknown> }[] {
    const created = connector.calls.filter((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[] | undefined)?.[0]?.id === person.aadObjectId).map((c) => c.responseId);
    const theirs = new Set([`a:personal-${person.aadObjectId}`, ...created]);
    return connector.calls
      .filter((c) => c.method === 'POST' && c.conversationId && theirs.has(c.conversationId) && cardOf(c.body))
      .map((c) => ({ card: cardOf(c.body)!, text: cardText(cardOf(c.body)) }));
  }

  function inGraph(userId: string) {
    return {
      financeTeam: graph.directory.group('grp-finance').members.has(userId),
      approverRole: graph.directory.assignmentsOn('sp-accounting').some((a) => a.principalId === userId && a.appRoleId === 'role-accounting-approver'),
    };
  }

  it('requested, approved, delivered to Graph, warned a minute before, expired and removed at two minutes', async () => {
    await postActivity(app.baseUrl, activity(fred, { type: 'message', text: 'help' }));
    expect(await press(fred, { verb: 'submitRequest', packageId: 'payment-approval', policyId: 'on-call', justification: 'Payment batch 42' })).toContain('Request sent for approval');
    await settle();
    const [request] = await app.repositories.requests.listForUser(fred.aadObjectId);
    expect(cardsTo(nadia).map((c) => c.text).join('\n')).toContain('Payment approval (just-in-time)');

    expect(await press(nadia, { verb: 'decide', requestId: request!.id, stage: 0, decision: 'approve' })).toContain('Approved by Nadia Okafor');
    await settle();
    const delivered = (await app.repositories.requests.get(request!.id))!;
    expect(delivered.state).toBe('delivered');
    expect(inGraph('u-fred')).toEqual({ financeTeam: true, approverRole: true });
    const assignment = (await app.repositories.assignments.get(delivered.assignmentId!))!;
    expect(assignment.expiresAt!.getTime() - assignment.startAt.getTime()).toBe(2 * MINUTE);
    expect(cardsTo(fred).map((c) => c.text).join('\n')).toContain('You now have access: Payment approval (just-in-time)');
    expect((await app.repositories.grants.listForUser('u-fred')).map((g) => g.originId).sort()).toEqual(['grp-finance', 'sp-accounting']);

    // A minute later: the one warning (half the life: no configured offset fits in two minutes).
    app.clock.advance(MINUTE);
    await settle();
    const warnings = cardsTo(fred).filter((c) => c.text.includes('Your access ends in'));
    expect(warnings).toHaveLength(1);
    expect(validateCard(warnings[0]!.card)).toEqual([]);
    expect(warnings[0]!.text).toContain('Your access ends in 1 minute: Payment approval (just-in-time)');
    expect(warnings[0]!.text).toContain('Finance team (Member), Accounting (Approver)');
    expect(JSON.stringify(warnings[0]!.card)).toContain('"verb":"letExpire"');
    expect(JSON.stringify(warnings[0]!.card)).toContain('"verb":"extend"');
    expect(inGraph('u-fred')).toEqual({ financeTeam: true, approverRole: true });

    // Two minutes after delivery: expired, removed from Graph, the user told what went.
    app.clock.advance(MINUTE);
    await settle();
    expect(inGraph('u-fred')).toEqual({ financeTeam: false, approverRole: false });
    expect((await app.repositories.assignments.get(assignment.id))!.state).toBe('expired');
    expect(await app.repositories.grants.listForUser('u-fred')).toEqual([]);
    const expired = cardsTo(fred).find((c) => c.text.includes('Expired: Payment approval (just-in-time)'));
    expect(expired?.text).toContain('Removed: Finance team (Member), Accounting (Approver).');
    expect(cardsTo(fred).filter((c) => c.text.includes('Your access ends in'))).toHaveLength(1);
    const actions = (await app.repositories.audit.query({ userId: 'u-fred' })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['assignment.warned', 'delivery.revoked', 'assignment.expired']));
  });

  it('Let it expire from the warning, pressed through /api/messages: accepted and audited, and the access still ends on time', async () => {
    await postActivity(app.baseUrl, activity(fred, { type: 'message', text: 'help' }));
    await press(fred, { verb: 'submitRequest', packageId: 'payment-approval', policyId: 'on-call', justification: 'Payment batch 43' });
    await settle();
    const [request] = await app.repositories.requests.listForUser(fred.aadObjectId);
    await press(nadia, { verb: 'decide', requestId: request!.id, stage: 0, decision: 'approve' });
    await settle();
    app.clock.advance(MINUTE);
    await settle();
    const assignment = (await app.repositories.assignments.listActiveForUser('u-fred'))[0]!;
    const answer = await press(fred, { verb: 'letExpire', assignmentId: assignment.id, expiresAt: assignment.expiresAt!.toISOString() });
    expect(answer).toContain('OK: your access ends on');
    expect((await app.repositories.audit.query({ userId: 'u-fred' })).map((e) => e.action)).toContain('assignment.letExpire');
    app.clock.advance(MINUTE);
    await settle();
    expect(inGraph('u-fred')).toEqual({ financeTeam: false, approverRole: false });
    expect(cardsTo(fred).filter((c) => c.text.includes('Your access ends in'))).toHaveLength(1);
  });
});
