import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cardOf, cardText } from '../support/botHarness';
import { gzipBomb, multipartUpload, nestedArrays, rawPost, startPost } from '../support/hostileHttp';
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

  async function waitForOutput(output: () => string, done: (out: string) => boolean): Promise<void> {
    for (let i = 0; i < 50 && !done(output()); i++) await new Promise((resolve) => setTimeout(resolve, 100));
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
      // Auth off: loopback only, and said at warn level (40).
      expect(bot.output()).toMatch(/"level":40,[^\n]*"host":"127\.0\.0\.1"[^\n]*Bot Framework authentication is off/);
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

  it('with auth off, NODE_ENV=production (the Dockerfile\'s) stops start-up with one line saying what to set', async () => {
    const bot = start({ PORT: '39998', NODE_ENV: 'production' });
    expect(await bot.exited).toBe(1);
    expect(bot.output().trim()).toBe(
      'Refusing to start: Bot Framework authentication is off (MicrosoftAppId is empty) and NODE_ENV is production. Set MicrosoftAppId and MicrosoftAppPassword (docs/deployment.md), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated calls on purpose.',
    );
  }, 30_000);

  it('survives hostile requests (gzip bomb, multipart upload, deep nesting, huge headers, a cut-off body) and keeps answering', async () => {
    const connector = new LoopbackConnector();
    await connector.start();
    const port = 39000 + Math.floor(Math.random() * 1000);
    const bot = start({ PORT: String(port) });
    const url = `http://127.0.0.1:${port}/api/messages`;
    try {
      await waitForHealth(port, bot.exited);
      const bomb = await gzipBomb(600);
      expect((await rawPost(url, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, bomb)).status).toBe(415);
      // 8 MB: within what the server drains after refusing, so the answer is never lost to a reset
      // on a busy machine (the 20 MB case, reset included, is in httpIntake.e2e.test.ts).
      const upload = multipartUpload(8 * 1024 * 1024);
      expect((await rawPost(url, { 'content-type': upload.contentType }, upload.body)).status).toBe(415);
      expect((await rawPost(url, { 'content-type': 'application/json' }, nestedArrays(100_000))).status).toBe(400);
      expect((await rawPost(url, { 'content-type': 'application/json' }, Buffer.alloc(3 * 1024 * 1024, 0x20))).status).toBe(413);
      expect((await rawPost(url, { 'content-type': 'application/json', 'x-big': 'a'.repeat(100_000) }, '{}')).status).toBe(431);
      const cut = startPost(url, { 'content-type': 'application/json', 'content-length': 1000 });
      cut.request.write('{"type":"message"');
      setTimeout(() => cut.request.destroy(), 50);
      expect((await cut.response).status).toBe(0);

      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'message', id: 'after', channelId: 'msteams', serviceUrl: connector.serviceUrl, from: { id: '29:u', aadObjectId: 'u-fred' }, recipient: { id: '28:bot' }, conversation: { id: 'a:fred', conversationType: 'personal' }, text: 'help' }),
      });
      expect(response.status).toBe(200);
      await connector.waitFor((c) => c.method === 'POST' && c.activityId === 'after');
      // One line per refusal (the 431 too, though Node refused it before restify saw it), no stack.
      await waitForOutput(bot.output, (out) => (out.match(/"msg":"request refused"/g) ?? []).length >= 6);
      expect(bot.output().match(/"msg":"request refused"/g)).toHaveLength(6);
      expect(bot.output()).not.toMatch(/\n\s+at /);
    } finally {
      bot.child.kill('SIGTERM');
      expect(await bot.exited).toBe(0);
      await connector.stop();
    }
  }, 60_000);

  it('with auth on, a token with the Bot Framework issuer that cannot be validated gets 401 with no detail, logged as one line', async () => {
    const port = 39000 + Math.floor(Math.random() * 1000);
    const bot = start({ PORT: String(port), HOST: '127.0.0.1', MicrosoftAppId: '3a7c5e1f-0b2d-4c6e-8f9a-1b2c3d4e5f60', MicrosoftAppPassword: 'not-a-real-secret', NODE_ENV: 'production' });
    try {
      await waitForHealth(port, bot.exited);
      const b64 = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
      const forged = `${b64({ alg: 'RS256', kid: 'forged-key' })}.${b64({ iss: 'https://api.botframework.com', aud: '3a7c5e1f-0b2d-4c6e-8f9a-1b2c3d4e5f60', exp: Math.floor(Date.now() / 1000) + 600 })}.${'A'.repeat(342)}`;
      const response = await fetch(`http://127.0.0.1:${port}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` },
        body: JSON.stringify({ type: 'message', channelId: 'msteams', serviceUrl: 'https://smba.trafficmanager.net/teams/', text: 'help' }),
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: 'Unauthorized.' });
      await waitForOutput(bot.output, (out) => out.includes('"msg":"activity rejected"'));
      const rejected = bot.output().split('\n').filter((line) => line.includes('"msg":"activity rejected"'));
      expect(rejected).toHaveLength(1);
      // No network here: the keys cannot be fetched; with network the key id is unknown.
      expect(JSON.parse(rejected[0]!)).toMatchObject({ level: 40, reason: expect.stringMatching(/^(metadataUnavailable|unknownKey)$/) });
      expect(bot.output()).not.toMatch(/\n\s+at /);
    } finally {
      bot.child.kill('SIGTERM');
      expect(await bot.exited).toBe(0);
    }
  }, 60_000);

  it('a malformed setting stops start-up with one line naming the variable', async () => {
    const bot = start({ PORT: 'eighty' });
    expect(await bot.exited).toBe(1);
    expect(bot.output().trim()).toBe('Configuration error: PORT must be an integer from 1 to 65535 (got "eighty")');
  }, 30_000);
});
