// Bot Framework authentication with a guard in front of the SDK.
//
// botframework-connector 4.23 validates tokens itself, but: a token it cannot validate may end
// in a 500 that names internal hosts, a stack trace on stderr, or (metadata unreachable) a
// metadata fetch per request, since its cache is only marked fresh after a success and an
// unknown key id triggers a refresh. So every token first passes TokenGuard, which checks it
// against our own OpenID key cache (refreshed at most once a minute, whatever arrives) and
// refuses with a short reason; only tokens it accepts reach the SDK, which checks them again
// and stays the authority. The same cache is handed to the SDK, so nothing else fetches keys.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Activity } from 'botbuilder';
import { ConfigurationBotFrameworkAuthentication } from 'botbuilder';
import {
  type AuthenticateRequestResult,
  AuthenticationConstants,
  BotFrameworkAuthentication,
  type BotFrameworkClient,
  type ClaimsIdentity,
  type ConnectorFactory,
  ToBotFromBotOrEmulatorTokenValidationParameters,
  type UserTokenClient,
} from 'botframework-connector';
import { JwtTokenExtractor } from 'botframework-connector/lib/auth/jwtTokenExtractor';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import type { Logger } from '../logger';

export type RejectionReason =
  | 'missingToken'
  | 'malformedToken'
  | 'algorithm'
  | 'issuer'
  | 'unknownKey'
  | 'metadataUnavailable'
  | 'signature'
  | 'expired'
  | 'notYetValid'
  | 'audience'
  | 'endorsement'
  | 'serviceUrl'
  | 'streaming'
  /** The guard let it through and the SDK refused it (detail says why). */
  | 'rejected';

/** A call refused at authentication: answered 401, logged once as `activity rejected`. */
export class ActivityRejected extends Error {
  constructor(
    readonly reason: RejectionReason,
    /** A short, single-line explanation for the log (never for the caller). */
    readonly detail?: string,
  ) {
    super(`activity rejected: ${reason}`);
    this.name = 'ActivityRejected';
  }
}

const ALGORITHMS: jwt.Algorithm[] = ['RS256', 'RS384', 'RS512'];
/** The SDK's own tolerance for clock skew. */
const CLOCK_TOLERANCE_SECONDS = 5 * 60;

interface SigningKey {
  key: KeyObject;
  pem: string;
  endorsements: string[];
}

export interface OpenIdKeysOptions {
  /** Milliseconds since the epoch (the app's clock, so tests can move it). */
  now: () => number;
  logger: Logger;
  /** At most one fetch of the metadata (and its keys) per this interval, success or not. */
  minRefreshIntervalMs?: number;
  /** Keys older than this are fetched again (the SDK's default: a day). */
  maxAgeMs?: number;
  fetchTimeoutMs?: number;
}

/**
 * One OpenID metadata document's signing keys. Refreshes when the keys are a day old or a token
 * names a key id it does not know, but never more than once a minute, and one refresh at a time:
 * forged key ids cannot turn into fetches. A failed refresh keeps the keys it had. Also serves as
 * the SDK's OpenIdMetadata (getKey), so the SDK never fetches on its own.
 */
export class OpenIdKeys {
  private keys = new Map<string, SigningKey>();
  private loadedAt: number | undefined;
  private attemptedAt: number | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly minRefreshIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly fetchTimeoutMs: number;

  constructor(
    readonly url: string,
    private readonly options: OpenIdKeysOptions,
  ) {
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 60_000;
    this.maxAgeMs = options.maxAgeMs ?? 24 * 60 * 60_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 10_000;
  }

  async find(kid: string): Promise<{ key: SigningKey } | { missing: 'unknownKey' | 'metadataUnavailable' }> {
    const now = this.options.now();
    const stale = this.loadedAt === undefined || now - this.loadedAt >= this.maxAgeMs;
    if (stale || !this.keys.has(kid)) {
      if (this.refreshing) await this.refreshing;
      else if (this.attemptedAt === undefined || now - this.attemptedAt >= this.minRefreshIntervalMs) await this.refresh(now);
    }
    const key = this.keys.get(kid);
    if (key) return { key };
    return { missing: this.loadedAt === undefined ? 'metadataUnavailable' : 'unknownKey' };
  }

  /** The SDK's OpenIdMetadata interface (JwtTokenExtractor calls it). */
  async getKey(kid: string): Promise<{ key: string; endorsements?: string[] } | null> {
    const found = await this.find(kid);
    return 'key' in found ? { key: found.key.pem, endorsements: found.key.endorsements } : null;
  }

