// The Graph directory: the Directory port (port.ts) served by Microsoft Graph v1.0, through the
// graph-client SDK (graphClient.ts). Same semantics as the local directory (localDirectory.ts):
// idempotent outcomes, null for a missing user/group/service principal on single reads,
// `notFound` naming what is missing on everything else, and Graph's failures mapped to the port's
// kinds (graphErrors.ts). Calls that belong together go in one $batch (graphBatch.ts).
//
// Calls, with the Graph docs they follow (learn.microsoft.com/graph/api/...):
// - getUser             GET /users/{id | userPrincipalName}?$select=...            (user-get)
// - getManager          GET /users/{id}/manager?$select=...; 404 when none         (user-list-manager)
// - getGroup            GET /groups/{id}?$select=id,displayName,description        (group-get)
// - getServicePrincipal GET /servicePrincipals/{id}?$select=id,appId,displayName,appRoles
// - checkMemberGroups   POST /users/{id}/checkMemberGroups, at most 20 group ids per call,
//                       transitive (user-checkmembergroups); several calls go in one $batch
// - listTransitiveGroupMembers
//                       GET /groups/{id}/transitiveMembers/microsoft.graph.user?$select=id&$top=999
//                       &$count=true with ConsistencyLevel: eventual: the OData cast needs the
//                       advanced query parameters (group-list-transitivemembers); @odata.nextLink
//                       is followed as given
// - hasGroupRole        GET /groups/{id}/members|owners?$filter=id eq '{user}'&$count=true with
//                       ConsistencyLevel: eventual (advanced query on a directory relationship,
//                       graph/aad-advanced-queries), batched with GET /users/{user} so an unknown
//                       user is `notFound` as in the local directory. Eventually consistent: a
//                       change can take a moment to show, which delivery tolerates because the
//                       writes themselves are idempotent.
// - addGroupRole        POST /groups/{id}/members|owners/$ref {"@odata.id": ".../directoryObjects/{user}"};
//                       400 "One or more added object references already exist ..." = alreadyPresent
//                       (group-post-members, group-post-owners)
// - removeGroupRole     DELETE /groups/{id}/members|owners/{user}/$ref; 404 = notPresent once the
//                       group and user are known to exist (group-delete-members)
// - listAppRoleAssignments
//                       GET /users/{user}/appRoleAssignments?$filter=resourceId eq {sp} (a Guid,
//                       unquoted), keeping the user's own assignments: this call also returns
//                       those of groups the user is a direct member of (user-list-approleassignments).
//                       Not /servicePrincipals/{sp}/appRoleAssignedTo?$filter=principalId eq ...:
//                       principalId does not support $filter (appRoleAssignment resource;
//                       msgraph-sdk-dotnet#2306).
// - addAppRoleAssignment
//                       POST /servicePrincipals/{sp}/appRoleAssignedTo {principalId, resourceId,
//                       appRoleId}; 400/409 "Permission being assigned already exists on the
//                       object" = alreadyPresent with the existing assignment
// - removeAppRoleAssignment
//                       DELETE /servicePrincipals/{sp}/appRoleAssignedTo/{id}; 404 = notPresent
// - listDirectoryRoleAssignments
//                       GET /roleManagement/directory/roleAssignments?$filter=principalId eq '{user}'
//                       and roleDefinitionId eq '{role}' (rbacapplication-list-roleassignments),
//                       keeping tenant-wide ones (directoryScopeId "/"); batched with GET /users/{user}
//                       and GET /roleManagement/directory/roleDefinitions/{role}, because the filter
//                       answers an empty list for an unknown user or role where the local directory
//                       says `notFound`
// - addDirectoryRoleAssignment
//                       POST /roleManagement/directory/roleAssignments {principalId, roleDefinitionId,
//                       directoryScopeId: "/"} (rbacapplication-post-roleassignments): an active,
//                       permanent assignment (the bot's own expiry removes it); 400 Request_BadRequest
//                       "A conflicting object with one or more of the specified property values is
//                       present in the directory." = alreadyPresent (Graph's answer to a duplicate, as
//                       seen in dod-ccpo/atat#1554); 404 = the user or role definition is missing
// - removeDirectoryRoleAssignment
//                       DELETE /roleManagement/directory/roleAssignments/{id}; 404 = notPresent
// Role management needs RoleManagement.ReadWrite.Directory (high privilege: only when the catalog
// has directoryRole resources; docs/deployment.md).

