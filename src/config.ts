// Every setting the bot reads, in one place: typed, with defaults, validated at start-up.
// A bad value stops start-up with one line naming the variable and what is expected.
import { isIP } from 'node:net';
import path from 'node:path';
import { durationToMs } from './domain/duration';

export type AppType = 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  port: number;
  dataDir: string;
  mongodbUri?: string;
  /** MongoDB connection behaviour and schema migration at start-up (used when mongodbUri is set). */
  mongodb: {
    /** How long one store operation waits for a MongoDB that does not answer before it fails. */
    timeoutMs: number;
    /** Start-up builds an index over at most this many documents; a larger build needs `npm run migrate`. */
    migrateAtStartupMaxDocuments: number;
  };
  catalogFile: string;
  localDirectoryFile: string;
  /** When set, activities from any other tenant are refused. */
  tenantId?: string;
  bot: {
    appId: string;
    appPassword?: string;
    appType: AppType;
    appTenantId?: string;
  };
  adminGroupId?: string;
  adminUserIds: string[];
  schedulerIntervalMs: number;
  /** The outbox: lanes, leases, pacing waits (src/scheduler/taskRunner.ts, docs/architecture.md "Concurrency"). */
  tasks: TasksConfig;
  logLevel: LogLevel;
  notify: NotifyConfig;
  /** Undecided approvers are reminded after this percentage of a stage's decision time. */
  approvalReminderPercent: number;
  /** Microsoft Graph: present when app credentials are configured; absent means the local directory. */
  graph?: GraphConfig;
  delivery: {
    /** Directory writes per second; Graph allows about 3,000 per 150 s per app and tenant. */
    writesPerSecond: number;
    /** Attempts per resource role before it is reported failed. */
    maxAttempts: number;
    /**
     * Whether the catalog may offer, and delivery may assign, privileged Entra roles (Global
     * Administrator and the others Microsoft labels privileged). Off by default.
     */
    allowPrivilegedRoles: boolean;
  };
  lifecycle: {
    /** How long before expiry users are warned (ISO 8601 durations), largest first. */
    warningOffsets: string[];
  };
  adminNotices: {
    /** Time of day (UTC, HH:MM) the daily digest goes out. */
    digestTimeUtc: string;
    /** The digest lists assignments expiring within this many days. */
    digestDays: number;
  };
  exports: {
    /** The bot's public origin, for download links (the messaging endpoint's host). */
    publicBaseUrl: string;
    /** How long a download link works. */
    linkMinutes: number;
    /** Key that signs download links; when unset one is generated and kept in the store (shared by instances). */
    signingKey?: Secret;
  };
  /** Per-person limits (src/bot/limits.ts, docs/limits.md); 0 turns a limit off. */
  limits: {
    /** Requests (new, extension, give back) one person may send per minute. */
    requestsPerMinute: number;
    /** Messages and card actions one person may send per minute. */
    activitiesPerMinute: number;
    /** Requests one person may have open (waiting for approval, scheduled, being delivered) at once. */
    openRequests: number;
  };
  /** The HTTP endpoint as the internet sees it (src/http/). */
  http: HttpConfig;
  /** The Teams app in the tenant (proactive installation, src/directory/teamsAppInstaller.ts). */
  teamsApp: {
    /** The app's id in the tenant's app catalog (teamsApp id; not the manifest id for org apps). */
    catalogId?: string;
    /** Install the app for users the bot must reach who never opened it (needs Graph and catalogId). */
    proactiveInstall: boolean;
  };
}

/** How the outbox runs its work. */
export interface TasksConfig {
  /** Tasks of each lane running at once on this instance. */
  concurrency: { access: number; approvals: number; messages: number; housekeeping: number };
  /** How long a claim holds a task or an expiry check; renewed every third of it while it runs. */
  leaseMs: number;
  /** The longest pacing wait (Graph's write quota, Teams' limits) a task takes while holding its worker. */
  maxPacingWaitMs: number;
}

