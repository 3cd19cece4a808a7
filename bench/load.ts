// Load (issue 14): does work that changes access wait behind messages? One instance of the real
// app (startApp: adapter, bot, scheduler loop, task runner, notifier, lifecycle job) on the
// embedded store, in REAL time (the scheduler runs as in production; nothing is driven by hand):
//
// - 200 request → approve → deliver flows by 200 employees (40 managers approve, 1 s after their
//   card arrives), submitted over 30 s;
// - one employee floods: 200 requests in 15 s (200 packages, one approver who approves each);
// - 5,000 expiry warnings already queued (a notify.send backlog);
// - meanwhile 30 other users give access back and 30 other assignments expire, spread over
//   30 s from the 5th second.
//
// Graph is the in-memory Graph (msw) behind GraphDirectory, with Graph's write quota enforced in
// front of it on real time (graphQuota.ts); Teams is the loopback connector enforcing Teams'
// limits on real time (TEAMS_RATE_LIMITS), answering 429 over them. Measured: final approval →
// Graph write, give-back → Graph removal, expiry → Graph removal, request submitted → approval
// card posted; the due backlog by task type sampled every second.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TurnContext } from 'botbuilder';
import { http, type HttpHandler } from 'msw';
import { setupServer } from 'msw/node';
import { startApp } from '../src/app';
import { loadConfig, Secret } from '../src/config';
import { GraphDirectory } from '../src/directory/graphDirectory';
import type { Assignment } from '../src/domain/model';
import { createLogger } from '../src/logger';
import { expiryWarningCard } from '../src/services/lifecycle';
import { TaskNotifications } from '../src/services/taskNotifications';
import { openEmbeddedStore } from '../src/store/nedbStore';
import { grantKey } from '../src/store/repositories/grants';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../test/support/inMemoryGraph';
import { LoopbackConnector, TEAMS_RATE_LIMITS } from '../test/support/loopbackConnector';
import { benchUserId, type BenchOptions, type Column, CountingStore, machine, percentile, repoRoot, round, table } from './common';
import { QUOTA } from './graphPacing';
import { WriteQuota } from './graphQuota';

const REPO_ROOT = repoRoot();
const TENANT = '00000000-0000-0000-0000-0000000000001';
const ENDPOINT = 'https://graph.microsoft.com';
const BOT = { id: '28:bot', name: 'Access Packages' };
const TEAM = 'b3a5c0de-0000-4000-8000-000000000031';
const KEEP = 'b3a5c0de-0000-4000-8000-000000000032';
const room = (k: number) => `b3a5c0de-0000-4000-8001-${String(k).padStart(12, '0')}`;
const DAY = 86_400_000;

// Who is who (GUIDs, as Graph wants).
const flowUser = (i: number) => benchUserId(1_000 + i);
const manager = (m: number) => benchUserId(2_000 + m);
const FLOODER = benchUserId(3_000);
const FLOOD_APPROVER = benchUserId(3_001);
const giveBackUser = (i: number) => benchUserId(4_000 + i);
const expiringUser = (i: number) => benchUserId(5_000 + i);
const warnedUser = (i: number) => benchUserId(10_000 + i);

interface Sizes {
  flows: number;
  managers: number;
  flood: number;
  floodSeconds: number;
  warnings: number;
  giveBacks: number;
  expiries: number;
  /** Flows are submitted over this many seconds. */
  flowSeconds: number;
  /** Give-backs and expiries fall in [eventsFrom, eventsFrom + eventsSeconds). */
  eventsFrom: number;
  eventsSeconds: number;
  /** Approvers press Approve this long after their card arrives. */
  thinkMs: number;
  /** Measurement stops here; what has not happened by then counts as "not done". */
  deadlineSeconds: number;
}

