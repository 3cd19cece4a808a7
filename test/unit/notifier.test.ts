import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type TurnContext } from 'botbuilder';
import { CardRenderer } from '../../src/bot/cards';
import { describeConnectorError, parseRetryAfter } from '../../src/bot/connectorErrors';
import { ProactiveNotifier, resolveNewChatAddress } from '../../src/bot/notifier';
import { TenantGuard } from '../../src/bot/tenantGuard';
import { type Config, ConfigError, loadConfig, TEAMS_PUBLIC_SERVICE_URL } from '../../src/config';
import type { Task } from '../../src/domain/model';
import { TaskRunner } from '../../src/scheduler/taskRunner';
import { NOTIFY_TASKS, type OutgoingCard } from '../../src/services/notifications';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { openRepositories, type Repositories } from '../../src/store/repositories';
import { cardOf, cardText } from '../support/botHarness';
import { FakeClock } from '../support/fakeClock';
import { type CannedResponse, LoopbackConnector, type RecordedCall, TEAMS_ERRORS } from '../support/loopbackConnector';
import { silentLogger } from '../support/silentLogger';
import { REPO_ROOT } from '../support/testApp';

const TENANT = '00000000-0000-0000-0000-000000000001';
const MEGAN = '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c';
const ALEX = '0f1e2d3c-4b5a-4697-8a7b-6c5d4e3f2a1b';
const BOT = { id: '28:bot', name: 'Access Packages' };

function notice(title: string): OutgoingCard {
  return { template: 'notice', data: { title, message: `${title}: details`, tone: 'info', buttons: [] } };
}

