// Card verbs and chat commands of employee self-service: decode the card data, call the
// service, choose the card. No business rule lives here.
import type { Clock } from '../clock';
import { formatInstant } from '../domain/lifecycle';
import type { AccessService } from '../services/access';
import type { CatalogBrowser } from '../services/catalogBrowser';
import type { Refusal } from '../services/outcome';
import type { RequestService } from '../services/requests';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { PerMinuteLimit } from './limits';
import { tooManyOpenRequestsCard, tooManyRequestsCard } from './limitViews';
import {
  ANSWER_PREFIX,
  type Button,
  confirmRemoveCard,
  justificationInputId,
  myAccessCard,
  myRequestsCard,
  noticeCard,
  packageDetailsCard,
  packageListCard,
  requestFormCard,
  requestSubmittedCard,
} from './views';

export interface SelfServices {
  browser: CatalogBrowser;
  requests: RequestService;
  access: AccessService;
}

export type CardData = Record<string, unknown>;
export type VerbHandler = (userId: string, data: CardData) => Promise<AdaptiveCardJson>;

const REFUSAL_TITLES: Record<Refusal['reason'], string> = {
  unknownUser: "I can't find your account",
  notFound: 'Not found',
  unavailable: "This package isn't available",
  notEligible: "You can't request this package",
  alreadyAssigned: 'You already have this access',
  alreadyRequested: 'You have already asked for this',
  separationOfDuties: 'Not allowed together with access you have',
  invalidInput: 'Something is missing or wrong',
  notAllowed: 'Not possible',
  stale: 'This card is out of date',
  tooManyOpenRequests: 'Too many open requests',
  busy: 'Busy right now',
};

const REFUSAL_BUTTONS: Partial<Record<Refusal['reason'], Button[]>> = {
  alreadyAssigned: [{ title: 'My access', verb: 'myAccess' }],
  alreadyRequested: [{ title: 'My requests', verb: 'myRequests' }],
  stale: [{ title: 'Browse packages', verb: 'packages' }],
  notFound: [{ title: 'Browse packages', verb: 'packages' }],
};

/**
 * Answers to a form's questions arrive as inputs named "answer:<question id>". Built with
 * Object.fromEntries so a key like "__proto__" stays an own key (and is refused as unknown)
 * instead of changing the object's prototype.
 */
export function answersOf(data: CardData): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => key.startsWith(ANSWER_PREFIX)).map(([key, value]) => [key.slice(ANSWER_PREFIX.length), value]));
}

/**
 * Extend's reason: My access names each item's box after its assignment (input ids are unique
 * per card); the expiry warning has a single box named "justification".
 */
export function extendJustification(data: CardData): unknown {
  if (typeof data.assignmentId === 'string') {
    const key = justificationInputId(data.assignmentId);
    if (Object.hasOwn(data, key)) return data[key];
  }
  return data.justification;
}

export class SelfServiceActions {
  constructor(
    private readonly services: SelfServices,
    private readonly cards: CardRenderer,
    private readonly clock: Clock,
    /** The bot's app id, for share links; empty when auth is disabled. */
    private readonly botAppId = '',
    /**
     * Requests (new, extension, give back) per person per minute. A take whose request is
     * refused for another reason is given back: a form to fix is not a request.
     */
    private readonly requestLimit?: PerMinuteLimit,
  ) {}

  /** Verb → handler, for the bot's action table. */
  verbs(): Record<string, VerbHandler> {
    return {
      packages: (userId, data) => this.packages(userId, data.text, data.page),
      details: (userId, data) => this.details(userId, data.packageId),
      requestForm: (userId, data) => this.requestForm(userId, data.packageId, data.policyId),
      submitRequest: (userId, data) => this.submit(userId, data),
      myRequests: (userId) => this.myRequests(userId),
      cancelRequest: (userId, data) => this.cancel(userId, data.requestId),
      myAccess: (userId) => this.myAccess(userId),
      extend: (userId, data) => this.extend(userId, data.assignmentId, extendJustification(data)),
      confirmRemove: (userId, data) => this.confirmRemove(userId, data.assignmentId),
      removeAccess: (userId, data) => this.remove(userId, data.assignmentId),
      letExpire: (userId, data) => this.letExpire(userId, data.assignmentId, data.expiresAt),
    };
  }

  refusal(refusal: Refusal): AdaptiveCardJson {
    if (refusal.reason === 'tooManyOpenRequests' && refusal.openRequests) {
      return this.cards.render('notice', tooManyOpenRequestsCard(refusal.openRequests.open, refusal.openRequests.limit));
    }
    return this.cards.render('notice', noticeCard(REFUSAL_TITLES[refusal.reason], refusal.message, 'warning', REFUSAL_BUTTONS[refusal.reason] ?? []));
  }

  async packages(userId: string, text: unknown, page: unknown): Promise<AdaptiveCardJson> {
    const pageNumber = typeof page === 'string' && /^\d{1,6}$/.test(page) ? Number(page) : page;
    const result = await this.services.browser.browse(userId, { text, page: pageNumber });
    return result.ok ? this.cards.render('packageList', packageListCard(result)) : this.refusal(result);
  }

  async details(userId: string, packageId: unknown): Promise<AdaptiveCardJson> {
    const result = await this.services.browser.details(userId, packageId);
    return result.ok ? this.cards.render('packageDetails', packageDetailsCard(result.details, this.botAppId)) : this.refusal(result);
  }