import type { TokenCredential } from '@azure/identity';
import type { Client, GraphRequest } from '@microsoft/microsoft-graph-client';
import { z } from 'zod';
import type { GraphConfig } from '../config';
import { type BatchRequest, type BatchResponse, type BatchRetryPolicy, DEFAULT_BATCH_RETRY, sendBatch } from './graphBatch';
import { createCredential, createGraphClient, GRAPH_VERSION } from './graphClient';
import { type FailureContext, failureOf, failureOfBatchItem, type GraphFailure, toDirectoryError } from './graphErrors';
import {
  type AddOutcome,
  type AppRoleAssignment,
  type Directory,
  type DirectoryGroup,
  DirectoryError,
  type DirectoryRoleAssignment,
  type DirectoryUser,
  type GroupRole,
  type RemoveOutcome,
  type ServicePrincipal,
} from './port';

export interface GraphDirectoryOptions {
  /** Defaults to the credential the configuration describes (graphClient.ts). */
  credential?: TokenCredential;
  /** A Graph call that has not answered by then fails as `unavailable`. */
  requestTimeoutMs?: number;
  /** How throttled $batch items are retried (graphBatch.ts). */
  batchRetry?: Partial<BatchRetryPolicy>;
}

/** The application permissions each call needs, named in `forbidden` errors (README's table). */
const PERMISSION = {
  readUser: 'User.Read.All',
  readGroup: 'GroupMember.Read.All',
  checkMembership: 'User.Read.All and GroupMember.Read.All',
  readServicePrincipal: 'Application.Read.All',
  writeMembers: 'GroupMember.ReadWrite.All',
  writeOwners: 'Group.ReadWrite.All',
  readAssignments: 'AppRoleAssignment.ReadWrite.All',
  writeAssignments: 'AppRoleAssignment.ReadWrite.All and Application.Read.All',
  // Reading alone would do with RoleManagement.Read.Directory, but delivery needs the write one anyway.
  roleManagement: 'RoleManagement.ReadWrite.Directory',
} as const;

const ROLE_ASSIGNMENTS = '/roleManagement/directory/roleAssignments';
/** The only scope the bot assigns roles at: the whole tenant. */
const TENANT_SCOPE = '/';

const USER_SELECT = 'id,displayName,userPrincipalName,mail,jobTitle,department,userType,accountEnabled';
/** The $top Graph allows at most for directory objects. */
const MAX_PAGE_SIZE = 999;
/** A server repeating a nextLink must not keep us paging forever: 10,000 pages of 999 is far beyond any group. */
const MAX_PAGES = 10_000;
const EVENTUAL = { ConsistencyLevel: 'eventual' } as const;

// ---------------------------------------------------------------------------------------
// Graph's shapes (only what we read; Graph sends nulls for unset properties)

const userSchema = z.object({
  '@odata.type': z.string().optional(),
  id: z.string(),
  displayName: z.string().nullish(),
  userPrincipalName: z.string().nullish(),
  mail: z.string().nullish(),
  jobTitle: z.string().nullish(),
  department: z.string().nullish(),
  userType: z.string().nullish(),
  accountEnabled: z.boolean().nullish(),
});

const groupSchema = z.object({ id: z.string(), displayName: z.string().nullish(), description: z.string().nullish() });

const appRoleSchema = z.object({
  id: z.string(),
  displayName: z.string().nullish(),
  value: z.string().nullish(),
  description: z.string().nullish(),
  isEnabled: z.boolean().nullish(),
  allowedMemberTypes: z.array(z.string()).nullish(),
});

