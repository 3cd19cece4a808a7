import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

const cwd = '/srv/bot';

describe('loadConfig', () => {
  it('runs on embedded defaults with no configuration at all', () => {
    const config = loadConfig({}, cwd);
    expect(config).toMatchObject({
      port: 3978,
      dataDir: path.join(cwd, 'data'),
      catalogFile: path.join(cwd, 'examples/catalog.yaml'),
      localDirectoryFile: path.join(cwd, 'examples/directory.yaml'),
      bot: { appId: '', appType: 'MultiTenant' },
      adminUserIds: [],
      schedulerIntervalMs: 15000,
      logLevel: 'info',
      approvalReminderPercent: 50,
      // Privileged Entra roles are refused unless an operator says otherwise.
      delivery: { allowPrivilegedRoles: false },
    });
    expect(config.mongodbUri).toBeUndefined();
    expect(config.tenantId).toBeUndefined();
  });

  it('reads every setting', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        DATA_DIR: '/var/lib/ap',
        MONGODB_URI: 'mongodb://db:27017/ap',
        CATALOG_FILE: 'conf/catalog.yaml',
        LOCAL_DIRECTORY_FILE: 'conf/dir.yaml',
        TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        MicrosoftAppId: '11111111-2222-3333-4444-555555555555',
        MicrosoftAppPassword: 's3cret',
        MicrosoftAppType: 'singletenant',
        MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        ADMIN_GROUP_ID: 'grp-it-admins',
        ADMIN_USER_IDS: ' u-1, u-2 ,',
        SCHEDULER_INTERVAL_MS: '500',
        LOG_LEVEL: 'debug',
        ALLOW_PRIVILEGED_ROLES: 'TRUE',
      },
      cwd,
    );
    expect(config).toMatchObject({
      port: 8080,
      dataDir: '/var/lib/ap',
      mongodbUri: 'mongodb://db:27017/ap',
      catalogFile: path.join(cwd, 'conf/catalog.yaml'),
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      bot: { appId: '11111111-2222-3333-4444-555555555555', appPassword: 's3cret', appType: 'SingleTenant' },
      adminGroupId: 'grp-it-admins',
      adminUserIds: ['u-1', 'u-2'],
      schedulerIntervalMs: 500,
      logLevel: 'debug',
      delivery: { allowPrivilegedRoles: true },
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'Configuration error: PORT must be an integer from 1 to 65535 (got "abc")'],
    [{ PORT: '70000' }, 'Configuration error: PORT must be an integer from 1 to 65535 (got "70000")'],
    [{ SCHEDULER_INTERVAL_MS: '10' }, 'Configuration error: SCHEDULER_INTERVAL_MS must be an integer from 100 to 3600000 (got "10")'],
    [{ APPROVAL_REMINDER_PERCENT: '100' }, 'Configuration error: APPROVAL_REMINDER_PERCENT must be an integer from 1 to 99 (got "100")'],
    [{ TASK_CONCURRENCY_ACCESS: '0' }, 'Configuration error: TASK_CONCURRENCY_ACCESS must be an integer from 1 to 64 (got "0")'],
    [{ TASK_CONCURRENCY_MESSAGES: 'many' }, 'Configuration error: TASK_CONCURRENCY_MESSAGES must be an integer from 1 to 64 (got "many")'],
    [{ TASK_LEASE_MS: '500' }, 'Configuration error: TASK_LEASE_MS must be an integer from 1000 to 3600000 (got "500")'],
    [{ TASK_MAX_PACING_WAIT_MS: '60000' }, 'Configuration error: TASK_MAX_PACING_WAIT_MS must be an integer from 0 to 10000 (got "60000")'],
    [{ LOG_LEVEL: 'loud' }, 'Configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [{ MicrosoftAppType: 'Single' }, 'Configuration error: MicrosoftAppType must be one of MultiTenant, SingleTenant, UserAssignedMSI (got "Single")'],
    [{ MicrosoftAppId: 'not-a-guid' }, /MicrosoftAppId must be the bot's app \(client\) id, a GUID/],
    [{ MicrosoftAppId: '11111111-2222-3333-4444-555555555555' }, 'Configuration error: MicrosoftAppPassword must be set when MicrosoftAppId is set and MicrosoftAppType is MultiTenant'],
    [
      { MicrosoftAppId: '11111111-2222-3333-4444-555555555555', MicrosoftAppPassword: 'x', MicrosoftAppType: 'SingleTenant' },
      "Configuration error: MicrosoftAppTenantId must be set (the bot's tenant GUID) when MicrosoftAppType is SingleTenant",
    ],
    [{ MicrosoftAppTenantId: 'contoso' }, /MicrosoftAppTenantId must be a GUID/],
    [{ TENANT_ID: 'two words' }, /TENANT_ID must be a single id without spaces/],
    [{ ADMIN_USER_IDS: 'u-1, two words' }, /ADMIN_USER_IDS must be a comma-separated list of object ids/],
    [{ ALLOW_PRIVILEGED_ROLES: 'yes' }, 'Configuration error: ALLOW_PRIVILEGED_ROLES must be true or false (got "yes")'],
  ])('refuses %j with one clear line', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env, cwd);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    expect(text.split('\n')).toHaveLength(1);
    if (typeof message === 'string') expect(text).toBe(message);
    else expect(text).toMatch(message);
  });

  it('never echoes a MongoDB connection string, which may hold a password', () => {
    expect(() => loadConfig({ MONGODB_URI: 'postgres://admin:hunter2@db' }, cwd)).toThrow(
      'Configuration error: MONGODB_URI must be a MongoDB connection string starting with mongodb:// or mongodb+srv://',
    );
    try {
      loadConfig({ MONGODB_URI: 'postgres://admin:hunter2@db' }, cwd);
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('a user-assigned managed identity needs no password', () => {
    const config = loadConfig(
      { MicrosoftAppId: '11111111-2222-3333-4444-555555555555', MicrosoftAppType: 'UserAssignedMSI', MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
      cwd,
    );
    expect(config.bot).toEqual({ appId: '11111111-2222-3333-4444-555555555555', appPassword: undefined, appType: 'UserAssignedMSI', appTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' });
  });
});

// Microsoft Graph settings (DESIGN.md §5): present only when credentials are configured.
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '11111111-2222-3333-4444-555555555555';

it('reads the outbox settings: workers per lane, lease, pacing wait (defaults: 4, 2, 8, 1; 30 s; 250 ms)', () => {
  const cwd = process.cwd();
  expect(loadConfig({}, cwd).tasks).toEqual({ concurrency: { access: 4, approvals: 2, messages: 8, housekeeping: 1 }, leaseMs: 30_000, maxPacingWaitMs: 250 });
  const set = loadConfig({ TASK_CONCURRENCY_ACCESS: '8', TASK_CONCURRENCY_APPROVALS: '3', TASK_CONCURRENCY_MESSAGES: '16', TASK_CONCURRENCY_HOUSEKEEPING: '2', TASK_LEASE_MS: '3000', TASK_MAX_PACING_WAIT_MS: '0' }, cwd);
  expect(set.tasks).toEqual({ concurrency: { access: 8, approvals: 3, messages: 16, housekeeping: 2 }, leaseMs: 3_000, maxPacingWaitMs: 0 });
});

it('has no Graph section without Graph credentials (local directory)', () => {
  expect(loadConfig({}, cwd).graph).toBeUndefined();
});

it('reads a client secret credential for the public cloud by default', () => {
  const graph = loadConfig({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 'hunter2' }, cwd).graph;
  expect(graph).toMatchObject({ endpoint: 'https://graph.microsoft.com', auth: { kind: 'clientSecret', tenantId: TENANT, clientId: CLIENT } });
  expect(graph?.authorityHost).toBeUndefined();
  expect(graph?.auth.kind === 'clientSecret' && graph.auth.clientSecret.reveal()).toBe('hunter2');
});

it('never shows the client secret when the configuration is serialized or printed', () => {
  const config = loadConfig({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 'hunter2' }, cwd);
  // pino serializes with JSON: the secret prints as [redacted] at any depth, whatever the redact paths.
  expect(JSON.stringify(config)).not.toContain('hunter2');
  expect(JSON.stringify(config)).toContain('"clientSecret":"[redacted]"');
  expect(`${config.graph?.auth.kind === 'clientSecret' ? config.graph.auth.clientSecret : ''}`).toBe('[redacted]');
});

it('reads a certificate credential, the path relative to the working directory', () => {
  const graph = loadConfig({ AZURE_TENANT_ID: 'contoso.onmicrosoft.com', AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_CERTIFICATE_PATH: 'secrets/app.pem' }, cwd).graph;
  expect(graph?.auth).toEqual({ kind: 'clientCertificate', tenantId: 'contoso.onmicrosoft.com', clientId: CLIENT, certificatePath: path.join(cwd, 'secrets/app.pem') });
});

it('reads a managed identity, system-assigned or user-assigned', () => {
  expect(loadConfig({ AZURE_USE_MANAGED_IDENTITY: 'true' }, cwd).graph?.auth).toEqual({ kind: 'managedIdentity' });
  expect(loadConfig({ AZURE_USE_MANAGED_IDENTITY: 'TRUE', AZURE_CLIENT_ID: CLIENT }, cwd).graph?.auth).toEqual({ kind: 'managedIdentity', clientId: CLIENT });
  expect(loadConfig({ AZURE_USE_MANAGED_IDENTITY: 'false' }, cwd).graph).toBeUndefined();
});

it('reads national cloud hosts as bare https origins', () => {
  const graph = loadConfig(
    { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's', GRAPH_ENDPOINT: 'https://graph.microsoft.us/', AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us' },
    cwd,
  ).graph;
  expect(graph).toMatchObject({ endpoint: 'https://graph.microsoft.us', authorityHost: 'https://login.microsoftonline.us' });
});

it.each([
  [{ AZURE_CLIENT_ID: CLIENT }, 'Configuration error: AZURE_CLIENT_SECRET must be set (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_USE_MANAGED_IDENTITY=true) when AZURE_CLIENT_ID is set'],
  [{ AZURE_TENANT_ID: TENANT }, 'Configuration error: AZURE_CLIENT_SECRET must be set (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_USE_MANAGED_IDENTITY=true) when AZURE_TENANT_ID is set'],
  [{ GRAPH_ENDPOINT: 'https://graph.microsoft.us' }, 'Configuration error: AZURE_CLIENT_SECRET must be set (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_USE_MANAGED_IDENTITY=true) when GRAPH_ENDPOINT is set'],
  [{ AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's' }, 'Configuration error: AZURE_TENANT_ID must be set (the tenant GUID or domain) when AZURE_CLIENT_SECRET is set'],
  [{ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_SECRET: 's' }, "Configuration error: AZURE_CLIENT_ID must be set (the app registration's client id) when AZURE_CLIENT_SECRET is set"],
  [{ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_CERTIFICATE_PATH: 'app.pem' }, "Configuration error: AZURE_CLIENT_ID must be set (the app registration's client id) when AZURE_CLIENT_CERTIFICATE_PATH is set"],
  [
    { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's', AZURE_CLIENT_CERTIFICATE_PATH: 'app.pem' },
    'Configuration error: AZURE_CLIENT_CERTIFICATE_PATH must be unset when AZURE_CLIENT_SECRET is set (use one credential, not both)',
  ],
  [{ AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_CLIENT_SECRET: 's' }, 'Configuration error: AZURE_CLIENT_SECRET must be unset when AZURE_USE_MANAGED_IDENTITY is true (a managed identity has no secret)'],
  [{ AZURE_USE_MANAGED_IDENTITY: 'yes' }, 'Configuration error: AZURE_USE_MANAGED_IDENTITY must be true or false (got "yes")'],
  [{ AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_CLIENT_ID: 'my-app' }, 'Configuration error: AZURE_CLIENT_ID must be a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 (got "my-app")'],
  [{ AZURE_TENANT_ID: 'not a tenant', AZURE_CLIENT_ID: CLIENT, AZURE_CLIENT_SECRET: 's' }, 'Configuration error: AZURE_TENANT_ID must be the tenant GUID or a domain name such as contoso.onmicrosoft.com (got "not a tenant")'],
  [
    { AZURE_USE_MANAGED_IDENTITY: 'true', GRAPH_ENDPOINT: 'http://graph.microsoft.com' },
    'Configuration error: GRAPH_ENDPOINT must be an https URL with no path, such as https://graph.microsoft.com or https://graph.microsoft.us (got "http://graph.microsoft.com")',
  ],
  [
    { AZURE_USE_MANAGED_IDENTITY: 'true', GRAPH_ENDPOINT: 'https://graph.microsoft.com/v1.0' },
    'Configuration error: GRAPH_ENDPOINT must be an https URL with no path, such as https://graph.microsoft.com or https://graph.microsoft.us (got "https://graph.microsoft.com/v1.0")',
  ],
  [
    { AZURE_USE_MANAGED_IDENTITY: 'true', AZURE_AUTHORITY_HOST: 'login.microsoftonline.us' },
    'Configuration error: AZURE_AUTHORITY_HOST must be an https URL with no path, such as https://login.microsoftonline.us (got "login.microsoftonline.us")',
  ],
])('refuses a half-configured or malformed Graph setting %j with one line', (env, message) => {
  expect(() => loadConfig(env, cwd)).toThrow(message);
  try {
    loadConfig(env, cwd);
  } catch (error) {
    expect((error as Error).message).not.toContain('\n');
    // The secret is never echoed.
    expect((error as Error).message).not.toMatch(/\(got "s"\)/);
  }
});

// The HTTP endpoint (src/http/): where it listens, what it reads, whether auth off is allowed.
describe('HTTP settings', () => {
  it('defaults: 1 MB bodies, 15 s to send a request, no HOST (so loopback with auth off), auth off not forced', () => {
    expect(loadConfig({}, cwd).http).toEqual({ maxRequestBytes: 1024 * 1024, requestTimeoutMs: 15_000, allowUnauthenticated: false, production: false });
  });

  it('reads HOST, MAX_REQUEST_BYTES, REQUEST_TIMEOUT_MS, ALLOW_UNAUTHENTICATED and NODE_ENV', () => {
    const config = loadConfig({ HOST: '0.0.0.0', MAX_REQUEST_BYTES: '262144', REQUEST_TIMEOUT_MS: '5000', ALLOW_UNAUTHENTICATED: 'TRUE', NODE_ENV: 'production' }, cwd);
    expect(config.http).toEqual({ host: '0.0.0.0', maxRequestBytes: 262144, requestTimeoutMs: 5000, allowUnauthenticated: true, production: true });
    expect(loadConfig({ HOST: '::1' }, cwd).http.host).toBe('::1');
    expect(loadConfig({ HOST: 'bot-1.internal' }, cwd).http.host).toBe('bot-1.internal');
    expect(loadConfig({ NODE_ENV: 'development' }, cwd).http.production).toBe(false);
  });

  it.each([
    [{ MAX_REQUEST_BYTES: '100' }, 'Configuration error: MAX_REQUEST_BYTES must be an integer from 1024 to 16777216 (got "100")'],
    [{ MAX_REQUEST_BYTES: '1mb' }, 'Configuration error: MAX_REQUEST_BYTES must be an integer from 1024 to 16777216 (got "1mb")'],
    [{ REQUEST_TIMEOUT_MS: '10' }, 'Configuration error: REQUEST_TIMEOUT_MS must be an integer from 1000 to 300000 (got "10")'],
    [{ ALLOW_UNAUTHENTICATED: 'yes' }, 'Configuration error: ALLOW_UNAUTHENTICATED must be true or false (got "yes")'],
    [{ HOST: 'http://0.0.0.0' }, 'Configuration error: HOST must be an IP address or host name to listen on, such as 127.0.0.1 or 0.0.0.0 (got "http://0.0.0.0")'],
    [{ HOST: '0.0.0.0:3978' }, 'Configuration error: HOST must be an IP address or host name to listen on, such as 127.0.0.1 or 0.0.0.0 (got "0.0.0.0:3978")'],
  ])('refuses %j with one line', (env, message) => {
    expect(() => loadConfig(env, cwd)).toThrow(message);
  });
});
