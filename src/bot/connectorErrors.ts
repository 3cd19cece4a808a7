// What a failed call to the Teams connector means for the notifier. botbuilder surfaces these
// as RestError (from @azure/core-rest-pipeline) with `statusCode`, `code` and the parsed body
// in `details`; network failures carry only a system `code` such as ECONNREFUSED.
//
// Status and error codes follow "Status codes from bot conversational APIs" in the Teams
// platform docs (bots/how-to/conversations/conversation-messages.md), which also says which
// ones to retry: 412, 429 (after Retry-After), 502, 503, 504, and nothing else.

export type FailureKind =
  /** 429: wait (Retry-After when given) and try again. */
  | 'throttled'
  /** 412, 502, 503, 504, network: try again with back-off. */
  | 'transient'
  /** 403 ConversationBlockedByUser / MessageWritesBlocked: the user blocked the bot. */
  | 'blocked'
  /** 404 ConversationNotFound: the chat is gone (e.g. the user removed the chat history). */
  | 'conversationNotFound'
  /** 404 ActivityNotFoundInConversation: the message to update is gone. */
  | 'activityNotFound'
  /** Anything else: retrying won't help (bad request, auth, not installed, too big, 500). */
  | 'permanent';

export interface ConnectorFailure {
  kind: FailureKind;
  status?: number;
  /** Teams' error code (or the subCode of a MessageWritesBlocked answer), or a system error code. */
  code?: string;
  /** The server's Retry-After, in milliseconds, when it sent one. */
  retryAfterMs?: number;
  message: string;
}

const RETRYABLE_STATUS = new Set([412, 502, 503, 504]);
const BLOCKED_CODES = new Set(['ConversationBlockedByUser', 'MessageWritesBlocked']);

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Headers as core-rest-pipeline exposes them (`get`), or a plain object. */
function header(headers: unknown, name: string): string | undefined {
  const h = record(headers);
  if (!h) return undefined;
  if (typeof h.get === 'function') {
    const value: unknown = (h.get as (n: string) => unknown).call(headers, name);
    return text(value);
  }
  return text(h[name]) ?? text(h[name.toLowerCase()]);
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * Teams' usual error body is `{"error":{"code","message"}}`; the blocked-bot answer documented
 * in "Proactive messages" is `{"errorCode":209,"message":"{ \"subCode\": \"MessageWritesBlocked\" … }"}`,
 * whose code hides inside a JSON string.
 */
function teamsCode(details: unknown, fallbackText: string): string | undefined {
  const body = record(details);
  const code = text(record(body?.error)?.code) ?? text(body?.code);
  if (code) return code;
  const subCode = /"subCode"\s*:\s*"([A-Za-z]+)"/.exec(`${text(body?.message) ?? ''} ${fallbackText}`);
  return subCode?.[1];
}

/** Reads any error botbuilder may throw for a connector call into one shape. */
export function describeConnectorError(error: unknown, nowMs: number): ConnectorFailure {
  const e = record(error);
  const message = error instanceof Error ? error.message : String(error);
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const response = record(e?.response);
  const bodyText = text(response?.bodyAsText) ?? '';
  const systemCode = text(e?.code);
  // With an HTTP answer, only Teams' own code means something (not e.g. PARSE_ERROR for an HTML 502 page).
  const code = status === undefined ? systemCode : teamsCode(e?.details, `${bodyText} ${message}`);
  const retryAfterMs = parseRetryAfter(header(response?.headers, 'retry-after'), nowMs);
  const failure = { status, code, message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };

  if (status === undefined) {
    // No HTTP answer: a network failure is worth retrying; so is anything else we can't
    // read (token acquisition hiccups surface here too), within the attempt budget.
    return { kind: 'transient', ...failure };
  }
  if (status === 429) return { kind: 'throttled', ...failure };
  if (RETRYABLE_STATUS.has(status)) return { kind: 'transient', ...failure };
  if (status === 403 && code !== undefined && BLOCKED_CODES.has(code)) return { kind: 'blocked', ...failure };
  if (status === 404) return { kind: code === 'ActivityNotFoundInConversation' ? 'activityNotFound' : 'conversationNotFound', ...failure };
  return { kind: 'permanent', ...failure };
}

/** One line for task errors and logs: "403 ConversationBlockedByUser: User blocked …". */
export function summarize(failure: ConnectorFailure): string {
  const head = [failure.status, failure.code].filter((part) => part !== undefined).join(' ');
  const message = failure.message.replace(/\s+/g, ' ').trim().slice(0, 300);
  return head ? `${head}: ${message}` : message;
}
