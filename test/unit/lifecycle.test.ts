import {
  describeDuration,
  describeExpiry,
  extensionPlan,
  formatDate,
  formatInstant,
  maximumExpiry,
  resolveExpiry,
} from '../../src/domain/lifecycle';
import type { AssignmentState, Expiration } from '../../src/domain/model';
import { NOW, makeAssignment, makeLifecycle, makePolicy } from '../support/domainFixtures';

const at = (iso: string) => new Date(iso);
const afterDuration = (duration: string): Expiration => ({ type: 'afterDuration', duration });
const onDate = (iso: string): Expiration => ({ type: 'onDate', date: at(iso) });
const never: Expiration = { type: 'noExpiration' };

describe('maximumExpiry', () => {
  it('adds the duration to the start for afterDuration', () => {
    expect(maximumExpiry(makeLifecycle({ expiration: afterDuration('P90D') }), NOW)).toEqual(at('2027-02-20T09:00:00.000Z'));
    expect(maximumExpiry(makeLifecycle({ expiration: afterDuration('PT2H') }), NOW)).toEqual(at('2026-11-22T11:00:00.000Z'));
    expect(maximumExpiry(makeLifecycle({ expiration: afterDuration('P1M') }), at('2027-01-31T00:00:00Z'))).toEqual(at('2027-02-28T00:00:00.000Z'));
  });

  it('is the date itself for onDate, whatever the start', () => {
    const lifecycle = makeLifecycle({ expiration: onDate('2026-12-31T00:00:00Z') });
    expect(maximumExpiry(lifecycle, NOW)).toEqual(at('2026-12-31T00:00:00Z'));
    expect(maximumExpiry(lifecycle, at('2030-01-01T00:00:00Z'))).toEqual(at('2026-12-31T00:00:00Z'));
  });

  it('returns a copy, so callers cannot alter the policy', () => {
    const lifecycle = makeLifecycle({ expiration: onDate('2026-12-31T00:00:00Z') });
    maximumExpiry(lifecycle, NOW)?.setUTCFullYear(2099);
    expect(maximumExpiry(lifecycle, NOW)).toEqual(at('2026-12-31T00:00:00Z'));
  });

  it('is undefined for noExpiration', () => {
    expect(maximumExpiry(makeLifecycle({ expiration: never }), NOW)).toBeUndefined();
  });

  it('throws on a duration the catalog should have rejected', () => {
    expect(() => maximumExpiry(makeLifecycle({ expiration: afterDuration('90 days') }), NOW)).toThrow(RangeError);
  });
});

describe('resolveExpiry', () => {
  const p90 = makeLifecycle({ expiration: afterDuration('P90D') });

  it('defaults to the maximum', () => {
    expect(resolveExpiry(p90, NOW)).toEqual({ ok: true, expiresAt: at('2027-02-20T09:00:00.000Z') });
    expect(resolveExpiry(makeLifecycle({ expiration: onDate('2026-12-31T00:00:00Z') }), NOW)).toEqual({
      ok: true,
      expiresAt: at('2026-12-31T00:00:00Z'),
    });
    expect(resolveExpiry(makeLifecycle({ expiration: never }), NOW)).toEqual({ ok: true });
  });

  it('accepts a requested end up to and including the maximum', () => {
    expect(resolveExpiry(p90, NOW, at('2026-12-01T00:00:00Z'))).toEqual({ ok: true, expiresAt: at('2026-12-01T00:00:00Z') });
    expect(resolveExpiry(p90, NOW, at('2027-02-20T09:00:00.000Z'))).toEqual({ ok: true, expiresAt: at('2027-02-20T09:00:00.000Z') });
  });

  it('refuses a requested end one millisecond past the maximum, stating the limit in words', () => {
    expect(resolveExpiry(p90, NOW, at('2027-02-20T09:00:00.001Z'))).toEqual({
      ok: false,
      message: 'Access to this package can last at most 90 days: choose an earlier end date.',
    });
    const jit = makeLifecycle({ expiration: afterDuration('PT2H') });
    expect(resolveExpiry(jit, NOW, at('2026-11-22T12:00:00Z'))).toEqual({
      ok: false,
      message: 'Access to this package can last at most 2 hours: choose an earlier end date.',
    });
    const dated = makeLifecycle({ expiration: onDate('2026-12-31T00:00:00Z') });
    expect(resolveExpiry(dated, NOW, at('2027-01-01T00:00:00Z'))).toEqual({
      ok: false,
      message: 'Access to this package can last only until 31 Dec 2026: choose an earlier end date.',
    });
  });

  it('lets a requester choose an end for a package that never expires', () => {
    expect(resolveExpiry(makeLifecycle({ expiration: never }), NOW, at('2030-01-01T00:00:00Z'))).toEqual({
      ok: true,
      expiresAt: at('2030-01-01T00:00:00Z'),
    });
  });

  it('refuses an end at or before the start', () => {
    const message = 'Access must end after it starts: choose a later end date.';
    expect(resolveExpiry(p90, NOW, NOW)).toEqual({ ok: false, message });
    expect(resolveExpiry(p90, NOW, at('2026-11-21T00:00:00Z'))).toEqual({ ok: false, message });
  });

  it('refuses an invalid requested date', () => {
    expect(resolveExpiry(p90, NOW, new Date(Number.NaN))).toEqual({ ok: false, message: "The end date isn't a valid date." });
  });

  it('refuses anything once an onDate policy has ended', () => {
    const ended = makeLifecycle({ expiration: onDate('2026-06-30T00:00:00Z') });
    const message = "This package's access ended on 30 Jun 2026, so it can't be granted any more.";
    expect(resolveExpiry(ended, NOW)).toEqual({ ok: false, message });
    expect(resolveExpiry(ended, NOW, at('2026-06-29T00:00:00Z'))).toEqual({ ok: false, message });
    // Boundary: a date equal to the start has ended too (access would last no time at all).
    expect(resolveExpiry(makeLifecycle({ expiration: { type: 'onDate', date: NOW } }), NOW)).toMatchObject({ ok: false });
  });
});

