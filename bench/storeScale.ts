// Scale of the embedded store: 100,000 assignments and 1,000,000 audit events in NeDB data
// files (written directly in NeDB's format: one JSON line per document, Dates as {"$$date"}),
// then opened as the app opens them. Measures start-up (load + indexes) and RSS at that size,
// the lifecycle job's expiry scan (claimLifecycleDue, index-backed on lifecycleCheckAt) with
// few and many due against two totals, and typical audit queries, next to a full scan of the
// same collection for contrast. Real time throughout.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEmbeddedStore } from '../src/store/nedbStore';
import { openRepositories } from '../src/store/repositories';
import { type BenchOptions, type Column, msSince, round, START, table } from './common';

const DAY = 86_400_000;
const PACKAGES = 200;
const USERS = 20_000;

export interface StartupRow {
  assignments: number;
  auditEvents: number;
  dataMb: number;
  startupSeconds: number;
  rssMb: number;
  heapUsedMb: number;
}

export interface ScanRow {
  what: string;
  total: number;
  matched: number;
  ms: number;
  /** The same collection read in full (an unindexed condition), for contrast. */
  fullScanMs: number;
}

export interface StoreScaleResult {
  startup: StartupRow[];
  scans: ScanRow[];
}

/** NeDB's file format: JSON with Dates as {"$$date": ms}. */
function serialize(doc: Record<string, unknown>): string {
  return JSON.stringify(doc, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { $$date: raw.getTime() } : value;
  });
}

