// The bytes of POST /api/messages before anyone is authenticated: every one is hostile. The body
// is read here and nowhere else (no body parser, nothing written to disk), capped on the bytes
// actually read, with a deadline, and turned into an activity only if it is one.
import type { IncomingMessage } from 'node:http';
import type { Activity } from 'botbuilder';
import contentType from 'content-type';
import getRawBody from 'raw-body';
import { z } from 'zod';

export interface IntakeLimits {
  /** Largest body read, in bytes (MAX_REQUEST_BYTES). */
  maxBytes: number;
  /** Time the client has to send the whole body (REQUEST_TIMEOUT_MS). */
  timeoutMs: number;
  /** Deepest JSON nesting accepted: a Teams activity needs about 10. */
  maxDepth: number;
}

export const MAX_JSON_DEPTH = 64;

export type RefusalReason =
  | 'contentEncoding'
  | 'contentType'
  | 'tooLarge'
  | 'timeout'
  | 'aborted'
  | 'lengthMismatch'
  | 'encoding'
  | 'tooDeep'
  | 'malformedJson'
  | 'notAnActivity'
  | 'activityFields';

export interface Refusal {
  status: 400 | 408 | 413 | 415;
  reason: RefusalReason;
  /** What the client reads: what was wrong and what to send instead; never internal detail. */
  message: string;
  /** The body was not read to its end: drop what still comes for a moment, then close (http/server.ts). */
  closeConnection: boolean;
}

export type Intake = { ok: true; activity: Activity } | { ok: false; refusal: Refusal };

function refuse(status: Refusal['status'], reason: RefusalReason, message: string, closeConnection: boolean): Intake {
  return { ok: false, refusal: { status, reason, message, closeConnection } };
}

const JSON_ONLY = 'Send the activity as application/json (UTF-8), uncompressed.';

/**
 * Reads and checks one activity. Compressed bodies are refused (415), not inflated: the Bot
 * Framework never compresses what it posts, and not inflating leaves no bomb to defuse.
 */
export async function readActivity(req: IncomingMessage, limits: IntakeLimits): Promise<Intake> {
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') return refuse(415, 'contentEncoding', JSON_ONLY, true);
  if (!isJsonUtf8(req.headers['content-type'])) return refuse(415, 'contentType', JSON_ONLY, true);

  // Node has already refused a malformed Content-Length (400) before the request got here.
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  const tooLarge = `The request body is larger than ${limits.maxBytes} bytes.`;
  if (length !== undefined && length > limits.maxBytes) return refuse(413, 'tooLarge', tooLarge, true);

  let body: Buffer;
  try {
    body = await readBody(req, length, limits);
  } catch (error) {
    if (error instanceof BodyTimeout) return refuse(408, 'timeout', 'The request body did not arrive in time.', true);
    const type = (error as { type?: unknown }).type;
    if (type === 'entity.too.large') return refuse(413, 'tooLarge', tooLarge, true);
    if (type === 'request.size.invalid') return refuse(400, 'lengthMismatch', 'The request body does not match its Content-Length.', true);
    return refuse(400, 'aborted', 'The request body was cut off.', true);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return refuse(400, 'encoding', 'The request body is not valid UTF-8.', false);
  }
  // Before parsing: JSON.parse copes with deep nesting, but what walks the result (logging,
  // storage, JSON.stringify) recurses and would overflow the stack.
  if (nestingExceeds(text, limits.maxDepth)) return refuse(400, 'tooDeep', `The JSON is nested more than ${limits.maxDepth} levels deep.`, false);

  let parsed: unknown;
  try {
    // "__proto__" keys are dropped: harmless in JSON.parse's result, but a later Object.assign
    // or merge would turn one into a prototype.
    parsed = JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    return refuse(400, 'malformedJson', 'The request body is not valid JSON.', false);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof (parsed as { type?: unknown }).type !== 'string') {
    return refuse(400, 'notAnActivity', 'The request body must be an activity: a JSON object with a string "type".', false);
  }
  // Validated, not copied: the activity stays the object JSON.parse made.
  const check = ACTIVITY_ENVELOPE.safeParse(parsed);
  if (!check.success) {
    const issue = check.error.issues[0]!;
    return refuse(400, 'activityFields', `The activity's ${issue.path.join('.') || 'body'} has the wrong type or size.`, false);
  }
  return { ok: true, activity: parsed as Activity };
}

/** application/json, with no charset or UTF-8; anything else (multipart, forms, text) is refused unread. */
function isJsonUtf8(header: string | undefined): boolean {
  if (!header) return false;
  let parsed: contentType.ParsedMediaType;
  try {
    parsed = contentType.parse(header);
  } catch {
    return false;
  }
  const charset = parsed.parameters.charset?.toLowerCase();
  return parsed.type === 'application/json' && (charset === undefined || charset === 'utf-8' || charset === 'utf8');
}

class BodyTimeout extends Error {}

/** raw-body (a byte cap counted as the bytes arrive, and the Content-Length check) under a deadline. */
function readBody(req: IncomingMessage, length: number | undefined, limits: IntakeLimits): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new BodyTimeout('body timeout')), limits.timeoutMs);
    // After a timeout the caller answers and closes the connection; raw-body's late rejection
    // then lands here, on a settled promise, and goes nowhere.
    getRawBody(req, { length, limit: limits.maxBytes }).then(
      (buffer) => {
        clearTimeout(timer);
        resolve(buffer);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** True when brackets outside strings nest deeper than `max`: one linear pass, no recursion. */
export function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

// The fields botbuilder and the bot read, with the types they assume; anything else passes as is.
const text = (max: number) => z.string().max(max).nullish();

/** No key a document store refuses ("$…" operators, dotted paths), at any depth. */
function storableKeys(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) return value.every(storableKeys);
  return Object.entries(value).every(([key, item]) => !key.startsWith('$') && !key.includes('.') && storableKeys(item));
}

// from, recipient and conversation are stored as they come (the conversation reference for
// proactive messages): keys the store would refuse are refused here, before any turn.
const account = z.looseObject({ id: text(1024), name: text(1024), aadObjectId: text(256), role: text(64) }).refine(storableKeys);
const ACTIVITY_ENVELOPE = z.looseObject({
  type: z.string().min(1).max(64),
  id: text(1024),
  name: text(1024),
  channelId: text(64),
  serviceUrl: z
    .string()
    .max(2048)
    .refine((value) => /^https?:\/\/[^\s]+$/i.test(value) && URL.canParse(value))
    .optional(),
  from: account.optional(),
  recipient: account.optional(),
  conversation: z.looseObject({ id: text(1024), tenantId: text(256), conversationType: text(64), isGroup: z.boolean().nullish() }).refine(storableKeys).optional(),
  text: z.string().nullish(),
  locale: text(64),
  replyToId: text(1024),
  timestamp: text(64),
  localTimestamp: text(64),
  channelData: z.record(z.string(), z.unknown()).nullish(),
  attachments: z.array(z.unknown()).nullish(),
  entities: z.array(z.unknown()).nullish(),
  membersAdded: z.array(account).nullish(),
  membersRemoved: z.array(account).nullish(),
});
