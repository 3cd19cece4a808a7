// When an expiring assignment is warned and when it expires. Pure: every instant is a parameter.
//
// Warning thresholds are `expiresAt - offset` for the configured offsets (EXPIRY_WARNINGS,
// default 14 days, 1 day, 15 minutes). Rules:
// - A threshold counts only if it falls after `expirySetAt` (when the current expiry was set):
//   a 10-day assignment is never told "expires in 14 days" at delivery.
// - When no configured offset fits inside that life (a PT2M just-in-time assignment against
//   P14D, P1D, PT15M), there is ONE warning at half the life before expiry (PT2M: 1 minute).
// - The lifecycle job stores the next threshold as the next check (`lifecycleCheckAt`), so
//   thresholds before the stored check have been handled; no per-warning flags are kept.
// - When several thresholds passed since the last check (downtime), only the most imminent
//   is sent; at or past the expiry nothing is warned, the assignment just expires.

export type LifecycleStep =
  /** The expiry has come: remove the assignment. */
  | { kind: 'expire' }
  /** Warn now (the threshold `offsetMs` before expiry), then look again at `next`. */
  | { kind: 'warn'; offsetMs: number; next: Date }
  /** Nothing due: look again at `next`. */
  | { kind: 'wait'; next: Date };

export interface LifecycleFacts {
  expiresAt: Date;
  /** When the current expiry was set. */
  expirySetAt: Date;
  /** The stored lifecycleCheckAt this check was due at. */
  checkAt: Date;
  now: Date;
}

export interface WarningThreshold {
  offsetMs: number;
  at: Date;
}

/** The warnings an expiry gets, earliest first. `offsetsMs` are positive durations in ms. */
export function warningThresholds(expiresAt: Date, expirySetAt: Date, offsetsMs: readonly number[]): WarningThreshold[] {
  const end = expiresAt.getTime();
  const life = end - expirySetAt.getTime();
  if (life <= 0) return [];
  const fitting = [...new Set(offsetsMs)].filter((ms) => ms > 0 && ms < life).sort((a, b) => b - a);
  if (fitting.length > 0) return fitting.map((offsetMs) => ({ offsetMs, at: new Date(end - offsetMs) }));
  const half = Math.floor(life / 2);
  return half > 0 ? [{ offsetMs: half, at: new Date(end - half) }] : [];
}

/** What the lifecycle job does with an assignment whose check has fallen due. */
export function nextLifecycleStep(facts: LifecycleFacts, offsetsMs: readonly number[]): LifecycleStep {
  const now = facts.now.getTime();
  if (now >= facts.expiresAt.getTime()) return { kind: 'expire' };
  const thresholds = warningThresholds(facts.expiresAt, facts.expirySetAt, offsetsMs);
  const checkAt = facts.checkAt.getTime();
  const due = thresholds.filter((t) => t.at.getTime() >= checkAt && t.at.getTime() <= now);
  const next = thresholds.find((t) => t.at.getTime() > now)?.at ?? new Date(facts.expiresAt.getTime());
  const latest = due[due.length - 1];
  return latest ? { kind: 'warn', offsetMs: latest.offsetMs, next } : { kind: 'wait', next };
}
