import {
  addDuration,
  compareDurations,
  durationToMs,
  isValidDuration,
  isZeroDuration,
  parseDuration,
} from '../../src/domain/duration';

const zero = { years: 0, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0 };

describe('parseDuration', () => {
  it.each([
    ['P14D', { days: 14 }],
    ['P1Y2M3W4DT5H6M7S', { years: 1, months: 2, weeks: 3, days: 4, hours: 5, minutes: 6, seconds: 7 }],
    ['PT2H', { hours: 2 }],
    ['PT30M', { minutes: 30 }],
    ['P1M', { months: 1 }],
    ['PT1M', { minutes: 1 }],
    ['PT1.5S', { seconds: 1.5 }],
    ['PT0,25S', { seconds: 0.25 }],
    ['P2W', { weeks: 2 }],
    ['P0D', {}],
    ['P365D', { days: 365 }],
  ])('parses %s', (text, expected) => {
    expect(parseDuration(text)).toEqual({ ...zero, ...expected });
  });

  it.each([
    ['', 'empty'],
    ['P', 'no components'],
    ['PT', 'no time components'],
    ['P1DT', 'time designator without components'],
    ['-P1D', 'negative'],
    ['P-1D', 'negative component'],
    ['14D', 'missing P'],
    ['p14d', 'lower case'],
    ['P1.5D', 'fraction outside seconds'],
    ['PT1H30', 'dangling number'],
    ['P1D2H', 'time part without T'],
    ['PT1S1M', 'wrong order'],
    [' P1D', 'leading space'],
    ['P1D ', 'trailing space'],
    ['P99999999999999999999Y', 'too large'],
  ])('rejects %j (%s)', (text) => {
    expect(parseDuration(text)).toBeNull();
    expect(isValidDuration(text)).toBe(false);
  });

  it('rejects non-strings defensively', () => {
    expect(parseDuration(14 as unknown as string)).toBeNull();
  });
});

describe('addDuration', () => {
  const at = (iso: string) => new Date(iso);

  it('adds days as 24 hours in UTC', () => {
    expect(addDuration(at('2025-03-29T12:00:00Z'), 'P2D').toISOString()).toBe('2025-03-31T12:00:00.000Z');
  });

  it('adds hours, minutes and fractional seconds', () => {
    expect(addDuration(at('2025-01-01T23:00:00Z'), 'PT2H30M1.5S').toISOString()).toBe('2025-01-02T01:30:01.500Z');
  });

  it('adds weeks', () => {
    expect(addDuration(at('2025-01-01T00:00:00Z'), 'P1W').toISOString()).toBe('2025-01-08T00:00:00.000Z');
  });

  it('adds months on the calendar', () => {
    expect(addDuration(at('2025-01-15T08:00:00Z'), 'P1M').toISOString()).toBe('2025-02-15T08:00:00.000Z');
    expect(addDuration(at('2025-11-30T00:00:00Z'), 'P3M').toISOString()).toBe('2026-02-28T00:00:00.000Z');
  });

  it('clamps to the end of a shorter month', () => {
    expect(addDuration(at('2025-01-31T10:00:00Z'), 'P1M').toISOString()).toBe('2025-02-28T10:00:00.000Z');
    expect(addDuration(at('2024-01-31T10:00:00Z'), 'P1M').toISOString()).toBe('2024-02-29T10:00:00.000Z');
    expect(addDuration(at('2024-02-29T00:00:00Z'), 'P1Y').toISOString()).toBe('2025-02-28T00:00:00.000Z');
  });

  it('adds calendar months before the fixed part', () => {
    expect(addDuration(at('2025-01-31T00:00:00Z'), 'P1M1D').toISOString()).toBe('2025-03-01T00:00:00.000Z');
  });

  it('accepts a parsed Duration', () => {
    const d = parseDuration('P1Y')!;
    expect(addDuration(at('2025-06-01T00:00:00Z'), d).toISOString()).toBe('2026-06-01T00:00:00.000Z');
  });

  it('does not mutate the date it is given', () => {
    const start = at('2025-01-31T00:00:00Z');
    addDuration(start, 'P1M');
    expect(start.toISOString()).toBe('2025-01-31T00:00:00.000Z');
  });

  it('throws on an invalid duration', () => {
    expect(() => addDuration(new Date(), 'P')).toThrow(RangeError);
  });

  it('throws when the result is past the range of dates', () => {
    expect(() => addDuration(new Date(0), 'P999999Y')).toThrow(/too long/);
  });
});

describe('durationToMs', () => {
  it('converts fixed durations', () => {
    expect(durationToMs('PT30M')).toBe(30 * 60 * 1000);
    expect(durationToMs('P1W1DT1H')).toBe((8 * 24 + 1) * 3600 * 1000);
    expect(durationToMs('PT0.001S')).toBe(1);
  });

  it('returns null for calendar durations and invalid text', () => {
    expect(durationToMs('P1M')).toBeNull();
    expect(durationToMs('P1Y')).toBeNull();
    expect(durationToMs('nope')).toBeNull();
  });
});

describe('isZeroDuration / compareDurations', () => {
  it('recognises zero durations', () => {
    expect(isZeroDuration(parseDuration('PT0S')!)).toBe(true);
    expect(isZeroDuration(parseDuration('PT1S')!)).toBe(false);
  });

  it('orders durations', () => {
    expect(compareDurations('P3D', 'P14D')).toBeLessThan(0);
    expect(compareDurations('P1M', 'P30D')).toBeGreaterThan(0); // January has 31 days
    expect(compareDurations('PT24H', 'P1D')).toBe(0);
  });
});
