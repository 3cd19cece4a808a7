import type { Activity } from 'botbuilder';
import { type BotHarness, cardButtons, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, TENANT } from '../support/botHarness';
import { memoryLogger } from '../support/silentLogger';

const megan = { aadObjectId: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', name: 'Megan Bowen' };

describe('bot basics (TestAdapter)', () => {
  let h: BotHarness;

  beforeEach(async () => {
    h = await createBotHarness();
  });

  afterEach(() => h.close());

  it('answers help with the help card', async () => {
    await h.adapter.send(personalMessage(megan, 'help')).assertReply((reply) => {
      const card = cardOf(reply);
      expect(card).toBeDefined();
      expect(cardText(card)).toContain('Access Packages');
      expect(cardText(card)).toContain('Show what you can do here.');
    });
  });

  it('answers an empty message with help rather than silence', async () => {
    await h.adapter.send(personalMessage(megan, '   ')).assertReply((reply) => {
      expect(cardText(cardOf(reply))).toContain('Show what you can do here.');
    });
  });

  it('answers unknown text with a helpful card, suggesting the closest command', async () => {
    await h.adapter.send(personalMessage(megan, 'hlep')).assertReply((reply) => {
      const text = cardText(cardOf(reply));
      expect(text).toContain('I didn\'t understand "hlep"');
      expect(text).toContain('Did you mean **help**?');
      expect(cardButtons(cardOf(reply))).toEqual(['Help']);
    });
    await h.adapter.send(personalMessage(megan, 'what is the weather')).assertReply((reply) => {
      const text = cardText(cardOf(reply));
      expect(text).toContain('I didn\'t understand "what is the weather"');
      expect(text).toContain('Here is what I can do:');
    });
  });

  it('refuses oversize text with a specific message', async () => {
    await h.adapter.send(personalMessage(megan, 'x'.repeat(2001))).assertReply((reply) => {
      expect(cardText(cardOf(reply))).toContain('That message is too long');
    });
  });

  it('removes an @mention before reading the command (channels and group chats)', async () => {
    await h.adapter
      .send(
        personalMessage(megan, '<at>Access Packages</at> help', {
          recipient: { id: 'bot-id', name: 'Access Packages' },
          entities: [{ type: 'mention', text: '<at>Access Packages</at>', mentioned: { id: 'bot-id', name: 'Access Packages' } }],
        }),
      )
      .assertReply((reply) => expect(cardText(cardOf(reply))).toContain('Show what you can do here.'));
  });

  it('stores the conversation reference of every user who writes', async () => {
    await h.adapter.send(personalMessage(megan, 'help')).assertReply(() => undefined);
    const stored = await h.repositories.conversationReferences.get(megan.aadObjectId);
    expect(stored).toMatchObject({ id: megan.aadObjectId, tenantId: TENANT });
    expect(stored!.reference).toMatchObject({ conversation: { id: `a:personal-${megan.aadObjectId}` }, user: { aadObjectId: megan.aadObjectId } });
  });

  it('does not store a channel conversation as the user\'s personal chat', async () => {
    await h.adapter
      .send(personalMessage(megan, 'help', { conversation: { id: '19:channel', conversationType: 'channel', isGroup: true, name: '' } }))
      .assertReply(() => undefined);
    expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
  });

  it('answers a help button press (Action.Execute) with the card as the invoke response', async () => {
    await h.adapter.processActivity(cardInvoke(megan, 'help'));
    const response = h.lastInvokeResponse();
    expect(response?.status).toBe(200);
    const body = response?.body as { statusCode: number; type: string; value: unknown };
    expect(body.statusCode).toBe(200);
    expect(body.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(body.value)).toContain('Show what you can do here.');
  });

  it('handles the same button sent as Action.Submit (message with value)', async () => {
    await h.adapter.send(personalMessage(megan, '', { value: { verb: 'help' } })).assertReply((reply) => {
      expect(cardText(cardOf(reply))).toContain('Show what you can do here.');
    });
  });

  it.each([
    ['an unknown verb', { action: { type: 'Action.Execute', verb: 'launchMissiles', data: {} } }, 'launchMissiles'],
    ['a verb that is not a string', { action: { type: 'Action.Execute', verb: { $gt: '' }, data: {} } }, 'without a valid action'],
    ['no action at all', {}, 'without a valid action'],
  ])('answers a tampered card (%s) with a clear message', async (_label, value, shown) => {
    await h.adapter.processActivity({ ...cardInvoke(megan, 'help'), value });
    const body = h.lastInvokeResponse()?.body as { value: unknown };
    const text = cardText(body.value);
    expect(text).toContain("That button didn't work");
    expect(text).toContain(shown);
  });

  it('welcomes once on install, although Teams sends both installationUpdate and conversationUpdate', async () => {
    const conversation = { id: `a:personal-${megan.aadObjectId}`, conversationType: 'personal', tenantId: TENANT, isGroup: false, name: '' };
    const bot = { id: '28:bot', name: 'Access Packages' };
    const replies: Partial<Activity>[] = [];
    h.adapter.onTurnError = async (_context, error) => {
      throw error;
    };
    await h.adapter.processActivity({ type: 'installationUpdate', action: 'add', from: { id: '29:x', aadObjectId: megan.aadObjectId, name: 'Megan Bowen' }, recipient: bot, conversation });
    await h.adapter.processActivity({
      type: 'conversationUpdate',
      membersAdded: [bot, { id: '29:x', name: 'Megan Bowen' }],
      from: { id: '29:x', aadObjectId: megan.aadObjectId, name: 'Megan Bowen' },
      recipient: bot,
      conversation,
    });
    while (h.adapter.activeQueue.length > 0) replies.push(h.adapter.activeQueue.shift()!);
    expect(replies).toHaveLength(1);
    expect(cardText(cardOf(replies[0]))).toContain('Welcome to Access Packages, Megan');
  });
});

describe('tenant guard', () => {
  it('serves the configured tenant', async () => {
    const h = await createBotHarness({ tenantId: TENANT });
    try {
      await h.adapter.send(personalMessage(megan, 'help')).assertReply((reply) => expect(cardOf(reply)).toBeDefined());
    } finally {
      await h.close();
    }
  });

  it('gives another tenant no service: nothing sent, nothing stored, and a log line', async () => {
    const { logger, lines } = memoryLogger();
    const h = await createBotHarness({ tenantId: TENANT, logger });
    try {
      const other = '99999999-9999-9999-9999-999999999999';
      await h.adapter.processActivity(
        personalMessage(megan, 'help', {
          channelData: { tenant: { id: other } },
          conversation: { id: 'a:x', conversationType: 'personal', tenantId: other, isGroup: false, name: '' },
        }),
      );
      expect(h.adapter.activeQueue).toHaveLength(0);
      expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
      expect(lines().some((l) => l.msg === 'activity from another tenant refused' && l.tenant === other)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('answers another tenant\'s card invoke with 403 and does not run it', async () => {
    const h = await createBotHarness({ tenantId: TENANT });
    try {
      await h.adapter.processActivity(cardInvoke(megan, 'help', {}, { channelData: { tenant: { id: 'other-tenant' } }, conversation: { id: 'a:x', conversationType: 'personal', tenantId: 'other-tenant', isGroup: false, name: '' } }));
      expect(h.lastInvokeResponse()?.status).toBe(403);
      expect(await h.repositories.conversationReferences.get(megan.aadObjectId)).toBeNull();
    } finally {
      await h.close();
    }
  });
});
