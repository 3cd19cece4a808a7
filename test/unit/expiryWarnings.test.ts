import { durationToMs } from '../../src/domain/duration';
import { type LifecycleStep, nextLifecycleStep, warningThresholds } from '../../src/domain/expiryWarnings';
import { describeTimeLeft, extensionPlan, maximumExpiry, resolveExpiry } from '../../src/domain/lifecycle';
import type { Assignment } from '../../src/domain/model';
import { makeLifecycle, makePolicy } from '../support/domainFixtures';
import { FakeClock } from '../support/fakeClock';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DEFAULT_OFFSETS = ['P14D', 'P1D', 'PT15M'].map((d) => durationToMs(d)!);
const START = new Date('2026-11-22T09:00:00.000Z');

function at(ms: number): Date {
  return new Date(START.getTime() + ms);
}

/**
 * The lifecycle job as the service runs it, on a fake clock: looks at the assignment only when
 * its stored check is due, and stores the step's `next` as the new check. Returns the warnings
 * sent (ms before expiry) and when it expired.
 */
function simulate(input: { expiresAt: Date; expirySetAt: Date; offsets?: number[]; tickMs: number; until: Date; clock?: FakeClock }) {
  const clock = input.clock ?? new FakeClock(input.expirySetAt);
  let checkAt: Date | undefined = input.expirySetAt;
  const warned: number[] = [];
  let expiredAt: Date | undefined;
  while (clock.now().getTime() <= input.until.getTime() && checkAt) {
    const now = clock.now();
    if (checkAt.getTime() <= now.getTime()) {
      const step: LifecycleStep = nextLifecycleStep({ expiresAt: input.expiresAt, expirySetAt: input.expirySetAt, checkAt, now }, input.offsets ?? DEFAULT_OFFSETS);
      if (step.kind === 'expire') {
        expiredAt = now;
        checkAt = undefined;
      } else {
        if (step.kind === 'warn') warned.push(step.offsetMs);
        checkAt = step.next;
      }
    }
    clock.advance(input.tickMs);
  }
  return { warned, expiredAt };
}

describe('warningThresholds', () => {
  it('uses every configured offset that fits inside the life, earliest first', () => {
    const thresholds = warningThresholds(at(90 * DAY), START, DEFAULT_OFFSETS);
    expect(thresholds.map((t) => t.offsetMs)).toEqual([14 * DAY, DAY, 15 * MINUTE]);
    expect(thresholds.map((t) => t.at.toISOString())).toEqual(['2027-02-06T09:00:00.000Z', '2027-02-19T09:00:00.000Z', '2027-02-20T08:45:00.000Z']);
  });

  it('skips thresholds at or before the moment the expiry was set (no "14 days" for a 10-day assignment)', () => {
    expect(warningThresholds(at(10 * DAY), START, DEFAULT_OFFSETS).map((t) => t.offsetMs)).toEqual([DAY, 15 * MINUTE]);
    // Exactly one day of life: the 1-day threshold is the start itself, so it does not count.
    expect(warningThresholds(at(DAY), START, DEFAULT_OFFSETS).map((t) => t.offsetMs)).toEqual([15 * MINUTE]);
    expect(warningThresholds(at(2 * HOUR), START, DEFAULT_OFFSETS).map((t) => t.offsetMs)).toEqual([15 * MINUTE]);
  });

  it('half-life rule: when no offset fits, one warning at half the life before expiry (PT2M → 1 minute before)', () => {
    expect(warningThresholds(at(2 * MINUTE), START, DEFAULT_OFFSETS)).toEqual([{ offsetMs: MINUTE, at: at(MINUTE) }]);
    expect(warningThresholds(at(15 * MINUTE), START, DEFAULT_OFFSETS)).toEqual([{ offsetMs: 7.5 * MINUTE, at: at(7.5 * MINUTE) }]);
    expect(warningThresholds(at(5 * MINUTE), START, [])).toEqual([{ offsetMs: 2.5 * MINUTE, at: at(2.5 * MINUTE) }]);
  });

  it('has nothing for an expiry at or before it was set', () => {
    expect(warningThresholds(START, START, DEFAULT_OFFSETS)).toEqual([]);
    expect(warningThresholds(at(-HOUR), START, DEFAULT_OFFSETS)).toEqual([]);
    expect(warningThresholds(at(1), START, DEFAULT_OFFSETS)).toEqual([]);
  });
});

