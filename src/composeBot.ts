// Wires the services and the bot from the ports. Used by the app and by the handler-level
// tests, so both run exactly the same graph.
import { AccessPackagesBot } from './bot/accessPackagesBot';
import { CardRenderer } from './bot/cards';
import { AdminActions, OperationsCommands } from './bot/adminActions';
import { AdminQueryCommands } from './bot/adminQueryCommands';
import { AdminNoticeCommands } from './bot/adminNoticeCommands';
import { AdminChangeCommands } from './bot/adminChangeCommands';
import { ApprovalActions } from './bot/approvalActions';
import { ActivityLimit, type LimitSettings, NO_LIMITS, PerMinuteLimit } from './bot/limits';
import { ReconcileCommands } from './bot/reconcileCommands';
import { SelfServiceActions } from './bot/selfServiceActions';
import type { Clock } from './clock';
import type { Directory } from './directory/port';
import { type PacingClock, WritePacer } from './directory/writePacer';
import type { Logger } from './logger';
import type { TaskRunner } from './scheduler/taskRunner';
import { AccessService } from './services/access';
import { AdminQueries } from './services/adminQueries';
import { AdminNotices } from './services/adminNotices';
import { AdminAssignments } from './services/adminAssignments';
import { AdminCatalog } from './services/adminCatalog';
import { AdminChanges } from './services/adminChanges';
import { AdminGate, AdminPolicy, type AdminSettings } from './services/admins';
import { ApprovalService } from './services/approvals';
import { DeliveryService } from './services/delivery';
import { ExportService, type ExportSettings } from './services/exports';
import { LifecycleService } from './services/lifecycle';
import { CatalogBrowser } from './services/catalogBrowser';
import { DigestService } from './services/digest';
import type { ServiceDependencies } from './services/deps';
import { RequestService } from './services/requests';
import { TaskNotifications } from './services/taskNotifications';
import { TaskWorkflow } from './services/workflow';
import { memoryRateLimitCounters, type RateLimitCounters } from './store/rateLimitCounters';
import type { Repositories } from './store/repositories';

export interface BotGraph {
  bot: AccessPackagesBot;
  services: ServiceDependencies;
  approvals: ApprovalService;
  delivery: DeliveryService;
  cards: CardRenderer;
  /** CSV exports: the HTTP server serves their downloads. */
  exports: ExportService;
  /** The scheduled job that warns before expiry and expires assignments. */
  lifecycle: LifecycleService;
  adminNotices: AdminNotices;
  digest: DigestService;
  /** Middleware for the adapter, after the tenant guard: the per-person messages-and-card-actions limit. */
  activityLimit: ActivityLimit;
}

export interface BotInput {
  repositories: Repositories;
  directory: Directory;
  clock: Clock;
  logger: Logger;
  admins: AdminSettings;
  /** The bot's app id (empty when auth is disabled), for share links. */
  botAppId?: string;
  /** Download links of CSV exports (default: http://localhost:3978, 15 minutes, key kept in the store). */
  exports?: Partial<ExportSettings>;
  /** The catalog file the bot runs with (CATALOG_FILE), for the admin command apply catalog. */
  catalogFile?: string;
  /** Fraction of a stage's decision time after which approvers are reminded (default 0.5). */
  reminderFraction?: number;
  /** The daily admin digest: time of day (UTC, HH:MM; default 08:00) and days of expiries listed (default 7). */
  adminNotices?: { digestTimeUtc: string; digestDays: number };
  delivery: {
    /** Directory writes per second (Graph allows about 3,000 per 150 s per app and tenant). */
    writesPerSecond: number;
    maxAttempts: number;
    /**
     * ALLOW_PRIVILEGED_ROLES: the catalog may offer, and delivery may assign, privileged Entra
     * roles. Default false: refused by "apply catalog" and before every grant.
     */
    allowPrivilegedRoles?: boolean;
    /** The longest pacing wait a grant or removal takes holding its worker (TASK_MAX_PACING_WAIT_MS). */
    maxPacingWaitMs?: number;
    /** Time source for pacing (tests use virtual time so nothing sleeps). */
    pacing?: PacingClock;
  };
  /** Expiry warnings: ISO 8601 offsets before expiry (default P14D, P1D, PT15M); the expiry check's lease (TASK_LEASE_MS). */
  lifecycle?: { warningOffsets: string[]; leaseMs?: number };
  /** Per-person limits and where they are counted (rateLimitCountersFor(store)); none when absent. */
  limits?: { settings: LimitSettings; counters: RateLimitCounters };
}