const servicePrincipalSchema = z.object({
  id: z.string(),
  appId: z.string().nullish(),
  displayName: z.string().nullish(),
  appRoles: z.array(appRoleSchema).nullish(),
});

const assignmentSchema = z.object({ id: z.string(), principalId: z.string(), resourceId: z.string(), appRoleId: z.string() });

const roleAssignmentSchema = z.object({ id: z.string(), principalId: z.string(), roleDefinitionId: z.string(), directoryScopeId: z.string().nullish() });

const idSchema = z.object({ id: z.string() });

const checkMemberGroupsSchema = z.object({ value: z.array(z.string()) });

function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ value: z.array(item), '@odata.nextLink': z.string().optional() });
}

type ObjectKind = 'user' | 'group' | 'servicePrincipal' | 'roleDefinition';
const COLLECTION: Record<ObjectKind, string> = { user: 'users', group: 'groups', servicePrincipal: 'servicePrincipals', roleDefinition: 'roleManagement/directory/roleDefinitions' };
const LABEL: Record<ObjectKind, string> = { user: 'user', group: 'group', servicePrincipal: 'service principal', roleDefinition: 'role definition' };

// ---------------------------------------------------------------------------------------

export class GraphDirectory implements Directory {
  readonly kind = 'graph';

  private readonly timeoutMs: number;
  private readonly batchRetry: BatchRetryPolicy;

  constructor(
    private readonly client: Client,
    /** Graph's root, e.g. https://graph.microsoft.com: @odata.id references are built on it. */
    private readonly endpoint: string,
    options: Omit<GraphDirectoryOptions, 'credential'> = {},
  ) {
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.batchRetry = { ...DEFAULT_BATCH_RETRY, ...options.batchRetry };
  }

  static fromConfig(config: GraphConfig, options: GraphDirectoryOptions = {}): GraphDirectory {
    const credential = options.credential ?? createCredential(config);
    return new GraphDirectory(createGraphClient(credential, config.endpoint), config.endpoint, options);
  }

  // -------------------------------------------------------------------------------------
  // Reads

  async getUser(idOrUpn: string): Promise<DirectoryUser | null> {
    if (idOrUpn.trim() === '') return null;
    const context = { action: `read user '${idOrUpn}'`, permission: PERMISSION.readUser };
    const user = await this.getOrNull(`${userPath(idOrUpn)}?$select=${USER_SELECT}`, userSchema, context);
    return user ? toDirectoryUser(user) : null;
  }

  /** Null for a user without a manager and for an unknown user: Graph answers both with 404. */
  async getManager(userId: string): Promise<DirectoryUser | null> {
    const context = { action: `read the manager of user '${userId}'`, permission: PERMISSION.readUser };
    const manager = await this.getOrNull(`/users/${seg(userId)}/manager?$select=${USER_SELECT}`, userSchema, context);
    // A manager may be an organizational contact, which is no user of the bot.
    if (!manager || (manager['@odata.type'] !== undefined && manager['@odata.type'] !== '#microsoft.graph.user')) return null;
    return toDirectoryUser(manager);
  }

  async getGroup(groupId: string): Promise<DirectoryGroup | null> {
    const context = { action: `read group '${groupId}'`, permission: PERMISSION.readGroup };
    const group = await this.getOrNull(`/groups/${seg(groupId)}?$select=id,displayName,description`, groupSchema, context);
    return group ? withoutUndefined({ id: group.id, displayName: group.displayName ?? group.id, description: group.description ?? undefined }) : null;
  }

