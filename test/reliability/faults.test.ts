import { randomUUID } from 'node:crypto';
import { setupServer } from 'msw/node';
import type { RunningApp } from '../../src/app';
import { Secret } from '../../src/config';
import { loadDirectoryFile } from '../../src/directory/directoryFile';
import { GraphDirectory } from '../../src/directory/graphDirectory';
import { FINAL_REQUEST_STATES } from '../../src/domain/model';
import { runReconciliation } from '../../src/services/reconcile';
import { EXAMPLE_DIRECTORY } from '../support/botHarness';
import type { FakeClock } from '../support/fakeClock';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';
import { LoopbackConnector, TEAMS_ERRORS } from '../support/loopbackConnector';
import { postActivity, startTestApp } from '../support/testApp';
import { openTestStore } from '../support/testStore';
import { BOT, TENANT } from './fixtures';

// Faults, replays and two instances: Graph answers 429/503 for stretches, calls time out (some
// writes landing late) or drop, the connector
// 429/502/403 MessageWritesBlocked; every activity is delivered twice; two approvers decide
// the same request at the same moment on two instances; two bot instances share one store and
// both run the scheduler. All work completes or is reported; nothing is done twice.
const ENDPOINT = 'https://graph.reliability.test';
const AUTHORITY = 'https://login.reliability.test';
const REQUESTERS = ['u-fred', '00000000-0000-0000-0000-0000000000021', '00000000-0000-0000-0000-0000000000022', '00000000-0000-0000-0000-0000000000023', 'u-victor'];
const BLOCKED = '00000000-0000-0000-0000-0000000000023'; // has blocked message writes
const CALL_TIMEOUT_MS = 250; // the bot gives up on a Graph call after this (30 s in production)

