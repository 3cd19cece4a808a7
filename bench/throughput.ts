// Throughput: complete request → approve → delivered flows on one instance: the real app
// (startApp: adapter, bot, task runner, proactive notifier, embedded store) with GraphDirectory
// over graph-client into the in-memory Graph (no artificial latency) and a loopback connector.
// Activities are handed to the adapter in process (chatLatency.ts measures HTTP separately);
// the task runner is driven as the scheduler would. Pacing waits are virtual (the configured
// Graph pacing would otherwise dominate); wall and CPU time are real.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INVOKE_RESPONSE_KEY, type TurnContext } from 'botbuilder';
import { setupServer } from 'msw/node';
import { startApp } from '../src/app';
import { loadConfig, Secret } from '../src/config';
import { GraphDirectory } from '../src/directory/graphDirectory';
import { createLogger } from '../src/logger';
import { openEmbeddedStore } from '../src/store/nedbStore';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../test/support/inMemoryGraph';
import { LoopbackConnector } from '../test/support/loopbackConnector';
import { BENCH_LIMITS, repoRoot, type BenchOptions, CallCounter, type Column, CountingStore, countingDirectory, drainTasks, msSince, round, table, VirtualTime, benchUserId } from './common';

const REPO_ROOT = repoRoot();
const TENANT = '00000000-0000-0000-0000-0000000000001';
const ENDPOINT = 'https://graph.microsoft.com';
const GROUP_ID = 'b3a5c0de-0000-4000-8000-000000000011';
const APPROVER = 'b3a5c0de-0000-4000-8000-0000000000aa';
const BOT = { id: '28:bot', name: 'Access Packages' };

export interface ThroughputResult {
  flows: number;
  batchSize: number;
  delivered: number;
  wallSeconds: number;
  flowsPerSecond: number;
  cpuMsPerFlow: number;
  storeCallsPerFlow: number;
  graphCallsPerFlow: number;
  connectorCallsPerFlow: number;
}


function catalogYaml(): string {
  return [
    'catalogs:',
    '  - id: flow',
    '    displayName: Flow',
    '    resources:',
    `      - { id: team, type: group, originId: ${GROUP_ID}, displayName: Flow team }`,
    'accessPackages:',
    '  - id: flow',
    '    catalog: flow',
    '    displayName: Flow team',
    '    description: One group membership, one approval',
    '    resourceRoles: [{ resource: team, role: member }]',
    '    policies:',
    '      - id: staff',
    '        displayName: Staff',
    '        allowedRequestors: { scope: allMemberUsers }',
    '        approval:',
    `          stages: [{ approvers: [{ user: ${APPROVER} }] }]`,
    '        lifecycle: { expiration: { type: afterDuration, duration: P90D } }',
    '',
  ].join('\n');
}

