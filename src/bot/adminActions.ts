// Admin verbs and commands: decode, delegate to the services (which check admin rights and
// audit refusals), pick the card.
import type { DeliveryService } from '../services/delivery';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { VerbHandler } from './selfServiceActions';
import { noticeCard } from './views';

export class AdminActions {
  constructor(
    private readonly delivery: DeliveryService,
    private readonly cards: CardRenderer,
  ) {}

  verbs(): Record<string, VerbHandler> {
    return { reprocess: (userId, data) => this.reprocess(userId, data.id) };
  }

  async reprocess(userId: string, assignmentId: unknown): Promise<AdaptiveCardJson> {
    const result = await this.delivery.reprocess(userId, assignmentId);
    if (!result.ok) return this.cards.render('notice', noticeCard(result.reason === 'notAllowed' ? 'Admins only' : 'Nothing to reprocess', result.message, 'warning'));
    return this.cards.render(
      'notice',
      noticeCard(`Reprocessing: ${result.packageName}`, `Every resource role of ${result.assignment.id} is being delivered again. The user and admins hear how it ends.`, 'info'),
    );
  }
}
