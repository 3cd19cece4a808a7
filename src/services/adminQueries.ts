// What admins look up: a package's requests and assignments (paged), one request or
// assignment with its whole history, and the audit log. Read-only: nothing here changes state.
// The admin check is the AdminGate's (src/bot/adminActions.ts), in front of every caller.
import {
  ACTIVE_ASSIGNMENT_STATES,
  type AccessPackage,
  type AccessRequest,
  type Assignment,
  type AssignmentState,
  type AuditEvent,
  type Catalog,
  type Policy,
  type RequestState,
} from '../domain/model';
import {
  type AssignmentFilter,
  assignmentFilterOf,
  type AuditFilterWords,
  clip,
  MAX_PAGE,
  pageNumber,
  requestStateOf,
  unknownAssignmentFilter,
  unknownRequestState,
} from '../domain/adminQueryArgs';
import { formatDate, formatInstant } from '../domain/lifecycle';
import { closestMatch } from '../catalog/suggest';
import type { Directory, DirectoryUser } from '../directory/port';
import type { AuditQuery } from '../store/repositories/audit';
import type { ServiceDependencies } from './deps';
import { asId, type Outcome, refuse } from './outcome';
import { describeState } from './requests';

export const PAGE_SIZE = 10;
export const AUDIT_LATEST = 20;
/** Entries of a request's or assignment's history shown at most (the newest). */
export const HISTORY_LIMIT = 60;

type Deps = Pick<ServiceDependencies, 'repositories' | 'directory'>;

export interface Paged<T> {
  items: T[];
  total: number;
  /** 1-based. */
  page: number;
  pageCount: number;
}

export interface RequestRow {
  id: string;
  type: AccessRequest['type'];
  state: RequestState;
  stateText: string;
  requesterName: string;
  targetName: string;
  createdAt: Date;
}

export interface AssignmentRow {
  id: string;
  userId: string;
  userName: string;
  state: AssignmentState;
  startAt: Date;
  expiresAt?: Date;
}

export interface HistoryItem {
  at: Date;
  who: string;
  what: string;
  details: string;
}

export interface RoleLine {
  name: string;
  state: string;
  error: string;
}

export interface RequestRecord {
  kind: 'request';
  request: AccessRequest;
  packageName: string;
  policyName: string;
  requesterName: string;
  targetName: string;
  stateText: string;
  answers: { question: string; answer: string }[];
  stages: string[];
  history: HistoryItem[];
  historyTruncated: boolean;
}

export interface AssignmentRecord {
  kind: 'assignment';
  assignment: Assignment;
  packageName: string;
  policyName: string;
  userName: string;
  roles: RoleLine[];
  history: HistoryItem[];
  historyTruncated: boolean;
}

export interface AuditRow {
  at: Date;
  actorName: string;
  action: string;
  userName: string;
  packageId: string;
  /** The request or assignment the event is about, for a "Show" button; '' when none. */
  subjectId: string;
  details: string;
}

/** Audit filters checked against the catalog and the directory, ready to query. */
export interface ResolvedAuditFilters {
  query: Omit<AuditQuery, 'limit'>;
  /** "package Accounting · user Fred Jansen · from 1 Nov 2026", or '' for none. */
  description: string;
}

export class AdminQueries {
  constructor(private readonly deps: Deps) {}

