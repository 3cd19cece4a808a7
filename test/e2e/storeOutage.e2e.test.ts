import type { AccessRequest } from '../../src/domain/model';
import { cardOf, cardText } from '../support/botHarness';
import { LoopbackConnector, type RecordedCall } from '../support/loopbackConnector';
import { type MongoTarget, mongoUnavailable, startMongoTarget, uniqueDbName } from '../support/mongoWire';
import { drainTasks, postActivity, startTestApp } from '../support/testApp';
import { personalActivity } from '../support/teamsActivity';
import { openMongoTestStore } from '../support/testStore';

// MongoDB stalling under a running bot, on the MongoDB wire double (a test double, not
// MongoDB): its replies are held (connections stay open, nothing answers), as a hung server or
// a network partition does. The bot keeps its default MongoDB timeouts (MONGODB_TIMEOUT_MS 5 s).
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };
const fred = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const APOLOGY = /sorry|try again/i;

const unavailable = mongoUnavailable();
if (unavailable) console.info(unavailable);

(unavailable ? describe.skip : describe)('MongoDB stalls and comes back (MongoDB wire double)', () => {
  let target: MongoTarget;
  let connector: LoopbackConnector;
  let app: Awaited<ReturnType<typeof startTestApp>>;

  beforeEach(async () => {
    target = await startMongoTarget({ double: true });
    connector = new LoopbackConnector();
    await connector.start();
    app = await startTestApp({ TENANT_ID: TENANT }, { store: await openMongoTestStore(target.uri, uniqueDbName('outage')) });
  });

  afterEach(async () => {
    await target.control!.release();
    try {
      await app?.close();
    } finally {
      await connector.stop();
      await target.stop();
    }
  });

  const say = (text: string, extra: Record<string, unknown> = {}) =>
    postActivity(app.baseUrl, personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, fred, { type: 'message', text, ...extra }));
  const repliesSince = (count: number): RecordedCall[] => connector.calls.slice(count).filter((c) => c.method === 'POST' && c.conversationId === `a:personal-${fred.aadObjectId}`);
  const textOf = (call: RecordedCall) => (cardOf(call.body) ? cardText(cardOf(call.body)) : String(call.body.text ?? ''));

  async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
    const started = Date.now();
    const value = await work();
    return { value, ms: Date.now() - started };
  }

  it('/readyz says 503 within 2 s while it stalls, a chat turn apologises within the store timeout, and both recover by themselves', async () => {
    await say('help');
    expect((await fetch(`${app.baseUrl}/readyz`)).status).toBe(200);

    await target.control!.pause();
    const probe = await timed(() => fetch(`${app.baseUrl}/readyz`));
    expect(probe.value.status).toBe(503);
    expect(probe.ms).toBeLessThan(2500);
    console.log(`MongoDB wire double stalled: /readyz answered ${probe.value.status} in ${probe.ms} ms`);

    const before = connector.calls.length;
    const turn = await timed(() => say('my requests'));
    const replies = repliesSince(before).map(textOf);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatch(APOLOGY);
    // Two stages of 2.5 s (the driver retries a read once), not the driver's 30 s defaults.
    expect(turn.ms).toBeLessThan(8000);
    console.log(`MongoDB wire double stalled: the chat turn apologised after ${turn.ms} ms`);

    await target.control!.release();
    const recovered = await timed(async () => {
      for (;;) {
        if ((await fetch(`${app.baseUrl}/readyz`)).status === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    expect(recovered.ms).toBeLessThan(5000);
    const after = connector.calls.length;
    await say('my requests');
    const answer = repliesSince(after).map(textOf);
    expect(answer).toHaveLength(1);
    expect(answer[0]).not.toMatch(APOLOGY);
  }, 60_000);

  it('a request cut off by the stall between its writes is completed by the recovery sweep once the store answers: approval starts, the audit event is recorded', async () => {
    await say('help');
    // The request is stored; everything after that write (its audit record, its next task) stalls.
    await target.control!.pauseAfter('insert', 'requests');
    const before = connector.calls.length;
    const submit = { verb: 'submitRequest', packageId: 'accounting', policyId: 'employees', justification: 'Month end close', 'answer:costCentre': '4100' };
    await say('', { value: submit });
    expect(repliesSince(before).map(textOf)).toEqual([expect.stringMatching(APOLOGY)]);
    await target.control!.release();

    const [request] = await app.repositories.requests.listForUser(fred.aadObjectId);
    expect(request).toMatchObject<Partial<AccessRequest>>({ state: 'pendingApproval', stages: [] });
    // Its audit event rides on the document until recorded (the record itself may have gone
    // through unacknowledged, as on a real server); its approval task was never queued.
    const pending = async () => ((await app.store.collection<{ _id: string; pendingAudit?: unknown[] }>('requests').findOne({ _id: request!.id }))?.pendingAudit ?? []).length;
    expect(await pending()).toBe(1);
    expect(await app.store.collection('tasks').count({ 'payload.requestId': request!.id })).toBe(0);
    const events = () => app.repositories.audit.query({ requestId: request!.id });

    // Fred retries: one open request per package, so he is told it exists (nothing doubled).
    const retry = connector.calls.length;
    await say('', { value: submit });
    expect(repliesSince(retry).map(textOf).join('\n')).not.toMatch(APOLOGY);
    expect(await app.repositories.requests.listForUser(fred.aadObjectId)).toHaveLength(1);

    // The sweep runs on the scheduler every 5 minutes.
    app.clock.advance(5 * 60_000);
    await app.scheduler.tick();
    expect((await events()).map((e) => e.action)).toEqual(['request.submitted']);
    expect(await pending()).toBe(0);
    await drainTasks(app, () => app.taskRunner.run());
    expect((await app.repositories.requests.get(request!.id))?.stages).toHaveLength(1);
    // A second sweep finds nothing left to do.
    const tasks = await app.store.collection('tasks').count({});
    app.clock.advance(5 * 60_000);
    await app.scheduler.tick();
    expect(await app.store.collection('tasks').count({})).toBe(tasks);
    expect((await events()).filter((e) => e.action === 'request.submitted')).toHaveLength(1);
  }, 60_000);
});
