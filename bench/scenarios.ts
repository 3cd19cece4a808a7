// The benchmark scenarios by name: what run.ts and the smoke test run.
import { chatLatencyTable, runChatLatency } from './chatLatency';
import type { BenchOptions } from './common';
import { GRAPH_PACING_NOTES, graphPacingTable, runGraphPacing } from './graphPacing';

export const SCENARIO_NAMES = ['chat', 'graph'] as const;
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
    case 'graph': {
      const result = await runGraphPacing(options, log);
      return { result, table: graphPacingTable(result.rows), notes: GRAPH_PACING_NOTES };
    }
  }
}