  /** Only roles that can be assigned to users and are enabled: the others cannot be delivered. */
  async getServicePrincipal(servicePrincipalId: string): Promise<ServicePrincipal | null> {
    const context = { action: `read service principal '${servicePrincipalId}'`, permission: PERMISSION.readServicePrincipal };
    const sp = await this.getOrNull(`/servicePrincipals/${seg(servicePrincipalId)}?$select=id,appId,displayName,appRoles`, servicePrincipalSchema, context);
    if (!sp) return null;
    const appRoles = (sp.appRoles ?? [])
      .filter((r) => r.isEnabled !== false && (r.allowedMemberTypes == null || r.allowedMemberTypes.includes('User')))
      .map((r) => withoutUndefined({ id: r.id, displayName: r.displayName ?? r.value ?? r.id, value: r.value ?? undefined, description: r.description ?? undefined }));
    return withoutUndefined({ id: sp.id, appId: sp.appId ?? undefined, displayName: sp.displayName ?? sp.id, appRoles });
  }

  /** Unknown group ids are not an error, they are just not in the answer (Graph's behaviour). */
  async checkMemberGroups(userId: string, groupIds: string[]): Promise<string[]> {
    const unique = [...new Set(groupIds)];
    if (unique.length === 0) return [];
    const context = { action: `check the group memberships of user '${userId}'`, permission: PERMISSION.checkMembership };
    const path = `/users/${seg(userId)}/checkMemberGroups`;
    const chunks = chunk(unique, 20); // Graph checks at most 20 groups per call
    let answers: unknown[];
    if (chunks.length === 1) {
      answers = [await this.call(() => this.api(path).post({ groupIds: chunks[0] }), context, { user: userId })];
    } else {
      const responses = await this.batch(
        chunks.map((groupIds) => ({ method: 'POST' as const, url: path, body: { groupIds } })),
        context,
      );
      answers = await Promise.all(responses.map((r) => this.batchBody(r, context, { user: userId })));
    }
    const found = new Set(answers.flatMap((a) => parse(checkMemberGroupsSchema, a, context).value));
    return unique.filter((id) => found.has(id));
  }

  async listTransitiveGroupMembers(groupId: string): Promise<string[]> {
    const context = { action: `list the members of group '${groupId}'`, permission: PERMISSION.readGroup };
    const first = `/groups/${seg(groupId)}/transitiveMembers/microsoft.graph.user?$select=id&$top=${MAX_PAGE_SIZE}&$count=true`;
    const members = await this.listAll(first, idSchema, context, { group: groupId }, EVENTUAL);
    return [...new Set(members.map((m) => m.id))];
  }

  async hasGroupRole(groupId: string, userId: string, role: GroupRole): Promise<boolean> {
    const context = { action: `check whether user '${userId}' is ${role} of group '${groupId}'`, permission: PERMISSION.readGroup };
    const [roleAnswer, userAnswer] = await this.batch([
      {
        method: 'GET',
        url: `/groups/${seg(groupId)}/${navigation(role)}?$filter=id eq '${seg(odataString(userId))}'&$select=id&$count=true`,
        headers: EVENTUAL,
      },
      { method: 'GET', url: `/users/${seg(userId)}?$select=id` },
    ], context);
    const page = parse(pageSchema(idSchema), await this.batchBody(roleAnswer, context, { group: groupId }), context);
    await this.batchBody(userAnswer, context, { user: userId });
    return page.value.some((m) => sameId(m.id, userId));
  }

  async listAppRoleAssignments(servicePrincipalId: string, userId: string): Promise<AppRoleAssignment[]> {
    const context = { action: `list the app role assignments of user '${userId}' on '${servicePrincipalId}'`, permission: PERMISSION.readAssignments };
    const [spAnswer, firstPage] = await this.batch([
      { method: 'GET', url: `/servicePrincipals/${seg(servicePrincipalId)}?$select=id` },
      // resourceId is an Edm.Guid: compared unquoted.
      { method: 'GET', url: `/users/${seg(userId)}/appRoleAssignments?$filter=resourceId eq ${seg(servicePrincipalId)}` },
    ], context);
    await this.batchBody(spAnswer, context, { servicePrincipal: servicePrincipalId });
    const page = parse(pageSchema(assignmentSchema), await this.batchBody(firstPage, context, { user: userId }), context);
    const rest = page['@odata.nextLink'] ? await this.listAll(page['@odata.nextLink'], assignmentSchema, context, { user: userId }) : [];
    return [...page.value, ...rest]
      .filter((a) => sameId(a.principalId, userId) && sameId(a.resourceId, servicePrincipalId))
      .map((a) => ({ id: a.id, principalId: a.principalId, resourceId: a.resourceId, appRoleId: a.appRoleId }));
  }

