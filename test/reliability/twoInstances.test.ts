import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Db, MongoClient } from 'mongodb';
import { cardOf, cardText } from '../support/botHarness';
import { LoopbackConnector } from '../support/loopbackConnector';
import { type MongoTarget, mongoUnavailable, startMongoTarget, uniqueDbName } from '../support/mongoWire';
import { REPO_ROOT } from '../support/testApp';
import { dropDatabase } from '../support/testStore';
import { actionsIn, APPROVER, BOT, TENANT, userId, writeWorld } from './fixtures';

// Two bots (the BUILT dist/index.js, as in production) share one MongoDB — the MongoDB wire
// double as a one-member replica set, or MONGODB_URI's server — each with its scheduler running.
// Approvals race across them; then one is killed with -9 while it holds leased work, and the
// other takes that work over once the leases lapse (TASK_LEASE_MS, 5 s here) and does it once.

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LEASE_MS = 5000;
const RACERS = 10; // requests whose decision is raced: 8 clicks each, 4 on each instance
const DELIVERIES = 30; // users whose delivery is under way when one instance dies

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Bot {
  name: string;
  child: ChildProcess;
  baseUrl: string;
  exited: Promise<number | null>;
  output: () => string;
}

const unavailable = mongoUnavailable();
if (unavailable) console.info(unavailable);

