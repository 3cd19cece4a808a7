// Admin commands that change things: assign, remove, cancel, enable, disable, apply. Decode,
// delegate to the services, pick the card; the dispatcher (adminActions.ts) has already
// checked that the user is an admin.
import type { Clock } from '../clock';
import type { AdminAssignments } from '../services/adminAssignments';
import type { AdminCatalog } from '../services/adminCatalog';
import type { AdminChanges } from '../services/adminChanges';
import type { Refusal } from '../services/outcome';
import { type AdminCommandHandler, type AdminCommandSet, usage } from './adminActions';
import { assignChooseCard, assignedNotice, assignFormCard, refusalLines, reportCard } from './adminChangeViews';
import type { AdaptiveCardJson, CardRenderer } from './cards';
import { answersOf, type CardData, type VerbHandler } from './selfServiceActions';
import { noticeCard } from './views';

export interface AdminChangeServices {
  assignments: AdminAssignments;
  changes: AdminChanges;
  catalog: AdminCatalog;
}

const REFUSAL_TITLES: Record<Refusal['reason'], string> = {
  unknownUser: 'User not found',
  notFound: 'Not found',
  unavailable: 'Not available',
  notEligible: 'Not allowed for this user',
  alreadyAssigned: 'Already assigned',
  alreadyRequested: 'Already requested',
  separationOfDuties: 'Separation of duties',
  invalidInput: 'Something is missing or wrong',
  notAllowed: 'Admins only',
  stale: 'Nothing was changed',
  tooManyOpenRequests: 'Too many open requests',
  busy: 'Busy right now: nothing was changed',
};

export class AdminChangeCommands implements AdminCommandSet {
  constructor(
    private readonly services: AdminChangeServices,
    private readonly cards: CardRenderer,
    private readonly clock: Clock,
  ) {}

  commands(): Record<string, AdminCommandHandler> {
    return {
      assign: ({ userId, args }) =>
        args[0] ? this.assignForm(userId, args[0], args[1]) : this.usage('assign package-id [policy-id]', 'Give the id of the package to assign, for example: assign accounting. A form then asks for the user and the rest.'),
      remove: ({ userId, args }) =>
        args[0] ? this.remove(userId, args[0], args.slice(1).join(' ')) : this.usage('remove assignment-id [reason]', 'Give the id of the assignment to end, and optionally why: remove ASG-REQ-7K3M9QX2 left the team.'),
      cancel: ({ userId, args }) =>
        args[0] ? this.cancel(userId, args[0], args.slice(1).join(' ')) : this.usage('cancel request-id [reason]', 'Give the id of the request to cancel, and optionally why: cancel REQ-7K3M9QX2 sent by mistake.'),
      enable: ({ userId, args }) => this.setEnabled(userId, args, true),
      disable: ({ userId, args }) => this.setEnabled(userId, args, false),
      apply: ({ userId, args }) =>
        args.length === 0 || (args.length === 1 && args[0]!.toLowerCase() === 'catalog') ? this.apply(userId) : this.usage('apply catalog', 'Applies the catalog file the bot was started with; it takes no other argument.'),
    };
  }

  verbs(): Record<string, VerbHandler> {
    return {
      adminAssignForm: (userId, data) => this.assignForm(userId, data.packageId, data.policyId),
      adminAssign: (userId, data) => this.assign(userId, data),
    };
  }

  async assignForm(userId: string, packageId: unknown, policyId: unknown): Promise<AdaptiveCardJson> {
    const result = await this.services.assignments.form(userId, packageId, policyId);
    if (!result.ok) return this.refusal(result);
    const { form } = result;
    if (!form.chosen) return this.cards.render('adminAssignChoose', assignChooseCard(form));
    return this.cards.render('adminAssignForm', assignFormCard(form, form.chosen, this.clock.now()));
  }

  async assign(userId: string, data: CardData): Promise<AdaptiveCardJson> {
    const result = await this.services.assignments.assign(userId, {
      packageId: data.packageId,
      policyId: data.policyId,
      user: data.user,
      justification: data.justification,
      skipApproval: data.skipApproval,
      answers: answersOf(data),
      startDate: data.startDate,
      endDate: data.endDate,
    });
    if (result.ok) {
      const { title, message } = assignedNotice(result);
      return this.cards.render('notice', noticeCard(title, message, 'info'));
    }
    if (result.fieldErrors) {
      // The form again, with what was typed kept and each problem next to its field.
      const form = await this.services.assignments.form(userId, data.packageId, data.policyId);
      if (form.ok && form.form.chosen) return this.cards.render('adminAssignForm', assignFormCard(form.form, form.form.chosen, this.clock.now(), { values: data, refusal: result }));
    }
    return this.refusal(result);
  }

  async remove(userId: string, assignmentId: string, reason: string): Promise<AdaptiveCardJson> {
    const result = await this.services.changes.remove(userId, assignmentId, reason);
    if (!result.ok) return this.refusal(result);
    const why = result.request.justification ? ` Reason given: "${result.request.justification}".` : '';
    return this.notice(
      `Removing: ${result.packageName} from ${result.userName}`,
      `Assignment ${result.assignment.id} is being removed (request ${result.request.id}).${why} ${result.userName} has been told; access they had before, or that another package gives them, stays.`,
    );
  }

  async cancel(userId: string, requestId: string, reason: string): Promise<AdaptiveCardJson> {
    const result = await this.services.changes.cancel(userId, requestId, reason);
    if (!result.ok) return this.refusal(result);
    return this.notice(
      `Canceled: ${result.request.id}`,
      `The request for "${result.packageName}" (${result.userName}) is canceled.${result.reason ? ` Reason given: "${result.reason}".` : ''} The people concerned are told, and approvers' cards show it.`,
    );
  }

  async setEnabled(userId: string, args: string[], enabled: boolean): Promise<AdaptiveCardJson> {
    const verb = enabled ? 'enable' : 'disable';
    if (args.length < 2) {
      return this.usage(`${verb} catalog|package|policy id`, `For example: ${verb} catalog finance, ${verb} package accounting, ${verb} policy accounting/employees.`);
    }
    const result = await this.services.catalog.setEnabled(userId, args[0], args.slice(1).join(' '), enabled);
    if (!result.ok) return this.refusal(result);
    return this.cards.render('notice', noticeCard(result.title, result.message, result.changed && !enabled ? 'warning' : 'info'));
  }

  async apply(userId: string): Promise<AdaptiveCardJson> {
    const result = await this.services.catalog.apply(userId);
    if (!result.ok) {
      if (result.reason !== 'invalidInput') return this.refusal(result);
      return this.cards.render('adminReport', reportCard('The catalog file has errors', result.message, refusalLines(result), 'error'));
    }
    return this.cards.render('adminReport', reportCard(`Catalog applied: ${result.file}`, `${result.file} is valid (${result.summary}). What changed:`, result.lines));
  }

  private refusal(refusal: Refusal): AdaptiveCardJson {
    return this.cards.render('notice', noticeCard(REFUSAL_TITLES[refusal.reason], refusal.message, 'warning'));
  }

  private notice(title: string, message: string): AdaptiveCardJson {
    return this.cards.render('notice', noticeCard(title, message, 'info'));
  }

  private usage(text: string, message: string): Promise<AdaptiveCardJson> {
    return Promise.resolve(usage(this.cards, text, message));
  }
}