  async listDirectoryRoleAssignments(userId: string, roleDefinitionId: string): Promise<DirectoryRoleAssignment[]> {
    const context = { action: `list the directory role assignments of user '${userId}' for role '${roleDefinitionId}'`, permission: PERMISSION.roleManagement };
    const filter = `principalId eq '${seg(odataString(userId))}' and roleDefinitionId eq '${seg(odataString(roleDefinitionId))}'`;
    const [userAnswer, roleAnswer, firstPage] = await this.batch([
      { method: 'GET', url: `/users/${seg(userId)}?$select=id` },
      { method: 'GET', url: `/${COLLECTION.roleDefinition}/${seg(roleDefinitionId)}?$select=id` },
      { method: 'GET', url: `${ROLE_ASSIGNMENTS}?$filter=${filter}` },
    ], context);
    await this.batchBody(userAnswer, context, { user: userId });
    await this.batchBody(roleAnswer, context, { roleDefinition: roleDefinitionId });
    const page = parse(pageSchema(roleAssignmentSchema), await this.batchBody(firstPage, context, { user: userId }), context);
    const rest = page['@odata.nextLink'] ? await this.listAll(page['@odata.nextLink'], roleAssignmentSchema, context, { user: userId }) : [];
    return [...page.value, ...rest]
      .filter((a) => sameId(a.principalId, userId) && sameId(a.roleDefinitionId, roleDefinitionId) && a.directoryScopeId === TENANT_SCOPE)
      .map((a) => ({ id: a.id, principalId: a.principalId, roleDefinitionId: a.roleDefinitionId, directoryScopeId: TENANT_SCOPE }));
  }

  // -------------------------------------------------------------------------------------
  // Writes

  async addGroupRole(groupId: string, userId: string, role: GroupRole): Promise<AddOutcome> {
    const context = { action: `add user '${userId}' to group '${groupId}' as ${role}`, permission: role === 'owner' ? PERMISSION.writeOwners : PERMISSION.writeMembers };
    try {
      await this.api(`/groups/${seg(groupId)}/${navigation(role)}/$ref`).post({ '@odata.id': `${this.endpoint}/${GRAPH_VERSION}/directoryObjects/${seg(userId)}` });
      return 'added';
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      // Graph: 400 "One or more added object references already exist for the following modified properties: 'members'."
      if (failure.status === 400 && /added object references already exist/i.test(failure.message)) return 'alreadyPresent';
      // 404 when an object is missing; 400 "... do not exist" while a new group replicates.
      if (isMissing(failure) || (failure.status === 400 && /do(es)? not exist/i.test(failure.message))) {
        throw await this.notFound(failure, context, { group: groupId, user: userId });
      }
      throw toDirectoryError(failure, context);
    }
  }

  async removeGroupRole(groupId: string, userId: string, role: GroupRole): Promise<RemoveOutcome> {
    const context = { action: `remove user '${userId}' from group '${groupId}' as ${role}`, permission: role === 'owner' ? PERMISSION.writeOwners : PERMISSION.writeMembers };
    try {
      await this.api(`/groups/${seg(groupId)}/${navigation(role)}/${seg(userId)}/$ref`).delete();
      return 'removed';
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      // Graph says the same 404 "Resource '{group}' does not exist or one of its queried
      // reference-property objects are not present." for a missing group and for a user who is
      // not a member (as seen in microsoft-graph-docs#18715): only a look at both tells them apart.
      if (isMissing(failure)) {
        const missing = await this.missing(context, { group: groupId, user: userId });
        if (missing) throw new DirectoryError('notFound', missing);
        return 'notPresent';
      }
      throw toDirectoryError(failure, context);
    }
  }

