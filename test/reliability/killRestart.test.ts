import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../src/clock';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { FINAL_REQUEST_STATES } from '../../src/domain/model';
import { runReconciliation } from '../../src/services/reconcile';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { openRepositories } from '../../src/store/repositories';
import { cardOf, cardText } from '../support/botHarness';
import { LoopbackConnector } from '../support/loopbackConnector';
import { REPO_ROOT } from '../support/testApp';
import { actionsIn, ADMIN, APPROVER, BOT, PRE_EXISTING, seededRandom, seedFromEnv, TENANT, userId, writeWorld } from './fixtures';

const run = promisify(execFile);

/** A port nothing listens on now (the bot must get the same one on every restart). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Kill -9 at random moments while 200 flows run through the BUILT bot (dist/index.js) on the
// embedded store on disk and the local directory (its writes saved in DATA_DIR), restart on the
// same DATA_DIR, several times; then let it settle and check every invariant, the last one by
// the reconcile command itself.
const USERS = 100; // each requests both packages: 200 flows
const GIVE_BACK = 30; // users 1..30 give "Auto" back once they have it (removal under kills)
const KILLS = 6;

describe('kill -9 and restart during 200 concurrent flows', () => {
  let dataDir: string;
  let connector: LoopbackConnector;
  let bot: { child: ChildProcess; exited: Promise<number | null>; output: () => string } | undefined;
  const seed = seedFromEnv();
  const random = seededRandom(seed);

  beforeAll(async () => {
    // RELIABILITY_NO_BUILD=1 reuses dist/ (when iterating on the test itself).
    if (!process.env.RELIABILITY_NO_BUILD) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT });
  }, 180_000);

  afterAll(async () => {
    if (bot && bot.child.exitCode === null) bot.child.kill('SIGKILL');
    await connector?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('every request ends final, the ledger matches the directory, nothing is granted twice, no approval is lost', async () => {
    console.log(`kill -9 suite: seed ${seed} (RELIABILITY_SEED=${seed} replays it)`);
    dataDir = mkdtempSync(path.join(tmpdir(), 'ap-reliability-'));
    const world = writeWorld(dataDir, USERS);
    connector = new LoopbackConnector();
    await connector.start();
    // What each personal conversation received, as card text (a notice may come more than once:
    // delivery is at least once; that is allowed, losing one is not).
    const received = new Map<string, string[]>();
    /** When the bot called the connector (ms), to see how soon work resumed after each restart. */
    const callTimes: number[] = [];
    connector.onCall = (call) => {
      callTimes.push(Date.now());
      const card = call.method === 'POST' && call.conversationId ? cardOf(call.body) : undefined;
      if (card) received.set(call.conversationId!, [...(received.get(call.conversationId!) ?? []), cardText(card)]);
    };
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const env = {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      PORT: String(port),
      CATALOG_FILE: world.catalogFile,
      LOCAL_DIRECTORY_FILE: world.directoryFile,
      TENANT_ID: TENANT,
      TEAMS_SERVICE_URL: connector.serviceUrl,
      ADMIN_USER_IDS: ADMIN,
      SCHEDULER_INTERVAL_MS: '200',
      NOTIFY_RATE_PER_SECOND: '500',
      NOTIFY_RATE_PER_CONVERSATION_PER_SECOND: '7',
      GRAPH_WRITES_PER_SECOND: '500',
      LOG_LEVEL: 'warn',
    };
    let starts = 0;
    const outputs: string[] = [];
    /** When each start became healthy, and whether flows were still unfinished then. */
    const restarts: { healthyAt: number; workLeft: boolean }[] = [];

    async function startBot(): Promise<void> {
      let output = '';
      const child = spawn(process.execPath, ['--disable-warning=DEP0111', 'dist/index.js'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      bot = { child, exited, output: () => output };
      outputs.push('');
      const index = outputs.length - 1;
      child.on('exit', () => (outputs[index] = output));
      starts++;
      for (let i = 0; i < 300; i++) {
        if (child.exitCode !== null) throw new Error(`the bot exited on start ${starts}:\n${output}`);
        try {
          if ((await fetch(`${baseUrl}/healthz`)).ok) {
            restarts.push({ healthyAt: Date.now(), workLeft: !flowsDone });
            return;
          }
        } catch {
          // not listening yet
        }
        await sleep(50);
      }
      throw new Error(`the bot did not become healthy on start ${starts}:\n${output}`);
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

    const deadline = Date.now() + 120_000;
    const stuck: string[] = [];
    let retries = 0;
    /** Posts until the bot answers (the same activity again after a kill: Teams retries too). */
    async function send(body: Record<string, unknown>): Promise<unknown> {
      for (;;) {
        if (Date.now() > deadline) {
          stuck.push(`no answer to ${String(body.type)} from ${String((body.from as { aadObjectId: string }).aadObjectId)}`);
          return undefined;
        }
        try {
          const response = await fetch(`${baseUrl}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
          const text = await response.text();
          if (response.status < 500) return text ? (JSON.parse(text) as { value?: unknown }).value : undefined;
        } catch {
          // killed mid-request, or not up yet
        }
        retries++;
        await sleep(100 + random() * 200);
      }
    }
    /** Waits for what a flow expects; a flow that never gets it is noted (and fails the test below). */
    async function until(what: string, done: () => boolean): Promise<boolean> {
      while (!done()) {
        if (Date.now() > deadline) {
          stuck.push(what);
          return false;
        }
        await sleep(100);
      }
      return true;
    }
    const got = (user: string, text: string) => (received.get(`a:personal-${user}`) ?? []).some((t) => t.includes(text));

    async function flow(user: string, packageId: 'auto' | 'approved'): Promise<void> {
      await sleep(random() * 3000);
      await send(message(user, 'help'));
      await send(invoke(user, { verb: 'submitRequest', packageId, policyId: 'all' }));
      const name = packageId === 'auto' ? 'Auto' : 'Approved';
      await until(`${user} told ${name} is delivered`, () => got(user, `You now have access: ${name}`));
    }

    async function giveBack(user: string): Promise<void> {
      const access = await send(invoke(user, { verb: 'myAccess' }));
      for (const data of actionsIn(access, 'confirmRemove')) {
        const confirm = await send(invoke(user, data));
        if (!cardText(confirm as Record<string, unknown>).includes('Auto')) continue;
        for (const remove of actionsIn(confirm, 'removeAccess')) await send(invoke(user, remove));
      }
      await until(`${user} told Auto is removed`, () => got(user, 'Removed: Auto'));
    }

    // The approver approves every request whose card reached them (once per request; a card
    // sent twice after a kill is pressed once, a replayed press is the bot's problem).
    let flowsDone = false;
    const decided = new Set<string>();
    async function approver(): Promise<void> {
      await send(message(APPROVER, 'help'));
      while (!flowsDone) {
        const cards = connector.calls.filter((c) => c.method === 'POST' && c.conversationId === `a:personal-${APPROVER}`).map((c) => cardOf(c.body));
        for (const data of cards.flatMap((card) => actionsIn(card, 'decide'))) {
          const requestId = String(data.requestId);
          if (data.decision !== 'approve' || decided.has(requestId)) continue;
          await send(invoke(APPROVER, data));
          decided.add(requestId);
        }
        await sleep(200);
      }
    }

    async function killer(): Promise<number[]> {
      const at: number[] = [];
      for (let k = 0; k < KILLS; k++) {
        const after = 300 + Math.floor(random() * 1700);
        await sleep(after);
        at.push(after);
        bot!.child.kill('SIGKILL');
        await bot!.exited;
        await startBot();
      }
      return at;
    }

    const started = Date.now();
    await startBot();
    const approving = approver();
    const users = Array.from({ length: USERS }, (_, i) => userId(i + 1));
    const [killedAfter] = await Promise.all([
      killer(),
      ...users.map(async (user, i) => {
        await Promise.all([flow(user, 'auto'), flow(user, 'approved')]);
        if (i < GIVE_BACK && stuck.length === 0) await giveBack(user);
      }),
    ]);
    flowsDone = true;
    await approving;
    // Let the last notices and audit writes land, then stop cleanly.
    await sleep(1500);
    bot!.child.kill('SIGTERM');
    expect(await bot!.exited).toBe(0);
    console.log(
      `kill -9 suite: ${USERS * 2} flows + ${GIVE_BACK} removals, ${KILLS} kills (after ${killedAfter.join(', ')} ms of uptime), ${starts} starts, ${retries} activity retries, ${decided.size} approvals, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(outputs.join('\n')).not.toMatch(/unhandled error in a turn/);
    // Takeover: the embedded store releases a killed run's leases at start-up, so its work goes
    // on at once (not after a lease runs out): with flows unfinished, the restarted bot calls
    // Teams again within seconds of becoming healthy.
    const resumed = outputs.join('\n').match(/"released":\d+[^\n]*resumed tasks the previous run had claimed/g) ?? [];
    const gaps = restarts.slice(1).filter((r) => r.workLeft).map((r) => (callTimes.find((t) => t >= r.healthyAt) ?? Number.POSITIVE_INFINITY) - r.healthyAt);
    console.log(`kill -9 suite: ${resumed.length} restart(s) resumed leased tasks at start-up; first connector call after each restart with work left: ${gaps.map((g) => `${g} ms`).join(', ')}`);
    expect(gaps.every((g) => g < 5_000)).toBe(true);
    if (stuck.length > 0) {
      const store = await openEmbeddedStore({ dataDir });
      const requests = await store.collection<{ _id: string; state: string; targetUserId: string; packageId: string; history: unknown }>('requests').find({});
      const tasks = await store.collection<{ _id: string; state: string; type: string; lastError?: string; attempts: number }>('tasks').find({ state: { $ne: 'done' } });
      await store.close();
      console.log(`stuck: ${stuck.slice(0, 10).join('; ')}\nrequests not final: ${JSON.stringify(requests.filter((r) => !(FINAL_REQUEST_STATES as readonly string[]).includes(r.state)).slice(0, 5))}\ntasks not done: ${JSON.stringify(tasks.slice(0, 10))}\nlog tail: ${outputs.join('\n').slice(-3000)}`);
    }
    expect(stuck).toEqual([]);

    // The final check: the reconcile command, as an operator runs it.
    const reconcile = await run(process.execPath, ['dist/reconcile/cli.js'], { cwd: REPO_ROOT, env }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
    );
    console.log(`kill -9 suite: reconcile: ${reconcile.out.trim()}`);
    expect(reconcile.out).toMatch(/no drift/);
    expect(reconcile.code).toBe(0);

    // The store reopens (the append-only files survived the kills) and every invariant holds.
    const store = await openEmbeddedStore({ dataDir });
    try {
      const repositories = await openRepositories(store, systemClock);
      const requests = await store.collection<{ _id: string; state: string; type: string; packageId: string; targetUserId: string; stages: { decision?: unknown }[] }>('requests').find({});
      const notFinal = requests.filter((r) => !(FINAL_REQUEST_STATES as readonly string[]).includes(r.state));
      expect(notFinal.map((r) => `${r._id} ${r.state}`)).toEqual([]);
      const adds = requests.filter((r) => r.type === 'add');
      expect(adds).toHaveLength(USERS * 2); // one per flow: a replayed submit made no second request
      expect(adds.every((r) => r.state === 'delivered')).toBe(true);

      const tasks = store.collection<{ _id: string; state: string; dueAt: Date; type: string }>('tasks');
      expect(await tasks.count({ state: 'failed' })).toBe(0);
      const overdue = await tasks.find({ state: 'pending', dueAt: { $lt: new Date(Date.now() - 5_000) } });
      expect(overdue.map((t) => t.type)).toEqual([]);

      const audit = await repositories.audit.query({ limit: 100_000 });
      const granted = new Map<string, number>();
      for (const e of audit.filter((x) => x.action === 'delivery.granted')) {
        const key = `${e.assignmentId}|${String(e.details?.resource)}|${String(e.details?.role)}`;
        granted.set(key, (granted.get(key) ?? 0) + 1);
      }
      expect([...granted].filter(([, n]) => n > 1)).toEqual([]);
      // Audited exactly once, however the kills fell: each event is written with its state change
      // (pendingAudit) and recorded at the next start if a kill came between.
      const once = (action: string, key: (e: (typeof audit)[number]) => string | undefined) => {
        const counts = new Map<string, number>();
        for (const e of audit.filter((x) => x.action === action)) counts.set(key(e) ?? '?', (counts.get(key(e) ?? '?') ?? 0) + 1);
        return counts;
      };
      const approvals = once('approval.approved', (e) => e.requestId);
      const approvedRequests = adds.filter((r) => r.packageId === 'approved');
      expect(approvedRequests.every((r) => r.stages[0]?.decision !== undefined)).toBe(true);
      expect(approvedRequests.filter((r) => approvals.get(r._id) !== 1).map((r) => `${r._id}: ${approvals.get(r._id) ?? 0}`)).toEqual([]);
      const submitted = once('request.submitted', (e) => e.requestId);
      expect(requests.filter((r) => submitted.get(r._id) !== 1).map((r) => `${r._id}: ${submitted.get(r._id) ?? 0}`)).toEqual([]);
      const settled = once('assignment.delivered', (e) => e.assignmentId);
      const assignments = await store.collection<{ _id: string; state: string }>('assignments').find({});
      expect(assignments.filter((a) => a.state !== 'delivered' && a.state !== 'removed').map((a) => `${a._id} ${a.state}`)).toEqual([]);
      expect(assignments.filter((a) => settled.get(a._id) !== 1).map((a) => `${a._id}: ${settled.get(a._id) ?? 0}`)).toEqual([]);
      const stillPending = [...(await store.collection('requests').find({ 'pendingAudit.0': { $exists: true } })), ...(await store.collection('assignments').find({ 'pendingAudit.0': { $exists: true } }))];
      expect(stillPending.map((d) => d._id)).toEqual([]);

      // The directory: one app role assignment per user at most; removals took only what the bot gave.
      const state = JSON.parse(readFileSync(path.join(dataDir, 'local-directory-state.json'), 'utf8')) as { servicePrincipals: Record<string, { appRoleAssignments: { principalId: string }[] }> };
      const principals = state.servicePrincipals['sp-app']!.appRoleAssignments.map((a) => a.principalId);
      expect(principals.length).toBe(new Set(principals).size);
      const directory = await LocalDirectory.open({ file: path.join(dataDir, 'directory.yaml'), stateFile: path.join(dataDir, 'local-directory-state.json') });
      for (let i = 1; i <= USERS; i++) {
        const user = userId(i);
        expect(await directory.hasGroupRole('g-a', user, 'member')).toBe(i <= PRE_EXISTING || i > GIVE_BACK);
        expect(await directory.hasGroupRole('g-b', user, 'member')).toBe(true);
        expect((await directory.listAppRoleAssignments('sp-app', user)).length).toBe(1);
      }
      const report = await runReconciliation(repositories, directory);
      expect(report.drift).toEqual([]);
      expect(report.preExisting.length).toBe(PRE_EXISTING * 2); // Team A and the app role of users 1..3
    } finally {
      await store.close();
    }
  }, 280_000);
});
