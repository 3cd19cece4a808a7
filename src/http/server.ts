import restify, { type Server } from 'restify';
import type { ActivityHandlerBase, CloudAdapter } from 'botbuilder';
import type { Logger } from '../logger';
import type { Download } from '../services/exports';
import type { DocumentStore } from '../store/port';

export interface HttpDependencies {
  adapter: CloudAdapter;
  bot: ActivityHandlerBase;
  store: DocumentStore;
  logger: Logger;
  /** Serves CSV exports behind signed links (GET /exports/:id); absent: no such route. */
  exports?: { download(id: string, expires: unknown, signature: unknown): Promise<Download> };
}

/** restify app: the Bot Framework endpoint plus liveness and readiness probes. */
export function createHttpServer({ adapter, bot, store, logger, exports }: HttpDependencies): Server {
  const server = restify.createServer({ name: 'access-packages', handleUncaughtExceptions: false });
  server.use(restify.plugins.bodyParser({ maxBodySize: 1024 * 1024, mapParams: false }));

  server.on('after', (req: restify.Request, res: restify.Response) => {
    // Without the query string: download links carry their signature there.
    logger.debug({ reqId: req.id(), method: req.method, url: req.url?.split('?')[0], status: res.statusCode }, 'request handled');
  });

  server.post('/api/messages', async (req, res) => {
    const log = logger.child({ reqId: req.id() });
    try {
      await adapter.process(req, res, (context) => bot.run(context));
    } catch (error) {
      // The adapter rejects unauthenticated or malformed calls by throwing; answer if it did not.
      log.warn({ err: error }, 'activity rejected');
      if (!res.headersSent) res.send(400, { error: 'The activity could not be processed.' });
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
