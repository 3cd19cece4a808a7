import type { Activity } from 'botbuilder';
import { buildBot, registerTaskHandlers } from '../../src/composeBot';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { DirectoryError } from '../../src/directory/port';
import type { AccessRequest, Assignment, Task } from '../../src/domain/model';
import { newRequest } from '../../src/domain/newRequest';
import { TaskRunner } from '../../src/scheduler/taskRunner';
import { ADMIN_CHANNEL_SETTING, type AdminChannel } from '../../src/services/adminNotices';
import { DIGEST_TASK } from '../../src/services/digest';
import { NOTIFY_TASKS, type OutgoingCard } from '../../src/services/notifications';
import type { StoredDocument } from '../../src/store/port';
import { type BotHarness, cardInvoke, cardOf, cardText, createBotHarness, EXAMPLE_DIRECTORY, from, personalMessage, TENANT, type TeamsUser } from '../support/botHarness';
import { FaultyDirectory } from '../support/faultyDirectory';
import { silentLogger } from '../support/silentLogger';
import { byCreatedAt } from '../support/testStore';

const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' };
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const lynne: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000025', name: 'Lynne Robbins' };
const TEAM_ID = '19:team-it@thread.tacv2';
const CHANNEL_ID = '19:access-notices@thread.tacv2';
const BOT = { id: '28:bot', name: 'Access Packages' };
const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;

/** A message typed in a team channel, @mentioning the bot, as Teams sends it. */
function channelMessage(user: TeamsUser, text: string, channel: { id: string; name?: string } = { id: CHANNEL_ID, name: 'Access notices' }): Partial<Activity> {
  return {
    type: 'message',
    text: `<at>Access Packages</at> ${text}`,
    from: from(user),
    recipient: BOT,
    serviceUrl: 'https://smba.trafficmanager.net/emea/',
    entities: [{ type: 'mention', text: '<at>Access Packages</at>', mentioned: BOT }],
    conversation: { id: `${channel.id};messageid=1732265000000`, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: '' },
    channelData: { tenant: { id: TENANT }, team: { id: TEAM_ID, name: 'IT admins' }, channel: { ...channel } },
  };
}

type TaskDoc = StoredDocument & Omit<Task, 'id'> & { dedupeKey?: string };

