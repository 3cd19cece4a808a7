import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cardOf, cardText } from '../support/botHarness';
import { gzipBomb, multipartUpload, nestedArrays, rawPost, rawSocket, startPost } from '../support/hostileHttp';
import { LoopbackConnector } from '../support/loopbackConnector';
import { memoryLogger } from '../support/silentLogger';
import { startTestApp } from '../support/testApp';

// What reaches POST /api/messages before anyone is authenticated, through the real restify
// server with real bodies. Every hostile request is answered (or, cut off, dropped) with a small
// JSON body, logged as one line with a reason, and the bot keeps serving: each test ends by
// having a real message answered.
const user = { id: '29:megan', aadObjectId: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', name: 'Megan Bowen' };

function message(serviceUrl: string, text: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'message',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl,
    from: user,
    recipient: { id: '28:bot', name: 'Access Packages' },
    conversation: { id: 'a:personal-megan', conversationType: 'personal' },
    text,
    ...extra,
  };
}

type App = Awaited<ReturnType<typeof startTestApp>>;

const connector = new LoopbackConnector();
const log = memoryLogger();
let app: App;
let url: string;

beforeAll(async () => {
  await connector.start();
  app = await startTestApp({ REQUEST_TIMEOUT_MS: '1000' }, { logger: log.logger });
  url = `${app.baseUrl}/api/messages`;
});

afterAll(async () => {
  await app?.close();
  await connector.stop();
});

/** A real message still gets its answer through the connector. */
async function expectServing(): Promise<void> {
  const activity = message(connector.serviceUrl, 'help');
  const response = await rawPost(url, { 'content-type': 'application/json' }, JSON.stringify(activity));
  expect(response.status).toBe(200);
  const reply = await connector.waitFor((c) => c.method === 'POST' && c.activityId === activity.id);
  expect(cardText(cardOf(reply.body))).toContain('Show what you can do here.');
}

/** The warn-or-worse lines logged since `mark`: exactly one, the refusal, with its reason and no stack. */
function expectOneRefusalLine(mark: number, reason: string, status?: number): void {
  const lines = log.lines().slice(mark).filter((l) => (l.level as number) >= 40);
  expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'request refused', reason, ...(status ? { status } : {}) })]);
  expect(lines[0]).not.toHaveProperty('err');
}

const JSON_ONLY = { error: 'Send the activity as application/json (UTF-8), uncompressed.' };

describe('compressed bodies are refused unread (415), never inflated', () => {
  let bomb600: Buffer;
  let bomb50: Buffer;

  beforeAll(async () => {
    bomb600 = await gzipBomb(600);
    bomb50 = await gzipBomb(50);
  });

  it('a gzip bomb (600 MB inflated, about 600 KB sent)', async () => {
    expect(bomb600.length).toBeLessThan(700 * 1024);
    const mark = log.lines().length;
    const rssBefore = process.memoryUsage().rss;
    const response = await rawPost(url, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb600.length }, bomb600);
    expect(response.status).toBe(415);
    expect(JSON.parse(response.body)).toEqual(JSON_ONLY);
    // Nothing was inflated: the process did not grow by anything like the bomb.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expectOneRefusalLine(mark, 'contentEncoding', 415);
    await expectServing();
  });

  it.each(['gzip', 'deflate', 'br', 'x-gzip', 'gzip, identity'])('Content-Encoding: %s (50 MB gzip bomb as the body)', async (encoding) => {
    const mark = log.lines().length;
    const response = await rawPost(url, { 'content-type': 'application/json', 'content-encoding': encoding }, bomb50);
    expect(response.status).toBe(415);
    expectOneRefusalLine(mark, 'contentEncoding');
    await expectServing();
  });

  it('Content-Encoding: identity is plain JSON and accepted', async () => {
    const activity = message(connector.serviceUrl, 'help');
    const response = await rawPost(url, { 'content-type': 'application/json', 'content-encoding': 'identity' }, JSON.stringify(activity));
    expect(response.status).toBe(200);
  });
});