/** The HTTP endpoint: where it listens, what it accepts, and whether it may run without auth. */
export interface HttpConfig {
  /** HOST: the interface to listen on; unset = loopback with auth off, all interfaces with auth on. */
  host?: string;
  /** MAX_REQUEST_BYTES: largest body /api/messages reads (413 above). */
  maxRequestBytes: number;
  /** REQUEST_TIMEOUT_MS: time a client has to send a request's headers and body (408 after). */
  requestTimeoutMs: number;
  /** ALLOW_UNAUTHENTICATED: run with auth off where the startup checks would refuse (production, another interface). */
  allowUnauthenticated: boolean;
  /** NODE_ENV is production: auth off is refused unless allowUnauthenticated. */
  production: boolean;
}

/** Proactive messages (the notifier). */
export interface NotifyConfig {
  /** Where to open a chat with a user when no conversation reference is stored at all. */
  serviceUrl: string;
  /** Calls per second to the connector, across all conversations. */
  ratePerSecond: number;
  /** Calls per second into one conversation. */
  ratePerConversationPerSecond: number;
  /** Attempts at a message before its task fails (throttling and transient errors). */
  maxAttempts: number;
}

/**
 * How the bot signs in to Microsoft Graph (DESIGN.md §5): a client secret, a certificate, or a
 * managed identity (system-assigned, or user-assigned when clientId is set).
 */
export type GraphAuth =
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: Secret }
  | { kind: 'clientCertificate'; tenantId: string; clientId: string; certificatePath: string }
  | { kind: 'managedIdentity'; clientId?: string };

export interface GraphConfig {
  auth: GraphAuth;
  /** Graph's root with no path, e.g. https://graph.microsoft.com or a national cloud's https://graph.microsoft.us. */
  endpoint: string;
  /** Entra's sign-in host for national clouds, e.g. https://login.microsoftonline.us; the public cloud's when absent. */
  authorityHost?: string;
}

