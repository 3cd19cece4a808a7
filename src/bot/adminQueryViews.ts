// View models of the admin query cards (cards/adminList.json, adminRecord.json,
// exportReady.json). Pure functions of service results; every bound field is always present.
// Names, reasons and details people typed: one line each (inlineText) in the TextRuns of lists
// and history, escaped (literalText) in the record's FactSet, which Teams reads as markdown.
import { formatInstant } from '../domain/lifecycle';
import type { AccessRequest, AssignmentState, RequestState } from '../domain/model';
import type { AssignmentFilter } from '../domain/adminQueryArgs';
import type { AssignmentRecord, AssignmentRow, AuditRow, HistoryItem, PackageRef, Paged, RequestRecord, RequestRow } from '../services/adminQueries';
import { EXPORT_NAME_LOOKUPS, EXPORT_ROW_CAP, type ExportReady } from '../services/exports';
import { inlineText, literalText } from '../services/messages';
import { quoteUserText } from './views';

/** Card verbs of the admin query cards (the pager and the Show buttons). */
export const ADMIN_QUERY_VERBS = { requests: 'adminRequests', assignments: 'adminAssignments', show: 'adminShow' } as const;

interface ListItem {
  heading: string;
  text: string;
  meta: string;
  color: string;
  showId: string;
}

interface PagerButton {
  title: string;
  verb: string;
  packageId: string;
  state: string;
  page: number;
}

const TYPE_TEXT: Record<AccessRequest['type'], string> = {
  add: 'New access',
  adminAdd: 'Assigned by an admin',
  extend: 'Extension',
  remove: 'Give back',
  adminRemove: 'Removal by an admin',
};

const REQUEST_COLOR: Partial<Record<RequestState, string>> = {
  delivered: 'Good',
  denied: 'Attention',
  deliveryFailed: 'Attention',
  timedOut: 'Warning',
  partiallyDelivered: 'Warning',
};

// Partial, with the raw state as fallback: a state added later still shows.
const ASSIGNMENT_TEXT: Partial<Record<AssignmentState, string>> = {
  delivering: 'Being delivered',
  delivered: 'Delivered',
  partiallyDelivered: 'Partly delivered: some resource roles failed',
  deliveryFailed: 'Delivery failed',
  expired: 'Expired',
  removed: 'Removed',
};

const ASSIGNMENT_COLOR: Partial<Record<AssignmentState, string>> = {
  delivered: 'Good',
  partiallyDelivered: 'Warning',
  deliveryFailed: 'Attention',
};