describe('ProactiveNotifier against botbuilder CloudAdapter and a loopback connector', () => {
  let connector: LoopbackConnector;
  let store: DocumentStore;
  let clock: FakeClock;
  let repositories: Repositories;
  let adapter: CloudAdapter;
  let runner: TaskRunner;
  let turnErrors: Error[];
  let pacing: { t: number; waits: number[] };
  let random: number;

  beforeAll(async () => {
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterAll(() => connector.stop());

  function config(env: Record<string, string> = {}): Config {
    return loadConfig({ LOG_LEVEL: 'silent', ...env }, REPO_ROOT);
  }

  /** `maxWaitMs`: the longest pacing wait slept (virtual time: by default every wait is slept). */
  function makeNotifier(env: Record<string, string> = {}, maxWaitMs = Number.POSITIVE_INFINITY): ProactiveNotifier {
    return new ProactiveNotifier({
      adapter,
      cards: new CardRenderer(),
      repositories,
      config: config(env),
      clock,
      logger: silentLogger,
      pacing: {
        now: () => pacing.t,
        sleep: async (ms) => {
          pacing.waits.push(ms);
          pacing.t += ms;
        },
        maxWaitMs,
      },
      random: () => random,
    });
  }

  beforeEach(async () => {
    connector.calls.length = 0;
    connector.resetResponses();
    store = await openEmbeddedStore({});
    clock = new FakeClock();
    repositories = await openRepositories(store, clock);
    adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({ MicrosoftAppId: '' }));
    // Like the app's: it would swallow errors thrown inside a turn, so the notifier must not rely on them.
    turnErrors = [];
    adapter.onTurnError = async (_context: TurnContext, error: Error) => void turnErrors.push(error);
    runner = new TaskRunner(repositories.tasks, () => clock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 100, workerId: 'test' });
    pacing = { t: 0, waits: [] };
    random = 0.5;
  });

  afterEach(async () => {
    expect(turnErrors).toEqual([]);
    await store.close();
  });

  /** What the bot records when a user writes: their reference, and (unless told not to) the bot's address. */
  async function storeReference(userId: string, conversationId: string, serviceUrl = connector.serviceUrl, recordBotAddress = true) {
    if (recordBotAddress) await repositories.conversationReferences.saveBotAddress({ tenantId: TENANT, serviceUrl, bot: BOT, updatedAt: clock.now() });
    await repositories.conversationReferences.save({
      id: userId,
      tenantId: TENANT,
      reference: {
        activityId: 'incoming-1',
        channelId: 'msteams',
        serviceUrl,
        bot: BOT,
        user: { id: `29:${userId}`, aadObjectId: userId },
        conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
      },
      updatedAt: clock.now(),
    });
  }

  async function queueSend(userId: string, card: OutgoingCard, trackAs?: string, dueAt?: Date): Promise<Task> {
    return (await repositories.tasks.enqueue({ type: NOTIFY_TASKS.send, payload: { userId, card, ...(trackAs ? { trackAs } : {}) }, dueAt }))!;
  }

  async function queueUpdate(trackAs: string, card: OutgoingCard): Promise<Task> {
    return (await repositories.tasks.enqueue({ type: NOTIFY_TASKS.update, payload: { trackAs, card } }))!;
  }

  const posts = () => connector.calls.filter((c) => c.method === 'POST');
  const puts = () => connector.calls.filter((c) => c.method === 'PUT');
  const titleOf = (call: RecordedCall) => cardText(cardOf(call.body)).split('\n')[0];

  it('sends the rendered card into the stored conversation', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    const task = await queueSend(MEGAN, notice('Approved'));
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done' });
    expect(posts()).toHaveLength(1);
    expect(posts()[0]).toMatchObject({ conversationId: 'a:megan', status: 200 });
    expect(posts()[0]!.body).toMatchObject({ type: 'message', conversation: { id: 'a:megan' }, from: { id: '28:bot' } });
    expect(titleOf(posts()[0]!)).toBe('Approved');
  });

  it('a tracked card is remembered and updated in place (PUT to the same activity id)', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    await queueSend(MEGAN, notice('Waiting for approval'), 'request:r1');
    await runner.run();
    const sent = await repositories.sentCards.get('request:r1');
    expect(sent).toMatchObject({ userId: MEGAN, conversationId: 'a:megan' });
    expect(sent!.activityId).toMatch(/^act-/);

    clock.advance(60_000);
    const update = await queueUpdate('request:r1', notice('Approved by Alex'));
    await runner.run();
    expect(await repositories.tasks.get(update.id)).toMatchObject({ state: 'done' });
    expect(puts()).toHaveLength(1);
    expect(puts()[0]).toMatchObject({ conversationId: 'a:megan', activityId: sent!.activityId });
    expect(puts()[0]!.body).toMatchObject({ type: 'message', id: sent!.activityId });
    expect(titleOf(puts()[0]!)).toBe('Approved by Alex');
    expect((await repositories.sentCards.get('request:r1'))!.cardQueuedAt).toEqual(update.createdAt);
  });

  it('an update that arrives before its card was sent waits for the send, then applies', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    // The send is in back-off (due in 30 s) when the update comes.
    await queueSend(MEGAN, notice('Waiting for approval'), 'request:r2', new Date(clock.now().getTime() + 30_000));
    const update = await queueUpdate('request:r2', notice('Approved'));
    await runner.run();
    expect(await repositories.tasks.get(update.id)).toMatchObject({ state: 'pending', lastError: 'waiting for card request:r2 to be sent first' });
    expect((await repositories.tasks.get(update.id))!.dueAt.getTime()).toBe(clock.now().getTime() + 32_000);
    expect(connector.calls).toHaveLength(0);

    clock.advance(30_000);
    await runner.run();
    expect(posts()).toHaveLength(1);
    expect(puts()).toHaveLength(0);

    clock.advance(2_000);
    await runner.run();
    expect(await repositories.tasks.get(update.id)).toMatchObject({ state: 'done' });
    expect(titleOf(puts()[0]!)).toBe('Approved');
  });

  it('an update for a card never sent (and not on its way) is done without calling Teams', async () => {
    makeNotifier().register(runner);
    const update = await queueUpdate('request:unknown', notice('Approved'));
    await runner.run();
    expect(await repositories.tasks.get(update.id)).toMatchObject({ state: 'done' });
    expect(connector.calls).toHaveLength(0);
  });

  it('an older update retried after a newer one went through is skipped, so the newest card stays', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    await queueSend(MEGAN, notice('Waiting'), 'request:r3');
    await runner.run();
    clock.advance(1000);
    connector.respond(TEAMS_ERRORS.serviceError(502), { when: (c) => c.method === 'PUT' });
    const older = await queueUpdate('request:r3', notice('Stage 2 of 2'));
    await runner.run();
    expect(await repositories.tasks.get(older.id)).toMatchObject({ state: 'pending' });
    clock.advance(1000);
    const newer = await queueUpdate('request:r3', notice('Approved'));
    await runner.run();
    expect(await repositories.tasks.get(newer.id)).toMatchObject({ state: 'done' });
    clock.advance(60_000);
    await runner.run();
    expect(await repositories.tasks.get(older.id)).toMatchObject({ state: 'done' });
    expect(puts().filter((c) => c.status === 200).map(titleOf)).toEqual(['Approved']);
  });

  it('a user with no stored reference gets a new 1:1 chat (POST /v3/conversations), then the card', async () => {
    makeNotifier().register(runner);
    // The bot's address in the tenant, as recorded from a vouched-for activity.
    await repositories.conversationReferences.saveBotAddress({ tenantId: TENANT, serviceUrl: connector.serviceUrl, bot: BOT, updatedAt: clock.now() });
    const task = await queueSend(ALEX, notice('Please approve'), 'approval:a1');
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done' });
    expect(connector.createdConversations).toEqual([
      { isGroup: false, bot: BOT, members: [{ id: ALEX }], tenantId: TENANT, channelData: { tenant: { id: TENANT } } },
    ]);
    const created = connector.calls.find((c) => c.path === '/v3/conversations')!;
    const message = posts().find((c) => c.conversationId !== undefined)!;
    expect(connector.calls.indexOf(message)).toBeGreaterThan(connector.calls.indexOf(created));
    expect(message.conversationId).toMatch(/^conv-/);
    expect(titleOf(message)).toBe('Please approve');

    // Remembered for next time: the second card goes straight into the same chat.
    const ref = await repositories.conversationReferences.get(ALEX);
    expect(ref).toMatchObject({ tenantId: TENANT, reference: { serviceUrl: connector.serviceUrl, conversation: { id: message.conversationId }, bot: BOT } });
    expect(await repositories.sentCards.get('approval:a1')).toMatchObject({ conversationId: message.conversationId });
    await queueSend(ALEX, notice('Reminder'));
    await runner.run();
    expect(connector.createdConversations).toHaveLength(1);
    expect(posts().filter((c) => c.conversationId === message.conversationId)).toHaveLength(2);
  });

  it("never opens a chat at the address in another user's stored reference", async () => {
    // Megan's reference names some other server (e.g. planted by a crafted activity before this
    // rule existed); the bot's recorded address is the real connector.
    const elsewhere = new LoopbackConnector();
    await elsewhere.start();
    try {
      await storeReference(MEGAN, 'a:megan', elsewhere.serviceUrl, false);
      await repositories.conversationReferences.saveBotAddress({ tenantId: TENANT, serviceUrl: connector.serviceUrl, bot: BOT, updatedAt: clock.now() });
      makeNotifier({ TENANT_ID: TENANT }).register(runner);
      await queueSend(ALEX, notice('Please approve'));
      await runner.run();
      expect(elsewhere.calls).toEqual([]);
      expect(connector.createdConversations).toHaveLength(1);
      expect(titleOf(posts().at(-1)!)).toBe('Please approve');

    } finally {
      await elsewhere.stop();
    }
  });

  it('with no stored reference at all and auth disabled it fails, saying why', async () => {
    makeNotifier({ TENANT_ID: TENANT }).register(runner);
    const task = await queueSend(ALEX, notice('Please approve'));
    await runner.run();
    const failed = await repositories.tasks.get(task.id);
    expect(failed).toMatchObject({ state: 'failed' });
    expect(failed!.lastError).toContain("MicrosoftAppId is empty, so the bot's Teams id is unknown");
    expect(connector.calls).toHaveLength(0);
  });

  describe('outcome of a failed send, by connector answer', () => {
    const cases: [string, CannedResponse, { state: Task['state']; retryInMs?: number; error: string | RegExp }][] = [
      ['429 with Retry-After', TEAMS_ERRORS.throttled(7), { state: 'pending', retryInMs: 7000, error: '429 Throttled' }],
      ['429 without Retry-After (exponential back-off)', TEAMS_ERRORS.throttled(), { state: 'pending', retryInMs: 5000, error: '429 Throttled' }],
      ['412 PreconditionFailed', { status: 412, body: { error: { code: 'PreconditionFailed', message: 'Precondition failed, please try again.' } } }, { state: 'pending', retryInMs: 5000, error: '412' }],
      ['502', TEAMS_ERRORS.serviceError(502), { state: 'pending', retryInMs: 5000, error: '502 ServiceError' }],
      ['503', TEAMS_ERRORS.serviceError(503), { state: 'pending', retryInMs: 5000, error: '503' }],
      ['504', TEAMS_ERRORS.serviceError(504), { state: 'pending', retryInMs: 5000, error: '504' }],
      ['500 (Teams: do not retry)', TEAMS_ERRORS.serviceError(500), { state: 'failed', error: '500 ServiceError' }],
      ['403 ConversationBlockedByUser', TEAMS_ERRORS.blockedByUser(), { state: 'failed', error: /the user has blocked the bot \(403 ConversationBlockedByUser/ }],
      ['403 MessageWritesBlocked', TEAMS_ERRORS.messageWritesBlocked(), { state: 'failed', error: /the user has blocked the bot \(403 MessageWritesBlocked/ }],
      ['403 ForbiddenOperationException', TEAMS_ERRORS.notInstalled(), { state: 'failed', error: 'the app is not installed for this user in personal scope' }],
      ['401 BotNotRegistered', TEAMS_ERRORS.botNotRegistered(), { state: 'failed', error: 'check MicrosoftAppId' }],
      ['400 BadArgument', { status: 400, body: { error: { code: 'BadArgument', message: 'Unknown activity type' } } }, { state: 'failed', error: '400 BadArgument: Unknown activity type' }],
      ['413 MessageSizeTooBig', { status: 413, body: { error: { code: 'MessageSizeTooBig', message: 'Message size too large.' } } }, { state: 'failed', error: 'the card is too large for Teams' }],
    ];

    it.each(cases)('%s', async (_name, response, expected) => {
      makeNotifier().register(runner);
      await storeReference(MEGAN, 'a:megan');
      connector.respond(response);
      const task = await queueSend(MEGAN, notice('Approved'));
      await runner.run();
      const after = (await repositories.tasks.get(task.id))!;
      expect(after.state).toBe(expected.state);
      if (typeof expected.error === 'string') expect(after.lastError).toContain(expected.error);
      else expect(after.lastError).toMatch(expected.error);
      if (expected.retryInMs !== undefined) expect(after.dueAt.getTime() - clock.now().getTime()).toBe(expected.retryInMs);
      // One HTTP call: botbuilder's in-process retries are off, the outbox retries instead.
      expect(connector.calls).toHaveLength(1);
    });
  });

  it('a 429 then success delivers the card once, after the Retry-After', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    connector.respond(TEAMS_ERRORS.throttled(3));
    const task = await queueSend(MEGAN, notice('Approved'));
    await runner.run();
    clock.advance(2_999);
    await runner.run();
    expect(connector.calls).toHaveLength(1);
    clock.advance(1);
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done', attempts: 2 });
    expect(connector.calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it('transient failures back off exponentially with jitter and give up after the attempt budget', async () => {
    makeNotifier({ NOTIFY_MAX_ATTEMPTS: '4' }).register(runner);
    await storeReference(MEGAN, 'a:megan');
    connector.respond(TEAMS_ERRORS.serviceError(503), { times: 10 });
    random = 0; // the low end of the ±20 % jitter
    const task = await queueSend(MEGAN, notice('Approved'));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      await runner.run();
      const after = (await repositories.tasks.get(task.id))!;
      if (after.state !== 'pending') break;
      delays.push(after.dueAt.getTime() - clock.now().getTime());
      clock.set(after.dueAt);
    }
    expect(delays).toEqual([4000, 8000, 16000]);
    const failed = (await repositories.tasks.get(task.id))!;
    expect(failed).toMatchObject({ state: 'failed', attempts: 4 });
    expect(failed.lastError).toContain('gave up after 4 attempts: 503 ServiceError');
  });

  it('a network failure (connector unreachable) is retried', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan', 'http://127.0.0.1:1/');
    const task = await queueSend(MEGAN, notice('Approved'));
    await runner.run();
    const after = (await repositories.tasks.get(task.id))!;
    expect(after.state).toBe('pending');
    expect(after.lastError).toContain('ECONNREFUSED');
  });

  it('404 on the stored conversation: the reference is dropped and a new chat is created straight away', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    connector.dropConversation('a:megan');
    const task = await queueSend(MEGAN, notice('Approved'));
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done', attempts: 1 });
    expect(connector.calls.map((c) => [c.method, c.path.replace(/activities\/.*$/, 'activities/…'), c.status])).toEqual([
      ['POST', '/v3/conversations/a%3Amegan/activities/…', 404],
      ['POST', '/v3/conversations', 200],
      ['POST', expect.stringMatching(/^\/v3\/conversations\/conv-\d+\/activities\/…$/), 200],
    ]);
    expect(connector.createdConversations[0]).toMatchObject({ members: [{ id: MEGAN }], bot: BOT, tenantId: TENANT });
    const ref = await repositories.conversationReferences.get(MEGAN);
    expect((ref!.reference.conversation as { id: string }).id).toMatch(/^conv-/);
  });

  it('404 and the new chat fails too: the task retries, and the stale reference stays gone', async () => {
    makeNotifier({ TENANT_ID: TENANT }).register(runner);
    await storeReference(MEGAN, 'a:megan');
    // Recorded when someone wrote: tells the next attempt where the bot lives.
    await repositories.conversationReferences.saveBotAddress({ tenantId: TENANT, serviceUrl: connector.serviceUrl, bot: BOT, updatedAt: clock.now() });
    connector.dropConversation('a:megan');
    // 412 rather than 5xx: botbuilder's own retries can't be switched off for the create call
    // (its connector client is made inside createConversationAsync), and would cost real seconds.
    connector.respond({ status: 412, body: { error: { code: 'PreconditionFailed', message: 'Precondition failed, please try again.' } } }, { when: (c) => c.path === '/v3/conversations' });
    const task = await queueSend(MEGAN, notice('Approved'));
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'pending', lastError: expect.stringContaining('412 PreconditionFailed') });
    expect(await repositories.conversationReferences.get(MEGAN)).toBeNull();
    clock.advance(10_000);
    await runner.run();
    expect(await repositories.tasks.get(task.id)).toMatchObject({ state: 'done' });
    expect(connector.createdConversations).toHaveLength(2);
  });

  it('a reference the user refreshed meanwhile is not dropped by a 404 on the old one', async () => {
    await storeReference(MEGAN, 'a:megan-new');
    expect(await repositories.conversationReferences.forget(MEGAN, 'a:megan-old')).toBe(false);
    expect(await repositories.conversationReferences.get(MEGAN)).not.toBeNull();
    expect(await repositories.conversationReferences.forget(MEGAN, 'a:megan-new')).toBe(true);
    expect(await repositories.conversationReferences.get(MEGAN)).toBeNull();
  });

  it('updating a card that was deleted in Teams fails clearly and forgets it', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    await queueSend(MEGAN, notice('Waiting'), 'request:r4');
    await runner.run();
    connector.respond(TEAMS_ERRORS.activityNotFound(), { when: (c) => c.method === 'PUT' });
    const update = await queueUpdate('request:r4', notice('Approved'));
    await runner.run();
    const failed = (await repositories.tasks.get(update.id))!;
    expect(failed.state).toBe('failed');
    expect(failed.lastError).toContain("card request:r4 no longer exists in Teams, so it can't be updated (404 ActivityNotFoundInConversation");
    expect(await repositories.sentCards.get('request:r4')).toBeNull();
  });

  it('a send whose "done" was lost is not delivered twice when the task runs again', async () => {
    const notifier = makeNotifier();
    await storeReference(MEGAN, 'a:megan');
    const task = await queueSend(MEGAN, notice('Approved'), 'request:r5');
    expect(await notifier.send(task)).toEqual({ status: 'done' });
    expect(await notifier.send(task)).toEqual({ status: 'done' });
    expect(posts()).toHaveLength(1);
  });

  it('a turn dropped by the tenant guard fails with a clear error instead of vanishing', async () => {
    adapter.use(new TenantGuard('11111111-1111-1111-1111-111111111111', silentLogger));
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    const task = await queueSend(MEGAN, notice('Approved'));
    await runner.run();
    const failed = (await repositories.tasks.get(task.id))!;
    expect(failed.state).toBe('failed');
    expect(failed.lastError).toContain('dropped by middleware');
    expect(connector.calls).toHaveLength(0);
  });

  it('malformed tasks and unknown templates fail without calling Teams', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    const noUser = (await repositories.tasks.enqueue({ type: NOTIFY_TASKS.send, payload: { card: notice('x') } }))!;
    const badCard = (await repositories.tasks.enqueue({ type: NOTIFY_TASKS.update, payload: { trackAs: 't', card: 'hello' } }))!;
    const unknown = await queueSend(MEGAN, { template: 'no-such-card', data: {} });
    await runner.run();
    expect(await repositories.tasks.get(noUser.id)).toMatchObject({ state: 'failed', lastError: 'malformed notify.send task: userId missing' });
    expect(await repositories.tasks.get(badCard.id)).toMatchObject({ state: 'failed', lastError: 'malformed notify.update task: card must be {template, data}' });
    expect((await repositories.tasks.get(unknown.id))!.lastError).toContain('card no-such-card could not be rendered');
    expect(connector.calls).toHaveLength(0);
  });

  it('paces calls: one a second into a conversation, others not held back by it', async () => {
    await storeReference(MEGAN, 'a:megan');
    await storeReference(ALEX, 'a:alex');
    for (let i = 1; i <= 3; i++) await queueSend(MEGAN, notice(`Card ${i}`));
    await queueSend(ALEX, notice('Alex 1'));
    const times = new Map<RecordedCall, number>();
    connector.onCall = (call) => times.set(call, pacing.t);
    // One worker at a time: the virtual sleeps of concurrent workers would each move the one clock.
    const sequential = new TaskRunner(repositories.tasks, () => clock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 100, workerId: 'seq', concurrency: { messages: 1 } });
    makeNotifier().register(sequential);
    await sequential.run();
    expect(posts().map(titleOf).sort()).toEqual(['Alex 1', 'Card 1', 'Card 2', 'Card 3']);
    const megan = posts()
      .filter((c) => c.conversationId === 'a:megan')
      .map((c) => times.get(c));
    expect(megan).toEqual([0, 1000, 2000]);
    expect(pacing.waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2100);
  });

  it('a wait longer than TASK_MAX_PACING_WAIT_MS gives the worker back: the task returns at its turn, no attempt used, other chats go at once', async () => {
    // Pacing on the task clock, as in production (real time for both).
    const notifier = new ProactiveNotifier({
      adapter,
      cards: new CardRenderer(),
      repositories,
      config: config(),
      clock,
      logger: silentLogger,
      pacing: { now: () => clock.now().getTime(), sleep: async (ms) => void clock.advance(ms), maxWaitMs: 250 },
      random: () => random,
    });
    notifier.register(runner);
    await storeReference(MEGAN, 'a:megan');
    await storeReference(ALEX, 'a:alex');
    const start = clock.now().getTime();
    const megan: Task[] = [];
    for (let i = 1; i <= 3; i++) megan.push(await queueSend(MEGAN, notice(`Card ${i}`)));
    await queueSend(ALEX, notice('Alex 1'));
    const sentAt = new Map<string, number>();
    connector.onCall = (call) => sentAt.set(titleOf(call)!, clock.now().getTime() - start);

    await runner.run();
    // Megan's chat takes one a second: cards 2 and 3 were sent away to their turns (1 s and 2 s
    // on), one turn apart, not all at once; Alex was not held back; no worker slept a second.
    expect([...sentAt.keys()].sort()).toEqual(['Alex 1', 'Card 1']);
    const [, second, third] = await Promise.all(megan.map((t) => repositories.tasks.get(t.id)));
    expect(second).toMatchObject({ state: 'pending', attempts: 0 });
    expect(third).toMatchObject({ state: 'pending', attempts: 0 });
    expect(second!.lastError).toBeUndefined();
    expect(second!.dueAt.getTime() - start).toBe(1000);
    expect(third!.dueAt.getTime() - start).toBe(2000);

    clock.advance(1000);
    await runner.run();
    expect(sentAt.get('Card 2')).toBe(1000);
    expect(sentAt.has('Card 3')).toBe(false);
    clock.advance(1000);
    await runner.run();
    expect(sentAt.get('Card 3')).toBe(2000);
    // Each went once, and none used up an attempt waiting.
    expect(posts().map(titleOf).sort()).toEqual(['Alex 1', 'Card 1', 'Card 2', 'Card 3']);
    const done = await Promise.all(megan.map((t) => repositories.tasks.get(t.id)));
    expect(done.map((t) => [t!.state, t!.attempts])).toEqual([['done', 1], ['done', 1], ['done', 1]]);
  });

  it('two updates of one card never run at once (four workers): the newer stays even when it is claimed first', async () => {
    makeNotifier().register(runner);
    await storeReference(MEGAN, 'a:megan');
    await queueSend(MEGAN, notice('v1'), 'card-1');
    await runner.run();
    // v2 is the older card (queued first) but falls due later (say its first try was retried):
    // v3 is claimed first. Run at once, v2 would pass the "newer card wins" check before v3
    // recorded itself, and be written over it.
    const due = clock.now();
    await repositories.tasks.enqueue({ type: NOTIFY_TASKS.update, payload: { trackAs: 'card-1', card: notice('v2') }, dueAt: new Date(due.getTime() + 10) });
    clock.advance(1);
    await repositories.tasks.enqueue({ type: NOTIFY_TASKS.update, payload: { trackAs: 'card-1', card: notice('v3') }, dueAt: due });
    clock.advance(10);
    await runner.run();
    expect(puts().map(titleOf)).toEqual(['v3']);
    expect(await repositories.tasks.countByState('done')).toBe(3);
  });
});

