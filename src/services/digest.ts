// The admins' daily digest: gathered through index-backed queries, built by the pure rules in
// domain/digest.ts, sent through AdminNotices. Scheduled as one durable task per UTC day
// (dedupe key with the date), so several instances send one digest a day between them; each
// run queues the next day's, and a scheduler job makes sure the next one exists.
import type { Clock } from '../clock';
import {
  addDays,
  digestCardData,
  DIGEST_LIMITS,
  digestRun,
  ESCALATION_WINDOW_MS,
  expiringByPackage,
  failedDeliveries,
  isUtcDay,
  nextSlot,
  type DigestFacts,
  digestSlot,
  timingOutSoon,
  TIMEOUT_WINDOW_MS,
} from '../domain/digest';
import { formatDate } from '../domain/lifecycle';
import { DIGEST_TASK } from '../domain/taskTypes';
import type { AccessPackage, AccessRequest, Assignment, Catalog, Policy } from '../domain/model';
import type { Directory } from '../directory/port';
import type { Logger } from '../logger';
import type { ScheduledJob } from '../scheduler/scheduler';
import type { TaskOutcome } from '../scheduler/taskRunner';
import type { Repositories } from '../store/repositories';
import type { AdminNotices } from './adminNotices';
import { grantedRoles } from './describe';
import type { OutgoingCard } from './notifications';

export { DIGEST_TASK };

const DAY_MS = 24 * 60 * 60_000;
/** Pending requests read per package: far more than a digest shows. */
const PENDING_PER_PACKAGE = 500;

export interface DigestSettings {
  /** Time of day (UTC, HH:MM) the digest goes out. */
  timeUtc: string;
  /** Assignments expiring within this many days are listed. */
  days: number;
}

export interface DigestDependencies {
  repositories: Repositories;
  directory: Directory;
  clock: Clock;
  adminNotices: AdminNotices;
  logger: Logger;
  settings: DigestSettings;
}

export class DigestService {
  private readonly log: Logger;
  /** The day whose task this instance last made sure of: one insert attempt a day, not one a tick. */
  private ensuredDay?: string;

  constructor(private readonly deps: DigestDependencies) {
    this.log = deps.logger.child({ component: 'digest' });
  }

  taskHandlers(): Record<string, (payload: Record<string, unknown>, attempts: number) => Promise<TaskOutcome>> {
    return { [DIGEST_TASK]: (payload) => this.runScheduled(payload) };
  }

  /** The scheduler job: makes sure the next digest is queued (at start-up, and each new day). */
  job(): ScheduledJob {
    return { name: 'digest', run: () => this.ensureScheduled() };
  }

  async ensureScheduled(): Promise<void> {
    const next = nextSlot(this.deps.clock.now(), this.deps.settings.timeUtc);
    if (this.ensuredDay === next.day) return;
    await this.schedule(next.day);
    this.ensuredDay = next.day;
  }

  /** The digest as of now (the `digest` command, and each scheduled run). */
  async build(note = ''): Promise<OutgoingCard> {
    const now = this.deps.clock.now();
    const facts = await this.gather(now, note);
    const names = await this.names(facts);
    return { template: 'adminDigest', data: { ...digestCardData(facts, names) } };
  }

  /** One run of the daily task for `payload.day`. */
  async runScheduled(payload: Record<string, unknown>): Promise<TaskOutcome> {
    const day = payload.day;
    if (!isUtcDay(day)) return { status: 'failed', error: `malformed ${DIGEST_TASK} task: day must be YYYY-MM-DD` };
    const { timeUtc } = this.deps.settings;
    const now = this.deps.clock.now();
    const run = digestRun(day, now, timeUtc);
    if (run.kind === 'wait') return { status: 'retry', at: run.until, error: `the digest time is now ${timeUtc} UTC` };
    if (run.kind === 'superseded') {
      // The bot was down over one or more digest times: only the latest missed day is sent.
      const missedSince = typeof payload.missedSince === 'string' && isUtcDay(payload.missedSince) ? payload.missedSince : day;
      this.log.info({ day, latest: run.by }, 'digest time passed while the bot was down; sending only the latest one');
      await this.schedule(run.by, missedSince);
      return { status: 'done' };
    }
    const missedSince = typeof payload.missedSince === 'string' && isUtcDay(payload.missedSince) ? payload.missedSince : undefined;
    const note = missedSince
      ? `Catch-up: the bot was not running at ${timeUtc} UTC on ${missedSinceText(missedSince, day)}. This one digest stands for the missed ones.`
      : '';
    await this.deps.adminNotices.send(await this.build(note), `digest:${day}`);
    await this.schedule(addDays(day, 1));
    return { status: 'done' };
  }