export async function runThroughput(options: BenchOptions): Promise<ThroughputResult> {
  const flows = options.quick ? 20 : 1_000;
  const batchSize = options.quick ? 10 : 50;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-flow-'));
  const catalogFile = path.join(dir, 'catalog.yaml');
  writeFileSync(catalogFile, catalogYaml());

  const fake = new FakeDirectory();
  fake.addUser({ id: APPROVER, displayName: 'Approver', userPrincipalName: 'approver@contoso.test' });
  for (let i = 0; i < flows; i++) fake.addUser({ id: benchUserId(i), displayName: `Flow User ${i}`, userPrincipalName: `flow${i}@contoso.test` }, APPROVER);
  fake.addGroup({ id: GROUP_ID, displayName: 'Flow team' });
  const graph = new InMemoryGraph(fake, { graphEndpoint: ENDPOINT });
  // Requests to the loopback connector are not Graph's: let them through.
  const server = setupServer(...graph.handlers());
  server.listen({ onUnhandledRequest: 'bypass' });

  const connector = new LoopbackConnector();
  await connector.start();
  const store = new CountingStore(await openEmbeddedStore({}));
  const graphCalls = new CallCounter();
  const time = new VirtualTime();
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', TENANT_ID: TENANT, CATALOG_FILE: catalogFile, ...BENCH_LIMITS }, REPO_ROOT), port: 0 };
  const directory = GraphDirectory.fromConfig({ auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) }, endpoint: ENDPOINT });
  const app = await startApp(config, {
    store,
    directory: countingDirectory(directory, graphCalls),
    clock: time,
    notifierPacing: time.pacing,
    directoryPacing: time.pacing,
    logger: createLogger('silent'),
    host: '127.0.0.1',
    startScheduler: false,
  });

  function press(user: string, data: Record<string, unknown>): Record<string, unknown> {
    return {
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
      value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' },
    };
  }
  /** Hands an invoke to the adapter; returns the card's text (to check the outcome). */
  async function handle(activity: Record<string, unknown>): Promise<string> {
    let text = '';
    await app.adapter.processActivityDirect('', activity as never, async (context: TurnContext) => {
      await app.bot.run(context);
      const response = context.turnState.get(INVOKE_RESPONSE_KEY) as { value?: { body?: { value?: unknown } } } | undefined;
      text = JSON.stringify(response?.value?.body?.value ?? '');
    });
    return text;
  }

  async function drain(): Promise<void> {
    await drainTasks(app, time);
  }

  let result: ThroughputResult;
  try {
    // Warm the token cache and code paths outside the measurement.
    await directory.getUser(APPROVER);
    store.counter.reset();
    graphCalls.reset();
    const connectorBefore = connector.calls.length;
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let first = 0; first < flows; first += batchSize) {
      const batch = Array.from({ length: Math.min(batchSize, flows - first) }, (_, k) => first + k);
      for (const i of batch) {
        const card = await handle(press(benchUserId(i), { verb: 'submitRequest', packageId: 'flow', policyId: 'staff' }));
        if (!card.includes('Request sent for approval')) throw new Error(`submit refused: ${card.slice(0, 300)}`);
      }
      await drain();
      for (const i of batch) {
        const request = await app.repositories.requests.findOpen(benchUserId(i), 'flow');
        if (!request) throw new Error(`no open request for user ${i}: ${JSON.stringify((await app.repositories.requests.listForUser(benchUserId(i)))[0])}`);
        await handle(press(APPROVER, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' }));
      }
      await drain();
    }
    const wallSeconds = msSince(start) / 1000;
    const used = process.cpuUsage(cpu);
    const delivered = (await app.store.collection('requests').count({ state: 'delivered' }));
    const members = fake.group(GROUP_ID).members.size;
    if (members !== delivered) throw new Error(`group has ${members} members but ${delivered} requests are delivered`);
    result = {
      flows,
      batchSize,
      delivered,
      wallSeconds: round(wallSeconds, 2),
      flowsPerSecond: round(delivered / wallSeconds, 1),
      cpuMsPerFlow: round((used.user + used.system) / 1000 / flows, 2),
      storeCallsPerFlow: round(store.counter.total / flows, 1),
      graphCallsPerFlow: round(graphCalls.total / flows, 1),
      connectorCallsPerFlow: round((connector.calls.length - connectorBefore) / flows, 1),
    };
  } finally {
    await app.close();
    await store.close();
    await connector.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

export function throughputTable(result: ThroughputResult): string {
  const columns: Column<ThroughputResult>[] = [
    ['flows', (r) => String(r.flows)],
    ['delivered', (r) => String(r.delivered)],
    ['wall s', (r) => r.wallSeconds.toFixed(2)],
    ['flows/s', (r) => r.flowsPerSecond.toFixed(1)],
    ['cpu ms/flow', (r) => r.cpuMsPerFlow.toFixed(2)],
    ['store calls/flow', (r) => r.storeCallsPerFlow.toFixed(1)],
    ['graph calls/flow', (r) => r.graphCallsPerFlow.toFixed(1)],
    ['connector calls/flow', (r) => r.connectorCallsPerFlow.toFixed(1)],
  ];
  return table([result], columns, 0);
}
