// Proactive installation of the Teams app for a user (src/directory/teamsAppInstaller.ts), through
// the real graph-client SDK and @azure/identity against the in-memory Graph: install, already
// installed (409), permission missing (403), app not in the catalog and unknown user (404),
// throttling and outages, and the chat id read back. Plus the two settings that turn it on.

import path from 'node:path';
import { ConfigError, type GraphConfig, loadConfig, Secret } from '../../src/config';
import { loadDirectoryFile, type DirectoryFile } from '../../src/directory/directoryFile';
import { INSTALL_PERMISSION, type InstallResult, TeamsAppInstaller } from '../../src/directory/teamsAppInstaller';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'directory.yaml');
const ENDPOINT = 'https://graph.test.local';
const AUTHORITY = 'https://login.test.local';
const CATALOG_ID = '7d2c8e4a-1b3f-4c5d-9e6f-0a1b2c3d4e5f';
const NADIA = 'u-nadia';

const config: GraphConfig = {
  auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
  endpoint: ENDPOINT,
  authorityHost: AUTHORITY,
};

let file: DirectoryFile;
const graph = new InMemoryGraph(new FakeDirectory(), { graphEndpoint: ENDPOINT, authorityHost: AUTHORITY });
let installer: TeamsAppInstaller;

beforeAll(async () => {
  file = await loadDirectoryFile(EXAMPLE);
  graph.listen();
  installer = TeamsAppInstaller.fromConfig(config, CATALOG_ID);
});
afterAll(() => graph.close());
beforeEach(() => {
  graph.reset(FakeDirectory.fromFile(file));
  graph.teams.publish({ id: CATALOG_ID, externalId: '5f0e1d2c-3b4a-4968-8776-655443322110' });
});

const installationsOf = (userId: string) => graph.teams.installations.filter((i) => i.userId === userId);
const teamworkCalls = () => graph.calls.filter((c) => c.path.includes('/teamwork/'));

function refusal(result: InstallResult) {
  if (result.ok) throw new Error(`expected a refusal, got chat ${result.chatId}`);
  return result;
}

