// `npm run migrate [-- --dry-run]`: brings the database to this version's layout, including the
// changes start-up refuses to make (src/store/schema.ts). `main` takes its arguments,
// environment and output explicitly so tests can drive it.

import { systemClock } from '../clock';
import { ConfigError, loadConfig } from '../config';
import { openStore } from '../store/openStore';
import type { DocumentStore } from '../store/port';
import { openRepositories } from '../store/repositories';
import { describeChange, SchemaError, type SchemaReport } from '../store/schema';

// The same I/O and store seams as the catalog CLI (tests pass their own).
import type { CliDependencies, CliEnv, CliIo } from '../catalog/cli';
export type { CliDependencies, CliEnv, CliIo };

export const USAGE = [
  'usage: npm run migrate [-- --dry-run]',
  '',
  '  Brings the store (MONGODB_URI if set, else the embedded store in DATA_DIR, default ./data) to',
  "  this version's layout: creates missing indexes, rebuilds those whose options changed, drops",
  '  those no longer used, runs data migrations, and records the schema version. It also makes',
  '  the changes start-up refuses (index builds over large collections, a unique index over',
  '  existing documents). Running bots keep serving meanwhile: MongoDB builds indexes online.',
  '  --dry-run  print what it would change, change nothing',
  '  Exit code 0 when done or nothing to do, 1 when it failed, 2 on bad usage.',
].join('\n');

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** Azure Cosmos DB for MongoDB (RU) refuses a unique index on a collection that has documents. */
const CANNOT_CREATE_INDEX = 67;

const defaultDependencies: CliDependencies = {
  openStore: (env) => {
    const config = loadConfig(env);
    return openStore({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, mongodbTimeoutMs: config.mongodb.timeoutMs });
  },
};

export async function main(argv: readonly string[], env: CliEnv, io: CliIo, deps: CliDependencies = defaultDependencies): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return EXIT_OK;
  }
  const unknown = argv.find((a) => a !== '--dry-run');
  if (unknown !== undefined) {
    io.err(`unexpected argument '${unknown}'\n${USAGE}`);
    return EXIT_USAGE;
  }
  const dryRun = argv.includes('--dry-run');

  let store: DocumentStore;
  try {
    store = await deps.openStore(env);
  } catch (error) {
    io.err(error instanceof ConfigError ? error.message : `cannot open the store: ${(error as Error).message}`);
    return EXIT_FAILED;
  }
  try {
    let report: SchemaReport | undefined;
    await openRepositories(store, systemClock, { mode: 'migrate', dryRun, report: (r) => (report = r) });
    for (const line of formatReport(store.kind, report!)) io.out(line);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof SchemaError) io.err(error.message);
    else io.err(`migration failed: ${(error as Error).message}${(error as { code?: unknown }).code === CANNOT_CREATE_INDEX ? COSMOS_UNIQUE_HINT : ''}`);
    return EXIT_FAILED;
  } finally {
    await store.close();
  }
}

const COSMOS_UNIQUE_HINT =
  '\nAzure Cosmos DB for MongoDB (RU) builds a unique index only on an empty collection: export the collection, drop it, run this again (it creates the collection with its indexes), then import the documents (docs/deployment.md, Azure Cosmos DB for MongoDB).';

export function formatReport(kind: string, report: SchemaReport): string[] {
  const lines = [`Store: ${kind}, schema version ${report.from}${report.from === report.to ? '' : ` → ${report.to}`}${report.applied ? '' : ' (dry run: nothing changed)'}`];
  for (const change of report.changes) lines.push(`  ${describeChange(change)} [${change.documents} document(s)]`);
  for (const migration of report.migrations) lines.push(`  data migration: ${migration}`);
  const total = report.changes.length + report.migrations.length;
  if (total === 0) lines.push(report.from === report.to ? 'Nothing to change.' : 'No index changes; schema version recorded.');
  else lines.push(report.applied ? `${total} change(s) made.` : `${total} change(s) to make: run without --dry-run to make them.`);
  return lines;
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
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