  async addAppRoleAssignment(
    servicePrincipalId: string,
    userId: string,
    appRoleId: string,
  ): Promise<{ outcome: AddOutcome; assignment: AppRoleAssignment }> {
    const context = { action: `assign app role '${appRoleId}' of '${servicePrincipalId}' to user '${userId}'`, permission: PERMISSION.writeAssignments };
    let created: unknown;
    try {
      created = await this.api(`/servicePrincipals/${seg(servicePrincipalId)}/appRoleAssignedTo`).post({ principalId: userId, resourceId: servicePrincipalId, appRoleId });
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      if ((failure.status === 400 || failure.status === 409) && /already exists on the object/i.test(failure.message)) {
        return { outcome: 'alreadyPresent', assignment: await this.existingAssignment(servicePrincipalId, userId, appRoleId) };
      }
      if (isMissing(failure)) throw await this.notFound(failure, context, { servicePrincipal: servicePrincipalId, user: userId });
      throw toDirectoryError(failure, context);
    }
    const a = parse(assignmentSchema, created, context);
    return { outcome: 'added', assignment: { id: a.id, principalId: a.principalId, resourceId: a.resourceId, appRoleId: a.appRoleId } };
  }

  /** An assignment id this service principal does not hold is `notPresent`, as in the local directory. */
  async removeAppRoleAssignment(servicePrincipalId: string, assignmentId: string): Promise<RemoveOutcome> {
    const context = { action: `remove app role assignment '${assignmentId}' from '${servicePrincipalId}'`, permission: PERMISSION.writeAssignments };
    try {
      await this.api(`/servicePrincipals/${seg(servicePrincipalId)}/appRoleAssignedTo/${seg(assignmentId)}`).delete();
      return 'removed';
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      if (isMissing(failure)) {
        const missing = await this.missing(context, { servicePrincipal: servicePrincipalId });
        if (missing) throw new DirectoryError('notFound', missing);
        return 'notPresent';
      }
      throw toDirectoryError(failure, context);
    }
  }

  async addDirectoryRoleAssignment(userId: string, roleDefinitionId: string): Promise<{ outcome: AddOutcome; assignment: DirectoryRoleAssignment }> {
    const context = { action: `assign directory role '${roleDefinitionId}' to user '${userId}'`, permission: PERMISSION.roleManagement };
    let created: unknown;
    try {
      created = await this.api(ROLE_ASSIGNMENTS).post({ '@odata.type': '#microsoft.graph.unifiedRoleAssignment', principalId: userId, roleDefinitionId, directoryScopeId: TENANT_SCOPE });
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      if (failure.status === 400 && /conflicting object/i.test(failure.message)) {
        return { outcome: 'alreadyPresent', assignment: await this.existingRoleAssignment(userId, roleDefinitionId) };
      }
      if (isMissing(failure)) throw await this.notFound(failure, context, { user: userId, roleDefinition: roleDefinitionId });
      throw toDirectoryError(failure, context);
    }
    const a = parse(roleAssignmentSchema, created, context);
    return { outcome: 'added', assignment: { id: a.id, principalId: a.principalId, roleDefinitionId: a.roleDefinitionId, directoryScopeId: a.directoryScopeId ?? TENANT_SCOPE } };
  }

  async removeDirectoryRoleAssignment(assignmentId: string): Promise<RemoveOutcome> {
    const context = { action: `remove directory role assignment '${assignmentId}'`, permission: PERMISSION.roleManagement };
    try {
      await this.api(`${ROLE_ASSIGNMENTS}/${seg(assignmentId)}`).delete();
      return 'removed';
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      if (isMissing(failure)) return 'notPresent';
      throw toDirectoryError(failure, context);
    }
  }

  // -------------------------------------------------------------------------------------
  // Plumbing

