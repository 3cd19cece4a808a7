// Formats of single values in the catalog file: our ids, Entra object ids, ISO 8601
// durations, dates and regular expressions (RE2 syntax). Each check returns a message, or
// undefined when the value is fine.

import { answerPatternProblem } from '../domain/answerPattern';
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

/**
 * A question's regex must run on RE2, the linear-time engine answers are checked with
 * (domain/answerPattern.ts): JavaScript's backtracking RegExp can take seconds on one hostile
 * answer. Each refusal says why and what to write instead.
 */
export function regexProblem(value: string, maxLength: number): string | undefined {
  const problem = answerPatternProblem(value, maxLength);
  if (problem === undefined) return undefined;
  const engine = "the bot checks answers with RE2, a regex engine whose time can't blow up on a hostile answer, and RE2";
  switch (problem.kind) {
    case 'empty':
      return 'must not be empty (leave regex out to accept any answer)';
    case 'backreference':
      return `${problem.at} is a backreference: ${engine} has no backreferences. Write out what the group must match again (e.g. ([0-9]{2})-[0-9]{2} instead of ([0-9]{2})-\\1), or leave the check to the approvers`;
    case 'lookahead':
      return `${problem.at}…) is a lookahead: ${engine} has no lookarounds. Describe the answer from left to right instead (e.g. ^[A-Z][0-9]{6}$), or ask for each condition in a question of its own`;
    case 'lookbehind':
      return `${problem.at}…) is a lookbehind: ${engine} has no lookarounds. Describe the answer from left to right instead (e.g. ^[A-Z][0-9]{6}$), or ask for each condition in a question of its own`;
    case 'atomicOrPossessive':
      return `${problem.at} (atomic group or possessive quantifier) is not supported by RE2 and not needed: RE2 never backtracks. Use a plain group (?:…) or quantifier (+, *) instead`;
    case 'unicodeEscape':
      return `\\u is JavaScript syntax RE2 doesn't read: write a character by its code as \\x{00E9} (or type the character itself)`;
    case 'controlEscape':
      return `\\c is JavaScript syntax RE2 doesn't read: write a control character by its code, e.g. \\x01 for \\cA`;
    case 'anyCharacterClass':
      return `[^] is JavaScript syntax RE2 doesn't read: write [\\s\\S] or (?s:.) for "any character, newlines included"`;
    case 'repeatTooLarge':
      return `${problem.at}: RE2 repeats at most 1000 times. To limit how long the answer is, set maxLength instead`;
    case 'unclosedQuote':
      return 'a \\Q quote must be closed with \\E';
    case 'tooComplex':
      return (
        `too complex to check a ${problem.maxLength}-character answer quickly (RE2 program size ${problem.programSize}; ` +
        `the limit for maxLength ${problem.maxLength} is ${problem.limit}). Simplify it (large counts such as {1,200} cost the most: ` +
        'let maxLength bound the length), or lower maxLength'
      );
    case 'syntax':
      return `not a valid regular expression: ${problem.reason}${problem.at ? ` in ${problem.at}` : ''}`;
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
