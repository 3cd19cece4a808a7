import type { TurnContext } from 'botbuilder';
import { activityTenantId } from './tenantGuard';

// Where the bot may send later is remembered from incoming activities, so an activity's
// `serviceUrl` is only believed when the Bot Framework vouched for it: the channel's token
// carries a `serviceurl` claim, and the SDK has already checked that it equals the activity's.
// A token without that claim (e.g. an emulator token) authenticates the caller, not the URL.

/** botframework-connector's ClaimsIdentity, as far as it is read here. */
interface Identity {
  readonly isAuthenticated: boolean;
  readonly claims: readonly { type: string; value: string }[];
  getClaimValue(type: string): string | null;
}

/** AuthenticationConstants.ServiceUrlClaim. */
const SERVICE_URL_CLAIM = 'serviceurl';

/**
 * The activity's serviceUrl when it can be trusted as the place to reach this conversation
 * later: vouched for by the validated token; or, with authentication disabled (a developer's
 * machine), a loopback URL such as the Agents Playground's. Teams' own connector refuses a bot
 * without credentials anyway, so with auth off no other URL could ever be of use, and believing
 * one would let an unauthenticated caller divert what is meant for others. Undefined otherwise.
 */
export function trustedServiceUrl(context: TurnContext): string | undefined {
  const serviceUrl = context.activity.serviceUrl;
  if (typeof serviceUrl !== 'string' || !/^https?:\/\//i.test(serviceUrl)) return undefined;
  const identity = context.turnState.get(context.adapter.BotIdentityKey) as Identity | undefined;
  if (!identity?.isAuthenticated) return undefined;
  // With authentication disabled CloudAdapter vouches with an identity of no claims; a
  // validated token always carries some.
  if (identity.claims.length === 0) return isLoopback(serviceUrl) ? serviceUrl : undefined;
  const claim = identity.getClaimValue(SERVICE_URL_CLAIM);
  return claim !== null && claim === serviceUrl ? serviceUrl : undefined;
}

/** The bot's address in the activity's tenant, when the activity is trusted to tell it. */
export function trustedBotAddress(context: TurnContext): { tenantId: string; serviceUrl: string; bot: { id: string; name?: string } } | undefined {
  const serviceUrl = trustedServiceUrl(context);
  const tenantId = activityTenantId(context.activity);
  const recipient = context.activity.recipient;
  if (!serviceUrl || !tenantId || typeof recipient?.id !== 'string' || !recipient.id) return undefined;
  return { tenantId, serviceUrl, bot: typeof recipient.name === 'string' && recipient.name ? { id: recipient.id, name: recipient.name } : { id: recipient.id } };
}

function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}
