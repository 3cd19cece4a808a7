import path from 'node:path';
import { type AppOverrides, type RunningApp, startApp } from '../../src/app';
import { type Config, loadConfig } from '../../src/config';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { FakeClock } from './fakeClock';
import { silentLogger } from './silentLogger';
import { openTestStore } from './testStore';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The whole app as `npm start` builds it (example catalog and directory), listening on a free
 * loopback port, with a store of its own (in-memory embedded, or a MongoDB database dropped at
 * close: TEST_STORE / MONGODB_URI, see testStore.ts) and a fake clock. The scheduler is driven by hand.
 */
export async function startTestApp(env: Record<string, string> = {}, overrides: AppOverrides = {}): Promise<RunningApp & { config: Config; baseUrl: string; clock: FakeClock }> {
  const config: Config = { ...loadConfig({ LOG_LEVEL: 'silent', ...env }, REPO_ROOT), port: 0 };
  const clock = new FakeClock();
  // The notifier paces on virtual time: it "sleeps" by moving this counter, not the test. Its
  // sleeps cost nothing, so every pacing wait is slept (none puts its task back for later).
  let virtualMs = 0;
  const store = overrides.store ?? (await openTestStore());
  const app = await startApp(config, {
    notifierPacing: { now: () => virtualMs, sleep: async (ms) => void (virtualMs += ms), maxWaitMs: Number.POSITIVE_INFINITY },
    directoryPacing: { now: () => virtualMs, sleep: async (ms) => void (virtualMs += ms), maxWaitMs: Number.POSITIVE_INFINITY },
    directory: await LocalDirectory.open({ file: config.localDirectoryFile }),
    clock,
    logger: silentLogger,
    host: '127.0.0.1',
    startScheduler: false,
    ...overrides,
    store,
  }).catch(async (error: unknown) => {
    if (!overrides.store) await store.close();
    throw error;
  });
  const close = app.close;
  return {
    ...app,
    config,
    clock,
    baseUrl: `http://127.0.0.1:${app.port}`,
    close: async () => {
      await close();
      await app.store.close();
    },
  };
}

export async function postActivity(baseUrl: string, activity: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(activity),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/**
 * Runs what has fallen due (with `run`, e.g. the task runner or a scheduler tick) until a run
 * settles nothing more, as the scheduler loop would.
 */
export async function drainTasks(app: Pick<RunningApp, 'store'>, run: () => Promise<unknown>): Promise<void> {
  const tasks = app.store.collection('tasks');
  for (let i = 0; i < 20; i++) {
    const before = await tasks.count({ state: { $in: ['done', 'failed'] } });
    await run();
    if ((await tasks.count({ state: { $in: ['done', 'failed'] } })) === before) return;
  }
  throw new Error('tasks kept falling due');
}
