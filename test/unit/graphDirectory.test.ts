// The Graph directory through the real graph-client SDK and real @azure/identity credentials,
// against the in-memory Graph (test/support/inMemoryGraph.ts) at a custom, national-cloud-style
// endpoint. The port's shared behaviour is in test/contract/directoryContract.ts; this file covers
// what is Graph's own: sign-in, headers, paging, batching, throttling, failures, clouds.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { type GraphConfig, Secret } from '../../src/config';
import { type DirectoryFile, loadDirectoryFile } from '../../src/directory/directoryFile';
import { createCredential } from '../../src/directory/graphClient';
import { GraphDirectory } from '../../src/directory/graphDirectory';
import { DirectoryError } from '../../src/directory/port';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'directory.yaml');
const ENDPOINT = 'https://graph.test.local';
const AUTHORITY = 'https://login.test.local';

function secretConfig(overrides: Partial<GraphConfig> = {}, secret = TEST_CLIENT_SECRET): GraphConfig {
  return {
    auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(secret) },
    endpoint: ENDPOINT,
    authorityHost: AUTHORITY,
    ...overrides,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<DirectoryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DirectoryError);
  return error as DirectoryError;
}

let file: DirectoryFile;
const graph = new InMemoryGraph(new FakeDirectory(), { graphEndpoint: ENDPOINT, authorityHost: AUTHORITY });
const sleeps: number[] = [];
let directory: GraphDirectory;

