// How long an assignment lasts and whether it may be extended (DESIGN.md §3 lifecycle).
// Pure: `now` and start instants are always parameters. All calendar arithmetic is UTC.
//
// Entra semantics followed here: afterDuration counts from the assignment's start (when it is
// approved and delivered, not when it was requested); an onDate policy caps every assignment
// and every extension at that date; "require approval to grant extension" reuses the
// policy's approval settings, so it only means something when the policy requires approval.

import { addDuration, durationToMs, parseDuration } from './duration';
import type { Assignment, Lifecycle, Policy } from './model';
import { ACTIVE_ASSIGNMENT_STATES } from './model';

export type ExpiryResolution = { ok: true; expiresAt?: Date } | { ok: false; message: string };

export type ExtensionPlan = { allowed: false; message: string } | { allowed: true; newExpiresAt?: Date; requiresApproval: boolean };

const MS_PER_DAY = 24 * 60 * 60 * 1000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The latest expiry the policy allows for an assignment starting at `startAt`; undefined when access never expires. */
export function maximumExpiry(lifecycle: Lifecycle, startAt: Date): Date | undefined {
  const expiration = lifecycle.expiration;
  switch (expiration.type) {
    case 'afterDuration':
      return addDuration(startAt, expiration.duration);
    case 'onDate':
      return new Date(expiration.date.getTime());
    case 'noExpiration':
      return undefined;
  }
}

/**
 * The expiry for an assignment starting at `startAt`: the requested end when the policy allows
 * it, else the policy's maximum. A requester may always ask for less than the maximum.
 */
export function resolveExpiry(lifecycle: Lifecycle, startAt: Date, requested?: Date): ExpiryResolution {
  const maximum = maximumExpiry(lifecycle, startAt);
  if (lifecycle.expiration.type === 'onDate' && maximum !== undefined && maximum.getTime() <= startAt.getTime()) {
    return { ok: false, message: `This package's access ended on ${formatDate(maximum)}, so it can't be granted any more.` };
  }
  if (requested === undefined) return maximum === undefined ? { ok: true } : { ok: true, expiresAt: maximum };
  if (Number.isNaN(requested.getTime())) return { ok: false, message: "The end date isn't a valid date." };
  if (requested.getTime() <= startAt.getTime()) {
    return { ok: false, message: 'Access must end after it starts: choose a later end date.' };
  }
  if (maximum !== undefined && requested.getTime() > maximum.getTime()) {
    return { ok: false, message: `Access to this package can last ${describeLimit(lifecycle, maximum)}: choose an earlier end date.` };
  }
  return { ok: true, expiresAt: new Date(requested.getTime()) };
}

/**
 * Whether the user may extend this assignment now, and to when. The caller must also check
 * that the user is still in the policy's scope (policyAdmits), as Entra requires.
 */
export function extensionPlan(input: { assignment: Assignment; policy: Policy; now: Date }): ExtensionPlan {
  const { assignment, policy, now } = input;
  const lifecycle = policy.lifecycle;
  const currentExpiry = assignment.expiresAt;

  // An assignment past its expiry is over even if the expiry job has not run yet.
  if (!ACTIVE_ASSIGNMENT_STATES.includes(assignment.state) || (currentExpiry !== undefined && currentExpiry.getTime() <= now.getTime())) {
    return refuse("Your access has already ended, so it can't be extended. Request the package again instead.");
  }
  if (currentExpiry === undefined) return refuse("Your access doesn't expire, so there's nothing to extend.");
  if (!lifecycle.extension.allowed) {
    return refuse("This package doesn't allow extensions. When your access ends, you can request it again.");
  }
  // "Enable new requests" off means the policy is being wound down: an extension is a request too.
  if (!policy.enabled) {
    return refuse("The policy that gave you this access isn't accepting requests any more, so it can't be extended. Ask IT if you still need it.");
  }
  const requiresApproval = lifecycle.extension.requiresApproval && policy.approval.required;

  const expiration = lifecycle.expiration;
  switch (expiration.type) {
    case 'noExpiration':
      // The policy has since been changed to never expire: extending lifts the expiry.
      return { allowed: true, requiresApproval };
    case 'onDate':
      if (expiration.date.getTime() <= now.getTime()) {
        return refuse(`This package's access ended on ${formatDate(expiration.date)}, so it can't be extended.`);
      }
      return extendTo(
        new Date(expiration.date.getTime()),
        currentExpiry,
        requiresApproval,
        `Your access already lasts until ${formatInstant(currentExpiry)}, the latest this package allows.`,
      );
    case 'afterDuration':
      return extendTo(
        addDuration(now, expiration.duration),
        currentExpiry,
        requiresApproval,
        `Your access already lasts until ${formatInstant(currentExpiry)}, and an extension now wouldn't add time. Try again closer to the end.`,
      );
  }
}

