// The lifecycle job: warns before expiry and expires assignments, driven by the scheduler loop.
//
// Each expiring assignment carries `lifecycleCheckAt`, the next moment the job must look at it
// (set to "now" whenever its expiry is set: delivery, extension). A run claims what is due, in
// that order, with a lease (several instances never process one assignment at once), applies
// the pure rule of domain/expiryWarnings.ts, and moves `lifecycleCheckAt` on conditionally.
// Side effects come first and are idempotent (notification and removal task keyed by the
// assignment, its expiry and the threshold), so a crash in between repeats nothing visible.
import { durationToMs } from '../domain/duration';
import { nextLifecycleStep } from '../domain/expiryWarnings';
import { describeTimeLeft, formatInstant } from '../domain/lifecycle';
import { ACTIVE_ASSIGNMENT_STATES, type Assignment } from '../domain/model';
import type { Logger } from '../logger';
import type { ScheduledJob } from '../scheduler/scheduler';
import type { Update } from '../store/port';
import type { AccessService, ExtensionOffer } from './access';
import type { ServiceDependencies } from './deps';
import { type GrantedRole, grantedRoles } from './describe';
import type { Notifications, OutgoingCard } from './notifications';
import { TASK_TYPES } from './workflow';

export interface LifecycleDependencies extends ServiceDependencies {
  notifications: Notifications;
  /** Decides what a warning offers (the same checks as Extend in My access). */
  access: AccessService;
  logger: Logger;
  /** How long before expiry users are warned: ISO 8601 durations (EXPIRY_WARNINGS). */
  warningOffsets: readonly string[];
  /** How long a claim keeps other instances off one assignment (renewed while a batch runs). */
  leaseMs?: number;
  /** Assignments claimed per query. */
  batchSize?: number;
  /** Upper bound per run, so one tick can't run forever after a long downtime. */
  maxPerRun?: number;
}

/** Set once assignments made before the lifecycle job existed have been planned. */
export const PLANNED_EXISTING_SETTING = 'lifecycle.plannedExisting';

export class LifecycleService implements ScheduledJob {
  readonly name = 'lifecycle';
  private readonly offsetsMs: number[];
  private plannedExisting = false;

  constructor(private readonly deps: LifecycleDependencies) {
    this.offsetsMs = deps.warningOffsets.map((text) => {
      const ms = durationToMs(text);
      if (ms === null || ms <= 0) throw new Error(`expiry warning offset ${text} is not a duration of days, hours or minutes`);
      return ms;
    });
  }

  async run(): Promise<void> {
    await this.planExisting();
    const { repositories, clock } = this.deps;
    const max = this.deps.maxPerRun ?? 1000;
    const leaseMs = this.deps.leaseMs ?? 30_000;
    let handled = 0;
    while (handled < max) {
      const now = clock.now();
      const batch = await repositories.assignments.claimLifecycleDue(now, leaseMs, Math.min(this.deps.batchSize ?? 50, max - handled));
      if (batch.length === 0) return;
      // Heartbeat: the claims of the batch's unchecked assignments are renewed while it runs, so
      // the lease can be short (a dead instance's claims are taken over soon after it died).
      const unchecked = new Set(batch);
      const heartbeat = setInterval(() => {
        for (const assignment of unchecked) void repositories.assignments.renewLifecycleLease(assignment, leaseMs, clock.now()).catch(() => undefined);
      }, Math.max(100, Math.floor(leaseMs / 3)));
      heartbeat.unref();
      try {
        for (const assignment of batch) {
          try {
            await this.check(assignment, now);
          } catch (error) {
            // Its lease runs out and a later run tries again; the others go on.
            this.deps.logger.error({ err: error, assignmentId: assignment.id }, 'lifecycle check failed; it will be retried');
          }
          unchecked.delete(assignment);
        }
      } finally {
        clearInterval(heartbeat);
      }
      handled += batch.length;
    }
  }

  /** The scheduler loop sleeps until the next check falls due (an expiry is seen when it comes, not an interval later). */
  async nextDueAt(horizon: Date): Promise<Date | null> {
    return this.deps.repositories.assignments.nextLifecycleCheckAt(this.deps.clock.now(), horizon);
  }

  /** One claimed assignment: expire it, warn, or plan the next look. */
  private async check(assignment: Assignment, now: Date): Promise<void> {
    const expiresAt = assignment.expiresAt;
    const ending = !ACTIVE_ASSIGNMENT_STATES.includes(assignment.state) || assignment.endReason !== undefined || assignment.roles.some((r) => r.state === 'removing');
    if (!expiresAt || ending) return this.advance(assignment, undefined);

    const step = nextLifecycleStep({ expiresAt, expirySetAt: assignment.expirySetAt ?? assignment.startAt, checkAt: assignment.lifecycleCheckAt!, now }, this.offsetsMs);
    switch (step.kind) {
      case 'expire':
        // Removal first (deduplicated per expiry), then the check is cleared: a crash in
        // between re-enqueues nothing new. The outbox and ledger do the rest.
        await this.deps.repositories.tasks.enqueue({
          type: TASK_TYPES.remove,
          payload: { assignmentId: assignment.id, reason: 'expired' },
          dedupeKey: `${TASK_TYPES.remove}:expired:${assignment.id}:${expiresAt.toISOString()}`,
        });
        return this.advance(assignment, undefined);
      case 'warn':
        // A failed delivery gave nothing to lose: no warning, but it still expires on time.
        if (assignment.state !== 'deliveryFailed') await this.warn(assignment, expiresAt, step.offsetMs, now);
        return this.advance(assignment, step.next);
      case 'wait':
        return this.advance(assignment, step.next);
    }
  }

