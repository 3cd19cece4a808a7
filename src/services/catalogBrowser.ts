import { packageAvailability } from '../domain/eligibility';
import { describeExpiry, maximumExpiry } from '../domain/lifecycle';
import type { AccessPackage, Policy, Question } from '../domain/model';
import { searchWords } from '../store/repositories/packages';
import { keysForRequestor } from '../store/repositories/policies';
import type { ServiceDependencies } from './deps';
import { describeApproval, type GrantedRole, grantedRoles } from './describe';
import { asId, type Outcome, refuse } from './outcome';
import { isRefusal, loadRequestor } from './requestor';

export const PAGE_SIZE = 10;
export const MAX_SEARCH_LENGTH = 100;

export type PackageStatus = 'available' | 'assigned' | 'pending';

export interface PackageSummary {
  id: string;
  displayName: string;
  description: string;
  status: PackageStatus;
}

export interface PolicyOffer {
  id: string;
  displayName: string;
  description: string;
  approval: string;
  expiry: string;
  justificationRequired: boolean;
  questions: Question[];
  canChooseSchedule: boolean;
  /** The latest end a requester may choose, counted from now. */
  latestEnd?: Date;
}

export interface PackageDetails {
  accessPackage: Pick<AccessPackage, 'id' | 'displayName' | 'description'>;
  catalogName: string;
  roles: GrantedRole[];
  /** The policies that apply to this user (several only when equally specific: the user picks). */
  offers: PolicyOffer[];
  status: PackageStatus;
  expiresAt?: Date;
  pendingRequestId?: string;
}

export class CatalogBrowser {
  constructor(private readonly deps: ServiceDependencies) {}

  /** The packages this user may request, filtered by text, a page at a time. */
  async browse(userId: string, query: { text?: unknown; page?: unknown }): Promise<Outcome<{ items: PackageSummary[]; total: number; page: number; pageCount: number; text: string }>> {
    const typed = typeof query.text === 'string' ? query.text.trim() : '';
    if (typed.length > MAX_SEARCH_LENGTH) return refuse('invalidInput', `Search text is limited to ${MAX_SEARCH_LENGTH} characters.`);
    // Text with no searchable word (only punctuation) searches for nothing in particular.
    const text = searchWords(typed).length > 0 ? typed : '';
    const requestedPage = typeof query.page === 'number' && Number.isInteger(query.page) && query.page >= 0 ? query.page : 0;

    const { repositories } = this.deps;
    const requestor = await loadRequestor(this.deps.directory, repositories.policies, userId);
    if (isRefusal(requestor)) return requestor;
    const isMember = requestor.user.userType === 'Member';

    const requestorKeys = keysForRequestor({ userId, isMember, groupIds: [...requestor.facts.groupIds] });
    // Guests only see catalogs opened to external users.
    const catalogIds = (await repositories.catalogs.list()).filter((c) => c.enabled && (isMember || c.externalUsersEnabled)).map((c) => c.id);

    let page = requestedPage;
    let result = await repositories.packages.search({ requestorKeys, catalogIds, text, skip: page * PAGE_SIZE, limit: PAGE_SIZE });
    const pageCount = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
    if (page >= pageCount && result.total > 0) {
      // A stale "next page" button after the list shrank: show the last page instead of nothing.
      page = pageCount - 1;
      result = await repositories.packages.search({ requestorKeys, catalogIds, text, skip: page * PAGE_SIZE, limit: PAGE_SIZE });
    }
    const status = await this.statusOf(userId);
    return {
      ok: true,
      items: result.items.map((p) => ({ id: p.id, displayName: p.displayName, description: p.description, status: status(p.id) })),
      total: result.total,
      page,
      pageCount,
      text,
    };
  }

  /** What a package gives and on what terms, for this user. Hidden packages are reachable here by id. */
  async details(userId: string, rawPackageId: unknown): Promise<Outcome<{ details: PackageDetails }>> {
    const packageId = asId(rawPackageId);
    if (!packageId) return refuse('invalidInput', 'That card did not say which access package it is about. Type packages to start again.');
    const { repositories, clock } = this.deps;
    const accessPackage = await repositories.packages.get(packageId);
    if (!accessPackage) return refuse('notFound', `There's no access package with the id "${packageId.slice(0, 60)}". Type packages to see the ones you can request.`);
    const requestor = await loadRequestor(this.deps.directory, repositories.policies, userId);
    if (isRefusal(requestor)) return requestor;

    const catalog = await repositories.catalogs.get(accessPackage.catalog);
    const policies = await repositories.policies.listForPackage(accessPackage.id);
    const availability = packageAvailability({ catalog, accessPackage, policies, facts: requestor.facts, viaDirectLink: true });
    if (!availability.available) return refuse(availability.reason === 'notEligible' ? 'notEligible' : 'unavailable', availability.message);

    const now = clock.now();
    const offers = await Promise.all(availability.policies.map((policy) => this.offer(policy, now)));
    const assignment = (await repositories.assignments.listActiveForUser(userId)).find((a) => a.packageId === accessPackage.id);
    const pending = await repositories.requests.findOpen(userId, accessPackage.id);
    return {
      ok: true,
      details: {
        accessPackage: { id: accessPackage.id, displayName: accessPackage.displayName, description: accessPackage.description },
        catalogName: catalog?.displayName ?? accessPackage.catalog,
        roles: grantedRoles(accessPackage, catalog),
        offers,
        status: assignment ? 'assigned' : pending ? 'pending' : 'available',
        expiresAt: assignment?.expiresAt,
        pendingRequestId: pending?.id,
      },
    };
  }

  private async offer(policy: Policy, now: Date): Promise<PolicyOffer> {
    return {
      id: policy.id,
      displayName: policy.displayName,
      description: policy.description,
      approval: await describeApproval(this.deps.directory, policy),
      expiry: describeExpiry(policy.lifecycle),
      justificationRequired: policy.approval.requestorJustificationRequired,
      questions: policy.questions,
      canChooseSchedule: policy.lifecycle.requestorCanChooseSchedule,
      latestEnd: maximumExpiry(policy.lifecycle, now),
    };
  }

  /** Whether the user already holds, or is waiting for, each package. */
  private async statusOf(userId: string): Promise<(packageId: string) => PackageStatus> {
    const { repositories } = this.deps;
    const assigned = new Set((await repositories.assignments.listActiveForUser(userId)).map((a) => a.packageId));
    const pending = new Set((await repositories.requests.listOpenForUser(userId)).map((r) => r.packageId));
    return (id) => (assigned.has(id) ? 'assigned' : pending.has(id) ? 'pending' : 'available');
  }
}
