// Per-person limits (issue 13, point 8) end to end: real HTTP POSTs to restify's
// /api/messages with replies going to a loopback connector; then MongoDB mode, where two app
// instances share one database and so one count per person. MongoDB mode runs on MONGODB_URI
// when set, otherwise on the MongoDB wire double (../shared/mongo-wire): runs there are
// reported as "MongoDB wire double", not "MongoDB".
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { MongoClient } from 'mongodb';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { PerMinuteLimit } from '../../src/bot/limits';
import { openMongoStore } from '../../src/store/mongoStore';
import type { DocumentStore } from '../../src/store/port';
import { RATE_LIMIT_COLLECTION, rateLimitCountersFor } from '../../src/store/rateLimitCounters';
import { cardOf, cardText } from '../support/botHarness';
import { FakeClock } from '../support/fakeClock';
import { LoopbackConnector, type RecordedCall } from '../support/loopbackConnector';
import { type MongoTarget, mongoUnavailable, startMongoTarget } from '../support/mongoWire';
import { memoryLogger } from '../support/silentLogger';
import { postActivity, startTestApp } from '../support/testApp';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;

const TENANT = '00000000-0000-0000-0000-000000000001';
const BOT = { id: '28:6f1c2e9a-0b7d-4c3e-9a51-bd2f8c7e4a10', name: 'Access Packages' };
const fred = { id: '29:1u-fred', name: 'Fred Jansen', aadObjectId: 'u-fred' };
const lola = { id: '29:1u-lola', name: 'Lola Martin', aadObjectId: 'u-lola' };
type Sender = typeof fred;
const VALID_ACCOUNTING = { packageId: 'accounting', policyId: 'employees', justification: 'I joined the accounting team', 'answer:costCentre': '4100' };

let connector: LoopbackConnector;

beforeAll(async () => {
  connector = new LoopbackConnector();
  await connector.start();
});

afterAll(async () => {
  await connector?.stop();
});

function activity(sender: Sender, fields: Record<string, unknown>) {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: sender,
    recipient: BOT,
    conversation: { id: `a:personal-${sender.aadObjectId}`, conversationType: 'personal', tenantId: TENANT },
    channelData: { tenant: { id: TENANT } },
    ...fields,
  };
}

/** Types a message; returns what the bot POSTed into that chat in answer (nothing when silent). */
async function say(app: TestApp, sender: Sender, text: string): Promise<RecordedCall[]> {
  const sent = activity(sender, { type: 'message', text });
  const since = connector.calls.length;
  const response = await postActivity(app.baseUrl, sent);
  expect(response.status).toBe(200);
  return connector.calls.slice(since).filter((c) => c.conversationId === sent.conversation.id);
}

/** Action.Execute: the card in the HTTP response. */
async function execute(app: TestApp, sender: Sender, verb: string, data: Record<string, unknown> = {}): Promise<string> {
  const response = await postActivity(app.baseUrl, activity(sender, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data: { verb, ...data } }, trigger: 'manual' } }));
  expect(response.status).toBe(200);
  const body = response.body as { type: string; value: unknown };
  expect(body.type).toBe('application/vnd.microsoft.card.adaptive');
  return cardText(body.value);
}

async function counts(store: DocumentStore) {
  const [requests, tasks, audit] = await Promise.all(['requests', 'tasks', 'auditEvents'].map((name) => store.collection(name).count({})));
  return { requests, tasks, audit };
}

