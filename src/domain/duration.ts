// ISO 8601 durations (PnYnMnWnDTnHnMnS), as used by Entra for decision times, escalation
// and assignment lifetimes. Pure functions: no clock, no I/O.
//
// Semantics chosen so that "P1M" means what an administrator means by "one month":
// years and months are added on the calendar (in UTC, clamped to the end of a shorter month),
// while weeks, days, hours, minutes and seconds are fixed lengths (a day is 24 h in UTC,
// so a duration never drifts with daylight saving time).

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  /** May be fractional (PT1.5S). */
  seconds: number;
}

// Every component is optional, but at least one must be present (checked below: the
// pattern alone would accept "P" and "P1DT"). Only the seconds may carry a fraction;
// ISO 8601 allows "," as well as "." for it. Lower case designators are not ISO 8601.
const PATTERN =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;
const MS_PER_DAY = 24 * MS_PER_HOUR;

/** Parses an ISO 8601 duration; null when the text is not one (negative durations included). */
export function parseDuration(text: string): Duration | null {
  if (typeof text !== 'string') return null;
  const match = PATTERN.exec(text);
  if (!match) return null;
  const [, years, months, weeks, days, hours, minutes, seconds] = match;
  if ([years, months, weeks, days, hours, minutes, seconds].every((part) => part === undefined)) return null;
  // "P1DT" has a time designator with nothing after it: ISO 8601 forbids that.
  if (text.includes('T') && hours === undefined && minutes === undefined && seconds === undefined) return null;
  const duration: Duration = {
    years: toInteger(years),
    months: toInteger(months),
    weeks: toInteger(weeks),
    days: toInteger(days),
    hours: toInteger(hours),
    minutes: toInteger(minutes),
    seconds: seconds === undefined ? 0 : Number(seconds.replace(',', '.')),
  };
  // Absurdly large numbers would make dates invalid later; refuse them here instead.
  const parts = Object.values(duration);
  if (parts.some((n) => !Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER)) return null;
  return duration;
}

export function isValidDuration(text: string): boolean {
  return parseDuration(text) !== null;
}

/** True when every component is zero (P0D, PT0S): valid ISO 8601 but useless as a time limit. */
export function isZeroDuration(duration: Duration): boolean {
  return Object.values(duration).every((n) => n === 0);
}

/**
 * Milliseconds of the fixed-length part. Null when the duration has years or months,
 * whose length depends on the date they are added to (use addDuration then).
 */
export function durationToMs(duration: Duration | string): number | null {
  const d = typeof duration === 'string' ? parseDuration(duration) : duration;
  if (!d || d.years !== 0 || d.months !== 0) return null;
  return fixedMs(d);
}

/** `date` + `duration`. Throws on an invalid duration text (callers validate catalog input first) or an out-of-range result. */
export function addDuration(date: Date, duration: Duration | string): Date {
  const d = typeof duration === 'string' ? parseDuration(duration) : duration;
  if (!d) throw new RangeError(`not an ISO 8601 duration: ${String(duration)}`);
  const shifted = addCalendarMonths(date, d.years * 12 + d.months);
  const result = new Date(shifted.getTime() + fixedMs(d));
  // Past JavaScript's date range (about 275,000 years): an error, not an "Invalid Date" that
  // would silently compare false with everything.
  if (Number.isNaN(result.getTime())) throw new RangeError(`duration ${String(duration)} is too long`);
  return result;
}

/** Orders two durations by adding both to the same instant (so P1M and P30D compare sensibly). */
export function compareDurations(a: Duration | string, b: Duration | string, from: Date = new Date(0)): number {
  return addDuration(from, a).getTime() - addDuration(from, b).getTime();
}

function toInteger(part: string | undefined): number {
  return part === undefined ? 0 : Number(part);
}

function fixedMs(d: Duration): number {
  return (
    (d.weeks * 7 + d.days) * MS_PER_DAY +
    d.hours * MS_PER_HOUR +
    d.minutes * MS_PER_MINUTE +
    // Rounded so PT0.001S is exactly one millisecond despite binary floating point.
    Math.round(d.seconds * MS_PER_SECOND)
  );
}

/** Adds whole months in UTC; 31 January + 1 month is 28/29 February, not 2/3 March. */
function addCalendarMonths(date: Date, months: number): Date {
  if (months === 0) return new Date(date.getTime());
  const result = new Date(date.getTime());
  const day = result.getUTCDate();
  result.setUTCDate(1);
  result.setUTCMonth(result.getUTCMonth() + months);
  const lastDay = daysInUtcMonth(result.getUTCFullYear(), result.getUTCMonth());
  result.setUTCDate(Math.min(day, lastDay));
  return result;
}

function daysInUtcMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}
