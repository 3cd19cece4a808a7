import { ClaimsIdentity } from 'botframework-connector';
import type { Activity } from 'botbuilder';
import { ADMIN_CHANNEL_SETTING } from '../../src/services/adminNotices';
import { type BotHarness, cardText, cardOf, createBotHarness, personalMessage, TENANT } from '../support/botHarness';

// Where the bot sends later is learnt from activities, so only an activity whose serviceUrl the
// Bot Framework vouched for may teach it (src/bot/trustedOrigin.ts).

const megan = { aadObjectId: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', name: 'Megan Bowen' };
const ivan = { aadObjectId: '0f1e2d3c-4b5a-4697-8a7b-6c5d4e3f2a1b', name: 'Ivan Admin' };
const TEAMS_URL = 'https://smba.trafficmanager.net/emea/';
const OTHER_URL = 'https://attacker.example/';
const BOT = { id: '28:bot-id', name: 'Access Packages' };

/** A validated channel token whose serviceurl claim names `claimed` (what the SDK accepts only when it equals the activity's). */
const tokenFor = (claimed: string) => () => new ClaimsIdentity([{ type: 'serviceurl', value: claimed }, { type: 'ver', value: '1.0' }, { type: 'aud', value: 'app' }], true);

describe('remembering where to reach people (TestAdapter)', () => {
  let h: BotHarness | undefined;
  afterEach(() => h?.close());

  async function send(harness: BotHarness, activity: Partial<Activity>): Promise<void> {
    await harness.adapter.send(activity).assertReply(() => undefined);
  }

  it('a vouched-for activity records the user\'s reference and the bot\'s address in the tenant', async () => {
    h = await createBotHarness();
    await send(h, personalMessage(megan, 'help', { serviceUrl: TEAMS_URL, recipient: BOT }));
    expect((await h.repositories.conversationReferences.get(megan.aadObjectId))?.reference).toMatchObject({ serviceUrl: TEAMS_URL });
    expect(await h.repositories.conversationReferences.botAddress(TENANT)).toMatchObject({ tenantId: TENANT, serviceUrl: TEAMS_URL, bot: BOT });
  });

  it('a token that vouches for another URL than the activity names: nothing is remembered', async () => {
    h = await createBotHarness({ identity: tokenFor(TEAMS_URL) });
    await send(h, personalMessage(megan, 'help', { serviceUrl: OTHER_URL, recipient: BOT }));
    expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
    expect(await h.repositories.conversationReferences.botAddress(TENANT)).toBeNull();
  });

  it('a token without a serviceurl claim (e.g. an emulator token) authenticates the caller, not the URL', async () => {
    h = await createBotHarness({ identity: () => new ClaimsIdentity([{ type: 'ver', value: '1.0' }, { type: 'appid', value: 'app' }], true) });
    await send(h, personalMessage(megan, 'help', { serviceUrl: TEAMS_URL, recipient: BOT }));
    expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
    expect(await h.repositories.conversationReferences.botAddress()).toBeNull();
  });

  it('with authentication disabled only loopback URLs (the Agents Playground) are remembered', async () => {
    const anonymous = () => new ClaimsIdentity([], 'anonymous');
    h = await createBotHarness({ identity: anonymous });
    await send(h, personalMessage(megan, 'help', { serviceUrl: OTHER_URL, recipient: BOT }));
    await send(h, personalMessage(megan, 'help', { serviceUrl: 'http://127.0.0.1.attacker.example/', recipient: BOT }));
    expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
    expect(await h.repositories.conversationReferences.botAddress()).toBeNull();
    await send(h, personalMessage(megan, 'help', { serviceUrl: 'http://localhost:56150/', recipient: BOT }));
    expect((await h.repositories.conversationReferences.get(megan.aadObjectId))?.reference).toMatchObject({ serviceUrl: 'http://localhost:56150/' });
    expect(await h.repositories.conversationReferences.botAddress(TENANT)).toMatchObject({ serviceUrl: 'http://localhost:56150/' });
  });

  it('an unauthenticated identity (no token at all) teaches nothing', async () => {
    h = await createBotHarness({ identity: () => undefined });
    await send(h, personalMessage(megan, 'help', { serviceUrl: 'http://localhost:56150/', recipient: BOT }));
    expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
    expect(await h.repositories.conversationReferences.botAddress()).toBeNull();
  });

  it('the bot address stays per tenant: a later activity from another tenant does not move this tenant\'s', async () => {
    h = await createBotHarness();
    await send(h, personalMessage(megan, 'help', { serviceUrl: TEAMS_URL, recipient: BOT }));
    const otherTenant = '99999999-0000-0000-0000-000000000009';
    await send(h, personalMessage(ivan, 'help', {
      serviceUrl: 'https://smba.trafficmanager.net/amer/', recipient: BOT,
      conversation: { id: 'a:ivan', conversationType: 'personal', tenantId: otherTenant, isGroup: false, name: '' },
      channelData: { tenant: { id: otherTenant } },
    }));
    expect(await h.repositories.conversationReferences.botAddress(TENANT)).toMatchObject({ serviceUrl: TEAMS_URL });
    expect(await h.repositories.conversationReferences.botAddress(otherTenant.toUpperCase())).toMatchObject({ serviceUrl: 'https://smba.trafficmanager.net/amer/' });
  });

  it('notices here from a channel whose address was not vouched for binds nothing and says why', async () => {
    h = await createBotHarness({ adminUserIds: [ivan.aadObjectId], identity: tokenFor(TEAMS_URL) });
    const channel = {
      serviceUrl: OTHER_URL, recipient: BOT,
      conversation: { id: '19:notices@thread.tacv2', conversationType: 'channel', tenantId: TENANT, isGroup: true, name: '' },
      channelData: { tenant: { id: TENANT }, channel: { id: '19:notices@thread.tacv2', name: 'Notices' }, team: { id: '19:team@thread.tacv2', name: 'IT' } },
    };
    await h.adapter.send(personalMessage(ivan, 'notices here', channel)).assertReply((reply) => {
      expect(cardText(cardOf(reply))).toContain("This channel's address couldn't be verified");
    });
    expect(await h.repositories.settings.get(ADMIN_CHANNEL_SETTING)).toBeUndefined();
    expect(await h.repositories.audit.latest({}, 10)).not.toContainEqual(expect.objectContaining({ action: 'admin.noticesBound' }));
  });
});
