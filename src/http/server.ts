import type { Duplex } from 'node:stream';
import restify, { type Server } from 'restify';
import type { ActivityHandlerBase } from 'botbuilder';
import type { Logger } from '../logger';
import type { Download } from '../services/exports';
import type { DocumentStore } from '../store/port';
import type { EdgeAdapter } from './adapter';
import { ActivityRejected } from './authentication';
import { MAX_JSON_DEPTH, readActivity, type Refusal } from './intake';

export interface HttpDependencies {
  adapter: EdgeAdapter;
  bot: ActivityHandlerBase;
  store: DocumentStore;
  logger: Logger;
  /** MAX_REQUEST_BYTES and REQUEST_TIMEOUT_MS (config.http). */
  limits: { maxRequestBytes: number; requestTimeoutMs: number };
  /** Serves CSV exports behind signed links (GET /exports/:id); absent: no such route. */
  exports?: { download(id: string, expires: unknown, signature: unknown): Promise<Download> };
}

/**
 * restify app: the Bot Framework endpoint plus liveness and readiness probes. No body parser:
 * only /api/messages reads a body (http/intake.ts), so nothing else can be made to buffer,
 * inflate or spool one to disk.
 */
export function createHttpServer({ adapter, bot, store, logger, limits, exports }: HttpDependencies): Server {
  const server = restify.createServer({ name: 'access-packages', handleUncaughtExceptions: false });
  applyTimeouts(server, limits.requestTimeoutMs);

  // What Node refuses before restify sees a request (oversized headers, headers too slow,
  // malformed HTTP) is answered as Node would, and logged as one line like every refusal.
  server.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // The client hung up (mid-headers, or mid-body, which http/intake.ts logs): no one to answer.
    if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, text, reason] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'badRequest'];
    logger.warn({ status, reason, code: error.code }, 'request refused');
    if ((socket as Duplex & { bytesWritten?: number }).bytesWritten) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ error: text });
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });

  // No WebSocket (streaming) route: an upgrade request would otherwise get a socket that no
  // parser and no timeout watches any more, held open for as long as the client likes.
  server.server.on('upgrade', (_req: unknown, socket: Duplex) => {
    logger.warn({ status: 400, reason: 'upgrade' }, 'request refused');
    const body = JSON.stringify({ error: 'This endpoint takes HTTP POSTs, not connection upgrades.' });
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });

  server.pre((req: restify.Request, res: restify.Response, next: restify.Next) => {
    // A late write to a response whose client left must not become an uncaught 'error' event.
    res.on('error', (error: Error) => logger.debug({ reqId: req.id(), reason: error.message }, 'response not delivered'));
    next();
  });

  server.on('after', (req: restify.Request, res: restify.Response) => {
    // Without the query string: download links carry their signature there.
    logger.debug({ reqId: req.id(), method: req.method, url: req.url?.split('?')[0], status: res.statusCode }, 'request handled');
  });

  const intakeLimits = { maxBytes: limits.maxRequestBytes, timeoutMs: limits.requestTimeoutMs, maxDepth: MAX_JSON_DEPTH };
  server.post('/api/messages', async (req, res) => {
    const log = logger.child({ reqId: req.id() });
    let about: Record<string, unknown> = {};
    try {
      const intake = await readActivity(req, intakeLimits);
      if (!intake.ok) {
        await refuse(req, res, log, intake.refusal, limits.maxRequestBytes);
        return;
      }
      const { activity } = intake;
      about = { activityType: activity.type, channelId: activity.channelId };
      const authorization = req.headers.authorization ?? '';
      const invokeResponse = await adapter.handle(authorization, activity, (context) => bot.run(context));
      if (res.headersSent) return;
      if (invokeResponse?.body !== undefined) res.send(invokeResponse.status ?? 200, invokeResponse.body);
      else res.send(invokeResponse?.status ?? 200);
    } catch (error) {
      // Nothing escapes to restify, whose error answer would carry the error's message.
      if (error instanceof ActivityRejected) {
        // Expected (forged, expired, misconfigured callers): one line, a reason, no stack.
        log.warn({ ...about, reason: error.reason, ...(error.detail ? { detail: error.detail } : {}) }, 'activity rejected');
        if (!res.headersSent) res.send(401, { error: 'Unauthorized.' });
        return;
      }
      log.error({ ...about, err: error }, 'activity failed');
      if (!res.headersSent) res.send(500, { error: 'The activity could not be processed. Please try again.' });
    }
  });

  // restify 11 accepts only async handlers or ones taking `next`.
  server.get('/healthz', async (_req, res) => {
    res.send(200, { status: 'ok' });
  });

  // A probe gets its answer within READY_TIMEOUT_MS: a store that does not answer (a stalled
  // server holds a ping until the driver's own timeouts) counts as unreachable.
  const READY_TIMEOUT_MS = 2000;
  server.get('/readyz', async (req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const ping = store.ping();
    try {
      await Promise.race([
        ping,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`the store did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
        }),
      ]);
      res.send(200, { status: 'ready', store: store.kind });
    } catch (error) {
      ping.catch(() => undefined); // still pending when the timer won: its failure is this one
      logger.warn({ reqId: req.id(), err: error }, 'readiness check failed: store unreachable');
      res.send(503, { status: 'unavailable', store: store.kind, reason: 'store unreachable' });
    } finally {
      clearTimeout(timer);
    }
  });

  if (exports) server.get('/exports/:id', async (req, res) => serveExport(exports, req, res, logger));

  return server;
}

/** A CSV download: the file, or a one-line plain-text reason (403 bad link, 410 expired, 404 gone). */
async function serveExport(exports: NonNullable<HttpDependencies['exports']>, req: restify.Request, res: restify.Response, logger: Logger): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const id = typeof req.params?.id === 'string' ? req.params.id : '';
  try {
    const download = await exports.download(id, query.get('expires') ?? undefined, query.get('sig') ?? undefined);
    if (download.status !== 200) {
      res.writeHead(download.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(`${download.message}\n`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': download.contentType,
      'Content-Disposition': `attachment; filename="${download.filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    for await (const chunk of download.chunks) res.write(chunk);
    res.end();
  } catch (error) {
    // Logged without the URL (it holds the signature); the client gets no detail.
    logger.error({ reqId: req.id(), err: error }, 'export download failed');
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('The download failed. Please try again.\n');
    } else {
      res.destroy();
    }
  }
}

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headersTooLarge'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'tooLarge'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'timeout'],
};

/** One structured line, and a small JSON answer that says what to send instead. */
async function refuse(req: restify.Request, res: restify.Response, log: Logger, refusal: Refusal, discardBytes: number): Promise<void> {
  log.warn({ status: refusal.status, reason: refusal.reason }, 'request refused');
  if (refusal.reason === 'aborted' || res.headersSent || res.destroyed) return;
  if (refusal.closeConnection && !req.complete) {
    if (refusal.reason === 'timeout') {
      // Too slow already: answer now, and close once the answer is out.
      res.once('finish', () => setTimeout(() => req.socket?.destroy(), 2_000).unref());
    } else {
      // restify answers 500 for an async handler that resolves unanswered: wait for the drain.
      await new Promise<void>((resolve) => discardThenAnswer(req, discardBytes, resolve));
    }
  }
  if (!res.headersSent && !res.destroyed) res.send(refusal.status, { error: refusal.message });
}

/**
 * The rest of a refused body is not read, but answering while it still arrives makes Node close
 * the connection on unread data, which resets it, and the client may lose the answer with it
 * (RFC 9112 §9.6). So what still arrives is dropped, never kept, for up to two seconds and 16
 * bodies' worth, and the answer goes once the body has ended or either bound is reached (then
 * Node closes the connection: an upload that big or that slow may see a reset).
 */
function discardThenAnswer(req: restify.Request, maxBytes: number, answer: () => void): void {
  let dropped = 0;
  let answered = false;
  const done = () => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    answer();
  };
  const timer = setTimeout(done, 2_000);
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > 16 * maxBytes) done();
  });
  req.on('end', done);
  req.on('error', () => {
    req.socket?.destroy();
    done();
  });
  req.resume();
}

/**
 * Slow clients (slowloris) hold a connection at most this long: headers within the timeout
 * (Node answers 408), the body within it too (http/intake.ts answers 408). Node's whole-request
 * limit backs both up; it checks every second rather than every 30 s.
 */
function applyTimeouts(server: Server, requestTimeoutMs: number): void {
  const http = server.server;
  http.headersTimeout = requestTimeoutMs;
  http.requestTimeout = requestTimeoutMs + 5_000;
  // Read when the server starts listening; the createServer option restify gives no way to pass.
  (http as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = 1_000;
}

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.removeListener('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    if (host) server.listen(port, host, onListening);
    else server.listen(port, onListening);
  });
}