  private refresh(now: number): Promise<void> {
    this.attemptedAt = now;
    this.refreshing = this.load().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async load(): Promise<void> {
    try {
      const metadata = (await this.getJson(this.url)) as { jwks_uri?: unknown };
      const jwksUri = metadata?.jwks_uri;
      if (typeof jwksUri !== 'string' || !jwksUri.startsWith('https://')) throw new Error('no https jwks_uri in the metadata');
      const jwks = (await this.getJson(jwksUri)) as { keys?: unknown };
      const keys = new Map<string, SigningKey>();
      for (const entry of Array.isArray(jwks?.keys) ? (jwks.keys as unknown[]) : []) {
        const parsed = parseJwk(entry);
        if (parsed) keys.set(parsed.kid, parsed.key);
      }
      if (keys.size === 0) throw new Error('no RSA signing keys in the key set');
      this.keys = keys;
      this.loadedAt = this.options.now();
      this.options.logger.info({ url: this.url, keys: keys.size }, 'Bot Framework signing keys loaded');
    } catch (error) {
      // Kept: the keys we had (a failed refresh must not lock out valid callers).
      this.options.logger.warn(
        { url: this.url, reason: shortReason(error), keptKeys: this.keys.size, retryAfterMs: this.minRefreshIntervalMs },
        'Bot Framework signing keys could not be fetched',
      );
    }
  }

  private async getJson(url: string): Promise<unknown> {
    const response = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status} from ${url}`);
    return response.json();
  }
}

function parseJwk(entry: unknown): { kid: string; key: SigningKey } | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { kid, kty, n, e, endorsements } = entry as Record<string, unknown>;
  if (typeof kid !== 'string' || kty !== 'RSA' || typeof n !== 'string' || typeof e !== 'string') return undefined;
  try {
    const key = createPublicKey({ key: { kty, n, e }, format: 'jwk' });
    const pem = key.export({ type: 'spki', format: 'pem' }).toString();
    return { kid, key: { key, pem, endorsements: Array.isArray(endorsements) ? endorsements.filter((x): x is string => typeof x === 'string') : [] } };
  } catch {
    return undefined;
  }
}

function shortReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
  return `${error.name === 'TimeoutError' ? 'timed out' : error.message}${code}`.slice(0, 200);
}

/** Where a token from each accepted issuer gets its keys. */
interface IssuerPolicy {
  keys: OpenIdKeys;
  /** Channel tokens: aud must be the bot's app id and serviceurl the activity's. */
  channel: boolean;
}

/** Checks a token before the SDK sees it; throws ActivityRejected with the reason. */
export class TokenGuard {
  constructor(
    private readonly appId: string,
    private readonly issuers: Map<string, IssuerPolicy>,
  ) {}

  async check(activity: Activity, authHeader: string): Promise<void> {
    if (!authHeader.trim()) throw new ActivityRejected('missingToken');
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(authHeader.trim());
    if (!match) throw new ActivityRejected('malformedToken', 'not "Bearer <JWT>"');
    const token = match[1]!;
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload !== 'object') throw new ActivityRejected('malformedToken', 'not a JWT');
    const { header, payload } = decoded;
    if (!ALGORITHMS.includes(header.alg as jwt.Algorithm)) throw new ActivityRejected('algorithm', `alg ${String(header.alg).slice(0, 16)}`);
    if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 256) throw new ActivityRejected('malformedToken', 'no key id');
    const issuer = typeof payload.iss === 'string' ? payload.iss : '';
    const policy = this.issuers.get(issuer);
    if (!policy) throw new ActivityRejected('issuer', `iss ${JSON.stringify(issuer.slice(0, 100))}`);

    const found = await policy.keys.find(header.kid);
    if ('missing' in found) throw new ActivityRejected(found.missing);
    try {
      jwt.verify(token, found.key.key, { algorithms: ALGORITHMS, issuer, clockTolerance: CLOCK_TOLERANCE_SECONDS });
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw new ActivityRejected('expired');
      if (error instanceof jwt.NotBeforeError) throw new ActivityRejected('notYetValid');
      const message = error instanceof Error ? error.message : '';
      throw new ActivityRejected(message === 'invalid signature' ? 'signature' : 'malformedToken', message.slice(0, 100));
    }
    // The SDK's endorsement rule: a key endorsed for some channels signs only for those.
    // (Stricter on one point: no channel id at all is refused; the SDK would throw a TypeError.)
    const { endorsements } = found.key;
    if (endorsements.length > 0 && !endorsements.includes(activity.channelId ?? '')) {
      throw new ActivityRejected('endorsement', `channel ${JSON.stringify(String(activity.channelId ?? '').slice(0, 64))}`);
    }
    if (policy.channel) {
      if (payload.aud !== this.appId) throw new ActivityRejected('audience');
      if (activity.serviceUrl && (payload as Record<string, unknown>).serviceurl !== activity.serviceUrl) throw new ActivityRejected('serviceUrl');
    }
  }
}

/**
 * The SDK's authentication with TokenGuard in front. Anything the inner authentication throws
 * becomes ActivityRejected too, so no authentication failure can surface as a 500.
 */
export class GuardedBotFrameworkAuthentication extends BotFrameworkAuthentication {
  constructor(
    private readonly inner: BotFrameworkAuthentication,
    private readonly guard: TokenGuard,
  ) {
    super();
  }

  override async authenticateRequest(activity: Activity, authHeader: string): Promise<AuthenticateRequestResult> {
    await this.guard.check(activity, authHeader);
    try {
      return await this.inner.authenticateRequest(activity, authHeader);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const unreachable = /load (keys|openid config)|fetch|ENOTFOUND|ECONN/i.test(message);
      throw new ActivityRejected(unreachable ? 'metadataUnavailable' : 'rejected', message.split('\n')[0]!.slice(0, 160));
    }
  }

  /** No streaming (WebSocket) route is served; refused rather than left half-checked. */
  override async authenticateStreamingRequest(): Promise<AuthenticateRequestResult> {
    throw new ActivityRejected('streaming');
  }

  override createConnectorFactory(claimsIdentity: ClaimsIdentity): ConnectorFactory {
    return this.inner.createConnectorFactory(claimsIdentity);
  }

  override createUserTokenClient(claimsIdentity: ClaimsIdentity): Promise<UserTokenClient> {
    return this.inner.createUserTokenClient(claimsIdentity);
  }

  override createBotFrameworkClient(): BotFrameworkClient {
    return this.inner.createBotFrameworkClient();
  }

  override getOriginatingAudience(): string {
    return this.inner.getOriginatingAudience();
  }

  override authenticateChannelRequest(authHeader: string): Promise<ClaimsIdentity> {
    return this.inner.authenticateChannelRequest(authHeader);
  }
}

export interface BotAuthentication {
  authentication: BotFrameworkAuthentication;
  /** Present with auth on: the key caches (channel tokens, Emulator tokens). */
  keys?: { channel: OpenIdKeys; emulator: OpenIdKeys };
}

/**
 * The adapter's authentication for the configured bot. Auth off (empty app id): the SDK's, which
 * then accepts every call (the caller decides where that is allowed: http/exposure.ts).
 */
export function createBotAuthentication(bot: Config['bot'], deps: { now: () => number; logger: Logger }): BotAuthentication {
  const inner = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: bot.appId,
    MicrosoftAppPassword: bot.appPassword,
    MicrosoftAppType: bot.appType,
    MicrosoftAppTenantId: bot.appTenantId,
  });
  if (!bot.appId) return { authentication: inner };

  const channel = new OpenIdKeys(AuthenticationConstants.ToBotFromChannelOpenIdMetadataUrl, deps);
  const emulator = new OpenIdKeys(AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl, deps);
  const issuers = new Map<string, IssuerPolicy>([[AuthenticationConstants.ToBotFromChannelTokenIssuer, { keys: channel, channel: true }]]);
  // Emulator and skill tokens come from Entra: the SDK's fixed issuers, plus the bot's own tenant.
  const entraIssuers = [...(ToBotFromBotOrEmulatorTokenValidationParameters.issuer as string[])];
  if (bot.appTenantId) entraIssuers.push(`https://sts.windows.net/${bot.appTenantId}/`, `https://login.microsoftonline.com/${bot.appTenantId}/v2.0`);
  for (const issuer of entraIssuers) if (!issuers.has(issuer)) issuers.set(issuer, { keys: emulator, channel: false });

  if (!shareWithSdk([channel, emulator])) {
    deps.logger.warn('the SDK keeps its own signing key cache (its internals changed): keys may be fetched twice');
  }
  return { authentication: new GuardedBotFrameworkAuthentication(inner, new TokenGuard(bot.appId, issuers)), keys: { channel, emulator } };
}

/**
 * Hands our caches to the SDK: JwtTokenExtractor looks its metadata up by URL in a static map,
 * so with ours in it the SDK validates with the same keys and never fetches them itself.
 */
function shareWithSdk(caches: OpenIdKeys[]): boolean {
  const map = (JwtTokenExtractor as unknown as { openIdMetadataCache?: unknown }).openIdMetadataCache;
  if (!(map instanceof Map)) return false;
  for (const cache of caches) map.set(cache.url, cache);
  return true;
}