describe('faults, replays and two instances on one store', () => {
  const graph = new InMemoryGraph(new FakeDirectory(), { graphEndpoint: ENDPOINT, authorityHost: AUTHORITY });
  let connector: LoopbackConnector;
  let apps: (RunningApp & { baseUrl: string; clock: FakeClock })[] = [];

  // Graph and its sign-in are intercepted; the apps' own loopback traffic goes through.
  const server = setupServer(...graph.handlers());
  beforeAll(() => server.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname === '127.0.0.1' ? undefined : print.error()) }));
  afterAll(async () => {
    for (const app of apps) await app.close();
    await connector?.stop();
    server.close();
  });

  it('all work completes or is reported, nothing is silently dropped or done twice', async () => {
    graph.reset(FakeDirectory.fromFile(await loadDirectoryFile(EXAMPLE_DIRECTORY)));
    connector = new LoopbackConnector();
    await connector.start();
    const directory = () =>
      GraphDirectory.fromConfig(
        { auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) }, endpoint: ENDPOINT, authorityHost: AUTHORITY },
        { requestTimeoutMs: CALL_TIMEOUT_MS },
      );
    // One store, two instances: the embedded store, or MongoDB in MongoDB mode (TEST_STORE / MONGODB_URI).
    const store = await openTestStore();
    const env = { TENANT_ID: TENANT, TEAMS_SERVICE_URL: connector.serviceUrl };
    apps = [await startTestApp(env, { store, directory: directory() }), await startTestApp(env, { store, directory: directory() })];
    const [a, b] = apps as [typeof apps[0], typeof apps[0]];
    b.clock.set(a.clock.now());

    const activity = (user: string, extra: Record<string, unknown>) => ({
      id: randomUUID(), channelId: 'msteams', serviceUrl: connector.serviceUrl, recipient: BOT,
      from: { id: `29:${user}`, aadObjectId: user, name: user },
      conversation: { id: `a:personal-${user}`, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      ...extra,
    });
    const invoke = (user: string, data: Record<string, unknown>) => activity(user, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } });
    /** Each activity reaches both instances at once (a retried delivery of the same activity). */
    const twice = async (body: Record<string, unknown>) => Promise.all(apps.map((app) => postActivity(app.baseUrl, body)));
    /** Both instances run their scheduler loop together, time moving a minute per round. */
    async function settle(rounds = 120): Promise<void> {
      for (let i = 0; i < rounds; i++) {
        await Promise.all(apps.map((app) => app.taskRunner.run()));
        for (const app of apps) app.clock.advance(60_000);
        // Retries wait up to 15 minutes; approval reminders and timeouts (days away) are not work in flight.
        const due = await store.collection('tasks').count({ state: 'pending', dueAt: { $lte: new Date(a.clock.now().getTime() + 3_600_000) } });
        if (due === 0 && i > 2) return;
      }
    }

    // Faults for stretches: Graph throttles and fails writes and reads; the connector throttles,
    // fails, and one user's chat refuses message writes for good.
    graph.fail({ method: 'DELETE' }, { status: 503, times: 4 });
    connector.respond(TEAMS_ERRORS.throttled(1), { times: 15 });
    connector.respond(TEAMS_ERRORS.serviceError(502), { times: 10 });
    connector.respond(TEAMS_ERRORS.messageWritesBlocked(), { times: 1000, when: (c) => c.conversationId === `a:personal-${BLOCKED}` });

    for (const user of [...REQUESTERS, 'u-nadia', '00000000-0000-0000-0000-0000000000020']) await twice(activity(user, { type: 'message', text: 'help' }));
    for (const user of REQUESTERS) {
      const answers = await twice(invoke(user, { verb: 'submitRequest', packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' }));
      expect(answers.map((x) => x.status)).toEqual([200, 200]);
    }
    // Reads fail for a stretch too, from here on (approver resolution, delivery's checks).
    graph.fail({ method: 'GET' }, { status: 503, times: 12 });
    graph.throttle({ method: 'POST' }, { retryAfterSeconds: 2, times: 12 });
    // Calls that don't answer in time: the bot gives up, yet Graph applies some of those writes
    // late (after the bot's retry, or before it); and connections that drop.
    graph.hang({ method: 'POST' }, { ms: CALL_TIMEOUT_MS * 2, times: 6 });
    graph.hang({ method: 'GET' }, { ms: CALL_TIMEOUT_MS * 2, times: 4 });
    graph.disconnect({ method: 'GET' }, { times: 4 });
    await settle();
    const requests = (await Promise.all(REQUESTERS.map((u) => a.repositories.requests.listForUser(u)))).flat().filter((r) => r.packageId === 'accounting');
    expect(requests).toHaveLength(REQUESTERS.length); // the replayed submits made no second request

    // Nadia and Alex (both finance approvers) approve each request at the same moment on different instances.
    for (const request of requests) {
      const data = { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' };
      // While Graph fails, a click can be answered "something went wrong": people click again.
      for (let click = 0; click < 10 && (await a.repositories.requests.get(request.id))!.state === 'pendingApproval'; click++) {
        await Promise.all([postActivity(a.baseUrl, invoke('u-nadia', data)), postActivity(b.baseUrl, invoke('00000000-0000-0000-0000-0000000000020', data)), postActivity(b.baseUrl, invoke('u-nadia', data))]);
      }
    }
    await settle();
    // One user gives the access back while Graph fails removals for a stretch.
    const fredAssignment = (await a.repositories.assignments.listActiveForUser('u-fred'))[0]!;
    graph.hang({ method: 'DELETE' }, { ms: CALL_TIMEOUT_MS * 2, times: 2 });
    await twice(invoke('u-fred', { verb: 'removeAccess', assignmentId: fredAssignment.id }));
    await settle();

    const all = await Promise.all(requests.map((r) => a.repositories.requests.get(r.id)));
    expect(all.filter((r) => !(FINAL_REQUEST_STATES as readonly string[]).includes(r!.state)).map((r) => `${r!.id} ${r!.state}`)).toEqual([]);
    expect(all.map((r) => r!.state)).toEqual(requests.map(() => 'delivered'));
    const audit = await a.repositories.audit.query({ limit: 10_000 });
    for (const r of requests) {
      expect(audit.filter((e) => e.action === 'approval.approved' && e.requestId === r.id)).toHaveLength(1);
      expect(all.find((x) => x!.id === r.id)!.history.filter((h) => h.action.startsWith('approved')).length).toBe(1);
    }
    const granted = audit.filter((e) => e.action === 'delivery.granted').map((e) => `${e.assignmentId}|${String(e.details?.resource)}|${String(e.details?.role)}`);
    expect(granted.length).toBe(new Set(granted).size);
    expect((await a.repositories.assignments.get(fredAssignment.id))?.state).toBe('removed');

    // Every task ended: done, or failed with its reason (the blocked chat's messages), none pending and due.
    const tasks = await store.collection<{ _id: string; state: string; type: string; lastError?: string; payload: Record<string, unknown>; dueAt: Date }>('tasks').find({});
    expect(tasks.filter((t) => t.state === 'pending' && t.dueAt <= a.clock.now()).map((t) => t.type)).toEqual([]);
    const failed = tasks.filter((t) => t.state === 'failed');
    expect(failed.every((t) => t.type.startsWith('notify.') && /blocked/i.test(t.lastError ?? ''))).toBe(true);
    expect(failed.length).toBeGreaterThan(0);
    const throttled = connector.calls.filter((c) => c.status === 429 || c.status === 502).length;
    console.log(`faults: ${throttled} connector calls throttled/failed, ${failed.length} notices to a blocked chat failed and reported, ${tasks.filter((t) => t.state === 'done').length} tasks done`);

    expect(graph.unmetFaults()).toBe(0); // every injected Graph fault, timeout and drop happened
    const report = await runReconciliation(a.repositories, a.directory);
    expect(report.drift).toEqual([]);
  }, 120_000);
});
