// Composition root: builds every part from the configuration and wires them together.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { TurnContext } from 'botbuilder';
import type { Server } from 'restify';
import type { AccessPackagesBot } from './bot/accessPackagesBot';
import { ProactiveNotifier, type ProactiveNotifierDeps } from './bot/notifier';
import { TenantGuard } from './bot/tenantGuard';
import { type ApplyReport, applyCatalog, type KindReport, overrideNote } from './catalog/applyCatalog';
import { formatCatalogError, loadCatalogFile } from './catalog/catalogFile';
import { type Clock, systemClock } from './clock';
import { buildBot, registerTaskHandlers } from './composeBot';
import type { Config } from './config';
import { GraphDirectory } from './directory/graphDirectory';
import { LocalDirectory } from './directory/localDirectory';
import type { Directory } from './directory/port';
import { TeamsAppInstaller } from './directory/teamsAppInstaller';
import { EdgeAdapter } from './http/adapter';
import { createBotAuthentication } from './http/authentication';
import { decideExposure } from './http/exposure';
import { createHttpServer, listen } from './http/server';
import { createLogger, type Logger } from './logger';
import { Scheduler } from './scheduler/scheduler';
import { TaskRunner } from './scheduler/taskRunner';
import type { LifecycleService } from './services/lifecycle';
import { RecoverySweep, resumeHandovers, settlePendingAudit } from './services/recovery';
import { openStore } from './store/openStore';
import { rateLimitCountersFor } from './store/rateLimitCounters';
import type { DocumentStore } from './store/port';
import { openRepositories, type Repositories } from './store/repositories';
import { SchemaError } from './store/schema';

/** Start-up refused for a reason the operator must fix; the message says what and where. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface AppOverrides {
  store?: DocumentStore;
  directory?: Directory;
  clock?: Clock;
  logger?: Logger;
  /** Interface to listen on, instead of HOST (or its default: loopback with auth off, else all). */
  host?: string;
  /** Start the scheduler loop (tests drive `scheduler.tick()` themselves). */
  startScheduler?: boolean;
  /** The notifier's time source for pacing (tests use virtual time so nothing sleeps). */
  notifierPacing?: ProactiveNotifierDeps['pacing'];
  /** The same for directory writes. */
  directoryPacing?: ProactiveNotifierDeps['pacing'];
}

export interface RunningApp {
  port: number;
  server: Server;
  store: DocumentStore;
  repositories: Repositories;
  directory: Directory;
  adapter: EdgeAdapter;
  bot: AccessPackagesBot;
  scheduler: Scheduler;
  taskRunner: TaskRunner;
  /** Expiry warnings and expiry (a scheduled job; tests run it by hand). */
  lifecycle: LifecycleService;
  clock: Clock;
  logger: Logger;
  close(): Promise<void>;
}