describe('extensionPlan', () => {
  const policy = makePolicy(); // P90D, extension allowed with approval, approval required
  const plan = (overrides: Parameters<typeof makePolicy>[0] = {}, assignment = makeAssignment(), now = NOW) =>
    extensionPlan({ assignment, policy: makePolicy(overrides), now });

  it('extends an active, expiring assignment to now + the policy duration', () => {
    expect(extensionPlan({ assignment: makeAssignment(), policy, now: NOW })).toEqual({
      allowed: true,
      newExpiresAt: at('2027-02-20T09:00:00.000Z'),
      requiresApproval: true,
    });
  });

  it.each<AssignmentState>(['delivering', 'delivered', 'partiallyDelivered', 'deliveryFailed'])('allows extending a %s assignment', (state) => {
    expect(plan({}, makeAssignment({ state }))).toMatchObject({ allowed: true });
  });

  it.each<AssignmentState>(['expired', 'removed'])('refuses a %s assignment', (state) => {
    expect(plan({}, makeAssignment({ state }))).toEqual({
      allowed: false,
      message: "Your access has already ended, so it can't be extended. Request the package again instead.",
    });
  });

  it('treats an assignment past its expiry as ended even before the expiry job ran', () => {
    expect(plan({}, makeAssignment({ expiresAt: NOW }))).toMatchObject({ allowed: false, message: expect.stringContaining('already ended') });
    expect(plan({}, makeAssignment({ expiresAt: at('2026-11-22T09:00:00.001Z') }))).toMatchObject({ allowed: true });
  });

  it('has nothing to extend when the assignment does not expire', () => {
    expect(plan({ lifecycle: { expiration: never } }, makeAssignment({ expiresAt: undefined }))).toEqual({
      allowed: false,
      message: "Your access doesn't expire, so there's nothing to extend.",
    });
    expect(plan({}, makeAssignment({ expiresAt: undefined }))).toMatchObject({ allowed: false, message: expect.stringContaining("doesn't expire") });
  });

  it('refuses when the policy does not allow extensions', () => {
    expect(plan({ lifecycle: { extension: { allowed: false, requiresApproval: true } } })).toEqual({
      allowed: false,
      message: "This package doesn't allow extensions. When your access ends, you can request it again.",
    });
  });

  it('refuses when the policy no longer accepts requests', () => {
    expect(plan({ enabled: false })).toEqual({
      allowed: false,
      message: "The policy that gave you this access isn't accepting requests any more, so it can't be extended. Ask IT if you still need it.",
    });
  });

  it('requires approval only when both the extension setting and the policy ask for it', () => {
    expect(plan({ lifecycle: { extension: { allowed: true, requiresApproval: true } } })).toMatchObject({ requiresApproval: true });
    expect(plan({ lifecycle: { extension: { allowed: true, requiresApproval: false } } })).toMatchObject({ requiresApproval: false });
    // Entra reuses the policy's approval settings: no approval stages, nothing to approve.
    expect(plan({ approval: { required: false } })).toMatchObject({ allowed: true, requiresApproval: false });
  });

  it('extends a just-in-time assignment by its duration from now', () => {
    const assignment = makeAssignment({ startAt: at('2026-11-22T08:00:00Z'), expiresAt: at('2026-11-22T10:00:00Z') });
    expect(plan({ lifecycle: { expiration: afterDuration('PT2H') } }, assignment)).toEqual({
      allowed: true,
      newExpiresAt: at('2026-11-22T11:00:00.000Z'),
      requiresApproval: true,
    });
  });

  it('refuses an extension that would not add time', () => {
    const longLasting = makeAssignment({ expiresAt: at('2027-03-01T00:00:00Z') });
    expect(plan({}, longLasting)).toEqual({
      allowed: false,
      message: "Your access already lasts until 1 Mar 2027, and an extension now wouldn't add time. Try again closer to the end.",
    });
    const exactlyEqual = makeAssignment({ expiresAt: at('2027-02-20T09:00:00.000Z') });
    expect(plan({}, exactlyEqual)).toMatchObject({ allowed: false });
    const jit = makeAssignment({ expiresAt: at('2026-11-22T10:30:00Z') });
    expect(plan({ lifecycle: { expiration: afterDuration('PT1H') } }, jit)).toMatchObject({
      allowed: false,
      message: expect.stringContaining('until 22 Nov 2026 at 10:30 UTC'),
    });
  });

  it('extends an onDate assignment to the policy date, never past it', () => {
    expect(plan({ lifecycle: { expiration: onDate('2027-06-30T00:00:00Z') } })).toEqual({
      allowed: true,
      newExpiresAt: at('2027-06-30T00:00:00Z'),
      requiresApproval: true,
    });
  });

  it('refuses to extend an onDate assignment already lasting until the policy date', () => {
    const assignment = makeAssignment({ expiresAt: at('2026-12-31T00:00:00Z') });
    expect(plan({ lifecycle: { expiration: onDate('2026-12-31T00:00:00Z') } }, assignment)).toEqual({
      allowed: false,
      message: 'Your access already lasts until 31 Dec 2026, the latest this package allows.',
    });
  });

  it("refuses once an onDate policy's date has passed", () => {
    // The assignment itself still runs (its expiry was set before the policy date changed).
    const assignment = makeAssignment({ expiresAt: at('2026-12-15T00:00:00Z') });
    const message = "This package's access ended on 22 Nov 2026, so it can't be extended.";
    expect(plan({ lifecycle: { expiration: { type: 'onDate', date: NOW } } }, assignment)).toEqual({ allowed: false, message });
    expect(plan({ lifecycle: { expiration: onDate('2026-11-01T00:00:00Z') } }, assignment)).toMatchObject({ allowed: false });
  });

  it('lifts the expiry when the policy has since changed to never expire', () => {
    expect(plan({ lifecycle: { expiration: never } })).toEqual({ allowed: true, requiresApproval: true });
  });
});