  /** A page of a package's requests, newest first, optionally of one state. */
  async requests(rawPackageId: unknown, rawState: unknown, rawPage: unknown): Promise<Outcome<{ accessPackage: PackageRef; state?: RequestState; page: Paged<RequestRow> }>> {
    const accessPackage = await this.packageOf(rawPackageId);
    if (!accessPackage.ok) return accessPackage;
    let state: RequestState | undefined;
    if (rawState !== undefined && rawState !== '') {
      state = typeof rawState === 'string' ? requestStateOf(rawState) : undefined;
      if (!state) return refuse('invalidInput', unknownRequestState(String(rawState)));
    }
    const page = pageNumber(rawPage ?? 1);
    if (!page.ok) return refuse('invalidInput', page.message);
    const { repositories } = this.deps;
    const total = await repositories.requests.countForPackage(accessPackage.id, state);
    const paging = pageOf(total, page.page);
    if (!paging.ok) return paging;
    const requests = await repositories.requests.listForPackage(accessPackage.id, { state, skip: (page.page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const names = new NameBook(this.deps.directory);
    const approverIds = requests.flatMap((r) => r.stages.flatMap((s) => (s.decision ? [s.decision.approverId] : [])));
    const approverNames = await names.map(approverIds);
    const items: RequestRow[] = [];
    for (const request of requests) {
      items.push({
        id: request.id,
        type: request.type,
        state: request.state,
        stateText: describeState(request, approverNames),
        requesterName: await names.name(request.requesterId),
        targetName: await names.name(request.targetUserId),
        createdAt: request.createdAt,
      });
    }
    return { ok: true, accessPackage, ...(state ? { state } : {}), page: { items, total, page: page.page, pageCount: paging.pageCount } };
  }

  /** A page of a package's assignments, newest first: active ones unless asked otherwise. */
  async assignments(rawPackageId: unknown, rawFilter: unknown, rawPage: unknown): Promise<Outcome<{ accessPackage: PackageRef; filter: AssignmentFilter; page: Paged<AssignmentRow> }>> {
    const accessPackage = await this.packageOf(rawPackageId);
    if (!accessPackage.ok) return accessPackage;
    const filter = this.assignmentFilter(rawFilter);
    if (!filter.ok) return filter;
    const page = pageNumber(rawPage ?? 1);
    if (!page.ok) return refuse('invalidInput', page.message);
    const { repositories } = this.deps;
    const states = statesOf(filter.filter);
    const total = await repositories.assignments.countForPackage(accessPackage.id, states);
    const paging = pageOf(total, page.page);
    if (!paging.ok) return paging;
    const assignments = await repositories.assignments.listForPackage(accessPackage.id, { states, skip: (page.page - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const names = new NameBook(this.deps.directory);
    const items: AssignmentRow[] = [];
    for (const a of assignments) {
      items.push({ id: a.id, userId: a.userId, userName: await names.name(a.userId), state: a.state, startAt: a.startAt, ...(a.expiresAt ? { expiresAt: a.expiresAt } : {}) });
    }
    return { ok: true, accessPackage, filter: filter.filter, page: { items, total, page: page.page, pageCount: paging.pageCount } };
  }

  /** "active" (default), "all" or a state; a clear message otherwise. */
  assignmentFilter(raw: unknown): Outcome<{ filter: AssignmentFilter }> {
    if (raw === undefined || raw === '') return { ok: true, filter: 'active' };
    const filter = typeof raw === 'string' ? assignmentFilterOf(raw) : undefined;
    return filter ? { ok: true, filter } : refuse('invalidInput', unknownAssignmentFilter(String(raw)));
  }

  /** One request (REQ-…) or assignment (ASG-…) with everything an admin needs and its history. */
  async show(rawId: unknown): Promise<Outcome<RequestRecord | AssignmentRecord>> {
    const typed = asId(rawId);
    const id = typed?.toUpperCase();
    if (!id || !/^(REQ|ASG)-/.test(id)) {
      return refuse('invalidInput', `Give the id of a request (REQ-…) or an assignment (ASG-…)${typed ? `, not "${clip(typed)}"` : ''}. Lists from the requests and assignments commands show them.`);
    }
    return id.startsWith('REQ-') ? this.showRequest(id) : this.showAssignment(id);
  }

  /** The newest events matching the filters, newest first. */
  async audit(words: AuditFilterWords): Promise<Outcome<{ description: string; events: AuditRow[] }>> {
    const resolved = await this.resolveAuditFilters(words);
    if (!resolved.ok) return resolved;
    const events = await this.deps.repositories.audit.latest(resolved.query, AUDIT_LATEST);
    const names = new NameBook(this.deps.directory);
    const rows: AuditRow[] = [];
    for (const event of events) {
      rows.push({
        at: event.at,
        actorName: await names.name(event.actorId),
        action: event.action,
        userName: event.userId ? await names.name(event.userId) : '',
        packageId: event.packageId ?? '',
        subjectId: event.assignmentId ?? event.requestId ?? '',
        details: summarizeDetails(event.details),
      });
    }
    return { ok: true, description: resolved.description, events: rows };
  }

  /** Checks the package and user of audit filters: each must exist, or at least appear in the log. */
  async resolveAuditFilters(words: AuditFilterWords): Promise<Outcome<ResolvedAuditFilters>> {
    const { repositories, directory } = this.deps;
    const query: Omit<AuditQuery, 'limit'> = {};
    const parts: string[] = [];
    if (words.packageId !== undefined) {
      const accessPackage = await repositories.packages.get(words.packageId);
      if (!accessPackage && !(await repositories.audit.mentions('packageId', words.packageId))) return refuse('notFound', await this.noPackageMessage(words.packageId));
      query.packageId = words.packageId;
      parts.push(`package ${accessPackage ? `${accessPackage.displayName} (${accessPackage.id})` : words.packageId}`);
    }
    if (words.user !== undefined) {
      const user = await lookUp(directory, words.user);
      // Events done by the user or about them.
      if (user) {
        query.involving = user.id;
        parts.push(`user ${user.displayName}`);
      } else if (await repositories.audit.mentions('userId', words.user)) {
        query.involving = words.user;
        parts.push(`user ${words.user} (no longer in the directory)`);
      } else {
        return refuse('notFound', `There is no user "${clip(words.user)}" in the directory or the audit log. Give an object id or a sign-in name, such as fredj@example.com.`);
      }
    }
    if (words.from) {
      query.from = words.from;
      parts.push(`from ${formatDate(words.from)}`);
    }
    if (words.to) {
      query.to = words.to;
      parts.push(`to ${formatDate(new Date(words.to.getTime() - 1))}`);
    }
    return { ok: true, query, description: parts.join(' · ') };
  }

  /** The package an admin named: any package, hidden or not; a hint when there is none. */
  async packageOf(raw: unknown): Promise<Outcome<PackageRef>> {
    const id = asId(raw);
    if (!id) return refuse('invalidInput', 'Give the id of a package, for example: accounting.');
    const accessPackage = await this.deps.repositories.packages.get(id);
    if (!accessPackage) return refuse('notFound', await this.noPackageMessage(id));
    return { ok: true, id: accessPackage.id, displayName: accessPackage.displayName, catalog: accessPackage.catalog };
  }

  private async noPackageMessage(id: string): Promise<string> {
    // The catalog's package list is small (catalog-sized), read only to help with a typo.
    const ids = (await this.deps.repositories.packages.list()).map((p) => p.id).sort();
    const match = closestMatch(id, ids);
    const known = ids.length > 20 ? `${ids.slice(0, 20).join(', ')}, …` : ids.join(', ');
    return `There is no package "${clip(id)}".${match ? ` Did you mean ${match}?` : ''}${known ? ` Package ids: ${known}.` : ' The catalog has no packages yet.'}`;
  }

  private async showRequest(id: string): Promise<Outcome<RequestRecord>> {
    const { repositories, directory } = this.deps;
    const request = await repositories.requests.get(id);
    if (!request) return refuse('notFound', `There is no request ${clip(id)}. Type requests package-id to list a package's requests.`);
    const { accessPackage, policy } = await this.packageAndPolicy(request.packageId, request.policyId);
    const names = new NameBook(directory);
    const decidedBy = await names.map(request.stages.flatMap((s) => (s.decision ? [s.decision.approverId] : [])));
    const stages: string[] = [];
    for (const stage of request.stages) stages.push(await describeStage(stage, request.stages.length, names));
    const events = await repositories.audit.latest({ requestId: id }, HISTORY_LIMIT);
    const history = await this.history(request.history.map((h) => ({ at: h.at, actorId: h.actorId, what: h.action, details: h.details ?? '' })), events, names);
    return {
      ok: true,
      kind: 'request',
      request,
      packageName: accessPackage?.displayName ?? request.packageId,
      policyName: policy?.displayName ?? request.policyId,
      requesterName: await names.nameWithUpn(request.requesterId),
      targetName: await names.nameWithUpn(request.targetUserId),
      stateText: describeState(request, decidedBy),
      answers: request.answers.map((a) => answerLine(policy, a)),
      stages,
      ...history,
    };
  }

  private async showAssignment(id: string): Promise<Outcome<AssignmentRecord>> {
    const { repositories, directory } = this.deps;
    const assignment = await repositories.assignments.get(id);
    if (!assignment) return refuse('notFound', `There is no assignment ${clip(id)}. Type assignments package-id to list who has a package.`);
    const { accessPackage, policy, catalog } = await this.packageAndPolicy(assignment.packageId, assignment.policyId);
    const names = new NameBook(directory);
    // Its own events, and those of the requests behind it (submitted, approved, extended ...).
    const events = new Map<string, AuditEvent>();
    for (const event of await repositories.audit.latest({ assignmentId: id }, HISTORY_LIMIT)) events.set(event.id, event);
    for (const requestId of assignment.requestIds.slice(-10)) {
      for (const event of await repositories.audit.latest({ requestId }, HISTORY_LIMIT)) events.set(event.id, event);
    }
    const history = await this.history([], [...events.values()], names);
    return {
      ok: true,
      kind: 'assignment',
      assignment,
      packageName: accessPackage?.displayName ?? assignment.packageId,
      policyName: policy?.displayName ?? assignment.policyId,
      userName: await names.nameWithUpn(assignment.userId),
      roles: assignment.roles.map((role) => ({ name: roleName(catalog, role.resource, role.role), state: role.state, error: role.error ?? '' })),
      ...history,
    };
  }

  private async packageAndPolicy(packageId: string, policyId: string): Promise<{ accessPackage: AccessPackage | null; policy: Policy | null; catalog: Catalog | null }> {
    const { repositories } = this.deps;
    const accessPackage = await repositories.packages.get(packageId);
    const policy = await repositories.policies.get(packageId, policyId);
    const catalog = accessPackage ? await repositories.catalogs.get(accessPackage.catalog) : null;
    return { accessPackage, policy, catalog };
  }

  /** The record's own history and the audit events about it, oldest first, the newest HISTORY_LIMIT. */
  private async history(
    own: { at: Date; actorId: string; what: string; details: string }[],
    events: AuditEvent[],
    names: NameBook,
  ): Promise<{ history: HistoryItem[]; historyTruncated: boolean }> {
    const merged = [
      ...own.map((h) => ({ at: h.at, actorId: h.actorId, what: h.what, details: h.details, order: 0 })),
      ...events.map((e) => ({ at: e.at, actorId: e.actorId, what: e.action, details: summarizeDetails(e.details), order: 1, id: e.id })),
    ].sort((a, b) => a.at.getTime() - b.at.getTime() || a.order - b.order || ('id' in a && 'id' in b ? String(a.id).localeCompare(String(b.id)) : 0));
    const shown = merged.slice(-HISTORY_LIMIT);
    const history: HistoryItem[] = [];
    for (const item of shown) history.push({ at: item.at, who: await names.name(item.actorId), what: item.what, details: item.details });
    return { history, historyTruncated: merged.length > shown.length };
  }
}

export interface PackageRef {
  id: string;
  displayName: string;
  catalog: string;
}

export function statesOf(filter: AssignmentFilter): readonly AssignmentState[] | undefined {
  return filter === 'all' ? undefined : filter === 'active' ? ACTIVE_ASSIGNMENT_STATES : [filter];
}

function pageOf(total: number, page: number): Outcome<{ pageCount: number }> {
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (page > pageCount) return refuse('invalidInput', `There ${pageCount === 1 ? 'is only 1 page' : `are only ${pageCount} pages`} (${total} in all): ask for page 1 to ${Math.min(pageCount, MAX_PAGE)}.`);
  return { ok: true, pageCount };
}

async function describeStage(stage: AccessRequest['stages'][number], total: number, names: NameBook): Promise<string> {
  const parts = [`Stage ${stage.index + 1} of ${total}`];
  const asked = await Promise.all(stage.approverIds.map((id) => names.name(id)));
  parts.push(asked.length > 0 ? `asked ${asked.join(', ')}${stage.usedFallback ? ' (fallback approvers)' : ''}` : 'no approvers');
  if (stage.startedAt) parts.push(`started ${formatInstant(stage.startedAt)}`);
  if (stage.escalatedAt) {
    const added = await Promise.all((stage.escalationApproverIds ?? []).map((id) => names.name(id)));
    parts.push(`escalated ${formatInstant(stage.escalatedAt)}${added.length > 0 ? ` to ${added.join(', ')}` : ''}`);
  }
  const decision = stage.decision;
  if (decision) {
    const verb = decision.decision === 'approve' ? 'approved' : 'denied';
    parts.push(`${verb} by ${await names.name(decision.approverId)} on ${formatInstant(decision.at)}${decision.justification ? `: "${clip(decision.justification, 300)}"` : ''}`);
  } else if (stage.startedAt) {
    parts.push('no decision yet');
  }
  return parts.join(' · ');
}

function answerLine(policy: Policy | null, answer: AccessRequest['answers'][number]): { question: string; answer: string } {
  const question = policy?.questions.find((q) => q.id === answer.questionId);
  const values = Array.isArray(answer.value) ? answer.value : [answer.value];
  const shown = values.map((v) => question?.choices.find((c) => c.value === v)?.displayName ?? v);
  return { question: question?.text ?? answer.questionId, answer: clip(shown.join(', '), 1000) };
}

function roleName(catalog: Catalog | null, resourceId: string, roleId: string): string {
  const resource = catalog?.resources.find((r) => r.id === resourceId);
  const role = resource?.roles.find((r) => r.id === roleId);
  return `${resource?.displayName ?? resourceId} (${role?.displayName ?? roleId})`;
}

/** "policyId: employees, state: pendingApproval": an event's details on one line. */
export function summarizeDetails(details: Record<string, unknown> | undefined, max = 200): string {
  if (!details) return '';
  const text = Object.entries(details)
    .map(([key, value]) => `${key}: ${value instanceof Date ? formatInstant(value) : Array.isArray(value) ? value.join(' ') : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)
    .join(', ');
  return clip(text, max);
}

async function lookUp(directory: Directory, idOrUpn: string): Promise<DirectoryUser | null> {
  try {
    return await directory.getUser(idOrUpn);
  } catch {
    return null; // the directory being unreachable shows as "not found": the audit log is checked next
  }
}

/**
 * Display names of the people a list mentions, each looked up once. "system" is the bot itself;
 * someone the directory no longer knows (or can't be asked about now) shows as their id.
 */
export class NameBook {
  private readonly users = new Map<string, Promise<DirectoryUser | null>>();

  constructor(private readonly directory: Directory) {}

  user(id: string): Promise<DirectoryUser | null> {
    let user = this.users.get(id);
    if (!user) {
      user = id === 'system' ? Promise.resolve(null) : lookUp(this.directory, id);
      this.users.set(id, user);
    }
    return user;
  }

  async name(id: string): Promise<string> {
    if (id === 'system') return 'System';
    return (await this.user(id))?.displayName ?? id;
  }

  async nameWithUpn(id: string): Promise<string> {
    const user = await this.user(id);
    return user ? `${user.displayName} (${user.userPrincipalName})` : id;
  }

  async map(ids: readonly string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const id of new Set(ids)) names.set(id, await this.name(id));
    return names;
  }
}