  private async schedule(day: string, missedSince?: string): Promise<void> {
    await this.deps.repositories.tasks.enqueue({
      type: DIGEST_TASK,
      payload: { day, ...(missedSince ? { missedSince } : {}) },
      dueAt: digestSlot(day, this.deps.settings.timeUtc),
      dedupeKey: `${DIGEST_TASK}:${day}`,
    });
  }

  private async gather(now: Date, note: string): Promise<DigestFacts & { packages: Map<string, AccessPackage> }> {
    const { repositories } = this.deps;
    const packages = new Map((await repositories.packages.list()).map((p) => [p.id, p]));
    const expiring = await repositories.assignments.listExpiringBetween(now, new Date(now.getTime() + this.deps.settings.days * DAY_MS));

    // Per package, so both stores answer from the (packageId, state) indexes: cost follows the
    // failed and pending items, not the number of assignments and requests ever made.
    const failed: Assignment[] = [];
    const pending: AccessRequest[] = [];
    for (const packageId of packages.keys()) {
      failed.push(...(await repositories.assignments.listForPackageInState(packageId, 'deliveryFailed')));
      failed.push(...(await repositories.assignments.listForPackageInState(packageId, 'partiallyDelivered')));
      pending.push(...(await repositories.requests.listPending(packageId, PENDING_PER_PACKAGE)));
    }
    const policies = new Map<string, Policy | null>();
    for (const request of pending) {
      const key = `${request.packageId}/${request.policyId}`;
      if (!policies.has(key)) policies.set(key, await repositories.policies.get(request.packageId, request.policyId));
    }
    const escalations = await repositories.audit.listAction('approval.escalated', new Date(now.getTime() - ESCALATION_WINDOW_MS), new Date(now.getTime() + 1));

    return {
      now,
      days: this.deps.settings.days,
      expiring: expiringByPackage(expiring),
      failed: failedDeliveries(failed),
      timingOut: timingOutSoon(pending, (r) => policies.get(`${r.packageId}/${r.policyId}`), now, TIMEOUT_WINDOW_MS),
      escalations: escalations.reverse(), // the latest first
      note,
      packages,
    };
  }

  /** Display names for what the card shows (only those: a few directory reads, cached). */
  private async names(facts: DigestFacts & { packages: Map<string, AccessPackage> }) {
    const userIds = new Set<string>();
    for (const p of facts.expiring) for (const a of p.soonest) userIds.add(a.userId);
    for (const a of facts.failed.slice(0, DIGEST_LIMITS.failed)) userIds.add(a.userId);
    for (const t of facts.timingOut.slice(0, DIGEST_LIMITS.timingOut)) [t.request.targetUserId, ...t.approverIds.slice(0, 3)].forEach((id) => userIds.add(id));
    for (const e of facts.escalations.slice(0, DIGEST_LIMITS.escalated)) {
      if (e.userId) userIds.add(e.userId);
      const added = Array.isArray(e.details?.addedApproverIds) ? (e.details.addedApproverIds as unknown[]) : [];
      for (const id of added.slice(0, 3)) if (typeof id === 'string') userIds.add(id);
    }
    const users = new Map<string, string>();
    for (const id of userIds) users.set(id, await this.userName(id));

    const catalogs = new Map<string, Catalog | null>();
    for (const a of facts.failed.slice(0, DIGEST_LIMITS.failed)) {
      const catalogId = facts.packages.get(a.packageId)?.catalog;
      if (catalogId && !catalogs.has(catalogId)) catalogs.set(catalogId, await this.deps.repositories.catalogs.get(catalogId));
    }
    return {
      user: (id: string) => users.get(id) ?? id,
      package: (id: string) => facts.packages.get(id)?.displayName ?? id,
      failedRoles: (assignment: Assignment) => {
        const accessPackage = facts.packages.get(assignment.packageId);
        const described = accessPackage ? grantedRoles(accessPackage, catalogs.get(accessPackage.catalog) ?? null) : [];
        return assignment.roles.flatMap((role, i) => {
          if (role.state !== 'failed') return [];
          // The package's roles line up with the assignment's unless the package changed since.
          const d = described[i];
          return [d && accessPackage?.resourceRoles[i]?.resource === role.resource ? `${d.resource} (${d.role})` : `${role.resource} (${role.role})`];
        });
      },
    };
  }

  /** A name for the digest; a directory hiccup shows the id rather than losing the digest. */
  private async userName(id: string): Promise<string> {
    try {
      return (await this.deps.directory.getUser(id))?.displayName ?? id;
    } catch (error) {
      this.log.warn({ err: error, userId: id }, 'could not read a user for the digest; showing the id');
      return id;
    }
  }
}

function missedSinceText(first: string, last: string): string {
  const from = formatDate(new Date(`${first}T00:00:00Z`));
  const to = formatDate(new Date(`${last}T00:00:00Z`));
  return first === last ? from : `${from} to ${to}`;
}