const FULL: Sizes = { flows: 200, managers: 40, flood: 200, floodSeconds: 15, warnings: 5_000, giveBacks: 30, expiries: 30, flowSeconds: 30, eventsFrom: 5, eventsSeconds: 30, thinkMs: 1_000, deadlineSeconds: 240 };
const QUICK: Sizes = { flows: 20, managers: 4, flood: 20, floodSeconds: 2, warnings: 200, giveBacks: 3, expiries: 3, flowSeconds: 3, eventsFrom: 1, eventsSeconds: 3, thinkMs: 200, deadlineSeconds: 90 };

/** Targets from issue 14 (ms). */
export const LOAD_TARGETS = { accessP95: 5_000, accessP99: 10_000, cardP95: 5_000 };

export interface LatencyRow {
  what: string;
  samples: number;
  /** Samples that happened before the deadline (the percentiles count the others as the deadline). */
  done: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  target: string;
  met: boolean | null;
}

export interface BacklogSample {
  atSeconds: number;
  /** Due, unfinished tasks by type. */
  due: Record<string, number>;
}

export interface LoadResult {
  sizes: Sizes;
  rows: LatencyRow[];
  backlog: BacklogSample[];
  graph: { writesAccepted: number; throttled429: number; peakWritesInWindow: number; quota: typeof QUOTA };
  teams: { calls: number; throttled429: number; limits: typeof TEAMS_RATE_LIMITS };
  /** Warnings still queued when measurement stopped. */
  warningsLeft: number;
  wallSeconds: number;
  cpuSeconds: number;
  loadAverage: { start: number[]; end: number[] };
}

function catalogYaml(flood: number): string {
  const rooms = Array.from({ length: flood }, (_, k) => k + 1);
  return [
    'catalogs:',
    '  - id: load',
    '    displayName: Load',
    '    resources:',
    `      - { id: team, type: group, originId: ${TEAM}, displayName: Project team }`,
    `      - { id: kept, type: group, originId: ${KEEP}, displayName: Kept team }`,
    ...rooms.map((k) => `      - { id: room-${k}, type: group, originId: ${room(k)}, displayName: Room ${k} }`),
    'accessPackages:',
    '  - id: work',
    '    catalog: load',
    '    displayName: Project team',
    '    resourceRoles: [{ resource: team, role: member }]',
    '    policies:',
    '      - id: staff',
    '        displayName: Staff',
    '        allowedRequestors: { scope: allMemberUsers }',
    '        approval:',
    `          stages: [{ approvers: [{ manager: true }], fallbackApprovers: [{ user: ${manager(0)} }] }]`,
    '  - id: keep',
    '    catalog: load',
    '    displayName: Kept team',
    '    resourceRoles: [{ resource: kept, role: member }]',
    '    policies:',
    '      - id: staff',
    '        displayName: Staff',
    '        allowedRequestors: { scope: allMemberUsers }',
    ...rooms.flatMap((k) => [
      `  - id: room-${k}`,
      '    catalog: load',
      `    displayName: Room ${k}`,
      `    resourceRoles: [{ resource: room-${k}, role: member }]`,
      '    policies:',
      '      - id: staff',
      '        displayName: Staff',
      '        allowedRequestors: { scope: allMemberUsers }',
      '        approval:',
      `          stages: [{ approvers: [{ user: ${FLOOD_APPROVER} }] }]`,
    ]),
    '',
  ].join('\n');
}

/** Every object in a card with `verb` = `verb`: its data. */
function actionsIn(card: unknown, verb: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.verb === verb && o.data && typeof o.data === 'object') found.push(o.data as Record<string, unknown>);
      Object.values(o).forEach(walk);
    }
  };
  walk(card);
  return found;
}

