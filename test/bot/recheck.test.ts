import { rmSync } from 'node:fs';
import type { Task } from '../../src/domain/model';
import { NOTIFY_TASKS } from '../../src/services/notifications';
import { TASK_TYPES } from '../../src/services/workflow';
import { PERSON_CLAIM_LEASE_MS } from '../../src/store/repositories/personClaims';
import { type BotHarness, cardInvoke, cardText, createBotHarness, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { applySodCatalog, SOD_PEOPLE, SodDirectory, writeSodWorld } from '../support/sodWorld';

// Rules checked again while a request waits (issue 14, points 3 and 4): separation of duties,
// eligibility, the catalog's switches and the account, at each approval and just before
// delivery; what the approver, the requester, the person it was for and the admins are told.
// The world: test/support/sodWorld.ts.
const { fred, lola, nadia, ivan, victor } = SOD_PEOPLE;
const LEDGER = { packageId: 'ledger', policyId: 'finance', justification: 'Month-end close' };
const PAYMENTS = { packageId: 'payments', policyId: 'all', justification: 'Supplier runs' };

describe('checked again at approval and before delivery (TestAdapter)', () => {
  let h: BotHarness;
  let directory: SodDirectory;
  let world: ReturnType<typeof writeSodWorld>;

  beforeEach(async () => {
    world = writeSodWorld();
    directory = await SodDirectory.load(world.directoryFile);
    h = await createBotHarness({ directory, adminUserIds: [ivan.aadObjectId], catalogFile: world.catalogFile });
    await applySodCatalog(world.catalogFile, h.repositories);
  });

  afterEach(async () => {
    await h.close();
    rmSync(world.dir, { recursive: true, force: true });
  });

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown> = {}) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
    const card = (h.lastInvokeResponse()?.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return { card, text: cardText(card), json: JSON.stringify(card) };
  }

  async function say(user: TeamsUser, text: string): Promise<string> {
    await h.adapter.processActivity(personalMessage(user, text));
    const replies = h.adapter.activeQueue.splice(0);
    return replies.map((r) => (r.attachments?.[0] ? cardText(r.attachments[0].content) : (r.text ?? ''))).join('\n');
  }

  async function run(): Promise<void> {
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
  }

  async function submit(user: TeamsUser, data: Record<string, unknown>) {
    const answer = await press(user, 'submitRequest', data);
    await run();
    const [latest] = await h.repositories.requests.listForUser(user.aadObjectId);
    return { answer, request: latest! };
  }

  async function tasks(type: string): Promise<Task[]> {
    return (await h.store.collection<{ _id: string } & Omit<Task, 'id'>>('tasks').find({ type }, { sort: { createdAt: 1 } })).map(({ _id, ...t }) => ({ id: _id, ...t }) as Task);
  }

  /** Notices queued for a user: "title: message". */
  async function noticesFor(userId: string): Promise<string[]> {
    return (await tasks(NOTIFY_TASKS.send))
      .map((t) => t.payload as { userId: string; card: { template: string; data: { title?: string; message?: string } } })
      .filter((p) => p.userId === userId && p.card.template === 'notice')
      .map((p) => `${p.card.data.title}: ${p.card.data.message}`);
  }

  const approve = (user: TeamsUser, requestId: string) => press(user, 'decide', { requestId, stage: 0, decision: 'approve' });

  it("joined an incompatible group outside the bot while waiting: the approver's Approve ends it, and everyone concerned learns why", async () => {
    const { request } = await submit(fred, LEDGER);
    expect(request.state).toBe('pendingApproval');
    // An Entra admin adds Fred to Executives directly: the bot can't serialise that, it checks again.
    await directory.addGroupRole('g-exec', fred.aadObjectId, 'member');

    const { text, json } = await approve(nadia, request.id);
    expect(text).toContain('Your approval was not recorded: this request can no longer be granted, because Fred Jansen is now a member of "Executives", which is incompatible with this package (separation of duties).');
    expect(text).toContain("Can't be granted any more");
    expect(json).not.toContain('"verb":"decide"');

    const ended = (await h.repositories.requests.get(request.id))!;
    expect(ended).toMatchObject({ state: 'denied', endReason: { rule: 'separationOfDuties', checkedAt: 'approval', conflict: { kind: 'group', id: 'g-exec', displayName: 'Executives' } } });
    expect(ended.stages[0]!.decision).toBeUndefined();
    await run();
    expect(await tasks(TASK_TYPES.deliver)).toHaveLength(0);
    expect(await directory.hasGroupRole('g-ledger', fred.aadObjectId, 'member')).toBe(false);

    expect(await noticesFor(fred.aadObjectId)).toEqual([
      `Can't be granted: Ledger: Request ${request.id} was checked again when it was approved and can no longer be granted: you are now a member of "Executives", which is incompatible with this package (separation of duties). It has ended and nothing was delivered. If you need this one instead, give the other back first (my access), then request it again.`,
    ]);
    const [adminNotice] = await noticesFor(ivan.aadObjectId);
    expect(adminNotice).toContain(`Separation of duties: request ${request.id} ended`);
    expect(adminNotice).toContain('Fred Jansen is a member of group "Executives" (g-exec), which "Ledger" lists as incompatible');
    const audit = await h.repositories.audit.query({ requestId: request.id });
    expect(audit.filter((e) => e.action === 'request.endedByRule').map((e) => e.details)).toEqual([
      { rule: 'separationOfDuties', checkedAt: 'approval', conflict: { kind: 'group', id: 'g-exec', displayName: 'Executives' }, approverId: nadia.aadObjectId },
    ]);
    expect(audit.some((e) => e.action === 'approval.approved')).toBe(false);

    // A second click (or a replay) changes nothing and still says why.
    const again = await approve(nadia, request.id);
    expect(again.text).toContain('This request was ended by the bot: it could no longer be granted, because Fred Jansen is now a member of "Executives"');
    expect((await h.repositories.audit.query({ requestId: request.id })).filter((e) => e.action === 'request.endedByRule')).toHaveLength(1);
    // My requests says it too.
    expect((await press(fred, 'myRequests')).text).toContain('Ended: it can no longer be granted (conflicts with membership of "Executives" (separation of duties)); nothing was delivered');
  });

  it('left the group the policy is for while waiting: ended as no longer eligible, and admins are not bothered', async () => {
    const { request } = await submit(fred, LEDGER);
    await directory.removeGroupRole('g-finance', fred.aadObjectId, 'member');
    const { text } = await approve(nadia, request.id);
    expect(text).toContain('because its policy no longer includes them (for example, Fred Jansen left the group it is for)');
    expect(await h.repositories.requests.get(request.id)).toMatchObject({ state: 'denied', endReason: { rule: 'notEligible', checkedAt: 'approval' } });
    expect((await noticesFor(fred.aadObjectId)).join('\n')).toContain('its policy no longer includes you (for example, you left the group it is for)');
    expect(await noticesFor(ivan.aadObjectId)).toEqual([]);
  });

  it('account disabled, or catalog closed by an admin, while waiting: each ends at approval with its reason', async () => {
    const { request: fredsRequest } = await submit(fred, PAYMENTS);
    const { request: lolasRequest } = await submit(lola, PAYMENTS);
    directory.disableAccount(fred.aadObjectId);
    expect(await say(ivan, 'disable catalog sod')).toContain('Finance duties');

    expect((await approve(nadia, fredsRequest.id)).text).toContain("because Fred Jansen's account is disabled or no longer in the directory");
    expect(await h.repositories.requests.get(fredsRequest.id)).toMatchObject({ state: 'denied', endReason: { rule: 'accountDisabled' } });
    expect((await approve(nadia, lolasRequest.id)).text).toContain('because its catalog has been closed for requests');
    expect(await h.repositories.requests.get(lolasRequest.id)).toMatchObject({ state: 'denied', endReason: { rule: 'catalogDisabled' } });
    expect((await noticesFor(lola.aadObjectId)).join('\n')).toContain('can no longer be granted: its catalog has been closed for requests. It has ended and nothing was delivered. Ask IT if it is still needed.');
  });

  it("an admin's direct assignment overrides who may request, but not separation of duties (as Entra)", async () => {
    const assign = (user: string) => press(ivan, 'adminAssign', { packageId: 'ledger', policyId: 'direct', user, justification: 'Cover for the close' });
    // Victor is in Executives: refused, nothing stored.
    const refused = await assign('victorh@example.com');
    expect(refused.text).toContain('Victor Hale can\'t be given "Ledger": they are a member of "Executives", and the two are incompatible (separation of duties).');
    expect(await h.repositories.requests.listForUser(victor.aadObjectId)).toEqual([]);
    // Nadia is not in the finance group the policy names: an admin may still give it to her.
    expect((await assign('nadiao@example.com')).text).toContain('Assigned: Ledger to Nadia Okafor');
    await run();
    expect(await directory.hasGroupRole('g-ledger', nadia.aadObjectId, 'member')).toBe(true);
    expect((await h.repositories.requests.listForUser(nadia.aadObjectId))[0]).toMatchObject({ type: 'adminAdd', state: 'delivered' });
  });

  it('a direct assignment that starts later is checked again at its start: joined an incompatible group meanwhile, nothing is delivered', async () => {
    const answer = await press(ivan, 'adminAssign', { packageId: 'ledger', policyId: 'direct', user: 'lolam@example.com', justification: 'From Tuesday', startDate: '2026-11-24' });
    expect(answer.text).toContain('Assigned: Ledger to Lola Martin');
    await run();
    const [request] = await h.repositories.requests.listForUser(lola.aadObjectId);
    expect(request!.state).toBe('scheduled');
    await directory.addGroupRole('g-exec', lola.aadObjectId, 'member');
    h.clock.set('2026-11-24T00:00:01Z');
    await run();

    expect(await h.repositories.requests.get(request!.id)).toMatchObject({ state: 'denied', endReason: { rule: 'separationOfDuties', checkedAt: 'delivery', conflict: { kind: 'group', id: 'g-exec' } } });
    expect(await h.repositories.assignments.listActiveForUser(lola.aadObjectId)).toEqual([]);
    expect(await directory.hasGroupRole('g-ledger', lola.aadObjectId, 'member')).toBe(false);
    const toIvan = (await noticesFor(ivan.aadObjectId)).join('\n');
    expect(toIvan).toContain(`Request ${request!.id} for Lola Martin was checked again just before delivery and can no longer be granted: Lola Martin is now a member of "Executives"`);
    expect(toIvan).toContain(`Separation of duties: request ${request!.id} ended`);
    expect((await noticesFor(lola.aadObjectId)).join('\n')).toContain(`The access Ivan Petrov asked for you (request ${request!.id}) can no longer be granted: you are now a member of "Executives"`);

    // A run killed between ending it and queuing the notices: the task's rerun queues them, once.
    await h.store.collection('tasks').delete({ type: NOTIFY_TASKS.send });
    expect(await h.delivery.deliver(request!.id)).toEqual({ status: 'done' });
    expect(await h.delivery.deliver(request!.id)).toEqual({ status: 'done' });
    expect(await noticesFor(lola.aadObjectId)).toHaveLength(1);
    expect((await noticesFor(ivan.aadObjectId)).filter((n) => n.startsWith("Can't be granted"))).toHaveLength(1);
    expect((await noticesFor(ivan.aadObjectId)).filter((n) => n.startsWith('Separation of duties'))).toHaveLength(1);
    expect((await h.repositories.audit.query({ requestId: request!.id })).filter((e) => e.action === 'request.endedByRule')).toHaveLength(1);
  });

  it('an extension is checked again at approval; extending access that now conflicts is refused', async () => {
    const { request } = await submit(fred, LEDGER);
    await approve(nadia, request.id);
    await run();
    const [assignment] = await h.repositories.assignments.listActiveForUser(fred.aadObjectId);
    expect(assignment).toMatchObject({ packageId: 'ledger', state: 'delivered' });
    h.clock.advance(20 * 24 * 3_600_000); // ten days before the end: an extension adds time
    await press(fred, 'extend', { assignmentId: assignment!.id, justification: 'Another month' });
    await run();
    const extension = (await h.repositories.requests.findOpen(fred.aadObjectId, 'ledger', 'extend'))!;
    expect(extension.state).toBe('pendingApproval');

    await directory.addGroupRole('g-exec', fred.aadObjectId, 'member');
    expect((await approve(nadia, extension.id)).text).toContain('is now a member of "Executives"');
    expect(await h.repositories.requests.get(extension.id)).toMatchObject({ state: 'denied', endReason: { rule: 'separationOfDuties' } });
    expect((await h.repositories.assignments.get(assignment!.id))!.expiresAt).toEqual(assignment!.expiresAt);

    const refused = await press(fred, 'extend', { assignmentId: assignment!.id, justification: 'Please' });
    expect(refused.text).toContain('You can\'t extend "Ledger": you\'re a member of "Executives", and the two are incompatible (separation of duties).');
    expect(await h.repositories.requests.findOpen(fred.aadObjectId, 'ledger', 'extend')).toBeNull();
  });

  it('a person another change holds: a submission waits, then says so and stores nothing; a holder that died is taken over after its lease', async () => {
    const holder = await h.repositories.personClaims.tryAcquire(fred.aadObjectId, 'delivery');
    expect(holder).not.toBeNull();
    const busy = await press(fred, 'submitRequest', PAYMENTS);
    expect(busy.text).toContain('Busy right now');
    expect(busy.text).toContain('Another change to this access is being made right now, so nothing was changed. Try again in a moment.');
    expect(await h.repositories.requests.listForUser(fred.aadObjectId)).toEqual([]);

    // The holder never comes back (killed): after the lease the next change goes through at once.
    h.clock.advance(PERSON_CLAIM_LEASE_MS);
    const started = Date.now();
    expect((await press(fred, 'submitRequest', PAYMENTS)).text).toContain('Request sent for approval');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await h.repositories.personClaims.holder(fred.aadObjectId)).toBeNull();
  }, 20_000);

  it('a request and a direct assignment for one person at the same moment: one wins, the other is refused with the reason', async () => {
    const [requested, assigned] = await Promise.all([
      press(fred, 'submitRequest', PAYMENTS),
      press(ivan, 'adminAssign', { packageId: 'ledger', policyId: 'direct', user: 'fredj@example.com', justification: 'Cover' }),
    ]);
    const texts = [requested.text, assigned.text].join('\n');
    expect(texts).toContain('separation of duties');
    const open = (await h.repositories.requests.listForUser(fred.aadObjectId)).map((r) => r.packageId);
    expect(open).toHaveLength(1);
  });
});
