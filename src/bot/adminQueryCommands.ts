// Admin commands that look things up: requests, assignments, show, audit, export. They decode
// the typed words and card data, call the query and export services, and pick a card.
import { AUDIT_EXAMPLE, parseAuditArgs, parseListArgs } from '../domain/adminQueryArgs';
import { AUDIT_LATEST, type AdminQueries } from '../services/adminQueries';
import type { ExportService } from '../services/exports';
import type { Refusal } from '../services/outcome';
import { type AdminCommandHandler, type AdminCommandSet, usage } from './adminActions';
import { ADMIN_QUERY_VERBS, assignmentListCard, assignmentRecordCard, auditListCard, exportReadyCard, requestListCard, requestRecordCard } from './adminQueryViews';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import type { CardData, VerbHandler } from './selfServiceActions';
import { noticeCard } from './views';

const USAGE = {
  requests: 'requests package-id [state] [page N]',
  assignments: 'assignments package-id [active|all|state] [page N]',
  show: 'show request-id or assignment-id',
  audit: 'audit [package id] [user id-or-upn] [from YYYY-MM-DD] [to YYYY-MM-DD]',
  export: 'export audit [filters] or export assignments package-id [active|all|state]',
};

const REFUSAL_TITLES: Record<Refusal['reason'], string> = {
  unknownUser: 'Unknown user',
  notFound: 'Not found',
  unavailable: 'Not available',
  notEligible: 'Not possible',
  alreadyAssigned: 'Not possible',
  alreadyRequested: 'Not possible',
  separationOfDuties: 'Not possible',
  invalidInput: "That isn't quite right",
  notAllowed: 'Not allowed',
  stale: 'Out of date',
  tooManyOpenRequests: 'Too many open requests',
  busy: 'Busy right now',
};

export class AdminQueryCommands implements AdminCommandSet {
  constructor(
    private readonly queries: AdminQueries,
    private readonly exports: ExportService,
    private readonly cards: CardRenderer,
    private readonly linkMinutes: number,
  ) {}

  commands(): Record<string, AdminCommandHandler> {
    return {
      requests: ({ args }) => this.requestsCommand(args),
      assignments: ({ args }) => this.assignmentsCommand(args),
      show: ({ args }) => this.showCommand(args),
      audit: ({ args }) => this.audit(args),
      export: ({ userId, args }) => this.exportCommand(userId, args),
    };
  }

  verbs(): Record<string, VerbHandler> {
    return {
      [ADMIN_QUERY_VERBS.requests]: (_userId, data) => this.requests(data.packageId, data.state, data.page),
      [ADMIN_QUERY_VERBS.assignments]: (_userId, data) => this.assignments(data.packageId, data.state, data.page),
      [ADMIN_QUERY_VERBS.show]: (_userId, data: CardData) => this.show(data.id),
    };
  }

  private requestsCommand(args: string[]): Promise<AdaptiveCardJson> {
    if (args.length === 0) return this.usage('requests', 'Give the id of a package, then optionally a state and a page, for example: requests accounting pendingApproval page 2.');
    const parsed = parseListArgs(args.slice(1), USAGE.requests);
    if (!parsed.ok) return this.invalid(parsed.message);
    return this.requests(args[0], parsed.state, parsed.page);
  }

  private assignmentsCommand(args: string[]): Promise<AdaptiveCardJson> {
    if (args.length === 0) return this.usage('assignments', 'Give the id of a package, then optionally active (the default), all or a state, and a page, for example: assignments accounting all page 2.');
    const parsed = parseListArgs(args.slice(1), USAGE.assignments);
    if (!parsed.ok) return this.invalid(parsed.message);
    return this.assignments(args[0], parsed.state, parsed.page);
  }

  private showCommand(args: string[]): Promise<AdaptiveCardJson> {
    if (args.length !== 1) return this.usage('show', 'Give one id: a request (REQ-…) or an assignment (ASG-…), as the requests and assignments lists show them.');
    return this.show(args[0]);
  }

  async requests(packageId: unknown, state: unknown, page: unknown): Promise<AdaptiveCardJson> {
    const result = await this.queries.requests(packageId, state, page);
    return result.ok ? this.cards.render('adminList', requestListCard(result)) : this.refusal(result);
  }

  async assignments(packageId: unknown, state: unknown, page: unknown): Promise<AdaptiveCardJson> {
    const result = await this.queries.assignments(packageId, state, page);
    return result.ok ? this.cards.render('adminList', assignmentListCard(result)) : this.refusal(result);
  }

  async show(id: unknown): Promise<AdaptiveCardJson> {
    const result = await this.queries.show(id);
    if (!result.ok) return this.refusal(result);
    return this.cards.render('adminRecord', result.kind === 'request' ? requestRecordCard(result) : assignmentRecordCard(result));
  }

  async audit(args: string[]): Promise<AdaptiveCardJson> {
    const words = parseAuditArgs(args);
    if (!words.ok) return this.invalid(words.message);
    const result = await this.queries.audit(words);
    return result.ok ? this.cards.render('adminList', auditListCard(result, AUDIT_LATEST)) : this.refusal(result);
  }

  private async exportCommand(userId: string, args: string[]): Promise<AdaptiveCardJson> {
    const what = args[0]?.toLowerCase();
    if (what === 'audit') {
      const words = parseAuditArgs(args.slice(1));
      if (!words.ok) return this.invalid(words.message);
      return this.ready(await this.exports.exportAudit(userId, words));
    }
    if (what === 'assignments') {
      if (!args[1]) return this.usage('export', 'Give the id of the package, for example: export assignments accounting all.');
      if (args.length > 3) return this.invalid(`I don't understand "${args.slice(3).join(' ').slice(0, 40)}". The command is: export assignments package-id [active|all|state].`);
      return this.ready(await this.exports.exportAssignments(userId, args[1], args[2]));
    }
    return this.usage('export', `Export the audit log (with the audit filters, for example: export ${AUDIT_EXAMPLE}) or a package's assignments (for example: export assignments accounting all).`);
  }

  private ready(result: Awaited<ReturnType<ExportService['exportAudit']>>): AdaptiveCardJson {
    return result.ok ? this.cards.render('exportReady', exportReadyCard(result, this.linkMinutes)) : this.refusal(result);
  }

  private usage(command: keyof typeof USAGE, message: string): Promise<AdaptiveCardJson> {
    return Promise.resolve(usage(this.cards, USAGE[command], message));
  }

  private invalid(message: string): Promise<AdaptiveCardJson> {
    return Promise.resolve(this.cards.render('notice', noticeCard(REFUSAL_TITLES.invalidInput, message, 'warning')));
  }

  private refusal(refusal: Refusal): AdaptiveCardJson {
    return this.cards.render('notice', noticeCard(REFUSAL_TITLES[refusal.reason], refusal.message, 'warning'));
  }
}
