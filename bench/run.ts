// `npm run bench [-- SCENARIO ...] [--quick]`: runs the benchmark scenarios (all by default),
// prints one table per scenario and writes bench/results.json (each scenario's result with the
// machine and load it ran on; a partial run replaces only its scenarios).
// BENCH_QUICK=1 or --quick runs smaller sizes (a smoke run, not figures to quote).
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type BenchOptions, machine, repoRoot } from './common';
import { runScenario, SCENARIO_NAMES, type ScenarioName } from './scenarios';

/**
 * Compiled to dist-bench/{src,bench}, the card renderer looks for dist-bench/cards (its path is
 * relative to src/bot); point that at the real templates.
 */
function linkCards(): void {
  const link = path.resolve(__dirname, '..', 'cards');
  if (!existsSync(link)) symlinkSync(path.resolve(__dirname, '..', '..', 'cards'), link, 'dir');
}

interface ResultsFile {
  results: Record<string, unknown>;
}

function readResults(file: string): ResultsFile {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ResultsFile>;
    if (parsed && typeof parsed.results === 'object' && parsed.results !== null) return { results: parsed.results };
  } catch {
    // absent or unreadable: start afresh
  }
  return { results: {} };
}

async function main(): Promise<void> {
  linkCards();
  const args = process.argv.slice(2);
  const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
  const named = args.filter((a) => !a.startsWith('--'));
  const unknown = named.filter((n) => !(SCENARIO_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(', ')}; choose from: ${SCENARIO_NAMES.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const selected = (named.length > 0 ? named : SCENARIO_NAMES) as ScenarioName[];
  const options: BenchOptions = { quick };
  const host = machine();
  console.log(`machine: ${host.cpu}, ${host.cpus} CPUs, ${host.memoryGb} GB, node ${host.node}, load ${host.loadAverage.join(' ')}${quick ? ' (quick mode: smaller sizes)' : ''}`);
  const out = path.join(repoRoot(), 'bench', 'results.json');
  // Running some scenarios replaces their entries and keeps the others' (each says when and where it ran).
  const file = readResults(out);
  for (const name of selected) {
    console.log(`\n== ${name} ==`);
    const outcome = await runScenario(name, options, (line) => console.log(line));
    console.log(outcome.table);
    for (const note of outcome.notes) console.log(note);
    file.results[name] = { at: new Date().toISOString(), quick, machine: host, notes: outcome.notes, result: outcome.result };
    writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
  }
  console.log(`\nwritten to ${path.relative(process.cwd(), out)}`);
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  // Work a scenario left running (the load scenario stops measuring at its deadline) ends here.
  .finally(() => process.exit());
