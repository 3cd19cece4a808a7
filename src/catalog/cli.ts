// `npm run catalog -- validate FILE` and `npm run catalog -- apply FILE [--dry-run]`.
// `main` takes its arguments, environment and output explicitly so tests can drive it.

import { allowPrivilegedRoles, ConfigError } from '../config';
import { openStore } from '../store/openStore';
import type { DocumentStore } from '../store/port';
import { systemClock } from '../clock';
import { settlePendingAudit } from '../services/recovery';
import { openRepositories } from '../store/repositories';
import { applyCatalog, formatApplyReport } from './applyCatalog';
import { type CatalogFileResult, type CatalogRules, formatCatalogError, loadCatalogFile, summarizeDefinition } from './catalogFile';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export type CliEnv = Record<string, string | undefined>;

export interface CliDependencies {
  /** How apply reaches the store; defaults to MONGODB_URI / DATA_DIR like the bot itself. */
  openStore(env: CliEnv): Promise<DocumentStore>;
}

export const USAGE = [
  'usage: npm run catalog -- validate FILE',
  '       npm run catalog -- apply FILE [--dry-run]',
  '',
  '  validate  check FILE and print every error with its line and column',
  '  apply     validate FILE, then create/update/delete catalogs, packages and policies in the store',
  '            (MONGODB_URI if set, else the embedded store in DATA_DIR, default ./data)',
  '  --dry-run report what apply would change without writing anything',
  '',
  '  ALLOW_PRIVILEGED_ROLES=true accepts privileged Entra roles, as it does for the bot',
].join('\n');

const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

const defaultDependencies: CliDependencies = {
  openStore: (env) => openStore({ mongodbUri: env.MONGODB_URI, dataDir: env.DATA_DIR || './data' }),
};

/** Runs one command; resolves to the process exit code. `argv` is what follows the script name. */
export async function main(argv: readonly string[], env: CliEnv, io: CliIo, deps: CliDependencies = defaultDependencies): Promise<number> {
  const parsed = parseArguments(argv);
  if ('help' in parsed) {
    io.out(USAGE);
    return EXIT_OK;
  }
  if ('error' in parsed) {
    io.err(`${parsed.error}\n${USAGE}`);
    return EXIT_USAGE;
  }

  // The same rules the bot applies at start-up, so a file valid here is valid there.
  let rules: CatalogRules;
  try {
    rules = { allowPrivilegedRoles: allowPrivilegedRoles(env) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(error.message);
    return EXIT_USAGE;
  }
  const result = await loadCatalogFile(parsed.file, rules);
  if (!reportValidation(result, parsed.file, io)) return EXIT_INVALID;
  if (parsed.verb === 'validate') return EXIT_OK;

  let store: DocumentStore;
  try {
    store = await deps.openStore(env);
  } catch (error) {
    io.err(`cannot open the store: ${(error as Error).message}`);
    return EXIT_INVALID;
  }
  try {
    const repos = await openRepositories(store, systemClock);
    // Apply rewrites whole documents: first record any audit event a crashed bot left on them.
    if (!parsed.dryRun) await settlePendingAudit(repos);
    const report = await applyCatalog(result.catalog, repos, { dryRun: parsed.dryRun });
    io.out(formatApplyReport(report));
    return EXIT_OK;
  } catch (error) {
    io.err(`apply failed: ${(error as Error).message}`);
    return EXIT_INVALID;
  } finally {
    await store.close();
  }
}

type Arguments = { verb: 'validate' | 'apply'; file: string; dryRun: boolean } | { error: string } | { help: true };

function parseArguments(argv: readonly string[]): Arguments {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  const options = argv.filter((a) => a.startsWith('--'));
  const positional = argv.filter((a) => !a.startsWith('--'));
  const [verb, file, ...extra] = positional;
  if (verb === undefined) return { error: 'missing command' };
  if (verb !== 'validate' && verb !== 'apply') return { error: `unknown command '${verb}'` };
  if (file === undefined) return { error: `${verb}: missing FILE` };
  if (extra.length > 0) return { error: `${verb}: unexpected argument '${extra[0]}'` };
  const allowed = verb === 'apply' ? ['--dry-run'] : [];
  const unknown = options.find((o) => !allowed.includes(o));
  if (unknown !== undefined) return { error: `${verb}: unknown option '${unknown}'` };
  return { verb, file, dryRun: options.includes('--dry-run') };
}

/** Prints the errors or the one-line summary; true when the file is valid. */
function reportValidation(result: CatalogFileResult, file: string, io: CliIo): result is Extract<CatalogFileResult, { ok: true }> {
  if (!result.ok) {
    for (const error of result.errors) io.err(formatCatalogError(error));
    io.err(`${file}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}`);
    return false;
  }
  io.out(`${file}: valid — ${summarizeDefinition(result.catalog)}`);
  return true;
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
