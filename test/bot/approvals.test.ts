import type { Task } from '../../src/domain/model';
import type { LocalDirectory } from '../../src/directory/localDirectory';
import { NOTIFY_TASKS } from '../../src/services/notifications';
import { TASK_TYPES } from '../../src/services/workflow';
import { type BotHarness, cardInvoke, cardText, createBotHarness, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { byCreatedAt } from '../support/testStore';

// examples/directory.yaml: Finance approvers = Nadia + (nested) Alex; Patti is the CFO and
// Nadia's manager; Victor is the CEO (no manager); Ivan is an IT admin.
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: TeamsUser = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const alex: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };
const patti: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000024', name: 'Patti Fernandez' };
const victor: TeamsUser = { aadObjectId: 'u-victor', name: 'Victor Hale' };
const lynne: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000025', name: 'Lynne Robbins' };
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' };

const DAY = 24 * 60 * 60 * 1000;
const ACCOUNTING = { packageId: 'accounting', policyId: 'employees', justification: 'I joined the accounting team', 'answer:costCentre': '4100' };
const EXEC = { packageId: 'expenses-executive', policyId: 'executive-office', justification: 'Quarter close' };

describe('approvals (TestAdapter, example catalog)', () => {
  let h: BotHarness;

  beforeEach(async () => {
    h = await createBotHarness({ exampleCatalog: true, adminUserIds: [ivan.aadObjectId] });
  });

  afterEach(() => h.close());

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown> = {}) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
    const card = (h.lastInvokeResponse()?.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return { card, text: cardText(card), json: JSON.stringify(card) };
  }

  /** Submits a request and runs the queued work, as the scheduler would. */
  async function request(user: TeamsUser, data: Record<string, unknown>) {
    const { text } = await press(user, 'submitRequest', data);
    expect(text).toContain('Request sent for approval');
    await h.taskRunner.run();
    const [latest] = await h.repositories.requests.listForUser(user.aadObjectId);
    return latest!;
  }

  async function tasks(type: string): Promise<Task[]> {
    return byCreatedAt(await h.store.collection<{ _id: string } & Omit<Task, 'id'>>('tasks').find({ type })).map(({ _id, ...t }) => ({ id: _id, ...t }) as Task);
  }

  /** Cards queued for a user, as their template data. */
  async function cardsFor(userId: string, template?: string) {
    return (await tasks(NOTIFY_TASKS.send))
      .map((t) => t.payload as { userId: string; card: { template: string; data: Record<string, unknown> }; trackAs?: string })
      .filter((p) => p.userId === userId && (!template || p.card.template === template));
  }

  async function updatesOf(trackAs: string) {
    return (await tasks(NOTIFY_TASKS.update)).map((t) => t.payload as { trackAs: string; card: { data: Record<string, unknown> } }).filter((p) => p.trackAs === trackAs);
  }

  const approve = (user: TeamsUser, requestId: string, stage = 0, justification?: string) =>
    press(user, 'decide', { requestId, stage, decision: 'approve', ...(justification ? { justification } : {}) });
  const deny = (user: TeamsUser, requestId: string, stage = 0, justification?: string) => press(user, 'decide', { requestId, stage, decision: 'deny', ...(justification ? { justification } : {}) });

  it('each approver of the stage gets a card with everything needed to decide (group approvers, transitively)', async () => {
    const req = await request(fred, ACCOUNTING);
    expect(req.stages[0]).toMatchObject({ index: 0, usedFallback: false });
    expect(new Set(req.stages[0]!.approverIds)).toEqual(new Set([nadia.aadObjectId, alex.aadObjectId]));
    const [card] = await cardsFor(nadia.aadObjectId, 'approvalRequest');
    expect(card!.trackAs).toBe(`approval:${req.id}:0:u-nadia`);
    expect(card!.card.data).toMatchObject({
      requestId: req.id,
      requesterName: 'Fred Jansen',
      requesterDetails: 'Accountant · Finance',
      packageName: 'Accounting',
      grants: 'Finance team (Member), Accounting (User), VAT returns (VAT filer)',
      justification: 'I joined the accounting team',
      answers: [{ question: 'What is your cost centre?', answer: '4100' }],
      stageText: 'Single stage',
      schedule: 'From approval · lasts 180 days',
      timesOut: 'Decide by 29 Nov 2026 at 09:00 UTC; after that the request is denied automatically.',
      pending: true,
    });
    expect(await cardsFor(alex.aadObjectId, 'approvalRequest')).toHaveLength(1);
    expect(await cardsFor(fred.aadObjectId, 'approvalRequest')).toHaveLength(0);
    expect((await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'approval.cardSent')).toHaveLength(2);
  });

  it('a stage started by a run that died before queuing its cards gets them on the rerun (found by the kill -9 suite)', async () => {
    const req = await request(fred, ACCOUNTING);
    // As if the process died right after the stage was stored: nothing of what follows was queued.
    const taskDocs = h.store.collection('tasks');
    await taskDocs.delete({ type: { $in: [NOTIFY_TASKS.send, TASK_TYPES.approvalTimeout, TASK_TYPES.approvalReminder] } });
    h.clock.advance(60_000);
    expect(await h.approvals.startStage(req.id, 0)).toEqual({ status: 'done' });
    expect(await cardsFor(nadia.aadObjectId, 'approvalRequest')).toHaveLength(1);
    expect(await cardsFor(alex.aadObjectId, 'approvalRequest')).toHaveLength(1);
    // The deadline still counts from when the stage started, not from the rerun.
    const [timeout] = await tasks(TASK_TYPES.approvalTimeout);
    expect(timeout!.dueAt).toEqual(new Date(req.stages[0]!.startedAt!.getTime() + 7 * 24 * 3_600_000));
    expect(await tasks(TASK_TYPES.approvalReminder)).toHaveLength(1);
    // A further rerun doubles nothing.
    await h.approvals.startStage(req.id, 0);
    expect(await cardsFor(nadia.aadObjectId, 'approvalRequest')).toHaveLength(1);
    expect(await tasks(TASK_TYPES.approvalTimeout)).toHaveLength(1);
    expect((await h.repositories.requests.get(req.id))!.stages).toHaveLength(1);
  });

  it('approve at the last stage: the approver sees the outcome, others\' cards update, delivery is queued, the requester is told', async () => {
    const req = await request(fred, ACCOUNTING);
    const { text, json } = await approve(nadia, req.id, 0, 'Welcome aboard');
    expect(text).toContain('Approved by Nadia Okafor on 22 Nov 2026 at 09:00 UTC: "Welcome aboard"');
    expect(json).not.toContain('"verb":"decide"');
    expect((await h.repositories.requests.get(req.id))!.state).toBe('delivering');
    expect(await tasks(TASK_TYPES.deliver)).toHaveLength(1);
    const [alexUpdate] = await updatesOf(`approval:${req.id}:0:${alex.aadObjectId}`);
    expect(alexUpdate!.card.data).toMatchObject({ pending: false, outcome: 'Approved by Nadia Okafor on 22 Nov 2026 at 09:00 UTC: "Welcome aboard"' });
    expect(await updatesOf(`approval:${req.id}:0:u-nadia`)).toHaveLength(0); // she got it as the invoke response
    const [notice] = await cardsFor('u-fred', 'notice');
    expect(notice!.card.data).toMatchObject({ title: 'Approved: Accounting' });
    expect(String(notice!.card.data.message)).toContain('Nadia Okafor approved your request');
  });

  it('a late click gets "already approved by X at T" and is audited; a stranger gets "not an approver"', async () => {
    const req = await request(fred, ACCOUNTING);
    await approve(nadia, req.id);
    expect((await approve(alex, req.id)).text).toContain('This request was already approved by Nadia Okafor on 22 Nov 2026 at 09:00 UTC');
    expect((await deny(lynne, req.id)).text).toContain(`You are not an approver of request ${req.id}`);
    expect((await h.repositories.requests.get(req.id))!.stages[0]!.decision!.approverId).toBe('u-nadia');
    const refused = (await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'approval.refused');
    expect(refused.map((e) => [e.actorId, e.details?.reason])).toEqual([
      [alex.aadObjectId, 'decided'],
      [lynne.aadObjectId, 'notApprover'],
    ]);
  });

  it('nobody approves their own request: a requester in the approver group is left out', async () => {
    const req = await request(alex, { packageId: 'accounting', policyId: 'employees', justification: 'Need VAT too', 'answer:costCentre': '4100' });
    expect(req.stages[0]!.approverIds).toEqual(['u-nadia']);
    expect((await approve(alex, req.id)).text).toContain("You can't decide your own request.");
  });

  it('group membership is re-checked at the click: someone removed from the group can no longer decide', async () => {
    const req = await request(fred, ACCOUNTING);
    await (h.directory as LocalDirectory).removeGroupRole('grp-finance-leads', alex.aadObjectId, 'member');
    expect((await approve(alex, req.id)).text).toContain('You are not an approver');
    expect((await h.repositories.requests.get(req.id))!.state).toBe('pendingApproval');
  });

  it('deny ends the request and tells the requester the approver\'s reason', async () => {
    const req = await request(fred, ACCOUNTING);
    const { text } = await deny(alex, req.id, 0, 'Ask your manager first');
    expect(text).toContain('Denied by Alex Wilber');
    expect((await h.repositories.requests.get(req.id))!.state).toBe('denied');
    expect(await tasks(TASK_TYPES.deliver)).toHaveLength(0);
    const [notice] = await cardsFor('u-fred', 'notice');
    expect(notice!.card.data).toMatchObject({ title: 'Denied: Accounting' });
    expect(String(notice!.card.data.message)).toContain('Their reason: "Ask your manager first"');
  });

  it('two stages: the requester\'s manager, then a named user who must give a reason', async () => {
    const req = await request(nadia, EXEC);
    expect(req.stages[0]!.approverIds).toEqual([patti.aadObjectId]); // Nadia's manager
    const [first] = await cardsFor(patti.aadObjectId, 'approvalRequest');
    expect(first!.card.data).toMatchObject({ stageText: 'Stage 1 of 2', justificationRequired: true });

    expect((await approve(patti, req.id)).text).toContain('This step needs a reason');
    expect((await approve(patti, req.id, 0, 'Fine by me')).text).toContain('Approved by Patti Fernandez');
    expect(await h.repositories.requests.get(req.id)).toMatchObject({ state: 'pendingApproval', currentStage: 1 });
    expect((await cardsFor('u-nadia', 'notice'))[0]!.card.data.title).toBe('Step 1 of 2 approved: Expense reports (executive)');

    await h.taskRunner.run();
    const [second] = await cardsFor(victor.aadObjectId, 'approvalRequest');
    expect(second!.card.data).toMatchObject({ stage: 1, stageText: 'Stage 2 of 2', earlierSteps: [{ text: 'Step 1 approved by Patti Fernandez on 22 Nov 2026 at 09:00 UTC: "Fine by me"' }] });
    expect((await cardsFor(patti.aadObjectId, 'approvalRequest'))[0]!.card.data.earlierSteps).toEqual([]);
    expect((await approve(patti, req.id, 0, 'again')).text).toContain('This request was already approved by you on');
    expect((await approve(victor, req.id, 1, 'My reports, my call')).text).toContain('Approved by Victor Hale');
    expect((await h.repositories.requests.get(req.id))!.state).toBe('delivering');
  });

  it('deny at the second stage ends it', async () => {
    const req = await request(nadia, EXEC);
    await approve(patti, req.id, 0, 'ok');
    await h.taskRunner.run();
    await deny(victor, req.id, 1, 'Not this quarter');
    expect((await h.repositories.requests.get(req.id))!.state).toBe('denied');
  });

  it('fallback approvers step in when the requester has no manager, and when the only approver is the requester', async () => {
    const req = await request(victor, EXEC);
    expect(req.stages[0]).toMatchObject({ approverIds: [patti.aadObjectId], usedFallback: true });
    await approve(patti, req.id, 0, 'ok');
    await h.taskRunner.run();
    const after = (await h.repositories.requests.get(req.id))!;
    expect(after.stages[1]).toMatchObject({ approverIds: [patti.aadObjectId], usedFallback: true }); // Victor can't approve his own
  });

  it('escalation after P3D adds the alternate approver; the first approvers can still decide', async () => {
    const req = await request(fred, ACCOUNTING);
    h.clock.advance(3 * DAY);
    await h.taskRunner.run();
    const escalated = (await h.repositories.requests.get(req.id))!;
    expect(escalated.stages[0]).toMatchObject({ escalationApproverIds: [patti.aadObjectId] });
    const [card] = await cardsFor(patti.aadObjectId, 'approvalRequest');
    expect(String(card!.card.data.banner)).toContain('Escalated to you');
    expect((await approve(patti, req.id)).text).toContain('Approved by Patti Fernandez');
    // Everyone's card, the escalated approver's included, shows the outcome.
    expect(await updatesOf(`approval:${req.id}:0:u-nadia`)).toHaveLength(1);
    expect(await updatesOf(`approval:${req.id}:0:${alex.aadObjectId}`)).toHaveLength(1);
  });

  it('reminds undecided approvers halfway, once', async () => {
    const req = await request(fred, ACCOUNTING);
    h.clock.advance(3.5 * DAY);
    await h.taskRunner.run();
    await h.taskRunner.run();
    const reminders = (await cardsFor('u-nadia', 'notice')).filter((c) => String(c.card.data.title).startsWith('Reminder'));
    expect(reminders).toHaveLength(1);
    expect(String(reminders[0]!.card.data.message)).toContain(req.id);
  });

  it('times out at durationBeforeAutomaticDenial: denied automatically, cards updated, requester told', async () => {
    const req = await request(fred, ACCOUNTING);
    h.clock.advance(7 * DAY);
    await h.taskRunner.run();
    expect((await h.repositories.requests.get(req.id))!.state).toBe('timedOut');
    const [update] = await updatesOf(`approval:${req.id}:0:u-nadia`);
    expect(String(update!.card.data.outcome)).toContain('Timed out');
    expect((await cardsFor('u-fred', 'notice')).map((c) => c.card.data.title)).toContain('Timed out: Accounting');
    expect((await approve(nadia, req.id)).text).toContain('denied automatically because nobody decided in time');
    expect((await h.repositories.audit.query({ userId: 'u-fred' })).map((e) => e.action)).toContain('approval.timedOut');
  });

  it('a decision in time makes the later timeout a no-op', async () => {
    const req = await request(fred, ACCOUNTING);
    await approve(nadia, req.id);
    h.clock.advance(8 * DAY);
    await h.taskRunner.run();
    expect((await h.repositories.requests.get(req.id))!.state).toBe('delivered');
    expect((await h.repositories.audit.query({ userId: 'u-fred' })).map((e) => e.action)).not.toContain('approval.timedOut');
  });

  it('when the requester cancels, approvers\' cards say so', async () => {
    const req = await request(fred, ACCOUNTING);
    await press(fred, 'cancelRequest', { requestId: req.id });
    await h.taskRunner.run();
    const [update] = await updatesOf(`approval:${req.id}:0:u-nadia`);
    expect(update!.card.data).toMatchObject({ pending: false, outcome: 'Canceled by the requester.' });
    expect((await approve(nadia, req.id)).text).toContain('canceled by the requester');
  });

  it('an approved extension changes the assignment\'s end', async () => {
    const now = h.clock.now();
    await h.repositories.assignments.insert({ id: 'asg-1', packageId: 'accounting', policyId: 'employees', userId: 'u-fred', state: 'delivered', startAt: now, expiresAt: new Date(now.getTime() + 10 * DAY), roles: [], requestIds: [], createdAt: now, updatedAt: now });
    await press(fred, 'extend', { assignmentId: 'asg-1', justification: 'Still needed' });
    await h.taskRunner.run();
    const [ext] = await h.repositories.requests.listForUser('u-fred');
    expect(ext!.type).toBe('extend');
    await approve(nadia, ext!.id);
    expect((await h.repositories.assignments.get('asg-1'))!.expiresAt!.toISOString()).toBe('2027-05-21T09:00:00.000Z');
    expect((await h.repositories.requests.get(ext!.id))!.state).toBe('delivered');
    expect((await cardsFor('u-fred', 'notice')).map((c) => c.card.data.title)).toContain('Extended: Accounting');
  });

  it('a burst of 50 concurrent Approve clicks yields one decision and 49 clear refusals', async () => {
    const req = await request(fred, ACCOUNTING);
    const clickers = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 'u-nadia' : alex.aadObjectId));
    const results = await Promise.all(clickers.map((id) => h.approvals.decide(id, { requestId: req.id, stage: 0, decision: 'approve' })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const refusals = results.filter((r) => !r.ok);
    expect(refusals).toHaveLength(49);
    for (const refusal of refusals) expect(refusal.ok ? '' : refusal.message).toMatch(/^This request was already approved by (Nadia Okafor|Alex Wilber|you) on /);
    const after = (await h.repositories.requests.get(req.id))!;
    expect(after.history.filter((e) => e.action.startsWith('approved'))).toHaveLength(1);
    expect(await tasks(TASK_TYPES.deliver)).toHaveLength(1);
  });

  it('a tampered decision card is refused and changes nothing', async () => {
    const req = await request(fred, ACCOUNTING);
    expect((await press(nadia, 'decide', { requestId: req.id, stage: 0, decision: 'maybe' })).text).toContain('altered');
    expect((await press(nadia, 'decide', { requestId: { $gt: '' }, stage: 0, decision: 'approve' })).text).toContain('altered');
    expect((await press(nadia, 'decide', { requestId: req.id, stage: 'x', decision: 'approve' })).text).toContain('altered');
    expect((await h.repositories.requests.get(req.id))!.state).toBe('pendingApproval');
  });

  it('admins see pending approvals and who holds them; others are refused', async () => {
    await request(fred, ACCOUNTING);
    let reply = '';
    await h.adapter.send(personalMessage(ivan, 'approvals')).assertReply((a) => void (reply = cardText(a.attachments?.[0]?.content)));
    expect(reply).toContain('Pending approvals: 1');
    expect(reply).toMatch(/Accounting.*waiting on (Nadia Okafor, Alex Wilber|Alex Wilber, Nadia Okafor)/);
    await h.adapter.send(personalMessage(fred, 'approvals')).assertReply((a) => void (reply = cardText(a.attachments?.[0]?.content)));
    expect(reply).toContain('Admins only');
    const refusals = (await h.repositories.audit.query()).filter((e) => e.action === 'admin.refused');
    expect(refusals.map((e) => [e.actorId, e.details])).toEqual([['u-fred', { command: 'approvals' }]]);
  });
});
