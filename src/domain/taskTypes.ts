// Every durable task type in one place, and how the outbox runs each: its lane (a pool of
// workers of its own, so work that changes access never queues behind messages), its priority
// inside the lane, and the key of tasks that must never run at the same time. Pure: the task
// repository stamps these on each task when it is queued, the task runner claims by them.

/** Hand-over from self-service to approval and delivery (services/workflow.ts, approvals.ts). */
export const WORKFLOW_TASKS = {
  startApproval: 'request.startApproval',
  deliver: 'request.deliver',
  cancelApproval: 'request.cancelApproval',
  remove: 'assignment.remove',
  approvalTimeout: 'approval.timeout',
  approvalEscalation: 'approval.escalate',
  approvalReminder: 'approval.remind',
} as const;

/** One resource role granted or removed in the directory (services/delivery.ts). */
export const DELIVERY_TASKS = {
  grant: 'grant.add',
  revoke: 'grant.remove',
} as const;

/** A card sent or updated in Teams (services/notifications.ts, bot/notifier.ts). */
export const NOTIFY_TASKS = {
  send: 'notify.send',
  update: 'notify.update',
} as const;

/** The daily admin digest (services/digest.ts). */
export const DIGEST_TASK = 'admin.digest';

export type TaskType =
  | (typeof WORKFLOW_TASKS)[keyof typeof WORKFLOW_TASKS]
  | (typeof DELIVERY_TASKS)[keyof typeof DELIVERY_TASKS]
  | (typeof NOTIFY_TASKS)[keyof typeof NOTIFY_TASKS]
  | typeof DIGEST_TASK;

/**
 * - access: grants, removals, expiry (and the request.deliver that starts a grant). Removals
 *   come first: revocation never waits behind anyone.
 * - approvals: starting approval stages, timeouts, escalations, reminders. It leads to access,
 *   but what it produces is cards (queued as messages), so it neither waits behind messages nor
 *   holds up removals.
 * - messages: cards sent and updated in Teams: approval cards first, expiry warnings and
 *   digests after every other notice.
 * - housekeeping: the daily digest (and any task type the app does not know).
 */
export const LANES = ['access', 'approvals', 'messages', 'housekeeping'] as const;
export type Lane = (typeof LANES)[number];

/** Inside a lane, lower runs first (then oldest due first). */
export const PRIORITY = { urgent: 0, normal: 1, bulk: 2 } as const;
export const PRIORITIES: readonly number[] = [PRIORITY.urgent, PRIORITY.normal, PRIORITY.bulk];

const ROUTES: Record<TaskType, { lane: Lane; priority: number }> = {
  [DELIVERY_TASKS.revoke]: { lane: 'access', priority: PRIORITY.urgent },
  [WORKFLOW_TASKS.remove]: { lane: 'access', priority: PRIORITY.urgent },
  [DELIVERY_TASKS.grant]: { lane: 'access', priority: PRIORITY.normal },
  [WORKFLOW_TASKS.deliver]: { lane: 'access', priority: PRIORITY.normal },
  [WORKFLOW_TASKS.startApproval]: { lane: 'approvals', priority: PRIORITY.normal },
  [WORKFLOW_TASKS.cancelApproval]: { lane: 'approvals', priority: PRIORITY.normal },
  [WORKFLOW_TASKS.approvalTimeout]: { lane: 'approvals', priority: PRIORITY.normal },
  [WORKFLOW_TASKS.approvalEscalation]: { lane: 'approvals', priority: PRIORITY.normal },
  [WORKFLOW_TASKS.approvalReminder]: { lane: 'approvals', priority: PRIORITY.bulk },
  [NOTIFY_TASKS.send]: { lane: 'messages', priority: PRIORITY.normal },
  [NOTIFY_TASKS.update]: { lane: 'messages', priority: PRIORITY.normal },
  [DIGEST_TASK]: { lane: 'housekeeping', priority: PRIORITY.normal },
};

/** Cards someone has to act on (an approver): sent before notices (cards/*.json names). */
const URGENT_CARD_TEMPLATES: ReadonlySet<string> = new Set(['approvalRequest']);
/** Cards nobody is waiting on at that moment: sent after every other message. */
const BULK_CARD_TEMPLATES: ReadonlySet<string> = new Set(['expiryWarning', 'adminDigest']);

export interface TaskRoute {
  lane: Lane;
  priority: number;
  /**
   * Tasks with the same key never run at the same time (on any instance): the grant ledger
   * of one user, one tracked card, one request's approval.
   */
  serialKey?: string;
}

/** How the outbox runs a task of `type` with `payload`. */
export function routeTask(type: string, payload: Record<string, unknown>): TaskRoute {
  const route = (ROUTES as Record<string, { lane: Lane; priority: number } | undefined>)[type] ?? { lane: 'housekeeping', priority: PRIORITY.normal };
  const serialKey = serialKeyOf(type, payload);
  let { priority } = route;
  if (type === NOTIFY_TASKS.send && URGENT_CARD_TEMPLATES.has(templateOf(payload))) priority = PRIORITY.urgent;
  if (type === NOTIFY_TASKS.send && BULK_CARD_TEMPLATES.has(templateOf(payload))) priority = PRIORITY.bulk;
  return { lane: route.lane, priority, ...(serialKey ? { serialKey } : {}) };
}

function serialKeyOf(type: string, payload: Record<string, unknown>): string | undefined {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined);
  switch (type) {
    case DELIVERY_TASKS.grant:
    case DELIVERY_TASKS.revoke: {
      // The ledger row of (user, resource, role) is read, decided on, and written around a
      // directory call: two writers of one user's rows must take turns. Tasks queued before
      // payloads carried the user fall back to their assignment.
      const user = text(payload.userId);
      if (user) return `user:${user}`;
      const assignment = text(payload.assignmentId);
      return assignment ? `assignment:${assignment}` : undefined;
    }
    case NOTIFY_TASKS.update:
    case NOTIFY_TASKS.send: {
      // A tracked card and its updates: "newer card wins" is read, then written to Teams.
      const trackAs = text(payload.trackAs);
      return trackAs ? `card:${trackAs}` : undefined;
    }
    case WORKFLOW_TASKS.startApproval:
    case WORKFLOW_TASKS.cancelApproval:
    case WORKFLOW_TASKS.approvalTimeout:
    case WORKFLOW_TASKS.approvalEscalation:
    case WORKFLOW_TASKS.approvalReminder: {
      const request = text(payload.requestId);
      return request ? `request:${request}` : undefined;
    }
    default:
      return undefined;
  }
}

function templateOf(payload: Record<string, unknown>): string {
  const card = payload.card;
  return typeof card === 'object' && card !== null && typeof (card as { template?: unknown }).template === 'string' ? (card as { template: string }).template : '';
}