(unavailable ? describe.skip : describe)('two instances on one MongoDB (MongoDB wire double, replica set)', () => {
  let target: MongoTarget;
  let dbName: string;
  let client: MongoClient;
  let db: Db;
  let dir: string;
  let connector: LoopbackConnector;
  let world: { catalogFile: string; directoryFile: string };
  const bots: Bot[] = [];

  beforeAll(async () => {
    // RELIABILITY_NO_BUILD=1 reuses dist/ (when iterating on the test itself).
    if (!process.env.RELIABILITY_NO_BUILD) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT });
    target = await startMongoTarget({ replicaSet: 'rs0' });
    dbName = uniqueDbName('two_instances');
    client = await new MongoClient(target.uri).connect();
    db = client.db(dbName);
    dir = mkdtempSync(path.join(tmpdir(), 'ap-two-instances-'));
    world = writeWorld(dir, RACERS + DELIVERIES);
    connector = new LoopbackConnector();
    await connector.start();
    // Both start at once on the empty database: indexes, catalog apply and all. A's workers
    // wait for their directory write turn holding the task (TASK_MAX_PACING_WAIT_MS), so it holds
    // several leases at once; with the default short wait it puts most back and B takes them first.
    bots.push(...(await Promise.all([startBot('a', { GRAPH_WRITES_PER_SECOND: '2', TASK_MAX_PACING_WAIT_MS: '10000' }), startBot('b', { GRAPH_WRITES_PER_SECOND: '500' })])));
  }, 240_000);

  afterAll(async () => {
    for (const bot of bots) if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    await connector?.stop();
    await client?.close();
    if (target) {
      await dropDatabase(target.uri, dbName);
      await target.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function startBot(name: string, env: Record<string, string>): Promise<Bot> {
    const port = await freePort();
    const dataDir = path.join(dir, name);
    mkdirSync(dataDir);
    let output = '';
    const child = spawn(process.execPath, ['--disable-warning=DEP0111', 'dist/index.js'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        // Each its own data directory: the local directory (Graph's stand-in) saves its writes there.
        DATA_DIR: dataDir,
        MONGODB_URI: `${target.uri}/${dbName}`,
        PORT: String(port),
        CATALOG_FILE: world.catalogFile,
        LOCAL_DIRECTORY_FILE: world.directoryFile,
        TENANT_ID: TENANT,
        TEAMS_SERVICE_URL: connector.serviceUrl,
        SCHEDULER_INTERVAL_MS: '200',
        TASK_LEASE_MS: String(LEASE_MS),
        NOTIFY_RATE_PER_SECOND: '500',
        NOTIFY_RATE_PER_CONVERSATION_PER_SECOND: '7',
        LOG_LEVEL: 'warn',
        ...env,
      },
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const baseUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) throw new Error(`bot ${name} exited at start:\n${output}`);
      try {
        if ((await fetch(`${baseUrl}/readyz`)).ok) return { name, child, baseUrl, exited, output: () => output };
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`bot ${name} did not become ready:\n${output}`);
  }

  const activity = (user: string, extra: Record<string, unknown>) => ({
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: `29:${user}`, name: `User ${user}`, aadObjectId: user },
    recipient: BOT,
    conversation: { id: `a:personal-${user}`, conversationType: 'personal', tenantId: TENANT },
    channelData: { tenant: { id: TENANT } },
    ...extra,
  });
  const message = (user: string, text: string) => activity(user, { type: 'message', text });
  const invoke = (user: string, data: Record<string, unknown>) =>
    activity(user, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } });

  async function post(bot: Bot, body: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${bot.baseUrl}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    const text = await response.text();
    const value = text ? (JSON.parse(text) as { value?: unknown }).value : undefined;
    return value ? cardText(value) : '';
  }

  const cardsIn = (user: string) => connector.calls.filter((c) => c.method === 'POST' && c.conversationId === `a:personal-${user}`).map((c) => cardOf(c.body));
  const got = (user: string, text: string) => cardsIn(user).some((card) => cardText(card).includes(text));

  async function until(what: string, done: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${bots.map((b) => `--- ${b.name}:\n${b.output().slice(-2000)}`).join('\n')}`);
      await sleep(100);
    }
  }

  it('approvals race across the two instances: the first decision wins, every other click is refused and changes nothing', async () => {
    const [a, b] = bots as [Bot, Bot];
    await post(a, message(APPROVER, 'help'));
    const requesters = Array.from({ length: RACERS }, (_, i) => userId(i + 1));
    await Promise.all(requesters.map(async (user, i) => {
      const via = i % 2 === 0 ? a : b;
      await post(via, message(user, 'help'));
      expect(await post(via, invoke(user, { verb: 'submitRequest', packageId: 'approved', policyId: 'all' }))).toContain('Request sent for approval');
    }));
    const requestOf = new Map<string, string>();
    await until('the approver has a card for each request', async () => {
      for (const request of await db.collection<{ _id: string; targetUserId: string }>('requests').find({ packageId: 'approved' }).toArray()) requestOf.set(request._id, request.targetUserId);
      const carded = new Set(cardsIn(APPROVER).flatMap((card) => actionsIn(card, 'decide')).map((d) => String(d.requestId)));
      return requestOf.size === RACERS && [...requestOf.keys()].every((id) => carded.has(id));
    });

    const decisions = cardsIn(APPROVER).flatMap((card) => actionsIn(card, 'decide'));
    let approvedWins = 0;
    for (const requestId of requestOf.keys()) {
      const approve = decisions.find((d) => d.requestId === requestId && d.decision === 'approve')!;
      const deny = decisions.find((d) => d.requestId === requestId && d.decision === 'deny')!;
      // Eight clicks at once: approve three times and deny once on each instance.
      const clicks = [approve, approve, approve, deny].flatMap((data) => [post(a, invoke(APPROVER, data)), post(b, invoke(APPROVER, data))]);
      const answers = await Promise.all(clicks);
      const refused = answers.filter((text) => text.includes('Your click changed nothing'));
      expect(refused).toHaveLength(clicks.length - 1);
      const request = await db.collection<{ _id: string; state: string; stages: { decision?: { decision: string } }[] }>('requests').findOne({ _id: requestId });
      expect(request!.stages).toHaveLength(1);
      expect(['delivering', 'delivered', 'denied']).toContain(request!.state);
      if (request!.stages[0]!.decision!.decision === 'approve') approvedWins++;
      const events = await db.collection('auditEvents').find({ requestId, action: { $in: ['approval.approved', 'approval.denied'] } }).toArray();
      expect(events).toHaveLength(1);
    }
    // Every requester hears the one outcome.
    await until('every requester heard the outcome', () => requesters.every((user) => got(user, 'You now have access: Approved') || got(user, 'denied')));
    console.log(`two instances (MongoDB wire double): ${RACERS} decisions raced with 8 clicks each across 2 instances: ${RACERS} decided once (${approvedWins} approved), ${RACERS * 7} clicks refused`);
  }, 120_000);

  it('kill -9 of one instance holding leased work: the other takes it over once the leases lapse, and does it exactly once', async () => {
    const [a, b] = bots as [Bot, Bot];
    const users = Array.from({ length: DELIVERIES }, (_, i) => userId(RACERS + i + 1));
    // Submitted through A: its scheduler starts at once on what its turns queued, and its
    // directory writes are slow (2 a second), so it holds leases for a while.
    for (const user of users) {
      await post(a, message(user, 'help'));
      expect(await post(a, invoke(user, { verb: 'submitRequest', packageId: 'auto', policyId: 'all' }))).toContain('Request accepted');
    }
    const ownedBy = (bot: Bot) => new RegExp(`:${bot.child.pid}:`);
    const tasks = db.collection<{ _id: string; state: string; type: string; leaseOwner?: string; leaseUntil?: Date; attempts: number; updatedAt: Date }>('tasks');
    let held: { _id: string; leaseUntil?: Date }[] = [];
    await until('instance A holds leased work', async () => {
      held = await tasks.find({ state: 'pending', leaseOwner: { $regex: ownedBy(a) }, leaseUntil: { $gt: new Date() } }).project<{ _id: string; leaseUntil?: Date }>({ leaseUntil: 1 }).toArray();
      return held.length >= 3;
    }, 30_000);
    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    // Whatever A claimed in the moment between the query and the kill counts too.
    held = await tasks.find({ state: 'pending', leaseOwner: { $regex: ownedBy(a) } }).project<{ _id: string; leaseUntil?: Date }>({ leaseUntil: 1 }).toArray();
    expect(held.length).toBeGreaterThanOrEqual(3);

    await until('every user is told the access is there', () => users.every((user) => got(user, 'You now have access: Auto')), 90_000);
    const tookOver = Date.now() - killedAt;

    // The work A held was done by B, which could only claim it once A's lease had lapsed.
    const after = await tasks.find({ _id: { $in: held.map((t) => t._id) } }).toArray();
    expect(after.map((t) => t.state)).toEqual(held.map(() => 'done'));
    for (const task of after) {
      expect(task.leaseOwner).toMatch(ownedBy(b));
      expect(task.attempts).toBeGreaterThanOrEqual(2);
      const lapsed = held.find((h) => h._id === task._id)!.leaseUntil!;
      expect(task.updatedAt.getTime()).toBeGreaterThanOrEqual(lapsed.getTime());
    }
    expect(await tasks.countDocuments({ state: 'failed' })).toBe(0);
    expect(await tasks.countDocuments({ state: 'pending', dueAt: { $lt: new Date(Date.now() - 5000) } })).toBe(0);

    // Exactly once: one assignment per user, delivered; each role granted once, recorded once.
    const assignments = await db.collection<{ _id: string; userId: string; state: string }>('assignments').find({ userId: { $in: users } }).toArray();
    expect(assignments.map((x) => x.state)).toEqual(users.map(() => 'delivered'));
    const granted = new Map<string, number>();
    for (const e of await db.collection<{ assignmentId: string; details: { resource: string; role: string } }>('auditEvents').find({ action: 'delivery.granted', assignmentId: { $in: assignments.map((x) => x._id) } }).toArray()) {
      const key = `${e.assignmentId}|${e.details.resource}|${e.details.role}`;
      granted.set(key, (granted.get(key) ?? 0) + 1);
    }
    expect(granted.size).toBe(DELIVERIES * 2);
    expect([...granted].filter(([, n]) => n !== 1)).toEqual([]);
    const delivered = await db.collection('auditEvents').countDocuments({ action: 'assignment.delivered', assignmentId: { $in: assignments.map((x) => x._id) } });
    expect(delivered).toBe(DELIVERIES);
    const ledger = await db.collection<{ heldBy: string[] }>('grants').find({ userId: { $in: users } }).toArray();
    expect(ledger.every((g) => new Set(g.heldBy).size === g.heldBy.length)).toBe(true);

    // B is unharmed: ready, and stops cleanly.
    expect((await fetch(`${b.baseUrl}/readyz`)).status).toBe(200);
    expect(b.output()).not.toMatch(/unhandled error in a turn/);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    console.log(`two instances (MongoDB wire double): instance A killed -9 holding ${held.length} leased task(s); B finished all ${DELIVERIES} deliveries ${(tookOver / 1000).toFixed(1)} s later (lease ${LEASE_MS / 1000} s), each role granted and recorded once`);
  }, 180_000);
});
