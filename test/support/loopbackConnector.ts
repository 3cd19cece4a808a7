import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: 'POST' | 'PUT' | 'DELETE' | 'GET';
  path: string;
  conversationId?: string;
  activityId?: string;
  body: Record<string, unknown>;
}

/**
 * A stand-in for the Bot Framework connector service: the bot's `serviceUrl` points here, so
 * every activity it sends (POST) or updates (PUT) is recorded for the test to inspect.
 */
export class LoopbackConnector {
  readonly calls: RecordedCall[] = [];
  private server?: http.Server;
  private nextId = 1;
  private waiters: { predicate: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];

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

  /** Activities the bot sent (POSTed), in order. */
  get sent(): Record<string, unknown>[] {
    return this.calls.filter((c) => c.method === 'POST' && c.conversationId !== undefined).map((c) => c.body);
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
      };
      this.calls.push(call);
      for (const waiter of [...this.waiters]) {
        if (waiter.predicate(call)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(call);
        }
      }
      res.setHeader('content-type', 'application/json');
      if (call.method === 'POST' && path === '/v3/conversations') {
        res.end(JSON.stringify({ id: `conv-${this.nextId++}`, activityId: `act-${this.nextId++}` }));
        return;
      }
      res.end(JSON.stringify({ id: call.activityId && call.method === 'PUT' ? call.activityId : `act-${this.nextId++}` }));
    });
  }
}
