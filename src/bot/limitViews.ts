// What a person reads when a per-person limit refuses them (docs/limits.md): what happened and
// when to try again, or what frees room.
import { noticeCard } from './views';

/** "40 seconds", "1 second", "1 minute": how long to wait, rounded up to a whole second. */
export function waitWords(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds >= 60 && seconds % 60 === 0) return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

/** The messages-and-card-actions limit, as a plain text answer. */
export function tooManyActivitiesText(what: 'message' | 'action', retryAfterMs: number): string {
  const sent = what === 'message' ? "You've sent me a lot of messages" : "You've pressed a lot of buttons";
  return `${sent} in the last minute. Try again in ${waitWords(retryAfterMs)}.`;
}

/** The same, as the small card answering a refused card action. */
export function tooManyActivitiesCard(retryAfterMs: number) {
  return noticeCard('Please slow down', tooManyActivitiesText('action', retryAfterMs), 'warning');
}

export function tooManyRequestsCard(retryAfterMs: number) {
  return noticeCard(
    'Please slow down',
    `You've sent a lot of requests in the last minute. Try again in ${waitWords(retryAfterMs)}.`,
    'warning',
    [{ title: 'My requests', verb: 'myRequests' }],
  );
}

export function tooManyOpenRequestsCard(open: number, limit: number) {
  return noticeCard(
    'Too many open requests',
    `You have ${open} open requests, and ${limit} is the most one person can have at a time. Cancel the ones you no longer need in my requests, or wait until approvers decide on some, then send this one again.`,
    'warning',
    [{ title: 'My requests', verb: 'myRequests' }],
  );
}
