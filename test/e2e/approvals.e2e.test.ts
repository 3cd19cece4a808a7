import type { RunningApp } from '../../src/app';
import type { AccessRequest } from '../../src/domain/model';
import { cardOf, cardText } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import type { FakeClock } from '../support/fakeClock';
import { LoopbackConnector, type RecordedCall } from '../support/loopbackConnector';
import { drainTasks, postActivity, startTestApp } from '../support/testApp';
import { personalActivity } from '../support/teamsActivity';

// Approval end to end: the real /api/messages endpoint, the task runner as the scheduler
// drives it, the proactive notifier, and a loopback connector recording every card.
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };

interface Person {
  aadObjectId: string;
  name: string;
}
const fred: Person = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: Person = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const alex: Person = { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };
const patti: Person = { aadObjectId: '00000000-0000-0000-0000-0000000000024', name: 'Patti Fernandez' };
const victor: Person = { aadObjectId: 'u-victor', name: 'Victor Hale' };
const lynne: Person = { aadObjectId: '00000000-0000-0000-0000-0000000000025', name: 'Lynne Robbins' };

describe('approvals end to end through /api/messages', () => {
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string };

  beforeEach(async () => {
    connector = new LoopbackConnector();
    await connector.start();
    app = await startTestApp({ TENANT_ID: TENANT });
  });

  afterEach(async () => {
    try {
      await app?.close();
    } finally {
      await connector.stop();
    }
  });

  function activity(person: Person, extra: Record<string, unknown>, conversationId?: string) {
    return personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, person, extra, conversationId);
  }

  async function press(person: Person, data: Record<string, unknown>) {
    const response = await postActivity(
      app.baseUrl,
      activity(person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }),
    );
    expect(response.status).toBe(200);
    const card = (response.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return cardText(card);
  }

  /** Runs what has fallen due, as the scheduler loop would, until a run finds nothing more to do. */
  async function drain(): Promise<void> {
    await drainTasks(app, () => app.taskRunner.run());
  }

  /** Cards that reached a person's chat: in the conversation the bot created for them, or their own. */
  function cardsTo(person: Person): { call: RecordedCall; text: string; card: Record<string, unknown> }[] {
    const created = connector.calls.filter((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[] | undefined)?.[0]?.id === person.aadObjectId).map((c) => c.responseId);
    const theirs = new Set([`a:personal-${person.aadObjectId}`, ...created]);
    return connector.calls
      .filter((c) => c.method === 'POST' && c.conversationId && theirs.has(c.conversationId) && cardOf(c.body))
      .map((call) => ({ call, card: cardOf(call.body)!, text: cardText(cardOf(call.body)) }));
  }

  async function submit(person: Person, data: Record<string, unknown>): Promise<AccessRequest> {
    // The requester has written to the bot before, as people do; approvers may never have.
    await postActivity(app.baseUrl, activity(person, { type: 'message', text: 'help' }));
    expect(await press(person, { verb: 'submitRequest', ...data })).toContain('Request sent for approval');
    await drain();
    return (await app.repositories.requests.listForUser(person.aadObjectId))[0]!;
  }

  it('two stages: manager then CEO; cards reach approvers who never wrote to the bot; the requester hears each step', async () => {
    const request = await submit(nadia, { packageId: 'expenses-executive', policyId: 'executive-office', justification: 'Quarter close' });

    // Patti (Nadia's manager) never talked to the bot: a 1:1 chat is created for her first.
    const created = connector.createdConversations.find((b) => (b.members as { id: string }[])[0]!.id === patti.aadObjectId);
    expect(created).toMatchObject({ isGroup: false, tenantId: TENANT, channelData: { tenant: { id: TENANT } } });
    const [pattiCard] = cardsTo(patti);
    expect(pattiCard!.text).toContain('Access request: Expense reports (executive)');
    expect(pattiCard!.text).toContain('Nadia Okafor');
    expect(pattiCard!.text).toContain('Stage 1 of 2');
    expect(pattiCard!.text).toContain('Quarter close');
    expect(JSON.stringify(pattiCard!.card)).toContain('"verb":"decide"');

    const stage1 = await press(patti, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve', justification: 'Fine by me' });
    expect(stage1).toContain('Approved by Patti Fernandez');
    await drain();
    expect(cardsTo(nadia).map((c) => c.text).join('\n')).toContain('Step 1 of 2 approved: Expense reports (executive)');

    const [victorCard] = cardsTo(victor);
    expect(victorCard!.text).toContain('Stage 2 of 2');
    expect(await press(victor, { verb: 'decide', requestId: request.id, stage: 1, decision: 'approve', justification: 'My reports, my call' })).toContain('Approved by Victor Hale');
    await drain();
    expect(cardsTo(nadia).map((c) => c.text).join('\n')).toContain('Approved: Expense reports (executive)');
    // Delivery follows approval: the membership is in the directory and Nadia is told.
    expect((await app.repositories.requests.get(request.id))!.state).toBe('delivered');
    expect(await app.directory.hasGroupRole('grp-exec-expenses', nadia.aadObjectId, 'member')).toBe(true);
    expect(cardsTo(nadia).map((c) => c.text).join('\n')).toContain('You now have access: Expense reports (executive)');
  });

  it('after a decision every other approver\'s card is updated in place (PUT); late and unauthorised clicks are refused', async () => {
    const request = await submit(fred, { packageId: 'accounting', policyId: 'employees', justification: 'New in accounting', 'answer:costCentre': '4100' });
    const [alexCard] = cardsTo(alex);
    expect(alexCard).toBeDefined();
    expect(cardsTo(nadia)).toHaveLength(1);

    expect(await press(nadia, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' })).toContain('Approved by Nadia Okafor');
    await drain();
    const update = connector.calls.find((c) => c.method === 'PUT' && c.conversationId === alexCard!.call.conversationId && c.activityId === alexCard!.call.responseId);
    expect(update).toBeDefined();
    const updatedText = cardText(cardOf(update!.body));
    expect(updatedText).toContain('Approved by Nadia Okafor');
    expect(JSON.stringify(cardOf(update!.body))).not.toContain('"verb":"decide"');

    expect(await press(alex, { verb: 'decide', requestId: request.id, stage: 0, decision: 'deny' })).toContain('This request was already approved by Nadia Okafor');
    expect(await press(lynne, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' })).toContain('You are not an approver');
    expect(cardsTo(fred).map((c) => c.text).join('\n')).toContain('Approved: Accounting');
  });

  it('a deny tells the requester why; the requester cancelling updates the approvers\' cards', async () => {
    const denied = await submit(fred, { packageId: 'accounting', policyId: 'employees', justification: 'Please', 'answer:costCentre': '4100' });
    await press(alex, { verb: 'decide', requestId: denied.id, stage: 0, decision: 'deny', justification: 'Talk to Nadia first' });
    await drain();
    expect(cardsTo(fred).map((c) => c.text).join('\n')).toContain('Their reason: "Talk to Nadia first"');

    (app.clock as FakeClock).advance(60_000);
    const canceled = await submit(fred, { packageId: 'accounting', policyId: 'employees', justification: 'Again', 'answer:costCentre': '4100' });
    const nadiaCard = cardsTo(nadia).find((c) => c.text.includes(canceled.id))!;
    await press(fred, { verb: 'cancelRequest', requestId: canceled.id });
    await drain();
    const update = connector.calls.find((c) => c.method === 'PUT' && c.activityId === nadiaCard.call.responseId);
    expect(cardText(cardOf(update!.body))).toContain('Canceled by the requester.');
  });

  it('50 concurrent Approve clicks over HTTP: one decision, 49 clear refusals', async () => {
    const request = await submit(fred, { packageId: 'accounting', policyId: 'employees', justification: 'Burst', 'answer:costCentre': '4100' });
    const clicks = Array.from({ length: 50 }, (_, i) => press(i % 2 ? alex : nadia, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' }));
    const answers = await Promise.all(clicks);
    // Everyone sees the decided card; the 49 late clicks also say their click changed nothing.
    expect(answers.every((t) => t.includes('Access request: Accounting') && /Approved by (Nadia Okafor|Alex Wilber) on/.test(t))).toBe(true);
    expect(answers.filter((t) => /This request was already approved by (Nadia Okafor|Alex Wilber|you) on .*Your click changed nothing\./.test(t))).toHaveLength(49);
    expect((await app.repositories.requests.get(request.id))!.history.filter((h) => h.action.startsWith('approved'))).toHaveLength(1);
  });
});