export async function startApp(config: Config, overrides: AppOverrides = {}): Promise<RunningApp> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const clock = overrides.clock ?? systemClock;
  // Auth off is for a developer's machine: refused in production or on another interface unless
  // ALLOW_UNAUTHENTICATED says so. Checked first, so a refusal changes nothing.
  const exposure = decideExposure(config, overrides.host);
  if (!exposure.ok) throw new StartupError(exposure.message);

  // Validate the catalog before touching the store: a bad file changes nothing.
  const catalog = await loadCatalogFile(config.catalogFile, { allowPrivilegedRoles: config.delivery.allowPrivilegedRoles });
  if (!catalog.ok) {
    throw new StartupError(
      [`The catalog file ${config.catalogFile} is invalid (${catalog.errors.length} error(s)):`, ...catalog.errors.map(formatCatalogError)].join('\n'),
    );
  }

  // Microsoft Graph when Azure credentials are configured; otherwise the local YAML directory.
  const directory =
    overrides.directory ??
    (config.graph
      ? GraphDirectory.fromConfig(config.graph)
      : await LocalDirectory.open({ file: config.localDirectoryFile, stateFile: path.join(config.dataDir, 'local-directory-state.json') }));

  const store = overrides.store ?? (await openStore({ mongodbUri: config.mongodbUri, dataDir: config.dataDir, mongodbTimeoutMs: config.mongodb.timeoutMs }));
  try {
    const repositories = await openRepositories(store, clock, { logger, startupMaxDocuments: config.mongodb.migrateAtStartupMaxDocuments }).catch((error: unknown) => {
      // A migration start-up must not make (or a downgrade): the message names the command.
      throw error instanceof SchemaError ? new StartupError(error.message) : error;
    });
    // The embedded store belongs to this one process: a lease left in it was ours before a crash.
    if (store.kind === 'embedded') {
      const released = await repositories.tasks.releaseLeases();
      if (released > 0) logger.warn({ released }, 'resumed tasks the previous run had claimed when it stopped');
      const lifecycleReleased = await repositories.assignments.releaseLifecycleLeases();
      if (lifecycleReleased > 0) logger.warn({ released: lifecycleReleased }, 'resumed expiry checks the previous run had claimed when it stopped');
      const claimsReleased = await repositories.personClaims.releaseAll();
      if (claimsReleased > 0) logger.warn({ released: claimsReleased }, 'released per-person claims the previous run held when it stopped');
    }
    // Nor may it leave a state change unaudited.
    const audited = await settlePendingAudit(repositories);
    if (audited > 0) logger.warn({ audited }, 'recorded audit events a crash had left unwritten');
    // A crash between storing a request and queueing its next task must not strand it.
    const requeued = await resumeHandovers(repositories);
    if (requeued > 0) logger.warn({ requeued }, 'queued again the next step of requests a crash had interrupted');
    const report = await applyCatalog(catalog.catalog, repositories);
    logCatalogReport(logger, config.catalogFile, report);

    // With auth on, every token passes our guard (own key cache, reasons logged) before the SDK.
    const { authentication } = createBotAuthentication(config.bot, { now: () => clock.now().getTime(), logger });
    const adapter = new EdgeAdapter(authentication);
    adapter.use(new TenantGuard(config.tenantId, logger));
    // What the bot's handlers didn't answer themselves (middleware, an answer that couldn't be
    // sent): logged once and answered in words by the bot layer (src/bot/failures.ts).
    adapter.onTurnError = (context: TurnContext, error: Error) => bot.answerTurnError(context, error);

    const graph = buildBot({ repositories, directory, clock, logger, admins: { userIds: config.adminUserIds, groupId: config.adminGroupId }, botAppId: config.bot.appId,
      catalogFile: config.catalogFile,
      reminderFraction: config.approvalReminderPercent / 100,
      exports: { publicBaseUrl: config.exports.publicBaseUrl, linkMinutes: config.exports.linkMinutes, signingKey: config.exports.signingKey?.reveal() },
      adminNotices: config.adminNotices,
      delivery: { ...config.delivery, maxPacingWaitMs: config.tasks.maxPacingWaitMs, pacing: overrides.directoryPacing },
      lifecycle: { ...config.lifecycle, leaseMs: config.tasks.leaseMs },
      limits: { settings: config.limits, counters: rateLimitCountersFor(store, logger) },
    });
    const { bot } = graph;
    adapter.use(graph.activityLimit);

    // The outbox in lanes (docs/architecture.md "Concurrency"): access work never waits behind messages.
    // The lease owner names the instance (host and process), so an operator can tell whose a task is.
    const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const taskRunner = new TaskRunner(repositories.tasks, () => clock.now(), logger, {
      leaseMs: config.tasks.leaseMs,
      maxPerTick: 500,
      concurrency: config.tasks.concurrency,
      pollMs: config.schedulerIntervalMs,
      workerId,
    });
    registerTaskHandlers(taskRunner, graph);
    const notifierPacing = overrides.notifierPacing ?? { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)), maxWaitMs: config.tasks.maxPacingWaitMs };
    new ProactiveNotifier({ adapter, cards: graph.cards, repositories, config, clock, logger, pacing: notifierPacing,
      // A notice the admin channel can't take goes to each admin 1:1 instead.
      channelFallback: (event) => graph.adminNotices.channelUnreachable(event),
      // PROACTIVE_INSTALL: people the bot never talked to get the app installed through Graph first.
      installer: proactiveInstaller(config),
      installRefused: (refusal) => graph.adminNotices.installRefused(refusal),
    }).register(taskRunner);
    // Each job runs in its own loop once started (the outbox: one per lane), so the expiry check
    // never waits for the outbox. A tick (tests) runs them once in this order: the digest job
    // first (a digest it queues as due runs in the same tick), the outbox, lifecycle, export
    // clean-up, and last the recovery sweep: what a store outage or another instance's crash left half-way.
    const recovery = new RecoverySweep(repositories, () => clock.now(), (found) => logger.warn(found, 'completed work a store outage or a crashed instance had left half-way'));
    const scheduler = new Scheduler([graph.digest.job(), taskRunner, graph.lifecycle, graph.exports.purgeJob(), recovery], config.schedulerIntervalMs, logger, () => clock.now());
    // Work queued by a turn (approval cards, delivery) starts right after it, not at the next tick.
    adapter.use(async (_context, next) => {
      await next();
      scheduler.nudge();
    });

    const limits = { maxRequestBytes: config.http.maxRequestBytes, requestTimeoutMs: config.http.requestTimeoutMs };
    const server = createHttpServer({ adapter, bot, store, logger, limits, exports: graph.exports });
    const port = await listen(server, config.port, exposure.host);
    if (overrides.startScheduler !== false) scheduler.start();

    logger.info(
      { port, host: exposure.host ?? 'all interfaces', store: store.kind, directory: directory.kind, auth: config.bot.appId ? config.bot.appType : 'disabled', tenant: config.tenantId ?? 'any', proactiveInstall: config.teamsApp.proactiveInstall },
      'Access Packages bot is listening',
    );
    if (exposure.authOff) {
      logger.warn(
        { auth: 'disabled', host: exposure.host ?? 'all interfaces' },
        'Bot Framework authentication is off: anyone who can reach this port can act as any user. For local development only; set MicrosoftAppId to turn it on.',
      );
    }

    return {
      port,
      server,
      store,
      repositories,
      directory,
      adapter,
      bot,
      scheduler,
      taskRunner,
      lifecycle: graph.lifecycle,
      clock,
      logger,
      async close() {
        await scheduler.stop();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (!overrides.store) await store.close();
      },
    };
  } catch (error) {
    if (!overrides.store) await store.close();
    throw error;
  }
}

