// The in-memory Graph's own behaviour, over plain HTTP (fetch, intercepted by msw): it must answer
// as Graph does, or the Graph directory's tests prove nothing.

import path from 'node:path';
import { type DirectoryFile, loadDirectoryFile } from '../../src/directory/directoryFile';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'directory.yaml');
const ENDPOINT = 'https://graph.fake.test';
const AUTHORITY = 'https://login.fake.test';
const V1 = `${ENDPOINT}/v1.0`;

type Body = Record<string, unknown> & { value?: Array<Record<string, unknown>>; error?: { code: string; message: string; innerError?: Record<string, unknown> } };

let file: DirectoryFile;
const graph = new InMemoryGraph(new FakeDirectory(), { graphEndpoint: ENDPOINT, authorityHost: AUTHORITY });
let token = '';

async function tokenRequest(form: Record<string, string>, tenant = TEST_TENANT_ID): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${AUTHORITY}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const goodForm = { grant_type: 'client_credentials', client_id: TEST_CLIENT_ID, client_secret: TEST_CLIENT_SECRET, scope: `${ENDPOINT}/.default` };

async function call(method: string, url: string, options: { body?: unknown; headers?: Record<string, string>; auth?: string | null } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== null) headers.Authorization = options.auth ?? `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url.startsWith('https://') ? url : `${V1}${url}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text === '' ? undefined : JSON.parse(text)) as Body };
}

beforeAll(async () => {
  file = await loadDirectoryFile(EXAMPLE);
  graph.listen();
  token = String((await tokenRequest(goodForm)).body.access_token);
});
afterAll(() => graph.close());
beforeEach(() => graph.reset(FakeDirectory.fromFile(file), { maxPageSize: 999 }));

describe('the token endpoint', () => {
  it('issues a JWT-looking bearer token for client credentials', async () => {
    const { status, body } = await tokenRequest(goodForm);
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    const [, payload] = String(body.access_token).split('.');
    expect(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString())).toMatchObject({ aud: ENDPOINT, tid: TEST_TENANT_ID, appid: TEST_CLIENT_ID });
  });

  it("answers Entra's errors: bad secret, unknown app, wrong resource, unknown tenant", async () => {
    const bad = await tokenRequest({ ...goodForm, client_secret: 'nope' });
    expect(bad).toMatchObject({ status: 401, body: { error: 'invalid_client', error_codes: [7000215] } });
    expect(String(bad.body.error_description)).toMatch(/^AADSTS7000215: /);
    expect(await tokenRequest({ ...goodForm, client_id: 'someone-else' })).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    expect(await tokenRequest({ ...goodForm, scope: 'https://graph.microsoft.com/.default' })).toMatchObject({ status: 400, body: { error: 'invalid_resource' } });
    expect(await tokenRequest(goodForm, 'other-tenant')).toMatchObject({ status: 400, body: { error: 'invalid_tenant' } });
  });

  it("publishes the tenant's OpenID configuration", async () => {
    const response = await fetch(`${AUTHORITY}/${TEST_TENANT_ID}/v2.0/.well-known/openid-configuration`);
    expect(await response.json()).toMatchObject({ token_endpoint: `${AUTHORITY}/${TEST_TENANT_ID}/oauth2/v2.0/token`, issuer: `${AUTHORITY}/${TEST_TENANT_ID}/v2.0` });
  });
});

