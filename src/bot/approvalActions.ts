// Card verbs and commands of approval: decode, delegate to the approval service, pick the card.
import { formatInstant } from '../domain/lifecycle';
import type { ApprovalService } from '../services/approvals';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { VerbHandler } from './selfServiceActions';
import { noticeCard } from './views';

export class ApprovalActions {
  constructor(
    private readonly approvals: ApprovalService,
    private readonly cards: CardRenderer,
  ) {}

  verbs(): Record<string, VerbHandler> {
    return { decide: (userId, data) => this.decide(userId, data) };
  }

  async decide(userId: string, data: Record<string, unknown>): Promise<AdaptiveCardJson> {
    const result = await this.approvals.decide(userId, data);
    if (!result.ok && !result.card) {
      const title = result.reason === 'invalidInput' ? 'This card was altered' : 'Your decision was not recorded';
      return this.cards.render('notice', noticeCard(title, result.message, 'warning'));
    }
    // The decided card, or (a refused click that still has one) the card with what went wrong.
    return this.cards.render(result.card!.template, result.card!.data);
  }

  /** Admin command: who holds which pending approval. */
  async pending(userId: string, packageId?: string): Promise<AdaptiveCardJson> {
    const result = await this.approvals.pending(userId, packageId);
    if (!result.ok) return this.cards.render('notice', noticeCard('Admins only', result.message, 'warning'));
    const { rows } = result;
    const lines = rows.map(
      (r) =>
        `- ${r.packageName} · ${r.request.id} · requested ${formatInstant(r.request.createdAt)} · step ${(r.request.currentStage ?? 0) + 1} · waiting on ${r.approverNames.join(', ') || 'nobody yet'}`,
    );
    const scope = packageId ? ` for ${packageId}` : '';
    return this.cards.render('notice', noticeCard(`Pending approvals${scope}: ${rows.length}`, lines.join('\n') || 'Nothing is waiting for approval.', 'info'));
  }
}