function writeLines(file: string, count: number, make: (i: number) => Record<string, unknown>): number {
  const fd = openSync(file, 'w');
  let bytes = 0;
  try {
    let chunk: string[] = [];
    for (let i = 0; i < count; i++) {
      chunk.push(serialize(make(i)));
      if (chunk.length === 5_000 || i === count - 1) {
        const text = `${chunk.join('\n')}\n`;
        bytes += Buffer.byteLength(text);
        writeSync(fd, text);
        chunk = [];
      }
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

const user = (i: number) => `00000000-0000-4000-8000-${String(i % USERS).padStart(12, '0')}`;
const pkg = (i: number) => `pkg-${String(i % PACKAGES).padStart(5, '0')}`;

/** An active assignment; the first `due` have their lifecycle check due at START, the rest later. */
function assignment(i: number, due: number): Record<string, unknown> {
  const created = new Date(START - 200 * DAY + (i % 100) * DAY);
  const expires = new Date(START + 1 * DAY + (i % 365) * DAY);
  return {
    _id: `ASG-REQ-${i}`,
    packageId: pkg(i),
    policyId: 'staff',
    userId: user(i),
    state: 'delivered',
    startAt: created,
    expiresAt: expires,
    roles: [{ resource: 'team', role: 'member', originId: 'grp-team', resourceType: 'group', state: 'delivered', deliveredAt: created }],
    requestIds: [`REQ-${i}`],
    expirySetAt: created,
    // Due: now or earlier (a warning threshold passed). Others: their next threshold, later.
    lifecycleCheckAt: i < due ? new Date(START - i * 1000) : new Date(START + 60_000 + (i % 300) * DAY),
    createdAt: created,
    updatedAt: created,
  };
}

function auditEvent(i: number, total: number): Record<string, unknown> {
  // Spread over a year before START, in append order.
  const at = new Date(START - 365 * DAY + Math.floor((i * 365 * DAY) / total));
  return {
    _id: `${at.getTime().toString().padStart(15, '0')}-${(i % 1_000_000).toString().padStart(6, '0')}-bench`,
    at,
    actorId: i % 3 === 0 ? 'system' : user(i + 7),
    action: ['request.submitted', 'approval.decided', 'grant.added', 'assignment.delivered', 'grant.removed'][i % 5],
    packageId: pkg(i),
    userId: user(i),
    requestId: `REQ-${Math.floor(i / 5)}`,
    details: { resource: 'team', role: 'member' },
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, ms: msSince(start) };
}

/** Opens a data directory as the app does; returns the repositories, store and start-up time. */
async function open(dataDir: string) {
  const start = process.hrtime.bigint();
  const store = await openEmbeddedStore({ dataDir });
  const repositories = await openRepositories(store, { now: () => new Date(START) });
  await store.ping();
  return { store, repositories, seconds: msSince(start) / 1000 };
}

export async function runStoreScale(options: BenchOptions, log: (line: string) => void = () => undefined): Promise<StoreScaleResult> {
  const big = options.quick ? { assignments: 2_000, audit: 10_000 } : { assignments: 100_000, audit: 1_000_000 };
  const small = { assignments: big.assignments / 10, audit: big.audit / 10 };
  const startup: StartupRow[] = [];
  const scans: ScanRow[] = [];
  const now = new Date(START);

  for (const size of [small, big]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-store-'));
    try {
      const dueMany = Math.min(1_000, size.assignments / 5);
      log(`  writing ${size.assignments} assignments and ${size.audit} audit events ...`);
      let bytes = writeLines(path.join(dir, 'assignments.db'), size.assignments, (i) => assignment(i, dueMany));
      bytes += writeLines(path.join(dir, 'auditEvents.db'), size.audit, (i) => auditEvent(i, size.audit));
      const { store, repositories, seconds } = await open(dir);
      const memory = process.memoryUsage();
      log(`  opened in ${seconds.toFixed(1)} s`);
      startup.push({
        assignments: size.assignments,
        auditEvents: size.audit,
        dataMb: round(bytes / 2 ** 20, 1),
        startupSeconds: round(seconds, 2),
        rssMb: round(memory.rss / 2 ** 20, 0),
        heapUsedMb: round(memory.heapUsed / 2 ** 20, 0),
      });
      try {
        const assignments = store.collection('assignments');
        const fullAssignments = (await timed(() => assignments.count({ policyId: 'none' }))).ms;
        // The lifecycle job's scan: claim what is due, 50 at a time, until nothing is. First at
        // a moment when 10 are due (assignment i is due i seconds before START), then at START.
        for (const due of [10, dueMany]) {
          // The median of several runs: one run is at the mercy of a GC pause in a multi-GB heap.
          const runs: { claimed: number; ms: number }[] = [];
          for (let run = 0; run < (due === 10 ? 7 : 3); run++) {
            // 2 ms later each run: the previous run's 1 ms leases have lapsed, the due set is the same.
            const at = new Date(START - (dueMany - due) * 1000 + run * 2);
            const { value: claimed, ms } = await timed(async () => {
              let n = 0;
              for (;;) {
                const batch = await repositories.assignments.claimLifecycleDue(at, 1, 50);
                if (batch.length === 0) return n;
                n += batch.length;
              }
            });
            runs.push({ claimed, ms });
          }
          const median = [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)]!;
          scans.push({ what: 'expiry scan (claim due)', total: size.assignments, matched: median.claimed, ms: round(median.ms, 1), fullScanMs: round(fullAssignments, 1) });
        }
        const fullAudit = (await timed(() => store.collection('auditEvents').count({ 'details.role': 'nobody' }))).ms;
        const week = { from: new Date(START - 7 * DAY), to: now };
        const queries: Array<[string, () => Promise<unknown[]>]> = [
          ['audit: package, last 7 days', () => repositories.audit.query({ packageId: pkg(3), ...week, limit: 1000 })],
          ['audit: user, all time', () => repositories.audit.query({ userId: user(42), limit: 1000 })],
          ['audit: newest 50', () => repositories.audit.latest({}, 50)],
          ['audit: request history', () => repositories.audit.query({ requestId: 'REQ-1234' })],
        ];
        for (const [what, query] of queries) {
          const { value, ms } = await timed(query);
          scans.push({ what, total: size.audit, matched: value.length, ms: round(ms, 1), fullScanMs: round(fullAudit, 1) });
        }
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { startup, scans };
}

export function storeScaleTables(result: StoreScaleResult): string {
  const startup: Column<StartupRow>[] = [
    ['assignments', (r) => String(r.assignments)],
    ['audit events', (r) => String(r.auditEvents)],
    ['data MB', (r) => r.dataMb.toFixed(1)],
    ['start-up s', (r) => r.startupSeconds.toFixed(2)],
    ['RSS MB', (r) => String(r.rssMb)],
    ['heap MB', (r) => String(r.heapUsedMb)],
  ];
  const scans: Column<ScanRow>[] = [
    ['query', (r) => r.what],
    ['total docs', (r) => String(r.total)],
    ['matched', (r) => String(r.matched)],
    ['ms', (r) => r.ms.toFixed(1)],
    ['full scan ms', (r) => r.fullScanMs.toFixed(1)],
  ];
  return `${table(result.startup, startup, 0)}\n\n${table(result.scans, scans, 1)}`;
}
