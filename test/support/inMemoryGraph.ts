// A faithful in-memory Microsoft Graph for tests, used through the real graph-client SDK and the
// real @azure/identity credentials: msw intercepts fetch (the SDK) and node:https (identity) for
// the configured GRAPH_ENDPOINT and AZURE_AUTHORITY_HOST, so nothing leaves the process.
//
// What it does like Graph v1.0 (learn.microsoft.com/graph):
// - keeps directory state (graphFakeDirectory.ts): users, managers, groups with nested members,
//   owners, service principals with app roles, app role assignments, directory role definitions
//   and role assignments (/roleManagement/directory); seeded from the same YAML shape as
//   examples/directory.yaml;
// - answers with Graph's status codes and {error:{code,message,innerError}} bodies;
// - insists on "Authorization: Bearer <token it issued>" (401 InvalidAuthenticationToken);
// - honours $select (and Graph's default user properties without it), $top (1..999), $filter
//   where Graph supports it, and pages with absolute @odata.nextLink URLs;
// - requires the advanced query parameters (ConsistencyLevel: eventual + $count=true) for an
//   OData cast or $filter on a group relationship, as the docs say;
// - serves POST /v1.0/$batch (1..20 requests, relative urls without the version, per-item status);
// - can be told to throttle (429 + Retry-After), fail (503) or deny (403) chosen calls, N times,
//   inside batches too, or that the app lacks RoleManagement.ReadWrite.Directory (every role
//   management call then gets 403, as in a tenant where nobody consented to it);
// - counts calls by kind (read, write, batch, token) and keeps the write log.

import { randomUUID } from 'node:crypto';
import { delay, http, type HttpHandler, HttpResponse } from 'msw';
import { setupServer, type SetupServerApi } from 'msw/node';
import { type DirectoryFile, loadDirectoryFile } from '../../src/directory/directoryFile';
import { FakeDirectory, GraphFault, type GroupRelation, type Json, resourceNotFound } from './graphFakeDirectory';
import { type FakeApp, FakeIdentity } from './graphFakeIdentity';
import { FakeTeams } from './graphFakeTeams';

export { FakeDirectory, GraphFault } from './graphFakeDirectory';
export { FakeTeams } from './graphFakeTeams';

export const TEST_TENANT_ID = '6f1b5c3e-2a4d-4e8f-9b7c-0d1e2f3a4b5c';
export const TEST_CLIENT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
export const TEST_CLIENT_SECRET = 'fake-client-secret-for-tests';

export interface InMemoryGraphOptions {
  /** GRAPH_ENDPOINT: Graph's root with no path. */
  graphEndpoint?: string;
  /** AZURE_AUTHORITY_HOST. */
  authorityHost?: string;
  tenantId?: string;
  /** Apps allowed to get tokens. Default: TEST_CLIENT_ID with TEST_CLIENT_SECRET. */
  apps?: FakeApp[];
  /** Page size when the request has no $top (Graph: 100). */
  defaultPageSize?: number;
  /** The most a page holds whatever $top asks (Graph: 999); set it small to exercise paging. */
  maxPageSize?: number;
}

/** Which calls a fault applies to. `path` is Graph's path without the version and query, e.g. "/users/u-1". */
export interface CallMatch {
  method?: string;
  path?: string | RegExp | ((path: string) => boolean);
  /** Only calls inside a $batch (true) or only direct ones (false). */
  inBatch?: boolean;
}

export type CallKind = 'read' | 'write' | 'batch';

export interface GraphCall {
  kind: CallKind;
  method: string;
  /** Decoded path without version and query. */
  path: string;
  /** The query string as sent, without '?'. */
  query: string;
  inBatch: boolean;
  status: number;
  /** The Authorization header of the HTTP request (the $batch's for items inside one). */
  authorization?: string;
  consistencyLevel?: string;
  body?: unknown;
}

interface Fault {
  match: CallMatch;
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
  remaining: number;
}

interface GraphRequestIn {
  method: string;
  /** Raw (still encoded) path after the version, e.g. "/users/a%40b.com". */
  rawPath: string;
  /** Raw query without '?'. */
  rawQuery: string;
  headers: Record<string, string>;
  body: unknown;
  inBatch: boolean;
  authorization?: string;
}

