import { loadDirectoryFile } from '../../src/directory/directoryFile';
import { GraphDirectory } from '../../src/directory/graphDirectory';
import { Secret } from '../../src/config';
import { type BotHarness, cardInvoke, createBotHarness, EXAMPLE_DIRECTORY, type TeamsUser } from '../support/botHarness';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';

// The whole request → approval → delivery → removal path with the real graph-client code,
// against the in-memory Graph at a custom (national-cloud style) endpoint.
const ENDPOINT = 'https://graph.contoso.test';
const AUTHORITY = 'https://login.contoso.test';
const lola: TeamsUser = { aadObjectId: 'u-lola', name: 'Lola Martin' }; // already Finance team + Accounting User
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };

describe('delivery through Microsoft Graph (in-memory Graph, real graph-client)', () => {
  const graph = new InMemoryGraph(new FakeDirectory(), { graphEndpoint: ENDPOINT, authorityHost: AUTHORITY });
  let h: BotHarness;
  let directory: GraphDirectory;

  beforeAll(() => graph.listen());
  afterAll(() => graph.close());

  beforeEach(async () => {
    graph.reset(FakeDirectory.fromFile(await loadDirectoryFile(EXAMPLE_DIRECTORY)), { maxPageSize: 2 });
    directory = GraphDirectory.fromConfig({
      auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
      endpoint: ENDPOINT,
      authorityHost: AUTHORITY,
    });
    h = await createBotHarness({ exampleCatalog: true, directory });
  });

  afterEach(() => h.close());

  async function requestAndApprove(user: TeamsUser): Promise<string> {
    await h.adapter.processActivity(cardInvoke(user, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Team', 'answer:costCentre': '4100' }));
    h.adapter.activeQueue.splice(0);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    const [request] = await h.repositories.requests.listForUser(user.aadObjectId);
    // Finance approvers resolved through Graph's transitive members, paged two at a time.
    expect(new Set(request!.stages[0]!.approverIds)).toEqual(new Set(['u-nadia', '00000000-0000-0000-0000-0000000000020']));
    expect((await h.approvals.decide('u-nadia', { requestId: request!.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    return request!.id;
  }

  async function state(userId: string) {
    return {
      financeTeam: await directory.hasGroupRole('grp-finance', userId, 'member'),
      accountingUser: (await directory.listAppRoleAssignments('sp-accounting', userId)).some((a) => a.appRoleId === 'role-accounting-user'),
      vatFiler: (await directory.listAppRoleAssignments('sp-vat', userId)).some((a) => a.appRoleId === 'role-vat-filer'),
    };
  }

  it('memberships and app roles arrive in Graph, and go again on removal', async () => {
    const requestId = await requestAndApprove(fred);
    expect((await h.repositories.requests.get(requestId))!.state).toBe('delivered');
    expect(await state('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    const assignmentId = (await h.repositories.requests.get(requestId))!.assignmentId!;
    await h.adapter.processActivity(cardInvoke(fred, 'removeAccess', { assignmentId }));
    h.adapter.activeQueue.splice(0);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    expect(await state('u-fred')).toEqual({ financeTeam: false, accountingUser: false, vatFiler: false });
  });

  it('pre-existing access is left alone on removal', async () => {
    const requestId = await requestAndApprove(lola);
    const assignmentId = (await h.repositories.requests.get(requestId))!.assignmentId!;
    await h.adapter.processActivity(cardInvoke(lola, 'removeAccess', { assignmentId }));
    h.adapter.activeQueue.splice(0);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    expect(await state('u-lola')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: false });
  });

  it('429s and 503s from Graph are retried until everything is delivered', async () => {
    graph.throttle({ method: 'POST', path: /\/groups\/.*\/members\/\$ref/ }, { retryAfterSeconds: 7, times: 2 });
    graph.fail({ method: 'POST', path: /appRoleAssignedTo/ }, { status: 503, times: 2 });
    const requestId = await requestAndApprove(fred);
    for (let i = 0; i < 6; i++) {
      h.clock.advance(15 * 60_000);
      for (let j = 0; j < 3; j++) await h.taskRunner.run();
    }
    expect((await h.repositories.requests.get(requestId))!.state).toBe('delivered');
    expect(await state('u-fred')).toEqual({ financeTeam: true, accountingUser: true, vatFiler: true });
    // The faults did happen: the group and both app roles each needed more than one attempt.
    const retried = await h.store.collection<{ _id: string; type: string; attempts: number }>('tasks').find({ type: 'grant.add', attempts: { $gt: 1 } });
    expect(retried).toHaveLength(3);
    // Retry-After held back every write, not only the refused one (at 1,000 writes/s the
    // pacing alone would have waited about nothing).
    expect(h.pacingMs()).toBeGreaterThanOrEqual(7_000);
  });
});
