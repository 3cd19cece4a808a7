// Formats of single values in the catalog file: our ids, Entra object ids, ISO 8601
// durations, dates and regular expressions. Each check returns a message, or undefined when
// the value is fine.

import { addDuration, isZeroDuration, parseDuration } from '../domain/duration';

// Our own ids (catalogs, resources, packages, policies, questions) appear in card data,
// deep links and the policy store key "<package>/<policy>": letters, digits, '.', '_', '-'.
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ID_MAX_LENGTH = 128;

export function idProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.length > ID_MAX_LENGTH) return `must be at most ${ID_MAX_LENGTH} characters`;
  if (!ID_PATTERN.test(value)) {
    return `'${value}' is not a valid id: use letters, digits, '.', '_' and '-', starting with a letter or digit`;
  }
  return undefined;
}

/** Entra object ids. Real ones are GUIDs, but readable ids (examples, local directory) are fine too. */
export function objectIdProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (/\s/.test(value)) return `'${value}' is not a valid object id: it contains whitespace`;
  return undefined;
}

/** Durations must be ISO 8601, longer than zero, and short enough to land on a real date. */
export function durationProblem(value: string): string | undefined {
  const duration = parseDuration(value);
  if (!duration) return `'${value}' is not an ISO 8601 duration (e.g. P14D, P3M, PT8H, PT30M)`;
  if (isZeroDuration(duration)) return `'${value}' is zero: give a duration longer than zero`;
  try {
    addDuration(new Date(), duration);
  } catch {
    return `'${value}' is too long`;
  }
  return undefined;
}

export function regexProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty (leave regex out to accept any answer)';
  try {
    new RegExp(value);
    return undefined;
  } catch (error) {
    // V8 says "Invalid regular expression: /([/: Unterminated character class"; keep the reason.
    const reason = (error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return `not a valid regular expression: ${reason}`;
  }
}

// A date alone means 00:00 UTC that day; a date-time must say its offset, because the bot's
// clock and the admin's may be in different time zones.
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

export function dateProblem(value: string): string | undefined {
  return parseDateText(value) === undefined
    ? `'${value}' is not a date: use YYYY-MM-DD (00:00 UTC) or a date-time with offset, e.g. 2026-06-30T17:00:00+02:00`
    : undefined;
}

/** The instant a valid date text denotes; undefined when it is not a valid date. */
export function parseDateText(value: string): Date | undefined {
  const match = DATE_ONLY.exec(value) ?? DATE_TIME.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Date.parse would quietly roll 2025-02-30 over to 2 March; compare the calendar day instead.
  const calendarDay = new Date(Date.UTC(year, month - 1, day));
  if (calendarDay.getUTCFullYear() !== year || calendarDay.getUTCMonth() !== month - 1 || calendarDay.getUTCDate() !== day) return undefined;
  const hour = match[4] === undefined ? 0 : Number(match[4]);
  const minute = match[5] === undefined ? 0 : Number(match[5]);
  const second = match[6] === undefined ? 0 : Number(match[6]);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