export function buildBot(input: BotInput): BotGraph {
  const { repositories, directory, clock, logger } = input;
  const cards = new CardRenderer();
  const services: ServiceDependencies = { repositories, directory, clock, workflow: new TaskWorkflow(repositories.tasks) };
  const admins = new AdminPolicy(input.admins, directory);
  const adminNotices = new AdminNotices({
    settings: repositories.settings,
    admins,
    adminUserIds: input.admins.userIds,
    notifications: new TaskNotifications(repositories.tasks),
    audit: repositories.audit,
    directory,
    clock,
    logger,
  });
  const digestSchedule = input.adminNotices ?? { digestTimeUtc: '08:00', digestDays: 7 };
  const digest = new DigestService({ repositories, directory, clock, adminNotices, logger, settings: { timeUtc: digestSchedule.digestTimeUtc, days: digestSchedule.digestDays } });
  const approvals = new ApprovalService({
    ...services,
    notifications: new TaskNotifications(repositories.tasks),
    admins,
    adminNotices,
    reminderFraction: input.reminderFraction,
  });
  const approvalActions = new ApprovalActions(approvals, cards);
  const pacing = input.delivery.pacing ?? { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)), maxWaitMs: input.delivery.maxPacingWaitMs };
  const writes = new WritePacer(input.delivery.writesPerSecond, pacing);
  const delivery = new DeliveryService({
    ...services,
    notifications: new TaskNotifications(repositories.tasks),
    admins,
    adminNotices,
    logger,
    pace: () => writes.pace(),
    throttled: (retryAfterMs) => writes.throttled(retryAfterMs),
    maxAttempts: input.delivery.maxAttempts,
    allowPrivilegedRoles: input.delivery.allowPrivilegedRoles ?? false,
  });
  const access = new AccessService(services);
  const lifecycle = new LifecycleService({
    ...services,
    notifications: new TaskNotifications(repositories.tasks),
    access,
    logger,
    warningOffsets: input.lifecycle?.warningOffsets ?? ['P14D', 'P1D', 'PT15M'],
    leaseMs: input.lifecycle?.leaseMs,
  });
  const { settings: limits, counters } = input.limits ?? { settings: NO_LIMITS, counters: memoryRateLimitCounters() };
  const perMinute = (name: string, points: number, options?: { blockInMemoryWhenOver?: boolean }) => new PerMinuteLimit(name, points, counters, clock, logger, options);
  const selfService = new SelfServiceActions(
    { browser: new CatalogBrowser(services), requests: new RequestService(services, { openRequests: limits.openRequests }), access },
    cards,
    clock,
    input.botAppId ?? '',
    perMinute('requests', limits.requestsPerMinute),
  );
  const queries = new AdminQueries(services);
  const exportSettings: ExportSettings = { publicBaseUrl: 'http://localhost:3978', linkMinutes: 15, ...input.exports };
  const exports = new ExportService({ ...services, queries, settings: exportSettings });
  const bot = new AccessPackagesBot({
    cards,
    conversationReferences: repositories.conversationReferences,
    selfService,
    approvals: approvalActions,
    admin: new AdminActions(new AdminGate(admins, repositories.audit), cards, [
      new OperationsCommands(approvalActions, delivery, cards),
      new AdminQueryCommands(queries, exports, cards, exportSettings.linkMinutes),
      new AdminNoticeCommands(adminNotices, digest, directory, cards, digestSchedule),
      adminChangeCommands(input, services, admins, cards),
      new ReconcileCommands(repositories, directory, cards),
    ]),
    clock,
    logger,
  });
  // Activities are never given back, so a flooder's further ones are refused from memory.
  const activityLimit = new ActivityLimit(perMinute('activities', limits.activitiesPerMinute, { blockInMemoryWhenOver: true }), cards);
  return { bot, services, approvals, delivery, cards, exports, lifecycle, adminNotices, digest, activityLimit };
}

/** Registers the services' durable work on the task runner. */
export function registerTaskHandlers(runner: TaskRunner, graph: BotGraph): void {
  const handlers = { ...graph.approvals.taskHandlers(), ...graph.delivery.taskHandlers(), ...graph.digest.taskHandlers() };
  for (const [type, handler] of Object.entries(handlers)) runner.register(type, (task) => handler(task.payload, task.attempts));
}

/** assign, remove, cancel, enable, disable, apply. */
function adminChangeCommands(input: BotInput, services: ServiceDependencies, admins: AdminPolicy, cards: CardRenderer): AdminChangeCommands {
  const gate = new AdminGate(admins, input.repositories.audit);
  const notifications = new TaskNotifications(input.repositories.tasks);
  return new AdminChangeCommands(
    {
      assignments: new AdminAssignments({ ...services, notifications, gate }),
      changes: new AdminChanges({ ...services, notifications, gate }),
      catalog: new AdminCatalog({ ...services, gate, catalogFile: input.catalogFile ?? '', catalogRules: { allowPrivilegedRoles: input.delivery.allowPrivilegedRoles ?? false } }),
    },
    cards,
    input.clock,
  );
}