/** Times of Graph writes the quota admitted, by "POST|DELETE group user". */
class GraphWrites {
  readonly at = new Map<string, number>();
  handler(endpoint: string): HttpHandler {
    return http.all(`${endpoint}/*`, async ({ request }) => {
      const url = new URL(request.url);
      const add = /\/groups\/([^/]+)\/members\/\$ref$/.exec(decodeURIComponent(url.pathname));
      const remove = /\/groups\/([^/]+)\/members\/([^/]+)\/\$ref$/.exec(decodeURIComponent(url.pathname));
      if (request.method === 'POST' && add) {
        const body = (await request.clone().json()) as { '@odata.id'?: string };
        const user = String(body['@odata.id'] ?? '').split('/').pop() ?? '';
        this.note(`add ${add[1]} ${user}`);
      } else if (request.method === 'DELETE' && remove) {
        this.note(`remove ${remove[1]} ${remove[2]}`);
      }
      return undefined; // on to the in-memory Graph
    });
  }
  private note(key: string): void {
    if (!this.at.has(key)) this.at.set(key, Date.now());
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runLoad(options: BenchOptions, log: (line: string) => void = () => undefined): Promise<LoadResult> {
  const sizes = options.quick ? QUICK : FULL;
  const loadStart = machine().loadAverage;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-load-'));
  const catalogFile = path.join(dir, 'catalog.yaml');
  writeFileSync(catalogFile, catalogYaml(sizes.flood));

  const fake = new FakeDirectory();
  for (let m = 0; m < sizes.managers; m++) fake.addUser({ id: manager(m), displayName: `Manager ${m}`, userPrincipalName: `manager${m}@contoso.test` });
  for (let i = 0; i < sizes.flows; i++) fake.addUser({ id: flowUser(i), displayName: `Flow User ${i}`, userPrincipalName: `flow${i}@contoso.test` }, manager(i % sizes.managers));
  fake.addUser({ id: FLOODER, displayName: 'Flooding Fiona', userPrincipalName: 'fiona@contoso.test' });
  fake.addUser({ id: FLOOD_APPROVER, displayName: 'Rooms Approver', userPrincipalName: 'rooms@contoso.test' });
  for (let i = 0; i < sizes.giveBacks; i++) fake.addUser({ id: giveBackUser(i), displayName: `Giver ${i}`, userPrincipalName: `giver${i}@contoso.test` });
  for (let i = 0; i < sizes.expiries; i++) fake.addUser({ id: expiringUser(i), displayName: `Expiring ${i}`, userPrincipalName: `expiring${i}@contoso.test` });
  fake.addGroup({ id: TEAM, displayName: 'Project team' });
  fake.addGroup({ id: KEEP, displayName: 'Kept team', members: [...Array.from({ length: sizes.giveBacks }, (_, i) => giveBackUser(i)), ...Array.from({ length: sizes.expiries }, (_, i) => expiringUser(i))] });
  for (let k = 1; k <= sizes.flood; k++) fake.addGroup({ id: room(k), displayName: `Room ${k}` });
  const graph = new InMemoryGraph(fake, { graphEndpoint: ENDPOINT });
  const quota = new WriteQuota({ ...QUOTA, now: () => Date.now() });
  const writes = new GraphWrites();
  const server = setupServer(quota.handler(ENDPOINT), writes.handler(ENDPOINT), ...graph.handlers());
  server.listen({ onUnhandledRequest: 'bypass' });

  const connector = new LoopbackConnector();
  await connector.start();
  connector.enforceRateLimits(() => Date.now());
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', TENANT_ID: TENANT, CATALOG_FILE: catalogFile, TEAMS_SERVICE_URL: connector.serviceUrl }, REPO_ROOT), port: 0 };
  // BENCH_PROFILE_STORE=1: where store time went, by call and filter shape (printed at the end).
  const store = new CountingStore(await openEmbeddedStore({}), process.env.BENCH_PROFILE_STORE === '1');
  const directory = GraphDirectory.fromConfig({ auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) }, endpoint: ENDPOINT });
  // BENCH_LOG_LEVEL=debug: the app's log on stdout (e.g. each task put back by pacing, and why).
  const app = await startApp(config, { store, directory, logger: createLogger(process.env.BENCH_LOG_LEVEL === 'debug' ? 'debug' : 'silent'), host: '127.0.0.1', startScheduler: false });
  const { repositories } = app;

