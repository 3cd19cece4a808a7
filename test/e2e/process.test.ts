import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cardOf, cardText } from '../support/botHarness';
import { LoopbackConnector } from '../support/loopbackConnector';
import { REPO_ROOT } from '../support/testApp';

const run = promisify(execFile);

// The real entry point, as `npm start` runs it: built with tsc, started with node, no configuration.
describe('the built bot process', () => {
  let dataDir: string;

  beforeAll(async () => {
    await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT });
  }, 120_000);

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ap-process-'));
  });

  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    let output = '';
    const child = spawn(process.execPath, ['dist/index.js'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, output: () => output, exited };
  }

  async function waitForHealth(port: number, exited: Promise<number | null>): Promise<void> {
    let done = false;
    void exited.then(() => (done = true));
    for (let i = 0; i < 200 && !done; i++) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the bot did not become healthy');
  }

  it('starts with no configuration, answers /healthz and a message, and stops cleanly on SIGTERM', async () => {
    const connector = new LoopbackConnector();
    await connector.start();
    const port = 39000 + Math.floor(Math.random() * 1000);
    const bot = start({ PORT: String(port) });
    try {
      await waitForHealth(port, bot.exited);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', store: 'embedded' });

      const response = await fetch(`http://127.0.0.1:${port}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'message',
          id: 'm1',
          channelId: 'msteams',
          serviceUrl: connector.serviceUrl,
          from: { id: '29:u', aadObjectId: 'u-fred', name: 'Fred' },
          recipient: { id: '28:bot', name: 'Access Packages' },
          conversation: { id: 'a:fred', conversationType: 'personal' },
          text: 'help',
        }),
      });
      expect(response.status).toBe(200);
      const reply = await connector.waitFor((c) => c.method === 'POST' && c.activityId === 'm1');
      expect(cardText(cardOf(reply.body))).toContain('Show what you can do here.');
      expect(bot.output()).toContain('Access Packages bot is listening');
      expect(bot.output()).toContain('catalog applied');
    } finally {
      bot.child.kill('SIGTERM');
      expect(await bot.exited).toBe(0);
      await connector.stop();
    }
  }, 60_000);

  it('a malformed catalog file stops start-up with a located error', async () => {
    const bot = start({ PORT: '39999', CATALOG_FILE: 'examples/invalid-catalog.yaml' });
    expect(await bot.exited).toBe(1);
    expect(bot.output()).toMatch(/The catalog file .*invalid-catalog\.yaml is invalid/);
    expect(bot.output()).toMatch(/invalid-catalog\.yaml:\d+:\d+: \S+/);
  }, 30_000);

  it('a malformed setting stops start-up with one line naming the variable', async () => {
    const bot = start({ PORT: 'eighty' });
    expect(await bot.exited).toBe(1);
    expect(bot.output().trim()).toBe('Configuration error: PORT must be an integer from 1 to 65535 (got "eighty")');
  }, 30_000);
});