describe('per-person limits through POST /api/messages (embedded store, default limits)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp();
  });

  afterAll(() => app?.close());

  it('refuses a flood of messages from one person after 300 in a minute, once in words and then silently, while another is still served', async () => {
    expect(app.config.limits).toEqual({ requestsPerMinute: 20, activitiesPerMinute: 300, openRequests: 100 });
    for (let i = 0; i < 300; i++) {
      const replies = await say(app, fred, 'my requests');
      expect(replies).toHaveLength(1);
      expect(cardText(cardOf(replies[0]!.body))).toContain('My requests');
    }
    app.clock.advance(20_000);
    const before = await counts(app.store);
    const refused = await say(app, fred, 'packages');
    expect(refused.map((c) => c.body.text)).toEqual(["You've sent me a lot of messages in the last minute. Try again in 40 seconds."]);
    for (let i = 0; i < 50; i++) expect(await say(app, fred, 'packages')).toEqual([]);
    expect(await execute(app, fred, 'submitRequest', VALID_ACCOUNTING)).toBe("Please slow down\nYou've pressed a lot of buttons in the last minute. Try again in 40 seconds.");
    await app.taskRunner.run();
    expect(await counts(app.store)).toEqual(before);

    const served = await say(app, lola, 'my requests');
    expect(cardText(cardOf(served[0]!.body))).toContain('My requests');
    expect(await execute(app, lola, 'submitRequest', VALID_ACCOUNTING)).toContain('Request sent for approval');

    app.clock.set('2026-11-22T09:01:00Z');
    expect(cardText(cardOf((await say(app, fred, 'my requests'))[0]!.body))).toContain('My requests');
  });
});