describe('installing for a user who never opened the app', () => {
  it('installs through Graph, then returns the 1:1 chat id', async () => {
    const result = await installer.installFor(NADIA);

    const installation = graph.teams.installationOf(NADIA, CATALOG_ID);
    expect(installation).toBeDefined();
    expect(result).toEqual({ ok: true, chatId: installation!.chatId, installationId: installation!.id, newlyInstalled: true });
    expect(result.ok && result.chatId).toMatch(/^19:.*@unq\.gbl\.spaces$/);

    // The three documented calls, in order, with the catalog reference on the configured endpoint.
    const calls = teamworkCalls();
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      `POST /users/${NADIA}/teamwork/installedApps 201`,
      `GET /users/${NADIA}/teamwork/installedApps 200`,
      `GET /users/${NADIA}/teamwork/installedApps/${installation!.id}/chat 200`,
    ]);
    expect(calls[0]!.body).toEqual({ 'teamsApp@odata.bind': `${ENDPOINT}/v1.0/appCatalogs/teamsApps/${CATALOG_ID}` });
    expect(decodeURIComponent(calls[1]!.query)).toBe(`$expand=teamsApp&$filter=teamsApp/id eq '${CATALOG_ID}'`);
    expect(calls.every((c) => c.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('treats 409 (already installed) as success and finds the existing chat, installing nothing twice', async () => {
    const existing = graph.teams.installFor(NADIA, CATALOG_ID);

    const result = await installer.installFor(NADIA);

    expect(result).toEqual({ ok: true, chatId: existing.chatId, installationId: existing.id, newlyInstalled: false });
    expect(teamworkCalls()[0]!.status).toBe(409);
    expect(installationsOf(NADIA)).toHaveLength(1);
  });

  it('is idempotent: a second call (another instance, a replay) gets the same chat', async () => {
    const first = await installer.installFor(NADIA);
    const second = await installer.installFor(NADIA);

    expect(first.ok && second.ok).toBe(true);
    expect(second).toEqual({ ...first, newlyInstalled: false });
    expect(installationsOf(NADIA)).toHaveLength(1);
  });

  it('accepts a user principal name as well as an object id', async () => {
    const result = await installer.installFor('nadiao@example.com');

    expect(result.ok).toBe(true);
    expect(graph.teams.installationOf(NADIA, CATALOG_ID)).toBeDefined();
  });
});

describe('refusals, each with what to do', () => {
  it('403: the permission is missing → forbidden, naming the permission and the documented fallback', async () => {
    graph.deny({ method: 'POST', path: `/users/${NADIA}/teamwork/installedApps` });

    const result = refusal(await installer.installFor(NADIA));

    expect(result.reason).toBe('forbidden');
    expect(result.retryable).toBe(false);
    expect(result.message).toContain(INSTALL_PERMISSION);
    expect(result.message).toContain('open Access Packages in Teams once');
    expect(result.message).toContain('setup polic');
    expect(installationsOf(NADIA)).toHaveLength(0);
  });

  it('403 on reading the installation back is forbidden too (a partial grant)', async () => {
    graph.deny({ method: 'GET', path: `/users/${NADIA}/teamwork/installedApps` });

    const result = refusal(await installer.installFor(NADIA));

    expect(result.reason).toBe('forbidden');
    expect(result.message).toContain(INSTALL_PERMISSION);
  });

  it('404 for an app the tenant catalog lacks → notFound, naming TEAMS_APP_CATALOG_ID', async () => {
    const wrong = TeamsAppInstaller.fromConfig(config, '00000000-1111-2222-3333-444444444444');

    const result = refusal(await wrong.installFor(NADIA));

    expect(result.reason).toBe('notFound');
    expect(result.retryable).toBe(false);
    expect(result.message).toContain('TEAMS_APP_CATALOG_ID');
    expect(result.message).toContain('open Access Packages in Teams once');
    expect(graph.teams.installations).toHaveLength(0);
  });

  it('404 for a user the directory does not know → userNotFound', async () => {
    const result = refusal(await installer.installFor('u-nobody'));

    expect(result.reason).toBe('userNotFound');
    expect(result.message).toContain("user 'u-nobody' does not exist");
    expect(graph.teams.installations).toHaveLength(0);
  });

  it('429 → throttled and retryable, with Retry-After', async () => {
    graph.throttle({ method: 'POST', path: `/users/${NADIA}/teamwork/installedApps` }, { retryAfterSeconds: 7 });

    const result = refusal(await installer.installFor(NADIA));

    expect(result).toMatchObject({ reason: 'throttled', retryable: true, retryAfterMs: 7000 });
    // Nothing was installed; the next attempt does it.
    expect(installationsOf(NADIA)).toHaveLength(0);
    expect(await installer.installFor(NADIA)).toMatchObject({ ok: true, newlyInstalled: true });
  });

  it('503 → unavailable and retryable', async () => {
    graph.fail({ method: 'GET', path: (p) => p.endsWith('/chat') });

    const result = refusal(await installer.installFor(NADIA));

    expect(result).toMatchObject({ reason: 'unavailable', retryable: true });
    // The installation stays; the retry finds it (409) and reads the chat.
    expect(await installer.installFor(NADIA)).toMatchObject({ ok: true, newlyInstalled: false });
  });

  it('an installation Graph does not list yet (replication) → unavailable, retryable', async () => {
    // The install succeeds but the listing still comes back empty.
    graph.teams.list = () => ({ value: [] });

    const result = refusal(await installer.installFor(NADIA));

    expect(result).toMatchObject({ reason: 'unavailable', retryable: true });
    expect(result.message).toContain('does not list it yet');
  });

  it('a chat Teams has not created yet (404 after the installation is found) → unavailable, retryable', async () => {
    graph.fail({ method: 'GET', path: (p) => p.endsWith('/chat') }, { status: 404, code: 'NotFound', message: 'Chat not found.' });

    const result = refusal(await installer.installFor(NADIA));

    expect(result).toMatchObject({ reason: 'unavailable', retryable: true });
    expect(result.message).toContain('chat is not ready yet');
  });
});

describe('settings', () => {
  const GRAPH_ENV = { AZURE_TENANT_ID: TEST_TENANT_ID, AZURE_CLIENT_ID: TEST_CLIENT_ID, AZURE_CLIENT_SECRET: 'x' };

  it('is off by default', () => {
    expect(loadConfig({}, '/srv').teamsApp).toEqual({ proactiveInstall: false });
  });

  it('reads TEAMS_APP_CATALOG_ID and PROACTIVE_INSTALL', () => {
    expect(loadConfig({ ...GRAPH_ENV, TEAMS_APP_CATALOG_ID: CATALOG_ID, PROACTIVE_INSTALL: 'true' }, '/srv').teamsApp).toEqual({ catalogId: CATALOG_ID, proactiveInstall: true });
    expect(loadConfig({ TEAMS_APP_CATALOG_ID: CATALOG_ID }, '/srv').teamsApp).toEqual({ catalogId: CATALOG_ID, proactiveInstall: false });
  });

  it('refuses a half-configured combination with one line naming the variable', () => {
    expect(() => loadConfig({ ...GRAPH_ENV, PROACTIVE_INSTALL: 'true' }, '/srv')).toThrow(
      new ConfigError('TEAMS_APP_CATALOG_ID', "set (the app's id in your tenant's app catalog) when PROACTIVE_INSTALL is true"),
    );
    expect(() => loadConfig({ TEAMS_APP_CATALOG_ID: CATALOG_ID, PROACTIVE_INSTALL: 'true' }, '/srv')).toThrow(/^Configuration error: PROACTIVE_INSTALL must be false unless Microsoft Graph is configured/);
    expect(() => loadConfig({ TEAMS_APP_CATALOG_ID: 'access-packages' }, '/srv')).toThrow('TEAMS_APP_CATALOG_ID must be a GUID');
    expect(() => loadConfig({ PROACTIVE_INSTALL: 'yes' }, '/srv')).toThrow('PROACTIVE_INSTALL must be true or false (got "yes")');
  });
});
