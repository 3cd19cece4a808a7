import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cardText } from '../support/botHarness';
import { FakeBotFrameworkIdentity, forgerKey } from '../support/fakeBotFrameworkIdentity';
import { multipartUpload, rawPost } from '../support/hostileHttp';
import { LoopbackConnector } from '../support/loopbackConnector';
import { memoryLogger } from '../support/silentLogger';
import { startTestApp } from '../support/testApp';

// Bot Framework authentication ON, through the real restify endpoint: tokens signed with a key
// of ours, published at the Bot Framework's real metadata URLs (msw), so the whole validation
// path (our guard, then the SDK) runs as in production.
const APP_ID = '3a7c5e1f-0b2d-4c6e-8f9a-1b2c3d4e5f60';
const APP_TENANT = '5b1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const OTHER_APP = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
const AUTH_ON = { MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'not-a-real-secret', MicrosoftAppType: 'SingleTenant', MicrosoftAppTenantId: APP_TENANT };
const user = { id: '29:megan', aadObjectId: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', name: 'Megan Bowen' };

/** Action.Execute "help": answered in the HTTP response, so a 200 with the card proves the turn ran. */
function helpInvoke(serviceUrl: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl,
    from: user,
    recipient: { id: `28:${APP_ID}`, name: 'Access Packages' },
    conversation: { id: 'a:personal-megan', conversationType: 'personal', tenantId: APP_TENANT },
    channelData: { tenant: { id: APP_TENANT } },
    value: { action: { type: 'Action.Execute', verb: 'help', data: { verb: 'help' } }, trigger: 'manual' },
    ...extra,
  };
}

type App = Awaited<ReturnType<typeof startTestApp>>;

async function post(app: App, activity: unknown, authorization?: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${app.baseUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify(activity),
  });
  return { status: response.status, text: await response.text() };
}

const idp = new FakeBotFrameworkIdentity();
/** One forger's key (generating RSA keys is slow); what varies per token is the claims or key id. */
const FORGER = forgerKey();
const connector = new LoopbackConnector();

beforeAll(async () => {
  idp.listen();
  await connector.start();
});

afterAll(async () => {
  idp.close();
  await connector.stop();
});

beforeEach(() => {
  idp.outage = 'none';
  idp.endorsements = ['msteams'];
  idp.publishToEntra = false;
});

describe.each([
  ['SingleTenant', AUTH_ON],
  ['MultiTenant', { MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'not-a-real-secret' }],
])('with auth on (%s)', (_type, env) => {
  let app: App;
  const log = memoryLogger();

  beforeAll(async () => {
    app = await startTestApp(env, { logger: log.logger });
  });
  afterAll(() => app?.close());

  it('a token the Bot Connector would send (signed with the published key) is accepted and the turn runs', async () => {
    const activity = helpInvoke(connector.serviceUrl);
    const response = await post(app, activity, `Bearer ${idp.channelToken(APP_ID, connector.serviceUrl)}`);
    expect(response.status).toBe(200);
    const body = JSON.parse(response.text) as { statusCode: number; value: unknown };
    expect(body.statusCode).toBe(200);
    expect(cardText(body.value)).toContain('Show what you can do here.');
    expect(log.lines().filter((l) => l.msg === 'activity rejected')).toEqual([]);
  });

  it('the same activity without a token, or with a forged one, is refused with 401', async () => {
    expect((await post(app, helpInvoke(connector.serviceUrl))).status).toBe(401);
    const forged = idp.channelToken(APP_ID, connector.serviceUrl, { key: FORGER });
    expect((await post(app, helpInvoke(connector.serviceUrl), `Bearer ${forged}`)).status).toBe(401);
  });
});

