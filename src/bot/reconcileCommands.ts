// The admin command "reconcile": the same check as `npm run reconcile` (docs/reliability.md),
// answered in chat. Reads only; the AdminActions dispatcher has already checked the admin.
import type { Directory } from '../directory/port';
import { DRIFT_KINDS, formatReconcileReport } from '../domain/reconcile';
import { runReconciliation } from '../services/reconcile';
import type { Repositories } from '../store/repositories';
import type { AdminCommandHandler, AdminCommandSet } from './adminActions';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { VerbHandler } from './selfServiceActions';
import { noticeCard } from './views';

/** Drift lines shown in chat; the CLI prints them all. */
const SHOWN = 10;

export class ReconcileCommands implements AdminCommandSet {
  constructor(
    private readonly repositories: Repositories,
    private readonly directory: Directory,
    private readonly cards: CardRenderer,
  ) {}

  commands(): Record<string, AdminCommandHandler> {
    return { reconcile: () => this.reconcile() };
  }

  verbs(): Record<string, VerbHandler> {
    return {};
  }

  private async reconcile(): Promise<AdaptiveCardJson> {
    const report = await runReconciliation(this.repositories, this.directory);
    const lines = formatReconcileReport(report);
    const summary = lines.pop()!;
    if (report.drift.length === 0) return this.cards.render('notice', noticeCard('No drift: the grant ledger matches the directory', summary.replace(/^./, (c) => c.toUpperCase()) + '.', 'info'));
    const more = lines.length > SHOWN ? `\n\n…and ${lines.length - SHOWN} more: run npm run reconcile for the full list.` : '';
    const kinds = DRIFT_KINDS.filter((k) => report.drift.some((d) => d.kind === k)).join(', ');
    return this.cards.render(
      'notice',
      noticeCard(`Drift found: ${report.drift.length} (${kinds})`, `${lines.slice(0, SHOWN).map((l) => `- ${l}`).join('\n')}${more}\n\n${summary}. See docs/reliability.md for what each kind means and what to do.`, 'warning'),
    );
  }
}
