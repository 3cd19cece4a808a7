import net, { type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { StartupError } from '../../src/app';
import { memoryLogger } from '../support/silentLogger';
import { startTestApp } from '../support/testApp';

// Auth off (empty MicrosoftAppId) is for a developer's machine: the app as startApp builds it,
// with the listen host left to the configuration (the test harness normally pins 127.0.0.1).
const AUTH_ON = { MicrosoftAppId: '3a7c5e1f-0b2d-4c6e-8f9a-1b2c3d4e5f60', MicrosoftAppPassword: 'not-a-real-secret' };
const AUTH_OFF_WARNING = 'Bot Framework authentication is off: anyone who can reach this port can act as any user. For local development only; set MicrosoftAppId to turn it on.';

function start(env: Record<string, string>) {
  const log = memoryLogger();
  return { log, app: startTestApp(env, { host: undefined, logger: log.logger }) };
}

async function refusal(env: Record<string, string>): Promise<Error> {
  const { app } = start(env);
  const error = await app.then(
    async (running) => {
      await running.close();
      throw new Error('started');
    },
    (e: unknown) => e as Error,
  );
  return error;
}

/** A non-loopback IPv4 address of this machine, when it has one. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

describe('auth off', () => {
  it('listens on 127.0.0.1 only and says at warn level that auth is off', async () => {
    const { app: starting, log } = start({});
    const app = await starting;
    try {
      expect((app.server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect(log.lines()).toContainEqual(expect.objectContaining({ level: 40, msg: AUTH_OFF_WARNING, auth: 'disabled', host: '127.0.0.1' }));
      expect(log.lines()).toContainEqual(expect.objectContaining({ msg: 'Access Packages bot is listening', auth: 'disabled', host: '127.0.0.1' }));
      expect(await canConnect('127.0.0.1', app.port)).toBe(true);
      const external = externalAddress();
      if (external) expect(await canConnect(external, app.port)).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('HOST=localhost is loopback too', async () => {
    const app = await start({ HOST: 'localhost' }).app;
    await app.close();
  });

  it('refuses to start with NODE_ENV=production, in one line that says what to set', async () => {
    const error = await refusal({ NODE_ENV: 'production' });
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toBe(
      'Refusing to start: Bot Framework authentication is off (MicrosoftAppId is empty) and NODE_ENV is production. Set MicrosoftAppId and MicrosoftAppPassword (docs/deployment.md), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated calls on purpose.',
    );
  });

  it.each(['0.0.0.0', '::', '10.1.2.3', 'bot.contoso.com'])('refuses to listen on HOST=%s, in one line that says what to set', async (host) => {
    const error = await refusal({ HOST: host });
    expect(error).toBeInstanceOf(StartupError);
    expect(error.message).toBe(
      `Refusing to start: Bot Framework authentication is off (MicrosoftAppId is empty) and HOST=${host} is not a loopback address. Unset HOST to listen on 127.0.0.1 only, set MicrosoftAppId, or set ALLOW_UNAUTHENTICATED=true to accept unauthenticated calls on purpose.`,
    );
  });

  it('ALLOW_UNAUTHENTICATED=true lets it run in production (still on loopback unless HOST says otherwise)', async () => {
    const { app: starting, log } = start({ NODE_ENV: 'production', ALLOW_UNAUTHENTICATED: 'true' });
    const app = await starting;
    try {
      expect((app.server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect(log.lines()).toContainEqual(expect.objectContaining({ level: 40, msg: AUTH_OFF_WARNING }));
    } finally {
      await app.close();
    }
  });

  it('ALLOW_UNAUTHENTICATED=true with HOST=0.0.0.0 listens there, with the warning', async () => {
    const { app: starting, log } = start({ HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: 'true' });
    const app = await starting;
    try {
      expect((app.server.address() as AddressInfo).address).toBe('0.0.0.0');
      expect(log.lines()).toContainEqual(expect.objectContaining({ level: 40, msg: AUTH_OFF_WARNING, host: '0.0.0.0' }));
    } finally {
      await app.close();
    }
  });
});

describe('auth on', () => {
  it('listens on every interface by default, in production too, with no auth-off warning', async () => {
    const { app: starting, log } = start({ ...AUTH_ON, NODE_ENV: 'production' });
    const app = await starting;
    try {
      expect(['::', '0.0.0.0']).toContain((app.server.address() as AddressInfo).address);
      expect(log.lines().filter((l) => l.msg === AUTH_OFF_WARNING)).toEqual([]);
      expect(log.lines()).toContainEqual(expect.objectContaining({ msg: 'Access Packages bot is listening', auth: 'MultiTenant', host: 'all interfaces' }));
    } finally {
      await app.close();
    }
  });

  it('HOST picks the interface', async () => {
    const app = await start({ ...AUTH_ON, HOST: '127.0.0.1' }).app;
    try {
      expect((app.server.address() as AddressInfo).address).toBe('127.0.0.1');
    } finally {
      await app.close();
    }
  });
});
