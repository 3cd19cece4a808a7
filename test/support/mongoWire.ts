import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './testApp';

export interface TestMongo {
  uri: string;
  /** How to report runs on it: the server MONGODB_URI names, or the wire double. */
  label: 'the server at MONGODB_URI' | 'MongoDB wire double';
  stop(): Promise<void>;
}

/**
 * Where the MongoDB wire double is: `../shared/mongo-wire` beside the checkout (as CI clones it),
 * or two levels up for a git worktree kept one folder further down.
 */
export function mongoWireDir(): string | undefined {
  return [path.resolve(REPO_ROOT, '..', 'shared', 'mongo-wire'), path.resolve(REPO_ROOT, '..', '..', 'shared', 'mongo-wire')].find((dir) => existsSync(path.join(dir, 'cli.mjs')));
}

/** True when MongoDB-mode tests can run here: MONGODB_URI is set, or the wire double is at hand. */
export function mongoAvailable(): boolean {
  return Boolean(process.env.MONGODB_URI) || mongoWireDir() !== undefined;
}

/**
 * The server MongoDB-mode tests run on: MONGODB_URI when set, otherwise the wire double in a
 * child process (it is an ES module, which jest's CommonJS runtime can't import). The double is
 * started from the repository so it finds `bson` in our node_modules.
 */
export async function startTestMongo(): Promise<TestMongo> {
  const uri = process.env.MONGODB_URI;
  if (uri) return { uri, label: 'the server at MONGODB_URI', stop: () => Promise.resolve() };
  const dir = mongoWireDir();
  if (!dir) throw new Error('no MongoDB for tests: set MONGODB_URI or put the wire double at ../shared/mongo-wire');
  const child = spawn(process.execPath, [path.join(dir, 'cli.mjs')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the MongoDB wire double exited (${code}) before printing its URI: ${stderr}`)));
  });
  return { uri: line.trim(), label: 'MongoDB wire double', stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