  private async warn(assignment: Assignment, expiresAt: Date, offsetMs: number, now: Date): Promise<void> {
    const { repositories, notifications } = this.deps;
    const accessPackage = await repositories.packages.get(assignment.packageId);
    const catalog = accessPackage ? await repositories.catalogs.get(accessPackage.catalog) : null;
    const card = expiryWarningCard({
      assignmentId: assignment.id,
      packageName: accessPackage?.displayName ?? assignment.packageId,
      roles: accessPackage ? grantedRoles(accessPackage, catalog) : [],
      expiresAt,
      offer: await this.deps.access.extensionOffer(assignment),
      now,
    });
    // Keyed by assignment, expiry and threshold: once, whichever instance or restart gets here.
    await notifications.send(assignment.userId, card, { key: `warning:${assignment.id}:${expiresAt.toISOString()}:${offsetMs}` });
    // Audited once too: a run that died before moving the check on has already written it.
    const since = await repositories.audit.query({ userId: assignment.userId, from: new Date(expiresAt.getTime() - offsetMs) });
    const audited = since.some((e) => e.action === 'assignment.warned' && e.assignmentId === assignment.id && e.details?.expiresAt === expiresAt.toISOString() && e.details?.offsetMs === offsetMs);
    if (audited) return;
    await repositories.audit.append({
      actorId: 'system',
      action: 'assignment.warned',
      packageId: assignment.packageId,
      userId: assignment.userId,
      assignmentId: assignment.id,
      details: { offset: describeTimeLeft(offsetMs), offsetMs, expiresAt: expiresAt.toISOString() },
    });
  }

  /**
   * Moves the check on (or clears it) only if nobody changed it meanwhile: an extension or
   * "Let it expire" replans it, and that wins. Otherwise just the claim is released.
   */
  private async advance(assignment: Assignment, next: Date | undefined): Promise<void> {
    const { assignments } = this.deps.repositories;
    const unchanged = { lifecycleCheckAt: assignment.lifecycleCheckAt!, expiresAt: assignment.expiresAt ?? { $exists: false } };
    const update: Update = next ? { $set: { lifecycleCheckAt: next }, $unset: { lifecycleLeaseUntil: true } } : { $unset: { lifecycleCheckAt: true, lifecycleLeaseUntil: true } };
    if (await assignments.update(assignment.id, unchanged, update)) return;
    if (assignment.lifecycleLeaseUntil) await assignments.update(assignment.id, { lifecycleLeaseUntil: assignment.lifecycleLeaseUntil }, { $unset: { lifecycleLeaseUntil: true } });
  }

  /**
   * Assignments made before this job existed have no check planned: plan them once, from
   * their start, so thresholds passed meanwhile still give one (the most imminent) warning.
   */
  private async planExisting(): Promise<void> {
    if (this.plannedExisting) return;
    const { repositories } = this.deps;
    if (await repositories.settings.get<boolean>(PLANNED_EXISTING_SETTING)) {
      this.plannedExisting = true;
      return;
    }
    for (;;) {
      const batch = await repositories.assignments.listUnplanned(200);
      if (batch.length === 0) break;
      for (const assignment of batch) {
        await repositories.assignments.update(
          assignment.id,
          { lifecycleCheckAt: { $exists: false } },
          { $set: { lifecycleCheckAt: assignment.startAt, expirySetAt: assignment.startAt } },
        );
      }
    }
    await repositories.settings.set(PLANNED_EXISTING_SETTING, true);
    this.plannedExisting = true;
  }
}

/** The warning card (cards/expiryWarning.json): what ends when, Extend when allowed, Let it expire. */
export function expiryWarningCard(input: { assignmentId: string; packageName: string; roles: GrantedRole[]; expiresAt: Date; offer: ExtensionOffer; now: Date }): OutgoingCard {
  const { packageName, expiresAt, offer } = input;
  const left = describeTimeLeft(expiresAt.getTime() - input.now.getTime());
  const longer = offer.allowed && offer.newExpiresAt ? ` until ${formatInstant(offer.newExpiresAt)}` : '';
  const extendText = !offer.allowed
    ? offer.message
    : offer.requiresApproval
      ? `Need it longer? Extend asks the approvers to keep it${longer}.`
      : `Need it longer? Extend keeps it${longer || ' without an end date'}, at once.`;
  return {
    template: 'expiryWarning',
    data: {
      title: `Your access ends in ${left}: ${packageName}`,
      message: `Your access to "${packageName}" ends on ${formatInstant(expiresAt)}.`,
      rolesText: input.roles.length > 0 ? `It gives you: ${input.roles.map((r) => `${r.resource} (${r.role})`).join(', ')}.` : ' ',
      extendText,
      canExtend: offer.allowed,
      askJustification: offer.allowed && offer.requiresApproval,
      justificationRequired: offer.allowed && offer.justificationRequired,
      justificationLabel: offer.allowed && offer.justificationRequired ? 'Why do you need it longer? (required)' : 'Why do you need it longer? (optional)',
      assignmentId: input.assignmentId,
      expiresAt: expiresAt.toISOString(),
    },
  };
}
