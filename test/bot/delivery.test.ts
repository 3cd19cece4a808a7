import { LocalDirectory } from '../../src/directory/localDirectory';
import { DirectoryError } from '../../src/directory/port';
import type { AccessRequest } from '../../src/domain/model';
import { NOTIFY_TASKS } from '../../src/services/notifications';
import { type BotHarness, cardInvoke, createBotHarness, EXAMPLE_DIRECTORY, type TeamsUser } from '../support/botHarness';
import { FaultyDirectory } from '../support/faultyDirectory';

// Delivery and removal through the directory port, with the example catalog and directory:
// Accounting = Finance team (member) + Accounting app (User) + VAT returns (VAT filer).
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const lola: TeamsUser = { aadObjectId: 'u-lola', name: 'Lola Martin' }; // already in Finance team, Accounting User
const lynne: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000025', name: 'Lynne Robbins' };
const alex: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };
const PATTI = '00000000-0000-0000-0000-0000000000024';
const MINUTE = 60_000;

describe('delivery and removal (TestAdapter, local directory)', () => {
  let h: BotHarness;
  let directory: FaultyDirectory;
  let local: LocalDirectory;

  beforeEach(async () => {
    local = await LocalDirectory.open({ file: EXAMPLE_DIRECTORY });
    directory = new FaultyDirectory(local);
    h = await createBotHarness({ exampleCatalog: true, directory, adminUserIds: ['u-ivan'] });
  });

  afterEach(() => h.close());

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown>) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
  }

  async function drain(): Promise<void> {
    for (let i = 0; i < 10; i++) await h.taskRunner.run();
  }

  /** Requests Accounting for the user and has Nadia approve it. */
  async function accountingApproved(user: TeamsUser): Promise<AccessRequest> {
    await press(user, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Team work', 'answer:costCentre': '4100' });
    await drain();
    const [request] = await h.repositories.requests.listForUser(user.aadObjectId);
    const decided = await h.approvals.decide('u-nadia', { requestId: request!.id, stage: 0, decision: 'approve' });
    expect(decided.ok).toBe(true);
    await drain();
    return (await h.repositories.requests.get(request!.id))!;
  }

  async function directoryState(userId: string) {
    return {
      financeTeam: await local.hasGroupRole('grp-finance', userId, 'member'),
      accountingUser: (await local.listAppRoleAssignments('sp-accounting', userId)).some((a) => a.appRoleId === 'role-accounting-user'),
      vatFiler: (await local.listAppRoleAssignments('sp-vat', userId)).some((a) => a.appRoleId === 'role-vat-filer'),
    };
  }

  async function noticesTo(userId: string): Promise<string[]> {
    const tasks = await h.store.collection<{ _id: string; type: string; payload: { userId: string; card: { data: { title: string } } } }>('tasks').find({ type: NOTIFY_TASKS.send });
    return tasks.filter((t) => t.payload.userId === userId).map((t) => t.payload.card.data.title);
  }

  it('a run that died after settling, before queuing the notice: the rerun queues it, once, and audits nothing twice (found by the kill -9 suite)', async () => {
    const request = await accountingApproved(fred);
    const tasks = h.store.collection('tasks');
    // As if the process died right after the request moved to delivered.
    await tasks.delete({ type: NOTIFY_TASKS.send, 'payload.card.data.title': 'You now have access: Accounting' });
    expect(await noticesTo('u-fred')).not.toContain('You now have access: Accounting');
    const audited = async () => (await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'assignment.delivered').length;
    expect(await audited()).toBe(1);
    await h.delivery.grant(request.assignmentId!, 2, 1); // the last role's task, run again
    await h.delivery.grant(request.assignmentId!, 2, 1);
    expect((await noticesTo('u-fred')).filter((t) => t === 'You now have access: Accounting')).toHaveLength(1);
    expect(await audited()).toBe(1);

    // The same for the end: removal settled, the "Removed" notice lost, the revoke task run again.
    await h.delivery.startRemoval(request.assignmentId!, undefined, 'removed');
    await drain();
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('removed');
    await tasks.delete({ type: NOTIFY_TASKS.send, 'payload.card.data.title': 'Removed: Accounting' });
    await h.delivery.revoke(request.assignmentId!, 2, 1);
    await h.delivery.revoke(request.assignmentId!, 2, 1);
    expect((await noticesTo('u-fred')).filter((t) => t === 'Removed: Accounting')).toHaveLength(1);
    expect((await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'assignment.removed')).toHaveLength(1);
  });

  it('approval → every resource role delivered in the directory, the assignment and request delivered, the requester told', async () => {
    expect(await directoryState('u-fred')).toEqual({ financeTeam: false, accountingUser: false, vatFiler: false });
    const request = await accountingApproved(fred);
    expect(request.state).toBe('delivered');
    expect(await directoryState('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    const assignment = (await h.repositories.assignments.get(request.assignmentId!))!;
    expect(assignment).toMatchObject({ state: 'delivered', userId: 'u-fred', packageId: 'accounting' });
    expect(assignment.roles.map((r) => r.state)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(assignment.expiresAt!.toISOString()).toBe('2027-05-21T09:00:00.000Z'); // P180D from delivery
    expect(await noticesTo('u-fred')).toContain('You now have access: Accounting');
    const ledger = await h.repositories.grants.listForUser('u-fred');
    expect(ledger.map((g) => [g.originId, g.role, g.preExisting, g.heldBy])).toEqual(
      expect.arrayContaining([
        ['grp-finance', 'member', false, [assignment.id]],
        ['sp-accounting', 'role-accounting-user', false, [assignment.id]],
        ['sp-vat', 'role-vat-filer', false, [assignment.id]],
      ]),
    );
  });

  it('access the user had before is recorded, not added, and never removed', async () => {
    expect(await directoryState('u-lola')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: false });
    const request = await accountingApproved(lola);
    expect(directory.count('addGroupRole')).toBe(0);
    expect(await directoryState('u-lola')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    const ledger = await h.repositories.grants.listForUser('u-lola');
    expect(ledger.filter((g) => g.preExisting).map((g) => g.originId).sort()).toEqual(['grp-finance', 'sp-accounting']);

    await press(lola, 'removeAccess', { assignmentId: request.assignmentId });
    await drain();
    // Only what the package added goes: the VAT role.
    expect(await directoryState('u-lola')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: false });
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('removed');
    expect(await noticesTo('u-lola')).toContain('Removed: Accounting');
    expect(await h.repositories.grants.listForUser('u-lola')).toEqual([]);
  });

  it('a role held by two packages is removed only when the last one ends', async () => {
    // Lynne: Supplier invoices (Accounting User) and Accounting (also Accounting User).
    await press(lynne, 'submitRequest', { packageId: 'supplier-invoices', policyId: 'procurement', justification: 'Invoices' });
    await drain();
    const [supplier] = await h.repositories.requests.listForUser(lynne.aadObjectId);
    expect((await h.approvals.decide(alex.aadObjectId, { requestId: supplier!.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    await drain();
    expect((await h.approvals.decide(PATTI, { requestId: supplier!.id, stage: 1, decision: 'approve', justification: 'ok' })).ok).toBe(true);
    await drain();
    h.clock.advance(MINUTE);
    const accounting = await accountingApproved(lynne);
    const supplierAssignment = (await h.repositories.requests.get(supplier!.id))!.assignmentId!;
    const row = await h.repositories.grants.get(lynne.aadObjectId, 'sp-accounting', 'role-accounting-user');
    expect(new Set(row!.heldBy)).toEqual(new Set([supplierAssignment, accounting.assignmentId]));

    await press(lynne, 'removeAccess', { assignmentId: supplierAssignment });
    await drain();
    expect((await directoryState(lynne.aadObjectId)).accountingUser).toBe(true); // Accounting still holds it

    await press(lynne, 'removeAccess', { assignmentId: accounting.assignmentId });
    await drain();
    expect(await directoryState(lynne.aadObjectId)).toEqual({ financeTeam: false, accountingUser: false, vatFiler: false });
  });

  it('throttling is retried after Retry-After, and the role is delivered once', async () => {
    directory.fail('addGroupRole', () => new DirectoryError('throttled', 'Too many requests', 30_000), 2);
    const request = await accountingApproved(fred);
    expect(request.state).toBe('delivering');
    const task = await h.store.collection<{ _id: string; type: string; dueAt: Date; lastError?: string }>('tasks').findOne({ type: 'grant.add', lastError: 'Too many requests' });
    expect(task!.dueAt.getTime() - h.clock.now().getTime()).toBeGreaterThanOrEqual(30_000);
    h.clock.advance(5 * MINUTE);
    await drain();
    h.clock.advance(10 * MINUTE);
    await drain();
    expect((await h.repositories.requests.get(request.id))!.state).toBe('delivered');
    expect(await directoryState('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
  });

  it('a role that keeps failing is given up after the attempt budget: partially delivered, requester and audit told', async () => {
    directory.fail('addAppRoleAssignment', () => new DirectoryError('unavailable', 'Service unavailable'), 100);
    const request = await accountingApproved(fred);
    for (let i = 0; i < 8; i++) {
      h.clock.advance(20 * MINUTE);
      await drain();
    }
    const assignment = (await h.repositories.assignments.get(request.assignmentId!))!;
    expect(assignment.state).toBe('partiallyDelivered');
    expect(assignment.roles.map((r) => r.state)).toEqual(['delivered', 'failed', 'failed']);
    expect(assignment.roles[1]!.error).toBe('Service unavailable');
    expect((await h.repositories.requests.get(request.id))!.state).toBe('partiallyDelivered');
    expect(await noticesTo('u-fred')).toContain('Partly delivered: Accounting');
    expect((await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'delivery.failed')).toHaveLength(2);
  });

  it('a missing permission fails at once as a configuration error, not retried forever', async () => {
    directory.fail('addGroupRole', () => new DirectoryError('forbidden', 'Authorization_RequestDenied: Insufficient privileges'), 100);
    const request = await accountingApproved(fred);
    const assignment = (await h.repositories.assignments.get(request.assignmentId!))!;
    expect(assignment.roles[0]).toMatchObject({ state: 'failed', error: 'configuration error: Authorization_RequestDenied: Insufficient privileges' });
    expect(directory.count('addGroupRole')).toBe(1);
  });

  it('running a grant task again (a lost lease, a crash after the write) changes nothing more', async () => {
    const request = await accountingApproved(fred);
    const writesBefore = directory.count('addGroupRole') + directory.count('addAppRoleAssignment');
    await h.repositories.assignments.update(request.assignmentId!, {}, { $set: { 'roles.0.state': 'pending', state: 'delivering' } });
    await h.delivery.grant(request.assignmentId!, 0, 1);
    expect(directory.count('addGroupRole') + directory.count('addAppRoleAssignment')).toBe(writesBefore + 1); // idempotent add
    const row = await h.repositories.grants.get('u-fred', 'grp-finance', 'member');
    expect(row).toMatchObject({ preExisting: false, heldBy: [request.assignmentId] });
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('delivered');
  });

  it('a crash right after a directory write: the retried task completes, nothing is granted twice, nothing mistaken for pre-existing', async () => {
    directory.failAfter('addGroupRole', () => new Error('process killed'), 1);
    const request = await accountingApproved(fred);
    expect((await directoryState('u-fred')).financeTeam).toBe(true); // the write went through
    expect((await h.repositories.assignments.get(request.assignmentId!))!.roles[0]!.state).toBe('pending'); // never recorded
    h.clock.advance(2 * MINUTE); // the runner retries a task whose handler died
    await drain();
    expect((await h.repositories.requests.get(request.id))!.state).toBe('delivered');
    expect(await h.repositories.grants.get('u-fred', 'grp-finance', 'member')).toMatchObject({ preExisting: false, heldBy: [request.assignmentId] });
    // And it is removed at the end, as the bot added it.
    await press(fred, 'removeAccess', { assignmentId: request.assignmentId });
    await drain();
    expect(await directoryState('u-fred')).toEqual({ financeTeam: false, accountingUser: false, vatFiler: false });
  });

  it('a failed delivery tells admins at once, with a Reprocess button that delivers it once fixed', async () => {
    directory.fail('addAppRoleAssignment', () => new DirectoryError('forbidden', 'Authorization_RequestDenied: needs AppRoleAssignment.ReadWrite.All'), 2);
    const request = await accountingApproved(fred);
    expect((await h.repositories.requests.get(request.id))!.state).toBe('partiallyDelivered');
    const tasks = await h.store.collection<{ _id: string; type: string; payload: { userId: string; card: { data: { title: string; message: string; buttons: { verb: string; id: string }[] } } } }>('tasks').find({ type: NOTIFY_TASKS.send });
    const toIvan = tasks.filter((t) => t.payload.userId === 'u-ivan').map((t) => t.payload.card.data);
    // The missing permission is also a configuration error (once per operation and day, docs/admin-notices.md).
    expect(toIvan.map((d) => d.title).sort()).toEqual(['Configuration error: assigning app roles', 'Delivery failed: Accounting for Fred Jansen']);
    const adminNotice = toIvan.find((d) => d.title.startsWith('Delivery failed'))!;
    expect(adminNotice.message).toContain('needs AppRoleAssignment.ReadWrite.All');
    expect(adminNotice.buttons).toEqual([{ title: 'Reprocess', verb: 'reprocess', id: request.assignmentId }]);

    // The permission is granted; the admin presses Reprocess.
    await press({ aadObjectId: 'u-ivan', name: 'Ivan Petrov' }, 'reprocess', { id: request.assignmentId });
    await drain();
    expect((await h.repositories.requests.get(request.id))!.state).toBe('delivered');
    expect(await directoryState('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    expect((await h.repositories.audit.query()).some((e) => e.action === 'admin.reprocess' && e.actorId === 'u-ivan')).toBe(true);
  });

  it('reprocess repairs access removed outside the bot', async () => {
    const request = await accountingApproved(fred);
    await local.removeGroupRole('grp-finance', 'u-fred', 'member'); // someone removed it in Entra
    expect((await directoryState('u-fred')).financeTeam).toBe(false);
    await press({ aadObjectId: 'u-ivan', name: 'Ivan Petrov' }, 'reprocess', { id: request.assignmentId });
    await drain();
    expect((await directoryState('u-fred')).financeTeam).toBe(true);
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('delivered');
  });

  it('only admins may reprocess; a refusal changes nothing and is audited', async () => {
    const request = await accountingApproved(fred);
    const before = await h.store.collection('tasks').count({});
    await press(fred, 'reprocess', { id: request.assignmentId });
    expect(await h.store.collection('tasks').count({})).toBe(before);
    expect((await h.repositories.audit.query()).filter((e) => e.action === 'admin.refused').map((e) => e.actorId)).toEqual(['u-fred']);
  });

  it('a request with a start date is delivered at its start, not before', async () => {
    await press(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'From December', 'answer:costCentre': '4100', startDate: '2026-12-01' });
    await drain();
    const [request] = await h.repositories.requests.listForUser('u-fred');
    await h.approvals.decide('u-nadia', { requestId: request!.id, stage: 0, decision: 'approve' });
    await drain();
    expect((await h.repositories.requests.get(request!.id))!.state).toBe('scheduled');
    expect((await directoryState('u-fred')).financeTeam).toBe(false);
    h.clock.set('2026-12-01T00:00:01Z');
    await drain();
    expect((await h.repositories.requests.get(request!.id))!.state).toBe('delivered');
    expect((await directoryState('u-fred')).financeTeam).toBe(true);
  });

  it('a just-in-time package without approval is delivered straight after the request', async () => {
    await press(alex, 'submitRequest', { packageId: 'payment-run', policyId: 'finance-team', justification: 'Month end', 'answer:changeTicket': 'CHG0012345' });
    await drain();
    const [request] = await h.repositories.requests.listForUser(alex.aadObjectId);
    expect(request!.state).toBe('delivered');
    const assignment = (await h.repositories.assignments.get(request!.assignmentId!))!;
    expect(assignment.expiresAt!.getTime() - assignment.startAt.getTime()).toBe(2 * 60 * MINUTE);
    expect((await local.listAppRoleAssignments('sp-accounting', alex.aadObjectId)).some((a) => a.appRoleId === 'role-accounting-approver')).toBe(true);
  });
});