describe('nextLifecycleStep', () => {
  const expiresAt = at(90 * DAY);
  const step = (checkAt: Date, now: Date, expirySetAt = START) => nextLifecycleStep({ expiresAt, expirySetAt, checkAt, now }, DEFAULT_OFFSETS);

  it('plans the first warning when the expiry is set', () => {
    expect(step(START, START)).toEqual({ kind: 'wait', next: at(76 * DAY) });
  });

  it('warns when a threshold is reached and plans the next one', () => {
    expect(step(at(76 * DAY), at(76 * DAY))).toEqual({ kind: 'warn', offsetMs: 14 * DAY, next: at(89 * DAY) });
    expect(step(at(89 * DAY), at(89 * DAY + MINUTE))).toEqual({ kind: 'warn', offsetMs: DAY, next: at(90 * DAY - 15 * MINUTE) });
    expect(step(at(90 * DAY - 15 * MINUTE), at(90 * DAY - 15 * MINUTE))).toEqual({ kind: 'warn', offsetMs: 15 * MINUTE, next: expiresAt });
  });

  it('a check looked at again (a replay) finds the warning already handled', () => {
    // After warning at the 14-day threshold the job stored the 1-day threshold as the next check.
    expect(step(at(89 * DAY), at(76 * DAY + HOUR))).toEqual({ kind: 'wait', next: at(89 * DAY) });
  });

  it('catch-up after a day of downtime: several thresholds passed → only the most imminent is sent', () => {
    // Planned for the 14-day threshold, but the bot was down until 12 hours before expiry.
    expect(step(at(76 * DAY), at(89.5 * DAY))).toEqual({ kind: 'warn', offsetMs: DAY, next: at(90 * DAY - 15 * MINUTE) });
    // Down until 5 minutes before the end: just the 15-minute warning.
    expect(step(at(76 * DAY), at(90 * DAY - 5 * MINUTE))).toEqual({ kind: 'warn', offsetMs: 15 * MINUTE, next: expiresAt });
  });

  it('catch-up past the expiry: no warning at all, it just expires', () => {
    expect(step(at(76 * DAY), at(91 * DAY))).toEqual({ kind: 'expire' });
    expect(step(at(89 * DAY), expiresAt)).toEqual({ kind: 'expire' });
  });

  it('an extension resets the warnings for the new expiry', () => {
    // Extended on day 89.5 to day 180: the new expiry's thresholds count from the extension.
    const extendedAt = at(89.5 * DAY);
    const newExpiry = at(180 * DAY);
    expect(nextLifecycleStep({ expiresAt: newExpiry, expirySetAt: extendedAt, checkAt: extendedAt, now: extendedAt }, DEFAULT_OFFSETS)).toEqual({ kind: 'wait', next: at(166 * DAY) });
    expect(simulate({ expiresAt: newExpiry, expirySetAt: extendedAt, tickMs: MINUTE, until: at(181 * DAY) }).warned).toEqual([14 * DAY, DAY, 15 * MINUTE]);
  });
});

describe('the job over time (fake clock)', () => {
  it('each warning is sent once, then the assignment expires, whatever the tick', () => {
    for (const tickMs of [15_000, MINUTE, 7 * MINUTE]) {
      const result = simulate({ expiresAt: at(30 * DAY), expirySetAt: START, tickMs, until: at(31 * DAY) });
      expect(result.warned).toEqual([14 * DAY, DAY, 15 * MINUTE]);
      expect(result.expiredAt!.getTime()).toBeGreaterThanOrEqual(at(30 * DAY).getTime());
      expect(result.expiredAt!.getTime()).toBeLessThan(at(30 * DAY).getTime() + tickMs);
    }
  });

  it('a tick longer than the last offset reaches the expiry first: that warning is skipped, not sent late', () => {
    const result = simulate({ expiresAt: at(30 * DAY), expirySetAt: START, tickMs: HOUR, until: at(31 * DAY) });
    expect(result).toEqual({ warned: [14 * DAY, DAY], expiredAt: at(30 * DAY) });
  });

  it('PT2M just-in-time: one warning a minute before, expiry at two minutes', () => {
    const result = simulate({ expiresAt: at(2 * MINUTE), expirySetAt: START, tickMs: 15_000, until: at(3 * MINUTE) });
    expect(result).toEqual({ warned: [MINUTE], expiredAt: at(2 * MINUTE) });
  });

  it('a day of downtime before expiry gives one warning, not a flood', () => {
    const clock = new FakeClock(START);
    // The job ran at delivery, then not again until 20 hours before expiry.
    const first = nextLifecycleStep({ expiresAt: at(20 * DAY), expirySetAt: START, checkAt: START, now: START }, DEFAULT_OFFSETS);
    expect(first).toEqual({ kind: 'wait', next: at(6 * DAY) });
    clock.set(at(20 * DAY - 20 * HOUR));
    const caughtUp = nextLifecycleStep({ expiresAt: at(20 * DAY), expirySetAt: START, checkAt: at(6 * DAY), now: clock.now() }, DEFAULT_OFFSETS);
    expect(caughtUp).toEqual({ kind: 'warn', offsetMs: DAY, next: at(20 * DAY - 15 * MINUTE) });
  });

  it('custom offsets are honoured (EXPIRY_WARNINGS)', () => {
    const offsets = ['P7D', 'PT1H'].map((d) => durationToMs(d)!);
    expect(simulate({ expiresAt: at(10 * DAY), expirySetAt: START, offsets, tickMs: MINUTE, until: at(11 * DAY) }).warned).toEqual([7 * DAY, HOUR]);
  });
});

