// Chat latency: the bot's handling of typical activities (help, browse with search, a page of
// all packages, details, submit, approve) against a catalog of 5,000 packages on the embedded
// store, measured three ways on one running app:
//   http      round trip of POST /api/messages through restify (what a client sees locally),
//   server    time inside CloudAdapter.process for the same requests (server-side),
//   inProcess the same activity handed to the adapter without HTTP (processActivityDirect).
// Replies the bot sends (message activities) go to a loopback connector in every mode.
// Time is real; the store and directory ports are wrapped to count calls per activity.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TurnContext } from 'botbuilder';
import { startApp } from '../src/app';
import { loadConfig } from '../src/config';
import { LocalDirectory } from '../src/directory/localDirectory';
import { createLogger } from '../src/logger';
import { openEmbeddedStore } from '../src/store/nedbStore';
import { LoopbackConnector } from '../test/support/loopbackConnector';
import { BENCH_LIMITS, repoRoot, type BenchOptions, CallCounter, drainTasks, type Column, CountingStore, countingDirectory, msSince, percentile, round, table, VirtualTime } from './common';

const REPO_ROOT = repoRoot();
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };
const FRED = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const NADIA = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const WORDS = ['finance', 'sales', 'legal', 'design', 'support', 'research', 'payroll', 'travel', 'security', 'marketing'];
// browse: a search ("packages finance 3"); browseAll: a page of every package the user may
// request, without words (the card's page buttons), pages 1 to 50 in turn.
export const ACTIVITY_TYPES = ['help', 'browse', 'browseAll', 'details', 'submit', 'approve'] as const;
export type ActivityType = (typeof ACTIVITY_TYPES)[number];
export const MODES = ['http', 'server', 'inProcess'] as const;

export interface LatencyRow {
  activity: ActivityType;
  mode: (typeof MODES)[number];
  samples: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Store port calls per activity (mean). */
  storeCalls: number;
  /** Directory (Graph) port calls per activity (mean). */
  graphCalls: number;
}

export interface ChatLatencyResult {
  packages: number;
  samplesPerActivity: number;
  targetP99Ms: number;
  rows: LatencyRow[];
  /** Store calls by collection.method for one activity of each type (the last one measured). */
  storeCallsByActivity: Record<string, Record<string, number>>;
}

/** A catalog file with `count` packages, each with one manager-approved policy. */
export function benchCatalogYaml(count: number): string {
  const lines = [
    'catalogs:',
    '  - id: bench',
    '    displayName: Bench',
    '    description: Generated for the benchmark',
    '    resources:',
    '      - { id: team, type: group, originId: grp-finance, displayName: Finance team }',
    'accessPackages:',
  ];
  for (let i = 0; i < count; i++) {
    const id = packageId(i);
    const word = WORDS[i % WORDS.length];
    lines.push(
      `  - id: ${id}`,
      '    catalog: bench',
      `    displayName: ${word} workspace ${i}`,
      `    description: Generated package ${i} for the ${word} department`,
      '    resourceRoles: [{ resource: team, role: member }]',
      '    policies:',
      '      - id: staff',
      '        displayName: Staff',
      '        allowedRequestors: { scope: allMemberUsers }',
      '        approval:',
      '          requestorJustificationRequired: true',
      '          stages: [{ approvers: [{ user: u-nadia }] }]',
      '        lifecycle: { expiration: { type: afterDuration, duration: P90D } }',
    );
  }
  return `${lines.join('\n')}\n`;
}

export function packageId(i: number): string {
  return `pkg-${String(i).padStart(5, '0')}`;
}