interface Answer {
  /** 0: no HTTP answer at all, the connection drops (a network error for the client). */
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Route {
  kind: 'read' | 'write';
  run(): Answer;
}

const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const DEFAULT_USER_PROPERTIES = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];

export class InMemoryGraph {
  readonly graphEndpoint: string;
  readonly authorityHost: string;
  readonly identity: FakeIdentity;
  readonly calls: GraphCall[] = [];
  directory: FakeDirectory;
  /** Teams: the app catalog and apps installed for users (graphFakeTeams.ts). */
  teams = new FakeTeams();

  private readonly defaultPageSize: number;
  private maxPageSize: number;
  private faults: Fault[] = [];
  /** Application permissions the app was not granted (only role management checks this). */
  private missingPermissions = new Set<string>();
  private hangs: Array<{ match: CallMatch; ms: number; remaining: number }> = [];
  private server: SetupServerApi | undefined;

  constructor(directory: FakeDirectory = new FakeDirectory(), options: InMemoryGraphOptions = {}) {
    this.directory = directory;
    this.graphEndpoint = options.graphEndpoint ?? 'https://graph.microsoft.com';
    this.authorityHost = options.authorityHost ?? 'https://login.microsoftonline.com';
    this.defaultPageSize = options.defaultPageSize ?? 100;
    this.maxPageSize = options.maxPageSize ?? 999;
    this.identity = new FakeIdentity(this.authorityHost, options.tenantId ?? TEST_TENANT_ID, this.graphEndpoint, options.apps ?? [{ clientId: TEST_CLIENT_ID, clientSecret: TEST_CLIENT_SECRET }]);
  }

  static fromDirectoryFile(file: DirectoryFile, options?: InMemoryGraphOptions): InMemoryGraph {
    return new InMemoryGraph(FakeDirectory.fromFile(file), options);
  }

  /** Seeds from a directory YAML file such as examples/directory.yaml (loadDirectoryFile). */
  static async fromFile(path: string, options?: InMemoryGraphOptions): Promise<InMemoryGraph> {
    return InMemoryGraph.fromDirectoryFile(await loadDirectoryFile(path), options);
  }

  // -------------------------------------------------------------------------------------
  // Lifecycle

  /** The msw handlers, to combine with others in one server. */
  handlers(): HttpHandler[] {
    return [
      http.get(`${this.authorityHost}/:tenant/v2.0/.well-known/openid-configuration`, ({ params }) => {
        const answer = this.identity.openIdConfiguration(String(params.tenant));
        return HttpResponse.json(answer.body, { status: answer.status });
      }),
      http.post(`${this.authorityHost}/:tenant/oauth2/v2.0/token`, async ({ params, request }) => {
        const answer = this.identity.token(String(params.tenant), new URLSearchParams(await request.text()));
        return HttpResponse.json(answer.body, { status: answer.status });
      }),
      http.all(`${this.graphEndpoint}/*`, async ({ request }) => this.onGraphRequest(request)),
    ];
  }

  /** Starts intercepting; anything else the process tries to reach fails the test. */
  listen(): void {
    this.server = setupServer(...this.handlers());
    this.server.listen({ onUnhandledRequest: 'error' });
  }

  close(): void {
    this.server?.close();
    this.server = undefined;
  }

  /** New state (from `directory`), no faults, empty logs; issued tokens stay valid. */
  reset(directory: FakeDirectory = this.directory, options: { maxPageSize?: number } = {}): void {
    this.directory = directory;
    this.teams = new FakeTeams();
    this.faults = [];
    this.hangs = [];
    this.missingPermissions = new Set();
    this.calls.length = 0;
    if (options.maxPageSize !== undefined) this.maxPageSize = options.maxPageSize;
  }

  // -------------------------------------------------------------------------------------
  // Faults

  /** The next `times` matching calls get 429 with Retry-After. */
  throttle(match: CallMatch, options: { retryAfterSeconds?: number; times?: number } = {}): void {
    this.faults.push({
      match,
      status: 429,
      code: 'TooManyRequests',
      message: 'Please retry again later.',
      retryAfterSeconds: options.retryAfterSeconds ?? 10,
      remaining: options.times ?? 1,
    });
  }