describe('only application/json is read: everything else 415, multipart included, nothing written to disk', () => {
  it('a 20 MB multipart upload is refused before its body is read, and leaves no file in the temp folder', async () => {
    const tempBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('upload_'));
    const upload = multipartUpload(20 * 1024 * 1024);
    const mark = log.lines().length;
    const response = await rawPost(url, { 'content-type': upload.contentType, 'content-length': upload.body.length }, upload.body);
    expect(response.status).toBe(415);
    expect(JSON.parse(response.body)).toEqual(JSON_ONLY);
    expectOneRefusalLine(mark, 'contentType', 415);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('upload_'))).toEqual(tempBefore);
    await expectServing();
  });

  it.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'type=message&text=help'],
    ['application/xml', '<activity type="message"/>'],
    ['application/jsonx', '{"type":"message"}'],
    ['application/json-patch+json', '[]'],
    ['application/json; charset=iso-8859-1', '{"type":"message"}'],
    ['application/json; charset=utf-16', '{"type":"message"}'],
    ['application/json;;', '{"type":"message"}'],
    [undefined, '{"type":"message"}'],
  ])('Content-Type %s', async (contentType, body) => {
    const mark = log.lines().length;
    const response = await rawPost(url, contentType ? { 'content-type': contentType } : {}, body);
    expect(response.status).toBe(415);
    expect(JSON.parse(response.body)).toEqual(JSON_ONLY);
    expectOneRefusalLine(mark, 'contentType', 415);
  });

  it.each(['application/json', 'Application/JSON; charset=UTF-8', 'application/json;charset=utf-8'])('Content-Type %s is accepted', async (contentType) => {
    const activity = message(connector.serviceUrl, 'help');
    const response = await rawPost(url, { 'content-type': contentType }, JSON.stringify(activity));
    expect(response.status).toBe(200);
    await connector.waitFor((c) => c.method === 'POST' && c.activityId === activity.id);
  });
});

describe('the byte limit (MAX_REQUEST_BYTES, 1 MB by default) counts the bytes actually read', () => {
  /** A message activity whose JSON is exactly `bytes` long. */
  function activityOfSize(bytes: number): string {
    const base = JSON.stringify(message(connector.serviceUrl, ''));
    return JSON.stringify(message(connector.serviceUrl, 'x'.repeat(bytes - base.length)));
  }

  it('exactly 1 MB is accepted', async () => {
    const body = activityOfSize(1024 * 1024);
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    const response = await rawPost(url, { 'content-type': 'application/json' }, body);
    expect(response.status).toBe(200);
  });

  it('one byte more, declared in Content-Length, is refused before reading (413)', async () => {
    const mark = log.lines().length;
    const response = await rawPost(url, { 'content-type': 'application/json' }, activityOfSize(1024 * 1024 + 1));
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toEqual({ error: 'The request body is larger than 1048576 bytes.' });
    expectOneRefusalLine(mark, 'tooLarge', 413);
    await expectServing();
  });

  it('sent chunked with no length, it is cut off at the limit (413)', async () => {
    const mark = log.lines().length;
    const { request, response } = startPost(url, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const body = Buffer.from(activityOfSize(3 * 1024 * 1024));
    for (let i = 0; i < body.length; i += 64 * 1024) request.write(body.subarray(i, i + 64 * 1024));
    request.end();
    expect((await response).status).toBe(413);
    expectOneRefusalLine(mark, 'tooLarge', 413);
    await expectServing();
  });

  it('a body shorter than its Content-Length, then the connection closed: dropped, logged once, nothing run', async () => {
    const mark = log.lines().length;
    const callsBefore = connector.calls.length;
    const { request, response } = startPost(url, { 'content-type': 'application/json', 'content-length': 5000 });
    request.write(JSON.stringify(message(connector.serviceUrl, 'help')).slice(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 100));
    request.destroy();
    expect((await response).status).toBe(0);
    await waitFor(() => log.lines().length > mark);
    expectOneRefusalLine(mark, 'aborted');
    expect(connector.calls.length).toBe(callsBefore);
    await expectServing();
  });
});

describe('malformed JSON and bodies that are not activities: 400, one line, nothing run', () => {
  it.each([
    ['truncated JSON', '{"type":"message","text":', 'malformedJson'],
    ['not JSON', 'hello', 'malformedJson'],
    ['an empty body', '', 'malformedJson'],
    ['a trailing comma', '{"type":"message",}', 'malformedJson'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'encoding'],
    ['null', 'null', 'notAnActivity'],
    ['an array', '[{"type":"message"}]', 'notAnActivity'],
    ['a string', '"message"', 'notAnActivity'],
    ['an object without type', '{"text":"help"}', 'notAnActivity'],
    ['a numeric type', '{"type":42}', 'notAnActivity'],
    ['an empty type', '{"type":""}', 'activityFields'],
    ['a 100-character type', JSON.stringify({ type: 'x'.repeat(100) }), 'activityFields'],
    ['from as a string', JSON.stringify({ type: 'message', from: 'megan' }), 'activityFields'],
    ['conversation as a number', JSON.stringify({ type: 'message', conversation: 5 }), 'activityFields'],
    ['a numeric serviceUrl', JSON.stringify({ type: 'message', serviceUrl: 42 }), 'activityFields'],
    ['a javascript: serviceUrl', JSON.stringify({ type: 'message', serviceUrl: 'javascript:alert(1)' }), 'activityFields'],
    ['text as an object', JSON.stringify({ type: 'message', text: { $gt: '' } }), 'activityFields'],
    ['an operator key in conversation (stored as it comes)', JSON.stringify({ type: 'message', conversation: { id: 'a:1', $gt: '' } }), 'activityFields'],
    ['a dotted key deep in from', JSON.stringify({ type: 'message', from: { id: '29:x', extra: { 'a.b': 1 } } }), 'activityFields'],
    ['membersAdded as a string', JSON.stringify({ type: 'conversationUpdate', membersAdded: 'all' }), 'activityFields'],
    ['channelData as an array', JSON.stringify({ type: 'message', channelData: [1] }), 'activityFields'],
  ])('%s', async (_name, body, reason) => {
    const mark = log.lines().length;
    const callsBefore = connector.calls.length;
    const response = await rawPost(url, { 'content-type': 'application/json' }, body);
    expect(response.status).toBe(400);
    const answer = JSON.parse(response.body) as { error: string };
    expect(Object.keys(answer)).toEqual(['error']);
    expect(answer.error.length).toBeLessThan(120);
    expectOneRefusalLine(mark, reason, 400);
    expect(connector.calls.length).toBe(callsBefore);
  });

  it('deep nesting is refused before anything walks it: 100,000 "[" (400)', async () => {
    const mark = log.lines().length;
    const response = await rawPost(url, { 'content-type': 'application/json' }, nestedArrays(100_000));
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error: 'The JSON is nested more than 64 levels deep.' });
    expectOneRefusalLine(mark, 'tooDeep', 400);
    await expectServing();
  });

  it('an activity 64 levels deep is accepted, 65 is not (brackets inside strings do not count)', async () => {
    const at = (depth: number) => JSON.stringify(message(connector.serviceUrl, '[[[[{{{{'.repeat(50), { value: 0 })).replace('"value":0', `"value":${nestedArrays(depth - 1)}`);
    expect((await rawPost(url, { 'content-type': 'application/json' }, at(64))).status).toBe(200);
    expect((await rawPost(url, { 'content-type': 'application/json' }, at(65))).status).toBe(400);
  });

  it('a "__proto__" key is dropped, so nothing downstream (the stored conversation reference) inherits from it', async () => {
    const activity = message(connector.serviceUrl, 'help');
    const body = JSON.stringify(activity).replace('"from":{', '"from":{"__proto__":{"isAdmin":true,"aadObjectId":"u-ceo"},');
    const response = await rawPost(url, { 'content-type': 'application/json' }, body);
    expect(response.status).toBe(200);
    await connector.waitFor((c) => c.method === 'POST' && c.activityId === activity.id);
    const stored = await app.repositories.conversationReferences.get(user.aadObjectId);
    const storedUser = stored?.reference.user as Record<string, unknown>;
    expect(storedUser).toMatchObject({ id: user.id, aadObjectId: user.aadObjectId });
    expect(storedUser.isAdmin).toBeUndefined();
    expect(Object.getPrototypeOf(storedUser)).toBe(Object.prototype);
  });
});