  /** A request with a deadline: fetch has none of its own, and a hung call would hold an outbox lease. */
  private api(path: string, headers?: Record<string, string>): GraphRequest {
    const request = this.client.api(path).option('signal', AbortSignal.timeout(this.timeoutMs));
    return headers ? request.headers(headers) : request;
  }

  /** Runs one call; a 404 becomes `notFound` naming whichever of `objects` is missing. */
  private async call<T>(send: () => Promise<T>, context: FailureContext, objects: Partial<Record<ObjectKind, string>>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      if (isMissing(failure)) throw this.notFoundFromObjects(failure, objects);
      throw toDirectoryError(failure, context);
    }
  }

  private async getOrNull<T extends z.ZodType>(path: string, schema: T, context: FailureContext): Promise<z.output<T> | null> {
    try {
      return parse(schema, await this.api(path).get(), context);
    } catch (error) {
      const failure = failureOf(error);
      if (failure instanceof DirectoryError) throw failure;
      if (isMissing(failure)) return null;
      throw toDirectoryError(failure, context);
    }
  }

  /** Every item of a collection, following @odata.nextLink as Graph gives it (an absolute URL). */
  private async listAll<T extends z.ZodType>(
    first: string,
    item: T,
    context: FailureContext,
    objects: Partial<Record<ObjectKind, string>>,
    headers?: Record<string, string>,
  ): Promise<Array<z.output<T>>> {
    const schema = pageSchema(item);
    const items: Array<z.output<T>> = [];
    let next: string | undefined = first;
    for (let pages = 0; next !== undefined; pages++) {
      if (pages >= MAX_PAGES) throw new DirectoryError('unavailable', `Graph kept paging while trying to ${context.action}`);
      const url: string = next;
      const page = parse(schema, await this.call(() => this.api(url, headers).get(), context, objects), context);
      items.push(...page.value);
      next = page['@odata.nextLink'];
    }
    return items;
  }

  /** Items answered in order; a failure of the $batch request itself (429 on the whole, 503, network) is mapped. */
  private async batch(requests: BatchRequest[], context: FailureContext): Promise<BatchResponse[]> {
    try {
      return await sendBatch((body) => this.api('/$batch').post(body), requests, this.batchRetry);
    } catch (error) {
      throw toDirectoryError(failureOf(error), context);
    }
  }

  /** A batch item's body, or the DirectoryError its failure maps to. */
  private async batchBody(response: BatchResponse | undefined, context: FailureContext, objects: Partial<Record<ObjectKind, string>>): Promise<unknown> {
    if (!response) throw new DirectoryError('unavailable', `Graph's $batch answer was incomplete while trying to ${context.action}`);
    if (response.status < 400) return response.body;
    const failure = failureOfBatchItem(response);
    if (isMissing(failure)) throw this.notFoundFromObjects(failure, objects);
    throw toDirectoryError(failure, context);
  }

  private notFoundFromObjects(failure: GraphFailure, objects: Partial<Record<ObjectKind, string>>): DirectoryError {
    const [kind, id] = (Object.entries(objects) as Array<[ObjectKind, string]>)[0] ?? [];
    return new DirectoryError('notFound', kind ? `${LABEL[kind]} '${id}' does not exist` : failure.message);
  }

  /** After a 404 naming no object: which of `objects` is missing, for a useful `notFound`. */
  private async notFound(failure: GraphFailure, context: FailureContext, objects: Partial<Record<ObjectKind, string>>): Promise<DirectoryError> {
    const missing = await this.missing(context, objects);
    return new DirectoryError('notFound', missing ?? `cannot ${context.action}: ${failure.message}`);
  }

  /** "group 'g' does not exist" for the first of `objects` Graph does not know; undefined when all exist. */
  private async missing(context: FailureContext, objects: Partial<Record<ObjectKind, string>>): Promise<string | undefined> {
    const entries = Object.entries(objects) as Array<[ObjectKind, string]>;
    const answers = await this.batch(
      entries.map(([kind, id]) => ({ method: 'GET', url: `/${COLLECTION[kind]}/${seg(id)}?$select=id` })),
      context,
    );
    for (const [i, [kind, id]] of entries.entries()) {
      const answer = answers[i];
      const failure = answer ? (answer.status >= 400 ? failureOfBatchItem(answer) : undefined) : { status: 502, message: 'no answer' };
      if (failure && isMissing(failure)) return `${LABEL[kind]} '${id}' does not exist`;
      if (failure) throw toDirectoryError(failure, context);
    }
    return undefined;
  }

  /** Graph said the assignment exists: find it, so the caller can record its id. */
  private async existingAssignment(servicePrincipalId: string, userId: string, appRoleId: string): Promise<AppRoleAssignment> {
    const existing = (await this.listAppRoleAssignments(servicePrincipalId, userId)).find((a) => a.appRoleId === appRoleId);
    // Graph can refuse the duplicate before its listing shows the original (replication): retry later.
    if (!existing) {
      throw new DirectoryError('unavailable', `Graph says user '${userId}' already has app role '${appRoleId}' of '${servicePrincipalId}' but does not list it yet`);
    }
    return existing;
  }

  /** Graph refused a duplicate role assignment: find the one it has. */
  private async existingRoleAssignment(userId: string, roleDefinitionId: string): Promise<DirectoryRoleAssignment> {
    const [existing] = await this.listDirectoryRoleAssignments(userId, roleDefinitionId);
    // Graph can refuse the duplicate before its listing shows the original (replication): retry later.
    if (!existing) {
      throw new DirectoryError('unavailable', `Graph says user '${userId}' already has directory role '${roleDefinitionId}' but does not list a tenant-wide assignment of it yet`);
    }
    return existing;
  }
}