describe('describeExpiry', () => {
  it.each<[Expiration, string]>([
    [afterDuration('P90D'), 'Access lasts 90 days'],
    [afterDuration('P1D'), 'Access lasts 1 day'],
    [afterDuration('P1Y'), 'Access lasts 1 year'],
    [afterDuration('P1M'), 'Access lasts 1 month'],
    [afterDuration('PT2H'), 'Access lasts 2 hours (just-in-time)'],
    [afterDuration('PT30M'), 'Access lasts 30 minutes (just-in-time)'],
    [afterDuration('PT23H59M'), 'Access lasts 23 hours 59 minutes (just-in-time)'],
    [afterDuration('PT24H'), 'Access lasts 24 hours'],
    [onDate('2026-12-31T00:00:00Z'), 'Access ends on 31 Dec 2026'],
    [onDate('2027-01-05T23:00:00Z'), 'Access ends on 5 Jan 2027'],
    [never, "Access doesn't expire"],
  ])('%j → %s', (expiration, text) => {
    expect(describeExpiry(makeLifecycle({ expiration }))).toBe(text);
  });
});

describe('describeDuration', () => {
  it.each([
    ['P90D', '90 days'],
    ['PT2H', '2 hours'],
    ['P1Y', '1 year'],
    ['PT30M', '30 minutes'],
    ['P1DT12H', '1 day 12 hours'],
    ['P2W', '2 weeks'],
    ['P1W', '1 week'],
    ['P2Y6M', '2 years 6 months'],
    ['PT1H1M1S', '1 hour 1 minute 1 second'],
    ['PT1.5S', '1.5 seconds'],
    ['P0D', '0 minutes'],
  ])('%s → %s', (text, words) => {
    expect(describeDuration(text)).toBe(words);
  });

  it('returns text that is not a duration unchanged', () => {
    expect(describeDuration('forever')).toBe('forever');
  });
});

describe('formatDate and formatInstant', () => {
  it('formats the UTC calendar day', () => {
    expect(formatDate(at('2026-12-31T23:59:59.999Z'))).toBe('31 Dec 2026');
    expect(formatDate(at('2027-01-01T00:00:00Z'))).toBe('1 Jan 2027');
  });

  it('adds the UTC time of day only when it is not midnight', () => {
    expect(formatInstant(at('2027-01-01T00:00:00Z'))).toBe('1 Jan 2027');
    expect(formatInstant(at('2027-01-01T07:05:00Z'))).toBe('1 Jan 2027 at 07:05 UTC');
  });
});
