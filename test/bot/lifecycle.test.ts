import { CardRenderer } from '../../src/bot/cards';
import { LocalDirectory } from '../../src/directory/localDirectory';
import type { AccessRequest, Assignment } from '../../src/domain/model';
import { NOTIFY_TASKS, type OutgoingCard } from '../../src/services/notifications';
import { PLANNED_EXISTING_SETTING } from '../../src/services/lifecycle';
import { TASK_TYPES } from '../../src/services/workflow';
import { type BotHarness, cardButtons, cardInvoke, cardText, createBotHarness, EXAMPLE_DIRECTORY, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { byCreatedAt } from '../support/testStore';

// Expiry warnings, Let it expire, extension from the warning, expiry through the outbox, and
// scheduled starts, on the TestAdapter with the example catalog and the local directory.
// Accounting (employees policy): P180D, approval by the finance approvers (Nadia), extension
// with approval; Finance team (member) + Accounting app (User) + VAT returns (VAT filer).
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const lola: TeamsUser = { aadObjectId: 'u-lola', name: 'Lola Martin' }; // already Finance team + Accounting User
const alex: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' }; // Finance team
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ACCOUNTING = { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' };

type NotifyTask = { _id: string; type: string; state: string; createdAt: Date; payload: { userId: string; card: OutgoingCard } };

describe('lifecycle: warnings, Let it expire, extension, expiry (TestAdapter)', () => {
  let h: BotHarness;
  let local: LocalDirectory;
  const renderer = new CardRenderer();

  beforeEach(async () => {
    local = await LocalDirectory.open({ file: EXAMPLE_DIRECTORY });
    h = await createBotHarness({ exampleCatalog: true, directory: local });
  });

  afterEach(() => h.close());

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown> = {}) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
    const card = (h.lastInvokeResponse()?.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return { card, text: cardText(card), buttons: cardButtons(card) };
  }

  async function drain(runner = h.taskRunner): Promise<void> {
    for (let i = 0; i < 10; i++) await runner.run();
  }

  /** One scheduler tick: the outbox, then the lifecycle job, then the outbox again. */
  async function tick(): Promise<void> {
    await drain();
    await h.lifecycle.run();
    await drain();
  }

  async function cardsTo(userId: string, template?: string): Promise<OutgoingCard[]> {
    const tasks = byCreatedAt(await h.store.collection<NotifyTask>('tasks').find({ type: NOTIFY_TASKS.send }));
    return tasks.filter((t) => t.payload.userId === userId && (!template || t.payload.card.template === template)).map((t) => t.payload.card);
  }

  function rendered(card: OutgoingCard) {
    const json = renderer.render(card.template, card.data);
    expect(validateCard(json)).toEqual([]);
    return { json, text: cardText(json), buttons: cardButtons(json) };
  }

  async function auditActions(action: string): Promise<number> {
    return h.store.collection('auditEvents').count({ action });
  }

  /** Requests Accounting for the user and has Nadia approve it; returns the delivered assignment. */
  async function accounting(user: TeamsUser, extra: Record<string, unknown> = {}): Promise<Assignment> {
    await press(user, 'submitRequest', { ...ACCOUNTING, ...extra });
    await drain();
    const request = (await h.repositories.requests.listForUser(user.aadObjectId)).find((r) => r.type === 'add')!;
    expect((await h.approvals.decide('u-nadia', { requestId: request.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    await drain();
    const delivered = (await h.repositories.requests.get(request.id))!;
    return (await h.repositories.assignments.get(delivered.assignmentId!))!;
  }

  async function directoryState(userId: string) {
    return {
      financeTeam: await local.hasGroupRole('grp-finance', userId, 'member'),
      accountingUser: (await local.listAppRoleAssignments('sp-accounting', userId)).some((a) => a.appRoleId === 'role-accounting-user'),
      vatFiler: (await local.listAppRoleAssignments('sp-vat', userId)).some((a) => a.appRoleId === 'role-vat-filer'),
    };
  }

  it('delivery plans the lifecycle: the expiry, when it was set, and a check now', async () => {
    const assignment = await accounting(fred);
    expect(assignment.expiresAt!.getTime() - assignment.startAt.getTime()).toBe(180 * DAY);
    expect(assignment.expirySetAt).toEqual(assignment.startAt);
    expect(assignment.lifecycleCheckAt).toEqual(assignment.startAt);
    await tick();
    // The first look plans the 14-day warning and sends nothing.
    expect((await h.repositories.assignments.get(assignment.id))!.lifecycleCheckAt).toEqual(new Date(assignment.expiresAt!.getTime() - 14 * DAY));
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(0);
  });

  it('the warning reaches the user with Extend (and a justification box) and Let it expire, once', async () => {
    const assignment = await accounting(fred);
    await tick();
    h.clock.set(new Date(assignment.expiresAt!.getTime() - 14 * DAY));
    await tick();
    await tick(); // a second look at the same moment sends nothing more
    const [warning, ...more] = await cardsTo('u-fred', 'expiryWarning');
    expect(more).toHaveLength(0);
    const { json, text, buttons } = rendered(warning!);
    expect(text).toContain('Your access ends in 14 days: Accounting');
    expect(text).toContain('ends on 21 May 2027 at 09:00 UTC');
    expect(text).toContain('Finance team (Member), Accounting (User), VAT returns (VAT filer)');
    expect(text).toContain('Extend asks the approvers');
    expect(buttons).toEqual(['Extend', 'Let it expire']);
    expect(JSON.stringify(json)).toContain(`"verb":"extend","assignmentId":"${assignment.id}"`);
    expect(JSON.stringify(json)).toContain('"id":"justification"');
    expect(await auditActions('assignment.warned')).toBe(1);
    const [event] = (await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'assignment.warned');
    expect(event!.details).toMatchObject({ offsetMs: 14 * DAY, offset: '14 days', expiresAt: assignment.expiresAt!.toISOString() });

    // Then the 1-day and the 15-minute warnings, each once.
    h.clock.set(new Date(assignment.expiresAt!.getTime() - DAY));
    await tick();
    h.clock.set(new Date(assignment.expiresAt!.getTime() - 15 * MINUTE));
    await tick();
    await tick();
    expect((await cardsTo('u-fred', 'expiryWarning')).map((c) => rendered(c).text.split('\n')[0])).toEqual([
      'Your access ends in 14 days: Accounting',
      'Your access ends in 1 day: Accounting',
      'Your access ends in 15 minutes: Accounting',
    ]);
  });

  it('Extend on the warning follows the policy approval; once approved the new expiry gets its own warnings', async () => {
    const assignment = await accounting(fred);
    await tick();
    h.clock.set(new Date(assignment.expiresAt!.getTime() - DAY));
    await tick();
    // No justification when the policy requires one: refused, nothing stored.
    const requestsBefore = await h.store.collection('requests').count({});
    expect((await press(fred, 'extend', { assignmentId: assignment.id })).text).toContain('Please say why you need the extension');
    expect(await h.store.collection('requests').count({})).toBe(requestsBefore);

    expect((await press(fred, 'extend', { assignmentId: assignment.id, justification: 'Quarter close' })).text).toMatch(/Extension of "Accounting" requested \(REQ-/);
    await drain();
    const extension = (await h.repositories.requests.listForUser('u-fred')).find((r) => r.type === 'extend')!;
    expect(extension).toMatchObject({ state: 'pendingApproval', justification: 'Quarter close' });
    // While it waits, the next warning shows no Extend button but says why.
    h.clock.set(new Date(assignment.expiresAt!.getTime() - 15 * MINUTE));
    await tick();
    const waiting = rendered((await cardsTo('u-fred', 'expiryWarning')).at(-1)!);
    expect(waiting.text).toContain(`An extension is waiting for approval (${extension.id}).`);
    expect(waiting.buttons).toEqual(['Let it expire']);

    h.clock.advance(5 * MINUTE);
    expect((await h.approvals.decide('u-nadia', { requestId: extension.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    await drain();
    const extended = (await h.repositories.assignments.get(assignment.id))!;
    expect(extended.expiresAt).toEqual(extension.schedule.expiresAt);
    expect(extended.expirySetAt).toEqual(h.clock.now());
    expect(extended.lifecycleCheckAt).toEqual(h.clock.now());
    const before = (await cardsTo('u-fred', 'expiryWarning')).length;
    await tick(); // plans the new expiry: no warning now
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(before);
    h.clock.set(new Date(extended.expiresAt!.getTime() - 14 * DAY));
    await tick();
    const latest = (await cardsTo('u-fred', 'expiryWarning')).at(-1)!;
    expect(latest.data.expiresAt).toBe(extended.expiresAt!.toISOString());
    expect(rendered(latest).text).toContain('Your access ends in 14 days');
  });

  it('Extend without approval extends at once and restarts the warnings for the new expiry', async () => {
    const policy = (await h.repositories.policies.get('accounting', 'employees'))!;
    await h.repositories.policies.save({ ...policy, lifecycle: { ...policy.lifecycle, extension: { allowed: true, requiresApproval: false } } });
    const assignment = await accounting(fred);
    await tick();
    h.clock.set(new Date(assignment.expiresAt!.getTime() - DAY));
    await tick();
    const warning = (await cardsTo('u-fred', 'expiryWarning'))[0]!;
    const { text, json } = rendered(warning);
    expect(text).toContain('Extend keeps it until');
    expect(JSON.stringify(json)).not.toContain('"id":"justification"');

    expect((await press(fred, 'extend', { assignmentId: assignment.id })).text).toContain('"Accounting" is extended until');
    const extended = (await h.repositories.assignments.get(assignment.id))!;
    expect(extended.expiresAt!.getTime()).toBe(h.clock.now().getTime() + 180 * DAY);
    expect(extended.lifecycleCheckAt).toEqual(h.clock.now());
    // The old expiry's 15-minute warning never comes; the new one's 14-day warning does.
    h.clock.set(new Date(assignment.expiresAt!.getTime() - 15 * MINUTE));
    await tick();
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(1);
    h.clock.set(new Date(extended.expiresAt!.getTime() - 14 * DAY));
    await tick();
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(2);
  });

  it('Let it expire: no more warnings for this expiry, pressed twice is harmless; someone else\'s id or a stale card changes nothing', async () => {
    const assignment = await accounting(fred);
    await tick();
    h.clock.set(new Date(assignment.expiresAt!.getTime() - 14 * DAY));
    await tick();
    const expiresAt = assignment.expiresAt!.toISOString();

    const snapshot = async () => ({ assignment: await h.repositories.assignments.get(assignment.id), audit: await h.store.collection('auditEvents').count({ action: { $ne: 'admin.refused' } }) });
    const before = await snapshot();
    expect((await press(alex, 'letExpire', { assignmentId: assignment.id, expiresAt })).text).toContain(`You have no access with the id ${assignment.id}`);
    expect((await press(fred, 'letExpire', { assignmentId: assignment.id, expiresAt: '2030-01-01T00:00:00.000Z' })).text).toContain('has changed since that reminder: it now ends on 21 May 2027 at 09:00 UTC');
    expect((await press(fred, 'letExpire', {})).text).toContain('did not say which access');
    expect(await snapshot()).toEqual(before);

    const ok = await press(fred, 'letExpire', { assignmentId: assignment.id, expiresAt });
    expect(ok.text).toContain('OK: your access ends on 21 May 2027 at 09:00 UTC');
    expect(ok.text).toContain('You won\'t get more reminders about "Accounting"');
    expect((await press(fred, 'letExpire', { assignmentId: assignment.id, expiresAt })).text).toContain('OK: your access ends on');
    expect(await auditActions('assignment.letExpire')).toBe(1);
    expect((await h.repositories.assignments.get(assignment.id))!).toMatchObject({ lifecycleCheckAt: assignment.expiresAt, expiryAccepted: assignment.expiresAt });

    for (const before of [DAY, 15 * MINUTE]) {
      h.clock.set(new Date(assignment.expiresAt!.getTime() - before));
      await tick();
    }
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(1);
    // It still expires on time.
    h.clock.set(assignment.expiresAt!);
    await tick();
    expect((await h.repositories.assignments.get(assignment.id))!.state).toBe('expired');
  });

  it('at expiry the assignment is removed through the outbox and the user told what was removed', async () => {
    const assignment = await accounting(fred);
    expect(await directoryState('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    h.clock.set(new Date(assignment.expiresAt!.getTime() + 5 * MINUTE));
    await h.lifecycle.run();
    // The removal is a durable task, keyed by the expiry; the job has finished with it.
    const removal = await h.store.collection<{ _id: string; payload: Record<string, unknown>; dedupeKey: string }>('tasks').findOne({ type: TASK_TYPES.remove });
    expect(removal).toMatchObject({ payload: { assignmentId: assignment.id, reason: 'expired' }, dedupeKey: `${TASK_TYPES.remove}:expired:${assignment.id}:${assignment.expiresAt!.toISOString()}` });
    expect((await h.repositories.assignments.get(assignment.id))!.lifecycleCheckAt).toBeUndefined();
    // No warning on the way out: catch-up past the expiry only expires.
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(0);
    await drain();

    expect(await directoryState('u-fred')).toEqual({ financeTeam: false, accountingUser: false, vatFiler: false });
    expect((await h.repositories.assignments.get(assignment.id))!).toMatchObject({ state: 'expired', endReason: 'expired' });
    expect(await h.repositories.grants.listForUser('u-fred')).toEqual([]);
    const notice = (await cardsTo('u-fred', 'notice')).find((c) => c.data.title === 'Expired: Accounting')!;
    expect(notice.data.message).toBe('Your access to "Accounting" has expired. Removed: Finance team (Member), Accounting (User), VAT returns (VAT filer).');
    expect(await auditActions('assignment.expired')).toBe(1);
    await tick();
    expect(await h.store.collection('tasks').count({ type: TASK_TYPES.remove })).toBe(1);
  });

  it('what the user had before stays, and the expiry notice says so', async () => {
    const assignment = await accounting(lola);
    h.clock.set(assignment.expiresAt!);
    await tick();
    expect(await directoryState('u-lola')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: false });
    const notice = (await cardsTo('u-lola', 'notice')).find((c) => c.data.title === 'Expired: Accounting')!;
    expect(notice.data.message).toBe(
      'Your access to "Accounting" has expired. Removed: VAT returns (VAT filer). Still yours: Finance team (Member), which you had before, Accounting (User), which you had before.',
    );
  });

  it('PT2M just-in-time: warned a minute before, removed at two minutes', async () => {
    const policy = (await h.repositories.policies.get('payment-run', 'finance-team'))!;
    await h.repositories.policies.save({ ...policy, lifecycle: { ...policy.lifecycle, expiration: { type: 'afterDuration', duration: 'PT2M' } } });
    expect((await press(alex, 'submitRequest', { packageId: 'payment-run', policyId: 'finance-team', justification: 'Batch 7', 'answer:changeTicket': 'CHG0012345' })).text).toContain('Request accepted');
    await tick();
    const [assignment] = await h.repositories.assignments.listActiveForUser(alex.aadObjectId);
    expect(assignment!.expiresAt!.getTime() - assignment!.startAt.getTime()).toBe(2 * MINUTE);
    expect((await local.listAppRoleAssignments('sp-accounting', alex.aadObjectId)).some((a) => a.appRoleId === 'role-accounting-approver')).toBe(true);
    for (let i = 0; i < 8; i++) {
      h.clock.advance(15_000); // the scheduler's default interval
      await tick();
    }
    const warnings = await cardsTo(alex.aadObjectId, 'expiryWarning');
    expect(warnings).toHaveLength(1);
    const { text, buttons } = rendered(warnings[0]!);
    expect(text).toContain('Your access ends in 1 minute: Payment run (just-in-time)');
    expect(text).toContain("This package doesn't allow extensions.");
    expect(buttons).toEqual(['Let it expire']);
    expect((await h.repositories.assignments.get(assignment!.id))!.state).toBe('expired');
    expect((await local.listAppRoleAssignments('sp-accounting', alex.aadObjectId)).some((a) => a.appRoleId === 'role-accounting-approver')).toBe(false);
    expect((await cardsTo(alex.aadObjectId, 'notice')).map((c) => c.data.message)).toContain('Your access to "Payment run (just-in-time)" has expired. Removed: Accounting (Approver).');
  });

  it('noExpiration: nothing to plan, nothing ever checked', async () => {
    const policy = (await h.repositories.policies.get('accounting', 'employees'))!;
    await h.repositories.policies.save({ ...policy, lifecycle: { ...policy.lifecycle, expiration: { type: 'noExpiration' } } });
    const assignment = await accounting(fred);
    expect(assignment.expiresAt).toBeUndefined();
    expect(assignment.lifecycleCheckAt).toBeUndefined();
    h.clock.advance(1000 * DAY);
    await tick();
    expect((await h.repositories.assignments.get(assignment.id))!.state).toBe('delivered');
    expect(await cardsTo('u-fred', 'expiryWarning')).toHaveLength(0);
  });

  it('an extension approved after the access expired extends nothing, and the requester hears why', async () => {
    const assignment = await accounting(fred);
    h.clock.set(new Date(assignment.expiresAt!.getTime() - HOUR));
    await press(fred, 'extend', { assignmentId: assignment.id, justification: 'Still needed' });
    await drain();
    h.clock.set(new Date(assignment.expiresAt!.getTime() + HOUR));
    await tick();
    expect((await h.repositories.assignments.get(assignment.id))!.state).toBe('expired');
    const extension = (await h.repositories.requests.listForUser('u-fred')).find((r) => r.type === 'extend')!;
    expect((await h.approvals.decide('u-nadia', { requestId: extension.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    await drain();
    expect((await h.repositories.requests.get(extension.id))!.state).toBe('canceled');
    expect((await h.repositories.assignments.get(assignment.id))!).toMatchObject({ state: 'expired', expiresAt: assignment.expiresAt });
    expect((await cardsTo('u-fred', 'notice')).map((c) => c.data.title)).toContain('Not extended: Accounting');
  });

  it('assignments made before the lifecycle job existed are planned once, from their start', async () => {
    const now = h.clock.now();
    const legacy: Assignment = {
      id: 'ASG-legacy',
      packageId: 'accounting',
      policyId: 'employees',
      userId: 'u-fred',
      state: 'delivered',
      startAt: new Date(now.getTime() - 170 * DAY),
      expiresAt: new Date(now.getTime() + 12 * HOUR),
      roles: [],
      requestIds: [],
      createdAt: now,
      updatedAt: now,
    };
    await h.repositories.assignments.insert(legacy);
    await h.lifecycle.run();
    // The 14-day and 1-day thresholds passed unseen: one warning, the most imminent.
    const warnings = await cardsTo('u-fred', 'expiryWarning');
    expect(warnings).toHaveLength(1);
    expect(rendered(warnings[0]!).text).toContain('Your access ends in 12 hours');
    expect((await h.repositories.assignments.get('ASG-legacy'))!.lifecycleCheckAt).toEqual(new Date(legacy.expiresAt!.getTime() - 15 * MINUTE));
    expect(await h.repositories.settings.get(PLANNED_EXISTING_SETTING)).toBe(true);
  });

  describe('several instances and restarts', () => {
    const people = ['u-fred', 'u-lola', 'u-nadia', 'u-victor', 'u-ivan', '00000000-0000-0000-0000-0000000000020'];

    async function seed(): Promise<Assignment[]> {
      const now = h.clock.now();
      const made: Assignment[] = people.map((userId, i) => ({
        id: `ASG-${i}`,
        packageId: 'accounting',
        policyId: 'employees',
        userId,
        state: 'delivered',
        startAt: now,
        expiresAt: new Date(now.getTime() + 30 * DAY + i * MINUTE),
        expirySetAt: now,
        lifecycleCheckAt: now,
        roles: [],
        requestIds: [],
        createdAt: now,
        updatedAt: now,
      }));
      for (const assignment of made) await h.repositories.assignments.insert(assignment);
      return made;
    }

    async function warningTasks(): Promise<number> {
      return (await h.store.collection<NotifyTask>('tasks').find({ type: NOTIFY_TASKS.send })).filter((t) => t.payload.card.template === 'expiryWarning').length;
    }

    it('two instances running at once on one store never warn or expire twice', async () => {
      const other = await createBotHarness({ exampleCatalog: true, directory: local, store: h.store, clock: h.clock });
      // Every attempt to queue work, by either instance (the outbox would absorb duplicates, so
      // count the attempts: each assignment must be processed by one instance only).
      const attempts: string[] = [];
      for (const tasks of [h.repositories.tasks, other.repositories.tasks]) {
        const enqueue = tasks.enqueue.bind(tasks);
        tasks.enqueue = async (task) => {
          attempts.push(task.type === NOTIFY_TASKS.send ? `warn:${String((task.payload.card as OutgoingCard).data.assignmentId)}` : `${task.type}:${String(task.payload.assignmentId)}`);
          return enqueue(task);
        };
      }
      await seed();
      await Promise.all([h.lifecycle.run(), other.lifecycle.run()]);
      h.clock.advance(16 * DAY + 30 * MINUTE); // past every 14-day threshold
      await Promise.all([h.lifecycle.run(), other.lifecycle.run(), h.lifecycle.run()]);
      expect(attempts.sort()).toEqual(people.map((_, i) => `warn:ASG-${i}`));
      expect(await warningTasks()).toBe(people.length);
      expect(await auditActions('assignment.warned')).toBe(people.length);

      attempts.length = 0;
      h.clock.advance(14 * DAY);
      await Promise.all([h.lifecycle.run(), other.lifecycle.run()]);
      expect(attempts.sort()).toEqual(people.map((_, i) => `${TASK_TYPES.remove}:ASG-${i}`));
      expect(await h.store.collection('tasks').count({ type: TASK_TYPES.remove })).toBe(people.length);
      expect(await warningTasks()).toBe(people.length); // past the expiry: no stale 1-day or 15-minute warnings
      expect(await h.store.collection('assignments').count({ lifecycleCheckAt: { $exists: true } })).toBe(0);
    });

    it('a restart (new instance, same store) sends nothing twice, even after dying between the warning and the bookkeeping', async () => {
      await seed();
      await h.lifecycle.run();
      h.clock.advance(16 * DAY + 30 * MINUTE);
      // This instance dies right after queuing the warnings: the check is never moved on.
      const update = h.repositories.assignments.update.bind(h.repositories.assignments);
      h.repositories.assignments.update = async (id, precondition, change) => {
        if ('lifecycleCheckAt' in precondition) throw new Error('process died');
        return update(id, precondition, change);
      };
      await h.lifecycle.run();
      expect(await warningTasks()).toBe(people.length);
      h.repositories.assignments.update = update;

      // The restarted instance waits for the dead one's claims to lapse, then redoes the work.
      const restarted = await createBotHarness({ exampleCatalog: true, directory: local, store: h.store, clock: h.clock });
      await restarted.lifecycle.run();
      expect(await h.store.collection('assignments').count({ lifecycleLeaseUntil: { $exists: true } })).toBe(people.length);
      h.clock.advance(6 * MINUTE);
      await restarted.lifecycle.run();
      await restarted.lifecycle.run();
      expect(await warningTasks()).toBe(people.length);
      expect(await auditActions('assignment.warned')).toBe(people.length);
      expect(await h.store.collection('assignments').count({ lifecycleLeaseUntil: { $exists: true } })).toBe(0);
      // Each now waits for its 1-day threshold.
      const [first] = await h.store.collection<{ _id: string; lifecycleCheckAt: Date; expiresAt: Date }>('assignments').find({ _id: 'ASG-0' });
      expect(first!.lifecycleCheckAt.getTime()).toBe(first!.expiresAt.getTime() - DAY);
    });
  });

  describe('scheduled requests', () => {
    async function submitAndApprove(user: TeamsUser, dates: { startDate?: string; endDate?: string }, approveAfterMs = 0): Promise<AccessRequest> {
      expect((await press(user, 'submitRequest', { ...ACCOUNTING, ...dates })).text).toContain('Request sent for approval');
      await drain();
      const [request] = await h.repositories.requests.listForUser(user.aadObjectId);
      h.clock.advance(approveAfterMs);
      expect((await h.approvals.decide('u-nadia', { requestId: request!.id, stage: 0, decision: 'approve' })).ok).toBe(true);
      await drain();
      return (await h.repositories.requests.get(request!.id))!;
    }

    it('is delivered at its start, and its expiry counts from the actual start', async () => {
      const request = await submitAndApprove(fred, { startDate: '2026-12-01' });
      expect(request.state).toBe('scheduled');
      expect(await h.repositories.assignments.listActiveForUser('u-fred')).toHaveLength(0);
      h.clock.set('2026-11-30T23:59:00Z');
      await tick();
      expect(await h.repositories.assignments.listActiveForUser('u-fred')).toHaveLength(0);
      h.clock.set('2026-12-01T00:00:30Z');
      await tick();
      const [assignment] = await h.repositories.assignments.listActiveForUser('u-fred');
      // P180D from the actual start; the lifecycle job has planned its 14-day warning from there.
      expect(assignment).toMatchObject({ state: 'delivered', startAt: new Date('2026-12-01T00:00:30Z'), expiresAt: new Date('2027-05-30T00:00:30Z'), expirySetAt: new Date('2026-12-01T00:00:30Z') });
      expect(assignment!.lifecycleCheckAt).toEqual(new Date('2027-05-16T00:00:30Z'));
      expect((await h.repositories.requests.get(request.id))!.state).toBe('delivered');
      expect(await directoryState('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    });

    it('approved after its chosen start had passed: delivered at approval, expiry from then', async () => {
      const request = await submitAndApprove(fred, { startDate: '2026-11-23' }, 2 * DAY);
      expect(request.state).toBe('delivered');
      const [assignment] = await h.repositories.assignments.listActiveForUser('u-fred');
      expect(assignment!.startAt).toEqual(new Date('2026-11-24T09:00:00Z'));
      expect(assignment!.expiresAt).toEqual(new Date(assignment!.startAt.getTime() + 180 * DAY));
    });

    it('a chosen end date is kept; approved after that end had passed, nothing is delivered and the requester hears why', async () => {
      const kept = await submitAndApprove(fred, { startDate: '2026-11-25', endDate: '2026-12-10' });
      h.clock.set('2026-11-25T00:00:10Z');
      await tick();
      const [assignment] = await h.repositories.assignments.listActiveForUser('u-fred');
      expect(assignment!.expiresAt).toEqual(new Date('2026-12-10T23:59:59.999Z'));
      expect(kept.state).toBe('scheduled');

      const late = await submitAndApprove(lola, { startDate: '2026-11-26', endDate: '2026-11-27' }, 3 * DAY);
      expect(late.state).toBe('canceled');
      expect(await h.repositories.assignments.listActiveForUser('u-lola')).toHaveLength(0);
      expect((await cardsTo('u-lola', 'notice')).map((c) => c.data.title)).toContain('Not started: Accounting');
    });
  });
});
