// The benchmark scenarios by name: what run.ts and the smoke test run.
import { chatLatencyTable, runChatLatency } from './chatLatency';
import type { BenchOptions } from './common';
import { GRAPH_PACING_NOTES, graphPacingTable, runGraphPacing } from './graphPacing';
import { runThroughput, throughputTable } from './throughput';

export const SCENARIO_NAMES = ['chat', 'throughput', 'store', 'graph', 'notifications'] as const;
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
    case 'graph': {
      const result = await runGraphPacing(options, log);
      return { result, table: graphPacingTable(result.rows), notes: GRAPH_PACING_NOTES };
    }
    default:
      throw new Error(`scenario ${name} is not built yet`);
  }
}
