// What admins type after the query commands (requests, assignments, audit, export), turned
// into filters, with a specific message for anything else. Pure: no I/O.
import type { AssignmentState, RequestState } from './model';

export type Parsed<T> = ({ ok: true } & T) | { ok: false; message: string };

const MS_PER_DAY = 24 * 60 * 60 * 1000;
export const MAX_PAGE = 100_000;

// Records (not arrays) so that a state added to the model without a word here fails to compile.
const REQUEST_STATE_WORDS: Record<RequestState, true> = {
  pendingApproval: true,
  scheduled: true,
  delivering: true,
  delivered: true,
  partiallyDelivered: true,
  deliveryFailed: true,
  denied: true,
  canceled: true,
  timedOut: true,
};
const ASSIGNMENT_STATE_WORDS: Record<AssignmentState, true> = {
  delivering: true,
  delivered: true,
  partiallyDelivered: true,
  deliveryFailed: true,
  expired: true,
  removed: true,
};

export const REQUEST_STATES = Object.keys(REQUEST_STATE_WORDS) as RequestState[];
export const ASSIGNMENT_STATES = Object.keys(ASSIGNMENT_STATE_WORDS) as AssignmentState[];

/** Which assignments a list shows: the active ones (default), every one, or one state. */
export type AssignmentFilter = 'active' | 'all' | AssignmentState;

/** A request state as typed, in any letter case; undefined when it is none. */
export function requestStateOf(text: string): RequestState | undefined {
  return REQUEST_STATES.find((s) => s.toLowerCase() === text.toLowerCase());
}

export function assignmentFilterOf(text: string): AssignmentFilter | undefined {
  const lower = text.toLowerCase();
  if (lower === 'active' || lower === 'all') return lower;
  return ASSIGNMENT_STATES.find((s) => s.toLowerCase() === lower);
}

export function unknownRequestState(text: string): string {
  return `There is no request state "${clip(text)}". Use one of: ${REQUEST_STATES.join(', ')}.`;
}

export function unknownAssignmentFilter(text: string): string {
  return `There is no assignment state "${clip(text)}". Use active (the default), all, or one of: ${ASSIGNMENT_STATES.join(', ')}.`;
}

/** "[state] [page N]" after the package id; the page is 1-based as people count. */
export function parseListArgs(args: readonly string[], example: string): Parsed<{ state?: string; page: number }> {
  let state: string | undefined;
  let page: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word.toLowerCase() === 'page') {
      if (page !== undefined) return { ok: false, message: `Give the page once, for example: ${example}.` };
      const parsed = pageNumber(args[i + 1]);
      if (!parsed.ok) return parsed;
      page = parsed.page;
      i++;
    } else if (state === undefined) {
      state = word;
    } else {
      return { ok: false, message: `I don't understand "${clip(word)}". The command is: ${example}.` };
    }
  }
  return { ok: true, ...(state === undefined ? {} : { state }), page: page ?? 1 };
}

/** A page number from a command word or a card button (a number or digits). */
export function pageNumber(value: unknown): Parsed<{ page: number }> {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^\d{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_PAGE) {
    return { ok: false, message: `"page" takes a page number from 1 to ${MAX_PAGE}${typeof value === 'string' && value ? `, not "${clip(value)}"` : ''}.` };
  }
  return { ok: true, page: Number(text) };
}

export interface AuditFilterWords {
  packageId?: string;
  /** An object id or a userPrincipalName, as typed. */
  user?: string;
  /** First instant included. */
  from?: Date;
  /** First instant no longer included (the day after "to"). */
  to?: Date;
}

const AUDIT_KEYWORDS = ['package', 'user', 'from', 'to'] as const;
export const AUDIT_EXAMPLE = 'audit package accounting user fredj@example.com from 2026-11-01 to 2026-11-30';

/** "[package id] [user x] [from YYYY-MM-DD] [to YYYY-MM-DD]" in any order, each at most once. */
export function parseAuditArgs(args: readonly string[]): Parsed<AuditFilterWords> {
  const seen = new Set<string>();
  const filters: AuditFilterWords = {};
  for (let i = 0; i < args.length; i += 2) {
    const keyword = args[i]!.toLowerCase();
    if (!(AUDIT_KEYWORDS as readonly string[]).includes(keyword)) {
      return { ok: false, message: `"${clip(args[i]!)}" is not a filter. Filters are package, user, from and to, each followed by a value, for example: ${AUDIT_EXAMPLE}.` };
    }
    if (seen.has(keyword)) return { ok: false, message: `Give "${keyword}" once.` };
    seen.add(keyword);
    const value = args[i + 1];
    if (value === undefined) return { ok: false, message: `"${keyword}" needs a value, for example: ${AUDIT_EXAMPLE}.` };
    if (keyword === 'package') filters.packageId = value;
    else if (keyword === 'user') filters.user = value;
    else {
      const day = utcDay(value);
      if (!day) return { ok: false, message: `"${clip(value)}" is not a date: write it as YYYY-MM-DD, for example 2026-11-01.` };
      if (keyword === 'from') filters.from = day;
      else filters.to = new Date(day.getTime() + MS_PER_DAY);
    }
  }
  if (filters.from && filters.to && filters.from.getTime() >= filters.to.getTime()) {
    return { ok: false, message: 'The "from" date is after the "to" date: nothing can match.' };
  }
  return { ok: true, ...filters };
}

/** Midnight UTC of a real calendar day written YYYY-MM-DD; undefined otherwise (2026-02-30 too). */
export function utcDay(text: string): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? date : undefined;
}

/** Echoed input is cut short, on one line. */
export function clip(text: string, max = 40): string {
  const single = text.replace(/\s+/g, ' ').trim();
  return single.length > max ? `${single.slice(0, max - 1)}…` : single;
}
