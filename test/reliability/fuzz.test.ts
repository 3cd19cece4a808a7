import { randomUUID } from 'node:crypto';
import type { Activity } from 'botbuilder';
import { type BotHarness, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, TENANT, type TeamsUser } from '../support/botHarness';
import { FakeBotFrameworkIdentity, forgerKey } from '../support/fakeBotFrameworkIdentity';
import { gzipBomb, multipartUpload, nestedArrays, type RawResponse, rawPost, startPost } from '../support/hostileHttp';
import { LoopbackConnector } from '../support/loopbackConnector';
import { memoryLogger } from '../support/silentLogger';
import { startTestApp } from '../support/testApp';
import { seededRandom, seedFromEnv } from './fixtures';

// Fuzz: seeded hostile card submissions and messages through the bot. Each must be answered
// with a clear message (or, from another tenant, dropped), never crash a turn, and change
// nothing: every business collection keeps its count.
const ROUNDS = 1500;
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const lola: TeamsUser = { aadObjectId: 'u-lola', name: 'Lola Martin' };
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' }; // admin

const VERBS = ['submitRequest', 'cancelRequest', 'decide', 'extend', 'confirmRemove', 'removeAccess', 'letExpire', 'adminAssign', 'adminAssignForm', 'requestForm', 'details', 'reprocess'];
const FIELDS = ['packageId', 'policyId', 'requestId', 'assignmentId', 'stage', 'decision', 'justification', 'expiresAt', 'startAt', 'userId', 'answer:costCentre', 'text', 'page'];
const COMMANDS = ['requests', 'assignments', 'show', 'assign', 'remove', 'reprocess', 'cancel', 'enable', 'disable', 'apply catalog', 'audit', 'export', 'notices', 'digest', 'approvals'];
// Success phrases a refused action must never produce.
const SUCCESS = /Request sent|Approved by|Denied by|has been removed|Request canceled|Assigned|Extension requested|Reprocessing/i;
const BUSINESS = ['requests', 'assignments', 'grants', 'tasks', 'catalogs', 'packages', 'policies', 'settings', 'exports', 'sentCards'];

