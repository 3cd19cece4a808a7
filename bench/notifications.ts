// Notifications: 5,000 expiry warnings through the real lifecycle job (LifecycleService) and
// the real proactive notifier into a loopback connector that enforces Teams' limits (per
// conversation and per app per tenant; test/support/loopbackConnector.ts TEAMS_RATE_LIMITS),
// answering 429 with Retry-After. 5,000 users with stored conversation references each hold
// one assignment whose 14-day warning has just fallen due. Time is virtual (the
// notifier's pacing, the connector's windows and task due times share one clock); wall and CPU
// time are real. Run at the configured notifier rate and at one over Teams' tenant limit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setupServer } from 'msw/node';
import { startApp } from '../src/app';
import { loadConfig, Secret } from '../src/config';
import { GraphDirectory } from '../src/directory/graphDirectory';
import type { Assignment } from '../src/domain/model';
import { createLogger } from '../src/logger';
import { openEmbeddedStore } from '../src/store/nedbStore';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../test/support/inMemoryGraph';
import { LoopbackConnector, TEAMS_RATE_LIMITS } from '../test/support/loopbackConnector';
import { repoRoot, type BenchOptions, type Column, drainTasks, msSince, round, table, VirtualTime, benchUserId } from './common';

const REPO_ROOT = repoRoot();
const TENANT = '00000000-0000-0000-0000-0000000000001';
const ENDPOINT = 'https://graph.microsoft.com';
const GROUP_ID = 'b3a5c0de-0000-4000-8000-000000000021';
const DAY = 86_400_000;

export interface NotificationRow {
  pacingPerSecond: number;
  warnings: number;
  delivered: number;
  throttled429: number;
  failed: number;
  virtualSeconds: number;
  achievedPerSecond: number;
  /** Teams' tenant limit (messages/s) and the time it allows at best. */
  tenantLimitPerSecond: number;
  theoreticalMinSeconds: number;
  wallSeconds: number;
  cpuSeconds: number;
}

export interface NotificationsResult {
  limits: typeof TEAMS_RATE_LIMITS;
  rows: NotificationRow[];
}


function catalogYaml(): string {
  return [
    'catalogs:',
    '  - id: warn',
    '    displayName: Warn',
    '    resources:',
    `      - { id: team, type: group, originId: ${GROUP_ID}, displayName: Warn team }`,
    'accessPackages:',
    '  - id: warn',
    '    catalog: warn',
    '    displayName: Project room',
    '    description: One group membership that expires',
    '    resourceRoles: [{ resource: team, role: member }]',
    '    policies:',
    '      - id: staff',
    '        displayName: Staff',
    '        allowedRequestors: { scope: allMemberUsers }',
    '        lifecycle:',
    '          expiration: { type: afterDuration, duration: P90D }',
    '          extension: { allowed: true, requiresApproval: false }',
    '',
  ].join('\n');
}

