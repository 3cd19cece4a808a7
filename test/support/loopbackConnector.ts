import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: 'POST' | 'PUT' | 'DELETE' | 'GET';
  path: string;
  conversationId?: string;
  activityId?: string;
  body: Record<string, unknown>;
  /** The status the connector answered with. */
  status: number;
  /** The id the connector gave the new conversation or activity (what a later PUT targets). */
  responseId?: string;
}

/** An answer the test makes the connector give instead of success. */
export interface CannedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Error answers as Teams gives them ("Status codes from bot conversational APIs" and
 * "Proactive messages" in the Teams platform docs).
 */
export const TEAMS_ERRORS = {
  throttled: (retryAfterSeconds?: number): CannedResponse => ({
    status: 429,
    body: { error: { code: 'Throttled', message: 'Too many requests.' } },
    ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  }),
  serviceError: (status = 502): CannedResponse => ({ status, body: { error: { code: 'ServiceError', message: 'Service dependency issue.' } } }),
  blockedByUser: (): CannedResponse => ({ status: 403, body: { error: { code: 'ConversationBlockedByUser', message: 'User blocked the conversation with the bot.' } } }),
  /** The documented MessageWritesBlocked answer: the code hides in a JSON string. */
  messageWritesBlocked: (): CannedResponse => ({
    status: 403,
    body: { errorCode: 209, message: '{\r\n  "subCode": "MessageWritesBlocked",\r\n  "details": "Thread is blocked from message writes.",\r\n  "errorCode": null,\r\n  "errorSubCode": null\r\n}' },
  }),
  notInstalled: (): CannedResponse => ({ status: 403, body: { error: { code: 'ForbiddenOperationException', message: "Bot isn't installed in user's personal scope" } } }),
  botNotRegistered: (): CannedResponse => ({ status: 401, body: { error: { code: 'BotNotRegistered', message: 'No registration found for this bot.' } } }),
  conversationNotFound: (): CannedResponse => ({ status: 404, body: { error: { code: 'ConversationNotFound', message: 'Conversation not found.' } } }),
  activityNotFound: (): CannedResponse => ({ status: 404, body: { error: { code: 'ActivityNotFoundInConversation', message: 'Conversation not found.' } } }),
};

/** A sliding-window limit: at most `limit` calls in any `windowMs`. */
export interface WindowLimit {
  limit: number;
  windowMs: number;
}

/**
 * Teams' documented bot limits ("Optimize your bot with rate limiting in Teams",
 * learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit): per bot per thread
 * (conversation) 7 sends per 1 s and 60 per 30 s (also 8 per 2 s, 1,800 per hour); globally
 * 50 requests per second per app per tenant.
 */
export const TEAMS_RATE_LIMITS: { perConversation: WindowLimit[]; perTenant: WindowLimit[] } = {
  perConversation: [
    { limit: 7, windowMs: 1_000 },
    { limit: 8, windowMs: 2_000 },
    { limit: 60, windowMs: 30_000 },
    { limit: 1_800, windowMs: 3_600_000 },
  ],
  perTenant: [{ limit: 50, windowMs: 1_000 }],
};

/** Sliding windows of admitted calls per key; answers how long until a call would fit. */
class WindowedLimiter {
  private readonly admitted = new Map<string, number[]>();

  constructor(private readonly limits: WindowLimit[]) {}

  /** 0 when a call at `now` fits every window, else ms until it would. Does not admit. */
  wait(key: string, now: number): number {
    const times = this.admitted.get(key) ?? [];
    let wait = 0;
    for (const { limit, windowMs } of this.limits) {
      const inWindow = times.filter((t) => t > now - windowMs);
      if (inWindow.length >= limit) wait = Math.max(wait, inWindow[inWindow.length - limit]! + windowMs - now);
    }
    return wait;
  }

  admit(key: string, now: number): void {
    const longest = Math.max(...this.limits.map((l) => l.windowMs));
    const times = (this.admitted.get(key) ?? []).filter((t) => t > now - longest);
    times.push(now);
    this.admitted.set(key, times);
  }
}

interface Rule {
  response: CannedResponse;
  when: (call: RecordedCall) => boolean;
  remaining: number;
}

/**
 * A stand-in for the Bot Framework connector service: the bot's `serviceUrl` points here, so
 * every activity it sends (POST) or updates (PUT) is recorded for the test to inspect. Tests
 * can make it fail calls (`respond`) or forget a conversation (`dropConversation`).
 */