export async function runChatLatency(options: BenchOptions): Promise<ChatLatencyResult> {
  const packages = Number(process.env.BENCH_PACKAGES ?? (options.quick ? 200 : 5_000));
  const samples = options.quick ? 15 : 300;
  const warmup = options.quick ? 3 : 20;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-chat-'));
  const catalogFile = path.join(dir, 'catalog.yaml');
  writeFileSync(catalogFile, benchCatalogYaml(packages));

  const connector = new LoopbackConnector();
  await connector.start();
  const store = new CountingStore(await openEmbeddedStore({}), process.env.BENCH_PROFILE_STORE === '1');
  const graphCalls = new CallCounter();
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', TENANT_ID: TENANT, CATALOG_FILE: catalogFile, ...BENCH_LIMITS }, REPO_ROOT), port: 0 };
  const time = new VirtualTime();
  const app = await startApp(config, {
    store,
    directory: countingDirectory(await LocalDirectory.open({ file: config.localDirectoryFile }), graphCalls),
    // The task clock and pacing are virtual (tasks are drained between phases, never timed).
    clock: time,
    notifierPacing: time.pacing,
    directoryPacing: time.pacing,
    logger: createLogger(process.env.BENCH_LOG_LEVEL === 'debug' ? 'error' : 'silent'),
    host: '127.0.0.1',
    startScheduler: false,
  });
  const baseUrl = `http://127.0.0.1:${app.port}`;

  // Server-side time: the adapter's handling of each HTTP request, measured on this instance.
  let serverMs = 0;
  const adapter = app.adapter;
  // (EdgeAdapter.handle: authentication and the turn, after http/intake.ts has read the body.)
  const handle = adapter.handle.bind(adapter);
  adapter.handle = async (...args: Parameters<typeof handle>) => {
    const start = process.hrtime.bigint();
    try {
      return await handle(...args);
    } finally {
      serverMs = msSince(start);
    }
  };

  function activity(person: typeof FRED, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: `29:${person.aadObjectId}`, name: person.name, aadObjectId: person.aadObjectId },
      recipient: BOT,
      conversation: { id: `a:personal-${person.aadObjectId}`, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      ...extra,
    };
  }
  const message = (person: typeof FRED, text: string) => activity(person, { type: 'message', text });
  const press = (person: typeof FRED, data: Record<string, unknown>) =>
    activity(person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } });

  type Mode = (typeof MODES)[number];
  const timings = new Map<string, number[]>();
  const counts = new Map<string, { store: number; graph: number; n: number }>();
  const storeCallsByActivity: Record<string, Record<string, number>> = {};

  /** Sends one activity; records http + server (or inProcess) time and port calls. */
  async function send(type: ActivityType, body: Record<string, unknown>, inProcess: boolean, record: boolean): Promise<void> {
    store.counter.reset();
    graphCalls.reset();
    const start = process.hrtime.bigint();
    if (inProcess) {
      await adapter.processActivityDirect('', body as never, (context: TurnContext) => app.bot.run(context));
    } else {
      const response = await fetch(`${baseUrl}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`${type}: HTTP ${response.status} ${text}`);
    }
    const elapsed = msSince(start);
    if (!record) return;
    const modes: Array<[Mode, number]> = inProcess ? [['inProcess', elapsed]] : [['http', elapsed], ['server', serverMs]];
    for (const [mode, ms] of modes) {
      const key = `${type}/${mode}`;
      timings.set(key, [...(timings.get(key) ?? []), ms]);
    }
    const key = `${type}/${inProcess ? 'inProcess' : 'http'}`;
    const c = counts.get(key) ?? { store: 0, graph: 0, n: 0 };
    counts.set(key, { store: c.store + store.counter.total, graph: c.graph + graphCalls.total, n: c.n + 1 });
    storeCallsByActivity[type] = store.counter.snapshot();
  }

  /** Runs queued work (approval cards) as the scheduler would, until nothing is due. */
  async function drain(): Promise<void> {
    await drainTasks(app, time);
  }

  try {
    // Fred has written to the bot before (his conversation reference is stored).
    await send('help', message(FRED, 'help'), false, false);
    // The modes take turns sample by sample, so both see the same data: Fred's open requests and
    // assignments grow over the run, and each browse and submit reads them.
    const total = warmup + samples;
    async function rounds(each: (n: number, inProcess: boolean, record: boolean) => Promise<void>): Promise<void> {
      for (let i = 0; i < total; i++) for (const inProcess of [false, true]) await each(2 * i + (inProcess ? 1 : 0), inProcess, i >= warmup);
    }
    await rounds(async (n, inProcess, record) => {
      await send('help', message(FRED, 'help'), inProcess, record);
      await send('browse', message(FRED, `packages ${WORDS[n % WORDS.length]} ${n % 7}`), inProcess, record);
      await send('browseAll', press(FRED, { verb: 'packages', text: '', page: n % 50 }), inProcess, record);
      await send('details', press(FRED, { verb: 'details', packageId: packageId(n) }), inProcess, record);
      await send('submit', press(FRED, { verb: 'submitRequest', packageId: packageId(n), policyId: 'staff', justification: `Bench ${n}` }), inProcess, record);
    });
    await drain();
    await rounds(async (n, inProcess, record) => {
      const request = await app.repositories.requests.findOpen(FRED.aadObjectId, packageId(n));
      if (!request || request.state !== 'pendingApproval') throw new Error(`request for ${packageId(n)} is ${request?.state ?? 'missing'}`);
      await send('approve', press(NADIA, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' }), inProcess, record);
    });
    await drain();
  } finally {
    // BENCH_PROFILE_STORE=1: where store time went, by call and filter shape.
    for (const [key, t] of [...store.timings.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(`${t.ms.toFixed(0).padStart(8)} ms ${String(t.calls).padStart(7)} calls  ${key}`);
    await app.close();
    await store.close();
    await connector.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: LatencyRow[] = [];
  for (const type of ACTIVITY_TYPES) {
    for (const mode of MODES) {
      const values = timings.get(`${type}/${mode}`) ?? [];
      const c = counts.get(`${type}/${mode === 'inProcess' ? 'inProcess' : 'http'}`) ?? { store: 0, graph: 0, n: 1 };
      rows.push({
        activity: type,
        mode,
        samples: values.length,
        p50Ms: round(percentile(values, 50), 2),
        p95Ms: round(percentile(values, 95), 2),
        p99Ms: round(percentile(values, 99), 2),
        maxMs: round(Math.max(0, ...values), 2),
        storeCalls: round(c.store / c.n, 1),
        graphCalls: round(c.graph / c.n, 1),
      });
    }
  }
  return { packages, samplesPerActivity: samples, targetP99Ms: 50, rows, storeCallsByActivity };
}

export function chatLatencyTable(result: ChatLatencyResult): string {
  const columns: Column<LatencyRow>[] = [
    ['activity', (r) => r.activity],
    ['mode', (r) => r.mode],
    ['n', (r) => String(r.samples)],
    ['p50 ms', (r) => r.p50Ms.toFixed(2)],
    ['p95 ms', (r) => r.p95Ms.toFixed(2)],
    ['p99 ms', (r) => r.p99Ms.toFixed(2)],
    ['max ms', (r) => r.maxMs.toFixed(2)],
    ['store calls', (r) => r.storeCalls.toFixed(1)],
    ['graph calls', (r) => r.graphCalls.toFixed(1)],
    ['p99 < 50', (r) => (r.mode === 'http' ? '' : r.p99Ms < result.targetP99Ms ? 'yes' : 'NO')],
  ];
  return table(result.rows, columns, 2);
}