/** One line for cards: "Access lasts 90 days", "Access ends on 31 Dec 2026", ... */
export function describeExpiry(lifecycle: Lifecycle): string {
  const expiration = lifecycle.expiration;
  switch (expiration.type) {
    case 'noExpiration':
      return "Access doesn't expire";
    case 'onDate':
      return `Access ends on ${formatDate(expiration.date)}`;
    case 'afterDuration': {
      const ms = durationToMs(expiration.duration);
      // Years and months (ms === null) are never under a day.
      const justInTime = ms !== null && ms < MS_PER_DAY;
      return `Access lasts ${describeDuration(expiration.duration)}${justInTime ? ' (just-in-time)' : ''}`;
    }
  }
}

/** An ISO 8601 duration in words: P90D → "90 days", P1DT12H → "1 day 12 hours". Invalid text is returned as is. */
export function describeDuration(text: string): string {
  const duration = parseDuration(text);
  if (!duration) return text;
  const parts: [number, string][] = [
    [duration.years, 'year'],
    [duration.months, 'month'],
    [duration.weeks, 'week'],
    [duration.days, 'day'],
    [duration.hours, 'hour'],
    [duration.minutes, 'minute'],
    [duration.seconds, 'second'],
  ];
  const words = parts.filter(([count]) => count !== 0).map(([count, unit]) => `${count} ${unit}${count === 1 ? '' : 's'}`);
  return words.length === 0 ? '0 minutes' : words.join(' ');
}

/**
 * Time left in words, for warnings: "14 days", "1 day 4 hours", "2 hours", "1 hour 30 minutes",
 * "15 minutes", "less than a minute". Rounded to the minute; the exact instant is shown beside it.
 */
export function describeTimeLeft(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'less than a minute';
  const days = Math.floor(minutes / (24 * 60));
  const hours = Math.floor((minutes % (24 * 60)) / 60);
  const mins = minutes % 60;
  const unit = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  if (days >= 2) return unit(Math.round(minutes / (24 * 60)), 'day');
  if (days === 1) return hours > 0 ? `${unit(1, 'day')} ${unit(hours, 'hour')}` : unit(1, 'day');
  if (hours > 0) return mins > 0 ? `${unit(hours, 'hour')} ${unit(mins, 'minute')}` : unit(hours, 'hour');
  return unit(mins, 'minute');
}

/** A UTC calendar day as "31 Dec 2026": unambiguous in every locale, unlike 12/31 or 31/12. */
export function formatDate(date: Date): string {
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/** A UTC instant as "31 Dec 2026", with the time of day when it is not midnight (hours matter for just-in-time access). */
export function formatInstant(date: Date): string {
  const midnight = date.getUTCHours() === 0 && date.getUTCMinutes() === 0 && date.getUTCSeconds() === 0 && date.getUTCMilliseconds() === 0;
  if (midnight) return formatDate(date);
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
  return `${formatDate(date)} at ${time} UTC`;
}

function extendTo(newExpiresAt: Date, currentExpiry: Date, requiresApproval: boolean, noGainMessage: string): ExtensionPlan {
  // Refused rather than "extended" to an earlier or equal date, which would shorten access
  // or change nothing while still costing an approver's time.
  if (newExpiresAt.getTime() <= currentExpiry.getTime()) return refuse(noGainMessage);
  return { allowed: true, newExpiresAt, requiresApproval };
}

/** "at most 90 days" or "only until 31 Dec 2026". */
function describeLimit(lifecycle: Lifecycle, maximum: Date): string {
  const expiration = lifecycle.expiration;
  return expiration.type === 'afterDuration' ? `at most ${describeDuration(expiration.duration)}` : `only until ${formatDate(maximum)}`;
}

function refuse(message: string): ExtensionPlan {
  return { allowed: false, message };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