async function once(users: number, ratePerSecond: number): Promise<NotificationRow> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-notify-'));
  const catalogFile = path.join(dir, 'catalog.yaml');
  writeFileSync(catalogFile, catalogYaml());
  const fake = new FakeDirectory();
  for (let i = 0; i < users; i++) fake.addUser({ id: benchUserId(i), displayName: `Warned User ${i}`, userPrincipalName: `warned${i}@contoso.test` });
  fake.addGroup({ id: GROUP_ID, displayName: 'Warn team' });
  const graph = new InMemoryGraph(fake, { graphEndpoint: ENDPOINT });
  const server = setupServer(...graph.handlers());
  server.listen({ onUnhandledRequest: 'bypass' });

  const time = new VirtualTime();
  const connector = new LoopbackConnector();
  await connector.start();
  connector.enforceRateLimits(() => time.ms);
  // One message worker: concurrent virtual sleeps would each move the one clock.
  const config = {
    ...loadConfig({ LOG_LEVEL: 'silent', TENANT_ID: TENANT, CATALOG_FILE: catalogFile, NOTIFY_RATE_PER_SECOND: String(ratePerSecond), NOTIFY_MAX_ATTEMPTS: '20', TASK_CONCURRENCY_MESSAGES: '1' }, REPO_ROOT),
    port: 0,
  };
  const store = await openEmbeddedStore({});
  const app = await startApp(config, {
    store,
    directory: GraphDirectory.fromConfig({ auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) }, endpoint: ENDPOINT }),
    clock: time,
    notifierPacing: time.pacing,
    directoryPacing: time.pacing,
    logger: createLogger('silent'),
    host: '127.0.0.1',
    startScheduler: false,
  });
  try {
    const now = time.now();
    for (let i = 0; i < users; i++) {
      const id = benchUserId(i);
      await app.repositories.conversationReferences.save({
        id,
        tenantId: TENANT,
        reference: { channelId: 'msteams', serviceUrl: connector.serviceUrl, bot: { id: '28:bot', name: 'Access Packages' }, user: { id: `29:${id}`, aadObjectId: id }, conversation: { id: `a:personal-${id}`, conversationType: 'personal', tenantId: TENANT } },
        updatedAt: now,
      });
      const assignment: Assignment = {
        id: `ASG-WARN-${i}`,
        packageId: 'warn',
        policyId: 'staff',
        userId: id,
        state: 'delivered',
        startAt: new Date(now.getTime() - 80 * DAY),
        // The 14-day warning fell due a minute ago: the job's next look was planned for then.
        expiresAt: new Date(now.getTime() + 14 * DAY - 60_000),
        expirySetAt: new Date(now.getTime() - 76 * DAY),
        lifecycleCheckAt: new Date(now.getTime() - 60_000),
        roles: [{ resource: 'team', role: 'member', state: 'delivered' }],
        requestIds: [],
        createdAt: new Date(now.getTime() - 80 * DAY),
        updatedAt: new Date(now.getTime() - 80 * DAY),
      };
      await app.repositories.assignments.insert(assignment);
    }
    const sentBefore = connector.calls.length;
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const startMs = time.ms;
    // The scheduler's tick: lifecycle (queues the warnings) and the outbox (sends them).
    for (let i = 0; i < 1000; i++) {
      await app.lifecycle.run();
      await drainTasks(app, time);
      const due = await app.store.collection('assignments').count({ lifecycleCheckAt: { $lte: time.now() } });
      if (due === 0) break;
    }
    const calls = connector.calls.slice(sentBefore);
    const delivered = calls.filter((c) => c.method === 'POST' && c.conversationId !== undefined && c.status === 200).length;
    const lastDelivered = time.ms - startMs;
    const used = process.cpuUsage(cpu);
    const tenantLimit = TEAMS_RATE_LIMITS.perTenant[0]!.limit;
    return {
      pacingPerSecond: ratePerSecond,
      warnings: users,
      delivered,
      throttled429: connector.throttled,
      failed: await app.repositories.tasks.countByState('failed'),
      virtualSeconds: round(lastDelivered / 1000, 1),
      achievedPerSecond: round(lastDelivered > 0 ? delivered / (lastDelivered / 1000) : 0, 1),
      tenantLimitPerSecond: tenantLimit,
      theoreticalMinSeconds: round(users / tenantLimit, 1),
      wallSeconds: round(msSince(start) / 1000, 1),
      cpuSeconds: round((used.user + used.system) / 1e6, 1),
    };
  } finally {
    await app.close();
    await store.close();
    await connector.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runNotifications(options: BenchOptions, log: (line: string) => void = () => undefined): Promise<NotificationsResult> {
  const users = options.quick ? 100 : 5_000;
  const rows: NotificationRow[] = [];
  // The default NOTIFY_RATE_PER_SECOND, and a rate over Teams' tenant limit (429s expected).
  for (const rate of [20, 80]) {
    log(`  ${users} warnings paced at ${rate}/s ...`);
    rows.push(await once(users, rate));
  }
  return { limits: TEAMS_RATE_LIMITS, rows };
}

export function notificationsTable(result: NotificationsResult): string {
  const columns: Column<NotificationRow>[] = [
    ['pacing/s', (r) => String(r.pacingPerSecond)],
    ['warnings', (r) => String(r.warnings)],
    ['delivered', (r) => String(r.delivered)],
    ['429s', (r) => String(r.throttled429)],
    ['failed', (r) => String(r.failed)],
    ['virtual s', (r) => r.virtualSeconds.toFixed(1)],
    ['msgs/s', (r) => r.achievedPerSecond.toFixed(1)],
    ['Teams limit/s', (r) => String(r.tenantLimitPerSecond)],
    ['min s', (r) => r.theoreticalMinSeconds.toFixed(1)],
    ['wall s', (r) => r.wallSeconds.toFixed(1)],
    ['cpu s', (r) => r.cpuSeconds.toFixed(1)],
  ];
  return table(result.rows, columns, 0);
}