beforeAll(async () => {
  file = await loadDirectoryFile(EXAMPLE);
  graph.listen();
  // One directory for the file, so its token is cached as in production.
  directory = GraphDirectory.fromConfig(secretConfig(), {
    batchRetry: {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
  });
});
afterAll(() => graph.close());
beforeEach(() => {
  graph.reset(FakeDirectory.fromFile(file), { maxPageSize: 999 });
  sleeps.length = 0;
});

const directCalls = (): typeof graph.calls => graph.calls.filter((c) => !c.inBatch);

describe('sign-in and headers', () => {
  it('gets one client-credentials token for the Graph endpoint and sends it on every call', async () => {
    const fresh = GraphDirectory.fromConfig(secretConfig());
    const tokensBefore = graph.identity.requests.length;
    await fresh.getUser('u-lola');
    await fresh.checkMemberGroups('u-lola', ['grp-finance']);
    await fresh.hasGroupRole('grp-finance', 'u-lola', 'member');
    await fresh.addGroupRole('grp-finance', 'u-fred', 'member');
    await fresh.listAppRoleAssignments('sp-accounting', 'u-lola');

    const tokenRequests = graph.identity.requests.slice(tokensBefore);
    expect(tokenRequests).toEqual([{ tenant: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, scope: `${ENDPOINT}/.default`, grant: 'secret' }]);
    expect(directCalls().length).toBeGreaterThanOrEqual(5);
    // graph.test.local is no Microsoft host: without customHosts the SDK would send no token.
    for (const call of directCalls()) {
      const token = /^Bearer (.+)$/.exec(call.authorization ?? '')?.[1];
      expect(token !== undefined && graph.identity.issued.has(token)).toBe(true);
    }
    expect(graph.calls.every((c) => c.status !== 401)).toBe(true);
  });

  it('signs in with a certificate (ClientCertificateCredential, signed client assertion)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'graph-cert-'));
    try {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      // @azure/identity reads the key and hashes the CERTIFICATE block's bytes for the thumbprint;
      // the fake token endpoint does not check the certificate itself.
      const pem = `${privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()}-----BEGIN CERTIFICATE-----\n${Buffer.from('test certificate').toString('base64')}\n-----END CERTIFICATE-----\n`;
      const certificatePath = path.join(dir, 'app.pem');
      await writeFile(certificatePath, pem);
      const withCertificate = GraphDirectory.fromConfig({
        auth: { kind: 'clientCertificate', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, certificatePath },
        endpoint: ENDPOINT,
        authorityHost: AUTHORITY,
      });
      expect((await withCertificate.getUser('u-lola'))?.displayName).toBe('Lola Martin');
      expect(graph.identity.requests.at(-1)).toMatchObject({ grant: 'certificate', scope: `${ENDPOINT}/.default` });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('picks the credential the configuration names', () => {
    expect(createCredential(secretConfig())).toBeInstanceOf(ClientSecretCredential);
    expect(
      createCredential({ auth: { kind: 'clientCertificate', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, certificatePath: '/nowhere.pem' }, endpoint: ENDPOINT }),
    ).toBeInstanceOf(ClientCertificateCredential);
    expect(createCredential({ auth: { kind: 'managedIdentity' }, endpoint: ENDPOINT })).toBeInstanceOf(ManagedIdentityCredential);
    expect(createCredential({ auth: { kind: 'managedIdentity', clientId: TEST_CLIENT_ID }, endpoint: ENDPOINT })).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('reports a refused secret as forbidden, without calling Graph', async () => {
    const wrong = GraphDirectory.fromConfig(secretConfig({}, 'not-the-secret'));
    const error = await failureOf(wrong.getUser('u-lola'));
    expect(error.kind).toBe('forbidden');
    expect(error.message).toMatch(/could not get a Microsoft Graph token.*AADSTS7000215/);
    expect(error.message).not.toContain('not-the-secret');
    expect(graph.calls).toEqual([]);
  });

  it('works on the public cloud defaults too (graph.microsoft.com, no authority host)', async () => {
    const publicGraph = new InMemoryGraph(FakeDirectory.fromFile(file));
    graph.close();
    publicGraph.listen();
    try {
      const onPublic = GraphDirectory.fromConfig({ ...secretConfig(), endpoint: 'https://graph.microsoft.com', authorityHost: undefined });
      expect(await onPublic.addGroupRole('grp-finance', 'u-fred', 'member')).toBe('added');
      expect(publicGraph.identity.requests.at(-1)?.scope).toBe('https://graph.microsoft.com/.default');
      expect(publicGraph.writeLog()[0]?.body).toEqual({ '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/u-fred' });
    } finally {
      publicGraph.close();
      graph.listen();
    }
  });
});

describe('requests as Graph documents them', () => {
  it('selects the user properties it maps (Graph leaves department, userType, accountEnabled out by default)', async () => {
    expect(await directory.getUser('u-oscar')).toMatchObject({ department: 'Finance', userType: 'Member', accountEnabled: false });
    expect(graph.calls[0]?.query).toBe('$select=id,displayName,userPrincipalName,mail,jobTitle,department,userType,accountEnabled');
  });

  it("reads a UPN that starts with '$' through /users('...')", async () => {
    graph.directory.addUser({ id: 'u-dollar', displayName: 'Dollar', userPrincipalName: '$admin@example.com' });
    expect((await directory.getUser('$admin@example.com'))?.id).toBe('u-dollar');
  });

  it('references the user under the configured endpoint when adding a member or owner', async () => {
    await directory.addGroupRole('grp-finance', 'u-fred', 'member');
    await directory.addGroupRole('grp-finance', 'u-fred', 'owner');
    expect(graph.writeLog().map((c) => [c.method, c.path, c.body])).toEqual([
      ['POST', '/groups/grp-finance/members/$ref', { '@odata.id': `${ENDPOINT}/v1.0/directoryObjects/u-fred` }],
      ['POST', '/groups/grp-finance/owners/$ref', { '@odata.id': `${ENDPOINT}/v1.0/directoryObjects/u-fred` }],
    ]);
  });

  it('checks direct membership with an advanced query, batched with the user lookup', async () => {
    expect(await directory.hasGroupRole('grp-finance', 'u-nadia', 'owner')).toBe(true);
    const inner = graph.calls.filter((c) => c.inBatch);
    expect(inner.map((c) => c.path)).toEqual(['/groups/grp-finance/owners', '/users/u-nadia']);
    expect(inner[0]).toMatchObject({ consistencyLevel: 'eventual' });
    expect(inner[0]?.query).toContain('$count=true');
    expect(graph.stats()).toMatchObject({ batches: 1, reads: 2, writes: 0 });
  });

  it("keeps only the user's own assignments (Graph adds those of the user's direct groups)", async () => {
    const groupAssignmentId = 'group-assignment';
    graph.directory.assignments.set(groupAssignmentId, { id: groupAssignmentId, principalId: 'grp-finance', resourceId: 'sp-accounting', appRoleId: 'role-accounting-approver', createdDateTime: '2024-01-01T00:00:00Z' });
    const lolas = await directory.listAppRoleAssignments('sp-accounting', 'u-lola');
    expect(lolas.map((a) => a.appRoleId)).toEqual(['role-accounting-user']);
  });

  it('offers only enabled app roles that can be assigned to users', async () => {
    graph.directory.addServicePrincipal({
      id: 'sp-mixed',
      appId: 'app-mixed',
      displayName: 'Mixed',
      appRoles: [
        { id: 'r-user', displayName: 'User' },
        { id: 'r-app', displayName: 'Daemon', allowedMemberTypes: ['Application'] },
        { id: 'r-off', displayName: 'Retired', isEnabled: false },
      ],
    });
    expect((await directory.getServicePrincipal('sp-mixed'))?.appRoles.map((r) => r.id)).toEqual(['r-user']);
  });
});

describe('directory roles as Graph documents them', () => {
  const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';

  it('assigns at tenant scope with the unifiedRoleAssignment body, and finds with one filtered list batched with its lookups', async () => {
    await directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER);
    expect(graph.writeLog().map((c) => [c.method, c.path, c.body])).toEqual([
      ['POST', '/roleManagement/directory/roleAssignments', { '@odata.type': '#microsoft.graph.unifiedRoleAssignment', principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' }],
    ]);
    graph.reset(graph.directory);
    await directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER);
    expect(graph.calls.filter((c) => c.inBatch).map((c) => [c.path, decodeURIComponent(c.query)])).toEqual([
      ['/users/u-fred', '$select=id'],
      [`/roleManagement/directory/roleDefinitions/${REPORTS_READER}`, '$select=id'],
      ['/roleManagement/directory/roleAssignments', `$filter=principalId eq 'u-fred' and roleDefinitionId eq '${REPORTS_READER}'`],
    ]);
    expect(graph.stats()).toMatchObject({ batches: 1, writes: 0 });
  });

  it('ignores assignments of the role at another scope (an administrative unit is not the tenant)', async () => {
    graph.directory.roleAssignments.set('au-scoped', { id: 'au-scoped', principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/administrativeUnits/au-1' });
    expect(await directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER)).toEqual([]);
    expect((await directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER)).outcome).toBe('added');
  });

  it("takes Graph's 400 for a duplicate as alreadyPresent, with the assignment Graph has", async () => {
    const [victors] = await directory.listDirectoryRoleAssignments('u-victor', REPORTS_READER);
    expect(await directory.addDirectoryRoleAssignment('u-victor', REPORTS_READER)).toEqual({ outcome: 'alreadyPresent', assignment: victors });
    expect(graph.writeLog().map((c) => c.status)).toEqual([400]);
  });

  it('maps 403 without RoleManagement.ReadWrite.Directory to forbidden, naming that permission', async () => {
    graph.withoutPermission('RoleManagement.ReadWrite.Directory');
    for (const call of [directory.addDirectoryRoleAssignment('u-fred', REPORTS_READER), directory.listDirectoryRoleAssignments('u-fred', REPORTS_READER), directory.removeDirectoryRoleAssignment('whatever')]) {
      const error = await failureOf(call);
      expect(error).toMatchObject({ kind: 'forbidden', retryable: false });
      expect(error.message).toContain('needs the RoleManagement.ReadWrite.Directory application permission');
    }
  });
});

describe('paging and batching', () => {
  function bigGroup(size: number): void {
    const ids = Array.from({ length: size }, (_, i) => `u-big-${i}`);
    for (const id of ids) graph.directory.addUser({ id, displayName: id, userPrincipalName: `${id}@example.com` });
    // Half direct, half through a nested group: transitive members are still listed once each.
    graph.directory.addGroup({ id: 'grp-big-nested', displayName: 'Big nested', members: ids.slice(size / 2) });
    graph.directory.addGroup({ id: 'grp-big', displayName: 'Big', members: [...ids.slice(0, size / 2), 'grp-big-nested', 'u-big-0'] });
  }

  it('follows @odata.nextLink through a 2,500-member group (999 a page: 3 calls)', async () => {
    bigGroup(2500);
    const members = await directory.listTransitiveGroupMembers('grp-big');
    expect(members).toHaveLength(2500);
    expect(new Set(members).size).toBe(2500);
    const pages = graph.calls.filter((c) => c.path === '/groups/grp-big/transitiveMembers/microsoft.graph.user');
    expect(pages).toHaveLength(3);
    expect(pages.every((c) => c.consistencyLevel === 'eventual' && c.status === 200)).toBe(true);
    expect(pages.slice(1).every((c) => c.query.includes('$skiptoken='))).toBe(true);
  });

  it('follows smaller server pages too (100 a page: 25 calls)', async () => {
    bigGroup(2500);
    graph.reset(graph.directory, { maxPageSize: 100 });
    expect(await directory.listTransitiveGroupMembers('grp-big')).toHaveLength(2500);
    expect(graph.stats().reads).toBe(25);
  });

  it('checks 45 groups in 3 checkMemberGroups calls of at most 20, sent in one $batch', async () => {
    const groupIds = Array.from({ length: 45 }, (_, i) => `grp-many-${i}`);
    // A third direct, a third through the nested Finance team, a third not at all (the last one unknown to Graph).
    groupIds.slice(0, 44).forEach((id, i) => graph.directory.addGroup({ id, displayName: id, members: i % 3 === 0 ? ['u-lola'] : i % 3 === 1 ? ['grp-finance'] : [] }));
    const found = await directory.checkMemberGroups('u-lola', groupIds);
    expect(found).toEqual(groupIds.filter((_, i) => i % 3 !== 2 && i < 44));

    const checks = graph.calls.filter((c) => c.path === '/users/u-lola/checkMemberGroups');
    expect(checks.map((c) => (c.body as { groupIds: string[] }).groupIds.length)).toEqual([20, 20, 5]);
    expect(checks.every((c) => c.inBatch)).toBe(true);
    expect(graph.stats()).toMatchObject({ batches: 1, reads: 3 });
  });

  it('sends up to 20 groups as one direct call', async () => {
    await directory.checkMemberGroups('u-lola', ['grp-finance', 'grp-it-admins']);
    expect(graph.calls.map((c) => [c.method, c.path, c.inBatch])).toEqual([['POST', '/users/u-lola/checkMemberGroups', false]]);
  });
});

describe('throttling and failures', () => {
  it('returns 429 at once as throttled with Retry-After in ms: the SDK does not retry', async () => {
    graph.throttle({ path: '/groups/grp-finance' }, { retryAfterSeconds: 7 });
    const error = await failureOf(directory.getGroup('grp-finance'));
    expect(error).toMatchObject({ kind: 'throttled', retryAfterMs: 7000, retryable: true });
    expect(graph.calls).toHaveLength(1);
    expect((await directory.getGroup('grp-finance'))?.displayName).toBe('Finance team');
  });

  it('reports a throttled write as throttled and changes nothing', async () => {
    graph.throttle({ method: 'POST', path: '/groups/grp-finance/members/$ref' }, { retryAfterSeconds: 30 });
    expect(await failureOf(directory.addGroupRole('grp-finance', 'u-fred', 'member'))).toMatchObject({ kind: 'throttled', retryAfterMs: 30_000 });
    expect(graph.directory.group('grp-finance').members.has('u-fred')).toBe(false);
    expect(await directory.addGroupRole('grp-finance', 'u-fred', 'member')).toBe('added');
  });

  it('retries a throttled $batch item itself after a short Retry-After, sending only that item again', async () => {
    const groupIds = Array.from({ length: 45 }, (_, i) => `grp-many-${i}`);
    for (const id of groupIds) graph.directory.addGroup({ id, displayName: id, members: ['u-lola'] });
    graph.throttle({ path: '/users/u-lola/checkMemberGroups', inBatch: true }, { retryAfterSeconds: 1 });
    expect(await directory.checkMemberGroups('u-lola', groupIds)).toEqual(groupIds);
    expect(sleeps).toEqual([1000]);
    expect(graph.stats()).toMatchObject({ batches: 2, reads: 4 });
  });

  it('leaves a long Retry-After inside a $batch to the caller, as throttled', async () => {
    graph.throttle({ path: '/users/u-lola', inBatch: true }, { retryAfterSeconds: 120 });
    expect(await failureOf(directory.hasGroupRole('grp-finance', 'u-lola', 'member'))).toMatchObject({ kind: 'throttled', retryAfterMs: 120_000 });
    expect(sleeps).toEqual([]);
  });

  it.each([503, 504, 502])('maps %i to unavailable without retrying', async (status) => {
    graph.fail({ path: '/users/u-lola/manager' }, { status });
    expect(await failureOf(directory.getManager('u-lola'))).toMatchObject({ kind: 'unavailable', retryable: true });
    expect(graph.calls).toHaveLength(1);
  });

  it('maps a dropped connection to unavailable', async () => {
    graph.disconnect({ path: '/groups/grp-finance/members/u-lola/$ref' });
    expect(await failureOf(directory.removeGroupRole('grp-finance', 'u-lola', 'member'))).toMatchObject({ kind: 'unavailable' });
    expect(graph.directory.group('grp-finance').members.has('u-lola')).toBe(true);
  });

  it('maps 403 Authorization_RequestDenied to forbidden, naming the permission to grant', async () => {
    graph.deny({ path: '/groups/grp-finance/owners/$ref' });
    const owner = await failureOf(directory.addGroupRole('grp-finance', 'u-fred', 'owner'));
    expect(owner).toMatchObject({ kind: 'forbidden', retryable: false });
    expect(owner.message).toContain('Authorization_RequestDenied: Insufficient privileges to complete the operation.');
    expect(owner.message).toContain('Group.ReadWrite.All');

    graph.deny({ method: 'POST', path: '/servicePrincipals/sp-vat/appRoleAssignedTo' });
    expect((await failureOf(directory.addAppRoleAssignment('sp-vat', 'u-fred', 'role-vat-filer'))).message).toContain('AppRoleAssignment.ReadWrite.All and Application.Read.All');
  });

  it('maps other 400s to invalid', async () => {
    const error = await failureOf(directory.addAppRoleAssignment('sp-accounting', 'u-fred', 'role-nope'));
    expect(error.kind).toBe('invalid');
    expect(error.message).toContain('Permission being assigned was not found');
  });

  it('maps a throttled or failing $batch request as a whole', async () => {
    graph.throttle({ path: '/$batch' }, { retryAfterSeconds: 4 });
    expect(await failureOf(directory.hasGroupRole('grp-finance', 'u-lola', 'member'))).toMatchObject({ kind: 'throttled', retryAfterMs: 4000 });
    graph.fail({ path: '/$batch' });
    expect(await failureOf(directory.listAppRoleAssignments('sp-vat', 'u-nadia'))).toMatchObject({ kind: 'unavailable' });
    expect(await directory.listAppRoleAssignments('sp-vat', 'u-nadia')).toHaveLength(1);
  });

  it("treats Graph's 'Invalid object identifier' (a malformed id) as a missing object", async () => {
    const invalidId = { status: 400, code: 'Request_BadRequest', message: "Invalid object identifier 'Finance team'." };
    graph.fail({ path: '/groups/Finance team' }, invalidId);
    expect(await directory.getGroup('Finance team')).toBeNull();
    graph.fail({ path: '/groups/Finance team/transitiveMembers/microsoft.graph.user' }, invalidId);
    expect(await failureOf(directory.listTransitiveGroupMembers('Finance team'))).toMatchObject({ kind: 'notFound', message: "group 'Finance team' does not exist" });
  });

  it('gives up on a call that does not answer in time', async () => {
    const impatient = GraphDirectory.fromConfig(secretConfig(), { requestTimeoutMs: 30 });
    await impatient.getUser('u-lola'); // token first, so only the Graph call is timed below
    graph.hang({ path: '/groups/grp-finance' }, { ms: 80 });
    expect(await failureOf(impatient.getGroup('grp-finance'))).toMatchObject({ kind: 'unavailable' });
  });
});