describe('every token that cannot be validated: 401, no detail, one "activity rejected" line with a reason', () => {
  let app: App;
  const log = memoryLogger();
  const serviceUrl = 'https://smba.trafficmanager.net/emea/';
  const now = () => Math.floor(Date.now() / 1000);
  let consoleCalls: jest.SpyInstance[];

  beforeAll(async () => {
    app = await startTestApp(AUTH_ON, { logger: log.logger });
  });
  afterAll(() => app?.close());
  beforeEach(() => {
    // The SDK prints refused calls (with stacks) to the console: none of that may happen now.
    consoleCalls = [jest.spyOn(console, 'error'), jest.spyOn(console, 'warn'), jest.spyOn(console, 'log')];
  });
  afterEach(() => consoleCalls.forEach((spy) => spy.mockRestore()));

  const cases: [string, () => string | undefined, string, Record<string, unknown>][] = [
    ['no Authorization header', () => undefined, 'missingToken', {}],
    ['an empty one', () => '', 'missingToken', {}],
    ['another scheme', () => 'Basic dXNlcjpwYXNzd29yZA==', 'malformedToken', {}],
    ['a bearer that is not a JWT', () => 'Bearer not-a-token', 'malformedToken', {}],
    ['a JWT with no signature (alg none)', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { algorithm: 'none' })}`, 'algorithm', {}],
    ['HS256 with the public key as secret (algorithm confusion)', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { algorithm: 'HS256', secret: idp.publicKeyPem() })}`, 'algorithm', {}],
    ['signed with another key under the published key id', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { key: FORGER })}`, 'signature', {}],
    ['a valid token with its claims edited', () => `Bearer ${tamper(idp.channelToken(APP_ID, serviceUrl), { aud: APP_ID, serviceurl: serviceUrl, exp: now() + 999_999 })}`, 'signature', {}],
    ['a key id nobody published', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { key: FORGER, kid: randomUUID() })}`, 'unknownKey', {}],
    ['for another bot (audience)', () => `Bearer ${idp.channelToken(OTHER_APP, serviceUrl)}`, 'audience', {}],
    ['from another issuer', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { claims: { iss: 'https://api.botframework.com.evil.example' } })}`, 'issuer', {}],
    ['expired an hour ago', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { claims: { nbf: now() - 7200, exp: now() - 3600 } })}`, 'expired', {}],
    ['not valid for another hour', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { claims: { nbf: now() + 3600 } })}`, 'notYetValid', {}],
    ['issued for another serviceUrl', () => `Bearer ${idp.channelToken(APP_ID, 'https://evil.example/')}`, 'serviceUrl', {}],
    ['from a channel its key is not endorsed for', () => `Bearer ${idp.channelToken(APP_ID, serviceUrl)}`, 'endorsement', { channelId: 'webchat' }],
  ];

  it.each(cases)('%s', async (_name, header, reason, activityChange) => {
    const before = log.lines().length;
    const response = await post(app, helpInvoke(serviceUrl, activityChange), header());
    expect(response.status).toBe(401);
    expect(JSON.parse(response.text)).toEqual({ error: 'Unauthorized.' });
    const lines = log.lines().slice(before).filter((l) => (l.level as number) >= 40);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'activity rejected', reason, activityType: 'invoke' });
    expect(lines[0]).not.toHaveProperty('err');
    expect(JSON.stringify(lines[0])).not.toMatch(/\n\s+at /);
    for (const spy of consoleCalls) expect(spy).not.toHaveBeenCalled();
  });

  it('what passes the guard but the SDK refuses (an Entra token from another app, i.e. a skill call) is a 401 too, reason "rejected"', async () => {
    idp.publishToEntra = true;
    const issuer = 'https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/';
    const before = log.lines().length;
    const response = await post(app, helpInvoke(serviceUrl), `Bearer ${idp.emulatorToken(APP_ID, issuer, { claims: { appid: OTHER_APP } })}`);
    expect(response.status).toBe(401);
    expect(JSON.parse(response.text)).toEqual({ error: 'Unauthorized.' });
    const lines = log.lines().slice(before).filter((l) => (l.level as number) >= 40);
    expect(lines).toEqual([expect.objectContaining({ msg: 'activity rejected', reason: 'rejected', detail: expect.stringContaining('not authorized') })]);
    for (const spy of consoleCalls) expect(spy).not.toHaveBeenCalled();

    // The SDK is still the authority that accepts: the same kind of token for this app works.
    const accepted = await post(app, helpInvoke(serviceUrl), `Bearer ${idp.emulatorToken(APP_ID, issuer)}`);
    expect(accepted.status).toBe(200);
  });

  it('an unauthenticated multipart upload is refused unread (415, not 401) and leaves no temp file', async () => {
    const uploadsBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('upload_'));
    const upload = multipartUpload(20 * 1024 * 1024);
    const { status } = await rawPost(`${app.baseUrl}/api/messages`, { 'content-type': upload.contentType, 'content-length': upload.body.length }, upload.body);
    expect(status).toBe(415);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('upload_'))).toEqual(uploadsBefore);
  });
});

describe('the signing keys are fetched at most once a minute, whatever arrives', () => {
  let app: App;
  const log = memoryLogger();
  const serviceUrl = 'https://smba.trafficmanager.net/emea/';

  beforeEach(async () => {
    app = await startTestApp(AUTH_ON, { logger: log.logger });
    idp.fetches.splice(0);
  });
  afterEach(() => app?.close());

  const forgedWithNewKid = () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { key: FORGER, kid: randomUUID() })}`;

  it('forged tokens with random key ids: one fetch, then none for a minute; a valid token needs none', async () => {
    // At once (one refresh shared) and one after another.
    const burst = await Promise.all(Array.from({ length: 20 }, () => post(app, helpInvoke(serviceUrl), forgedWithNewKid())));
    for (let i = 0; i < 20; i++) burst.push(await post(app, helpInvoke(serviceUrl), forgedWithNewKid()));
    expect(burst.map((r) => r.status)).toEqual(Array(40).fill(401));
    expect(idp.metadataFetches()).toBe(1);
    expect(idp.fetches).toHaveLength(2); // metadata + its key set

    expect((await post(app, helpInvoke(serviceUrl), `Bearer ${idp.channelToken(APP_ID, serviceUrl)}`)).status).toBe(200);
    expect(idp.fetches).toHaveLength(2); // the SDK validated with our cache: it fetched nothing itself

    app.clock.advance(59_000);
    expect((await post(app, helpInvoke(serviceUrl), forgedWithNewKid())).status).toBe(401);
    expect(idp.metadataFetches()).toBe(1);
    app.clock.advance(2_000);
    for (let i = 0; i < 10; i++) expect((await post(app, helpInvoke(serviceUrl), forgedWithNewKid())).status).toBe(401);
    expect(idp.metadataFetches()).toBe(2);
    expect(log.lines().filter((l) => l.msg === 'activity rejected' && l.reason === 'unknownKey')).toHaveLength(51);
  });

  it.each(['networkError', 'http503', 'keysDown'] as const)('metadata unreachable (%s): 401 (not 500), no detail, one fetch a minute; accepted again once it is back', async (outage) => {
    idp.outage = outage;
    const token = `Bearer ${idp.channelToken(APP_ID, serviceUrl)}`;
    const before = log.lines().length;
    const responses = await Promise.all(Array.from({ length: 10 }, () => post(app, helpInvoke(serviceUrl), token)));
    for (let i = 0; i < 10; i++) responses.push(await post(app, helpInvoke(serviceUrl), forgedWithNewKid()));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(401));
    for (const r of responses) expect(JSON.parse(r.text)).toEqual({ error: 'Unauthorized.' });
    expect(idp.metadataFetches()).toBe(1);

    const lines = log.lines().slice(before);
    expect(lines.filter((l) => l.msg === 'activity rejected').map((l) => l.reason)).toEqual(Array(20).fill('metadataUnavailable'));
    // The operator hears about the outage once per attempt, with what failed, and no stack.
    const outageLines = lines.filter((l) => l.msg === 'Bot Framework signing keys could not be fetched');
    expect(outageLines).toHaveLength(1);
    expect(outageLines[0]).toMatchObject({ level: 40, url: 'https://login.botframework.com/v1/.well-known/openidconfiguration', keptKeys: 0 });
    expect(outageLines[0]).not.toHaveProperty('err');

    idp.outage = 'none';
    app.clock.advance(60_000);
    expect((await post(app, helpInvoke(serviceUrl), token)).status).toBe(200);
    expect(idp.metadataFetches()).toBe(2);
  });

  it('keys already loaded keep working through an outage, and the failed refresh is not retried for a minute', async () => {
    expect((await post(app, helpInvoke(serviceUrl), `Bearer ${idp.channelToken(APP_ID, serviceUrl)}`)).status).toBe(200);
    idp.outage = 'networkError';
    app.clock.advance(25 * 60 * 60_000); // a day later the keys are due for a refresh, which fails
    for (let i = 0; i < 5; i++) expect((await post(app, helpInvoke(serviceUrl), `Bearer ${idp.channelToken(APP_ID, serviceUrl)}`)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await post(app, helpInvoke(serviceUrl), forgedWithNewKid())).status).toBe(401);
    expect(idp.metadataFetches()).toBe(2);
  });
});

/** The token with its payload replaced and the original signature kept. */
function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const edited = { ...(JSON.parse(Buffer.from(payload!, 'base64url').toString()) as object), ...claims, edited: true };
  return `${header}.${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${signature}`;
}