  /** The next `times` matching calls fail with `status` (503 by default), and Graph's code and message for it unless given. */
  fail(match: CallMatch, options: { status?: number; times?: number; retryAfterSeconds?: number; code?: string; message?: string } = {}): void {
    const status = options.status ?? 503;
    this.faults.push({
      match,
      status,
      code: options.code ?? (status === 503 ? 'serviceNotAvailable' : status === 504 ? 'gatewayTimeout' : 'generalException'),
      message: options.message ?? (status === 503 ? 'The service is temporarily unavailable. Please retry later.' : 'An unexpected error occurred.'),
      retryAfterSeconds: options.retryAfterSeconds,
      remaining: options.times ?? 1,
    });
  }

  /** The next `times` matching direct calls get no answer: the connection drops (fetch rejects). */
  disconnect(match: CallMatch, options: { times?: number } = {}): void {
    this.faults.push({ match: { ...match, inBatch: false }, status: 0, code: '', message: '', remaining: options.times ?? 1 });
  }

  /** The next `times` matching direct calls answer only after `ms` (for client timeouts). */
  hang(match: CallMatch, options: { ms: number; times?: number }): void {
    this.hangs.push({ match: { ...match, inBatch: false }, ms: options.ms, remaining: options.times ?? 1 });
  }

  /** The next `times` matching calls get 403 Authorization_RequestDenied, as when a permission is missing. */
  deny(match: CallMatch, options: { times?: number; message?: string } = {}): void {
    this.faults.push({
      match,
      status: 403,
      code: 'Authorization_RequestDenied',
      message: options.message ?? 'Insufficient privileges to complete the operation.',
      remaining: options.times ?? 1,
    });
  }

  /**
   * The app has no admin consent for `permission` (until reset). Only role management looks:
   * without RoleManagement.ReadWrite.Directory every /roleManagement/directory call is 403
   * Authorization_RequestDenied, as Graph answers an app without it.
   */
  withoutPermission(permission: 'RoleManagement.ReadWrite.Directory'): void {
    this.missingPermissions.add(permission);
  }

  // -------------------------------------------------------------------------------------
  // Observation

  /** Injected faults and hangs not yet met: a test that meant them to happen checks this is 0. */
  unmetFaults(): number {
    return [...this.faults, ...this.hangs].reduce((sum, f) => sum + Math.max(0, f.remaining), 0);
  }

  stats(): { reads: number; writes: number; batches: number; tokens: number } {
    const count = (kind: CallKind): number => this.calls.filter((c) => c.kind === kind).length;
    return { reads: count('read'), writes: count('write'), batches: count('batch'), tokens: this.identity.requests.length };
  }

  /** Every write Graph received, in order, with its body and status. */
  writeLog(): GraphCall[] {
    return this.calls.filter((c) => c.kind === 'write');
  }

  // -------------------------------------------------------------------------------------
  // HTTP

