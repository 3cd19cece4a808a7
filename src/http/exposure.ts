// Where the bot listens, and whether it may run with Bot Framework authentication off there.
// Auth off means anyone who reaches the port can act as any user (and as any admin), so it is
// for a developer's machine: loopback only, never in production, unless an operator says so.
import { isIP } from 'node:net';
import type { Config } from '../config';

export const LOOPBACK = '127.0.0.1';

export type Exposure =
  | { ok: true; authOff: boolean; /** Undefined: every interface. */ host?: string }
  | { ok: false; /** One line for the operator: what is wrong and what to set. */ message: string };

export function decideExposure(config: Pick<Config, 'bot' | 'http'>, hostOverride?: string): Exposure {
  const authOff = config.bot.appId === '';
  const host = hostOverride ?? config.http.host ?? (authOff ? LOOPBACK : undefined);
  if (!authOff || config.http.allowUnauthenticated) return { ok: true, authOff, ...(host === undefined ? {} : { host }) };
  if (config.http.production) {
    return {
      ok: false,
      message:
        'Refusing to start: Bot Framework authentication is off (MicrosoftAppId is empty) and NODE_ENV is production. Set MicrosoftAppId and MicrosoftAppPassword (docs/deployment.md), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated calls on purpose.',
    };
  }
  if (!isLoopback(host)) {
    return {
      ok: false,
      message: `Refusing to start: Bot Framework authentication is off (MicrosoftAppId is empty) and HOST=${host ?? ''} is not a loopback address. Unset HOST to listen on ${LOOPBACK} only, set MicrosoftAppId, or set ALLOW_UNAUTHENTICATED=true to accept unauthenticated calls on purpose.`,
    };
  }
  return { ok: true, authOff, host: host! };
}

export function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}
