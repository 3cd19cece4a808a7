// Delivery throughput against Graph's write quota (issue 5): 10,000 grants and then 10,000
// removals through the real delivery path (DeliveryService tasks on the TaskRunner, the
// embedded NeDB store, GraphDirectory over the real graph-client SDK and @azure/identity) into
// the in-memory Graph, with Graph's write quota enforced in front of it (bench/graphQuota.ts).
//
// Time is virtual: the pacing sleep, the task clock and the quota window all read one counter
// that only moves when something would wait, so 500+ virtual seconds take seconds of real time.
// Virtual numbers show pacing correctness; wall and CPU time are real.
import { setupServer } from 'msw/node';
import { buildBot, registerTaskHandlers } from '../src/composeBot';
import { Secret } from '../src/config';
import { GraphDirectory } from '../src/directory/graphDirectory';
import type { AccessRequest } from '../src/domain/model';
import { createLogger } from '../src/logger';
import { TaskRunner } from '../src/scheduler/taskRunner';
import { DELIVERY_TASKS } from '../src/services/delivery';
import { openEmbeddedStore } from '../src/store/nedbStore';
import { openRepositories } from '../src/store/repositories';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../test/support/inMemoryGraph';
import { type BenchOptions, type Column, CountingStore, round, START, table, VirtualTime, benchUserId } from './common';
import { WriteQuota } from './graphQuota';

export const QUOTA = { limit: 3_000, windowMs: 150_000 }; // Graph: about 3,000 writes per 150 s per app and tenant
const QUOTA_PER_SECOND = QUOTA.limit / (QUOTA.windowMs / 1000);
const CONFIGURED_RATE = 18; // GRAPH_WRITES_PER_SECOND default (src/config.ts)
const MAX_ATTEMPTS = 10; // DELIVERY_MAX_ATTEMPTS default
const ENDPOINT = 'https://graph.microsoft.com';
const GROUP_ID = 'b3a5c0de-0000-4000-8000-000000000001';

export interface PhaseResult {
  scenario: string;
  phase: 'grant' | 'remove';
  pacingWritesPerSecond: number;
  operations: number;
  succeeded: number;
  failed: number;
  graphWritesAccepted: number;
  throttled429: number;
  taskAttempts: number;
  peakWritesInWindow: number;
  virtualSeconds: number;
  achievedWritesPerSecond: number;
  ofQuotaPercent: number;
  ofConfiguredPercent: number;
  theoreticalMinSeconds: number;
  wallSeconds: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}


