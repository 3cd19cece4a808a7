import { randomUUID } from 'node:crypto';
import type { RunningApp } from '../../src/app';
import type { Config } from '../../src/config';
import type { Task } from '../../src/domain/model';
import { NOTIFY_TASKS, type OutgoingCard } from '../../src/services/notifications';
import { TaskNotifications } from '../../src/services/taskNotifications';
import type { StoredDocument } from '../../src/store/port';
import { cardOf, cardText } from '../support/botHarness';
import type { FakeClock } from '../support/fakeClock';
import { LoopbackConnector, type RecordedCall, TEAMS_ERRORS } from '../support/loopbackConnector';
import { postActivity, startTestApp } from '../support/testApp';
import { byCreatedAt } from '../support/testStore';

const TENANT = '00000000-0000-0000-0000-000000000001';
const megan = { id: '29:megan', aadObjectId: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', name: 'Megan Bowen' };
const BOT = { id: '28:bot', name: 'Access Packages' };

function helpMessage(serviceUrl: string) {
  return {
    type: 'message',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl,
    from: megan,
    recipient: BOT,
    conversation: { id: 'a:personal-megan', conversationType: 'personal', tenantId: TENANT },
    channelData: { tenant: { id: TENANT } },
    text: 'help',
  };
}

function notice(title: string): OutgoingCard {
  return { template: 'notice', data: { title, message: `${title}.`, tone: 'info', buttons: [] } };
}

describe('proactive messages end to end: task queue → notifier → CloudAdapter → connector', () => {
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string; clock: FakeClock; config: Config };
  let notifications: TaskNotifications;

  beforeAll(async () => {
    connector = new LoopbackConnector();
    await connector.start();
    app = await startTestApp();
    notifications = new TaskNotifications(app.repositories.tasks);
    // Megan talks to the bot once: her conversation reference is stored.
    expect((await postActivity(app.baseUrl, helpMessage(connector.serviceUrl))).status).toBe(200);
  });

  afterAll(async () => {
    try {
      await app?.close();
    } finally {
      await connector.stop();
    }
  });

  beforeEach(() => {
    connector.calls.length = 0;
    connector.resetResponses();
  });

  /** Notify tasks for `userId` (or tracked as `trackAs`), newest last. */
  async function tasksFor(match: { userId?: string; trackAs?: string; type?: string }): Promise<Task[]> {
    const filter: Record<string, unknown> = { type: match.type ?? NOTIFY_TASKS.send };
    if (match.userId) filter['payload.userId'] = match.userId;
    if (match.trackAs) filter['payload.trackAs'] = match.trackAs;
    const docs = byCreatedAt(await app.store.collection<StoredDocument & Omit<Task, 'id'>>('tasks').find(filter));
    return docs.map(({ _id, ...rest }) => ({ id: _id, ...rest }));
  }

  const titleOf = (call: RecordedCall) => cardText(cardOf(call.body)).split('\n')[0];
  const activityPosts = () => connector.calls.filter((c) => c.method === 'POST' && c.conversationId !== undefined);

  it('a card to a user with a stored reference goes into their chat', async () => {
    await notifications.send(megan.aadObjectId, notice('Your request was approved'), { trackAs: 'e2e:request-1' });
    await app.scheduler.tick();
    const [call] = activityPosts();
    expect(call).toMatchObject({ conversationId: 'a:personal-megan', status: 200 });
    expect(call!.body).toMatchObject({ type: 'message', from: { id: BOT.id }, conversation: { id: 'a:personal-megan' } });
    expect(titleOf(call!)).toBe('Your request was approved');
    expect((await tasksFor({ trackAs: 'e2e:request-1' }))[0]).toMatchObject({ state: 'done' });
  });

  it('an update replaces that card in place: PUT to the same activity id', async () => {
    const sent = await app.repositories.sentCards.get('e2e:request-1');
    expect(sent).not.toBeNull();
    app.clock.advance(1000);
    await notifications.update('e2e:request-1', notice('Access delivered'));
    await app.taskRunner.run();
    const puts = connector.calls.filter((c) => c.method === 'PUT');
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ conversationId: 'a:personal-megan', activityId: sent!.activityId, status: 200 });
    expect(titleOf(puts[0]!)).toBe('Access delivered');
  });

  it('a card to a user without a reference opens a 1:1 chat first (POST /v3/conversations)', async () => {
    const alex = '0f1e2d3c-4b5a-4697-8a7b-6c5d4e3f2a1b';
    await notifications.send(alex, notice('Please approve a request'));
    await app.taskRunner.run();
    expect(connector.calls.map((c) => c.path.replace(/\/activities\/.*$/, '/activities/…'))).toEqual([
      '/v3/conversations',
      expect.stringMatching(/^\/v3\/conversations\/conv-\d+\/activities\/…$/),
    ]);
    expect(connector.createdConversations[0]).toEqual({
      isGroup: false,
      bot: BOT,
      members: [{ id: alex }],
      tenantId: TENANT,
      channelData: { tenant: { id: TENANT } },
    });
    expect(titleOf(activityPosts()[0]!)).toBe('Please approve a request');
    expect(await app.repositories.conversationReferences.get(alex)).toMatchObject({ reference: { conversation: { id: activityPosts()[0]!.conversationId } } });
    expect((await tasksFor({ userId: alex }))[0]).toMatchObject({ state: 'done' });
  });

  it('429 then success: retried after Retry-After, delivered once', async () => {
    connector.respond(TEAMS_ERRORS.throttled(5));
    await notifications.send(megan.aadObjectId, notice('Throttled card'), { trackAs: 'e2e:throttled' });
    await app.taskRunner.run();
    const [task] = await tasksFor({ trackAs: 'e2e:throttled' });
    expect(task).toMatchObject({ state: 'pending', lastError: expect.stringContaining('429 Throttled') });
    expect(task!.dueAt.getTime() - app.clock.now().getTime()).toBe(5000);

    app.clock.advance(5000);
    await app.taskRunner.run();
    expect(connector.calls.map((c) => c.status)).toEqual([429, 200]);
    expect(activityPosts().filter((c) => c.status === 200).map(titleOf)).toEqual(['Throttled card']);
  });

  it('403 blocked by the user: the task fails with a clear error and is not retried', async () => {
    connector.respond(TEAMS_ERRORS.blockedByUser());
    await notifications.send(megan.aadObjectId, notice('Blocked card'), { trackAs: 'e2e:blocked' });
    await app.taskRunner.run();
    app.clock.advance(60 * 60_000);
    await app.taskRunner.run();
    const [task] = await tasksFor({ trackAs: 'e2e:blocked' });
    expect(task).toMatchObject({ state: 'failed', attempts: 1 });
    expect(task!.lastError).toBe(
      'sending notice to user 5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c: the user has blocked the bot (403 ConversationBlockedByUser: User blocked the conversation with the bot.)',
    );
    expect(connector.calls).toHaveLength(1);
    expect(await app.repositories.sentCards.get('e2e:blocked')).toBeNull();
  });

  it('404 conversation not found: the reference is dropped and the chat recreated', async () => {
    connector.dropConversation('a:personal-megan');
    await notifications.send(megan.aadObjectId, notice('After chat deleted'), { trackAs: 'e2e:recreated' });
    await app.taskRunner.run();
    expect(connector.calls.map((c) => [c.method, c.conversationId ?? c.path, c.status])).toEqual([
      ['POST', 'a:personal-megan', 404],
      ['POST', '/v3/conversations', 200],
      ['POST', expect.stringMatching(/^conv-\d+$/), 200],
    ]);
    expect(connector.createdConversations[0]).toMatchObject({ members: [{ id: megan.aadObjectId }], bot: BOT, tenantId: TENANT });
    const ref = await app.repositories.conversationReferences.get(megan.aadObjectId);
    const newConversation = activityPosts()[1]!.conversationId;
    expect(ref).toMatchObject({ reference: { conversation: { id: newConversation }, serviceUrl: connector.serviceUrl } });
    expect((await tasksFor({ trackAs: 'e2e:recreated' }))[0]).toMatchObject({ state: 'done' });

    // The next card goes straight to the new chat.
    connector.calls.length = 0;
    await notifications.send(megan.aadObjectId, notice('Next card'));
    await app.taskRunner.run();
    expect(connector.calls.map((c) => c.conversationId)).toEqual([newConversation]);
  });
});
