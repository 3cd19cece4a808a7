import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AccessRequest, Task } from '../../src/domain/model';
import { NOTIFY_TASKS } from '../../src/services/notifications';
import { type BotHarness, cardButtons, cardInvoke, cardOf, cardText, createBotHarness, EXAMPLE_CATALOG, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { byCreatedAt } from '../support/testStore';

// Admin changes through the bot (TestAdapter, example catalog and directory): assign, remove,
// cancel, reprocess a request, enable/disable, apply the catalog. Ivan is the admin.
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' };
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: TeamsUser = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const alex: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };
const lynne: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000025', name: 'Lynne Robbins' };

/** The assign form of Accounting through its Employees policy, filled in for Fred, approval skipped. */
const ASSIGN_FRED = {
  packageId: 'accounting',
  policyId: 'employees',
  user: 'fredj@example.com',
  skipApproval: 'true',
  justification: 'New joiner, first day',
  'answer:costCentre': '4100',
};

describe('admin changes (TestAdapter, example catalog)', () => {
  let h: BotHarness;

  beforeEach(async () => {
    h = await createBotHarness({ exampleCatalog: true, adminUserIds: [ivan.aadObjectId] });
  });

  afterEach(() => h.close());

  async function say(user: TeamsUser, text: string) {
    let reply: Record<string, unknown> | undefined;
    await h.adapter.send(personalMessage(user, text)).assertReply((activity) => {
      reply = cardOf(activity);
    });
    expect(validateCard(reply!)).toEqual([]);
    return { card: reply!, text: cardText(reply), json: JSON.stringify(reply), buttons: cardButtons(reply) };
  }

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown> = {}) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
    const card = (h.lastInvokeResponse()?.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return { card, text: cardText(card), json: JSON.stringify(card), buttons: cardButtons(card) };
  }

  async function drain(): Promise<void> {
    for (let i = 0; i < 10; i++) await h.taskRunner.run();
  }

  /** What must not move when input is refused. */
  async function counts() {
    const count = (name: string) => h.store.collection(name).count({});
    return { requests: await count('requests'), assignments: await count('assignments'), tasks: await count('tasks'), audit: await count('auditEvents') };
  }

  async function audit(action: string) {
    return (await h.repositories.audit.query()).filter((e) => e.action === action);
  }

  /** Cards queued for a user, as template data. */
  async function noticesTo(userId: string): Promise<{ title: string; message: string }[]> {
    const tasks = byCreatedAt(await h.store.collection<{ _id: string } & Omit<Task, 'id'>>('tasks').find({ type: NOTIFY_TASKS.send }));
    return tasks
      .map((t) => t.payload as { userId: string; card: { template: string; data: { title: string; message: string } } })
      .filter((p) => p.userId === userId && p.card.template === 'notice')
      .map((p) => ({ title: p.card.data.title, message: p.card.data.message }));
  }

  async function fredsRequest(): Promise<AccessRequest> {
    const [request] = await h.repositories.requests.listForUser(fred.aadObjectId);
    return request!;
  }

  /** Fred asks for Accounting himself: a request waiting for the finance approvers. */
  async function fredRequestsAccounting(): Promise<AccessRequest> {
    await press(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' });
    await drain();
    return fredsRequest();
  }

  describe('everything here is for admins only', () => {
    it.each([
      ['assign accounting', 'assign'],
      ['remove ASG-REQ-X left', 'remove'],
      ['cancel REQ-X', 'cancel'],
      ['enable package accounting', 'enable'],
      ['disable package accounting', 'disable'],
      ['apply catalog', 'apply'],
    ])('"%s" from an employee is refused, audited, and changes nothing else', async (text, command) => {
      const before = await counts();
      const reply = await say(fred, text);
      expect(reply.text).toContain('Admins only');
      expect(reply.text).toContain(`Only access package administrators can use ${command}.`);
      expect(await counts()).toEqual({ ...before, audit: before.audit + 1 });
      expect((await audit('admin.refused')).map((e) => [e.actorId, e.details])).toEqual([['u-fred', { command }]]);
      expect((await h.repositories.packages.get('accounting'))?.enabled).toBe(true);
    });

    it('a crafted assign button from an employee is refused the same way', async () => {
      const before = await counts();
      const reply = await press(fred, 'adminAssign', { ...ASSIGN_FRED, user: 'u-fred' });
      expect(reply.text).toContain('Only access package administrators can use adminAssign.');
      expect(await counts()).toEqual({ ...before, audit: before.audit + 1 });
    });
  });

  describe('assign', () => {
    it('asks which policy first when the package has several, admin-only ones included', async () => {
      const reply = await say(ivan, 'assign accounting');
      expect(reply.text).toContain('Assign Accounting');
      expect(reply.text).toContain('Employees');
      expect(reply.text).toContain('Direct assignment by admins');
      expect(reply.text).toContain('Admin-only: for direct assignment');
      expect(reply.text).toContain("Approval by a member of Finance approvers.");
      expect(reply.json).toContain('"title":"Assign via Direct assignment by admins","verb":"adminAssignForm","data":{"verb":"adminAssignForm","packageId":"accounting","policyId":"direct"}');
      expect(reply.json).toContain('"title":"Assign via Employees"');

      const form = await press(ivan, 'adminAssignForm', { packageId: 'accounting', policyId: 'employees' });
      expect(form.text).toContain('Policy: Employees');
      expect(form.json).toContain('"id":"skipApproval"');
      expect(form.json).toContain('"id":"answer:costCentre"');
      expect(form.json).toContain('"max":"2027-05-21"'); // P180D from today
      expect(form.buttons).toEqual(['Assign', 'Other policy']);
    });

    it('opens the form at once for a package with one policy, or with the policy typed', async () => {
      const jit = await say(ivan, 'assign payment-run');
      expect(jit.text).toContain('Policy: Finance team');
      expect(jit.json).not.toContain('skipApproval'); // no approval to skip
      expect(jit.json).toContain('"id":"answer:changeTicket"');
      const direct = await say(ivan, 'assign accounting direct');
      expect(direct.text).toContain('Policy: Direct assignment by admins');
      expect(direct.text).toContain('without an end date the access lasts until removed');
    });

    it('names what is wrong with the package or policy, with a suggestion', async () => {
      expect((await say(ivan, 'assign')).text).toContain('Usage: assign package-id [policy-id]');
      expect((await say(ivan, 'assign acounting')).text).toContain('There\'s no access package "acounting". Did you mean accounting?');
      expect((await say(ivan, 'assign accounting nobody')).text).toContain('"Accounting" has no policy "nobody". Its policies: direct, employees.');
    });

    it('skipping approval with a justification: delivered at once, audited, and the user told an admin gave it', async () => {
      const reply = await press(ivan, 'adminAssign', ASSIGN_FRED);
      expect(reply.text).toContain('Assigned: Accounting to Fred Jansen');
      expect(reply.text).toContain('Approval skipped; your justification is in the audit log.');
      const request = await fredsRequest();
      expect(request).toMatchObject({ type: 'adminAdd', requesterId: 'u-ivan', targetUserId: 'u-fred', state: 'delivering', justification: 'New joiner, first day', answers: [{ questionId: 'costCentre', value: '4100' }] });
      expect(request.history.map((e) => e.action)).toEqual(['submitted', 'approval skipped by an administrator']);
      expect((await audit('admin.assign')).map((e) => [e.actorId, e.userId, e.details])).toEqual([
        ['u-ivan', 'u-fred', { policyId: 'employees', bypassedApproval: true, justification: 'New joiner, first day', state: 'delivering' }],
      ]);

      await drain();
      const delivered = (await h.repositories.requests.get(request.id))!;
      expect(delivered.state).toBe('delivered');
      expect(await h.directory.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(true);
      const assignment = (await h.repositories.assignments.get(delivered.assignmentId!))!;
      expect(assignment.expiresAt!.toISOString()).toBe('2027-05-21T09:00:00.000Z');
      const [notice] = await noticesTo('u-fred');
      expect(notice!.title).toBe('You now have access: Accounting');
      expect(notice!.message).toMatch(/^Ivan Petrov, an access package administrator, gave you this access\. You now have/);
      // No approval card went anywhere.
      expect(await audit('approval.cardSent')).toEqual([]);
    });

    it('without skipping, the approvers decide; the card says Ivan asks for Fred; both hear the outcome', async () => {
      const { skipApproval, ...noSkip } = ASSIGN_FRED;
      const reply = await press(ivan, 'adminAssign', { ...noSkip, justification: 'Joins accounting' });
      expect(reply.text).toContain('Sent for approval: Accounting for Fred Jansen');
      expect(reply.text).toContain('You and Fred Jansen will hear the outcome.');
      await drain();
      const request = await fredsRequest();
      expect(request.state).toBe('pendingApproval');
      expect(await noticesTo('u-fred')).toEqual([expect.objectContaining({ title: 'Requested for you: Accounting' })]);

      const tasks = await h.store.collection<{ _id: string; type: string; payload: { userId: string; card: { template: string; data: Record<string, unknown> } } }>('tasks').find({ type: NOTIFY_TASKS.send });
      const card = tasks.find((t) => t.payload.userId === 'u-nadia' && t.payload.card.template === 'approvalRequest')!.payload.card;
      h.clock.advance(60_000); // notices are read back in the order queued
      const rendered = await press(nadia, 'decide', { requestId: request.id, stage: 0, decision: 'approve' });
      expect(rendered.text).toContain('Approved by Nadia Okafor');
      expect(card.data.requesterName).toBe('Ivan Petrov asks for Fred Jansen');
      expect(card.data.requesterDetails).toBe('Accountant · Finance'); // Fred's, not Ivan's
      expect(card.data.justification).toBe('Joins accounting');

      h.clock.advance(60_000);
      await drain();
      const ivanHeard = (await noticesTo('u-ivan')).map((n) => n.message).join('\n');
      expect(ivanHeard).toContain(`Nadia Okafor approved your request ${request.id} for Fred Jansen. Their access is being set up`);
      const fredHeard = await noticesTo('u-fred');
      expect(fredHeard.map((n) => n.title)).toEqual(['Requested for you: Accounting', 'Approved: Accounting', 'You now have access: Accounting']);
      expect(fredHeard[1]!.message).toContain(`Nadia Okafor approved the access Ivan Petrov asked for you (request ${request.id})`);
      expect((await h.repositories.requests.get(request.id))!.state).toBe('delivered');
    });

    it('a denial reaches the admin and the user, with the reason', async () => {
      const { skipApproval, ...noSkip } = ASSIGN_FRED;
      await press(ivan, 'adminAssign', { ...noSkip, skipApproval: 'false' });
      await drain();
      const request = await fredsRequest();
      await press(alex, 'decide', { requestId: request.id, stage: 0, decision: 'deny', justification: 'Not in the team yet' });
      await drain();
      expect((await noticesTo('u-ivan')).map((n) => n.message)).toContain(`Alex Wilber denied your request ${request.id} for Fred Jansen. Their reason: "Not in the team yet"`);
      expect((await noticesTo('u-fred')).find((n) => n.title === 'Denied: Accounting')!.message).toBe(
        `Alex Wilber denied the access Ivan Petrov asked for you (request ${request.id}). Their reason: "Not in the team yet"`,
      );
    });

    it('when nobody decides in time, the user hears it too', async () => {
      const { skipApproval, ...noSkip } = ASSIGN_FRED;
      await press(ivan, 'adminAssign', noSkip);
      await drain();
      h.clock.advance(8 * 24 * 60 * 60_000); // the stage's P7D has passed
      await drain();
      const request = await fredsRequest();
      expect(request.state).toBe('timedOut');
      expect((await noticesTo('u-fred')).find((n) => n.title === 'Not approved: Accounting')!.message).toBe(
        `Nobody decided on the access Ivan Petrov asked for you (request ${request.id}) in time, so it was denied automatically.`,
      );
      expect((await noticesTo('u-ivan')).map((n) => n.message).join('\n')).toContain(`Nobody decided on your request ${request.id} for Fred Jansen in time`);
    });

    it('the user it is for never approves it: an approver assigned the package is left out of the stage', async () => {
      const { skipApproval, ...noSkip } = ASSIGN_FRED;
      await press(ivan, 'adminAssign', { ...noSkip, user: 'u-nadia' });
      await drain();
      const [request] = await h.repositories.requests.listForUser('u-nadia');
      expect(request!.stages[0]!.approverIds).toEqual([alex.aadObjectId]);
    });

    it('skipping approval needs a justification: the form comes back with it marked, and nothing changes', async () => {
      const before = await counts();
      const reply = await press(ivan, 'adminAssign', { ...ASSIGN_FRED, justification: '  ' });
      expect(reply.text).toContain('Please fix the highlighted fields and assign again.');
      expect(reply.text).toContain('A justification is required to skip approval; it is kept in the audit log.');
      expect(reply.json).toContain('"value":"fredj@example.com"'); // what was typed is kept
      expect(await counts()).toEqual(before);
    });

    it('a skip on a policy without approval changes nothing about approval (and needs no justification)', async () => {
      const reply = await press(ivan, 'adminAssign', { packageId: 'accounting', policyId: 'direct', user: 'u-fred', skipApproval: 'true' });
      expect(reply.text).toContain('No approval needed.');
      expect((await audit('admin.assign'))[0]!.details).toMatchObject({ bypassedApproval: false, justification: null });
      await drain();
      const assignment = (await h.repositories.assignments.listActiveForUser('u-fred'))[0]!;
      expect(assignment).toMatchObject({ policyId: 'direct', state: 'delivered' });
      expect(assignment.expiresAt).toBeUndefined(); // noExpiration
    });

    it.each([
      ['', 'Give the user\'s sign-in name (UPN, e.g. fredj@example.com) or object id.'],
      ['nobody@example.com', 'There\'s no user "nobody@example.com" in the directory.'],
      ['u-oscar', "Oscar Lind's account is disabled in the directory, so they can't be given access."],
      ['fred jansen', "That isn't a sign-in name or object id: give one, without spaces."],
    ])('user %j is refused next to the field, and nothing changes', async (user, message) => {
      const before = await counts();
      const reply = await press(ivan, 'adminAssign', { ...ASSIGN_FRED, user });
      expect(reply.text).toContain(message);
      expect(reply.text).toContain('Assign Accounting'); // the form again
      expect(await counts()).toEqual(before);
    });

    it('a guest only where the catalog accepts external users', async () => {
      const catalog = (await h.repositories.catalogs.get('finance'))!;
      await h.repositories.catalogs.save({ ...catalog, externalUsersEnabled: false });
      const before = await counts();
      const refused = await press(ivan, 'adminAssign', { packageId: 'audit-archive', policyId: 'auditors', user: 'u-grace', skipApproval: 'true', justification: 'Audit', 'answer:engagement': 'vat-review' });
      expect(refused.text).toContain('Grace Kim (Contoso Audit) is a guest, and catalog "Finance" doesn\'t accept external users');
      expect(await counts()).toEqual(before);
      await h.repositories.catalogs.save(catalog);
      expect((await press(ivan, 'adminAssign', { packageId: 'audit-archive', policyId: 'auditors', user: 'u-grace', skipApproval: 'true', justification: 'Audit', 'answer:engagement': 'vat-review' })).text).toContain(
        'Assigned: Audit access (external auditors) to Grace Kim (Contoso Audit)',
      );
    });

    it('refuses a user who already has the package, or has asked for it, and nothing changes', async () => {
      await press(ivan, 'adminAssign', ASSIGN_FRED);
      await drain();
      let before = await counts();
      const assigned = await press(ivan, 'adminAssign', ASSIGN_FRED);
      expect(assigned.text).toMatch(/Fred Jansen already has "Accounting" until 21 May 2027 at 09:00 UTC \(assignment ASG-REQ-/);
      expect(await counts()).toEqual(before);

      const pending = await press(lynne, 'submitRequest', { packageId: 'supplier-invoices', policyId: 'procurement', justification: 'Invoices' });
      expect(pending.text).toContain('Request sent for approval');
      before = await counts();
      const asked = await press(ivan, 'adminAssign', { packageId: 'supplier-invoices', policyId: 'procurement', user: lynne.aadObjectId, skipApproval: 'true', justification: 'Urgent' });
      const [lynnes] = await h.repositories.requests.listForUser(lynne.aadObjectId);
      expect(asked.text).toContain(`Lynne Robbins already has an open request for "Supplier invoices": ${lynnes!.id}, waiting for approval. Cancel it first (cancel ${lynnes!.id})`);
      expect(await counts()).toEqual(before);
    });

    it('keeps separation of duties: the executive expense reports and Accounting never together', async () => {
      await press(ivan, 'adminAssign', { packageId: 'expenses-executive', policyId: 'executive-office', user: 'u-lola', skipApproval: 'true', justification: 'Reconciles expenses' });
      await drain();
      const before = await counts();
      const reply = await press(ivan, 'adminAssign', { ...ASSIGN_FRED, user: 'lolam@example.com' });
      expect(reply.text).toContain('Lola Martin can\'t be given "Accounting": they have, or have asked for, "Expense reports (executive)"');
      expect(reply.text).toContain('separation of duties');
      expect(await counts()).toEqual(before);
    });

    it('checks answers and dates against the policy, all at once, and changes nothing', async () => {
      const before = await counts();
      const reply = await press(ivan, 'adminAssign', { ...ASSIGN_FRED, 'answer:costCentre': '41', endDate: '2028-01-01' });
      expect(reply.text).toContain('A cost centre is four digits, e.g. 4100');
      expect(reply.text).toContain('Access to this package can last at most 180 days: choose an earlier end date.');
      expect(reply.text).toContain('Please fix the highlighted fields');
      expect(await counts()).toEqual(before);
    });

    it('an admin may choose dates even where requesters may not; a later start is scheduled', async () => {
      const reply = await press(ivan, 'adminAssign', { packageId: 'payment-run', policyId: 'finance-team', user: 'u-lola', justification: 'Payment batch', 'answer:changeTicket': 'CHG0012345', startDate: '2026-11-25' });
      expect(reply.text).toContain('Access starts on 25 Nov 2026');
      const [request] = await h.repositories.requests.listForUser('u-lola');
      expect(request).toMatchObject({ state: 'scheduled', schedule: { startAt: new Date('2026-11-25T00:00:00Z') } });
      expect((await noticesTo('u-lola')).map((n) => n.title)).toEqual(['Requested for you: Payment run (just-in-time)']);
      await drain();
      expect(await h.repositories.assignments.listActiveForUser('u-lola')).toEqual([]);
      h.clock.set('2026-11-25T00:00:01Z');
      await drain();
      const [assignment] = await h.repositories.assignments.listActiveForUser('u-lola');
      expect(assignment!.state).toBe('delivered');
      expect(assignment!.expiresAt!.toISOString()).toBe('2026-11-25T02:00:01.000Z'); // PT2H from delivery
    });

    it('a disabled package, policy or catalog is not assigned until enabled again', async () => {
      await say(ivan, 'disable package accounting');
      const before = await counts();
      expect((await say(ivan, 'assign accounting')).text).toContain('"Accounting" is disabled. Type enable package accounting first.');
      expect((await press(ivan, 'adminAssign', ASSIGN_FRED)).text).toContain('"Accounting" is disabled.');
      expect(await counts()).toEqual(before);
      await say(ivan, 'enable package accounting');
      await say(ivan, 'disable policy accounting/employees');
      expect((await press(ivan, 'adminAssign', ASSIGN_FRED)).text).toContain('Policy "Employees" of "Accounting" is disabled. Type enable policy accounting/employees first');
      // The form then offers only the enabled policy.
      expect((await say(ivan, 'assign accounting')).text).toContain('Policy: Direct assignment by admins');
    });
  });

  describe('remove', () => {
    async function fredHasAccounting() {
      await press(ivan, 'adminAssign', ASSIGN_FRED);
      await drain();
      return (await h.repositories.assignments.listActiveForUser('u-fred'))[0]!;
    }

    it('ends the assignment through the removal path; the user is told it was an admin, and why', async () => {
      const assignment = await fredHasAccounting();
      const reply = await say(ivan, `remove ${assignment.id} left the   team`);
      expect(reply.text).toContain('Removing: Accounting from Fred Jansen');
      expect(reply.text).toContain('Reason given: "left the team".');
      const [removal] = (await h.repositories.requests.listOpenForUser('u-fred')).filter((r) => r.type === 'adminRemove');
      expect(removal).toMatchObject({ requesterId: 'u-ivan', targetUserId: 'u-fred', assignmentId: assignment.id, justification: 'left the team' });
      expect((await audit('admin.remove')).map((e) => [e.actorId, e.assignmentId, e.details])).toEqual([['u-ivan', assignment.id, { reason: 'left the team' }]]);
      const told = (await noticesTo('u-fred')).find((n) => n.title === 'Removed by an administrator: Accounting')!;
      expect(told.message).toContain('Ivan Petrov, an access package administrator, is removing your access to "Accounting". Their reason: "left the team".');
      const mine = await say(fred, 'my access');
      expect(mine.text).toContain('Removal in progress.');
      expect(mine.json).not.toContain('"verb":"confirmRemove"'); // no second removal offered

      await drain();
      expect((await h.repositories.assignments.get(assignment.id))!.state).toBe('removed');
      expect((await h.repositories.requests.get(removal!.id))!.state).toBe('delivered');
      expect(await h.directory.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(false);
      expect((await noticesTo('u-fred')).map((n) => n.title)).toContain('Removed: Accounting');
    });

    it('keeps access the user had before (ledger rules)', async () => {
      await press(ivan, 'adminAssign', { ...ASSIGN_FRED, user: 'u-lola' });
      await drain();
      const [assignment] = await h.repositories.assignments.listActiveForUser('u-lola');
      await say(ivan, `remove ${assignment!.id}`);
      await drain();
      expect(await h.directory.hasGroupRole('grp-finance', 'u-lola', 'member')).toBe(true); // she was in it before
      expect((await h.directory.listAppRoleAssignments('sp-vat', 'u-lola')).length).toBe(0);
      expect((await audit('admin.remove'))[0]!.details).toEqual({ reason: null });
    });

    it('unknown, ended and already-removing assignments get a clear answer and change nothing', async () => {
      expect((await say(ivan, 'remove')).text).toContain('Usage: remove assignment-id [reason]');
      let before = await counts();
      expect((await say(ivan, 'remove ASG-NOPE')).text).toContain("There's no assignment ASG-NOPE. Type assignments package-id to find it.");
      expect(await counts()).toEqual(before);

      const assignment = await fredHasAccounting();
      const request = await fredsRequest();
      expect((await say(ivan, `remove ${request.id}`)).text).toContain(`${request.id} is a request; its assignment is ${assignment.id}.`);
      await say(ivan, `remove ${assignment.id}`);
      before = await counts();
      expect((await say(ivan, `remove ${assignment.id}`)).text).toContain(`Fred Jansen's access to "Accounting" (${assignment.id}) is already being removed.`);
      expect(await counts()).toEqual(before);
      await drain();
      before = await counts();
      expect((await say(ivan, `remove ${assignment.id}`)).text).toContain(`Fred Jansen's access to "Accounting" (${assignment.id}) already was removed`);
      expect((await say(ivan, `remove ${assignment.id} ${'x'.repeat(501)}`)).text).toContain('Please keep the reason under 500 characters.');
      expect(await counts()).toEqual(before);
    });
  });

  describe('cancel', () => {
    it('cancels a waiting request: approvers\' cards say an administrator did, the requester hears why', async () => {
      const request = await fredRequestsAccounting();
      const reply = await say(ivan, `cancel ${request.id} duplicate of another request`);
      expect(reply.text).toContain(`Canceled: ${request.id}`);
      expect(reply.text).toContain('Reason given: "duplicate of another request".');
      const canceled = (await h.repositories.requests.get(request.id))!;
      expect(canceled.state).toBe('canceled');
      expect(canceled.history.at(-1)).toMatchObject({ actorId: 'u-ivan', action: 'canceled by an administrator', details: 'duplicate of another request' });
      expect((await audit('admin.cancel')).map((e) => [e.actorId, e.requestId, e.details])).toEqual([['u-ivan', request.id, { reason: 'duplicate of another request', previousState: 'pendingApproval' }]]);
      expect((await noticesTo('u-fred')).find((n) => n.title === 'Canceled by an administrator: Accounting')!.message).toBe(
        `Ivan Petrov, an access package administrator, canceled your request ${request.id} for "Accounting". Their reason: "duplicate of another request"`,
      );
      await drain();
      const updates = await h.store.collection<{ _id: string; type: string; payload: { trackAs: string; card: { data: { outcome: string } } } }>('tasks').find({ type: NOTIFY_TASKS.update });
      expect(updates.length).toBeGreaterThan(0);
      for (const update of updates) expect(update.payload.card.data.outcome).toBe('Canceled by an administrator.');
      // A late click on the old card changes nothing.
      const late = await press(nadia, 'decide', { requestId: request.id, stage: 0, decision: 'approve' });
      expect(late.text).toContain('This request was canceled by an administrator. Your click changed nothing.');
      expect(late.text).toContain('Canceled by an administrator.');
    });

    it('cancels a scheduled request before it starts; its delivery then does nothing', async () => {
      await press(ivan, 'adminAssign', { packageId: 'payment-run', policyId: 'finance-team', user: 'u-lola', justification: 'Batch', 'answer:changeTicket': 'CHG0012345', startDate: '2026-11-30' });
      const [request] = await h.repositories.requests.listForUser('u-lola');
      await say(ivan, `cancel ${request!.id}`);
      // Ivan asked for it himself: only Lola is told.
      expect((await noticesTo('u-ivan'))).toEqual([]);
      expect((await noticesTo('u-lola')).map((n) => n.title)).toContain('Canceled: Payment run (just-in-time)');
      h.clock.set('2026-11-30T01:00:00Z');
      await drain();
      expect(await h.repositories.assignments.listActiveForUser('u-lola')).toEqual([]);
    });

    it('final or delivering requests, and unknown ids, get a clear answer and change nothing', async () => {
      expect((await say(ivan, 'cancel')).text).toContain('Usage: cancel request-id [reason]');
      await press(ivan, 'adminAssign', ASSIGN_FRED);
      await drain();
      const request = await fredsRequest();
      const before = await counts();
      const reply = await say(ivan, `cancel ${request.id}`);
      expect(reply.text).toContain(`Request ${request.id} (Fred Jansen, "Accounting") can't be canceled: done: access delivered. Nothing was changed. To take the access away, type remove ${request.assignmentId}.`);
      expect((await say(ivan, 'cancel REQ-NOPE')).text).toContain("There's no request REQ-NOPE.");
      expect((await say(ivan, `cancel ${request.assignmentId}`)).text).toContain(`${request.assignmentId} is an assignment: to end it, type remove ${request.assignmentId}.`);
      expect(await counts()).toEqual(before);
    });
  });

  describe('reprocess by request id', () => {
    it('a request with an assignment reprocesses that assignment', async () => {
      await press(ivan, 'adminAssign', ASSIGN_FRED);
      await drain();
      const request = await fredsRequest();
      const reply = await say(ivan, `reprocess ${request.id}`);
      expect(reply.text).toContain(`Every resource role of ${request.assignmentId} is being delivered again.`);
      expect((await audit('admin.reprocess')).map((e) => e.assignmentId)).toEqual([request.assignmentId]);
    });

    it('a request whose delivery failed for want of its package is delivered once the package is back', async () => {
      await press(ivan, 'adminAssign', { packageId: 'payment-run', policyId: 'finance-team', user: 'u-lola', justification: 'Batch', 'answer:changeTicket': 'CHG0012345' });
      const accessPackage = (await h.repositories.packages.get('payment-run'))!;
      await h.repositories.packages.delete('payment-run');
      await drain();
      const [failed] = await h.repositories.requests.listForUser('u-lola');
      expect(failed).toMatchObject({ state: 'deliveryFailed' });
      expect(failed!.assignmentId).toBeUndefined();

      const before = await counts();
      expect((await say(ivan, `reprocess ${failed!.id}`)).text).toContain(`its package "payment-run" or policy "finance-team" is not in the store. Put it back in the catalog file and type apply catalog`);
      expect(await counts()).toEqual(before);

      await h.repositories.packages.save(accessPackage);
      const reply = await say(ivan, `reprocess ${failed!.id}`);
      expect(reply.text).toContain(`Request ${failed!.id} is being delivered again.`);
      await drain();
      expect((await h.repositories.requests.get(failed!.id))!.state).toBe('delivered');
      expect((await h.repositories.assignments.listActiveForUser('u-lola')).map((a) => a.packageId)).toEqual(['payment-run']);
      const assignmentId = (await h.repositories.requests.get(failed!.id))!.assignmentId;
      expect((await say(ivan, `reprocess ${failed!.id}`)).text).toContain(`Every resource role of ${assignmentId} is being delivered again.`); // now through its assignment
    });

    it('a request with nothing to deliver gets a clear answer', async () => {
      const request = await fredRequestsAccounting();
      const before = await counts();
      expect((await say(ivan, `reprocess ${request.id}`)).text).toContain(`Request ${request.id} for "Accounting" can't be reprocessed: waiting for approval, and there is no assignment yet.`);
      expect((await say(ivan, 'reprocess REQ-NOPE')).text).toContain("There's no assignment or request REQ-NOPE.");
      expect(await counts()).toEqual(before);
    });
  });

  describe('enable and disable', () => {
    it('a disabled package is not offered and not requestable; existing access stays; enabling restores it', async () => {
      await press(ivan, 'adminAssign', { ...ASSIGN_FRED, user: 'u-lola' });
      await drain();
      const reply = await say(ivan, 'disable package accounting');
      expect(reply.text).toContain('Disabled: package "Accounting"');
      expect(reply.text).toContain('It is no longer offered, and new requests to it are refused. Access people have, and requests already in flight, stay.');
      expect(reply.text).toContain('The catalog file says enabled: applying it keeps your change (and says so) until someone types enable package accounting.');
      expect((await audit('admin.disable')).map((e) => [e.actorId, e.packageId, e.details])).toEqual([['u-ivan', 'accounting', { kind: 'package', id: 'accounting', override: 'recorded' }]]);

      const list = await say(fred, 'packages');
      expect(list.text).not.toContain('Accounting');
      // With search words too; other packages are still found (Alex is in the Finance team).
      expect((await say(alex, 'packages accounting')).text).toContain('1 package matching "accounting"');
      expect((await say(alex, 'packages accounting')).text).toContain('Payment run'); // "Approve payments in the Accounting app"
      expect((await say(alex, 'packages accountants')).text).toContain('Nothing matches "accountants"');
      expect((await say(fred, 'request accounting')).text).toContain('You can\'t request "Accounting" right now: it isn\'t open for new requests.');
      const before = await counts();
      expect((await press(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'x', 'answer:costCentre': '4100' })).text).toContain("it isn't open for new requests");
      expect(await counts()).toEqual(before);
      expect((await h.repositories.assignments.listActiveForUser('u-lola')).map((a) => a.state)).toEqual(['delivered']);

      const again = await say(ivan, 'disable package accounting');
      expect(again.text).toContain('Package "Accounting" is already disabled. Nothing was changed.');
      expect(await counts()).toEqual(before);

      const enabled = await say(ivan, 'enable package accounting');
      expect(enabled.text).toContain('Enabled: package "Accounting"');
      expect(enabled.text).toContain('That is what the catalog file says, so the earlier override is cleared.');
      expect((await h.repositories.packages.get('accounting'))!.adminOverride).toBeUndefined();
      expect((await say(fred, 'packages')).text).toContain('Accounting');
    });

    it('a disabled policy takes no requests; a disabled catalog hides its packages', async () => {
      expect((await say(fred, 'packages')).text).toContain('Accounting');
      await say(ivan, 'disable policy accounting/employees');
      expect((await say(fred, 'request accounting')).text).toContain('You can\'t request "Accounting": it isn\'t open to requests.');
      // Its only policy for Fred is off, so browsing (with and without words) no longer offers it.
      expect((await say(fred, 'packages')).text).not.toContain('Accounting');
      expect((await say(fred, 'packages accounting')).text).toContain('Nothing matches "accounting"');
      await say(ivan, 'enable policy accounting/employees');
      expect((await say(fred, 'packages')).text).toContain('Accounting');
      expect((await say(fred, 'packages accounting')).text).toContain('Accounting');
      await say(ivan, 'disable catalog finance');
      expect((await say(fred, 'request accounting')).text).toContain("its catalog isn't open for requests");
      expect((await audit('admin.enable')).map((e) => e.details)).toEqual([{ kind: 'policy', id: 'accounting/employees', override: 'cleared' }]);
    });

    it('names the right thing, with suggestions, and changes nothing on bad input', async () => {
      const before = await counts();
      expect((await say(ivan, 'disable')).text).toContain('Usage: disable catalog|package|policy id');
      expect((await say(ivan, 'disable accounting now')).text).toContain('Say what to disable: disable catalog finance, disable package accounting, or disable policy accounting/employees');
      expect((await say(ivan, 'disable package acounting')).text).toContain('There\'s no access package "acounting". Did you mean accounting?');
      expect((await say(ivan, 'disable catalog nothing-like-it')).text).toContain('There\'s no catalog "nothing-like-it". Known: finance, it-admin.');
      expect((await say(ivan, 'disable policy accounting')).text).toContain('Name a policy by its package and its own id, for example policy accounting/employees. Its policies: accounting/direct, accounting/employees.');
      expect((await say(ivan, 'disable policy accounting/employes')).text).toContain('"Accounting" has no policy "employes". Did you mean employees?');
      expect(await counts()).toEqual(before);
    });
  });

  describe('apply catalog', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'apply-'));
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    async function harnessWith(text: string): Promise<string> {
      const file = path.join(dir, 'catalog.yaml');
      writeFileSync(file, text);
      await h.close();
      h = await createBotHarness({ exampleCatalog: true, adminUserIds: [ivan.aadObjectId], catalogFile: file });
      return file;
    }

    it('applies the file the bot runs with and answers with the report; audited', async () => {
      const reply = await say(ivan, 'apply catalog');
      expect(reply.text).toContain('Catalog applied: catalog.yaml');
      expect(reply.text).toContain('catalog.yaml is valid (2 catalogs, 6 packages, 7 policies)');
      expect(reply.text).toContain('packages: 6 unchanged');
      expect((await audit('admin.apply')).map((e) => e.actorId)).toEqual(['u-ivan']);
      expect((await say(ivan, 'apply')).text).toContain('Catalog applied');
      expect((await say(ivan, 'apply everything')).text).toContain('Usage: apply catalog');
    });

    it('applies changes, keeps an admin override and says so; enabling to the file value clears it', async () => {
      const original = readFileSync(EXAMPLE_CATALOG, 'utf8');
      await harnessWith(original.replace('description: Finance team, Accounting app and VAT returns, for accountants', 'description: What accountants need'));
      await say(ivan, 'disable policy accounting/employees');
      const reply = await say(ivan, 'apply catalog');
      expect(reply.text).toContain('packages: 1 updated (accounting: description), 5 unchanged');
      expect(reply.text).toMatch(/note: policy 'accounting\/employees' kept disabled by Ivan Petrov on 22 Nov 2026 at 09:00 UTC \(the file says enabled\); type enable policy accounting\/employees to clear/);
      expect((await h.repositories.policies.get('accounting', 'employees'))!.enabled).toBe(false);

      await say(ivan, 'enable policy accounting/employees');
      const after = await say(ivan, 'apply catalog');
      expect(after.text).not.toContain('note:');
      expect(after.text).toContain('policies: 7 unchanged');
      expect((await h.repositories.policies.get('accounting', 'employees'))!.enabled).toBe(true);
    });

    it('an invalid file is listed with its errors, located, and nothing changes', async () => {
      const original = readFileSync(EXAMPLE_CATALOG, 'utf8');
      await harnessWith(original.replace('displayName: Accounting\n    description', 'dispalyName: Accounting\n    description'));
      const before = await counts();
      const packagesBefore = await h.repositories.packages.list();
      const reply = await say(ivan, 'apply catalog');
      expect(reply.text).toContain('The catalog file has errors');
      expect(reply.text).toContain('catalog.yaml has 2 errors, so nothing was changed.');
      expect(reply.text).toMatch(/catalog\.yaml:\d+:\d+: accessPackages\[0\]\.dispalyName: unknown field 'dispalyName'; did you mean 'displayName'\?/);
      expect(reply.text).not.toContain(dir); // no server paths in chat
      expect(await counts()).toEqual(before);
      expect(await h.repositories.packages.list()).toEqual(packagesBefore);
    });

    it('a package removed from the file while in use is kept, and the report says why', async () => {
      const original = readFileSync(EXAMPLE_CATALOG, 'utf8');
      const start = original.indexOf('  - id: payment-run');
      await harnessWith(original.slice(0, start));
      // The new harness starts from an empty store: give Lola a payment-run assignment first.
      await press(ivan, 'adminAssign', { packageId: 'payment-run', policyId: 'finance-team', user: 'u-lola', justification: 'Batch', 'answer:changeTicket': 'CHG0012345' });
      await drain();
      const reply = await say(ivan, 'apply catalog');
      expect(reply.text).toContain("warning: package 'payment-run' kept: 1 active assignment / 0 open requests; remove them first");
    });
  });
});