/**
 * A secret that prints as [redacted] in JSON (so in pino logs, at any depth, whatever the
 * redact paths), in util.inspect and in string conversion. Only reveal() gives the value.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}

/** Teams' public global endpoint for proactive messages when no serviceUrl has been seen yet. */
export const TEAMS_PUBLIC_SERVICE_URL = 'https://smba.trafficmanager.net/teams/';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly got?: string,
  ) {
    super(`Configuration error: ${variable} must be ${expected}${got === undefined ? '' : ` (got "${got}")`}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

// Each reader names its variable and what it expects, so errors are specific.
function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return value;
}

/** A per-person limit: a count, or 0 for no limit. */
function limit(env: Env, name: string, fallback: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value > 1_000_000) {
    throw new ConfigError(name, 'a whole number from 0 (no limit) to 1000000', raw);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const match = allowed.find((a) => a.toLowerCase() === raw.toLowerCase());
  if (!match) throw new ConfigError(name, `one of ${allowed.join(', ')}`, raw);
  return match;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function guid(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !GUID.test(raw)) throw new ConfigError(name, 'a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47', raw);
  return raw;
}

function token(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && /\s/.test(raw)) throw new ConfigError(name, 'a single id without spaces', raw);
  return raw;
}

function mongoUri(env: Env): string | undefined {
  const raw = text(env, 'MONGODB_URI');
  if (raw !== undefined && !/^mongodb(\+srv)?:\/\/.+/.test(raw)) {
    // The value may hold a password: never echo it.
    throw new ConfigError('MONGODB_URI', 'a MongoDB connection string starting with mongodb:// or mongodb+srv://');
  }
  return raw;
}

function idList(env: Env, name: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = ids.find((id) => /\s/.test(id));
  if (bad) throw new ConfigError(name, 'a comma-separated list of object ids', raw);
  return ids;
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new ConfigError(name, 'an http(s) URL such as https://smba.trafficmanager.net/teams/', raw);
  return raw;
}

/** An https origin (scheme, host, optional port, no path): Graph and Entra hosts are appended to. */
function httpsOrigin(env: Env, name: string, example: string): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  const pathless = url !== undefined && (url.pathname === '/' || url.pathname === '') && !url.search && !url.hash && !url.username;
  if (!url || url.protocol !== 'https:' || !pathless) throw new ConfigError(name, `an https URL with no path, such as ${example}`, raw);
  return url.origin;
}

/** A comma-separated list of ISO 8601 durations, returned largest first without repeats. */
function durationList(env: Env, name: string, fallback: string[]): string[] {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const items = raw.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = items.find((item) => { const ms = durationToMs(item); return ms === null || ms <= 0; });
  if (items.length === 0 || bad !== undefined) throw new ConfigError(name, 'a comma-separated list of ISO 8601 durations with days, hours or minutes, such as P14D,P1D,PT15M', raw);
  const unique = [...new Map(items.map((item) => [durationToMs(item)!, item])).entries()];
  return unique.sort((a, b) => b[0] - a[0]).map(([, item]) => item);
}

function timeOfDay(env: Env, name: string, fallback: string): string {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(raw);
  if (!match) throw new ConfigError(name, 'a UTC time of day as HH:MM, such as 08:00', raw);
  return `${match[1]!.padStart(2, '0')}:${match[2]}`;
}

function signingKey(env: Env): { signingKey?: Secret } {
  const raw = text(env, 'EXPORT_SIGNING_KEY');
  if (raw === undefined) return {};
  // Never echoed: it is a secret.
  if (raw.length < 32) throw new ConfigError('EXPORT_SIGNING_KEY', 'at least 32 characters (for example the output of: openssl rand -base64 32)');
  return { signingKey: new Secret(raw) };
}

/**
 * ALLOW_PRIVILEGED_ROLES on its own, for `npm run catalog` (which validates the file as the bot
 * would without needing the bot's other settings).
 */
export function allowPrivilegedRoles(env: Env): boolean {
  return flag(env, 'ALLOW_PRIVILEGED_ROLES');
}

function flag(env: Env, name: string): boolean {
  const raw = text(env, name);
  if (raw === undefined) return false;
  if (/^true$/i.test(raw)) return true;
  if (/^false$/i.test(raw)) return false;
  throw new ConfigError(name, 'true or false', raw);
}

/** An interface to listen on: an IP address or a host name, no scheme, port or path. */
function host(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !isIP(raw) && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(raw)) {
    throw new ConfigError(name, 'an IP address or host name to listen on, such as 127.0.0.1 or 0.0.0.0', raw);
  }
  return raw;
}

function httpConfig(env: Env): HttpConfig {
  const listenHost = host(env, 'HOST');
  return {
    ...(listenHost ? { host: listenHost } : {}),
    // Teams activities are a few KB; 1 MB leaves room for large card submissions.
    maxRequestBytes: integer(env, 'MAX_REQUEST_BYTES', 1024 * 1024, 1024, 16 * 1024 * 1024),
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 15_000, 1000, 300_000),
    allowUnauthenticated: flag(env, 'ALLOW_UNAUTHENTICATED'),
    production: text(env, 'NODE_ENV')?.toLowerCase() === 'production',
  };
}

/** Entra accepts the tenant's GUID or one of its domain names. */
function tenant(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && !GUID.test(raw) && !/^[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+$/i.test(raw)) {
    throw new ConfigError(name, 'the tenant GUID or a domain name such as contoso.onmicrosoft.com', raw);
  }
  return raw;
}

export const GRAPH_PUBLIC_ENDPOINT = 'https://graph.microsoft.com';

/**
 * The Graph settings, or undefined when none are set (embedded mode, local directory). A
 * half-configured combination stops start-up rather than silently falling back to the local
 * directory. The secret is never echoed in an error.
 */
function graphConfig(env: Env, cwd: string): GraphConfig | undefined {
  const tenantId = tenant(env, 'AZURE_TENANT_ID');
  const clientId = guid(env, 'AZURE_CLIENT_ID');
  const clientSecret = text(env, 'AZURE_CLIENT_SECRET');
  const certificatePath = text(env, 'AZURE_CLIENT_CERTIFICATE_PATH');
  const useManagedIdentity = flag(env, 'AZURE_USE_MANAGED_IDENTITY');
  const endpoint = httpsOrigin(env, 'GRAPH_ENDPOINT', 'https://graph.microsoft.com or https://graph.microsoft.us');
  const authorityHost = httpsOrigin(env, 'AZURE_AUTHORITY_HOST', 'https://login.microsoftonline.us');
  const cloud = { endpoint: endpoint ?? GRAPH_PUBLIC_ENDPOINT, ...(authorityHost ? { authorityHost } : {}) };

  if (useManagedIdentity) {
    // A managed identity has no secret: one set as well means the operator expects something else.
    if (clientSecret) throw new ConfigError('AZURE_CLIENT_SECRET', 'unset when AZURE_USE_MANAGED_IDENTITY is true (a managed identity has no secret)');
    if (certificatePath) throw new ConfigError('AZURE_CLIENT_CERTIFICATE_PATH', 'unset when AZURE_USE_MANAGED_IDENTITY is true');
    return { auth: clientId ? { kind: 'managedIdentity', clientId } : { kind: 'managedIdentity' }, ...cloud };
  }
  if (clientSecret && certificatePath) {
    throw new ConfigError('AZURE_CLIENT_CERTIFICATE_PATH', 'unset when AZURE_CLIENT_SECRET is set (use one credential, not both)');
  }
  if (clientSecret || certificatePath) {
    const using = clientSecret ? 'AZURE_CLIENT_SECRET' : 'AZURE_CLIENT_CERTIFICATE_PATH';
    if (!tenantId) throw new ConfigError('AZURE_TENANT_ID', `set (the tenant GUID or domain) when ${using} is set`);
    if (!clientId) throw new ConfigError('AZURE_CLIENT_ID', `set (the app registration's client id) when ${using} is set`);
    if (clientSecret) return { auth: { kind: 'clientSecret', tenantId, clientId, clientSecret: new Secret(clientSecret) }, ...cloud };
    if (certificatePath) return { auth: { kind: 'clientCertificate', tenantId, clientId, certificatePath: path.resolve(cwd, certificatePath) }, ...cloud };
  }
  const partial = [['AZURE_CLIENT_ID', clientId], ['AZURE_TENANT_ID', tenantId], ['GRAPH_ENDPOINT', endpoint], ['AZURE_AUTHORITY_HOST', authorityHost]].find(([, v]) => v !== undefined);
  if (partial) {
    throw new ConfigError('AZURE_CLIENT_SECRET', `set (or AZURE_CLIENT_CERTIFICATE_PATH, or AZURE_USE_MANAGED_IDENTITY=true) when ${partial[0]} is set`);
  }
  return undefined;
}

/** PROACTIVE_INSTALL needs the catalog id and Graph; either missing stops start-up with one line. */
function teamsAppConfig(env: Env, graph: GraphConfig | undefined): Config['teamsApp'] {
  const catalogId = guid(env, 'TEAMS_APP_CATALOG_ID');
  const proactiveInstall = flag(env, 'PROACTIVE_INSTALL');
  if (proactiveInstall && !catalogId) throw new ConfigError('TEAMS_APP_CATALOG_ID', "set (the app's id in your tenant's app catalog) when PROACTIVE_INSTALL is true");
  if (proactiveInstall && !graph) throw new ConfigError('PROACTIVE_INSTALL', 'false unless Microsoft Graph is configured (AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret, certificate or managed identity)');
  return catalogId ? { catalogId, proactiveInstall } : { proactiveInstall };
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const APP_TYPES: readonly AppType[] = ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'];

/** Reads the configuration from `env`; `cwd` anchors the relative default paths. */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const appId = text(env, 'MicrosoftAppId') ?? '';
  const appType = oneOf(env, 'MicrosoftAppType', APP_TYPES, 'MultiTenant');
  const appTenantId = guid(env, 'MicrosoftAppTenantId');
  const appPassword = text(env, 'MicrosoftAppPassword');

  if (appId && !GUID.test(appId)) throw new ConfigError('MicrosoftAppId', 'the bot\'s app (client) id, a GUID, or empty to disable auth for local use', appId);
  if (appId && appType !== 'UserAssignedMSI' && !appPassword) {
    throw new ConfigError('MicrosoftAppPassword', `set when MicrosoftAppId is set and MicrosoftAppType is ${appType}`);
  }
  if (appId && appType !== 'MultiTenant' && !appTenantId) {
    throw new ConfigError('MicrosoftAppTenantId', `set (the bot's tenant GUID) when MicrosoftAppType is ${appType}`);
  }

  return {
    port: integer(env, 'PORT', 3978, 1, 65535),
    dataDir: path.resolve(cwd, text(env, 'DATA_DIR') ?? 'data'),
    mongodbUri: mongoUri(env),
    mongodb: {
      timeoutMs: integer(env, 'MONGODB_TIMEOUT_MS', 5000, 500, 600_000),
      migrateAtStartupMaxDocuments: integer(env, 'MIGRATE_AT_STARTUP_MAX_DOCUMENTS', 100_000, 0, 1_000_000_000),
    },
    catalogFile: path.resolve(cwd, text(env, 'CATALOG_FILE') ?? 'examples/catalog.yaml'),
    localDirectoryFile: path.resolve(cwd, text(env, 'LOCAL_DIRECTORY_FILE') ?? 'examples/directory.yaml'),
    // Not forced to a GUID: local emulators use short fake tenant ids.
    tenantId: token(env, 'TENANT_ID'),
    bot: { appId, appPassword, appType, appTenantId },
    adminGroupId: text(env, 'ADMIN_GROUP_ID'),
    adminUserIds: idList(env, 'ADMIN_USER_IDS'),
    schedulerIntervalMs: integer(env, 'SCHEDULER_INTERVAL_MS', 15000, 100, 3_600_000),
    tasks: {
      concurrency: {
        access: integer(env, 'TASK_CONCURRENCY_ACCESS', 4, 1, 64),
        approvals: integer(env, 'TASK_CONCURRENCY_APPROVALS', 2, 1, 64),
        messages: integer(env, 'TASK_CONCURRENCY_MESSAGES', 8, 1, 64),
        housekeeping: integer(env, 'TASK_CONCURRENCY_HOUSEKEEPING', 1, 1, 64),
      },
      // Short, because it is renewed while the work runs: a dead instance's work is taken over
      // about this long after it died, a live one's never.
      leaseMs: integer(env, 'TASK_LEASE_MS', 30_000, 1_000, 3_600_000),
      maxPacingWaitMs: integer(env, 'TASK_MAX_PACING_WAIT_MS', 250, 0, 10_000),
    },
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    notify: {
      serviceUrl: httpUrl(env, 'TEAMS_SERVICE_URL', TEAMS_PUBLIC_SERVICE_URL),
      // Teams allows 50 calls a second per app and tenant; 20 leaves room for replies and other work.
      ratePerSecond: integer(env, 'NOTIFY_RATE_PER_SECOND', 20, 1, 1000),
      // Teams allows 7 a second but only 60 per 30 s into one conversation: 1 a second keeps a
      // burst of cards to one approver inside every window.
      ratePerConversationPerSecond: integer(env, 'NOTIFY_RATE_PER_CONVERSATION_PER_SECOND', 1, 1, 7),
      maxAttempts: integer(env, 'NOTIFY_MAX_ATTEMPTS', 8, 1, 100),
    },
    approvalReminderPercent: integer(env, 'APPROVAL_REMINDER_PERCENT', 50, 1, 99),
    graph: graphConfig(env, cwd),
    delivery: {
      writesPerSecond: integer(env, 'GRAPH_WRITES_PER_SECOND', 18, 1, 1000),
      maxAttempts: integer(env, 'DELIVERY_MAX_ATTEMPTS', 10, 1, 100),
      allowPrivilegedRoles: allowPrivilegedRoles(env),
    },
    lifecycle: {
      warningOffsets: durationList(env, 'EXPIRY_WARNINGS', ['P14D', 'P1D', 'PT15M']),
    },
    adminNotices: {
      digestTimeUtc: timeOfDay(env, 'ADMIN_DIGEST_TIME', '08:00'),
      digestDays: integer(env, 'ADMIN_DIGEST_DAYS', 7, 1, 90),
    },
    exports: {
      publicBaseUrl: httpUrl(env, 'PUBLIC_BASE_URL', `http://localhost:${integer(env, 'PORT', 3978, 1, 65535)}`).replace(/\/+$/, ''),
      linkMinutes: integer(env, 'EXPORT_LINK_MINUTES', 15, 1, 1440),
      ...signingKey(env),
    },
    // Generous for a busy admin (a human clicks far less than 5 times a second), small for a script.
    limits: {
      requestsPerMinute: limit(env, 'LIMIT_REQUESTS_PER_MINUTE', 20),
      activitiesPerMinute: limit(env, 'LIMIT_ACTIVITIES_PER_MINUTE', 300),
      openRequests: limit(env, 'LIMIT_OPEN_REQUESTS', 100),
    },
    http: httpConfig(env),
    teamsApp: teamsAppConfig(env, graphConfig(env, cwd)),
  };
}
