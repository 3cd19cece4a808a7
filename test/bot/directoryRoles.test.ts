import { formatCatalogError, parseCatalogFile } from '../../src/catalog/catalogFile';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { DirectoryError } from '../../src/directory/port';
import type { AccessRequest } from '../../src/domain/model';
import { NOTIFY_TASKS } from '../../src/services/notifications';
import { runReconciliation } from '../../src/services/reconcile';
import { type BotHarness, cardInvoke, createBotHarness, EXAMPLE_DIRECTORY, type TeamsUser } from '../support/botHarness';
import { FaultyDirectory } from '../support/faultyDirectory';

// Microsoft Entra directory roles delivered and removed like groups and apps (TestAdapter, local
// directory): the example package (an IT admin asks for Reports Reader, his manager approves),
// expiry, the grant ledger, a missing permission, the privileged-role guard, and deliveries in
// which every role fails before any directory write.
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' }; // IT admin; manager Victor
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';
const INTUNE_ADMIN = '3a2c62db-5318-420d-8d74-23affee5d9d5'; // privileged
const GLOBAL_ADMIN = '62e90394-69f5-4237-9190-012177145e10'; // privileged, and not in the local directory
const MINUTE = 60_000;
const ADMIN = 'u-nadia'; // receives admin notices 1:1

// Applied as an instance with ALLOW_PRIVILEGED_ROLES=true would: this instance may differ.
const IT_CATALOG = `
catalogs:
  - id: it
    displayName: IT
    resources:
      - { id: reports-reader, type: directoryRole, originId: ${REPORTS_READER}, displayName: Reports Reader }
      - { id: intune-admin, type: directoryRole, originId: ${INTUNE_ADMIN}, displayName: Intune Administrator }
      - { id: global-admin, type: directoryRole, originId: ${GLOBAL_ADMIN}, displayName: Global Administrator }
      - { id: finance-team, type: group, originId: grp-finance, displayName: Finance team }
accessPackages:
  - id: reports
    catalog: it
    displayName: Reports (30 minutes)
    resourceRoles: [{ resource: reports-reader, role: Entra role }]
    policies: [{ id: all, displayName: All, lifecycle: { expiration: { type: afterDuration, duration: PT30M } } }]
  - id: reports-and-finance
    catalog: it
    displayName: Reports and Finance team
    resourceRoles: [{ resource: reports-reader, role: Entra role }, { resource: finance-team, role: member }]
    policies: [{ id: all, displayName: All }]
  - id: intune
    catalog: it
    displayName: Intune administration
    resourceRoles: [{ resource: intune-admin, role: Entra role }]
    policies: [{ id: all, displayName: All }]
  - id: privileged-pair
    catalog: it
    displayName: Tenant administration
    resourceRoles: [{ resource: global-admin, role: Entra role }, { resource: intune-admin, role: Entra role }]
    policies: [{ id: all, displayName: All }]
`;