export class LoopbackConnector {
  readonly calls: RecordedCall[] = [];
  private server?: http.Server;
  private nextId = 1;
  private waiters: { predicate: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  private rules: Rule[] = [];
  private readonly dropped = new Set<string>();
  /** Called with each call as it arrives (e.g. to note the test's virtual time). */
  onCall?: (call: RecordedCall) => void;
  private limits?: { now: () => number; conversation: WindowedLimiter; tenant: WindowedLimiter };
  /** Calls refused with 429 by the enforced rate limits. */
  throttled = 0;

  /**
   * From now on, answers 429 with Retry-After (whole seconds) to calls over Teams' limits:
   * per conversation for sends and updates, per tenant for every call. `now` is the clock
   * the windows run on (a benchmark's virtual time).
   */
  enforceRateLimits(now: () => number, limits = TEAMS_RATE_LIMITS): void {
    this.limits = { now, conversation: new WindowedLimiter(limits.perConversation), tenant: new WindowedLimiter(limits.perTenant) };
  }

  get serviceUrl(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('connector not started');
    return `http://127.0.0.1:${address.port}/`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Activities the bot sent (POSTed and accepted), in order. */
  get sent(): Record<string, unknown>[] {
    return this.calls.filter((c) => c.method === 'POST' && c.conversationId !== undefined && c.status < 300).map((c) => c.body);
  }

  /** Bodies of the bot's requests to create a conversation (POST /v3/conversations), in order. */
  get createdConversations(): Record<string, unknown>[] {
    return this.calls.filter((c) => c.method === 'POST' && c.path === '/v3/conversations').map((c) => c.body);
  }

  /**
   * Answers the next `times` calls (default 1) matching `when` (default: any call) with
   * `response` instead of success. Rules are consulted in the order they were added.
   */
  respond(response: CannedResponse, options: { times?: number; when?: (call: RecordedCall) => boolean } = {}): void {
    this.rules.push({ response, when: options.when ?? (() => true), remaining: options.times ?? 1 });
  }

  /** From now on, calls into this conversation answer 404 ConversationNotFound (as after "remove chat history"). */
  dropConversation(conversationId: string): void {
    this.dropped.add(conversationId);
  }

  /** Forgets pending `respond` rules and dropped conversations. */
  resetResponses(): void {
    this.rules = [];
    this.dropped.clear();
    this.onCall = undefined;
  }

  /** Resolves with the first recorded call (past or future) matching the predicate. */
  waitFor(predicate: (call: RecordedCall) => boolean, timeoutMs = 5000): Promise<RecordedCall> {
    const existing = this.calls.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the bot to call the connector')), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (call) => {
          clearTimeout(timer);
          resolve(call);
        },
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      const path = (req.url ?? '').split('?')[0]!;
      const match = /^\/v3\/conversations(?:\/([^/]+)\/activities(?:\/([^/]+))?)?$/.exec(path);
      const call: RecordedCall = {
        method: (req.method ?? 'GET') as RecordedCall['method'],
        path,
        conversationId: match?.[1] ? decodeURIComponent(match[1]) : undefined,
        activityId: match?.[2] ? decodeURIComponent(match[2]) : undefined,
        body,
        status: 200,
      };
      const canned = this.cannedFor(call);
      if (canned) call.status = canned.status;
      this.calls.push(call);
      this.onCall?.(call);
      for (const waiter of [...this.waiters]) {
        if (waiter.predicate(call)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(call);
        }
      }
      res.setHeader('content-type', 'application/json');
      if (canned) {
        res.writeHead(canned.status, canned.headers ?? {});
        res.end(canned.body === undefined ? '' : JSON.stringify(canned.body));
        return;
      }
      if (call.method === 'POST' && path === '/v3/conversations') {
        call.responseId = `conv-${this.nextId++}`;
        res.end(JSON.stringify({ id: call.responseId, activityId: `act-${this.nextId++}` }));
        return;
      }
      call.responseId = call.activityId && call.method === 'PUT' ? call.activityId : `act-${this.nextId++}`;
      res.end(JSON.stringify({ id: call.responseId }));
    });
  }

  private cannedFor(call: RecordedCall): CannedResponse | undefined {
    const limited = this.rateLimited(call);
    if (limited) return limited;
    const rule = this.rules.find((r) => r.remaining > 0 && r.when(call));
    if (rule) {
      rule.remaining -= 1;
      return rule.response;
    }
    if (call.conversationId !== undefined && this.dropped.has(call.conversationId)) return TEAMS_ERRORS.conversationNotFound();
    return undefined;
  }

  private rateLimited(call: RecordedCall): CannedResponse | undefined {
    if (!this.limits) return undefined;
    const now = this.limits.now();
    const conversation = call.conversationId;
    const wait = Math.max(this.limits.tenant.wait('tenant', now), conversation === undefined ? 0 : this.limits.conversation.wait(conversation, now));
    if (wait > 0) {
      this.throttled += 1;
      return TEAMS_ERRORS.throttled(Math.max(1, Math.ceil(wait / 1000)));
    }
    this.limits.tenant.admit('tenant', now);
    if (conversation !== undefined) this.limits.conversation.admit(conversation, now);
    return undefined;
  }
}
