import { randomUUID } from 'node:crypto';
import type { RunningApp } from '../../src/app';
import type { Config } from '../../src/config';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { DirectoryError } from '../../src/directory/port';
import { ADMIN_CHANNEL_SETTING } from '../../src/services/adminNotices';
import { cardOf, cardText, EXAMPLE_DIRECTORY } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { FaultyDirectory } from '../support/faultyDirectory';
import type { FakeClock } from '../support/fakeClock';
import { LoopbackConnector, type RecordedCall, TEAMS_ERRORS } from '../support/loopbackConnector';
import { drainTasks, postActivity, startTestApp } from '../support/testApp';
import { personalActivity } from '../support/teamsActivity';

// Admin notices end to end: the real /api/messages endpoint binds the channel, delivery fails
// against the directory, the scheduler loop (digest job + task runner) drives the notifier, and
// the loopback connector records where each card was posted.
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };
const TEAM_ID = '19:team-it@thread.tacv2';
const CHANNEL_ID = '19:access-notices@thread.tacv2';

interface Person {
  aadObjectId: string;
  name: string;
}
const ivan: Person = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' };
const fred: Person = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: Person = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };

describe('admin notices end to end through /api/messages', () => {
  let connector: LoopbackConnector;
  let directory: FaultyDirectory;
  let app: RunningApp & { baseUrl: string; clock: FakeClock; config: Config };

  beforeEach(async () => {
    connector = new LoopbackConnector();
    await connector.start();
    directory = new FaultyDirectory(await LocalDirectory.open({ file: EXAMPLE_DIRECTORY }));
    app = await startTestApp({ TENANT_ID: TENANT, ADMIN_USER_IDS: 'u-ivan' }, { directory });
  });

  afterEach(async () => {
    try {
      await app?.close();
    } finally {
      await connector.stop();
    }
  });

  function personal(person: Person, extra: Record<string, unknown>) {
    return personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, person, extra);
  }

  /** "@Access Packages <text>" typed in the team channel: a new thread whose id carries ;messageid=. */
  function inChannel(person: Person, text: string) {
    const id = randomUUID();
    return {
      ...personal(person, {}),
      id,
      type: 'message',
      text: `<at>Access Packages</at> ${text}`,
      entities: [{ type: 'mention', text: '<at>Access Packages</at>', mentioned: BOT }],
      conversation: { id: `${CHANNEL_ID};messageid=${id}`, conversationType: 'channel', tenantId: TENANT, isGroup: true },
      channelData: { tenant: { id: TENANT }, team: { id: TEAM_ID, name: 'IT admins' }, channel: { id: CHANNEL_ID, name: 'Access notices' } },
    };
  }

  async function press(person: Person, data: Record<string, unknown>): Promise<void> {
    const response = await postActivity(app.baseUrl, personal(person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }));
    expect(response.status).toBe(200);
  }

  /** Scheduler ticks (digest job, then due tasks) until nothing more falls due. */
  async function drain(): Promise<void> {
    await drainTasks(app, () => app.scheduler.tick());
  }

  /**
   * Cards posted into exactly this conversation id. For the channel that means new posts: a reply
   * in a thread goes to "<channel id>;messageid=<root>", which Teams shows inside that thread.
   */
  function postedTo(conversationId: string): { call: RecordedCall; title: string; text: string }[] {
    return connector.calls
      .filter((c) => c.method === 'POST' && c.conversationId === conversationId && c.status < 300 && cardOf(c.body))
      .map((call) => {
        const text = cardText(cardOf(call.body));
        return { call, text, title: text.split('\n')[0]! };
      });
  }

  /** Ivan's 1:1 chat: his own conversation, or one the bot opened with him. */
  function toIvan(): { title: string; text: string }[] {
    const opened = connector.calls.filter((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[])[0]?.id === ivan.aadObjectId).map((c) => c.responseId!);
    return [`a:personal-${ivan.aadObjectId}`, ...opened].flatMap((id) => postedTo(id));
  }

  async function say(activity: Record<string, unknown>): Promise<string> {
    const before = connector.calls.length;
    expect((await postActivity(app.baseUrl, activity)).status).toBe(200);
    const reply = connector.calls.slice(before).find((c) => c.method === 'POST' && cardOf(c.body));
    expect(reply).toBeDefined();
    return cardText(cardOf(reply!.body));
  }

  /** Fred asks for Accounting; Nadia approves; delivery runs (and fails as the directory is set up to). */
  async function accountingForFred(): Promise<void> {
    await postActivity(app.baseUrl, personal(fred, { type: 'message', text: 'help' }));
    await press(fred, { verb: 'submitRequest', packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' });
    await drain();
    const [request] = await app.repositories.requests.listForUser(fred.aadObjectId);
    await press(nadia, { verb: 'decide', requestId: request!.id, stage: 0, decision: 'approve' });
    await drain();
  }

  it('bound channel: the delivery failure, the configuration error and the daily digest are new posts in the channel, not 1:1', async () => {
    const reply = await say(inChannel(ivan, 'notices here'));
    expect(reply).toContain('Admin notices now go to Access notices (IT admins)');

    directory.fail('addGroupRole', () => new DirectoryError('forbidden', "Graph refused to add user 'u-fred' to group 'grp-finance' as member (403 Authorization_RequestDenied); the app needs the GroupMember.ReadWrite.All application permission with admin consent"), 5);
    await accountingForFred();

    const posts = postedTo(CHANNEL_ID); // the channel itself: the binding dropped ;messageid=
    expect(posts.map((p) => p.title).sort()).toEqual(['Configuration error: adding group members', 'Delivery failed: Accounting for Fred Jansen']);
    for (const post of posts) {
      expect(post.call.body).toMatchObject({ type: 'message', from: { id: BOT.id }, conversation: { id: CHANNEL_ID } });
      expect(validateCard(cardOf(post.call.body)!)).toEqual([]);
    }
    expect(posts.find((p) => p.title.startsWith('Configuration'))!.text).toContain('GroupMember.ReadWrite.All');
    expect(toIvan()).toEqual([]);

    // The next morning at 08:00 UTC the digest is posted there, listing the failure with a Reprocess button.
    app.clock.set('2026-11-23T08:00:00Z');
    await drain();
    const digest = postedTo(CHANNEL_ID).find((p) => p.title === 'Admin digest: 23 Nov 2026');
    expect(digest).toBeDefined();
    expect(digest!.text).toContain('Failed deliveries (1)');
    expect(digest!.text).toContain('Accounting for Fred Jansen: partly delivered');
    expect(JSON.stringify(cardOf(digest!.call.body))).toContain('"verb":"reprocess"');
    expect(validateCard(cardOf(digest!.call.body)!)).toEqual([]);
    expect(postedTo(CHANNEL_ID).filter((p) => p.title.startsWith('Admin digest'))).toHaveLength(1);
  });

  it('unbound: the failure notice and the digest reach the admin 1:1', async () => {
    directory.fail('addAppRoleAssignment', () => new DirectoryError('invalid', 'Graph rejected the request to assign app role'), 2);
    await accountingForFred();
    expect(toIvan().map((p) => p.title)).toEqual(['Delivery failed: Accounting for Fred Jansen']);
    expect(connector.createdConversations.map((b) => (b.members as { id: string }[])[0]!.id)).toContain('u-ivan'); // he never wrote to the bot

    app.clock.set('2026-11-23T08:00:00Z');
    await drain();
    expect(toIvan().map((p) => p.title)).toEqual(['Delivery failed: Accounting for Fred Jansen', 'Admin digest: 23 Nov 2026']);
    expect(postedTo(CHANNEL_ID)).toEqual([]);
  });

  it('notices private, typed 1:1, moves notices from the channel back to the admin', async () => {
    await say(inChannel(ivan, 'notices here'));
    expect(await say(personal(ivan, { type: 'message', text: 'notices private' }))).toContain('Admin notices now go to each admin 1:1');
    app.clock.set('2026-11-23T08:00:00Z');
    await drain();
    expect(toIvan().map((p) => p.title)).toContain('Admin digest: 23 Nov 2026');
    expect(postedTo(CHANNEL_ID)).toEqual([]);
  });

  it('the bot removed from the team (404): the digest still reaches the admin 1:1, with word that the channel no longer works', async () => {
    // Someone has used the bot 1:1, so it knows its own Teams address for opening a chat with Ivan.
    await postActivity(app.baseUrl, personal(fred, { type: 'message', text: 'help' }));
    await say(inChannel(ivan, 'notices here'));
    connector.dropConversation(CHANNEL_ID);
    app.clock.set('2026-11-23T08:00:00Z');
    await drain();
    expect(connector.calls.some((c) => c.conversationId === CHANNEL_ID && c.status === 404)).toBe(true);
    expect(toIvan().map((p) => p.title).sort()).toEqual(['Admin digest: 23 Nov 2026', 'Admin notices channel no longer works']);
    expect(await app.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toBeUndefined();

    // From now on notices go 1:1 directly, without trying the channel.
    const channelCalls = connector.calls.filter((c) => c.conversationId === CHANNEL_ID).length;
    app.clock.set('2026-11-24T08:00:00Z');
    await drain();
    expect(toIvan().filter((p) => p.title === 'Admin digest: 24 Nov 2026')).toHaveLength(1);
    expect(connector.calls.filter((c) => c.conversationId === CHANNEL_ID)).toHaveLength(channelCalls);
  });

  it('a throttled channel post waits and is posted once; a channel that keeps failing hands the notice to the admins but stays bound', async () => {
    await postActivity(app.baseUrl, personal(fred, { type: 'message', text: 'help' }));
    await say(inChannel(ivan, 'notices here'));
    const intoChannel = (c: RecordedCall) => c.conversationId === CHANNEL_ID;

    connector.respond(TEAMS_ERRORS.throttled(30), { when: intoChannel });
    app.clock.set('2026-11-23T08:00:00Z');
    await drain();
    expect(postedTo(CHANNEL_ID)).toEqual([]); // waiting out Retry-After
    app.clock.advance(30_000);
    await drain();
    expect(postedTo(CHANNEL_ID).map((p) => p.title)).toEqual(['Admin digest: 23 Nov 2026']);
    expect(toIvan()).toEqual([]);

    // Teams answers 502 to every post into the channel: retried with back-off, then given up.
    connector.respond(TEAMS_ERRORS.serviceError(502), { when: intoChannel, times: 100 });
    app.clock.set('2026-11-24T08:00:00Z');
    for (let i = 0; i < 12; i++) {
      await drain();
      app.clock.advance(15 * 60_000);
    }
    expect(connector.calls.filter((c) => intoChannel(c) && c.status === 502).length).toBe(app.config.notify.maxAttempts);
    expect(toIvan().map((p) => p.title)).toEqual(['Admin digest: 24 Nov 2026']);
    expect(await app.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toMatchObject({ channelId: CHANNEL_ID }); // not a lost channel
  });
});
