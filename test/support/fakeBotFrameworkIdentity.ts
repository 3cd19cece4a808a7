// The Bot Framework's token signing, faked: an RSA key of our own, published at the real
// OpenID metadata URLs the SDK uses (msw intercepts them, so nothing leaves the process), and
// tokens signed with it as the Bot Connector signs what it posts to a bot:
//   GET https://login.botframework.com/v1/.well-known/openidconfiguration  → { jwks_uri }
//   GET https://login.botframework.com/v1/.well-known/keys                 → { keys: [JWK + endorsements] }
// (and the Entra "common" metadata the SDK uses for Emulator tokens). Every fetch is counted,
// and the endpoints can be taken down to test what an outage does.
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { http, HttpResponse } from 'msw';
import { setupServer, type SetupServerApi } from 'msw/node';

export const CHANNEL_ISSUER = 'https://api.botframework.com';
export const CHANNEL_METADATA_URL = 'https://login.botframework.com/v1/.well-known/openidconfiguration';
export const CHANNEL_JWKS_URL = 'https://login.botframework.com/v1/.well-known/keys';
export const ENTRA_METADATA_URL = 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration';
export const ENTRA_JWKS_URL = 'https://login.microsoftonline.com/common/discovery/v2.0/keys';

export type Outage = 'none' | 'networkError' | 'http503' | 'keysDown';

export class FakeBotFrameworkIdentity {
  readonly kid = `bf-${randomUUID()}`;
  private readonly pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  /** Every request msw answered for the metadata and key URLs, in order. */
  readonly fetches: string[] = [];
  /** The channels the published key is endorsed for (the Bot Framework lists them per key). */
  endorsements = ['msteams'];
  outage: Outage = 'none';
  /** Also publish the key in Entra's common key set (Emulator and skill tokens). */
  publishToEntra = false;
  private server: SetupServerApi | undefined;

  listen(): void {
    this.server = setupServer(...this.handlers());
    this.server.listen({
      // The bot under test (and its loopback connector) are real servers: let those through.
      onUnhandledRequest: (request, print) => {
        if (['127.0.0.1', 'localhost'].includes(new URL(request.url).hostname)) return;
        print.error();
      },
    });
  }

  close(): void {
    this.server?.close();
  }

  /** The published key as PEM (what an algorithm-confusion forger uses as an HMAC secret). */
  publicKeyPem(): string {
    return this.pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Requests to the metadata document (one per refresh of the key cache). */
  metadataFetches(url = CHANNEL_METADATA_URL): number {
    return this.fetches.filter((f) => f === url).length;
  }

  private handlers() {
    const answer = (url: string, body: () => Record<string, unknown>) =>
      http.get(url, () => {
        this.fetches.push(url);
        if (this.outage === 'networkError') return HttpResponse.error();
        if (this.outage === 'http503' || (this.outage === 'keysDown' && url.endsWith('keys'))) {
          return HttpResponse.json({ error: 'Service Unavailable' }, { status: 503 });
        }
        return HttpResponse.json(body());
      });
    const jwks = () => ({ keys: [{ ...(this.pair.publicKey.export({ format: 'jwk' }) as object), kid: this.kid, use: 'sig', x5t: this.kid, endorsements: this.endorsements }] });
    return [
      answer(CHANNEL_METADATA_URL, () => ({ issuer: CHANNEL_ISSUER, jwks_uri: CHANNEL_JWKS_URL, id_token_signing_alg_values_supported: ['RS256'] })),
      answer(CHANNEL_JWKS_URL, jwks),
      answer(ENTRA_METADATA_URL, () => ({ issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0', jwks_uri: ENTRA_JWKS_URL })),
      // The same key, without endorsements (as Entra publishes them), for Emulator-style tokens.
      answer(ENTRA_JWKS_URL, () => ({ keys: this.publishToEntra ? [{ ...(this.pair.publicKey.export({ format: 'jwk' }) as object), kid: this.kid, use: 'sig' }] : [] })),
    ];
  }

  /**
   * A Bot Connector token for `appId` and the activity's serviceUrl, valid for an hour, signed
   * with the published key. `change` alters claims or signing to forge the invalid kinds.
   */
  channelToken(appId: string, serviceUrl: string, change: TokenChange = {}): string {
    return this.sign({ iss: CHANNEL_ISSUER, aud: appId, serviceurl: serviceUrl }, change);
  }

  /** An Entra v1 token as the Emulator sends one: issued to the app `appid` for `appId`. */
  emulatorToken(appId: string, tenantIssuer: string, change: TokenChange = {}): string {
    return this.sign({ iss: tenantIssuer, aud: appId, appid: appId, ver: '1.0' }, change);
  }

  private sign(base: Record<string, unknown>, change: TokenChange): string {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...base, nbf: now - 60, iat: now - 60, exp: now + 3600, ...change.claims };
    if (change.algorithm === 'none') {
      const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
      return `${encode({ alg: 'none', typ: 'JWT', kid: change.kid ?? this.kid })}.${encode(claims)}.`;
    }
    const algorithm = change.algorithm ?? 'RS256';
    const key = change.secret ?? change.key ?? this.pair.privateKey;
    return jwt.sign(claims, key, { algorithm, keyid: change.kid ?? this.kid, noTimestamp: true });
  }
}

export interface TokenChange {
  claims?: Record<string, unknown>;
  kid?: string;
  /** Sign with this key instead of the published one. */
  key?: KeyObject;
  algorithm?: jwt.Algorithm | 'none';
  /** An HMAC secret (with an HS* algorithm). */
  secret?: string;
}

/** A key pair nobody published: what a forger signs with. */
export function forgerKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}