describe('where a new chat goes', () => {
  const base = loadConfig({ LOG_LEVEL: 'silent' }, REPO_ROOT);

  it("from the bot's recorded address: its serviceUrl, bot account and tenant", () => {
    const recorded = { tenantId: 't-1', updatedAt: new Date(), serviceUrl: 'https://smba.trafficmanager.net/emea/', bot: { id: '28:abc', name: 'Bot' } };
    expect(resolveNewChatAddress(recorded, base)).toEqual({ serviceUrl: 'https://smba.trafficmanager.net/emea/', bot: { id: '28:abc', name: 'Bot' }, tenantId: 't-1' });
  });

  it('from configuration when nothing is stored: 28:<app id>, TEAMS_SERVICE_URL, TENANT_ID', () => {
    const config = { ...base, tenantId: 'tenant-x', bot: { ...base.bot, appId: '11111111-2222-3333-4444-555555555555' } };
    expect(resolveNewChatAddress(null, config)).toEqual({ serviceUrl: TEAMS_PUBLIC_SERVICE_URL, bot: { id: '28:11111111-2222-3333-4444-555555555555' }, tenantId: 'tenant-x' });
  });

  it('says what is missing when it cannot tell', () => {
    const config = { ...base, bot: { ...base.bot, appId: '11111111-2222-3333-4444-555555555555' } };
    expect(resolveNewChatAddress(null, config)).toBe('the tenant is unknown: set TENANT_ID (or MicrosoftAppTenantId)');
  });
});

