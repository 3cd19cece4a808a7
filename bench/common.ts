// Shared by the benchmark scenarios: the machine, tables, percentiles, virtual time, and
// counting decorators around the store and directory ports (so call counts come from the real
// code paths without touching production code).
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../src/clock';
import type { TaskRunner } from '../src/scheduler/taskRunner';
import type { Directory } from '../src/directory/port';
import type { Collection, DocumentStore, StoredDocument } from '../src/store/port';

/** Smaller sizes for a smoke run (BENCH_QUICK=1 or --quick). */
export interface BenchOptions {
  quick: boolean;
}

export interface Machine {
  cpu: string;
  cpus: number;
  memoryGb: number;
  node: string;
  platform: string;
  /** 1, 5 and 15 minute load averages when the run started (the machine is shared). */
  loadAverage: number[];
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

/** The object id of the i-th generated user: a GUID, as Graph expects. */
export function benchUserId(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Milliseconds since `start` (process.hrtime.bigint()). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export type Column<R> = [header: string, cell: (row: R) => string];

/** A plain-text table; the first `leftColumns` columns are left-aligned, the rest right-aligned. */
export function table<R>(rows: readonly R[], columns: readonly Column<R>[], leftColumns = 1): string {
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export const START = Date.parse('2026-11-22T09:00:00Z');

/**
 * A bench person does what a crowd would (hundreds of requests and clicks a minute): the
 * per-person limits are set out of reach but stay on, so their cost is in the figures.
 */
export const BENCH_LIMITS = { LIMIT_REQUESTS_PER_MINUTE: '1000000', LIMIT_ACTIVITIES_PER_MINUTE: '1000000', LIMIT_OPEN_REQUESTS: '1000000' };

/**
 * One virtual clock for everything that would otherwise wait (pacing sleeps, task due times,
 * quota windows): it only moves when something waits, or when a scenario jumps it.
 */
export class VirtualTime implements Clock {
  ms = 0;
  now(): Date {
    return new Date(START + this.ms);
  }
  /** Virtual sleeps cost nothing: every pacing wait is slept, none puts its task back. */
  readonly pacing = { now: () => this.ms, sleep: async (ms: number) => void (this.ms += ms), maxWaitMs: Number.POSITIVE_INFINITY };
}

/** Call counts by key ("collection.method" or a directory method). */
export class CallCounter {
  private counts = new Map<string, number>();
  total = 0;

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.total += 1;
  }

  reset(): void {
    this.counts = new Map();
    this.total = 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}

const COLLECTION_METHODS = ['insert', 'findOne', 'find', 'count', 'updateOne', 'updateMany', 'findOneAndUpdate', 'replace', 'delete'] as const;

/** The store port with every collection call counted (ensureIndex, ping and close are not). */
export class CountingStore implements DocumentStore {
  readonly counter = new CallCounter();
  /** With `timed`, total ms by call and filter shape (to find the costly queries). */
  readonly timings = new Map<string, { ms: number; calls: number }>();
  constructor(
    private readonly inner: DocumentStore,
    private readonly timed = false,
  ) {}

  get kind(): string {
    return this.inner.kind;
  }

  collection<T extends StoredDocument>(name: string): Collection<T> {
    const inner = this.inner.collection<T>(name);
    const counted: Record<string, unknown> = { name, ensureIndex: inner.ensureIndex.bind(inner) };
    for (const method of COLLECTION_METHODS) {
      const fn = (inner[method] as (...args: unknown[]) => unknown).bind(inner);
      counted[method] = (...args: unknown[]) => {
        this.counter.add(`${name}.${method}`);
        if (!this.timed) return fn(...args);
        const key = `${name}.${method} ${shape(args[0])}`;
        const start = process.hrtime.bigint();
        return (fn(...args) as Promise<unknown>).finally(() => {
          const t = this.timings.get(key) ?? { ms: 0, calls: 0 };
          this.timings.set(key, { ms: t.ms + msSince(start), calls: t.calls + 1 });
        });
      };
    }
    return counted as unknown as Collection<T>;
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A filter's keys and operators without its values. */
function shape(filter: unknown): string {
  if (Array.isArray(filter)) return `[${filter.map(shape).join(',')}]`;
  if (filter === null || typeof filter !== 'object' || filter instanceof Date) return '';
  return `{${Object.entries(filter as Record<string, unknown>).map(([k, v]) => `${k}${shape(v) ? `:${shape(v)}` : ''}`).join(',')}}`;
}

/** The directory port (Graph, or its local stand-in) with every method call counted. */
export function countingDirectory(inner: Directory, counter: CallCounter): Directory {
  return new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      return (...args: unknown[]) => {
        counter.add(property);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Waits up to this long (virtually) for retries and pacing; approval deadlines are days away. */
const DRAIN_HORIZON_MS = 10 * 60_000;

/**
 * Runs due tasks as the scheduler would until none falls due within the horizon, jumping
 * virtual time to the next due task (a retry after 429, a paced write) when all wait.
 */
export async function drainTasks(app: { taskRunner: TaskRunner; store: DocumentStore }, time: VirtualTime, types?: string[]): Promise<void> {
  const tasks = app.store.collection<{ _id: string; dueAt: Date; type: string }>('tasks');
  for (let i = 0; i < 100_000; i++) {
    await app.taskRunner.run();
    const [next] = await tasks.find({ state: 'pending', ...(types ? { type: { $in: types } } : {}) }, { sort: { dueAt: 1 }, limit: 1 });
    if (!next) return;
    const wait = new Date(next.dueAt).getTime() - time.now().getTime();
    if (wait > DRAIN_HORIZON_MS) return;
    if (wait > 0) time.ms += wait;
  }
  throw new Error('tasks kept falling due');
}

/** The repository root (where package.json is), whether run from bench/ (jest) or dist-bench/bench/. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the benchmark');
    dir = parent;
  }
  return dir;
}