if (mongoUnavailable()) {
  console.info('note: MongoDB-mode limit tests not run: set MONGODB_URI, or put the MongoDB wire double at ../shared/mongo-wire');
} else {
  describe('per-person limits in MongoDB mode (MONGODB_URI, else the MongoDB wire double)', () => {
    let mongo: MongoTarget;
    const dbName = `limits_${process.pid}_${Date.now()}`;
    const stores: DocumentStore[] = [];

    async function store(uri = mongo.uri): Promise<DocumentStore> {
      const opened = await openMongoStore({ uri, dbName });
      stores.push(opened);
      return opened;
    }

    beforeAll(async () => {
      mongo = await startMongoTarget();
      console.info(`MongoDB-mode limit tests run on: ${mongo.label}`);
    });

    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      if (!mongo) return;
      const client = new MongoClient(mongo.uri);
      try {
        await client.db(dbName).dropDatabase();
      } finally {
        await client.close();
      }
      await mongo.stop();
    });

    it('two app instances on one database share each person\'s count of messages, card actions and requests', async () => {
      const env = { LIMIT_ACTIVITIES_PER_MINUTE: '10', LIMIT_REQUESTS_PER_MINUTE: '3' };
      const a = await startTestApp(env, { store: await store() });
      const b = await startTestApp(env, { store: await store() });
      try {
        expect(a.store).not.toBe(b.store);
        const [first, second] = [a, b];
        // Fred alternates between the instances: 10 in all are served, then refused on both.
        for (let i = 0; i < 10; i++) expect(await say(i % 2 ? second : first, fred, 'help')).toHaveLength(1);
        const refused = await say(a, fred, 'help');
        expect(refused.map((c) => c.body.text)).toEqual(["You've sent me a lot of messages in the last minute. Try again in 1 minute."]);
        expect(await say(b, fred, 'help')).toEqual([]);
        expect(await execute(b, fred, 'myRequests')).toContain("You've pressed a lot of buttons in the last minute.");

        // Lola's requests: three a minute across both instances (each submitted, then canceled).
        for (let i = 0; i < 3; i++) {
          const app = i % 2 ? b : a;
          expect(await execute(app, lola, 'submitRequest', VALID_ACCOUNTING)).toContain('Request sent for approval');
          const open = (await a.repositories.requests.findOpen('u-lola', 'accounting'))!;
          expect(await execute(app === a ? b : a, lola, 'cancelRequest', { requestId: open.id })).toContain('is canceled');
        }
        const before = await counts(a.store);
        expect(await execute(b, lola, 'submitRequest', VALID_ACCOUNTING)).toContain("You've sent a lot of requests in the last minute. Try again in 1 minute.");
        expect(await execute(a, lola, 'submitRequest', VALID_ACCOUNTING)).toContain("You've sent a lot of requests in the last minute.");
        await Promise.all([a.taskRunner.run(), b.taskRunner.run()]);
        expect(await counts(a.store)).toEqual(before);

        // The next minute of both instances' clocks: served again.
        for (const app of [a, b]) app.clock.set('2026-11-22T09:01:00Z');
        expect(await say(b, fred, 'help')).toHaveLength(1);
        expect(await execute(a, lola, 'submitRequest', VALID_ACCOUNTING)).toContain('Request sent for approval');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('rate-limiter-flexible on this server: its indexes, an exact count under concurrency from two clients, and a finished window starting over', async () => {
      const [one, two] = [rateLimitCountersFor(await store()), rateLimitCountersFor(await store())];
      expect([one.shared, two.shared]).toEqual([true, true]);
      await Promise.all([one.ready(), two.ready()]);
      const client = new MongoClient(mongo.uri);
      try {
        const indexes = await client.db(dbName).collection(RATE_LIMIT_COLLECTION).indexes();
        expect(indexes).toEqual(expect.arrayContaining([expect.objectContaining({ key: { key: 1 }, unique: true }), expect.objectContaining({ key: { expire: -1 }, expireAfterSeconds: 0 })]));
      } finally {
        await client.close();
      }

      const limiters = [one.create({ name: 'race', points: 20, durationSec: 60 }), two.create({ name: 'race', points: 20, durationSec: 60 })];
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => limiters[i % 2]!.consume('u-fred')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
      expect(results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof RateLimiterRes)).toBe(true);

      // A window whose document is past its expiry but not yet removed (MongoDB's TTL monitor
      // runs once a minute; the double has none): the next take starts a new window at 1.
      const short = one.create({ name: 'short', points: 2, durationSec: 1 });
      await short.consume('u-fred');
      await short.consume('u-fred');
      await expect(short.consume('u-fred')).rejects.toBeInstanceOf(RateLimiterRes);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect((await short.consume('u-fred')).consumedPoints).toBe(1);
    });

    it('when MongoDB stops answering, the limit is counted in the instance after 2 s, with a warning, and nobody is locked out', async () => {
      const proxy = await blackHoleProxy(mongo.uri);
      try {
        const { logger, lines } = memoryLogger();
        const clock = new FakeClock();
        const limit = new PerMinuteLimit('stall', 3, rateLimitCountersFor(await store(proxy.uri)), clock, logger);
        expect((await limit.take('u-fred')).allowed).toBe(true);
        proxy.stall();
        const started = Date.now();
        expect((await limit.take('u-fred')).allowed).toBe(true);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
        // Counted here from now on, without waiting on the database again.
        const next = Date.now();
        expect((await limit.take('u-fred')).allowed).toBe(true);
        expect((await limit.take('u-fred')).allowed).toBe(true);
        expect((await limit.take('u-fred')).allowed).toBe(false);
        expect(Date.now() - next).toBeLessThan(500);
        expect(lines().filter((l) => l.msg === 'per-person limit counted in this instance only: the shared counter in MongoDB failed')).toHaveLength(1);
      } finally {
        proxy.close();
      }
    });
  });
}

/**
 * A TCP proxy in front of MongoDB that can start swallowing every byte both ways: a server that
 * stops answering, with connections left open (the worst case for a caller waiting on it).
 */
async function blackHoleProxy(uri: string): Promise<{ uri: string; stall(): void; close(): void }> {
  const target = new URL(uri);
  let stalled = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 27017), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk) => void (stalled || upstream.write(chunk)));
    upstream.on('data', (chunk) => void (stalled || client.write(chunk)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const proxied = new URL(uri);
  proxied.host = `127.0.0.1:${port}`;
  // One server behind a proxy: connect directly, don't discover a replica set's members.
  proxied.searchParams.set('directConnection', 'true');
  return {
    uri: proxied.toString(),
    stall: () => void (stalled = true),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