/** The Graph installer when PROACTIVE_INSTALL is on (config.ts insists on Graph and the catalog id then). */
function proactiveInstaller(config: Config): TeamsAppInstaller | undefined {
  const { proactiveInstall, catalogId } = config.teamsApp;
  return proactiveInstall && config.graph && catalogId ? TeamsAppInstaller.fromConfig(config.graph, catalogId) : undefined;
}

function counts(kind: KindReport) {
  return { created: kind.created.length, updated: kind.updated.length, deleted: kind.deleted.length, kept: kind.kept.length, unchanged: kind.unchanged.length };
}

/** One structured line for the apply, and one warning per item kept because it is still in use. */
function logCatalogReport(logger: Logger, catalogFile: string, report: ApplyReport): void {
  logger.info({ catalogFile, catalogs: counts(report.catalogs), packages: counts(report.packages), policies: counts(report.policies) }, 'catalog applied');
  for (const [kind, entries] of [['catalog', report.catalogs.kept], ['package', report.packages.kept], ['policy', report.policies.kept]] as const) {
    for (const kept of entries) logger.warn({ catalogFile, [kind]: kept.id, reason: kept.reason }, `${kind} removed from the catalog file but kept: ${kept.reason}`);
  }
  for (const [kind, entries] of [['catalog', report.catalogs.overridden], ['package', report.packages.overridden], ['policy', report.policies.overridden]] as const) {
    for (const { id, override } of entries) logger.warn({ catalogFile, [kind]: id, enabled: override.enabled, by: override.byId, at: override.at }, overrideNote(kind, id, override));
  }
}
