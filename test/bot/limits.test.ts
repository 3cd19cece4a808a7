// Per-person limits (issue 13, point 8) on botbuilder's TestAdapter with the example catalog:
// requests per minute, open requests, and messages and card actions per minute. The fake clock
// drives the windows. A refusal changes nothing: counts are taken before and after.
import type { Activity } from 'botbuilder';
import type { LimitSettings } from '../../src/bot/limits';
import type { RequestState, RequestType } from '../../src/domain/model';
import { newRequest } from '../../src/domain/newRequest';
import { type BotHarness, cardButtons, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';

const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' }; // may request Accounting
const lola: TeamsUser = { aadObjectId: 'u-lola', name: 'Lola Martin' };
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' }; // admin

const VALID_ACCOUNTING = { packageId: 'accounting', policyId: 'employees', justification: 'I joined the accounting team', 'answer:costCentre': '4100' };
const DEFAULTS: LimitSettings = { requestsPerMinute: 20, activitiesPerMinute: 300, openRequests: 100 };

describe('per-person limits (TestAdapter, example catalog)', () => {
  let h: BotHarness;

  async function start(limits?: LimitSettings): Promise<void> {
    h = await createBotHarness({ exampleCatalog: true, adminUserIds: [ivan.aadObjectId], ...(limits ? { limits } : {}) });
  }

  afterEach(() => h?.close());

  /** Presses a card button (Action.Execute): the card Teams shows instead, and any chat replies. */
  async function press(user: TeamsUser, verb: string, data: Record<string, unknown> = {}, extra: Partial<Activity> = {}) {
    await h.adapter.processActivity(cardInvoke(user, verb, data, extra));
    const replies = h.adapter.activeQueue.splice(0).filter((a) => a.type !== 'invokeResponse');
    const response = h.lastInvokeResponse()!;
    const body = response.body as { type: string; value: unknown };
    const card = body.type === 'application/vnd.microsoft.card.adaptive' ? (body.value as Record<string, unknown>) : undefined;
    if (card) expect(validateCard(card)).toEqual([]);
    return { status: response.status, body, card, text: cardText(card), buttons: cardButtons(card), replies };
  }

  /** Sends a chat message; returns every reply (none when the bot stays silent). */
  async function say(user: TeamsUser, text: string, extra: Partial<Activity> = {}) {
    await h.adapter.processActivity(personalMessage(user, text, extra));
    return h.adapter.activeQueue.splice(0);
  }

  async function counts() {
    const { store } = h;
    const [requests, tasks, audit, conversationReferences] = await Promise.all(
      ['requests', 'tasks', 'auditEvents', 'conversationReferences'].map((name) => store.collection(name).count({})),
    );
    return { requests, tasks, audit, conversationReferences };
  }

  async function drain(): Promise<void> {
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
  }

  /** Submits Accounting for Fred and cancels it again: one submission that leaves room for the next. */
  async function submitAndCancel(): Promise<void> {
    expect((await press(fred, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');
    const open = (await h.repositories.requests.findOpen('u-fred', 'accounting'))!;
    expect((await press(fred, 'cancelRequest', { requestId: open.id })).text).toContain(`Request ${open.id} for "Accounting" is canceled.`);
  }

  /** Stores requests as submitted earlier (seeding state to aim at; the limit counts them from the store). */
  async function seed(n: number, fields: { type?: RequestType; requesterId?: string; targetUserId?: string; state?: RequestState; prefix?: string } = {}): Promise<void> {
    const now = h.clock.now();
    for (let i = 0; i < n; i++) {
      await h.repositories.requests.insert(
        newRequest({
          id: `REQ-${fields.prefix ?? 'SEED'}-${i}`,
          type: fields.type ?? 'add',
          packageId: `pkg-${fields.prefix ?? 'seed'}-${i}`,
          policyId: 'employees',
          requesterId: fields.requesterId ?? 'u-fred',
          targetUserId: fields.targetUserId ?? fields.requesterId ?? 'u-fred',
          // All three open states count.
          state: fields.state ?? (['pendingApproval', 'scheduled', 'delivering'] as const)[i % 3]!,
          schedule: { startAt: now },
          now,
        }),
      );
    }
  }

  describe('requests per person per minute', () => {
    it('refuses the 21st submission in a minute with the wait, stores and queues nothing, and takes it again the next minute', async () => {
      await start(DEFAULTS);
      for (let i = 0; i < 20; i++) await submitAndCancel();
      await drain();
      h.clock.advance(20_000);
      const before = await counts();

      const refused = await press(fred, 'submitRequest', VALID_ACCOUNTING);
      expect(refused.status).toBe(200);
      expect(refused.text).toBe("Please slow down\nYou've sent a lot of requests in the last minute. Try again in 40 seconds.");
      expect(refused.buttons).toEqual(['My requests']);
      // The Action.Submit fallback (a message carrying the form) is refused the same way.
      const [fallback] = await say(fred, '', { value: { verb: 'submitRequest', ...VALID_ACCOUNTING } });
      expect(cardText(cardOf(fallback))).toContain("You've sent a lot of requests in the last minute. Try again in 40 seconds.");
      await drain();
      expect(await counts()).toEqual(before);
      expect(await h.repositories.requests.findOpen('u-fred', 'accounting')).toBeNull();

      // Someone else is not held back by Fred's minute.
      expect((await press(lola, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');
      // Browsing, my requests and cancelling are not requests.
      expect((await press(fred, 'myRequests')).text).toContain('Canceled');

      h.clock.set('2026-11-22T09:01:00Z');
      expect((await press(fred, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');
    });

    it('does not count a submission refused for another reason (a form to fix is not a request)', async () => {
      await start({ ...DEFAULTS, requestsPerMinute: 2 });
      for (let i = 0; i < 5; i++) {
        const form = await press(fred, 'submitRequest', { ...VALID_ACCOUNTING, 'answer:costCentre': 'abc' });
        expect(form.text).toContain('Please fix the highlighted answers');
      }
      await submitAndCancel();
      await submitAndCancel();
      expect((await press(fred, 'submitRequest', VALID_ACCOUNTING)).text).toContain("You've sent a lot of requests in the last minute. Try again in 1 minute.");
    });

    it('counts extensions and giving access back as requests too', async () => {
      await start({ ...DEFAULTS, requestsPerMinute: 1 });
      expect((await press(fred, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');
      const before = await counts();
      for (const [verb, data] of [['extend', { assignmentId: 'ASG-x', justification: 'More time' }], ['removeAccess', { assignmentId: 'ASG-x' }]] as const) {
        expect((await press(fred, verb, data)).text).toContain("You've sent a lot of requests in the last minute.");
      }
      expect(await counts()).toEqual(before);
    });
  });

  describe('open requests per person', () => {
    it('refuses the 101st open request with the count and how to free room; cancelling one makes room', async () => {
      await start({ ...DEFAULTS, requestsPerMinute: 0 });
      await seed(100);
      // Not Fred's doing, or not open: none of these count.
      await seed(5, { prefix: 'ADMIN', type: 'adminAdd', requesterId: 'u-ivan', targetUserId: 'u-fred', state: 'pendingApproval' });
      await seed(5, { prefix: 'DONE', state: 'denied' });
      await seed(3, { prefix: 'LOLA', requesterId: 'u-lola' });
      await say(fred, 'help'); // the bot has met Fred (it keeps his conversation reference)
      const before = await counts();

      const refused = await press(fred, 'submitRequest', VALID_ACCOUNTING);
      expect(refused.text).toBe(
        'Too many open requests\nYou have 100 open requests, and 100 is the most one person can have at a time. Cancel the ones you no longer need in my requests, or wait until approvers decide on some, then send this one again.',
      );
      expect(refused.buttons).toEqual(['My requests']);
      await drain();
      expect(await counts()).toEqual(before);

      expect((await press(fred, 'cancelRequest', { requestId: 'REQ-SEED-0' })).text).toContain('is canceled');
      expect((await press(fred, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');
      expect(await h.repositories.requests.countOpenRequestedBy('u-fred', ['add', 'extend', 'remove'])).toBe(100);
      // Now at the limit again.
      expect((await press(fred, 'submitRequest', { ...VALID_ACCOUNTING, packageId: 'payment-run' })).text).toContain('You have 100 open requests');
    });

    it("an admin's direct assignment is not the person's submission: not refused by their open requests", async () => {
      await start(DEFAULTS);
      await seed(100);
      const reply = await press(ivan, 'adminAssign', { packageId: 'accounting', policyId: 'employees', user: 'fredj@example.com', skipApproval: 'true', justification: 'New joiner, first day', 'answer:costCentre': '4100' });
      expect(reply.text).toContain('Assigned: Accounting to Fred Jansen');
    });
  });

  describe('messages and card actions per person per minute', () => {
    it('refuses a flood before any work: the first refused message is answered with the wait, the rest get nothing, others are served', async () => {
      await start({ ...DEFAULTS, activitiesPerMinute: 30 });
      for (let i = 0; i < 30; i++) expect(cardText(cardOf((await say(fred, 'my requests'))[0]))).toContain('My requests');
      h.clock.advance(15_000);
      const before = await counts();

      const refused = await say(fred, 'help');
      expect(refused).toHaveLength(1);
      expect(refused[0]!.text).toBe("You've sent me a lot of messages in the last minute. Try again in 45 seconds.");
      for (let i = 0; i < 20; i++) expect(await say(fred, 'my access')).toEqual([]);

      // A card action gets a small card in its invoke response (HTTP 200); nothing runs.
      const click = await press(fred, 'submitRequest', VALID_ACCOUNTING);
      expect(click.status).toBe(200);
      expect(click.text).toBe("Please slow down\nYou've pressed a lot of buttons in the last minute. Try again in 45 seconds.");
      expect(click.replies).toEqual([]);
      // In a channel a card answer would replace the card for everyone: a message instead.
      const inChannel = await press(fred, 'decide', { requestId: 'REQ-1', stage: 0, decision: 'approve' }, { conversation: { id: '19:channel', conversationType: 'channel', tenantId: 'x', isGroup: true, name: '' } });
      expect(inChannel.body).toEqual({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: "You've pressed a lot of buttons in the last minute. Try again in 45 seconds." });
      // Another invoke has no card: 429 with the same words.
      await h.adapter.processActivity({ ...cardInvoke(fred, 'x'), name: 'task/fetch' });
      h.adapter.activeQueue.splice(0);
      expect(h.lastInvokeResponse()).toEqual({ status: 429, body: { error: "You've pressed a lot of buttons in the last minute. Try again in 45 seconds." } });
      await drain();
      expect(await counts()).toEqual(before);

      // Lola is served all along.
      expect(cardText(cardOf((await say(lola, 'my requests'))[0]))).toContain('My requests');
      expect((await press(lola, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');

      h.clock.set('2026-11-22T09:01:00Z');
      expect(cardText(cardOf((await say(fred, 'my requests'))[0]))).toContain('My requests');
    });

    it('counts a person by their channel account id when Teams sends no Entra object id', async () => {
      await start({ ...DEFAULTS, activitiesPerMinute: 2 });
      const anonymous = { from: { id: '29:someone', name: 'Someone' } };
      expect(await say(fred, 'help', anonymous)).toHaveLength(1);
      expect(await say(fred, 'help', anonymous)).toHaveLength(1);
      expect((await say(fred, 'help', anonymous))[0]!.text).toContain("You've sent me a lot of messages in the last minute.");
      // Fred (with his object id) is someone else.
      expect(cardOf((await say(fred, 'help'))[0])).toBeDefined();
    });
  });

  it('limits of 0 are off', async () => {
    await start({ requestsPerMinute: 0, activitiesPerMinute: 0, openRequests: 0 });
    for (let i = 0; i < 25; i++) await submitAndCancel();
    await seed(150);
    expect((await press(fred, 'submitRequest', VALID_ACCOUNTING)).text).toContain('Request sent for approval');
    for (let i = 0; i < 400; i++) expect(cardOf((await say(fred, 'help'))[0])).toBeDefined();
  });
});
