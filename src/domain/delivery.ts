// Delivery rules: how an assignment's state follows from its resource roles, and how long to
// wait before trying a role again. Pure.

import type { AssignmentState, DeliveredRole } from './model';

/** The assignment's state once no role is still on its way; undefined while one is. */
export function deliveredState(roles: readonly DeliveredRole[]): AssignmentState | undefined {
  if (roles.some((r) => r.state === 'pending')) return undefined;
  const failed = roles.filter((r) => r.state === 'failed').length;
  if (failed === 0) return 'delivered';
  return failed === roles.length ? 'deliveryFailed' : 'partiallyDelivered';
}

/** Whether every role has been taken away (removal finished). */
export function removalFinished(roles: readonly DeliveredRole[]): boolean {
  return roles.every((r) => r.state === 'removed' || r.state === 'failed');
}

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** 0..1, e.g. from Math.random: spreads retries so a fleet doesn't retry in step. */
  random: number;
}

/**
 * Exponential back-off with ±20 % jitter, never earlier than the service asked (Retry-After).
 * `attempt` counts from 1 (the attempt that just failed).
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, options: BackoffOptions): number {
  const exponential = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exponential * (0.8 + 0.4 * options.random);
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}