describe('an error in a turn is answered 500 with no internal detail, logged once', () => {
  it('an error escaping the turn (here: the turn error handler itself fails)', async () => {
    const onTurnError = app.adapter.onTurnError;
    app.adapter.onTurnError = async () => {
      throw new Error('connect ECONNREFUSED mongo-internal.corp.example:27017');
    };
    // The bot answers failures in its own handlers itself, so the error comes from middleware,
    // where only the (failing) turn error handler sees it.
    const activity = message(connector.serviceUrl, 'help');
    app.adapter.use(async (context, next) => {
      if (context.activity.id === activity.id) throw new Error('the store at mongo-internal.corp.example is down');
      await next();
    });
    try {
      const mark = log.lines().length;
      const response = await rawPost(url, { 'content-type': 'application/json' }, JSON.stringify(activity));
      expect(response.status).toBe(500);
      expect(JSON.parse(response.body)).toEqual({ error: 'The activity could not be processed. Please try again.' });
      expect(response.body).not.toMatch(/mongo|ECONNREFUSED|corp/);
      const lines = log.lines().slice(mark).filter((l) => (l.level as number) >= 40);
      expect(lines).toEqual([expect.objectContaining({ level: 50, msg: 'activity failed', activityType: 'message' })]);
    } finally {
      app.adapter.onTurnError = onTurnError;
      connector.resetResponses();
    }
    await expectServing();
  });

  it('a reply the connector refuses: answered (200 or 500) with no internal detail, and the bot keeps serving', async () => {
    const activity = message(connector.serviceUrl, 'help');
    connector.respond({ status: 403, body: { error: { code: 'BotDisabledByAdmin', message: 'internal detail' } } }, { times: 5, when: (c) => c.activityId === activity.id });
    try {
      const response = await rawPost(url, { 'content-type': 'application/json' }, JSON.stringify(activity));
      expect([200, 500]).toContain(response.status);
      expect(response.body).not.toMatch(/internal detail|BotDisabledByAdmin|127\.0\.0\.1/);
    } finally {
      connector.resetResponses();
    }
    await expectServing();
  });

  it('an activity with only a type (no conversation, no serviceUrl) is answered, not a crash', async () => {
    const response = await rawPost(url, { 'content-type': 'application/json' }, JSON.stringify({ type: 'message', text: 'help' }));
    expect([200, 500]).toContain(response.status);
    if (response.body) expect(JSON.parse(response.body)).toEqual({ error: 'The activity could not be processed. Please try again.' });
    await expectServing();
  });
});

