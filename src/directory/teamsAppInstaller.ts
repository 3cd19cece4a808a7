// Installs this Teams app for a user through Microsoft Graph, so the bot can message someone who
// never opened it (an approver, typically), and finds the 1:1 chat between that user and the bot.
// learn.microsoft.com/microsoftteams/platform/graph-api/proactive-bots-and-messages/graph-proactive-bots-and-messages
//
// Calls (learn.microsoft.com/graph/api/...), all covered by the application permission
// TeamsAppInstallation.ReadWriteSelfForUser.All ("a Teams app may read, install, upgrade and
// uninstall itself for any user"): the app must be published to the tenant's app catalog, and the
// Graph app (AZURE_CLIENT_ID) must be the Entra app of the manifest's webApplicationInfo.id:
// - POST /users/{id}/teamwork/installedApps {"teamsApp@odata.bind": "{graph}/v1.0/appCatalogs/teamsApps/{catalogId}"}
//   201, no body (userteamwork-post-installedapps); 409 when it is already installed: success;
// - GET /users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '{catalogId}'
//   the installation's id (userteamwork-list-installedapps);
// - GET /users/{id}/teamwork/installedApps/{installationId}/chat → the chat's id
//   (userscopeteamsappinstallation-get-chat).
// When Graph refuses (no permission, app not in the catalog) the answer is a typed refusal with
// the documented fallback: the user opens the app once, or an admin pre-installs it for them with
// a Teams app setup policy. Throttling and outages come back as retryable refusals: the caller's
// outbox owns waiting, as for directory writes (graphClient.ts).
//
// Used by the notifier (src/bot/notifier.ts) when PROACTIVE_INSTALL is on, for people it has no chat with.

import type { TokenCredential } from '@azure/identity';
import type { Client } from '@microsoft/microsoft-graph-client';
import { z } from 'zod';
import type { GraphConfig } from '../config';
import { createCredential, createGraphClient, GRAPH_VERSION } from './graphClient';
import { failureOf, type GraphFailure, toDirectoryError } from './graphErrors';
import { DirectoryError } from './port';

export const INSTALL_PERMISSION = 'TeamsAppInstallation.ReadWriteSelfForUser.All';

/** What an admin can do when the bot may not install itself (DESIGN: the documented fallback). */
export const INSTALL_FALLBACK =
  'the user must open Access Packages in Teams once, or an admin pre-installs it for them with a Teams app setup policy (Teams admin center → Teams apps → Setup policies → Installed apps)';

export type InstallRefusalReason =
  /** The app may not install itself: permission missing or not consented. */
  | 'forbidden'
  /** The app is not in the tenant's app catalog (wrong TEAMS_APP_CATALOG_ID, or not published). */
  | 'notFound'
  /** No such user in the directory. */
  | 'userNotFound'
  /** Graph throttled the call: retry after retryAfterMs. */
  | 'throttled'
  /** Graph failed or the installation is not visible yet: retry later. */
  | 'unavailable'
  /** Graph rejected the request itself. */
  | 'invalid';

export type InstallResult =
  | {
      ok: true;
      /** The 1:1 chat between the user and the bot: a conversation id for proactive messages. */
      chatId: string;
      installationId: string;
      /** False when the app was already installed (Graph's 409, or found in the listing). */
      newlyInstalled: boolean;
    }
  | {
      ok: false;
      reason: InstallRefusalReason;
      /** For logs and admin notices: what failed and what to do. */
      message: string;
      retryable: boolean;
      retryAfterMs?: number;
    };

export interface TeamsAppInstallerOptions {
  /** Defaults to the credential the configuration describes (graphClient.ts). */
  credential?: TokenCredential;
  /** A Graph call that has not answered by then fails as `unavailable`. */
  requestTimeoutMs?: number;
}

const installationsSchema = z.object({ value: z.array(z.object({ id: z.string() })) });
const chatSchema = z.object({ id: z.string() });

export class TeamsAppInstaller {
  private readonly timeoutMs: number;