export function assignmentStateText(state: AssignmentState): string {
  return ASSIGNMENT_TEXT[state] ?? state;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function pager(verb: string, packageId: string, state: string, page: Paged<unknown>): PagerButton[] {
  const buttons: PagerButton[] = [];
  if (page.page > 1) buttons.push({ title: '◀ Previous', verb, packageId, state, page: page.page - 1 });
  if (page.page < page.pageCount) buttons.push({ title: 'Next ▶', verb, packageId, state, page: page.page + 1 });
  return buttons;
}

function pageText(page: Paged<unknown>): string {
  return page.pageCount > 1 ? ` · page ${page.page} of ${page.pageCount}` : '';
}

export function requestListCard(result: { accessPackage: PackageRef; state?: RequestState; page: Paged<RequestRow> }) {
  const { accessPackage, state, page } = result;
  const stateText = state ? ` in state ${state}` : '';
  return {
    title: `Requests: ${accessPackage.displayName}`,
    summary: `${plural(page.total, 'request')}${stateText}, newest first${pageText(page)} · package ${accessPackage.id}`,
    items: page.items.map(
      (r): ListItem => ({
        heading: r.requesterName === r.targetName ? inlineText(r.targetName) : `${inlineText(r.targetName)} (asked by ${inlineText(r.requesterName)})`,
        text: inlineText(r.stateText),
        meta: `${r.id} · ${TYPE_TEXT[r.type] ?? r.type} · sent ${formatInstant(r.createdAt)}`,
        color: REQUEST_COLOR[r.state] ?? 'Default',
        showId: r.id,
      }),
    ),
    emptyText: `${accessPackage.displayName} has no requests${stateText}.`,
    footer: 'Type show and an id for one request with its history.',
    pager: pager(ADMIN_QUERY_VERBS.requests, accessPackage.id, state ?? '', page),
  };
}

const FILTER_TEXT: Record<string, string> = { active: 'active', all: 'in all (ended ones too)' };

export function assignmentListCard(result: { accessPackage: PackageRef; filter: AssignmentFilter; page: Paged<AssignmentRow> }) {
  const { accessPackage, filter, page } = result;
  const which = FILTER_TEXT[filter] ?? `in state ${filter}`;
  return {
    title: `Assignments: ${accessPackage.displayName}`,
    summary: `${plural(page.total, 'assignment')} ${which}, newest first${pageText(page)} · package ${accessPackage.id}`,
    items: page.items.map(
      (a): ListItem => ({
        heading: inlineText(a.userName),
        text: `${assignmentStateText(a.state)} · since ${formatInstant(a.startAt)} · ${a.expiresAt ? `ends ${formatInstant(a.expiresAt)}` : 'no end date'}`,
        meta: a.id,
        color: ASSIGNMENT_COLOR[a.state] ?? 'Default',
        showId: a.id,
      }),
    ),
    emptyText: filter === 'active' ? `Nobody has ${accessPackage.displayName} at the moment. Add "all" to see ended assignments too.` : `${accessPackage.displayName} has no assignments ${which}.`,
    footer: `Type export assignments ${accessPackage.id}${filter === 'active' ? '' : ` ${filter}`} for a CSV of them all.`,
    pager: pager(ADMIN_QUERY_VERBS.assignments, accessPackage.id, filter, page),
  };
}

export function auditListCard(result: { description: string; events: AuditRow[] }, limit: number) {
  const { description, events } = result;
  const filters = description ? ` · ${description}` : '';
  return {
    title: 'Audit log',
    summary: events.length === 0 ? `No events${filters}` : `The newest ${plural(events.length, 'event')}, newest first${filters}`,
    items: events.map(
      (e): ListItem => ({
        heading: `${formatInstant(e.at)} · ${e.action}`,
        text: [`By ${inlineText(e.actorName)}`, e.userName ? `about ${inlineText(e.userName)}` : '', e.packageId ? `package ${e.packageId}` : ''].filter(Boolean).join(' · '),
        meta: inlineText(e.details),
        color: 'Default',
        showId: e.subjectId,
      }),
    ),
    emptyText: 'Nothing in the audit log matches. Widen the dates, or check the package id and user.',
    footer: events.length >= limit ? 'Only the newest events are shown: type export audit with the same filters for all of them as a CSV file.' : '',
    pager: [] as PagerButton[],
  };
}

interface Fact {
  title: string;
  value: string;
}

/** A FactSet row: Teams reads facts as markdown, so the value is escaped (literalText). */
function fact(title: string, value: string | undefined): Fact {
  return { title, value: value && value.trim() ? literalText(value) : '—' };
}

function historyLines(history: HistoryItem[]): { text: string }[] {
  return history.map((h) => ({ text: `${formatInstant(h.at)} · ${inlineText(h.who)} · ${inlineText(h.what)}${h.details ? ` — ${inlineText(h.details)}` : ''}` }));
}

function historyNote(truncated: boolean, shown: number): string {
  return truncated ? `The latest ${shown} entries; type export audit for the full log.` : '';
}

const OPEN_REQUEST_STATES: readonly RequestState[] = ['pendingApproval', 'scheduled'];

export function requestRecordCard(record: RequestRecord) {
  const { request } = record;
  const buttons = request.assignmentId ? [{ title: 'Show assignment', verb: ADMIN_QUERY_VERBS.show, id: request.assignmentId }] : [];
  const commands = [
    OPEN_REQUEST_STATES.includes(request.state) ? `cancel ${request.id} reason` : '',
    request.state === 'deliveryFailed' || request.state === 'partiallyDelivered' ? `reprocess ${request.id}` : '',
  ].filter(Boolean);
  return {
    title: `Request ${request.id}`,
    subtitle: record.stateText,
    color: REQUEST_COLOR[request.state] ?? 'Default',
    facts: [
      fact('Package', `${record.packageName} (${request.packageId})`),
      fact('Policy', `${record.policyName} (${request.policyId})`),
      fact('Kind', TYPE_TEXT[request.type] ?? request.type),
      fact('For', record.targetName),
      fact('Asked by', record.requesterName),
      fact('Sent', formatInstant(request.createdAt)),
      fact('Last change', formatInstant(request.updatedAt)),
      fact('State', request.state),
      fact('Justification', request.justification ? quoteUserText(request.justification, 1000) : undefined),
      fact('Starts', request.schedule.startAt ? formatInstant(request.schedule.startAt) : 'When delivered'),
      fact('Ends', request.schedule.expiresAt ? formatInstant(request.schedule.expiresAt) : 'As the policy says'),
      fact('Assignment', request.assignmentId),
    ],
    sections: [
      ...(record.answers.length > 0 ? [{ heading: 'Answers', lines: record.answers.map((a) => ({ text: `${inlineText(a.question)}: ${inlineText(a.answer)}` })) }] : []),
      ...(record.stages.length > 0 ? [{ heading: 'Approval', lines: record.stages.map((text) => ({ text: inlineText(text) })) }] : []),
    ],
    history: historyLines(record.history),
    historyNote: historyNote(record.historyTruncated, record.history.length),
    commands: commands.length > 0 ? `Admin commands: ${commands.join(' · ')}` : '',
    buttons,
  };
}

export function assignmentRecordCard(record: AssignmentRecord) {
  const { assignment } = record;
  const active = ['delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed'].includes(assignment.state);
  const failed = assignment.state === 'deliveryFailed' || assignment.state === 'partiallyDelivered';
  const buttons = [
    ...(failed ? [{ title: 'Reprocess', verb: 'reprocess', id: assignment.id }] : []),
    ...assignment.requestIds.slice(0, 3).map((id) => ({ title: `Show ${id}`, verb: ADMIN_QUERY_VERBS.show, id })),
  ];
  return {
    title: `Assignment ${assignment.id}`,
    subtitle: assignmentStateText(assignment.state),
    color: ASSIGNMENT_COLOR[assignment.state] ?? 'Default',
    facts: [
      fact('Package', `${record.packageName} (${assignment.packageId})`),
      fact('Policy', `${record.policyName} (${assignment.policyId})`),
      fact('User', record.userName),
      fact('State', assignment.state),
      fact('Started', formatInstant(assignment.startAt)),
      fact('Ends', assignment.expiresAt ? formatInstant(assignment.expiresAt) : 'No end date'),
      fact('Ended because', assignment.endReason),
      fact('Reprocessed', assignment.reprocessCount ? plural(assignment.reprocessCount, 'time') : undefined),
      fact('Requests', assignment.requestIds.join(', ')),
      fact('Created', formatInstant(assignment.createdAt)),
      fact('Last change', formatInstant(assignment.updatedAt)),
    ],
    sections: [
      {
        heading: 'Resource roles',
        lines: record.roles.length > 0 ? record.roles.map((r) => ({ text: `${r.name}: ${r.state}${r.error ? ` — ${quoteUserText(r.error, 300)}` : ''}` })) : [{ text: 'None: the package gives no resource roles.' }],
      },
    ],
    history: historyLines(record.history),
    historyNote: historyNote(record.historyTruncated, record.history.length),
    commands: active ? `Admin commands: remove ${assignment.id} reason · reprocess ${assignment.id}` : '',
    buttons,
  };
}

export function exportReadyCard(ready: ExportReady, linkMinutes: number) {
  const notes: { text: string; color: string }[] = [];
  if (ready.capped) notes.push({ text: `The file stops at ${EXPORT_ROW_CAP.toLocaleString('en-US')} rows and more matched: narrow the filters (for example with from and to) to get the rest.`, color: 'Warning' });
  if (ready.namesCapped) notes.push({ text: `Names were looked up for the first ${EXPORT_NAME_LOOKUPS.toLocaleString('en-US')} people; the others have their ids only.`, color: 'Warning' });
  notes.push({ text: `Anyone who has the link can download the file for ${plural(linkMinutes, 'minute')}: don't forward it. Run the export again for a new link.`, color: 'Default' });
  return {
    title: `Export ready: ${ready.title}`,
    facts: [
      fact('File', ready.filename),
      fact('Rows', ready.rowCount.toLocaleString('en-US')),
      fact('Filters', ready.filters || 'none'),
      fact('Link works until', formatInstant(ready.expiresAt)),
    ],
    notes,
    url: ready.url,
  };
}