// ---------------------------------------------------------------------------------------

/**
 * Graph's answers for an object that is not there: 404 Request_ResourceNotFound, or 400
 * Request_BadRequest "Invalid object identifier '...'" for an id that cannot be an object id
 * (seen for non-GUID group ids, e.g. microsoft-graph-docs-contrib#3854).
 */
function isMissing(failure: GraphFailure): boolean {
  return failure.status === 404 || (failure.status === 400 && /invalid object identifier/i.test(failure.message));
}

function toDirectoryUser(u: z.output<typeof userSchema>): DirectoryUser {
  return withoutUndefined({
    id: u.id,
    displayName: u.displayName ?? u.userPrincipalName ?? u.id,
    userPrincipalName: u.userPrincipalName ?? '',
    mail: u.mail ?? undefined,
    jobTitle: u.jobTitle ?? undefined,
    department: u.department ?? undefined,
    userType: u.userType === 'Guest' ? 'Guest' : 'Member',
    // Null only when the app may not read it (no User.Read.All); absent means enabled, as in Entra.
    accountEnabled: u.accountEnabled ?? true,
  });
}

/** A response Graph should not have sent is a service fault, worth a later retry. */
function parse<T extends z.ZodType>(schema: T, value: unknown, context: FailureContext): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DirectoryError('unavailable', `Graph answered with an unexpected body while trying to ${context.action}: ${issue ? `${issue.path.join('.')} ${issue.message}` : ''}`);
  }
  return parsed.data;
}

/**
 * /users/{id | userPrincipalName}. A UPN starting with '$' must be written /users('$...') so
 * Graph does not read it as a system segment (user-get); '#' in guests' UPNs is escaped.
 */
function userPath(idOrUpn: string): string {
  if (idOrUpn.startsWith('$')) return `/users('${seg(odataString(idOrUpn))}')`;
  return `/users/${seg(idOrUpn)}`;
}

/** Object ids are GUIDs, which Graph compares without regard to case. */
function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

/** Inside an OData string literal a quote is doubled; the result is percent-encoded for the URL. */
function odataString(value: string): string {
  return value.replace(/'/g, "''");
}

function navigation(role: GroupRole): 'members' | 'owners' {
  return role === 'owner' ? 'owners' : 'members';
}

function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Drops absent optional fields, so results compare equal to the local directory's. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

