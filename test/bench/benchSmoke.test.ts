// Smoke run of `npm run bench -- --quick`: every scenario runs end to end at small sizes and
// reports results of the right shape. Timings are never asserted (performance is measured by
// `npm run bench`, not by a unit test); counts, outcomes and orderings are.
import { ACTIVITY_TYPES, MODES, type ChatLatencyResult } from '../../bench/chatLatency';
import type { GraphPacingResult } from '../../bench/graphPacing';
import type { LoadResult } from '../../bench/load';
import type { NotificationsResult } from '../../bench/notifications';
import { runScenario } from '../../bench/scenarios';
import type { StoreScaleResult } from '../../bench/storeScale';
import type { ThroughputResult } from '../../bench/throughput';

const quick = { quick: true };
const log = () => undefined;
jest.setTimeout(600_000);

describe('npm run bench -- --quick', () => {
  it('chat: every activity in every mode, percentiles ordered, store calls counted', async () => {
    const { result, table } = await runScenario('chat', quick, log);
    const chat = result as ChatLatencyResult;
    expect(chat.rows).toHaveLength(ACTIVITY_TYPES.length * MODES.length);
    for (const row of chat.rows) {
      expect(row.samples).toBe(chat.samplesPerActivity);
      expect(row.p50Ms).toBeGreaterThan(0);
      expect(row.p50Ms).toBeLessThanOrEqual(row.p95Ms);
      expect(row.p95Ms).toBeLessThanOrEqual(row.p99Ms);
      expect(row.p99Ms).toBeLessThanOrEqual(row.maxMs);
      expect(row.storeCalls).toBeGreaterThan(0);
    }
    // Submitting checks eligibility in the directory; approving writes the decision.
    expect(chat.rows.find((r) => r.activity === 'submit')!.graphCalls).toBeGreaterThan(0);
    expect(chat.storeCallsByActivity.approve).toHaveProperty(['requests.findOneAndUpdate']);
    expect(table).toContain('browse');
  });

  it('throughput: every flow ends delivered, with its calls counted', async () => {
    const flow = (await runScenario('throughput', quick, log)).result as ThroughputResult;
    expect(flow.delivered).toBe(flow.flows);
    expect(flow.flowsPerSecond).toBeGreaterThan(0);
    expect(flow.cpuMsPerFlow).toBeGreaterThan(0);
    expect(flow.storeCallsPerFlow).toBeGreaterThan(10);
    expect(flow.graphCallsPerFlow).toBeGreaterThanOrEqual(1);
  });

  it('store: start-up measured at two sizes; the expiry scan claims exactly what is due', async () => {
    const store = (await runScenario('store', quick, log)).result as StoreScaleResult;
    expect(store.startup).toHaveLength(2);
    expect(store.startup[1]!.assignments).toBe(store.startup[0]!.assignments * 10);
    for (const row of store.startup) {
      expect(row.startupSeconds).toBeGreaterThan(0);
      expect(row.rssMb).toBeGreaterThan(0);
    }
    const scans = store.scans.filter((s) => s.what.startsWith('expiry scan'));
    expect(scans.map((s) => s.matched)).toEqual([10, 40, 10, 400]);
    expect(store.scans.find((s) => s.what === 'audit: newest 50')!.matched).toBe(50);
  });

  it('graph: every grant and removal lands, within the quota window', async () => {
    const graph = (await runScenario('graph', quick, log)).result as GraphPacingResult;
    expect(graph.rows.map((r) => `${r.phase}`)).toEqual(['grant', 'remove', 'grant', 'remove']);
    for (const row of graph.rows) {
      expect(row.succeeded).toBe(row.operations);
      expect(row.failed).toBe(0);
      expect(row.graphWritesAccepted).toBe(row.operations);
      expect(row.peakWritesInWindow).toBeLessThanOrEqual(graph.quota.limit);
    }
  });

  it('notifications: every warning is delivered once; over the tenant limit Teams answers 429 and the notifier backs off', async () => {
    const notifications = (await runScenario('notifications', quick, log)).result as NotificationsResult;
    const [paced, over] = notifications.rows;
    for (const row of notifications.rows) {
      expect(row.delivered).toBe(row.warnings);
      expect(row.failed).toBe(0);
      // Virtual time: the connector never let more than Teams' tenant limit through.
      expect(row.achievedPerSecond).toBeLessThanOrEqual(row.tenantLimitPerSecond * 1.05);
    }
    expect(paced!.throttled429).toBe(0);
    expect(over!.throttled429).toBeGreaterThan(0);
  });

  it('load: under a flood and a backlog every measured grant, removal and approval card happens, within the quota', async () => {
    const load = (await runScenario('load', quick, log)).result as LoadResult;
    const [grants, giveBacks, expiries, cards] = load.rows;
    expect(grants!.samples).toBe(load.sizes.flows);
    expect(giveBacks!.samples).toBe(load.sizes.giveBacks);
    expect(expiries!.samples).toBe(load.sizes.expiries);
    expect(cards!.samples).toBe(load.sizes.flows);
    for (const row of [grants, giveBacks, expiries, cards]) {
      expect(row!.done).toBe(row!.samples);
      expect(row!.p50Ms).toBeLessThanOrEqual(row!.p95Ms);
      expect(row!.p95Ms).toBeLessThanOrEqual(row!.p99Ms);
    }
    expect(load.graph.peakWritesInWindow).toBeLessThanOrEqual(load.graph.quota.limit);
    expect(load.backlog.length).toBeGreaterThan(0);
  });
});