  /** Hands an activity to the adapter in process (the app's middleware, bot and nudge included). */
  async function handle(user: string, value: Record<string, unknown>): Promise<void> {
    const activity = {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: `29:${user}`, name: user, aadObjectId: user },
      recipient: BOT,
      conversation: { id: `a:personal-${user}`, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb: value.verb, data: value }, trigger: 'manual' },
    };
    await app.adapter.processActivityDirect('', activity as never, (context: TurnContext) => app.bot.run(context));
  }

  const wallStart = Date.now();
  const cpuStart = process.cpuUsage();
  try {
    // ---- Seed: conversation references, the assignments to give back or expire, the backlog.
    const now = new Date();
    const reference = (id: string) => ({
      channelId: 'msteams', serviceUrl: connector.serviceUrl, bot: BOT, user: { id: `29:${id}`, aadObjectId: id },
      conversation: { id: `a:personal-${id}`, conversationType: 'personal', tenantId: TENANT },
    });
    const everyone = [
      ...Array.from({ length: sizes.managers }, (_, m) => manager(m)),
      ...Array.from({ length: sizes.flows }, (_, i) => flowUser(i)),
      FLOODER, FLOOD_APPROVER,
      ...Array.from({ length: sizes.giveBacks }, (_, i) => giveBackUser(i)),
      ...Array.from({ length: sizes.expiries }, (_, i) => expiringUser(i)),
      ...Array.from({ length: sizes.warnings }, (_, i) => warnedUser(i)),
    ];
    for (const id of everyone) await repositories.conversationReferences.save({ id, tenantId: TENANT, reference: reference(id), updatedAt: now });

    const eventAt = (i: number, n: number) => wallStart + (sizes.eventsFrom + (sizes.eventsSeconds * (i + 0.5)) / n) * 1000;
    const held = async (id: string, userId: string, expiresAt?: Date) => {
      const assignment: Assignment = {
        id, packageId: 'keep', policyId: 'staff', userId, state: 'delivered',
        startAt: new Date(now.getTime() - 30 * DAY),
        // The lifecycle job's next look is the expiry itself (its warnings went out long ago).
        ...(expiresAt ? { expiresAt, expirySetAt: new Date(now.getTime() - 30 * DAY), lifecycleCheckAt: expiresAt } : {}),
        roles: [{ resource: 'kept', role: 'member', state: 'delivered' }],
        requestIds: [], createdAt: new Date(now.getTime() - 30 * DAY), updatedAt: new Date(now.getTime() - 30 * DAY),
      };
      await repositories.assignments.insert(assignment);
      await repositories.grants.open({ userId, resourceType: 'group', originId: KEEP, role: 'member', preExisting: false });
      await repositories.grants.addHolder(grantKey(userId, KEEP, 'member'), id);
    };
    const expiresAt = Array.from({ length: sizes.expiries }, (_, i) => eventAt(i, sizes.expiries));
    for (let i = 0; i < sizes.giveBacks; i++) await held(`ASG-GIVE-${i}`, giveBackUser(i));
    for (let i = 0; i < sizes.expiries; i++) await held(`ASG-EXP-${i}`, expiringUser(i), new Date(expiresAt[i]!));

    // The backlog: expiry warnings already queued when the load starts.
    const notifications = new TaskNotifications(repositories.tasks);
    const warningExpiry = new Date(now.getTime() + 14 * DAY);
    for (let i = 0; i < sizes.warnings; i++) {
      const card = expiryWarningCard({ assignmentId: `ASG-WARN-${i}`, packageName: 'Project room', roles: [{ resource: 'Project room', kind: 'Group', role: 'Member' }], expiresAt: warningExpiry, offer: { allowed: false, message: 'It cannot be extended.' } as never, now });
      await notifications.send(warnedUser(i), card, { key: `warning:ASG-WARN-${i}:${warningExpiry.toISOString()}:${14 * DAY}` });
    }
    log(`  seeded ${everyone.length} chats, ${sizes.giveBacks + sizes.expiries} assignments, ${sizes.warnings} queued warnings`);

    // ---- What is measured.
    const submittedAt = new Map<string, number>(); // requestId → ms
    const cardAt = new Map<string, number>(); // requestId → first approval card posted
    const approvedAt = new Map<string, number>(); // requestId → approve pressed
    const requestOf = new Map<string, { user: string; group: string; flood: boolean }>();
    const approverQueue: { requestId: string; approver: string; data: Record<string, unknown> }[] = [];
    connector.onCall = (call) => {
      if (call.method !== 'POST' || !call.conversationId || call.status >= 300) return;
      const attachments = (call.body.attachments as { content?: unknown }[] | undefined) ?? [];
      for (const data of actionsIn(attachments[0]?.content, 'decide')) {
        const requestId = String(data.requestId);
        if (data.decision !== 'approve' || cardAt.has(requestId)) continue;
        cardAt.set(requestId, Date.now());
        approverQueue.push({ requestId, approver: call.conversationId.replace('a:personal-', ''), data });
      }
    };

    let stop = false;
    const errors: string[] = [];
    const guard = (what: string) => (error: unknown) => void errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);

    async function submit(user: string, packageId: string, group: string, flood: boolean): Promise<void> {
      const at = Date.now();
      await handle(user, { verb: 'submitRequest', packageId, policyId: 'staff' });
      const request = await repositories.requests.findOpen(user, packageId);
      if (!request) throw new Error(`no open request for ${user} on ${packageId}`);
      submittedAt.set(request.id, at);
      requestOf.set(request.id, { user, group, flood });
    }

    async function approvers(): Promise<void> {
      while (!stop) {
        const next = approverQueue.shift();
        if (!next) {
          await sleep(20);
          continue;
        }
        const wait = cardAt.get(next.requestId)! + sizes.thinkMs - Date.now();
        if (wait > 0) await sleep(wait);
        approvedAt.set(next.requestId, Date.now());
        void handle(next.approver, next.data).catch(guard('approve'));
      }
    }

    const giveBackAt = new Map<number, number>();
    async function giveBack(i: number): Promise<void> {
      const wait = eventAt(i, sizes.giveBacks) - Date.now();
      if (wait > 0) await sleep(wait);
      giveBackAt.set(i, Date.now());
      await handle(giveBackUser(i), { verb: 'removeAccess', assignmentId: `ASG-GIVE-${i}` });
    }

    const backlog: BacklogSample[] = [];
    const tasks = store.collection<{ _id: string; type: string; dueAt: Date }>('tasks');
    const TYPES = ['notify.send', 'notify.update', 'request.startApproval', 'request.deliver', 'grant.add', 'grant.remove', 'assignment.remove'];
    // One read of what is pending every second (the sampling itself costs the bot little).
    async function sampler(): Promise<void> {
      while (!stop) {
        const nowMs = Date.now();
        const due: Record<string, number> = Object.fromEntries(TYPES.map((t) => [t, 0]));
        for (const task of await tasks.find({ state: 'pending' }, { fields: ['type', 'dueAt'] })) {
          if (new Date(task.dueAt).getTime() <= nowMs && task.type in due) due[task.type]! += 1;
        }
        backlog.push({ atSeconds: round((nowMs - wallStart) / 1000, 1), due });
        await sleep(1_000);
      }
    }

    const flowRequests = () => [...requestOf.entries()].filter(([, r]) => !r.flood);
    const allDone = () =>
      requestOf.size === sizes.flows + sizes.flood &&
      flowRequests().every(([id, r]) => cardAt.has(id) && writes.at.has(`add ${r.group} ${r.user}`)) &&
      Array.from({ length: sizes.giveBacks }, (_, i) => writes.at.has(`remove ${KEEP} ${giveBackUser(i)}`)).every(Boolean) &&
      Array.from({ length: sizes.expiries }, (_, i) => writes.at.has(`remove ${KEEP} ${expiringUser(i)}`)).every(Boolean);

    // ---- Go: the scheduler runs as in production from here.
    log(`  load running (deadline ${sizes.deadlineSeconds} s) ...`);
    app.scheduler.start();
    const background = [approvers().catch(guard('approvers')), sampler().catch(guard('sampler'))];
    const flows = Array.from({ length: sizes.flows }, async (_, i) => {
      await sleep((sizes.flowSeconds * 1000 * i) / sizes.flows);
      await submit(flowUser(i), 'work', TEAM, false);
    });
    const flood = (async () => {
      for (let k = 1; k <= sizes.flood; k++) {
        const next = wallStart + (sizes.floodSeconds * 1000 * (k - 1)) / sizes.flood;
        if (next > Date.now()) await sleep(next - Date.now());
        await submit(FLOODER, `room-${k}`, room(k), true);
      }
    })();
    const gives = Array.from({ length: sizes.giveBacks }, (_, i) => giveBack(i));
    await Promise.all([...flows, flood, ...gives].map((p) => p.catch(guard('load'))));
    const deadline = wallStart + sizes.deadlineSeconds * 1000;
    let lastLog = Date.now();
    while (!allDone() && Date.now() < deadline) {
      await sleep(200);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        const sample = backlog.at(-1);
        log(`  ${round((Date.now() - wallStart) / 1000, 0)} s: due ${JSON.stringify(sample?.due ?? {})}`);
      }
    }
    const endedAt = Date.now();
    stop = true;
    for (const [key, t] of [...store.timings.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) log(`${t.ms.toFixed(0).padStart(8)} ms ${String(t.calls).padStart(7)} calls  ${key}`);
    await Promise.all(background);
    if (errors.length > 0) throw new Error(`the load itself failed: ${errors.slice(0, 5).join('; ')}`);

    // ---- Figures. A sample that had not happened when measurement stopped counts as the time
    // it had waited by then (so "not done" can only make the percentiles look better than they are
    // if nothing at all was done; `done` says how many were).
    const row = (what: string, spans: { start: number; end?: number }[], target: string, meets: (p: { p95: number; p99: number }) => boolean | null): LatencyRow => {
      const values = spans.map((s) => Math.max(0, (s.end ?? endedAt) - s.start));
      const done = spans.filter((s) => s.end !== undefined).length;
      const p95 = percentile(values, 95);
      const p99 = percentile(values, 99);
      const verdict = meets({ p95, p99 });
      return {
        what, samples: spans.length, done,
        p50Ms: Math.round(percentile(values, 50)), p95Ms: Math.round(p95), p99Ms: Math.round(p99), maxMs: Math.round(Math.max(0, ...values)),
        target, met: verdict === null || spans.length === 0 ? null : verdict && done === spans.length,
      };
    };
    const flowIds = flowRequests().map(([id]) => id);
    // When each approval card was queued (the approval stage started): its notify.send task.
    const cardQueuedAt = new Map<string, number>();
    for (const task of await tasks.find({ type: 'notify.send', 'payload.card.template': 'approvalRequest' }, { fields: ['payload', 'createdAt'] })) {
      const requestId = String((task as unknown as { payload: { card: { data: { requestId?: unknown } } } }).payload.card.data.requestId ?? '');
      const at = new Date((task as unknown as { createdAt: Date }).createdAt).getTime();
      if (requestId && !(cardQueuedAt.get(requestId)! <= at)) cardQueuedAt.set(requestId, at);
    }
    const floodIds = [...requestOf.entries()].filter(([, r]) => r.flood).map(([id]) => id);
    const access = `p95 < ${LOAD_TARGETS.accessP95 / 1000} s, p99 < ${LOAD_TARGETS.accessP99 / 1000} s`;
    const accessMet = ({ p95, p99 }: { p95: number; p99: number }) => p95 < LOAD_TARGETS.accessP95 && p99 < LOAD_TARGETS.accessP99;
    const granted = (id: string) => writes.at.get(`add ${requestOf.get(id)!.group} ${requestOf.get(id)!.user}`);
    const rows: LatencyRow[] = [
      row(`final approval → Graph write (${flowIds.length} flows)`, flowIds.filter((id) => approvedAt.has(id)).map((id) => ({ start: approvedAt.get(id)!, end: granted(id) })), access, accessMet),
      row('give-back → Graph removal', Array.from({ length: sizes.giveBacks }, (_, i) => ({ start: giveBackAt.get(i) ?? endedAt, end: writes.at.get(`remove ${KEEP} ${giveBackUser(i)}`) })), access, accessMet),
      row('expiry → Graph removal', Array.from({ length: sizes.expiries }, (_, i) => ({ start: expiresAt[i]!, end: writes.at.get(`remove ${KEEP} ${expiringUser(i)}`) })), access, accessMet),
      row(`submitted → approval card (${flowIds.length} flows)`, flowIds.map((id) => ({ start: submittedAt.get(id)!, end: cardAt.get(id) })), `p95 < ${LOAD_TARGETS.cardP95 / 1000} s`, ({ p95 }) => p95 < LOAD_TARGETS.cardP95),
      // Where the card's time goes: approval started (the card queued), then the send.
      row(`  of which: submitted → card queued`, flowIds.filter((id) => cardQueuedAt.has(id)).map((id) => ({ start: submittedAt.get(id)!, end: cardQueuedAt.get(id) })), '', () => null),
      row(`  of which: card queued → posted`, flowIds.filter((id) => cardQueuedAt.has(id)).map((id) => ({ start: cardQueuedAt.get(id)!, end: cardAt.get(id) })), '', () => null),
      // One approver gets all the flood's cards: Teams allows one chat about 2 messages a second
      // sustained (60 per 30 s) and the bot paces at NOTIFY_RATE_PER_CONVERSATION_PER_SECOND, so
      // these are bounded by Teams, not by the bot. Shown, no target.
      row("submitted → approval card (the flooder's approver)", floodIds.map((id) => ({ start: submittedAt.get(id)!, end: cardAt.get(id) })), 'none (one chat)', () => null),
    ];
    const cpu = process.cpuUsage(cpuStart);
    return {
      sizes,
      rows,
      backlog,
      graph: { writesAccepted: quota.accepted, throttled429: quota.throttled, peakWritesInWindow: quota.peakInWindow, quota: QUOTA },
      teams: { calls: connector.calls.length, throttled429: connector.throttled, limits: TEAMS_RATE_LIMITS },
      warningsLeft: await tasks.count({ state: 'pending', type: 'notify.send', 'payload.card.template': 'expiryWarning' }),
      wallSeconds: round((endedAt - wallStart) / 1000, 1),
      cpuSeconds: round((cpu.user + cpu.system) / 1e6, 1),
      loadAverage: { start: loadStart, end: machine().loadAverage },
    };
  } finally {
    // A scheduler tick in progress may sleep a long time on the code before issue 14: don't wait forever.
    await Promise.race([app.close(), sleep(10_000)]);
    await store.close().catch(() => undefined);
    await connector.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function loadTable(result: LoadResult): string {
  const columns: Column<LatencyRow>[] = [
    ['measured', (r) => r.what],
    ['n', (r) => String(r.samples)],
    ['done', (r) => String(r.done)],
    ['p50 s', (r) => (r.p50Ms / 1000).toFixed(2)],
    ['p95 s', (r) => (r.p95Ms / 1000).toFixed(2)],
    ['p99 s', (r) => (r.p99Ms / 1000).toFixed(2)],
    ['max s', (r) => (r.maxMs / 1000).toFixed(2)],
    ['target', (r) => r.target],
    ['met', (r) => (r.met === null ? '' : r.met ? 'yes' : 'NO')],
  ];
  return table(result.rows, columns, 1);
}

/** The backlog over time, one line per 5 s. */
export function backlogTable(result: LoadResult): string {
  const types = Object.keys(result.backlog[0]?.due ?? {});
  const rows = result.backlog.filter((_, i) => i % 5 === 0);
  const columns: Column<BacklogSample>[] = [['t s', (s) => s.atSeconds.toFixed(0)], ...types.map((t): Column<BacklogSample> => [t, (s) => String(s.due[t] ?? 0)])];
  return table(rows, columns, 0);
}