describe('Entra directory roles (TestAdapter, local directory)', () => {
  let h: BotHarness;
  let directory: FaultyDirectory;
  let local: LocalDirectory;

  async function open(options: { allowPrivilegedRoles?: boolean } = {}): Promise<void> {
    local = await LocalDirectory.open({ file: EXAMPLE_DIRECTORY });
    directory = new FaultyDirectory(local);
    h = await createBotHarness({ exampleCatalog: true, directory, adminUserIds: [ADMIN], ...options });
    const parsed = parseCatalogFile(IT_CATALOG, 'it.yaml', { allowPrivilegedRoles: true });
    if (!parsed.ok) throw new Error(parsed.errors.map(formatCatalogError).join('\n'));
    // The example catalog and this one, as one file would have them.
    const { catalogs, packages, policies } = parsed.catalog;
    for (const catalog of catalogs) await h.repositories.catalogs.save(catalog);
    for (const p of packages) await h.repositories.packages.save(p);
    for (const p of policies) await h.repositories.policies.save(p);
  }

  afterEach(() => h.close());

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown>) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
  }

  async function drain(): Promise<void> {
    for (let i = 0; i < 10; i++) await h.taskRunner.run();
  }

  async function requested(user: TeamsUser, packageId: string): Promise<AccessRequest> {
    await press(user, 'submitRequest', { packageId, policyId: 'all' });
    await drain();
    const request = (await h.repositories.requests.listForUser(user.aadObjectId)).find((r) => r.packageId === packageId);
    return (await h.repositories.requests.get(request!.id))!;
  }

  async function hasRole(userId: string, roleDefinitionId: string): Promise<boolean> {
    return (await local.listDirectoryRoleAssignments(userId, roleDefinitionId)).length > 0;
  }

  async function notices(userId: string): Promise<{ title: string; message: string }[]> {
    const tasks = await h.store.collection<{ _id: string; type: string; payload: { userId: string; card: { data: { title: string; message: string } } } }>('tasks').find({ type: NOTIFY_TASKS.send });
    return tasks.filter((t) => t.payload.userId === userId).map((t) => ({ title: t.payload.card.data.title, message: t.payload.card.data.message }));
  }

  const roleWrites = () => directory.count('addDirectoryRoleAssignment') + directory.count('removeDirectoryRoleAssignment');

  it('the example package: Ivan asks, his manager approves, the Entra role is assigned; it expires after 8 hours and is removed', async () => {
    await open();
    await press(ivan, 'submitRequest', { packageId: 'sign-in-reports', policyId: 'it-admins', justification: 'Investigating a sign-in alert' });
    await drain();
    const [pending] = await h.repositories.requests.listForUser(ivan.aadObjectId);
    expect(pending!.stages[0]!.approverIds).toEqual(['u-victor']);
    expect((await h.approvals.decide('u-victor', { requestId: pending!.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    await drain();

    const request = (await h.repositories.requests.get(pending!.id))!;
    expect(request.state).toBe('delivered');
    expect(await hasRole('u-ivan', REPORTS_READER)).toBe(true);
    expect(await h.repositories.grants.get('u-ivan', REPORTS_READER, REPORTS_READER)).toMatchObject({ resourceType: 'directoryRole', preExisting: false, heldBy: [request.assignmentId] });
    const delivered = (await notices('u-ivan')).find((n) => n.title === 'You now have access: Sign-in and audit reports (8 hours)');
    expect(delivered?.message).toContain('Reports Reader (Entra role)');

    h.clock.advance(8 * 60 * MINUTE);
    await h.lifecycle.run();
    await drain();
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('expired');
    expect(await hasRole('u-ivan', REPORTS_READER)).toBe(false);
    expect((await notices('u-ivan')).map((n) => n.title)).toContain('Expired: Sign-in and audit reports (8 hours)');
    expect(await h.repositories.grants.listForUser('u-ivan')).toEqual([]);
  });

  it('a just-in-time role (PT30M) is removed at its expiry, not before', async () => {
    await open();
    const request = await requested(fred, 'reports');
    expect(request.state).toBe('delivered');
    expect(await hasRole('u-fred', REPORTS_READER)).toBe(true);
    h.clock.advance(29 * MINUTE);
    await h.lifecycle.run();
    await drain();
    expect(await hasRole('u-fred', REPORTS_READER)).toBe(true);
    h.clock.advance(MINUTE);
    await h.lifecycle.run();
    await drain();
    expect(await hasRole('u-fred', REPORTS_READER)).toBe(false);
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('expired');
  });

  it('a role the user held before is recorded, not assigned again, and kept when the package ends', async () => {
    await open();
    const [before] = await local.listDirectoryRoleAssignments('u-victor', REPORTS_READER);
    const request = await requested({ aadObjectId: 'u-victor', name: 'Victor Hale' }, 'reports');
    expect(request.state).toBe('delivered');
    expect(directory.count('addDirectoryRoleAssignment')).toBe(0);
    expect(await h.repositories.grants.get('u-victor', REPORTS_READER, REPORTS_READER)).toMatchObject({ preExisting: true });

    h.clock.advance(30 * MINUTE);
    await h.lifecycle.run();
    await drain();
    expect((await h.repositories.assignments.get(request.assignmentId!))!.state).toBe('expired');
    expect(await local.listDirectoryRoleAssignments('u-victor', REPORTS_READER)).toEqual([before]);
    expect(directory.count('removeDirectoryRoleAssignment')).toBe(0);
    expect((await notices('u-victor')).find((n) => n.title === 'Expired: Reports (30 minutes)')?.message).toContain('Reports Reader (Entra role), which you had before');
  });

  it('a role held through another package stays until the last one ends', async () => {
    await open();
    const jit = await requested(fred, 'reports');
    const standing = await requested(fred, 'reports-and-finance');
    expect(standing.state).toBe('delivered');
    expect(new Set((await h.repositories.grants.get('u-fred', REPORTS_READER, REPORTS_READER))!.heldBy)).toEqual(new Set([jit.assignmentId, standing.assignmentId]));

    h.clock.advance(30 * MINUTE);
    await h.lifecycle.run();
    await drain();
    expect((await h.repositories.assignments.get(jit.assignmentId!))!.state).toBe('expired');
    expect(await hasRole('u-fred', REPORTS_READER)).toBe(true);
    expect((await notices('u-fred')).find((n) => n.title === 'Expired: Reports (30 minutes)')?.message).toContain('Reports Reader (Entra role), through another package');

    await press(fred, 'removeAccess', { assignmentId: standing.assignmentId });
    await drain();
    expect(await hasRole('u-fred', REPORTS_READER)).toBe(false);
    expect(await local.hasGroupRole('grp-finance', 'u-fred', 'member')).toBe(false);
  });

  it('a missing RoleManagement permission fails the role at once and tells admins it is a configuration error', async () => {
    await open();
    directory.fail('addDirectoryRoleAssignment', () => new DirectoryError('forbidden', "Graph refused to assign directory role (403 Authorization_RequestDenied); the app needs the RoleManagement.ReadWrite.Directory application permission with admin consent"), 100);
    const request = await requested(fred, 'reports');
    expect(request.state).toBe('deliveryFailed');
    expect(directory.count('addDirectoryRoleAssignment')).toBe(1); // not retried
    const toAdmin = await notices(ADMIN);
    expect(toAdmin.map((n) => n.title).sort()).toEqual(['Configuration error: assigning Entra roles', 'Delivery failed: Reports (30 minutes) for Fred Jansen']);
    expect(toAdmin.find((n) => n.title.startsWith('Configuration error'))!.message).toContain('This needs the RoleManagement.ReadWrite.Directory application permission');
    expect((await notices('u-fred')).map((n) => n.title)).toContain("Couldn't deliver: Reports (30 minutes)");
  });

  it('a role that cannot be removed at expiry is reported to admins at once: the user keeps an Entra role they should not', async () => {
    await open();
    const request = await requested(fred, 'reports');
    directory.fail('listDirectoryRoleAssignments', () => new DirectoryError('forbidden', 'Graph refused (403 Authorization_RequestDenied); the app needs the RoleManagement.ReadWrite.Directory application permission with admin consent'), 100);
    h.clock.advance(30 * MINUTE);
    await h.lifecycle.run();
    await drain();
    const assignment = (await h.repositories.assignments.get(request.assignmentId!))!;
    expect(assignment.state).toBe('expired');
    expect(assignment.roles[0]!.state).toBe('failed');
    expect(await hasRole('u-fred', REPORTS_READER)).toBe(true);
    const toAdmin = await notices(ADMIN);
    expect(toAdmin.map((n) => n.title).sort()).toEqual(['Configuration error: removing Entra roles', 'Removal failed: Reports (30 minutes) for Fred Jansen']);
    expect(toAdmin.find((n) => n.title.startsWith('Removal failed'))!.message).toContain('Still in the directory: Reports Reader (Entra role).');
    expect((await notices('u-fred')).find((n) => n.title === 'Expired: Reports (30 minutes)')?.message).toContain('could not be removed yet and IT has been told');
  });

  it('never assigns a privileged role unless ALLOW_PRIVILEGED_ROLES=true, even from a catalog another instance applied', async () => {
    await open();
    const request = await requested(fred, 'intune');
    expect(request.state).toBe('deliveryFailed');
    expect(roleWrites()).toBe(0);
    expect(await hasRole('u-fred', INTUNE_ADMIN)).toBe(false);
    const [role] = (await h.repositories.assignments.get(request.assignmentId!))!.roles;
    expect(role!.error).toBe("configuration error: 'Intune Administrator' is a privileged Entra role, and ALLOW_PRIVILEGED_ROLES is not true");
    expect((await notices(ADMIN)).find((n) => n.title === 'Delivery failed: Intune administration for Fred Jansen')?.message).toContain('ALLOW_PRIVILEGED_ROLES is not true');
  });

  it('assigns a privileged role when the deployment allows it', async () => {
    await open({ allowPrivilegedRoles: true });
    expect((await requested(fred, 'intune')).state).toBe('delivered');
    expect(await hasRole('u-fred', INTUNE_ADMIN)).toBe(true);
  });

  it('every role failing before any directory write still ends the delivery: deliveryFailed, requester and admins told', async () => {
    await open();
    // Global Administrator is refused before its write; Intune Administrator's resource is gone
    // from the catalog by the time its task runs. Nothing reaches the directory.
    await press(fred, 'submitRequest', { packageId: 'privileged-pair', policyId: 'all' });
    const catalog = (await h.repositories.catalogs.get('it'))!;
    await h.repositories.catalogs.save({ ...catalog, resources: catalog.resources.filter((r) => r.id !== 'intune-admin') });
    await drain();

    const [request] = (await h.repositories.requests.listForUser('u-fred')).filter((r) => r.packageId === 'privileged-pair');
    expect((await h.repositories.requests.get(request!.id))!.state).toBe('deliveryFailed');
    const assignment = (await h.repositories.assignments.get(request!.assignmentId!))!;
    expect(assignment.state).toBe('deliveryFailed');
    expect(assignment.roles.map((r) => [r.state, r.error])).toEqual([
      ['failed', "configuration error: 'Global Administrator' is a privileged Entra role, and ALLOW_PRIVILEGED_ROLES is not true"],
      ['failed', 'resource intune-admin is no longer in the catalog'],
    ]);
    expect(directory.calls.filter((c) => /^(add|remove)/.test(c.method))).toEqual([]);
    expect((await notices('u-fred')).map((n) => n.title)).toContain("Couldn't deliver: Tenant administration");
    expect((await notices(ADMIN)).map((n) => n.title)).toContain('Delivery failed: Tenant administration for Fred Jansen');
    expect((await h.repositories.audit.query({ userId: 'u-fred' })).filter((e) => e.action === 'delivery.failed')).toHaveLength(2);
  });

  it('a step that keeps failing with an unexpected error is given up after the attempt budget, so the delivery still ends', async () => {
    await open();
    directory.fail('listDirectoryRoleAssignments', () => new TypeError("Cannot read properties of undefined (reading 'id')"), 100);
    const request = await requested(fred, 'reports');
    expect(request.state).toBe('delivering');
    for (let i = 0; i < 6; i++) {
      h.clock.advance(2 * MINUTE);
      await drain();
    }
    expect((await h.repositories.requests.get(request.id))!.state).toBe('deliveryFailed');
    expect((await h.repositories.assignments.get(request.assignmentId!))!.roles[0]!.error).toBe("unexpected error: Cannot read properties of undefined (reading 'id')");
    expect(directory.count('listDirectoryRoleAssignments')).toBe(5); // the harness's attempt budget
    expect((await notices('u-fred')).map((n) => n.title)).toContain("Couldn't deliver: Reports (30 minutes)");
  });

  it('a request whose package vanished before delivery ends deliveryFailed, and the requester and admins are told', async () => {
    await open();
    await press(fred, 'submitRequest', { packageId: 'reports', policyId: 'all' });
    await h.repositories.packages.delete('reports');
    await drain();
    const [request] = await h.repositories.requests.listForUser('u-fred');
    expect(request).toMatchObject({ state: 'deliveryFailed' });
    expect(request!.assignmentId).toBeUndefined();
    expect((await notices('u-fred')).find((n) => n.title === "Couldn't deliver your request")?.message).toContain(`Request ${request!.id} was approved, but the access package "reports" (policy "all") is no longer offered`);
    expect((await notices(ADMIN)).find((n) => n.title === `Delivery failed: request ${request!.id}`)?.message).toContain(`then reprocess ${request!.id}`);
  });

  it('reconciliation compares directory roles too: one removed outside the bot is drift, one held before is not', async () => {
    await open();
    const request = await requested(fred, 'reports-and-finance');
    await requested({ aadObjectId: 'u-victor', name: 'Victor Hale' }, 'reports');
    expect((await runReconciliation(h.repositories, local)).drift).toEqual([]);

    const [freds] = await local.listDirectoryRoleAssignments('u-fred', REPORTS_READER);
    await local.removeDirectoryRoleAssignment(freds!.id); // someone removed it in Entra
    const report = await runReconciliation(h.repositories, local);
    expect(report.drift).toEqual([expect.objectContaining({ kind: 'missingInDirectory', userId: 'u-fred', originId: REPORTS_READER, assignmentIds: [request.assignmentId] })]);
    expect(report.preExisting).toEqual([{ userId: 'u-victor', originId: REPORTS_READER, role: REPORTS_READER }]);
  });
});
