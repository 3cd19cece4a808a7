// The admins' daily digest: when it is due, and what it says. Pure: the service gathers the
// facts (assignments, requests, policies, audit events, names) and passes the time in.
import { stageDeadline } from './approval';
import { formatDate, formatInstant } from './lifecycle';
import type { AccessRequest, Assignment, AuditEvent, Policy } from './model';

const DAY_MS = 24 * 60 * 60_000;

/** Requests whose automatic denial falls within this window are "timing out soon". */
export const TIMEOUT_WINDOW_MS = 2 * DAY_MS;
/** Escalations this recent are listed. */
export const ESCALATION_WINDOW_MS = DAY_MS;
/** The card stays short: a few lines per section, the rest counted. */
export const DIGEST_LIMITS = { packages: 15, perPackage: 3, failed: 10, timingOut: 10, escalated: 10 } as const;

// ---------------------------------------------------------------------------------------
// When: one digest per UTC day at a configured time of day.

/** "2026-11-22" for the UTC day of `date`. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function isUtcDay(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && utcDay(new Date(`${value}T00:00:00Z`)) === value;
}

export function addDays(day: string, days: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

/** The instant the digest of `day` is due, at `timeUtc` ("HH:MM"). */
export function digestSlot(day: string, timeUtc: string): Date {
  return new Date(`${day}T${timeUtc}:00.000Z`);
}

/** The latest digest time at or before `now` (today's once it has passed, else yesterday's). */
export function latestSlot(now: Date, timeUtc: string): { day: string; at: Date } {
  const today = utcDay(now);
  const at = digestSlot(today, timeUtc);
  if (at.getTime() <= now.getTime()) return { day: today, at };
  const yesterday = addDays(today, -1);
  return { day: yesterday, at: digestSlot(yesterday, timeUtc) };
}

/** The next digest time at or after `now`. */
export function nextSlot(now: Date, timeUtc: string): { day: string; at: Date } {
  const today = utcDay(now);
  const at = digestSlot(today, timeUtc);
  if (at.getTime() >= now.getTime()) return { day: today, at };
  const tomorrow = addDays(today, 1);
  return { day: tomorrow, at: digestSlot(tomorrow, timeUtc) };
}

/**
 * What a digest task for `day` should do when it runs at `now`. After downtime only the latest
 * missed day is sent: an older task hands over to that day instead of flooding admins with one
 * stale digest per missed day.
 */
export type DigestRun = { kind: 'wait'; until: Date } | { kind: 'send' } | { kind: 'superseded'; by: string };

export function digestRun(day: string, now: Date, timeUtc: string): DigestRun {
  const due = digestSlot(day, timeUtc);
  // The configured time moved later since the task was queued.
  if (due.getTime() > now.getTime()) return { kind: 'wait', until: due };
  const latest = latestSlot(now, timeUtc);
  return latest.day > day ? { kind: 'superseded', by: latest.day } : { kind: 'send' };
}

// ---------------------------------------------------------------------------------------
// What: the facts grouped for the card.

export interface ExpiringPackage {
  packageId: string;
  count: number;
  /** The soonest few, soonest first. */
  soonest: Assignment[];
}

/** Active assignments expiring in the window, per package, the package with the soonest expiry first. */
export function expiringByPackage(assignments: readonly Assignment[], perPackage: number = DIGEST_LIMITS.perPackage): ExpiringPackage[] {
  const byPackage = new Map<string, Assignment[]>();
  const sorted = [...assignments].filter((a) => a.expiresAt).sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime() || a.id.localeCompare(b.id));
  for (const assignment of sorted) {
    const list = byPackage.get(assignment.packageId) ?? [];
    list.push(assignment);
    byPackage.set(assignment.packageId, list);
  }
  return [...byPackage.entries()].map(([packageId, list]) => ({ packageId, count: list.length, soonest: list.slice(0, perPackage) }));
}

export interface TimingOut {
  request: AccessRequest;
  stage: number;
  stageCount: number;
  deadline: Date;
  /** Who can still decide the stage (primary and escalation approvers). */
  approverIds: string[];
}

