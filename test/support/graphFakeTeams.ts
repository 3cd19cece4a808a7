// Teams app state behind the in-memory Graph (inMemoryGraph.ts): the tenant's app catalog and
// the apps installed in users' personal scope, each with its 1:1 chat between user and bot.
//
// What it does like Graph v1.0 (learn.microsoft.com/graph/api/...):
// - POST /users/{id}/teamwork/installedApps {"teamsApp@odata.bind": ".../v1.0/appCatalogs/teamsApps/{id}"}
//   answers 201 with no body (userteamwork-post-installedapps); 409 Conflict when the app is
//   already installed for the user; 404 for an unknown user or an app the catalog lacks; 400 for
//   a body without a valid teamsApp@odata.bind;
// - GET /users/{id}/teamwork/installedApps[?$expand=teamsApp][&$filter=teamsApp/id eq '{id}']
//   (userteamwork-list-installedapps): teamsApp only when expanded;
// - GET /users/{id}/teamwork/installedApps/{installationId}/chat (userscopeteamsappinstallation-get-chat):
//   the oneOnOne chat; 404 for an unknown installation.
// What Graph says in error bodies for these calls is not documented word for word: codes and
// messages here follow Graph's general shape (NotFound, Conflict, BadRequest).

import { randomUUID } from 'node:crypto';
import { GraphFault, type Json } from './graphFakeDirectory';

export interface FakeTeamsApp {
  /** The catalog id (teamsApp id), not the manifest id. */
  id: string;
  /** The manifest id. */
  externalId: string;
  displayName: string;
  distributionMethod: 'organization' | 'store' | 'sideloaded';
}

export interface FakeInstallation {
  id: string;
  userId: string;
  teamsAppId: string;
  chatId: string;
}

export class FakeTeams {
  readonly catalog = new Map<string, FakeTeamsApp>();
  readonly installations: FakeInstallation[] = [];

  /** Publishes an app to the tenant's catalog. */
  publish(app: Partial<FakeTeamsApp> & { id: string }): FakeTeamsApp {
    const full: FakeTeamsApp = { externalId: randomUUID(), displayName: 'Access Packages', distributionMethod: 'organization', ...app };
    this.catalog.set(full.id, full);
    return full;
  }

  /** Installs directly, as a user opening the app (or a setup policy) would. */
  installFor(userId: string, teamsAppId: string): FakeInstallation {
    const existing = this.installationOf(userId, teamsAppId);
    if (existing) return existing;
    // Installation ids are opaque base64 strings in Graph; chat ids look like 19:...@unq.gbl.spaces.
    const installation = {
      id: Buffer.from(`${userId}##${teamsAppId}`).toString('base64'),
      userId,
      teamsAppId,
      chatId: `19:${userId}_${teamsAppId}@unq.gbl.spaces`,
    };
    this.installations.push(installation);
    return installation;
  }

  installationOf(userId: string, teamsAppId: string): FakeInstallation | undefined {
    return this.installations.find((i) => i.userId === userId && i.teamsAppId === teamsAppId);
  }

  // -------------------------------------------------------------------------------------
  // Graph's answers (the user is known to exist by then)

  /** POST /users/{id}/teamwork/installedApps. */
  install(userId: string, body: unknown, graphEndpoint: string): void {
    const bind = isJson(body) ? body['teamsApp@odata.bind'] : undefined;
    const prefix = `${graphEndpoint}/v1.0/appCatalogs/teamsApps/`;
    if (typeof bind !== 'string' || !bind.startsWith(prefix) || bind.length === prefix.length) {
      throw new GraphFault(400, 'BadRequest', `Invalid bind property name or value: 'teamsApp@odata.bind'.`);
    }
    const teamsAppId = decodeURIComponent(bind.slice(prefix.length));
    if (!this.catalog.has(teamsAppId)) throw new GraphFault(404, 'NotFound', `The app '${teamsAppId}' was not found in the app catalog.`);
    if (this.installationOf(userId, teamsAppId)) throw new GraphFault(409, 'Conflict', 'The app is already installed for this user.');
    this.installFor(userId, teamsAppId);
  }

  /** GET /users/{id}/teamwork/installedApps with $expand=teamsApp and $filter=teamsApp/id eq '...'. */
  list(userId: string, query: Record<string, string>): Json {
    let installations = this.installations.filter((i) => i.userId === userId);
    const filter = query.$filter;
    if (filter !== undefined) {
      const match = /^teamsApp\/id eq '((?:[^']|'')*)'$/.exec(filter.trim());
      if (!match) throw new GraphFault(400, 'BadRequest', `Invalid filter clause: ${filter}`);
      const wanted = (match[1] ?? '').replace(/''/g, "'");
      installations = installations.filter((i) => i.teamsAppId === wanted);
    }
    const expand = (query.$expand ?? '').split(',').map((s) => s.trim());
    return {
      value: installations.map((i) => ({
        id: i.id,
        ...(expand.includes('teamsApp') ? { teamsApp: this.catalog.get(i.teamsAppId) ?? null } : {}),
      })),
    };
  }

  /** GET /users/{id}/teamwork/installedApps/{installationId}/chat. */
  chat(userId: string, installationId: string): Json {
    const installation = this.installations.find((i) => i.userId === userId && i.id === installationId);
    if (!installation) throw new GraphFault(404, 'NotFound', `Installation '${installationId}' was not found for the user.`);
    return { id: installation.chatId, topic: null, chatType: 'oneOnOne', createdDateTime: new Date().toISOString(), webUrl: null };
  }
}

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