describe('fuzz: malformed and hostile input', () => {
  const seed = seedFromEnv();
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  let h: BotHarness;
  let fredRequestId: string;
  let lolaAssignmentId: string;

  beforeAll(async () => {
    h = await createBotHarness({ exampleCatalog: true, tenantId: TENANT, adminUserIds: ['u-ivan'] });
    // Real state for hostile input to aim at: Fred's open request, Lola's delivered access.
    await h.adapter.processActivity(cardInvoke(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' }));
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    fredRequestId = (await h.repositories.requests.listForUser('u-fred'))[0]!.id;
    await h.adapter.processActivity(cardInvoke(lola, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' }));
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    const lolaRequest = (await h.repositories.requests.listForUser('u-lola'))[0]!;
    expect((await h.approvals.decide('u-nadia', { requestId: lolaRequest.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    lolaAssignmentId = (await h.repositories.assignments.listActiveForUser('u-lola'))[0]!.id;
    h.adapter.activeQueue.splice(0);
  });

  afterAll(() => h?.close());

  function hostileValue(): unknown {
    switch (Math.floor(random() * 12)) {
      case 0: return { $gt: '' };
      case 1: return { $ne: null };
      case 2: return { $where: 'sleep(1000)' };
      case 3: return { $regex: '.*' };
      case 4: return 'x'.repeat(100_000 + Math.floor(random() * 100_000));
      case 5: return Math.floor(random() * 1e9) * (random() < 0.5 ? -1 : 1);
      case 6: return [pick(['a', fredRequestId, lolaAssignmentId]), { $gt: '' }];
      case 7: return null;
      case 8: return random() < 0.5;
      case 9: return pick([fredRequestId, lolaAssignmentId, `ASG-${fredRequestId}`]); // someone else's ids
      case 10: return '\u0000\u202e<script>alert(1)</script>${x}{{y}}';
      default: return { nested: { $set: { state: 'delivered' } }, __proto__: { admin: true } };
    }
  }

  type Category = 'unknownVerb' | 'wrongTypes' | 'operatorObject' | 'othersIds' | 'hugeString' | 'badMessage' | 'adminByNonAdmin' | 'otherTenant' | 'malformedInvoke';
  function generate(): { category: Category; activity: Partial<Activity>; expectReply: boolean } {
    const user = pick([fred, lola]);
    const data = () => Object.fromEntries(FIELDS.filter(() => random() < 0.4).map((f) => [f, hostileValue()]));
    const category = pick<Category>(['unknownVerb', 'wrongTypes', 'operatorObject', 'othersIds', 'hugeString', 'badMessage', 'adminByNonAdmin', 'otherTenant', 'malformedInvoke']);
    switch (category) {
      case 'unknownVerb':
        return { category, activity: cardInvoke(user, pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(64), 'déçidé', '$where', 'approveAll']), data()), expectReply: true };
      case 'wrongTypes':
        return { category, activity: cardInvoke(user, pick(VERBS), Object.fromEntries(FIELDS.map((f) => [f, pick<unknown>([42, true, null, [], [1, 2], { a: 1 }, -1.5])]))), expectReply: true };
      case 'operatorObject':
        return { category, activity: cardInvoke(user, pick(VERBS), Object.fromEntries(FIELDS.map((f) => [f, pick<unknown>([{ $gt: '' }, { $ne: null }, { $in: [fredRequestId] }, { $exists: true }, { $regex: '^' }])]))), expectReply: true };
      case 'othersIds': {
        // Lola acting on Fred's request; Fred on Lola's assignment; neither is an approver of the other.
        const verb = pick(['cancelRequest', 'decide', 'removeAccess', 'extend', 'letExpire', 'confirmRemove']);
        const actor = verb === 'cancelRequest' || verb === 'decide' ? lola : fred;
        return { category, activity: cardInvoke(actor, verb, { requestId: fredRequestId, assignmentId: lolaAssignmentId, stage: 0, decision: 'approve', justification: 'mine now', expiresAt: new Date().toISOString() }), expectReply: true };
      }
      case 'hugeString':
        return { category, activity: cardInvoke(user, pick(VERBS), Object.fromEntries(FIELDS.map((f) => [f, 'A'.repeat(200_000)]))), expectReply: true };
      case 'badMessage':
        return { category, activity: personalMessage(user, pick(['', ' ', '\u0000', 'x'.repeat(300_000), '{"$gt":""}', 'request {"$ne":null}', 'cancel REQ-' + 'Z'.repeat(500), 'show ' + fredRequestId, '<at>bot</at>'])), expectReply: true };
      case 'adminByNonAdmin':
        return { category, activity: personalMessage(user, `${pick(COMMANDS)} ${pick(['accounting', fredRequestId, lolaAssignmentId, '{"$gt":""}', ''])}`), expectReply: true };
      case 'otherTenant':
        return { category, activity: cardInvoke(pick([ivan, fred]), pick(VERBS), { requestId: fredRequestId, assignmentId: lolaAssignmentId, stage: 0, decision: 'approve' }, { conversation: { id: 'a:x', conversationType: 'personal', tenantId: 'evil-tenant' } as Activity['conversation'], channelData: { tenant: { id: 'evil-tenant' } } }), expectReply: false };
      default: {
        const base = cardInvoke(user, 'submitRequest', {});
        return { category, activity: { ...base, value: pick<unknown>([null, 'text', 42, [], { action: null }, { action: { verb: { $gt: '' }, data: {} } }, { action: { verb: 'submitRequest', data: 'not an object' } }]) }, expectReply: true };
      }
    }
  }

  async function counts(): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    for (const name of BUSINESS) result[name] = await h.store.collection(name).count({});
    // Refusals are audited on purpose (admin.refused, approval.refused); nothing else may be.
    result.auditOther = (await h.repositories.audit.query({ limit: 100_000 })).filter((e) => !e.action.endsWith('.refused')).length;
    return result;
  }

  it(`${ROUNDS} hostile inputs: each refused with a message, no crash, nothing stored`, async () => {
    const before = await counts();
    const fredBefore = await h.repositories.requests.get(fredRequestId);
    const byCategory = new Map<string, { sent: number; answered: number; dropped: number }>();
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { category, activity, expectReply } = generate();
      h.adapter.activeQueue.splice(0);
      try {
        await h.adapter.processActivity(activity);
      } catch (error) {
        problems.push(`${category} #${round}: crashed: ${(error as Error).message.slice(0, 200)}`);
        continue;
      }
      const replies = h.adapter.activeQueue.splice(0).filter((a) => a.type === 'message');
      const invoke = activity.type === 'invoke' ? h.lastInvokeResponse() : undefined;
      const texts = [...replies.map((r) => cardText(cardOf(r)) || String(r.text ?? '')), ...(invoke?.body ? [cardText((invoke.body as { value?: unknown }).value)] : [])].filter((t) => t.trim() !== '');
      const tally = byCategory.get(category) ?? { sent: 0, answered: 0, dropped: 0 };
      tally.sent++;
      if (texts.length > 0) tally.answered++;
      else tally.dropped++;
      byCategory.set(category, tally);
      if (expectReply && texts.length === 0) problems.push(`${category} #${round}: no answer`);
      if (!expectReply && texts.length > 0) problems.push(`${category} #${round}: another tenant was answered`);
      const success = texts.find((t) => SUCCESS.test(t));
      if (success) problems.push(`${category} #${round}: looked like success: ${success.slice(0, 160)}`);
    }
    console.log(
      `fuzz: seed ${seed}, ${ROUNDS} inputs, ${problems.length} problems\n${[...byCategory].map(([c, t]) => `  ${c.padEnd(16)} sent ${t.sent}, answered ${t.answered}, dropped ${t.dropped}`).join('\n')}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(await counts()).toEqual(before);
    expect(await h.repositories.requests.get(fredRequestId)).toEqual(fredBefore);
  });
});

// Fuzz: seeded hostile HTTP requests through the real restify endpoint, before any turn: gzip
// bombs, multipart uploads, oversize bodies (declared and chunked), deep nesting, wrong content
// types, malformed JSON, wrong field types, cut-off bodies, and (auth on, keys served by msw)
// forged tokens. Each must get its status with a one-key JSON body (a cut-off one: nothing),
// be logged as exactly one line, run no turn, and leave the bot serving.
describe('fuzz: hostile HTTP requests to POST /api/messages', () => {
  const HTTP_ROUNDS = 400;
  const APP_ID = '3a7c5e1f-0b2d-4c6e-8f9a-1b2c3d4e5f60';
  const seed = seedFromEnv();
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const connector = new LoopbackConnector();
  const idp = new FakeBotFrameworkIdentity();
  const forger = forgerKey();
  const logOff = memoryLogger();
  const logOn = memoryLogger();
  let off: Awaited<ReturnType<typeof startTestApp>>;
  let on: Awaited<ReturnType<typeof startTestApp>>;
  let bomb: Buffer;

  beforeAll(async () => {
    idp.listen();
    await connector.start();
    off = await startTestApp({ MAX_REQUEST_BYTES: '65536', REQUEST_TIMEOUT_MS: '2000' }, { logger: logOff.logger });
    on = await startTestApp({ MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'not-a-real-secret' }, { logger: logOn.logger });
    bomb = await gzipBomb(50);
  }, 60_000);

  afterAll(async () => {
    await off?.close();
    await on?.close();
    await connector.stop();
    idp.close();
  });

  const activity = () => ({
    type: 'message',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: '29:f', aadObjectId: 'u-fuzz', name: 'Fuzz' },
    recipient: { id: '28:bot' },
    conversation: { id: 'a:fuzz', conversationType: 'personal' },
    text: 'help',
  });
  const JSON_TYPE = { 'content-type': 'application/json' };

  type HttpCategory = 'gzipBomb' | 'multipart' | 'oversize' | 'deepNesting' | 'wrongContentType' | 'malformedJson' | 'wrongFieldTypes' | 'cutOff' | 'forgedToken';
  interface Attempt { category: HttpCategory; send: () => Promise<RawResponse>; expect: number[]; viaAuth: boolean }

  function generate(): Attempt {
    const url = `${off.baseUrl}/api/messages`;
    const category = pick<HttpCategory>(['gzipBomb', 'multipart', 'oversize', 'deepNesting', 'wrongContentType', 'malformedJson', 'wrongFieldTypes', 'cutOff', 'forgedToken']);
    const base = { category, viaAuth: false };
    switch (category) {
      case 'gzipBomb': {
        const encoding = pick(['gzip', 'deflate', 'br', 'GZIP', 'x-gzip', 'gzip, deflate']);
        return { ...base, expect: [415], send: () => rawPost(url, { ...JSON_TYPE, 'content-encoding': encoding }, bomb.subarray(0, between(10, bomb.length))) };
      }
      case 'multipart': {
        const upload = multipartUpload(between(1, 2 * 1024 * 1024));
        return { ...base, expect: [415], send: () => rawPost(url, { 'content-type': upload.contentType }, upload.body) };
      }
      case 'oversize': {
        const body = Buffer.alloc(between(65_537, 400_000), 0x20);
        if (random() < 0.5) return { ...base, expect: [413], send: () => rawPost(url, JSON_TYPE, body) };
        return {
          ...base,
          expect: [413],
          send: () => {
            const { request, response } = startPost(url, { ...JSON_TYPE, 'transfer-encoding': 'chunked' });
            for (let i = 0; i < body.length; i += 16_384) request.write(body.subarray(i, i + 16_384));
            request.end();
            return response;
          },
        };
      }
      case 'deepNesting': {
        const depth = between(65, 60_000);
        const body = random() < 0.5 ? nestedArrays(depth) : JSON.stringify({ ...activity(), value: 0 }).replace('"value":0', `"value":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
        return { ...base, expect: [400, 413], send: () => rawPost(url, JSON_TYPE, body) };
      }
      case 'wrongContentType': {
        const type = pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'application/json; charset=latin1', 'text/json', 'application/jsonp', '*/*', 'application/octet-stream', 'multipart/mixed; boundary=x', '']);
        return { ...base, expect: [415], send: () => rawPost(url, type ? { 'content-type': type } : {}, JSON.stringify(activity())) };
      }
      case 'malformedJson': {
        const text = JSON.stringify(activity());
        const body = pick([
          () => text.slice(0, between(0, text.length - 1)),
          () => text.replace(/[{}[\]",:]/, pick(['', '}', '[', "'", ';'])),
          () => Buffer.from(Array.from({ length: between(1, 2000) }, () => between(0, 255))),
          () => pick(['null', 'true', '1e999', '"str"', '[]', '{}', '{"type":null}', '{"__proto__":{"type":"message"}}']),
        ])();
        return { ...base, expect: [400], send: () => rawPost(url, JSON_TYPE, body) };
      }
      case 'wrongFieldTypes': {
        const field = pick(['type', 'from', 'recipient', 'conversation', 'serviceUrl', 'text', 'channelData', 'membersAdded', 'attachments', 'id']);
        const value = pick<unknown>([42, true, [], ['x'], 'str', { $gt: '' }, 'javascript:alert(1)', 'x'.repeat(3000), -1]);
        const body = { ...activity(), [field]: value };
        // Some values happen to be the right type for some fields (a string text): those run a turn.
        return { ...base, expect: [400, 200], send: () => rawPost(url, JSON_TYPE, JSON.stringify(body)) };
      }
      case 'cutOff':
        return {
          ...base,
          expect: [0],
          send: async () => {
            const { request, response } = startPost(url, { ...JSON_TYPE, 'content-length': 5000 });
            request.write(JSON.stringify(activity()).slice(0, between(0, 200)));
            await new Promise((resolve) => setTimeout(resolve, between(0, 20)));
            request.destroy();
            return response;
          },
        };
      default: {
        const now = Math.floor(Date.now() / 1000);
        const serviceUrl = connector.serviceUrl;
        const header = pick<() => string | undefined>([
          () => undefined,
          () => 'Bearer',
          () => `Bearer ${randomUUID()}`,
          () => `Basic ${Buffer.from('admin:admin').toString('base64')}`,
          () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { key: forger, kid: randomUUID() })}`,
          () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { key: forger })}`,
          () => `Bearer ${idp.channelToken(randomUUID(), serviceUrl)}`,
          () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { claims: { exp: now - 3600, nbf: now - 7200 } })}`,
          () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { claims: { iss: pick(['https://api.botframework.co', 'https://evil.example', '']) } })}`,
          () => `Bearer ${idp.channelToken(APP_ID, serviceUrl, { algorithm: 'none' })}`,
          () => `Bearer ${idp.channelToken(APP_ID, 'https://evil.example/')}`,
        ])();
        return { ...base, viaAuth: true, expect: [401], send: () => rawPost(`${on.baseUrl}/api/messages`, { ...JSON_TYPE, ...(header === undefined ? {} : { authorization: header }) }, JSON.stringify(activity())) };
      }
    }
  }

  it(`${HTTP_ROUNDS} hostile requests: each refused with its status and one log line, no turn run, still serving`, async () => {
    const collections = ['conversationReferences', 'requests', 'tasks', 'sentCards'];
    const countAll = async () => Object.fromEntries(await Promise.all(collections.flatMap((c) => [off, on].map(async (app, i) => [`${c}@${i}`, await app.store.collection(c).count({})] as const))));
    const before = await countAll();
    const callsBefore = connector.calls.length;
    const byCategory = new Map<string, Record<number, number>>();
    const problems: string[] = [];
    let turnsExpected = 0;
    for (let round = 0; round < HTTP_ROUNDS; round++) {
      const attempt = generate();
      const log = attempt.viaAuth ? logOn : logOff;
      const mark = log.lines().length;
      const response = await attempt.send();
      const tally = byCategory.get(attempt.category) ?? {};
      tally[response.status] = (tally[response.status] ?? 0) + 1;
      byCategory.set(attempt.category, tally);
      if (!attempt.expect.includes(response.status)) problems.push(`${attempt.category} #${round}: status ${response.status}, expected ${attempt.expect.join('/')}`);
      if (response.status === 200) {
        turnsExpected++;
        continue;
      }
      if (response.status !== 0) {
        let body: unknown;
        try {
          body = JSON.parse(response.body);
        } catch {
          body = response.body;
        }
        if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'error' || response.body.length > 200) problems.push(`${attempt.category} #${round}: answer ${response.body.slice(0, 120)}`);
      }
      // The refusal is logged (a cut-off body a moment after the hang-up).
      for (let i = 0; i < 50 && log.lines().length === mark; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const lines = log.lines().slice(mark).filter((l) => (l.level as number) >= 40);
      const expected = attempt.viaAuth ? 'activity rejected' : 'request refused';
      // A client hanging up before its headers arrived made no request: nothing to log then.
      const allowed = attempt.category === 'cutOff' && lines.length === 0;
      if (!allowed && (lines.length !== 1 || lines[0]!.msg !== expected || 'err' in lines[0]!)) problems.push(`${attempt.category} #${round}: logged ${JSON.stringify(lines).slice(0, 200)}`);
    }
    console.log(
      `fuzz (HTTP): seed ${seed}, ${HTTP_ROUNDS} requests, ${problems.length} problems, metadata fetched ${idp.metadataFetches()} time(s)\n${[...byCategory].map(([c, t]) => `  ${c.padEnd(16)} ${Object.entries(t).map(([s, n]) => `${s === '0' ? 'cut off' : s}: ${n}`).join(', ')}`).join('\n')}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    // Only the well-typed bodies ran turns (each answered at most once: a made-up type gets no
    // reply); no refused request reached the bot.
    expect(connector.calls.length - callsBefore).toBeLessThanOrEqual(turnsExpected);
    const after = await countAll();
    expect({ ...after, 'conversationReferences@0': before['conversationReferences@0'] }).toEqual(before);
    // Forged tokens never made the bot fetch the keys more than once (the clock did not move).
    expect(idp.metadataFetches()).toBeLessThanOrEqual(1);
    // Still serving, both of them.
    const last = activity();
    expect((await rawPost(`${off.baseUrl}/api/messages`, JSON_TYPE, JSON.stringify(last))).status).toBe(200);
    await connector.waitFor((c) => c.activityId === last.id);
    const signed = { ...activity(), type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: 'help', data: { verb: 'help' } } } };
    expect((await rawPost(`${on.baseUrl}/api/messages`, { ...JSON_TYPE, authorization: `Bearer ${idp.channelToken(APP_ID, connector.serviceUrl)}` }, JSON.stringify(signed))).status).toBe(200);
  });
});