  constructor(
    private readonly client: Client,
    /** Graph's root, e.g. https://graph.microsoft.com: the catalog reference is built on it. */
    private readonly endpoint: string,
    /** The app's id in the tenant's app catalog (teamsApp id), not the manifest's id. */
    private readonly catalogId: string,
    options: Omit<TeamsAppInstallerOptions, 'credential'> = {},
  ) {
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  static fromConfig(config: GraphConfig, catalogId: string, options: TeamsAppInstallerOptions = {}): TeamsAppInstaller {
    const credential = options.credential ?? createCredential(config);
    return new TeamsAppInstaller(createGraphClient(credential, config.endpoint), config.endpoint, catalogId, options);
  }

  /** Installs the app for `userId` (object id or UPN) unless it is there already, and returns the chat. */
  async installFor(userId: string): Promise<InstallResult> {
    const user = encodeURIComponent(userId);
    const context = { action: `install the Teams app '${this.catalogId}' for user '${userId}'`, permission: INSTALL_PERMISSION };
    let newlyInstalled = true;
    try {
      await this.api(`/users/${user}/teamwork/installedApps`).post({
        'teamsApp@odata.bind': `${this.endpoint}/${GRAPH_VERSION}/appCatalogs/teamsApps/${encodeURIComponent(this.catalogId)}`,
      });
    } catch (error) {
      const failure = failureOf(error);
      if (!(failure instanceof DirectoryError) && failure.status === 409) newlyInstalled = false;
      else return this.refusal(failure, context, userId);
    }

    const readContext = { action: `read the Teams app installation of user '${userId}'`, permission: INSTALL_PERMISSION };
    let installationId: string | undefined;
    try {
      const filter = `teamsApp/id eq '${this.catalogId.replace(/'/g, "''")}'`;
      const listing = installationsSchema.parse(await this.api(`/users/${user}/teamwork/installedApps?$expand=teamsApp&$filter=${encodeURIComponent(filter)}`).get());
      installationId = listing.value[0]?.id;
    } catch (error) {
      return this.refusal(error instanceof z.ZodError ? unexpected(readContext.action) : failureOf(error), readContext, userId);
    }
    // Just installed (or said to be) but not listed: Graph has not caught up yet.
    if (installationId === undefined) {
      return refuse('unavailable', `Graph accepted the installation for user '${userId}' but does not list it yet; try again shortly`, true);
    }

    const chatContext = { action: `read the chat of user '${userId}' with the bot`, permission: INSTALL_PERMISSION };
    try {
      const chat = chatSchema.parse(await this.api(`/users/${user}/teamwork/installedApps/${encodeURIComponent(installationId)}/chat`).get());
      return { ok: true, chatId: chat.id, installationId, newlyInstalled };
    } catch (error) {
      const failure = error instanceof z.ZodError ? unexpected(chatContext.action) : failureOf(error);
      // The installation exists, so a missing chat is one Teams has not created yet.
      if (!(failure instanceof DirectoryError) && failure.status === 404) {
        return refuse('unavailable', `the app is installed for user '${userId}' but its chat is not ready yet; try again shortly`, true);
      }
      return this.refusal(failure, chatContext, userId);
    }
  }

  // -------------------------------------------------------------------------------------

  private api(path: string) {
    return this.client.api(path).option('signal', AbortSignal.timeout(this.timeoutMs));
  }

  /** A failed call as a refusal; a 404 is told apart (user or app) by looking the user up. */
  private async refusal(failure: GraphFailure | DirectoryError, context: { action: string; permission: string }, userId: string): Promise<InstallResult> {
    if (!(failure instanceof DirectoryError) && failure.status === 404) {
      const userExists = await this.userExists(userId);
      if (userExists === false) return refuse('userNotFound', `cannot ${context.action}: user '${userId}' does not exist`, false);
      if (userExists === true) {
        return refuse(
          'notFound',
          `cannot ${context.action}: the app '${this.catalogId}' is not in the tenant's app catalog (check TEAMS_APP_CATALOG_ID and that the app is published to the organisation); meanwhile ${INSTALL_FALLBACK}`,
          false,
        );
      }
    }
    const mapped = toDirectoryError(failure, context);
    switch (mapped.kind) {
      case 'forbidden':
        // The permission only lets an app install itself: the Teams app must name this Entra app.
        return refuse('forbidden', `${mapped.message} (and the manifest's webApplicationInfo.id must be this app's client id, AZURE_CLIENT_ID); until then, ${INSTALL_FALLBACK}`, false);
      case 'throttled':
        return refuse('throttled', mapped.message, true, mapped.retryAfterMs);
      case 'unavailable':
        return refuse('unavailable', mapped.message, true, mapped.retryAfterMs);
      case 'notFound':
        return refuse('notFound', `${mapped.message}; meanwhile ${INSTALL_FALLBACK}`, false);
      case 'invalid':
        return refuse('invalid', mapped.message, false);
    }
  }

  /** Whether the user exists; undefined when Graph cannot say (then the 404 is reported as it is). */
  private async userExists(userId: string): Promise<boolean | undefined> {
    try {
      await this.api(`/users/${encodeURIComponent(userId)}?$select=id`).get();
      return true;
    } catch (error) {
      const failure = failureOf(error);
      if (!(failure instanceof DirectoryError) && failure.status === 404) return false;
      return undefined;
    }
  }
}

function refuse(reason: InstallRefusalReason, message: string, retryable: boolean, retryAfterMs?: number): InstallResult {
  return retryAfterMs === undefined ? { ok: false, reason, message, retryable } : { ok: false, reason, message, retryable, retryAfterMs };
}

/** A body Graph should not have sent: a service fault, worth a later retry. */
function unexpected(action: string): GraphFailure {
  return { status: 502, message: `Graph answered with an unexpected body while trying to ${action}` };
}