  private async onGraphRequest(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const headers = lowerCaseHeaders(request.headers);
    const authorization = headers.authorization;
    const text = request.method === 'GET' || request.method === 'DELETE' ? '' : await request.text();
    const version = /^\/(v1\.0|beta)(\/.*)$/.exec(url.pathname);
    const rawQuery = url.search.replace(/^\?/, '');

    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    if (!token || !this.identity.issued.has(token)) {
      const path = version?.[2] ?? url.pathname;
      this.calls.push({ kind: 'read', method: request.method, path: safeDecode(path), query: rawQuery, inBatch: false, status: 401, authorization });
      return respond(errorAnswer(401, 'InvalidAuthenticationToken', token ? 'Access token validation failure. Invalid audience.' : 'Access token is empty.'));
    }
    if (!version) return respond(errorAnswer(400, 'BadRequest', `Invalid version: '${url.pathname.split('/')[1] ?? ''}'.`));

    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return respond(errorAnswer(400, 'BadRequest', 'Unable to read JSON request payload.'));
      }
    }
    const rawPath = version[2] ?? '/';
    const hang = this.hangs.find((h) => h.remaining > 0 && matches(h.match, request.method, `/${splitPath(rawPath).join('/')}`, false));
    if (hang) {
      hang.remaining--;
      await delay(hang.ms);
    }
    if (rawPath === '/$batch') {
      if (request.method !== 'POST') return respond(errorAnswer(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.'));
      return respond(this.batch(body, authorization, rawQuery));
    }
    return respond(this.dispatch({ method: request.method, rawPath, rawQuery, headers, body, inBatch: false, authorization }));
  }

  private batch(body: unknown, authorization: string | undefined, rawQuery: string): Answer {
    const requests = isJson(body) && Array.isArray(body.requests) ? (body.requests as unknown[]) : undefined;
    const call: GraphCall = { kind: 'batch', method: 'POST', path: '/$batch', query: rawQuery, inBatch: false, status: 200, authorization, body };
    this.calls.push(call);
    // The $batch request itself can be throttled or fail as a whole.
    const fault = this.takeFault({ method: 'POST', rawPath: '/$batch', rawQuery, headers: {}, body, inBatch: false, authorization }, '/$batch');
    if (fault) {
      call.status = fault.status;
      return fault;
    }
    if (!requests || requests.length === 0) return errorAnswer(400, 'BadRequest', 'Invalid batch payload format.');
    if (requests.length > 20) return errorAnswer(400, 'BadRequest', 'Number of batch requests exceeds the limit of 20.');
    const ids = requests.map((r) => (isJson(r) ? r.id : undefined));
    if (ids.some((id) => typeof id !== 'string') || new Set(ids).size !== ids.length) return errorAnswer(400, 'BadRequest', 'Batch request ids must be unique strings.');

    const responses = requests.map((item) => {
      const r = item as Json;
      const headers = isJson(r.headers) ? lowerCaseHeaders(new Headers(r.headers as Record<string, string>)) : {};
      const answer = this.batchItem(r, headers, authorization);
      return { id: r.id, status: answer.status, headers: { 'Content-Type': JSON_TYPE, ...answer.headers }, ...(answer.body === undefined ? {} : { body: answer.body }) };
    });
    return { status: 200, body: { responses } };
  }

  private batchItem(item: Json, headers: Record<string, string>, authorization: string | undefined): Answer {
    if (typeof item.method !== 'string' || typeof item.url !== 'string') return errorAnswer(400, 'BadRequest', 'Each batch request needs a method and a url.');
    if (item.body !== undefined && !headers['content-type']) {
      return errorAnswer(400, 'BadRequest', 'Content-Type header must be specified for a request with a body.');
    }
    // Item urls are relative to the version: "/users/x" (a "/v1.0/users/x" lands on segment "v1.0").
    const url = new URL(`${this.graphEndpoint}/v1.0/${item.url.replace(/^\//, '')}`);
    const rawPath = url.pathname.slice('/v1.0'.length);
    return this.dispatch({ method: item.method.toUpperCase(), rawPath, rawQuery: url.search.replace(/^\?/, ''), headers, body: item.body, inBatch: true, authorization });
  }

  private dispatch(request: GraphRequestIn): Answer {
    const segments = splitPath(request.rawPath);
    const path = `/${segments.join('/')}`;
    const call: GraphCall = {
      kind: 'read',
      method: request.method,
      path,
      query: request.rawQuery,
      inBatch: request.inBatch,
      status: 0,
      authorization: request.authorization,
      consistencyLevel: request.headers.consistencylevel,
      ...(request.body === undefined ? {} : { body: request.body }),
    };
    this.calls.push(call);
    let answer: Answer;
    try {
      const route = this.route(segments, request);
      call.kind = route.kind;
      const fault = this.takeFault(request, path);
      answer = fault ?? route.run();
    } catch (error) {
      if (!(error instanceof GraphFault)) throw error;
      answer = errorAnswer(error.status, error.code, error.message, error.headers);
    }
    call.status = answer.status;
    return answer;
  }

  private takeFault(request: GraphRequestIn, path: string): Answer | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && matches(f.match, request.method, path, request.inBatch));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.status === 0) return { status: 0 };
    const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
    if (fault.status === 429) {
      return {
        status: 429,
        headers,
        body: { error: { code: fault.code, message: fault.message, innerError: { code: '429', date: graphDate(), message: 'Please retry after', 'request-id': randomUUID(), status: '429' } } },
      };
    }
    return errorAnswer(fault.status, fault.code, fault.message, headers);
  }

  // -------------------------------------------------------------------------------------
  // Routes

  private route(s: string[], request: GraphRequestIn): Route {
    const q = parseQuery(request.rawQuery);
    const d = this.directory;
    const method = request.method;
    const read = (run: () => Answer): Route => ({ kind: 'read', run });
    const write = (run: () => Answer): Route => ({ kind: 'write', run });
    const only = (allowed: string, route: Route): Route => {
      if (method !== allowed) throw new GraphFault(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
      return route;
    };
    const [collection, id, nav, fourth, fifth] = s;

    if (collection === 'users' && id !== undefined) {
      if (nav === undefined) return only('GET', read(() => ok(select(d.userJson(d.user(id)), q, 'microsoft.graph.user'))));
      if (nav === 'manager' && fourth === undefined) return only('GET', read(() => ok(select(d.userJson(d.manager(id)), q, 'microsoft.graph.user'))));
      if (nav === 'checkMemberGroups' && fourth === undefined) return only('POST', read(() => ok(this.checkMemberGroups(id, request.body))));
      if (nav === 'appRoleAssignments' && fourth === undefined) {
        return only('GET', read(() => ok(this.page(this.userAssignments(id, q.$filter).map((a) => d.assignmentJson(a)), request, q))));
      }
      // Teams apps installed for the user (graphFakeTeams.ts); an unknown user is 404 first.
      if (nav === 'teamwork' && fourth === 'installedApps' && fifth === undefined) {
        if (method === 'POST') return write(() => (this.teams.install(d.user(id).id, request.body, this.graphEndpoint), { status: 201 }));
        return only('GET', read(() => ok(this.teams.list(d.user(id).id, q))));
      }
      if (nav === 'teamwork' && fourth === 'installedApps' && fifth !== undefined && s[5] === 'chat' && s.length === 6) {
        return only('GET', read(() => ok(this.teams.chat(d.user(id).id, fifth))));
      }
    }
    if (collection === 'groups' && id !== undefined) {
      if (nav === undefined) return only('GET', read(() => ok(select(d.groupJson(d.group(id)), q, 'microsoft.graph.group'))));
      if (nav === 'transitiveMembers' && (fourth === undefined || fourth === 'microsoft.graph.user') && fifth === undefined) {
        return only('GET', read(() => ok(this.transitiveMembers(id, fourth !== undefined, request, q))));
      }
      if ((nav === 'members' || nav === 'owners') && fourth === undefined) return only('GET', read(() => ok(this.relation(id, nav, request, q))));
      if ((nav === 'members' || nav === 'owners') && fourth === '$ref' && fifth === undefined) {
        return only('POST', write(() => (d.addReference(id, nav, this.referencedId(request.body)), noContent())));
      }
      if ((nav === 'members' || nav === 'owners') && fourth !== undefined && fifth === '$ref' && s.length === 5) {
        return only('DELETE', write(() => (d.removeReference(id, nav, fourth), noContent())));
      }
    }
    if (collection === 'servicePrincipals' && id !== undefined) {
      if (nav === undefined) return only('GET', read(() => ok(select(d.servicePrincipalJson(d.servicePrincipal(id)), q, 'microsoft.graph.servicePrincipal'))));
      if (nav === 'appRoleAssignedTo' && fourth === undefined) {
        if (method === 'POST') return write(() => ({ status: 201, body: d.assignmentJson(d.assign(id, isJson(request.body) ? request.body : {})) }));
        return only('GET', read(() => ok(this.page(this.assignedTo(id, q.$filter).map((a) => d.assignmentJson(a)), request, q))));
      }
      if (nav === 'appRoleAssignedTo' && fourth !== undefined && fifth === undefined) {
        if (method === 'DELETE') return write(() => (d.unassign(id, fourth), noContent()));
        return only('GET', read(() => ok(d.assignmentJson(d.assignmentsOn(id).find((a) => a.id === fourth) ?? throwing(resourceNotFound(fourth))))));
      }
    }
    if (collection === 'roleManagement' && id === 'directory' && (nav === 'roleAssignments' || nav === 'roleDefinitions')) {
      if (this.missingPermissions.has('RoleManagement.ReadWrite.Directory')) {
        throw new GraphFault(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      }
      if (nav === 'roleDefinitions' && fourth === undefined) {
        return only('GET', read(() => ok(this.page([...d.roleDefinitions.values()].map((r) => select(d.roleDefinitionJson(r), q, 'microsoft.graph.unifiedRoleDefinition')), request, q))));
      }
      if (nav === 'roleDefinitions' && fifth === undefined) {
        return only('GET', read(() => ok(select(d.roleDefinitionJson(d.roleDefinition(fourth!)), q, 'microsoft.graph.unifiedRoleDefinition'))));
      }
      if (nav === 'roleAssignments' && fourth === undefined) {
        if (method === 'POST') {
          return write(() => ({ status: 201, body: { '@odata.context': `${this.graphEndpoint}/v1.0/$metadata#roleManagement/directory/roleAssignments/$entity`, ...d.roleAssignmentJson(d.assignRole(isJson(request.body) ? request.body : {})) } }));
        }
        return only('GET', read(() => ok(this.page(this.roleAssignments(q.$filter).map((a) => d.roleAssignmentJson(a)), request, q))));
      }
      if (nav === 'roleAssignments' && fifth === undefined) {
        if (method === 'DELETE') return write(() => (d.unassignRole(fourth!), noContent()));
        return only('GET', read(() => ok(d.roleAssignmentJson(d.roleAssignments.get(fourth!) ?? throwing(resourceNotFound(fourth!))))));
      }
    }
    const known = ['manager', 'checkMemberGroups', 'appRoleAssignments', 'transitiveMembers', 'microsoft.graph.user', 'members', 'owners', '$ref', 'appRoleAssignedTo'];
    known.push('teamwork', 'installedApps', 'chat');
    const unknown = !['users', 'groups', 'servicePrincipals'].includes(collection ?? '')
      ? collection ?? ''
      : s.find((segment, i) => i >= 2 && !known.includes(segment)) ?? s.at(-1) ?? '';
    throw new GraphFault(400, 'BadRequest', `Resource not found for the segment '${unknown}'.`);
  }

  private checkMemberGroups(userId: string, body: unknown): Json {
    const user = this.directory.user(userId);
    const groupIds = isJson(body) && Array.isArray(body.groupIds) ? body.groupIds : undefined;
    if (!groupIds || groupIds.some((g) => typeof g !== 'string')) throw new GraphFault(400, 'Request_BadRequest', "Invalid request body: 'groupIds' must be a list of strings.");
    // user-checkmembergroups: "You can check up to a maximum of 20 groups per request."
    if (groupIds.length > 20) throw new GraphFault(400, 'Request_BadRequest', 'The number of groupIds exceeds the maximum of 20 per request.');
    return { '@odata.context': `${this.graphEndpoint}/v1.0/$metadata#Collection(Edm.String)`, value: (groupIds as string[]).filter((g) => this.directory.isTransitiveMember(user.id, g)) };
  }

  private transitiveMembers(groupId: string, usersOnly: boolean, request: GraphRequestIn, q: Record<string, string>): Json {
    // group-list-transitivemembers: an OData cast needs ConsistencyLevel: eventual and $count=true.
    if (usersOnly) requireAdvancedQuery(request, q, 'an OData cast');
    const users = this.directory.transitiveUsers(groupId);
    const objects = usersOnly ? users.map((u) => this.directory.userJson(u)) : this.transitiveObjects(groupId);
    return this.page(objects.map((o) => select(o, q, 'microsoft.graph.user')), request, q);
  }

  private transitiveObjects(groupId: string): Json[] {
    const out: Json[] = [];
    const seen = new Set<string>();
    const visit = (id: string): void => {
      for (const member of this.directory.group(id).members) {
        if (seen.has(member)) continue;
        seen.add(member);
        const json = this.directory.objectJson(member);
        if (json) out.push(json);
        if (this.directory.groups.has(member)) visit(member);
      }
    };
    visit(groupId);
    return out;
  }

  private relation(groupId: string, relation: GroupRelation, request: GraphRequestIn, q: Record<string, string>): Json {
    const group = this.directory.group(groupId);
    let ids = [...group[relation]];
    if (q.$filter !== undefined) {
      requireAdvancedQuery(request, q, '$filter');
      const wanted = idFilter(q.$filter);
      ids = ids.filter((id) => wanted.has(id));
    }
    const objects = ids.map((id) => this.directory.objectJson(id)).filter((o): o is Json => o !== undefined);
    return this.page(objects.map((o) => select(o, q, 'microsoft.graph.directoryObject')), request, q);
  }

  private userAssignments(userId: string, filter: string | undefined) {
    const assignments = this.directory.assignmentsOfUser(userId);
    if (filter === undefined) return assignments;
    // resourceId is an Edm.Guid: Graph wants it unquoted and rejects a quoted one.
    const match = /^resourceId eq ([^\s']+)$/.exec(filter.trim());
    if (!match) {
      if (/^resourceId eq '/.test(filter.trim())) throw new GraphFault(400, 'BadRequest', 'Invalid filter clause');
      throw new GraphFault(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for resource 'AppRoleAssignment'.`);
    }
    return assignments.filter((a) => a.resourceId === match[1]);
  }

  private assignedTo(servicePrincipalId: string, filter: string | undefined) {
    const assignments = this.directory.assignmentsOn(servicePrincipalId);
    if (filter === undefined) return assignments;
    // appRoleAssignment: principalId does not support $filter (only resourceId and principalDisplayName do).
    const property = /^(\w+)/.exec(filter.trim())?.[1] ?? filter;
    throw new GraphFault(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${property}' of resource 'AppRoleAssignment'.`);
  }

  /**
   * GET /roleManagement/directory/roleAssignments: $filter on principalId, roleDefinitionId and
   * directoryScopeId with eq, joined by and (unifiedRoleAssignment: "Supports $filter (eq, in)").
   * Unknown ids simply match nothing, as in Graph.
   */
  private roleAssignments(filter: string | undefined) {
    const all = [...this.directory.roleAssignments.values()];
    if (filter === undefined) return all;
    const clauses = filter.trim().split(/\s+and\s+/i).map((clause) => {
      const match = /^(principalId|roleDefinitionId|directoryScopeId) eq '((?:[^']|'')*)'$/.exec(clause.trim());
      if (!match) throw new GraphFault(400, 'BadRequest', 'Invalid filter clause');
      return { property: match[1] as 'principalId' | 'roleDefinitionId' | 'directoryScopeId', value: (match[2] ?? '').replace(/''/g, "'") };
    });
    // Graph compares these GUIDs without case.
    return all.filter((a) => clauses.every((c) => a[c.property].toLowerCase() === c.value.toLowerCase()));
  }

  /** The object id in {"@odata.id": "{GRAPH_ENDPOINT}/v1.0/directoryObjects/{id}"}. */
  private referencedId(body: unknown): string {
    const reference = isJson(body) ? body['@odata.id'] : undefined;
    const match = typeof reference === 'string' ? /^(https:\/\/[^/]+)\/(?:v1\.0|beta)\/(?:directoryObjects|users|groups)\/([^/?#]+)$/.exec(reference) : null;
    if (!match || match[1] !== this.graphEndpoint) throw new GraphFault(400, 'Request_BadRequest', `Invalid object identifier '${String(reference)}'.`);
    return safeDecode(match[2] ?? '');
  }

  // -------------------------------------------------------------------------------------
  // Paging

  private page(items: Json[], request: GraphRequestIn, q: Record<string, string>): Json {
    const top = q.$top === undefined ? this.defaultPageSize : Number(q.$top);
    if (!Number.isInteger(top) || top < 1 || top > 999) {
      throw new GraphFault(400, 'Request_BadRequest', `Invalid page size specified: '${q.$top}'. Must be between 1 and 999 inclusive.`);
    }
    const size = Math.min(top, this.maxPageSize);
    const offset = q.$skiptoken === undefined ? 0 : readSkipToken(q.$skiptoken, request.rawPath);
    const page: Json = { value: items.slice(offset, offset + size) };
    if (q.$count === 'true' && request.headers.consistencylevel === 'eventual') page['@odata.count'] = items.length;
    if (offset + size < items.length) {
      const kept = request.rawQuery.split('&').filter((p) => p !== '' && !/^(\$|%24)skiptoken=/i.test(p));
      page['@odata.nextLink'] = `${this.graphEndpoint}/v1.0${request.rawPath}?${[...kept, `$skiptoken=${skipToken(offset + size, request.rawPath)}`].join('&')}`;
    }
    return page;
  }
}

// ---------------------------------------------------------------------------------------

function respond(answer: Answer): Response {
  if (answer.status === 0) return HttpResponse.error();
  if (answer.body === undefined) return new HttpResponse(null, { status: answer.status, headers: answer.headers });
  return HttpResponse.json(answer.body as Json, { status: answer.status, headers: { 'Content-Type': JSON_TYPE, ...answer.headers } });
}

function ok(body: Json): Answer {
  return { status: 200, body };
}

function noContent(): Answer {
  return { status: 204 };
}

function errorAnswer(status: number, code: string, message: string, headers: Record<string, string> = {}): Answer {
  const requestId = randomUUID();
  return { status, headers, body: { error: { code, message, innerError: { date: graphDate(), 'request-id': requestId, 'client-request-id': requestId } } } };
}

function throwing(fault: GraphFault): never {
  throw fault;
}

function graphDate(): string {
  return new Date().toISOString().slice(0, 19);
}

/** $select: only the listed properties (and id), unknown ones refused as Graph does; users default to Graph's default set. */
function select(object: Json, q: Record<string, string>, type: string): Json {
  const odataType = object['@odata.type'];
  let keys: string[];
  if (q.$select !== undefined) {
    keys = q.$select.split(',').map((k) => k.trim()).filter(Boolean);
    const unknown = keys.find((k) => !(k in object));
    if (unknown) throw new GraphFault(400, 'Request_BadRequest', `Could not find a property named '${unknown}' on type '${type}'.`);
    keys = [...new Set(['id', ...keys])];
  } else if (odataType === '#microsoft.graph.user') {
    keys = DEFAULT_USER_PROPERTIES;
  } else {
    keys = Object.keys(object);
  }
  const out: Json = odataType === undefined ? {} : { '@odata.type': odataType };
  for (const key of keys) if (key in object) out[key] = object[key];
  return out;
}

function requireAdvancedQuery(request: GraphRequestIn, q: Record<string, string>, what: string): void {
  if (request.headers.consistencylevel !== 'eventual' || q.$count !== 'true') {
    throw new GraphFault(
      400,
      'Request_UnsupportedQuery',
      `${what} on this relationship needs the advanced query parameters: the ConsistencyLevel header set to eventual and $count=true.`,
    );
  }
}

/** `id eq 'x'` or `id in ('x','y')`, OData string literals with '' for a quote. */
function idFilter(filter: string): Set<string> {
  const trimmed = filter.trim();
  const eq = /^id eq '((?:[^']|'')*)'$/.exec(trimmed);
  if (eq) return new Set([(eq[1] ?? '').replace(/''/g, "'")]);
  const list = /^id in \((.*)\)$/.exec(trimmed);
  if (list) return new Set([...(list[1] ?? '').matchAll(/'((?:[^']|'')*)'/g)].map((m) => (m[1] ?? '').replace(/''/g, "'")));
  throw new GraphFault(400, 'Request_UnsupportedQuery', 'Unsupported query: only id eq and id in are supported here.');
}

function skipToken(offset: number, rawPath: string): string {
  return Buffer.from(JSON.stringify({ o: offset, p: rawPath })).toString('base64url');
}

function readSkipToken(token: string, rawPath: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isJson(parsed) && typeof parsed.o === 'number' && parsed.p === rawPath) return parsed.o;
  } catch {
    // falls through to Graph's answer for a bad token
  }
  throw new GraphFault(400, 'Request_BadRequest', 'The specified page token value has expired or is invalid.');
}

function parseQuery(rawQuery: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    const key = safeDecode(at < 0 ? part : part.slice(0, at));
    query[key] = safeDecode(at < 0 ? '' : part.slice(at + 1));
  }
  return query;
}

/** Path segments, decoded; users('upn') becomes users + upn. */
function splitPath(rawPath: string): string[] {
  const segments = rawPath.split('/').filter((s) => s !== '').map(safeDecode);
  const keyed = /^(users|groups|servicePrincipals)\('((?:[^']|'')*)'\)$/.exec(segments[0] ?? '');
  if (keyed) segments.splice(0, 1, keyed[1] ?? '', (keyed[2] ?? '').replace(/''/g, "'"));
  return segments;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function matches(match: CallMatch, method: string, path: string, inBatch: boolean): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
  if (match.inBatch !== undefined && match.inBatch !== inBatch) return false;
  if (match.path === undefined) return true;
  if (typeof match.path === 'string') return match.path === path;
  if (match.path instanceof RegExp) return match.path.test(path);
  return match.path(path);
}

function lowerCaseHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return out;
}

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
