// Builds the Microsoft Graph client the Graph directory talks through: an @azure/identity
// credential behind the SDK's TokenCredentialAuthenticationProvider, on a middleware chain
// without the SDK's RetryHandler.
//
// Why no RetryHandler: by default it retries 429/503/504 up to 3 times, sleeping Retry-After
// (up to 180 s) inside the call. Delivery runs from a durable outbox that owns retries and
// pacing (DESIGN.md §6), so a throttled call must come back at once as
// DirectoryError('throttled', retryAfterMs) instead of holding a task's lease while it sleeps.
//
// National clouds (verified against @azure/identity 4.13 and graph-client 3.0.7):
// - AZURE_AUTHORITY_HOST is passed as `authorityHost` with `disableInstanceDiscovery: true`:
//   instance discovery only knows Microsoft's public hosts.
// - GRAPH_ENDPOINT is the client's baseUrl, and its hostname (without port) is listed in
//   `customHosts`: the SDK only attaches the Authorization header to graph.microsoft.com and
//   its known national hosts unless told otherwise.
// - The token scope is `${GRAPH_ENDPOINT}/.default`.
// A private CA (a proxy, a sovereign cloud's own chain) is trusted through Node's standard
// NODE_EXTRA_CA_CERTS environment variable, read at process start; nothing here.

import {
  AuthenticationError,
  AuthenticationRequiredError,
  ClientCertificateCredential,
  ClientSecretCredential,
  CredentialUnavailableError,
  ManagedIdentityCredential,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import {
  AuthenticationHandler,
  Client,
  GraphClientError,
  HTTPMessageHandler,
  RedirectHandler,
  RedirectHandlerOptions,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import type { GraphConfig } from '../config';
import { DirectoryError } from './port';

export const GRAPH_VERSION = 'v1.0';

/** The credential GraphConfig describes. */
export function createCredential(config: GraphConfig): TokenCredential {
  const cloud = config.authorityHost ? { authorityHost: config.authorityHost, disableInstanceDiscovery: true } : {};
  const auth = config.auth;
  switch (auth.kind) {
    case 'clientSecret':
      return new ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret.reveal(), cloud);
    case 'clientCertificate':
      return new ClientCertificateCredential(auth.tenantId, auth.clientId, { certificatePath: auth.certificatePath }, cloud);
    case 'managedIdentity':
      // A managed identity gets its token from the host (IMDS, App Service), not from AZURE_AUTHORITY_HOST.
      return auth.clientId ? new ManagedIdentityCredential({ clientId: auth.clientId }) : new ManagedIdentityCredential();
  }
}

/** A Graph client for `endpoint` (e.g. https://graph.microsoft.com) that signs in with `credential`. */
export function createGraphClient(credential: TokenCredential, endpoint: string): Client {
  const authProvider = new TokenCredentialAuthenticationProvider(new ClassifyingCredential(credential), { scopes: [`${endpoint}/.default`] });
  return Client.initWithMiddleware({
    baseUrl: endpoint,
    defaultVersion: GRAPH_VERSION,
    customHosts: new Set([new URL(endpoint).hostname]),
    // The SDK's default chain minus RetryHandler (see the top of this file).
    middleware: [new AuthenticationHandler(authProvider), new RedirectHandler(new RedirectHandlerOptions()), new TelemetryHandler(), new HTTPMessageHandler()],
  });
}

/**
 * Classifies token failures where they happen. The SDK wraps anything thrown in its chain into a
 * GraphError that keeps only the name and message, except a GraphClientError, which it rethrows
 * as it is: so the classified DirectoryError travels as a GraphClientError's customError.
 */
class ClassifyingCredential implements TokenCredential {
  constructor(private readonly inner: TokenCredential) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    try {
      return await this.inner.getToken(scopes, options);
    } catch (error) {
      const wrapped = new GraphClientError((error as Error).message);
      wrapped.customError = classifyCredentialError(error);
      throw wrapped;
    }
  }
}

/**
 * OAuth errors Entra answers for a configuration that cannot work (RFC 6749 §5.2 plus Entra's
 * invalid_resource/invalid_tenant): a wrong secret, an unknown app, tenant or resource.
 * temporarily_unavailable and server_error are not among them: those may pass.
 */
const CONFIGURATION_ERRORS = /^(invalid_client|unauthorized_client|invalid_grant|invalid_request|invalid_scope|invalid_resource|invalid_tenant|unsupported_grant_type)\b/;

/**
 * A token refused for a configuration reason is `forbidden` (retrying cannot help); the rest may
 * pass. @azure/identity 4.13 reports Entra's OAuth errors from the confidential client flows as
 * AuthenticationRequiredError with a message starting with the OAuth error code, and HTTP-level
 * refusals as AuthenticationError with a statusCode.
 */
export function classifyCredentialError(error: unknown): DirectoryError {
  const message = firstLine(error instanceof Error ? error.message : String(error));
  const refusedStatus = error instanceof AuthenticationError && error.statusCode >= 400 && error.statusCode < 500 && error.statusCode !== 429 && error.statusCode !== 408;
  if (refusedStatus || (error instanceof AuthenticationRequiredError && CONFIGURATION_ERRORS.test(message))) {
    return new DirectoryError('forbidden', `could not get a Microsoft Graph token (check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or certificate): ${message}`);
  }
  if (error instanceof CredentialUnavailableError) {
    return new DirectoryError('unavailable', `no Microsoft Graph token: the credential is unavailable here: ${message}`);
  }
  return new DirectoryError('unavailable', `could not get a Microsoft Graph token: ${message}`);
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}