describe('expiration types (what the job gets to see)', () => {
  it('noExpiration: no expiry, so nothing is ever checked', () => {
    const lifecycle = makeLifecycle({ expiration: { type: 'noExpiration' } });
    expect(maximumExpiry(lifecycle, START)).toBeUndefined();
    expect(resolveExpiry(lifecycle, START)).toEqual({ ok: true });
  });

  it('onDate: capped at the date; warnings count back from it', () => {
    const lifecycle = makeLifecycle({ expiration: { type: 'onDate', date: new Date('2026-12-01T00:00:00Z') } });
    const resolved = resolveExpiry(lifecycle, START);
    expect(resolved).toEqual({ ok: true, expiresAt: new Date('2026-12-01T00:00:00Z') });
    expect(resolveExpiry(lifecycle, START, new Date('2026-12-05T00:00:00Z')).ok).toBe(false);
    expect(warningThresholds(new Date('2026-12-01T00:00:00Z'), START, DEFAULT_OFFSETS).map((t) => t.offsetMs)).toEqual([DAY, 15 * MINUTE]);
  });

  it('afterDuration: PT2M and PT2H just-in-time, counted from the start', () => {
    expect(maximumExpiry(makeLifecycle({ expiration: { type: 'afterDuration', duration: 'PT2M' } }), START)).toEqual(at(2 * MINUTE));
    expect(maximumExpiry(makeLifecycle({ expiration: { type: 'afterDuration', duration: 'PT2H' } }), at(DAY))).toEqual(at(DAY + 2 * HOUR));
  });

  it('a requester-chosen end within the limit is kept; beyond it is refused', () => {
    const lifecycle = makeLifecycle({ expiration: { type: 'afterDuration', duration: 'P30D' }, requestorCanChooseSchedule: true });
    expect(resolveExpiry(lifecycle, START, at(10 * DAY))).toEqual({ ok: true, expiresAt: at(10 * DAY) });
    expect(resolveExpiry(lifecycle, START, at(31 * DAY))).toMatchObject({ ok: false, message: expect.stringContaining('at most 30 days') });
  });
});

describe('extension limits', () => {
  const assignment = (expiresAt: Date): Assignment => ({
    id: 'a1',
    packageId: 'accounting',
    policyId: 'employees',
    userId: 'u-fred',
    state: 'delivered',
    startAt: START,
    expiresAt,
    roles: [],
    requestIds: [],
    createdAt: START,
    updatedAt: START,
  });

  it('a just-in-time extension from the warning adds the duration from now', () => {
    const policy = makePolicy({ lifecycle: makeLifecycle({ expiration: { type: 'afterDuration', duration: 'PT2M' }, extension: { allowed: true, requiresApproval: false } }) });
    expect(extensionPlan({ assignment: assignment(at(2 * MINUTE)), policy, now: at(MINUTE) })).toEqual({ allowed: true, newExpiresAt: at(3 * MINUTE), requiresApproval: false });
  });

  it('never past an onDate policy date, and not at all once it has passed or the access ended', () => {
    const policy = makePolicy({ lifecycle: makeLifecycle({ expiration: { type: 'onDate', date: at(10 * DAY) } }) });
    expect(extensionPlan({ assignment: assignment(at(5 * DAY)), policy, now: at(4 * DAY) })).toMatchObject({ allowed: true, newExpiresAt: at(10 * DAY) });
    expect(extensionPlan({ assignment: assignment(at(10 * DAY)), policy, now: at(9 * DAY) })).toMatchObject({ allowed: false });
    expect(extensionPlan({ assignment: assignment(at(5 * DAY)), policy, now: at(5 * DAY) })).toMatchObject({ allowed: false, message: expect.stringContaining('already ended') });
  });
});

describe('describeTimeLeft', () => {
  it.each([
    [14 * DAY, '14 days'],
    [13.9 * DAY, '14 days'],
    [DAY, '1 day'],
    [DAY + 4 * HOUR, '1 day 4 hours'],
    [20 * HOUR, '20 hours'],
    [HOUR + 30 * MINUTE, '1 hour 30 minutes'],
    [15 * MINUTE, '15 minutes'],
    [MINUTE, '1 minute'],
    [20_000, 'less than a minute'],
  ])('%i ms → %s', (ms, words) => {
    expect(describeTimeLeft(ms)).toBe(words);
  });
});
