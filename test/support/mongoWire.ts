import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
/** The project's root (not imported from testApp.ts, which imports this module through testStore.ts). */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

// MongoDB mode in tests: a real server when MONGODB_URI is set, otherwise the MongoDB 7.0
// wire-protocol double in ../shared/mongo-wire (an in-memory test double, not MongoDB: report
// runs on it as "MongoDB wire double"). A clone without that folder beside it has neither and
// the MongoDB part is not run, with a note saying so.

/**
 * Where the double is: MONGO_WIRE_DIR if set, else ../shared/mongo-wire beside the checkout (or
 * beside its parent folder, for git worktrees kept in a subfolder of it).
 */
export const MONGO_WIRE_DIR =
  process.env.MONGO_WIRE_DIR?.trim() ||
  [path.resolve(REPO_ROOT, '..', 'shared', 'mongo-wire'), path.resolve(REPO_ROOT, '..', '..', 'shared', 'mongo-wire')].find((dir) => existsSync(path.join(dir, 'index.mjs'))) ||
  path.resolve(REPO_ROOT, '..', 'shared', 'mongo-wire');
export const MONGO_WIRE_CLI = path.join(MONGO_WIRE_DIR, 'cli.mjs');
const MONGO_WIRE_INDEX = path.join(MONGO_WIRE_DIR, 'index.mjs');
/** Runs the double in a child process that obeys commands on stdin (pause, release…). */
const SERVER_SCRIPT = path.resolve(__dirname, 'mongoWireServer.mjs');

export interface MongoTarget {
  /** A connection string without a database name: callers pick one per test. */
  uri: string;
  /** How to report the run: "MongoDB" (a real server) or "MongoDB wire double". */
  label: 'MongoDB' | 'MongoDB wire double';
  /** Only the double can be stalled and released on cue; undefined for a real server. */
  control?: MongoWireControl;
  stop(): Promise<void>;
}

export interface MongoWireControl {
  /** Holds every reply from now on (a stalled server: connections stay open, nothing answers). */
  pause(): Promise<void>;
  release(): Promise<void>;
  /** Stalls the server right after it answers the next `command` on `collection` (e.g. insert, requests). */
  pauseAfter(command: string, collection: string): Promise<void>;
  /** How many of each command (createIndexes, find…) the double has answered so far. */
  commandCounts(): Promise<Record<string, number>>;
}

export interface MongoTargetOptions {
  /** A one-member replica set (retryable writes), as Atlas runs. */
  replicaSet?: string;
  /** Azure Cosmos DB for MongoDB (RU) rules: every sort needs an index; unique indexes only on empty collections. */
  cosmosRU?: boolean;
}

/** Why MongoDB mode can't run here, or undefined when it can. */
export function mongoUnavailable(): string | undefined {
  if (process.env.MONGODB_URI?.trim()) return undefined;
  if (existsSync(MONGO_WIRE_INDEX)) return undefined;
  return `MongoDB mode not run: MONGODB_URI is not set and the MongoDB wire double is not at ${path.dirname(MONGO_WIRE_INDEX)}`;
}

/**
 * Starts (or names) the MongoDB to test against: MONGODB_URI if set, else a MongoDB wire double
 * of its own (pass `double: true` to insist on one, e.g. to stall it). Throws when
 * mongoUnavailable() says why.
 */
export async function startMongoTarget(options: MongoTargetOptions & { double?: boolean } = {}): Promise<MongoTarget> {
  const real = process.env.MONGODB_URI?.trim();
  // .ci/run points MONGODB_URI at the wire double and says so in MONGODB_URI_IS_WIRE_DOUBLE.
  if (real && !options.double) return { uri: real, label: process.env.MONGODB_URI_IS_WIRE_DOUBLE ? 'MongoDB wire double' : 'MongoDB', stop: async () => undefined };
  if (!existsSync(MONGO_WIRE_INDEX)) throw new Error(mongoUnavailable() ?? `the MongoDB wire double is not at ${path.dirname(MONGO_WIRE_INDEX)}`);
  const args = [SERVER_SCRIPT, '--double', MONGO_WIRE_INDEX, ...(options.replicaSet ? ['--replset', options.replicaSet] : []), ...(options.cosmosRU ? ['--cosmos-ru'] : [])];
  // From the project's root, so the double finds bson in node_modules. Its stdin is ours: it
  // exits when this process goes, however it goes.
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = lineReader(child);
  const uri = (await replies.next()).replace(/\/+$/, '');
  // Nothing here keeps the test process alive: when it ends, the double's stdin closes and it exits.
  child.unref();
  for (const stream of [child.stdin, child.stdout] as unknown as { unref?(): void }[]) stream.unref?.();
  const command = async (line: string): Promise<string> => {
    child.stdin!.write(`${line}\n`);
    const reply = await replies.next();
    if (reply !== 'ok' && !reply.startsWith('ok ')) throw new Error(`the MongoDB wire double refused "${line}": ${reply}`);
    return reply.slice(3);
  };
  return {
    uri,
    label: 'MongoDB wire double',
    control: {
      pause: async () => void (await command('pause')),
      release: async () => void (await command('release')),
      pauseAfter: async (name, collection) => void (await command(`pause-after ${name} ${collection}`)),
      commandCounts: async () => JSON.parse(await command('stats')) as Record<string, number>,
    },
    stop: () => stopChild(child),
  };
}

/** A database name no other test uses. */
export function uniqueDbName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** The child's stdout, a line at a time; rejects if it exits first. */
function lineReader(child: ChildProcess): { next(): Promise<string> } {
  const lines: string[] = [];
  const waiting: { resolve(line: string): void; reject(error: Error): void }[] = [];
  let ended: Error | undefined;
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(line);
    else lines.push(line);
  });
  const fail = (error: Error) => {
    ended = error;
    for (const waiter of waiting.splice(0)) waiter.reject(error);
  };
  child.once('error', fail);
  child.once('exit', (code) => fail(new Error(`the MongoDB wire double exited (code ${code})`)));
  return {
    next() {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.reject(ended);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.stdin!.end();
  });
}
