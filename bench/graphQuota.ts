// Graph's write quota, enforced in front of the in-memory Graph for the benchmark: a sliding
// window on the benchmark's virtual clock (about 3,000 writes per 150 s per app and tenant).
// A write over the quota gets Graph's 429 TooManyRequests with Retry-After (seconds until the
// oldest write in the window leaves it); anything else falls through to the in-memory Graph.
// Lives in bench/ as an msw handler placed before InMemoryGraph's own handlers, so
// test/support stays untouched.
import { randomUUID } from 'node:crypto';
import { http, type HttpHandler, HttpResponse } from 'msw';

export interface QuotaOptions {
  /** Writes allowed per window (Graph: about 3,000). */
  limit: number;
  /** Window length in ms (Graph: 150 s). */
  windowMs: number;
  /** The virtual clock, in ms. */
  now: () => number;
}

export class WriteQuota {
  /** Admitted writes' times, oldest first (from `head`). */
  private readonly admitted: number[] = [];
  private head = 0;
  accepted = 0;
  throttled = 0;
  /** Highest number of writes seen in any window (at admission). */
  peakInWindow = 0;

  constructor(private readonly options: QuotaOptions) {}

  /** Graph writes: any direct non-GET call except $batch (reads go in $batch) and checkMemberGroups (a POST read). */
  static isWrite(method: string, pathname: string): boolean {
    if (method === 'GET') return false;
    if (/\/\$batch$/.test(pathname) || /%24batch$/.test(pathname)) return false;
    if (/\/checkMemberGroups$/.test(pathname)) return false;
    return true;
  }

  /** 0 when the write may go now, otherwise the ms until the window has room. */
  admit(): number {
    const now = this.options.now();
    while (this.head < this.admitted.length && this.admitted[this.head]! <= now - this.options.windowMs) this.head++;
    if (this.head > 4096) {
      this.admitted.splice(0, this.head);
      this.head = 0;
    }
    const inWindow = this.admitted.length - this.head;
    if (inWindow >= this.options.limit) {
      this.throttled++;
      const oldest = this.admitted[this.head]!;
      return Math.max(1, oldest + this.options.windowMs - now);
    }
    this.admitted.push(now);
    this.accepted++;
    this.peakInWindow = Math.max(this.peakInWindow, inWindow + 1);
    return 0;
  }

  handler(graphEndpoint: string): HttpHandler {
    return http.all(`${graphEndpoint}/*`, ({ request }) => {
      const url = new URL(request.url);
      if (!WriteQuota.isWrite(request.method, url.pathname)) return undefined; // fall through
      const waitMs = this.admit();
      if (waitMs === 0) return undefined;
      const requestId = randomUUID();
      return HttpResponse.json(
        {
          error: {
            code: 'TooManyRequests',
            message: 'Too many requests. Please retry again later.',
            innerError: { code: '429', date: new Date().toISOString().slice(0, 19), message: 'Please retry after', 'request-id': requestId, status: '429' },
          },
        },
        { status: 429, headers: { 'Retry-After': String(Math.ceil(waitMs / 1000)) } },
      );
    });
  }
}