describe('connector errors', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-11-22T09:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('an error without an HTTP status (network, token) is transient', () => {
    expect(describeConnectorError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 0)).toMatchObject({ kind: 'transient', code: 'ECONNREFUSED' });
    expect(describeConnectorError(new Error('socket hang up'), 0)).toMatchObject({ kind: 'transient' });
  });

  it("a gateway's HTML error page is still a transient 502, without a made-up Teams code", () => {
    const error = Object.assign(new Error('Error "SyntaxError: Unexpected token <" occurred while parsing the response body - <html>Bad Gateway</html>.'), { statusCode: 502, code: 'PARSE_ERROR', details: {} });
    expect(describeConnectorError(error, 0)).toMatchObject({ kind: 'transient', status: 502, code: undefined });
  });
});

describe('notifier settings', () => {
  it('defaults', () => {
    expect(loadConfig({}, '/srv').notify).toEqual({ serviceUrl: 'https://smba.trafficmanager.net/teams/', ratePerSecond: 20, ratePerConversationPerSecond: 1, maxAttempts: 8 });
  });

  it('reads and validates each', () => {
    expect(
      loadConfig({ TEAMS_SERVICE_URL: 'https://smba.infra.gcc.teams.microsoft.com/teams', NOTIFY_RATE_PER_SECOND: '10', NOTIFY_RATE_PER_CONVERSATION_PER_SECOND: '2', NOTIFY_MAX_ATTEMPTS: '3' }, '/srv').notify,
    ).toEqual({ serviceUrl: 'https://smba.infra.gcc.teams.microsoft.com/teams', ratePerSecond: 10, ratePerConversationPerSecond: 2, maxAttempts: 3 });
    expect(() => loadConfig({ TEAMS_SERVICE_URL: 'smba.trafficmanager.net' }, '/srv')).toThrow(ConfigError);
    expect(() => loadConfig({ NOTIFY_RATE_PER_CONVERSATION_PER_SECOND: '8' }, '/srv')).toThrow(
      'Configuration error: NOTIFY_RATE_PER_CONVERSATION_PER_SECOND must be an integer from 1 to 7 (got "8")',
    );
    expect(() => loadConfig({ NOTIFY_MAX_ATTEMPTS: '0' }, '/srv')).toThrow('NOTIFY_MAX_ATTEMPTS must be an integer from 1 to 100');
  });
});