/** Requests waiting for approval whose current stage is denied automatically within `windowMs`, soonest first. */
export function timingOutSoon(requests: readonly AccessRequest[], policyOf: (request: AccessRequest) => Policy | null | undefined, now: Date, windowMs: number = TIMEOUT_WINDOW_MS): TimingOut[] {
  const found: TimingOut[] = [];
  for (const request of requests) {
    if (request.state !== 'pendingApproval' || request.currentStage === undefined) continue;
    const stage = request.stages[request.currentStage];
    const definition = policyOf(request)?.approval.stages[request.currentStage];
    if (!stage?.startedAt || !definition) continue;
    const deadline = stageDeadline(definition, stage.startedAt);
    if (deadline.getTime() > now.getTime() + windowMs) continue;
    found.push({
      request,
      stage: request.currentStage,
      stageCount: policyOf(request)!.approval.stages.length,
      deadline,
      approverIds: [...new Set([...stage.approverIds, ...(stage.escalationApproverIds ?? [])])],
    });
  }
  return found.sort((a, b) => a.deadline.getTime() - b.deadline.getTime() || a.request.id.localeCompare(b.request.id));
}

/** Failed or partly delivered assignments, the most recent first. */
export function failedDeliveries(assignments: readonly Assignment[]): Assignment[] {
  return assignments
    .filter((a) => a.state === 'deliveryFailed' || a.state === 'partiallyDelivered')
    .sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime() || a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------------------------------
// The card's data (cards/adminDigest.json). Every bound field is always present.

export interface DigestFacts {
  now: Date;
  days: number;
  expiring: ExpiringPackage[];
  failed: Assignment[];
  timingOut: TimingOut[];
  escalations: AuditEvent[];
  /** A note at the top (catch-up after downtime, how the preview relates to the schedule); '' for none. */
  note: string;
}

/** Names for ids; an unknown id shows as itself. */
export interface DigestNames {
  user(id: string): string;
  package(id: string): string;
  /** "Finance team (Member)" for the failed roles of an assignment. */
  failedRoles(assignment: Assignment): string[];
}

export interface DigestLine {
  text: string;
}

export interface DigestCardData {
  title: string;
  subtitle: string;
  note: string;
  quiet: string;
  expiring: { heading: string; empty: string; packages: { name: string; summary: string; lines: DigestLine[] }[]; more: string };
  failed: { heading: string; empty: string; items: { id: string; title: string; detail: string }[]; more: string };
  timingOut: { heading: string; empty: string; items: { title: string; detail: string }[]; more: string };
  escalated: { heading: string; empty: string; items: { title: string; detail: string }[]; more: string };
}

const STATE_WORDS: Record<string, string> = { deliveryFailed: 'not delivered', partiallyDelivered: 'partly delivered' };

function more(total: number, shown: number): string {
  return total > shown ? `…and ${total - shown} more.` : '';
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "Nadia Okafor, Alex Wilber or 2 more" (at most `max` names). */
function names(ids: readonly string[], lookup: (id: string) => string, conjunction: 'or' | 'and', max = 3): string {
  const shown = ids.slice(0, max).map(lookup);
  if (ids.length > max) shown.push(`${ids.length - max} more`);
  if (shown.length <= 1) return shown[0] ?? 'nobody';
  return `${shown.slice(0, -1).join(', ')} ${conjunction} ${shown[shown.length - 1]}`;
}

export function digestCardData(facts: DigestFacts, name: DigestNames): DigestCardData {
  const { now, days } = facts;
  const expiringTotal = facts.expiring.reduce((sum, p) => sum + p.count, 0);
  const escalated = facts.escalations.slice(0, DIGEST_LIMITS.escalated);
  const quiet = expiringTotal === 0 && facts.failed.length === 0 && facts.timingOut.length === 0 && facts.escalations.length === 0;
  return {
    title: `Admin digest: ${formatDate(now)}`,
    subtitle: `As of ${formatInstant(now)}.`,
    note: facts.note,
    quiet: quiet ? 'All quiet: nothing expires soon, no delivery has failed, no request is about to time out and no approval was escalated.' : '',
    expiring: {
      heading: `Expiring in the next ${plural(days, 'day')}${expiringTotal > 0 ? ` (${expiringTotal})` : ''}`,
      empty: `Nothing expires in the next ${plural(days, 'day')}.`,
      packages: facts.expiring.slice(0, DIGEST_LIMITS.packages).map((p) => ({
        name: name.package(p.packageId),
        summary: `${plural(p.count, 'assignment')} expire${p.count === 1 ? 's' : ''}${p.count > p.soonest.length ? `; the soonest ${p.soonest.length}:` : ':'}`,
        lines: p.soonest.map((a) => ({ text: `${name.user(a.userId)}: ${formatInstant(a.expiresAt!)}` })),
      })),
      more: facts.expiring.length > DIGEST_LIMITS.packages ? `…and ${plural(facts.expiring.length - DIGEST_LIMITS.packages, 'more package')}.` : '',
    },
    failed: {
      heading: `Failed deliveries${facts.failed.length > 0 ? ` (${facts.failed.length})` : ''}`,
      empty: 'No delivery has failed.',
      items: facts.failed.slice(0, DIGEST_LIMITS.failed).map((a) => {
        const errors = [...new Set(a.roles.filter((r) => r.state === 'failed').map((r) => r.error ?? 'unknown error'))];
        const missing = name.failedRoles(a);
        return {
          id: a.id,
          title: `${name.package(a.packageId)} for ${name.user(a.userId)}: ${STATE_WORDS[a.state] ?? a.state}`,
          detail: `${missing.length > 0 ? `Not delivered: ${missing.join(', ')}. ` : ''}${errors.length > 0 ? `Reason: ${errors.join('; ')}. ` : ''}Assignment ${a.id}, since ${formatInstant(a.updatedAt)}.`,
        };
      }),
      more: more(facts.failed.length, DIGEST_LIMITS.failed),
    },
    timingOut: {
      heading: `Requests timing out soon${facts.timingOut.length > 0 ? ` (${facts.timingOut.length})` : ''}`,
      empty: 'No request is denied automatically in the next 2 days.',
      items: facts.timingOut.slice(0, DIGEST_LIMITS.timingOut).map((t) => ({
        title: `${name.package(t.request.packageId)} for ${name.user(t.request.targetUserId)} (${t.request.id})`,
        detail: `${t.stageCount > 1 ? `Step ${t.stage + 1} of ${t.stageCount}` : 'The approval'} is denied automatically ${t.deadline.getTime() <= now.getTime() ? 'now' : `on ${formatInstant(t.deadline)}`} ${t.approverIds.length > 0 ? `unless ${names(t.approverIds, name.user, 'or')} decides` : '; nobody is left to decide it'}.`,
      })),
      more: more(facts.timingOut.length, DIGEST_LIMITS.timingOut),
    },
    escalated: {
      heading: `Approvals escalated in the last 24 hours${facts.escalations.length > 0 ? ` (${facts.escalations.length})` : ''}`,
      empty: 'No approval was escalated.',
      items: escalated.map((e) => {
        const stage = typeof e.details?.stage === 'number' ? e.details.stage : 0;
        const added = Array.isArray(e.details?.addedApproverIds) ? (e.details.addedApproverIds as unknown[]).filter((id): id is string => typeof id === 'string') : [];
        return {
          title: `${e.packageId ? name.package(e.packageId) : 'A package'} for ${e.userId ? name.user(e.userId) : 'a user'}${e.requestId ? ` (${e.requestId})` : ''}`,
          detail: `Step ${stage + 1} was escalated on ${formatInstant(e.at)}${added.length > 0 ? ` to ${names(added, name.user, 'and')}` : ''}.`,
        };
      }),
      more: more(facts.escalations.length, DIGEST_LIMITS.escalated),
    },
  };
}
