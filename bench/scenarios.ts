// The benchmark scenarios by name: what run.ts and the smoke test run.
import { chatLatencyTable, runChatLatency } from './chatLatency';
import type { BenchOptions } from './common';
import { GRAPH_PACING_NOTES, graphPacingTable, runGraphPacing } from './graphPacing';
import { backlogTable, loadTable, runLoad } from './load';
import { notificationsTable, runNotifications } from './notifications';
import { runStoreScale, storeScaleTables } from './storeScale';
import { runThroughput, throughputTable } from './throughput';

export const SCENARIO_NAMES = ['chat', 'throughput', 'store', 'graph', 'notifications', 'load'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface ScenarioOutcome {
  result: unknown;
  table: string;
  notes: string[];
}

export async function runScenario(name: ScenarioName, options: BenchOptions, log: (line: string) => void): Promise<ScenarioOutcome> {
  switch (name) {
    case 'chat': {
      const result = await runChatLatency(options);
      return {
        result,
        table: chatLatencyTable(result),
        notes: [
          `${result.packages} packages; ${result.samplesPerActivity} samples per activity and mode after warm-up.`,
          'http: client round trip through restify; server: inside CloudAdapter.process for those requests; inProcess: the adapter without HTTP.',
          'store/graph calls: store port and directory port calls per activity (mean); replies go to a loopback connector.',
        ],
      };
    }
    case 'throughput': {
      const result = await runThroughput(options);
      return {
        result,
        table: throughputTable(result),
        notes: [
          `request → approval card → approve → grant in the in-memory Graph → requester told, in batches of ${result.batchSize}; activities handed to the adapter in process.`,
          'cpu ms/flow: process.cpuUsage() (user + system) per flow, including the in-memory Graph (msw) and loopback connector in the same process.',
        ],
      };
    }
    case 'store': {
      const result = await runStoreScale(options, log);
      return {
        result,
        table: storeScaleTables(result),
        notes: [
          'start-up: open the data files, load every document and build the indexes (as the app starts); RSS/heap of the benchmark process after it.',
          'expiry scan: the lifecycle job claiming due assignments (index on lifecycleCheckAt), median of 7 runs (3 for 1,000 due); its cost follows "matched", not "total docs".',
          'full scan ms: one unindexed count over the same collection, i.e. what a scan of everything costs at that size.',
        ],
      };
    }
    case 'graph': {
      const result = await runGraphPacing(options, log);
      return { result, table: graphPacingTable(result.rows), notes: GRAPH_PACING_NOTES };
    }
    case 'notifications': {
      const result = await runNotifications(options, log);
      return {
        result,
        table: notificationsTable(result),
        notes: [
          'Expiry warnings from the lifecycle job through the proactive notifier; the connector enforces Teams limits (7/s, 8/2 s, 60/30 s, 1,800/h per conversation; 50/s per app per tenant) with 429 + Retry-After.',
          'virtual s and msgs/s: virtual time (pacing, Retry-After and the limit windows share one clock); wall and cpu s are real.',
        ],
      };
    }
    case 'load': {
      const result = await runLoad(options, log);
      const { sizes } = result;
      return {
        result,
        table: `${loadTable(result)}\n\ndue backlog by task type (every 5 s):\n${backlogTable(result)}`,
        notes: [
          `Real time, one instance, embedded store, scheduler loop as in production. ${sizes.flows} flows (${sizes.managers} managers approve ${sizes.thinkMs} ms after their card) over ${sizes.flowSeconds} s; one employee submits ${sizes.flood} requests in ${sizes.floodSeconds} s; ${sizes.warnings} expiry warnings queued at the start; ${sizes.giveBacks} give-backs and ${sizes.expiries} expiries from ${sizes.eventsFrom} s over ${sizes.eventsSeconds} s.`,
          `Graph: ${result.graph.writesAccepted} writes accepted, ${result.graph.throttled429} answered 429, peak ${result.graph.peakWritesInWindow} in any ${result.graph.quota.windowMs / 1000} s window (quota ${result.graph.quota.limit}). Teams: ${result.teams.calls} connector calls, ${result.teams.throttled429} answered 429.`,
          `Measured for ${result.wallSeconds} s (stops when every measured event happened, or at ${sizes.deadlineSeconds} s); ${result.warningsLeft} warnings still queued then; cpu ${result.cpuSeconds} s; load average ${result.loadAverage.start.join(' ')} at the start, ${result.loadAverage.end.join(' ')} at the end.`,
        ],
      };
    }
  }
}