describe('slow and oversized requests (REQUEST_TIMEOUT_MS=1000 here)', () => {
  it('a body trickled in slower than the timeout gets 408 and the connection closed', async () => {
    const mark = log.lines().length;
    const started = Date.now();
    const { request, response } = startPost(url, { 'content-type': 'application/json', 'content-length': 2000 });
    const closed = new Promise<number>((resolve) => request.on('close', () => resolve(Date.now() - started)));
    request.write('{"type":');
    const drip = setInterval(() => request.write(' '), 200);
    const answer = await response;
    expect(answer.status).toBe(408);
    expect(Date.now() - started).toBeLessThan(3000);
    // The server closes the connection (two seconds after answering) while the client still trickles.
    expect(await closed).toBeLessThan(5000);
    clearInterval(drip);
    expectOneRefusalLine(mark, 'timeout', 408);
    await expectServing();
  });

  it('headers that never finish (slowloris): 408, one line, closed within the timeout', async () => {
    const mark = log.lines().length;
    const { reply, closedAfterMs } = await rawSocket(app.port, 'POST /api/messages HTTP/1.1\r\nHost: x\r\nX-Slow: a', 6000);
    expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*\r\n\r\n\{"error":"Request Timeout"\}$/);
    expectOneRefusalLine(mark, 'timeout', 408);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs!).toBeLessThan(4000);
    await expectServing();
  });

  it('a connection that sends nothing is closed within the timeout', async () => {
    const { closedAfterMs } = await rawSocket(app.port, '', 6000);
    expect(closedAfterMs).not.toBeNull();
    expect(closedAfterMs!).toBeLessThan(4000);
  });

  it('a request that is not HTTP gets 400 and one line', async () => {
    const mark = log.lines().length;
    const { reply } = await rawSocket(app.port, 'HELLO THERE\r\n\r\n', 3000);
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expectOneRefusalLine(mark, 'badRequest', 400);
    await expectServing();
  });

  it('an upgrade (WebSocket) request is refused and closed, not left open without a timeout', async () => {
    const mark = log.lines().length;
    const body = JSON.stringify(message(connector.serviceUrl, 'help'));
    const { reply, closedAfterMs } = await rawSocket(
      app.port,
      `POST /api/messages HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      5000,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(closedAfterMs).not.toBeNull();
    expectOneRefusalLine(mark, 'upgrade', 400);
    await expectServing();
  });

  it('100 KB of headers gets 431 and changes nothing', async () => {
    const mark = log.lines().length;
    const response = await rawPost(url, { 'content-type': 'application/json', 'x-padding': 'a'.repeat(100 * 1024) }, JSON.stringify(message(connector.serviceUrl, 'help')));
    expect(response.status).toBe(431);
    expect(JSON.parse(response.body)).toEqual({ error: 'Request Header Fields Too Large' });
    expectOneRefusalLine(mark, 'headersTooLarge', 431);
    await expectServing();
  });
});

describe('MAX_REQUEST_BYTES is configurable', () => {
  let small: App;
  beforeAll(async () => {
    small = await startTestApp({ MAX_REQUEST_BYTES: '4096' });
  });
  afterAll(() => small?.close());

  it('4 KB: a 3 KB activity is served, a 5 KB one gets 413', async () => {
    const sized = (n: number) => JSON.stringify(message(connector.serviceUrl, 'x'.repeat(n)));
    expect((await rawPost(`${small.baseUrl}/api/messages`, { 'content-type': 'application/json' }, sized(3000))).status).toBe(200);
    const refused = await rawPost(`${small.baseUrl}/api/messages`, { 'content-type': 'application/json' }, sized(5000));
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.body)).toEqual({ error: 'The request body is larger than 4096 bytes.' });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
