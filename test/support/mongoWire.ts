import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './testApp';

// MongoDB mode in tests: a real server when MONGODB_URI is set, otherwise the MongoDB 7.0
// wire-protocol double in ../shared/mongo-wire (an in-memory test double, not MongoDB: report
// runs on it as "MongoDB wire double"). A clone without that folder beside it has neither and
// the MongoDB part is not run, with a note saying so.

// Beside the clone (../shared), or one level further up for a git worktree kept in a folder of
// worktrees (../../shared); MONGO_WIRE_CLI names it explicitly.
const MONGO_WIRE_CANDIDATES = [path.resolve(REPO_ROOT, '..', 'shared', 'mongo-wire', 'cli.mjs'), path.resolve(REPO_ROOT, '..', '..', 'shared', 'mongo-wire', 'cli.mjs')];
export const MONGO_WIRE_CLI = process.env.MONGO_WIRE_CLI?.trim() || (MONGO_WIRE_CANDIDATES.find((candidate) => existsSync(candidate)) ?? MONGO_WIRE_CANDIDATES[0]!);

export interface MongoTarget {
  /** A connection string without a database name: callers pick one per test. */
  uri: string;
  /** How to report the run: "MongoDB" (a real server) or "MongoDB wire double". */
  label: 'MongoDB' | 'MongoDB wire double';
  stop(): Promise<void>;
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
  if (existsSync(MONGO_WIRE_CLI)) return undefined;
  return `MongoDB mode not run: MONGODB_URI is not set and the MongoDB wire double is not at ${MONGO_WIRE_CLI}`;
}

/** Starts (or names) the MongoDB to test against. Throws when mongoUnavailable() says why. */
export async function startMongoTarget(options: MongoTargetOptions = {}): Promise<MongoTarget> {
  const real = process.env.MONGODB_URI?.trim();
  if (real) return { uri: real, label: 'MongoDB', stop: async () => undefined };
  const missing = mongoUnavailable();
  if (missing) throw new Error(missing);
  const args = [MONGO_WIRE_CLI, '--port', '0', ...(options.replicaSet ? ['--replset', options.replicaSet] : []), ...(options.cosmosRU ? ['--cosmos-ru'] : [])];
  // From the project's root, so the double finds bson in node_modules.
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const uri = await firstLine(child);
  return { uri, label: 'MongoDB wire double', stop: () => stopChild(child) };
}

/** A database name no other test uses. */
export function uniqueDbName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      resolve(buffered.slice(0, newline).trim().replace(/\/+$/, ''));
    };
    child.stdout?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the MongoDB wire double exited (code ${code}) before printing its URI`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