describe('Graph basics', () => {
  it('refuses calls without a token it issued (401 InvalidAuthenticationToken)', async () => {
    expect(await call('GET', '/users/u-lola', { auth: null })).toMatchObject({ status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' } } });
    expect((await call('GET', '/users/u-lola', { auth: 'Bearer forged' })).status).toBe(401);
  });

  it("answers a missing object with Graph's 404 body", async () => {
    const { status, body } = await call('GET', '/groups/grp-nope');
    expect(status).toBe(404);
    expect(body.error).toMatchObject({
      code: 'Request_ResourceNotFound',
      message: "Resource 'grp-nope' does not exist or one of its queried reference-property objects are not present.",
      innerError: { date: expect.any(String), 'request-id': expect.any(String) },
    });
  });

  it("returns Graph's default user properties, or exactly $select, refusing unknown ones", async () => {
    const plain = (await call('GET', '/users/u-oscar')).body;
    expect(plain).toMatchObject({ id: 'u-oscar', displayName: 'Oscar Lind', jobTitle: 'Accountant' });
    expect(plain).not.toHaveProperty('department');
    expect(plain).not.toHaveProperty('accountEnabled');
    expect((await call('GET', '/users/u-oscar?$select=department,accountEnabled')).body).toEqual({
      '@odata.type': '#microsoft.graph.user',
      id: 'u-oscar',
      department: 'Finance',
      accountEnabled: false,
    });
    expect((await call('GET', '/users/u-oscar?$select=shoeSize')).body.error).toMatchObject({ code: 'Request_BadRequest', message: "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'." });
  });

  it("finds users by UPN, case-insensitively, also in the users('...') form and with an escaped '#'", async () => {
    expect((await call('GET', '/users/LOLAM@example.com')).body.id).toBe('u-lola');
    expect((await call('GET', `/users('${encodeURIComponent('lolam@example.com')}')`)).body.id).toBe('u-lola');
    expect((await call('GET', `/users/${encodeURIComponent('grace_contosoaudit.com#EXT#@example.com')}`)).body.id).toBe('u-grace');
  });

  it('answers 404 for a user without a manager', async () => {
    expect((await call('GET', '/users/u-victor/manager')).body.error?.message).toBe("Resource 'manager' does not exist or one of its queried reference-property objects are not present.");
    expect((await call('GET', '/users/u-fred/manager')).body.id).toBe('u-nadia');
  });

  it('rejects unknown segments and methods as Graph does', async () => {
    expect((await call('GET', '/users/u-lola/shoes')).body.error).toMatchObject({ code: 'BadRequest', message: "Resource not found for the segment 'shoes'." });
    expect((await call('PATCH', '/groups/grp-finance', { body: {} })).status).toBe(405);
  });
});

describe('membership', () => {
  it('checks membership transitively, at most 20 group ids per call', async () => {
    const answer = await call('POST', '/users/00000000-0000-0000-0000-0000000000020/checkMemberGroups', { body: { groupIds: ['grp-finance-approvers', 'grp-executives', 'grp-nope'] } });
    expect(answer.body.value).toEqual(['grp-finance-approvers']);
    const tooMany = await call('POST', '/users/u-lola/checkMemberGroups', { body: { groupIds: Array.from({ length: 21 }, (_, i) => `g${i}`) } });
    expect(tooMany.status).toBe(400);
  });

  it('needs the advanced query parameters for an OData cast or a $filter on a relationship', async () => {
    const cast = '/groups/grp-exec-expenses/transitiveMembers/microsoft.graph.user?$select=id';
    expect((await call('GET', cast)).body.error?.code).toBe('Request_UnsupportedQuery');
    const advanced = await call('GET', `${cast}&$count=true`, { headers: { ConsistencyLevel: 'eventual' } });
    expect(advanced.body['@odata.count']).toBe(3);
    expect(advanced.body.value?.map((u) => u.id).sort()).toEqual(['00000000-0000-0000-0000-0000000000024', 'u-lola', 'u-victor']);

    const filter = `/groups/grp-finance/members?$filter=${encodeURIComponent("id eq 'u-lola'")}`;
    expect((await call('GET', filter)).status).toBe(400);
    expect((await call('GET', `${filter}&$count=true`, { headers: { ConsistencyLevel: 'eventual' } })).body.value?.map((m) => m.id)).toEqual(['u-lola']);
  });

  it('adds references once (400 "already exist" after) and removes them once (404 naming the group after)', async () => {
    const reference = { '@odata.id': `${V1}/directoryObjects/u-fred` };
    expect((await call('POST', '/groups/grp-finance/members/$ref', { body: reference })).status).toBe(204);
    expect((await call('POST', '/groups/grp-finance/members/$ref', { body: reference })).body.error).toEqual(
      expect.objectContaining({ code: 'Request_BadRequest', message: "One or more added object references already exist for the following modified properties: 'members'." }),
    );
    expect((await call('DELETE', '/groups/grp-finance/members/u-fred/$ref')).status).toBe(204);
    expect((await call('DELETE', '/groups/grp-finance/members/u-fred/$ref')).body.error?.message).toBe(
      "Resource 'grp-finance' does not exist or one of its queried reference-property objects are not present.",
    );
    expect((await call('POST', '/groups/grp-finance/owners/$ref', { body: { '@odata.id': `${V1}/directoryObjects/u-nobody` } })).status).toBe(404);
    expect((await call('POST', '/groups/grp-finance/owners/$ref', { body: { '@odata.id': 'https://elsewhere.test/v1.0/directoryObjects/u-fred' } })).status).toBe(400);
  });
});

describe('app role assignments', () => {
  it('creates an assignment (201), refuses the duplicate and an unknown role', async () => {
    const body = { principalId: 'u-fred', resourceId: 'sp-vat', appRoleId: 'role-vat-filer' };
    const created = await call('POST', '/servicePrincipals/sp-vat/appRoleAssignedTo', { body });
    expect(created).toMatchObject({ status: 201, body: { principalId: 'u-fred', principalType: 'User', resourceId: 'sp-vat', appRoleId: 'role-vat-filer', resourceDisplayName: 'VAT returns' } });
    expect(String(created.body.id)).toMatch(/^[\w-]{43}$/);
    expect((await call('POST', '/servicePrincipals/sp-vat/appRoleAssignedTo', { body })).body.error).toMatchObject({ code: 'Request_BadRequest', message: 'Permission being assigned already exists on the object.' });
    expect((await call('POST', '/servicePrincipals/sp-vat/appRoleAssignedTo', { body: { ...body, appRoleId: 'nope' } })).status).toBe(400);
    expect((await call('DELETE', `/servicePrincipals/sp-vat/appRoleAssignedTo/${String(created.body.id)}`)).status).toBe(204);
    expect((await call('DELETE', `/servicePrincipals/sp-vat/appRoleAssignedTo/${String(created.body.id)}`)).status).toBe(404);
  });

  it("filters a user's assignments by resourceId (an unquoted Guid), and includes those of the user's direct groups", async () => {
    graph.directory.assignments.set('a-group', { id: 'a-group', principalId: 'grp-finance', resourceId: 'sp-vat', appRoleId: 'role-vat-filer', createdDateTime: '2024-01-01T00:00:00Z' });
    const answer = await call('GET', `/users/u-lola/appRoleAssignments?$filter=${encodeURIComponent('resourceId eq sp-vat')}`);
    expect(answer.body.value?.map((a) => [a.principalId, a.principalType])).toEqual([['grp-finance', 'Group']]);
    expect((await call('GET', `/users/u-lola/appRoleAssignments?$filter=${encodeURIComponent("resourceId eq 'sp-vat'")}`)).body.error?.message).toBe('Invalid filter clause');
  });

  it('refuses $filter on principalId for appRoleAssignedTo, as Graph does', async () => {
    const answer = await call('GET', `/servicePrincipals/sp-accounting/appRoleAssignedTo?$filter=${encodeURIComponent('principalId eq u-lola')}`);
    expect(answer.body.error).toMatchObject({ code: 'Request_UnsupportedQuery' });
    expect((await call('GET', '/servicePrincipals/sp-accounting/appRoleAssignedTo')).body.value).toHaveLength(3);
  });
});

describe('directory role assignments (/roleManagement/directory)', () => {
  const REPORTS_READER = '4a5d8f65-41da-4de4-8968-e035b65339cf';
  const ROLE_ASSIGNMENTS = '/roleManagement/directory/roleAssignments';
  const filter = (text: string) => `${ROLE_ASSIGNMENTS}?$filter=${encodeURIComponent(text)}`;

  it('creates an active tenant-wide assignment (201), refuses the duplicate as Graph does, deletes it (204, then 404)', async () => {
    const body = { '@odata.type': '#microsoft.graph.unifiedRoleAssignment', principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' };
    const created = await call('POST', ROLE_ASSIGNMENTS, { body });
    expect(created).toMatchObject({ status: 201, body: { principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/', resourceScope: '/' } });
    expect(String(created.body['@odata.context'])).toBe(`${V1}/$metadata#roleManagement/directory/roleAssignments/$entity`);
    expect(String(created.body.id)).toMatch(/^[\w-]{43}-1$/);
    const duplicate = await call('POST', ROLE_ASSIGNMENTS, { body });
    expect(duplicate).toMatchObject({ status: 400, body: { error: { code: 'Request_BadRequest', message: 'A conflicting object with one or more of the specified property values is present in the directory.' } } });
    // The same role for an administrative unit is another assignment.
    expect((await call('POST', ROLE_ASSIGNMENTS, { body: { ...body, directoryScopeId: '/administrativeUnits/au-1' } })).status).toBe(201);
    expect((await call('DELETE', `${ROLE_ASSIGNMENTS}/${String(created.body.id)}`)).status).toBe(204);
    expect(await call('DELETE', `${ROLE_ASSIGNMENTS}/${String(created.body.id)}`)).toMatchObject({ status: 404, body: { error: { code: 'Request_ResourceNotFound' } } });
  });

  it('answers 404 for an unknown principal or role definition, 400 without a scope', async () => {
    const body = { principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' };
    expect((await call('POST', ROLE_ASSIGNMENTS, { body: { ...body, principalId: 'u-nobody' } })).body.error).toMatchObject({ code: 'Request_ResourceNotFound' });
    expect((await call('POST', ROLE_ASSIGNMENTS, { body: { ...body, roleDefinitionId: 'role-nope' } })).status).toBe(404);
    expect((await call('POST', ROLE_ASSIGNMENTS, { body: { principalId: 'u-fred', roleDefinitionId: REPORTS_READER } })).body.error?.message).toBe('Either appScopeId or directoryScopeId must be specified.');
    expect((await call('GET', `/roleManagement/directory/roleDefinitions/${REPORTS_READER}?$select=id`)).body).toEqual({ id: REPORTS_READER });
    expect((await call('GET', '/roleManagement/directory/roleDefinitions/role-nope')).status).toBe(404);
  });

  it('filters on principalId and roleDefinitionId (eq, joined by and); unknown ids match nothing', async () => {
    const victors = await call('GET', filter(`principalId eq 'u-victor' and roleDefinitionId eq '${REPORTS_READER}'`));
    expect(victors.body.value?.map((a) => a.principalId)).toEqual(['u-victor']);
    expect((await call('GET', filter("principalId eq 'u-ivan'"))).body.value?.map((a) => a.roleDefinitionId)).toEqual(['3a2c62db-5318-420d-8d74-23affee5d9d5']);
    expect((await call('GET', filter("principalId eq 'u-nobody'"))).body.value).toEqual([]);
    expect((await call('GET', filter('principalId ne null'))).body.error?.message).toBe('Invalid filter clause');
  });

  it('is 403 Authorization_RequestDenied everywhere when the app lacks RoleManagement.ReadWrite.Directory', async () => {
    graph.withoutPermission('RoleManagement.ReadWrite.Directory');
    const denied = { status: 403, body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } };
    expect(await call('GET', filter("principalId eq 'u-victor'"))).toMatchObject(denied);
    expect(await call('POST', ROLE_ASSIGNMENTS, { body: { principalId: 'u-fred', roleDefinitionId: REPORTS_READER, directoryScopeId: '/' } })).toMatchObject(denied);
    expect(await call('GET', `/roleManagement/directory/roleDefinitions/${REPORTS_READER}`)).toMatchObject(denied);
    expect(graph.directory.roleAssignments.size).toBe(2);
  });
});

describe('paging', () => {
  beforeEach(() => {
    for (let i = 0; i < 250; i++) graph.directory.addUser({ id: `u-p${i}`, displayName: `P${i}`, userPrincipalName: `p${i}@example.com` });
    graph.directory.addGroup({ id: 'grp-paged', displayName: 'Paged', members: Array.from({ length: 250 }, (_, i) => `u-p${i}`) });
  });

  it('pages with absolute @odata.nextLink URLs that keep the query', async () => {
    graph.reset(graph.directory, { maxPageSize: 100 });
    const seen: string[] = [];
    let next: string | undefined = `${V1}/groups/grp-paged/members?$select=id&$top=999`;
    while (next) {
      const page = (await call('GET', next)).body;
      seen.push(...(page.value ?? []).map((m) => String(m.id)));
      next = page['@odata.nextLink'] as string | undefined;
      if (next) expect(next).toMatch(/^https:\/\/graph\.fake\.test\/v1\.0\/groups\/grp-paged\/members\?\$select=id&\$top=999&\$skiptoken=/);
    }
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(graph.stats().reads).toBe(3);
  });

  it('defaults to 100 a page, and refuses a $top above 999 or a forged skip token', async () => {
    expect((await call('GET', '/groups/grp-paged/members')).body.value).toHaveLength(100);
    expect((await call('GET', '/groups/grp-paged/members?$top=1000')).body.error?.message).toBe("Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.");
    expect((await call('GET', '/groups/grp-paged/members?$skiptoken=forged')).status).toBe(400);
  });
});

describe('$batch', () => {
  it('answers each request with its own status, in one 200', async () => {
    const answer = await call('POST', '/$batch', {
      body: {
        requests: [
          { id: 'a', method: 'GET', url: '/users/u-lola?$select=id,displayName' },
          { id: 'b', method: 'GET', url: '/groups/grp-nope' },
          { id: 'c', method: 'POST', url: '/users/u-lola/checkMemberGroups', body: { groupIds: ['grp-finance'] }, headers: { 'Content-Type': 'application/json' } },
        ],
      },
    });
    expect(answer.status).toBe(200);
    const responses = answer.body.responses as Array<{ id: string; status: number; body: Body }>;
    expect(responses.map((r) => [r.id, r.status])).toEqual([['a', 200], ['b', 404], ['c', 200]]);
    expect(responses[0]?.body).toMatchObject({ displayName: 'Lola Martin' });
    expect(responses[1]?.body.error?.code).toBe('Request_ResourceNotFound');
    expect(graph.stats()).toMatchObject({ batches: 1, reads: 3, writes: 0 });
  });

  it('refuses more than 20 requests, a body without Content-Type, and urls with the version', async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/users/u-lola' }));
    expect((await call('POST', '/$batch', { body: { requests: many } })).status).toBe(400);
    const answer = await call('POST', '/$batch', {
      body: {
        requests: [
          { id: '1', method: 'POST', url: '/users/u-lola/checkMemberGroups', body: { groupIds: [] } },
          { id: '2', method: 'GET', url: '/v1.0/users/u-lola' },
        ],
      },
    });
    const responses = answer.body.responses as Array<{ status: number; body: Body }>;
    expect(responses.map((r) => r.status)).toEqual([400, 400]);
    expect(responses[1]?.body.error?.message).toBe("Resource not found for the segment 'v1.0'.");
  });

  it('throttles items inside a batch on their own (429 + Retry-After inside a 200)', async () => {
    graph.throttle({ path: '/users/u-lola', inBatch: true }, { retryAfterSeconds: 3 });
    const answer = await call('POST', '/$batch', {
      body: { requests: [{ id: '1', method: 'GET', url: '/users/u-lola' }, { id: '2', method: 'GET', url: '/users/u-fred' }] },
    });
    const responses = answer.body.responses as Array<{ status: number; headers: Record<string, string>; body: Body }>;
    expect(answer.status).toBe(200);
    expect(responses.map((r) => r.status)).toEqual([429, 200]);
    expect(responses[0]?.headers['Retry-After']).toBe('3');
    expect(responses[0]?.body.error?.code).toBe('TooManyRequests');
  });
});

describe('faults and counters', () => {
  it('throttles matching calls N times with Retry-After, then answers', async () => {
    graph.throttle({ method: 'GET', path: /^\/groups\/grp-finance$/ }, { retryAfterSeconds: 5, times: 2 });
    for (let i = 0; i < 2; i++) {
      const throttled = await call('GET', '/groups/grp-finance');
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('Retry-After')).toBe('5');
      expect(throttled.body.error).toMatchObject({ code: 'TooManyRequests', message: 'Please retry again later.', innerError: { code: '429' } });
    }
    expect((await call('GET', '/groups/grp-finance')).status).toBe(200);
    expect((await call('GET', '/groups/grp-executives')).status).toBe(200);
  });

  it('fails (503), denies (403) and drops the connection on request', async () => {
    graph.fail({ path: '/users/u-lola' });
    expect(await call('GET', '/users/u-lola')).toMatchObject({ status: 503, body: { error: { code: 'serviceNotAvailable' } } });
    graph.deny({ path: (p) => p.startsWith('/servicePrincipals/') });
    expect(await call('GET', '/servicePrincipals/sp-vat')).toMatchObject({ status: 403, body: { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } } });
    graph.disconnect({ path: '/users/u-fred' });
    await expect(call('GET', '/users/u-fred')).rejects.toThrow();
    expect((await call('GET', '/users/u-fred')).status).toBe(200);
  });

  it('counts reads and writes, keeps the write log, and records the Authorization header', async () => {
    await call('GET', '/users/u-lola');
    await call('POST', '/users/u-lola/checkMemberGroups', { body: { groupIds: ['grp-finance'] } });
    await call('POST', '/groups/grp-finance/members/$ref', { body: { '@odata.id': `${V1}/directoryObjects/u-fred` } });
    await call('POST', '/groups/grp-finance/members/$ref', { body: { '@odata.id': `${V1}/directoryObjects/u-fred` } });
    expect(graph.stats()).toMatchObject({ reads: 2, writes: 2, batches: 0 });
    expect(graph.writeLog().map((c) => [c.method, c.path, c.status])).toEqual([
      ['POST', '/groups/grp-finance/members/$ref', 204],
      ['POST', '/groups/grp-finance/members/$ref', 400],
    ]);
    expect(graph.calls.every((c) => c.authorization === `Bearer ${token}`)).toBe(true);
  });
});
