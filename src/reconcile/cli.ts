// `npm run reconcile`: compares the grant ledger and the assignments with the directory the
// bot is configured for (Graph, or the local directory with its saved writes) and prints the
// drift. Exit code 0: no drift; 1: drift found (or the check could not run); 2: bad usage.
// `main` takes its arguments, environment and output explicitly so tests can drive it.

import path from 'node:path';
import { systemClock } from '../clock';
import { ConfigError, loadConfig } from '../config';
import { GraphDirectory } from '../directory/graphDirectory';
import { LocalDirectory } from '../directory/localDirectory';
import type { Directory } from '../directory/port';
import { formatReconcileReport } from '../domain/reconcile';
import { runReconciliation } from '../services/reconcile';
import { openStore } from '../store/openStore';
import { openRepositories } from '../store/repositories';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export const USAGE = [
  'usage: npm run reconcile [-- --json]',
  '',
  '  Compares the grant ledger with the directory (Microsoft Graph when configured, else the',
  '  local directory file and its saved writes in DATA_DIR) and prints every drift found.',
  '  Reads the store of MONGODB_URI if set, else the embedded store in DATA_DIR (default ./data).',
  '  Exit code 0 when there is no drift, 1 when there is.',
  '  --json  print the report as one JSON object instead',
].join('\n');

export async function main(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  const unknown = argv.find((a) => a !== '--json');
  if (unknown !== undefined) {
    io.err(`unexpected argument '${unknown}'\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
  const directory: Directory = config.graph
    ? GraphDirectory.fromConfig(config.graph)
    : await LocalDirectory.open({ file: config.localDirectoryFile, stateFile: path.join(config.dataDir, 'local-directory-state.json') });
  const store = await openStore({ mongodbUri: config.mongodbUri, dataDir: config.dataDir });
  try {
    const report = await runReconciliation(await openRepositories(store, systemClock), directory);
    if (argv.includes('--json')) io.out(JSON.stringify(report));
    else for (const line of formatReconcileReport(report)) io.out(line);
    return report.drift.length === 0 ? 0 : 1;
  } finally {
    await store.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`reconcile failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