  async requestForm(userId: string, packageId: unknown, policyId: unknown): Promise<AdaptiveCardJson> {
    const result = await this.services.browser.details(userId, packageId);
    if (!result.ok) return this.refusal(result);
    const offer = result.details.offers.find((o) => o.id === policyId) ?? (result.details.offers.length === 1 ? result.details.offers[0] : undefined);
    if (!offer) return this.cards.render('packageDetails', packageDetailsCard(result.details, this.botAppId));
    if (result.details.status !== 'available') return this.cards.render('packageDetails', packageDetailsCard(result.details, this.botAppId));
    return this.cards.render('requestForm', requestFormCard(result.details, offer.id, this.clock.now()));
  }

  async submit(userId: string, data: CardData): Promise<AdaptiveCardJson> {
    const take = await this.takeRequest(userId);
    if (!take.allowed) return take.card;
    const result = await this.services.requests.submit(userId, {
      packageId: data.packageId,
      policyId: data.policyId,
      justification: data.justification,
      answers: answersOf(data),
      startDate: data.startDate,
      endDate: data.endDate,
    });
    if (!result.ok) await take.refund();
    if (result.ok) {
      const details = await this.services.browser.details(userId, result.request.packageId);
      const approval = details.ok ? (details.details.offers.find((o) => o.id === result.request.policyId)?.approval ?? '') : '';
      return this.cards.render(
        'requestSubmitted',
        requestSubmittedCard({ requestId: result.request.id, packageName: result.packageName, sentAt: result.request.createdAt, needsApproval: result.needsApproval, state: result.request.state, approval }),
      );
    }
    if (result.reason === 'invalidInput' && result.fieldErrors) {
      // Show the form again with the answers kept and each problem next to its field.
      const details = await this.services.browser.details(userId, data.packageId);
      if (details.ok && details.details.offers.some((o) => o.id === data.policyId)) {
        return this.cards.render('requestForm', requestFormCard(details.details, String(data.policyId), this.clock.now(), { values: data, refusal: result }));
      }
    }
    return this.refusal(result);
  }

  async myRequests(userId: string, notice = ''): Promise<AdaptiveCardJson> {
    return this.cards.render('myRequests', myRequestsCard(await this.services.requests.myRequests(userId), notice));
  }

  async cancel(userId: string, requestId: unknown): Promise<AdaptiveCardJson> {
    const result = await this.services.requests.cancel(userId, requestId);
    if (!result.ok) return this.refusal(result);
    return this.myRequests(userId, `Request ${result.request.id} for "${result.packageName}" is canceled.`);
  }

  async myAccess(userId: string, notice = ''): Promise<AdaptiveCardJson> {
    return this.cards.render('myAccess', myAccessCard(await this.services.access.myAccess(userId), notice));
  }

  async extend(userId: string, assignmentId: unknown, justification: unknown): Promise<AdaptiveCardJson> {
    const take = await this.takeRequest(userId);
    if (!take.allowed) return take.card;
    const result = await this.services.access.extend(userId, assignmentId, justification);
    if (!result.ok) {
      await take.refund();
      return this.refusal(result);
    }
    const notice = result.request
      ? `Extension of "${result.packageName}" requested (${result.request.id}). You'll get a message when it's decided.`
      : result.extendedTo
        ? `"${result.packageName}" is extended until ${formatInstant(result.extendedTo)}.`
        : `"${result.packageName}" no longer expires.`;
    return this.myAccess(userId, notice);
  }

  /** "Let it expire" on an expiry warning: no more reminders for this expiry. */
  async letExpire(userId: string, assignmentId: unknown, expiresAt: unknown): Promise<AdaptiveCardJson> {
    const result = await this.services.access.letExpire(userId, assignmentId, expiresAt);
    if (!result.ok) return this.refusal(result);
    return this.cards.render(
      'notice',
      noticeCard(`OK: your access ends on ${formatInstant(result.expiresAt)}`, `You won't get more reminders about "${result.packageName}". Changed your mind? Type my access before then.`, 'info', [{ title: 'My access', verb: 'myAccess' }]),
    );
  }

  async confirmRemove(userId: string, assignmentId: unknown): Promise<AdaptiveCardJson> {
    const item = (await this.services.access.myAccess(userId)).find((a) => a.assignmentId === assignmentId);
    if (!item) return this.refusal({ ok: false, reason: 'stale', message: 'That access is no longer active. Type my access to see what you have now.' });
    return this.cards.render('confirmRemove', confirmRemoveCard(item));
  }

  async remove(userId: string, assignmentId: unknown): Promise<AdaptiveCardJson> {
    const take = await this.takeRequest(userId);
    if (!take.allowed) return take.card;
    const result = await this.services.access.removeMyAccess(userId, assignmentId);
    if (!result.ok) {
      await take.refund();
      return this.refusal(result);
    }
    return this.myAccess(userId, `Your access to "${result.packageName}" is being removed. You'll get a message when it's done.`);
  }

  /** One of the person's requests for this minute, or the card saying when they may send again. */
  private async takeRequest(userId: string): Promise<{ allowed: true; refund(): Promise<void> } | { allowed: false; card: AdaptiveCardJson }> {
    if (!this.requestLimit) return { allowed: true, refund: () => Promise.resolve() };
    const take = await this.requestLimit.take(userId);
    return take.allowed ? take : { allowed: false, card: this.cards.render('notice', tooManyRequestsCard(take.retryAfterMs)) };
  }
}