describe('admin notices (TestAdapter)', () => {
  let h: BotHarness;
  let directory: FaultyDirectory;

  beforeEach(async () => {
    directory = new FaultyDirectory(await LocalDirectory.open({ file: EXAMPLE_DIRECTORY }));
    h = await createBotHarness({ exampleCatalog: true, directory, adminUserIds: ['u-ivan'] });
  });

  afterEach(() => h.close());

  async function say(activity: Partial<Activity>): Promise<string> {
    await h.adapter.processActivity(activity);
    const replies = h.adapter.activeQueue.splice(0);
    expect(replies).toHaveLength(1);
    return cardText(cardOf(replies[0]));
  }

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown>) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
  }

  async function drain(): Promise<void> {
    for (let i = 0; i < 10; i++) await h.taskRunner.run();
  }

  const tasks = () => h.store.collection<TaskDoc>('tasks');
  async function sends(): Promise<TaskDoc[]> {
    return byCreatedAt(await tasks().find({ type: NOTIFY_TASKS.send }));
  }
  const cardOfTask = (t: TaskDoc) => t.payload.card as OutgoingCard;
  const titleOf = (t: TaskDoc) => String(cardOfTask(t).data.title);
  async function toUser(userId: string): Promise<TaskDoc[]> {
    return (await sends()).filter((t) => t.payload.userId === userId);
  }
  async function toChannel(): Promise<TaskDoc[]> {
    return (await sends()).filter((t) => t.payload.channel !== undefined);
  }
  async function digestsTo(userId: string): Promise<TaskDoc[]> {
    return (await toUser(userId)).filter((t) => cardOfTask(t).template === 'adminDigest');
  }
  async function auditActions(action: string) {
    return (await h.repositories.audit.query()).filter((e) => e.action === action);
  }

  /** Fred (or another user) asks for Accounting; Nadia approves; delivery runs. */
  async function accountingApproved(user: TeamsUser): Promise<AccessRequest> {
    await press(user, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Team work', 'answer:costCentre': '4100' });
    await drain();
    const [request] = await h.repositories.requests.listForUser(user.aadObjectId);
    expect((await h.approvals.decide('u-nadia', { requestId: request!.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    await drain();
    return (await h.repositories.requests.get(request!.id))!;
  }

  describe('channel binding', () => {
    it('notices here in a channel binds notices to that channel (its root, not the thread); a delivery failure is then posted there', async () => {
      const reply = await say(channelMessage(ivan, 'notices here'));
      expect(reply).toContain('Admin notices now go to Access notices (IT admins)');

      const stored = (await h.repositories.settings.get<AdminChannel>(ADMIN_CHANNEL_SETTING))!;
      expect(stored).toMatchObject({ channelId: CHANNEL_ID, channelName: 'Access notices', teamId: TEAM_ID, teamName: 'IT admins', boundBy: 'u-ivan', boundAt: '2026-11-22T09:00:00.000Z' });
      expect(stored.reference).toMatchObject({ serviceUrl: 'https://smba.trafficmanager.net/emea/', bot: BOT, conversation: { id: CHANNEL_ID, conversationType: 'channel', tenantId: TENANT } });
      expect(stored.reference).not.toHaveProperty('activityId');
      expect((await auditActions('admin.noticesBound')).map((e) => [e.actorId, e.details])).toEqual([
        ['u-ivan', { channelId: CHANNEL_ID, channelName: 'Access notices', teamName: 'IT admins', teamId: TEAM_ID }],
      ]);

      directory.fail('addAppRoleAssignment', () => new DirectoryError('invalid', 'Graph rejected the request'), 2);
      await accountingApproved(fred);
      const posted = await toChannel();
      expect(posted.map(titleOf)).toEqual(['Delivery failed: Accounting for Fred Jansen']);
      expect(posted[0]!.payload.channel).toMatchObject({ label: 'Access notices (IT admins)', reference: { conversation: { id: CHANNEL_ID } } });
      expect(posted[0]!.dedupeKey).toMatch(/^notify\.send:failed:ASG-.*:0:channel:19:access-notices@thread\.tacv2$/);
      expect(await toUser('u-ivan')).toEqual([]); // not 1:1 as well
    });

    it('notices alone says where notices go; notices private goes back to 1:1 (audited), and a failure then reaches each admin', async () => {
      expect(await say(personalMessage(ivan, 'notices'))).toContain('Admin notices go to each admin 1:1');
      await say(channelMessage(ivan, 'notices here'));
      const shown = await say(personalMessage(ivan, 'notices'));
      expect(shown).toContain('Admin notices go to Access notices (IT admins)');
      expect(shown).toContain('Bound by Ivan Petrov on 22 Nov 2026 at 09:00 UTC');

      h.clock.advance(HOUR);
      expect(await say(personalMessage(ivan, 'notices private'))).toContain('Admin notices now go to each admin 1:1');
      expect(await h.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toBeUndefined();
      expect((await auditActions('admin.noticesUnbound')).map((e) => [e.actorId, e.details])).toEqual([['u-ivan', { channelId: CHANNEL_ID, channelName: 'Access notices', teamName: 'IT admins' }]]);

      // Again: nothing to undo, nothing audited.
      expect(await say(personalMessage(ivan, 'notices private'))).toContain('already go to each admin 1:1');
      expect(await auditActions('admin.noticesUnbound')).toHaveLength(1);

      directory.fail('addAppRoleAssignment', () => new DirectoryError('invalid', 'Graph rejected the request'), 2);
      await accountingApproved(fred);
      expect((await toUser('u-ivan')).map(titleOf)).toEqual(['Delivery failed: Accounting for Fred Jansen']);
      expect(await toChannel()).toEqual([]);
    });

    it('binding another channel replaces the first; the General channel (no name from Teams) is named General', async () => {
      await say(channelMessage(ivan, 'notices here'));
      h.clock.advance(HOUR);
      const reply = await say(channelMessage(ivan, 'notices here', { id: TEAM_ID }));
      expect(reply).toContain('Admin notices now go to General (IT admins)');
      expect(reply).toContain('They no longer go to Access notices (IT admins).');
      expect(await h.repositories.settings.get<AdminChannel>(ADMIN_CHANNEL_SETTING)).toMatchObject({ channelId: TEAM_ID, channelName: 'General' });
      expect((await auditActions('admin.noticesBound')).map((e) => e.details?.previousChannelId)).toEqual([undefined, CHANNEL_ID]);
    });

    it('notices here outside a channel explains how to bind and changes nothing; a wrong option gets the usage', async () => {
      const auditBefore = (await h.repositories.audit.query()).length;
      const personal = await say(personalMessage(ivan, 'notices here'));
      expect(personal).toContain('Type this in a Teams channel');
      expect(personal).toContain('"@Access Packages notices here"');
      const groupChat = await say({ ...personalMessage(ivan, 'notices here'), conversation: { id: '19:group@thread.v2', conversationType: 'groupChat', tenantId: TENANT, isGroup: true, name: '' } });
      expect(groupChat).toContain('this is a group chat');
      const wrong = await say(personalMessage(ivan, 'notices everywhere'));
      expect(wrong).toContain('Usage: notices, notices here or notices private');
      expect(wrong).toContain('"everywhere" isn\'t an option');
      expect(await h.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toBeUndefined();
      expect((await h.repositories.audit.query()).length).toBe(auditBefore);
    });

    it('non-admins are refused notices and digest: a clear message, audited, nothing changes', async () => {
      await say(channelMessage(ivan, 'notices here'));
      const setting = await h.repositories.settings.get(ADMIN_CHANNEL_SETTING);
      const tasksBefore = await tasks().count({});
      for (const activity of [channelMessage(fred, 'notices here'), personalMessage(fred, 'notices private'), personalMessage(fred, 'notices'), personalMessage(fred, 'digest')]) {
        const reply = await say(activity);
        expect(reply).toContain('Admins only');
        expect(reply).toMatch(/Only access package administrators can use (notices|digest)\./);
      }
      expect((await auditActions('admin.refused')).map((e) => [e.actorId, e.details])).toEqual([
        ['u-fred', { command: 'notices' }],
        ['u-fred', { command: 'notices' }],
        ['u-fred', { command: 'notices' }],
        ['u-fred', { command: 'digest' }],
      ]);
      expect(await h.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toEqual(setting);
      expect(await tasks().count({})).toBe(tasksBefore);
      expect(await auditActions('admin.noticesBound')).toHaveLength(1);
      expect(await auditActions('admin.noticesUnbound')).toHaveLength(0);
    });

    it('when the channel can no longer be reached, the notice goes to each admin 1:1, the binding is dropped and admins are told once', async () => {
      await say(channelMessage(ivan, 'notices here'));
      const binding = (await h.repositories.settings.get<AdminChannel>(ADMIN_CHANNEL_SETTING))!;
      await h.adminNotices.send({ template: 'notice', data: { title: 'Something failed', message: 'x', tone: 'error', buttons: [] } }, 'test:1');
      const [post] = await toChannel();
      const channel = post!.payload.channel as { reference: Record<string, unknown>; label: string; tag?: string };
      expect(channel.tag).toBe(binding.boundAt);

      // What the notifier reports after Teams answered 403 (the bot was removed from the team); twice, as a retried task would.
      const event = { channel, card: cardOfTask(post!), key: String(post!.payload.key), gone: true, reason: '403 BotNotInConversationRoster: The bot is not part of the conversation roster.' };
      await h.adminNotices.channelUnreachable(event);
      await h.adminNotices.channelUnreachable(event);
      expect(await h.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toBeUndefined();
      expect((await auditActions('admin.noticesUnbound')).map((e) => [e.actorId, e.details?.reason])).toEqual([['system', event.reason]]);
      expect((await toUser('u-ivan')).map(titleOf).sort()).toEqual(['Admin notices channel no longer works', 'Something failed']);
      expect(cardOfTask((await toUser('u-ivan')).find((t) => titleOf(t).startsWith('Admin notices'))!).data.message).toContain('could not post to Access notices (IT admins)');

      // A report about an older binding never drops a newer one.
      await say(channelMessage(ivan, 'notices here', { id: TEAM_ID }));
      await h.adminNotices.channelUnreachable({ ...event, key: 'test:2' });
      expect(await h.repositories.settings.get<AdminChannel>(ADMIN_CHANNEL_SETTING)).toMatchObject({ channelId: TEAM_ID });
      // The card still reaches the admins; no word of a lost channel while another one works.
      expect((await toUser('u-ivan')).map(titleOf).sort()).toEqual(['Admin notices channel no longer works', 'Something failed', 'Something failed']);
    });
  });

  describe('Reprocess pressed on a card everyone in the conversation sees', () => {
    const GROUP_CHAT = '19:admins-chat@thread.v2';

    /** Action.Execute from a card in the bound channel (or a group chat), as Teams sends it. */
    function sharedInvoke(user: TeamsUser, data: Record<string, unknown>, kind: 'channel' | 'groupChat' = 'channel'): Partial<Activity> {
      return cardInvoke(user, 'reprocess', data, {
        recipient: BOT,
        serviceUrl: 'https://smba.trafficmanager.net/emea/',
        ...(kind === 'channel'
          ? {
              conversation: { id: `${CHANNEL_ID};messageid=1732266000000`, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: '' },
              channelData: { tenant: { id: TENANT }, team: { id: TEAM_ID, name: 'IT admins' }, channel: { id: CHANNEL_ID, name: 'Access notices' } },
            }
          : { conversation: { id: GROUP_CHAT, conversationType: 'groupChat', tenantId: TENANT, isGroup: true, name: '' } }),
      });
    }

    /** Processes an invoke; returns its response and any messages the bot sent besides it. */
    async function invoke(activity: Partial<Activity>) {
      await h.adapter.processActivity(activity);
      const sent = h.adapter.activeQueue.splice(0).filter((a) => a.type !== 'invokeResponse');
      return { response: h.lastInvokeResponse(), sent };
    }

    /** Lynne's Accounting fails (no app role permission); its failure notice is posted in the bound channel. */
    async function failedInChannel(): Promise<string> {
      await say(channelMessage(ivan, 'notices here'));
      directory.fail('addAppRoleAssignment', () => new DirectoryError('forbidden', 'Graph refused to assign app role (403); the app needs the AppRoleAssignment.ReadWrite.All application permission with admin consent'), 2);
      const request = await accountingApproved(lynne);
      const failure = (await toChannel()).find((t) => titleOf(t).startsWith('Delivery failed'))!;
      expect(cardOfTask(failure).data.buttons).toEqual([{ title: 'Reprocess', verb: 'reprocess', id: request.assignmentId }]);
      return request.assignmentId!;
    }

    it('in the channel, the admin gets the answer as a message and the card stays; the delivery is redone', async () => {
      const assignmentId = await failedInChannel();
      expect((await h.repositories.assignments.get(assignmentId))!.state).toBe('partiallyDelivered');

      const { response, sent } = await invoke(sharedInvoke(ivan, { id: assignmentId }));
      expect(response).toEqual({
        status: 200,
        body: {
          statusCode: 200,
          type: 'application/vnd.microsoft.activity.message',
          value: `Reprocessing: Accounting. Every resource role of ${assignmentId} is being delivered again. The user and admins hear how it ends.`,
        },
      });
      expect(sent).toEqual([]); // nothing posted in the channel either
      expect((await h.repositories.assignments.get(assignmentId))!.state).toBe('delivering');
      await drain();
      expect((await h.repositories.assignments.get(assignmentId))!.state).toBe('delivered');
      expect((await auditActions('admin.reprocess')).map((e) => [e.actorId, e.assignmentId])).toEqual([['u-ivan', assignmentId]]);
    });

    it('in the channel, a non-admin\'s press is refused to them alone, audited, and changes nothing', async () => {
      const assignmentId = await failedInChannel();
      const before = await h.repositories.assignments.get(assignmentId);
      const refusals = (await auditActions('admin.refused')).length;

      const { response, sent } = await invoke(sharedInvoke(fred, { id: assignmentId }));
      expect(response?.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
      expect((response?.body as { value: string }).value).toMatch(/^Admins only\. /);
      expect(sent).toEqual([]);
      expect(await h.repositories.assignments.get(assignmentId)).toEqual(before);
      expect((await auditActions('admin.refused')).map((e) => e.actorId).slice(refusals)).toEqual(['u-fred']);
    });

    it('in a group chat too; a stale press says so in the message', async () => {
      const assignmentId = await failedInChannel();
      const first = await invoke(sharedInvoke(ivan, { id: assignmentId }, 'groupChat'));
      expect(first.response?.body).toMatchObject({ type: 'application/vnd.microsoft.activity.message', value: expect.stringContaining(`Every resource role of ${assignmentId} is being delivered again.`) });
      const unknown = await invoke(sharedInvoke(ivan, { id: 'ASG-NOPE' }, 'groupChat'));
      expect(unknown.response?.body).toMatchObject({ type: 'application/vnd.microsoft.activity.message', value: "Nothing to reprocess. There's no assignment or request ASG-NOPE." });
    });

    it('1:1 (the notice in the admin\'s own chat) the answer still replaces the card', async () => {
      directory.fail('addAppRoleAssignment', () => new DirectoryError('forbidden', 'Graph refused to assign app role (403)'), 2);
      const request = await accountingApproved(lynne);
      const { response } = await invoke(cardInvoke(ivan, 'reprocess', { id: request.assignmentId }));
      const body = response?.body as { type: string; value: Record<string, unknown> };
      expect(body.type).toBe('application/vnd.microsoft.card.adaptive');
      expect(cardText(body.value)).toContain('Reprocessing: Accounting');
    });

    it('other buttons pressed in a channel still answer with a card', async () => {
      const { response } = await invoke(cardInvoke(ivan, 'help', {}, { conversation: { id: `${CHANNEL_ID};messageid=1`, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: '' } }));
      expect((response?.body as { type: string }).type).toBe('application/vnd.microsoft.card.adaptive');
    });
  });

  describe('configuration errors', () => {
    const forbidden = (user: string) =>
      new DirectoryError(
        'forbidden',
        `Graph refused to add user '${user}' to group 'grp-finance' as member (403 Authorization_RequestDenied: Insufficient privileges to complete the operation.); the app needs the GroupMember.ReadWrite.All application permission with admin consent`,
      );

    it('a missing Graph permission: ONE configuration error notice per operation and day, naming the operation and the permission', async () => {
      directory.fail('addGroupRole', () => forbidden('u'), 100);
      await accountingApproved(fred);
      await accountingApproved(lynne);
      const titles = (await toUser('u-ivan')).map(titleOf);
      expect(titles.filter((t) => t.startsWith('Configuration error'))).toEqual(['Configuration error: adding group members']);
      expect(titles.filter((t) => t.startsWith('Delivery failed'))).toHaveLength(2); // each assignment still has its own, with Reprocess
      const notice = (await toUser('u-ivan')).find((t) => titleOf(t).startsWith('Configuration error'))!;
      expect(cardOfTask(notice).data.message).toContain('Microsoft Graph refused to let the bot add users to groups');
      expect(cardOfTask(notice).data.message).toContain('needs the GroupMember.ReadWrite.All application permission with admin consent');
      expect(directory.count('addGroupRole')).toBe(2); // not retried

      // The next day it is still broken: one more notice, for that day.
      h.clock.advance(DAY);
      const patti: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000024', name: 'Patti Fernandez' };
      await accountingApproved(patti);
      expect((await toUser('u-ivan')).map(titleOf).filter((t) => t.startsWith('Configuration error'))).toEqual(['Configuration error: adding group members', 'Configuration error: adding group members']);
    });

    it('other errors are not configuration errors; the notice follows the bound channel', async () => {
      directory.fail('addGroupRole', () => new DirectoryError('notFound', 'cannot add: group grp-finance does not exist'), 1);
      await accountingApproved(fred);
      expect((await toUser('u-ivan')).map(titleOf).filter((t) => t.startsWith('Configuration error'))).toEqual([]);

      await say(channelMessage(ivan, 'notices here'));
      directory.fail('addAppRoleAssignment', () => new DirectoryError('forbidden', "Graph refused to assign app role (403); the app needs the AppRoleAssignment.ReadWrite.All application permission with admin consent"), 2);
      await accountingApproved(lynne);
      expect((await toChannel()).map(titleOf).sort()).toEqual(['Configuration error: assigning app roles', 'Delivery failed: Accounting for Lynne Robbins']);
    });

    it('proactive installation refused: one notice per reason and day, however many instances report it', async () => {
      const forbiddenInstall = {
        reason: 'forbidden' as const,
        message: "Graph refused to install the Teams app 'app-1' for user 'u-nadia' (403); the app needs the TeamsAppInstallation.ReadWriteSelfForUser.All application permission with admin consent; until then, the user must open Access Packages in Teams once.",
      };
      await h.adminNotices.installRefused(forbiddenInstall);
      await h.adminNotices.installRefused(forbiddenInstall); // a second instance, the same day
      const notices = (await toUser('u-ivan')).filter((t) => titleOf(t) === 'Configuration error: installing the app for people');
      expect(notices).toHaveLength(1);
      expect(cardOfTask(notices[0]!).data.message).toContain('needs the TeamsAppInstallation.ReadWriteSelfForUser.All application permission');
      expect(cardOfTask(notices[0]!).data.message).toContain('Meanwhile it opens the chat directly');

      await h.adminNotices.installRefused({ reason: 'notFound', message: "the app 'app-1' is not in the tenant's app catalog (check TEAMS_APP_CATALOG_ID)" });
      h.clock.advance(DAY);
      await h.adminNotices.installRefused(forbiddenInstall);
      expect((await toUser('u-ivan')).filter((t) => titleOf(t) === 'Configuration error: installing the app for people')).toHaveLength(3);
    });
  });

  describe('the daily digest', () => {
    async function seedDigestData(): Promise<void> {
      const now = h.clock.now();
      const assignment = (id: string, overrides: Partial<Assignment>): Assignment => ({
        id,
        packageId: 'accounting',
        policyId: 'employees',
        userId: 'u-fred',
        state: 'delivered',
        startAt: new Date(now.getTime() - 30 * DAY),
        roles: [{ resource: 'finance-team', role: 'member', state: 'delivered' }],
        requestIds: [],
        createdAt: now,
        updatedAt: now,
        ...overrides,
      });
      await h.repositories.assignments.insert(assignment('ASG-FRED', { expiresAt: new Date(now.getTime() + 3 * DAY) }));
      await h.repositories.assignments.insert(assignment('ASG-LOLA', { userId: 'u-lola', expiresAt: new Date(now.getTime() + 2 * DAY) }));
      await h.repositories.assignments.insert(assignment('ASG-ALEX', { packageId: 'payment-run', policyId: 'finance-team', userId: '00000000-0000-0000-0000-0000000000020', expiresAt: new Date(now.getTime() + HOUR) }));
      await h.repositories.assignments.insert(assignment('ASG-LATER', { userId: 'u-victor', expiresAt: new Date(now.getTime() + 10 * DAY) })); // beyond 7 days
      await h.repositories.assignments.insert(assignment('ASG-GONE', { userId: 'u-nadia', state: 'removed', expiresAt: new Date(now.getTime() + DAY) })); // ended
      await h.repositories.assignments.insert(
        assignment('ASG-FAILED', {
          packageId: 'supplier-invoices',
          policyId: 'procurement',
          userId: lynne.aadObjectId,
          state: 'deliveryFailed',
          roles: [{ resource: 'accounting-app', role: 'role-accounting-user', state: 'failed', error: 'configuration error: the app needs AppRoleAssignment.ReadWrite.All' }],
        }),
      );
      // Accounting's stage is P7D: started 6 days ago = denied automatically tomorrow; started today = in a week.
      const pending = (id: string, userId: string, startedAt: Date): AccessRequest => ({
        ...newRequest({ id, type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: userId, targetUserId: userId, state: 'pendingApproval', schedule: {}, now: startedAt }),
        stages: [{ index: 0, approverIds: ['u-nadia'], startedAt }],
      });
      await h.repositories.requests.insert(pending('REQ-SOON', 'u-victor', new Date(now.getTime() - 6 * DAY)));
      await h.repositories.requests.insert(pending('REQ-FRESH', 'u-grace', now));
      const escalated = { actorId: 'system', action: 'approval.escalated', packageId: 'accounting', userId: 'u-victor', requestId: 'REQ-SOON', details: { stage: 0, addedApproverIds: ['00000000-0000-0000-0000-0000000000024'] } };
      h.clock.advance(-2 * DAY);
      await h.repositories.audit.append({ ...escalated, requestId: 'REQ-OLD' }); // two days ago: not listed
      h.clock.advance(2 * DAY - 2 * HOUR);
      await h.repositories.audit.append(escalated);
      h.clock.advance(2 * HOUR);
    }

    it('digest: the digest now, as the reply, with every section from the store', async () => {
      await seedDigestData();
      await h.adapter.processActivity(personalMessage(ivan, 'digest'));
      const [reply] = h.adapter.activeQueue.splice(0);
      const card = cardOf(reply)!;
      const text = cardText(card);
      expect(text).toContain('Admin digest: 22 Nov 2026');
      expect(text).toContain('Asked for now. The daily digest goes out at 08:00 UTC to each admin 1:1.');
      expect(text).toContain('Expiring in the next 7 days (3)');
      expect(text).toContain('Payment run (just-in-time): 1 assignment expires:');
      // The package name is the bold run of its line.
      expect(JSON.stringify(card)).toContain('{"type":"TextRun","text":"Payment run (just-in-time)","weight":"Bolder"}');
      expect(text).toContain('• Alex Wilber: 22 Nov 2026 at 10:00 UTC');
      expect(text).toContain('Accounting: 2 assignments expire:');
      expect(text).toMatch(/• Lola Martin: 24 Nov 2026 at 09:00 UTC\n• Fred Jansen: 25 Nov 2026 at 09:00 UTC/);
      expect(text).not.toContain('Victor Hale: 2 Dec');
      expect(text).not.toContain('Nadia Okafor: 23 Nov');
      expect(text).toContain('Failed deliveries (1)');
      expect(text).toContain('Supplier invoices for Lynne Robbins: not delivered');
      expect(text).toContain('Not delivered: Accounting (User). Reason: configuration error: the app needs AppRoleAssignment.ReadWrite.All.');
      expect(JSON.stringify(card)).toContain('"data":{"verb":"reprocess","id":"ASG-FAILED"}');
      expect(text).toContain('Requests timing out soon (1)');
      expect(text).toContain('Accounting for Victor Hale (REQ-SOON)');
      expect(text).toContain('The approval is denied automatically on 23 Nov 2026 at 09:00 UTC unless Nadia Okafor decides.');
      expect(text).not.toContain('REQ-FRESH');
      expect(text).toContain('Approvals escalated in the last 24 hours (1)');
      expect(text).toContain('Step 1 was escalated on 22 Nov 2026 at 07:00 UTC to Patti Fernandez.');
      expect(text).not.toContain('REQ-OLD');
      expect(text).not.toContain('All quiet');

      // The Reprocess button works from the digest (the admin verb, behind the gate).
      await press(ivan, 'reprocess', { id: 'ASG-FAILED' });
      expect((await h.repositories.assignments.get('ASG-FAILED'))!.state).toBe('delivering');
    });

    it('a digest with nothing to report still goes out, saying "All quiet"', async () => {
      const text = await say(personalMessage(ivan, 'digest'));
      expect(text).toContain('All quiet');
      expect(text).toContain('Nothing expires in the next 7 days.');
      expect(text).toContain('No delivery has failed.');
    });

    it('goes out every day at 08:00 UTC as one durable task per day, each run queuing the next', async () => {
      await h.digest.ensureScheduled();
      await h.digest.ensureScheduled(); // once per day, however often the job runs
      const queued = await tasks().find({ type: DIGEST_TASK });
      expect(queued.map((t) => [t.payload.day, t.dueAt.toISOString(), t.dedupeKey])).toEqual([['2026-11-23', '2026-11-23T08:00:00.000Z', 'admin.digest:2026-11-23']]);

      await drain(); // 22 Nov 09:00: not due yet
      expect(await digestsTo('u-ivan')).toEqual([]);

      for (const day of ['2026-11-23', '2026-11-24', '2026-11-25']) {
        h.clock.set(`${day}T08:00:05Z`);
        await h.digest.ensureScheduled();
        await drain();
        h.clock.set(`${day}T20:00:00Z`);
        await h.digest.ensureScheduled();
        await drain();
      }
      const digests = await digestsTo('u-ivan');
      expect(digests.map((t) => t.dedupeKey)).toEqual(['notify.send:digest:2026-11-23:u-ivan', 'notify.send:digest:2026-11-24:u-ivan', 'notify.send:digest:2026-11-25:u-ivan']);
      expect(digests.map((t) => cardOfTask(t).data.title)).toEqual(['Admin digest: 23 Nov 2026', 'Admin digest: 24 Nov 2026', 'Admin digest: 25 Nov 2026']);
      const pending = await tasks().find({ type: DIGEST_TASK, state: 'pending' });
      expect(pending.map((t) => t.payload.day)).toEqual(['2026-11-26']);
    });

    it('goes to the bound channel once one is bound', async () => {
      await say(channelMessage(ivan, 'notices here'));
      await h.digest.ensureScheduled();
      h.clock.set('2026-11-23T08:00:00Z');
      await drain();
      const posted = await toChannel();
      expect(posted.map((t) => cardOfTask(t).template)).toEqual(['adminDigest']);
      expect(await digestsTo('u-ivan')).toEqual([]);
    });

    it('after downtime: ONE digest, for the latest missed day, saying it stands for the missed ones', async () => {
      await h.digest.ensureScheduled();
      h.clock.set('2026-11-23T08:00:00Z');
      await drain();
      expect(await digestsTo('u-ivan')).toHaveLength(1);

      // Down from 23 Nov evening to 27 Nov 10:00: the digests of 24, 25, 26 and 27 Nov were missed.
      h.clock.set('2026-11-27T10:00:00Z');
      await h.digest.ensureScheduled(); // start-up
      await drain();
      const digests = await digestsTo('u-ivan');
      expect(digests.map((t) => t.dedupeKey)).toEqual(['notify.send:digest:2026-11-23:u-ivan', 'notify.send:digest:2026-11-27:u-ivan']);
      expect(cardOfTask(digests[1]!).data.note).toBe('Catch-up: the bot was not running at 08:00 UTC on 24 Nov 2026 to 27 Nov 2026. This one digest stands for the missed ones.');
      expect((await tasks().find({ type: DIGEST_TASK, state: 'pending' })).map((t) => t.payload.day)).toEqual(['2026-11-28']);

      // Back to normal the next day.
      h.clock.set('2026-11-28T08:00:00Z');
      await drain();
      expect((await digestsTo('u-ivan')).map((t) => cardOfTask(t).data.note)).toEqual(['', expect.stringMatching(/^Catch-up/), '']);
    });

    it('a later ADMIN_DIGEST_TIME is honoured by a task queued under the old one', async () => {
      await h.digest.ensureScheduled(); // 23 Nov 08:00
      const later = buildBot({ repositories: h.repositories, directory, clock: h.clock, logger: silentLogger, admins: { userIds: ['u-ivan'] }, adminNotices: { digestTimeUtc: '10:30', digestDays: 7 }, delivery: { writesPerSecond: 1000, maxAttempts: 5 } });
      const runner = new TaskRunner(h.repositories.tasks, () => h.clock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 100, workerId: 'later' });
      registerTaskHandlers(runner, later);
      h.clock.set('2026-11-23T08:00:00Z');
      await runner.run();
      expect(await digestsTo('u-ivan')).toEqual([]);
      h.clock.set('2026-11-23T10:30:00Z');
      await runner.run();
      expect(await digestsTo('u-ivan')).toHaveLength(1);
    });

    it('several instances: one digest per day (task dedupe and leases), even when a run is repeated after a lost lease', async () => {
      // A second instance on the same store: its own services, scheduler job and task runner.
      const other = buildBot({ repositories: h.repositories, directory, clock: h.clock, logger: silentLogger, admins: { userIds: ['u-ivan'] }, delivery: { writesPerSecond: 1000, maxAttempts: 5 } });
      const otherRunner = new TaskRunner(h.repositories.tasks, () => h.clock.now(), silentLogger, { leaseMs: 60_000, maxPerTick: 100, workerId: 'other' });
      registerTaskHandlers(otherRunner, other);

      for (const day of ['2026-11-23', '2026-11-24']) {
        h.clock.set(`${day}T08:00:00Z`);
        await Promise.all([h.digest.ensureScheduled(), other.digest.ensureScheduled()]);
        await Promise.all([h.taskRunner.run(), otherRunner.run(), h.taskRunner.run(), otherRunner.run()]);
      }
      expect((await digestsTo('u-ivan')).map((t) => t.dedupeKey)).toEqual(['notify.send:digest:2026-11-23:u-ivan', 'notify.send:digest:2026-11-24:u-ivan']);
      expect(await tasks().count({ type: DIGEST_TASK })).toBe(3); // 23, 24 and the queued 25

      // An instance dies holding the 25 Nov task; once its lease lapses another runs it: still one digest.
      h.clock.set('2026-11-25T08:00:00Z');
      const [claimed] = await h.repositories.tasks.claimBatch('dead-instance', 60_000, 1, [DIGEST_TASK]);
      expect(claimed!.payload.day).toBe('2026-11-25');
      await other.digest.runScheduled(claimed!.payload); // it had sent the digest before dying
      h.clock.advance(2 * 60_000);
      await Promise.all([h.taskRunner.run(), otherRunner.run()]);
      expect((await digestsTo('u-ivan')).map((t) => t.dedupeKey)).toEqual(['notify.send:digest:2026-11-23:u-ivan', 'notify.send:digest:2026-11-24:u-ivan', 'notify.send:digest:2026-11-25:u-ivan']);
      expect((await tasks().find({ type: DIGEST_TASK, state: 'pending' })).map((t) => t.payload.day)).toEqual(['2026-11-26']);
    });

    it('a malformed digest task fails with a reason instead of sending anything', async () => {
      expect(await h.digest.runScheduled({ day: '23/11/2026' })).toEqual({ status: 'failed', error: 'malformed admin.digest task: day must be YYYY-MM-DD' });
      expect(await sends()).toEqual([]);
    });
  });
});