async function scenario(label: string, writesPerSecond: number, USERS: number, log: (line: string) => void): Promise<PhaseResult[]> {
  const time = new VirtualTime();
  const fake = new FakeDirectory();
  for (let i = 0; i < USERS; i++) fake.addUser({ id: benchUserId(i), displayName: `Bench User ${i}`, userPrincipalName: `bench${i}@contoso.test` });
  fake.addGroup({ id: GROUP_ID, displayName: 'Bench group' });
  fake.addServicePrincipal({ id: 'b3a5c0de-0000-4000-8000-000000000002', appId: 'b3a5c0de-0000-4000-8000-000000000003', displayName: 'Bench app', appRoles: [{ id: 'b3a5c0de-0000-4000-8000-000000000004', value: 'User', displayName: 'User' }] } as never);
  const graph = new InMemoryGraph(fake, { graphEndpoint: ENDPOINT });
  const quota = new WriteQuota({ ...QUOTA, now: () => time.ms });
  const server = setupServer(quota.handler(ENDPOINT), ...graph.handlers());
  server.listen({ onUnhandledRequest: 'error' });

  const store = new CountingStore(await openEmbeddedStore({}), process.env.BENCH_PROFILE_STORE === '1');
  const repositories = await openRepositories(store, time);
  const directory = GraphDirectory.fromConfig({
    auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
    endpoint: ENDPOINT,
  });
  const logger = createLogger('silent');
  const bot = buildBot({
    repositories,
    directory,
    clock: time,
    logger,
    admins: { userIds: [] },
    delivery: { writesPerSecond, maxAttempts: MAX_ATTEMPTS, pacing: time.pacing },
  });
  // One worker: concurrent virtual sleeps would each move the one clock (time would run fast).
  const runner = new TaskRunner(repositories.tasks, () => time.now(), logger, { leaseMs: 60_000, maxPerTick: 1_000, workerId: 'bench', concurrency: { access: 1 } });
  registerTaskHandlers(runner, bot);

  await repositories.catalogs.save({
    id: 'bench',
    displayName: 'Bench',
    description: 'Benchmark catalog',
    enabled: true,
    externalUsersEnabled: false,
    resources: [{ id: 'bench-group', type: 'group', originId: GROUP_ID, displayName: 'Bench group', roles: [{ id: 'member', displayName: 'Member' }] }],
  });
  await repositories.packages.save({ id: 'bench', catalog: 'bench', displayName: 'Bench', description: 'One group membership', hidden: false, resourceRoles: [{ resource: 'bench-group', role: 'member' }], incompatibleAccessPackages: [], incompatibleGroups: [] });
  await repositories.policies.save({
    id: 'all',
    packageId: 'bench',
    displayName: 'Everyone',
    description: '',
    enabled: true,
    allowedRequestors: { scope: 'allMemberUsers' },
    approval: { required: false, requestorJustificationRequired: false, stages: [] },
    questions: [],
    lifecycle: { expiration: { type: 'noExpiration' }, requestorCanChooseSchedule: false, extension: { allowed: false, requiresApproval: false } },
  });
  for (let i = 0; i < USERS; i++) {
    const now = time.now();
    const request: AccessRequest = { id: `REQ-${i}`, type: 'add', packageId: 'bench', policyId: 'all', requesterId: benchUserId(i), targetUserId: benchUserId(i), answers: [], schedule: {}, state: 'delivering', stages: [], createdAt: now, updatedAt: now, history: [] };
    await repositories.requests.insert(request);
  }
  const tasks = store.collection<{ _id: string; type: string; state: string; dueAt: Date; attempts: number }>('tasks');

  /** Runs the task runner until no task of `type` is pending, jumping virtual time to the next due retry when all wait. */
  async function drain(type: string): Promise<void> {
    for (;;) {
      await runner.run();
      const [first] = await tasks.find({ state: 'pending', type }, { sort: { dueAt: 1 }, limit: 1 });
      if (!first) return;
      const next = new Date(first.dueAt).getTime();
      const now = START + time.ms;
      if (next > now) time.ms += next - now;
    }
  }

  async function phase(name: 'grant' | 'remove', start: () => Promise<void>, type: string): Promise<PhaseResult> {
    const before = { ms: time.ms, accepted: quota.accepted, throttled: quota.throttled, wall: process.hrtime.bigint(), cpu: process.cpuUsage() };
    quota.peakInWindow = 0;
    await start();
    await drain(type);
    const cpu = process.cpuUsage(before.cpu);
    const wallSeconds = Number(process.hrtime.bigint() - before.wall) / 1e9;
    const virtualSeconds = (time.ms - before.ms) / 1000;
    const accepted = quota.accepted - before.accepted;
    const done = await tasks.find({ type });
    const assignments = await store.collection<{ _id: string; state: string; roles: { state: string }[] }>('assignments').find({});
    const wanted = name === 'grant' ? 'delivered' : 'removed';
    const succeeded = assignments.filter((a) => a.roles[0]?.state === wanted).length;
    const achieved = virtualSeconds > 0 ? accepted / virtualSeconds : 0;
    log(`  ${label} ${name}: ${USERS} in ${virtualSeconds.toFixed(1)} virtual s, ${accepted} writes, ${quota.throttled - before.throttled} 429s, wall ${wallSeconds.toFixed(1)} s`);
    return {
      scenario: label,
      phase: name,
      pacingWritesPerSecond: writesPerSecond,
      operations: USERS,
      succeeded,
      failed: assignments.filter((a) => a.roles[0]?.state === 'failed').length,
      graphWritesAccepted: accepted,
      throttled429: quota.throttled - before.throttled,
      taskAttempts: done.reduce((sum, t) => sum + t.attempts, 0),
      peakWritesInWindow: quota.peakInWindow,
      virtualSeconds: round(virtualSeconds, 1),
      achievedWritesPerSecond: round(achieved, 2),
      ofQuotaPercent: round((100 * achieved) / QUOTA_PER_SECOND, 1),
      ofConfiguredPercent: round((100 * achieved) / writesPerSecond, 1),
      theoreticalMinSeconds: round(USERS / QUOTA_PER_SECOND, 1),
      wallSeconds: round(wallSeconds, 1),
      cpuUserSeconds: round(cpu.user / 1e6, 1),
      cpuSystemSeconds: round(cpu.system / 1e6, 1),
    };
  }

  try {
    const grant = await phase('grant', async () => {
      for (let i = 0; i < USERS; i++) await bot.delivery.deliver(`REQ-${i}`);
    }, DELIVERY_TASKS.grant);
    const members = fake.group(GROUP_ID).members.size;
    if (members !== grant.succeeded) log(`warning: group has ${members} members, ${grant.succeeded} grants recorded delivered`);
    const remove = await phase('remove', async () => {
      for (let i = 0; i < USERS; i++) await bot.delivery.startRemoval(`ASG-REQ-${i}`, undefined, 'removed');
    }, DELIVERY_TASKS.revoke);
    const left = fake.group(GROUP_ID).members.size;
    if (left !== grant.succeeded - remove.succeeded) log(`warning: group still has ${left} members after removal`);
    return [grant, remove];
  } finally {
    if (store.timings.size > 0) {
      for (const [key, t] of [...store.timings.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) log(`${t.ms.toFixed(0).padStart(8)} ms ${String(t.calls).padStart(7)} calls  ${key}`);
    }
    server.close();
    await store.close();
  }
}

export function graphPacingTable(rows: PhaseResult[]): string {
  const columns: Column<PhaseResult>[] = [
    ['scenario', (r) => r.scenario],
    ['phase', (r) => r.phase],
    ['pacing/s', (r) => String(r.pacingWritesPerSecond)],
    ['ops', (r) => String(r.operations)],
    ['ok', (r) => String(r.succeeded)],
    ['failed', (r) => String(r.failed)],
    ['writes', (r) => String(r.graphWritesAccepted)],
    ['429s', (r) => String(r.throttled429)],
    ['attempts', (r) => String(r.taskAttempts)],
    ['peak/150s', (r) => String(r.peakWritesInWindow)],
    ['virtual s', (r) => r.virtualSeconds.toFixed(1)],
    ['min s', (r) => r.theoreticalMinSeconds.toFixed(1)],
    ['writes/s', (r) => r.achievedWritesPerSecond.toFixed(2)],
    ['% quota', (r) => r.ofQuotaPercent.toFixed(1)],
    ['% pacing', (r) => r.ofConfiguredPercent.toFixed(1)],
    ['wall s', (r) => r.wallSeconds.toFixed(1)],
    ['cpu usr s', (r) => r.cpuUserSeconds.toFixed(1)],
    ['cpu sys s', (r) => r.cpuSystemSeconds.toFixed(1)],
  ];
  return table(rows, columns, 2);
}


export interface GraphPacingResult {
  quota: typeof QUOTA & { perSecond: number };
  configuredWritesPerSecond: number;
  maxAttempts: number;
  timesAreVirtual: true;
  rows: PhaseResult[];
}

/** 10,000 grants then 10,000 removals (quick: 300), paced at the default rate and over the quota. */
export async function runGraphPacing(options: BenchOptions, log: (line: string) => void = () => undefined): Promise<GraphPacingResult> {
  const users = Number(process.env.BENCH_USERS ?? (options.quick ? 200 : 10_000));
  log(`quota enforced by the fake: ${QUOTA.limit} writes / ${QUOTA.windowMs / 1000} s = ${QUOTA_PER_SECOND}/s; theoretical minimum ${users} / ${QUOTA_PER_SECOND} = ${users / QUOTA_PER_SECOND} s per phase`);
  const rows: PhaseResult[] = [];
  const scenarios: Array<[string, number]> = [
    [`configured (${CONFIGURED_RATE}/s)`, CONFIGURED_RATE],
    ['over quota (40/s)', 40],
  ];
  for (const [label, rate] of scenarios) rows.push(...(await scenario(label, rate, users, log)));
  return { quota: { ...QUOTA, perSecond: QUOTA_PER_SECOND }, configuredWritesPerSecond: CONFIGURED_RATE, maxAttempts: MAX_ATTEMPTS, timesAreVirtual: true, rows };
}

export const GRAPH_PACING_NOTES = [
  'virtual s, writes/s, % quota, % pacing: virtual time (pacing sleeps, task due times and the quota window share one clock), i.e. pacing correctness, not machine speed.',
  'wall s and cpu s: real time and process.cpuUsage() of each phase on this machine (in-memory Graph via msw, embedded NeDB store).',
  'writes: Graph writes accepted; 429s: writes the quota refused (retried by the delivery outbox after Retry-After); attempts: task runs; peak/150s: most writes in any 150 s window.',
];
