import restify, { type Server } from 'restify';
import type { ActivityHandlerBase, CloudAdapter } from 'botbuilder';
import type { Logger } from '../logger';
import type { DocumentStore } from '../store/port';

export interface HttpDependencies {
  adapter: CloudAdapter;
  bot: ActivityHandlerBase;
  store: DocumentStore;
  logger: Logger;
}

/** restify app: the Bot Framework endpoint plus liveness and readiness probes. */
export function createHttpServer({ adapter, bot, store, logger }: HttpDependencies): Server {
  const server = restify.createServer({ name: 'access-packages', handleUncaughtExceptions: false });
  server.use(restify.plugins.bodyParser({ maxBodySize: 1024 * 1024, mapParams: false }));

  server.on('after', (req: restify.Request, res: restify.Response) => {
    logger.debug({ reqId: req.id(), method: req.method, url: req.url, status: res.statusCode }, 'request handled');
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

  server.get('/readyz', async (req, res) => {
    try {
      await store.ping();
      res.send(200, { status: 'ready', store: store.kind });
    } catch (error) {
      logger.warn({ reqId: req.id(), err: error }, 'readiness check failed: store unreachable');
      res.send(503, { status: 'unavailable', store: store.kind, reason: 'store unreachable' });
    }
  });

  return server;
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
