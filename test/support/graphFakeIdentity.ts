// The fake Entra sign-in endpoints of the in-memory Graph (inMemoryGraph.ts), enough for
// @azure/identity's ClientSecretCredential and ClientCertificateCredential to work offline:
// - GET  {authorityHost}/{tenant}/v2.0/.well-known/openid-configuration (MSAL reads the token
//   endpoint from it; instance discovery is off because AZURE_AUTHORITY_HOST goes with
//   disableInstanceDiscovery: true),
// - POST {authorityHost}/{tenant}/oauth2/v2.0/token, OAuth 2.0 client credentials grant, with
//   Entra's error shape {error, error_description: "AADSTS...", error_codes, ...}.
// It issues JWT-looking access tokens and remembers them, so the Graph side can insist on a
// genuine "Authorization: Bearer" on every call.

import { randomUUID } from 'node:crypto';

export interface FakeApp {
  clientId: string;
  /** The secret ClientSecretCredential must send; absent for an app that signs in with a certificate. */
  clientSecret?: string;
}

export interface IdentityAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface TokenRequestRecord {
  tenant: string;
  clientId: string;
  scope: string;
  grant: 'secret' | 'certificate' | 'other';
}

export class FakeIdentity {
  readonly issued = new Set<string>();
  readonly requests: TokenRequestRecord[] = [];

  constructor(
    readonly authorityHost: string,
    readonly tenantId: string,
    readonly graphEndpoint: string,
    readonly apps: FakeApp[],
  ) {}

  openIdConfiguration(tenant: string): IdentityAnswer {
    if (tenant !== this.tenantId) return tenantNotFound(tenant);
    const base = `${this.authorityHost}/${tenant}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${this.graphEndpoint}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'EU',
        cloud_instance_name: new URL(this.authorityHost).hostname,
        cloud_graph_host_name: new URL(this.graphEndpoint).hostname,
        msgraph_host: new URL(this.graphEndpoint).hostname,
        rbac_url: 'https://pas.windows.net',
      },
    };
  }

  token(tenant: string, form: URLSearchParams): IdentityAnswer {
    if (tenant !== this.tenantId) return tenantNotFound(tenant);
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    const assertionType = form.get('client_assertion_type');
    const grant = form.has('client_secret') ? 'secret' : assertionType === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' ? 'certificate' : 'other';
    this.requests.push({ tenant, clientId, scope, grant });

    if (form.get('grant_type') !== 'client_credentials') {
      return entraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    const app = this.apps.find((a) => a.clientId === clientId);
    if (!app) {
      return entraError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
    }
    if (grant === 'secret' && form.get('client_secret') !== app.clientSecret) {
      return entraError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    }
    if (grant === 'certificate' && !isJwt(form.get('client_assertion') ?? '')) {
      return entraError(401, 'invalid_client', 700027, 'The certificate with identifier used to sign the client assertion is not registered on application.');
    }
    if (grant === 'other') return entraError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    // Client credentials take exactly one scope: the resource's "/.default".
    const expected = `${this.graphEndpoint}/.default`;
    if (scope.split(' ').filter(Boolean).join(' ') !== expected) {
      return entraError(400, 'invalid_resource', 500011, `The resource principal named ${scope.replace(/\/\.default$/, '')} was not found in the tenant named ${tenant}.`);
    }
    const token = fakeJwt({ aud: this.graphEndpoint, iss: `https://sts.test/${tenant}/`, tid: tenant, appid: clientId, roles: ['GroupMember.ReadWrite.All'] });
    this.issued.add(token);
    return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
  }
}

function tenantNotFound(tenant: string): IdentityAnswer {
  return entraError(400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
}

function entraError(status: number, error: string, code: number, description: string): IdentityAnswer {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: traceId,
      correlation_id: correlationId,
    },
  };
}

function fakeJwt(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return [encode({ typ: 'JWT', alg: 'RS256', kid: 'fake' }), encode({ ...claims, iat: now, nbf: now, exp: now + 3600, uti: randomUUID() }), 'fake-signature'].join('.');
}

function isJwt(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(value);
}
