// The facts the separation-of-duties rule and the rules checked again need, gathered as they
// are now (store and directory), and the one way a request the bot can no longer grant ends.
// Used by every path that can give a person access: submission, an admin's direct assignment,
// extension, each approval, and the last step before delivery.
import { policyGroupIds } from '../domain/eligibility';
import { competingPackageIds, recheckRequest } from '../domain/recheck';
import type { AccessPackage, AccessRequest, Catalog, Policy, RequestEndReason, RequestState } from '../domain/model';
import { checkSeparationOfDuties, groupsGrantedByPackage, type SeparationOfDutiesInput, type SeparationOfDutiesResult } from '../domain/separationOfDuties';
import type { PersonClaim } from '../store/repositories/personClaims';
import type { Filter } from '../store/port';
import type { AdminNotices } from './adminNotices';
import { requestEndedByRule, targetEndedByRule } from './approvalMessages';
import type { ServiceDependencies } from './deps';
import type { Notifications } from './notifications';
import { type Refusal, refuse } from './outcome';

/** How long an interactive change waits for someone else's change to the same person (real time). */
export const CLAIM_WAIT_MS = 5_000;

export type SeparationOfDutiesCheck = SeparationOfDutiesResult & { conflictName?: string };

export type RecheckOutcome = { ok: true } | { ok: false; endReason: RequestEndReason };

/**
 * Runs `work` while holding the person's claim (src/store/repositories/personClaims.ts), so no
 * other change that can give them access checks and writes at the same time. Waits a few
 * seconds for a claim someone else holds; refuses (changing nothing) if it is still held.
 */
export async function underPersonClaim<T extends object>(
  deps: Pick<ServiceDependencies, 'repositories'>,
  personId: string,
  purpose: string,
  work: (claim: PersonClaim) => Promise<T | Refusal>,
): Promise<T | Refusal> {
  const { personClaims } = deps.repositories;
  const claim = await personClaims.acquire(personId, purpose, CLAIM_WAIT_MS);
  if (!claim) return busy();
  try {
    return await work(claim);
  } finally {
    await personClaims.release(claim);
  }
}

/** Before the write that follows the checks: still ours? Otherwise the checks may be stale. */
export async function stillClaimed(deps: Pick<ServiceDependencies, 'repositories'>, claim: PersonClaim): Promise<Refusal | undefined> {
  return (await deps.repositories.personClaims.renew(claim)) ? undefined : busy();
}

function busy(): Refusal {
  return refuse('busy', 'Another change to this access is being made right now, so nothing was changed. Try again in a moment.');
}

export class GrantChecks {
  constructor(private readonly deps: ServiceDependencies) {}

  /**
   * Separation of duties for `userId` and `accessPackage`, against what they hold and what they
   * have asked for. `request`: a stored request checked again (only requests that came before it
   * count against it); absent for a submission. `memberOf`: their memberships among the package's
   * incompatible groups when the caller has looked them up already.
   */
  async separationOfDuties(userId: string, accessPackage: AccessPackage, request?: AccessRequest, memberOf?: ReadonlySet<string>): Promise<SeparationOfDutiesCheck> {
    const facts = await this.separationOfDutiesFacts(userId, accessPackage, request, memberOf);
    const result = checkSeparationOfDuties({ ...facts, accessPackage });
    if (result.ok) return result;
    const names = result.conflict.kind === 'package' ? facts.packageNames : facts.groupNames;
    const conflictName = names?.get(result.conflict.id);
    return { ...result, ...(conflictName !== undefined ? { conflictName } : {}) };
  }

  /**
   * Whether a stored request may still be granted, with the facts as they are now. `checkedAt`
   * says where (for the record and the messages). Directory failures throw: the caller's step is
   * retried, nothing is decided on missing facts.
   */
  async recheck(request: AccessRequest, context: { accessPackage: AccessPackage; policy: Policy; catalog: Catalog | null }, checkedAt: RequestEndReason['checkedAt']): Promise<RecheckOutcome> {
    const { directory } = this.deps;
    const { accessPackage, policy, catalog } = context;
    if (request.type === 'remove' || request.type === 'adminRemove') return { ok: true };
    const target = await directory.getUser(request.targetUserId);
    const groups = [...new Set([...policyGroupIds([policy]), ...accessPackage.incompatibleGroups])];
    const memberOf = new Set(target && groups.length > 0 ? await directory.checkMemberGroups(target.id, groups) : []);
    const sodFacts = await this.separationOfDutiesFacts(request.targetUserId, accessPackage, request, memberOf);
    const result = recheckRequest({
      requestType: request.type,
      catalog,
      accessPackage,
      policy,
      target,
      facts: { userId: request.targetUserId, userType: target?.userType ?? 'Member', groupIds: memberOf },
      separationOfDuties: sodFacts,
    });
    if (result.ok) return result;
    const endReason: RequestEndReason = { rule: result.rule, checkedAt };
    if (result.conflict) {
      const names = result.conflict.kind === 'package' ? sodFacts.packageNames : sodFacts.groupNames;
      const displayName = names?.get(result.conflict.id);
      endReason.conflict = { ...result.conflict, ...(displayName !== undefined ? { displayName } : {}) };
    }
    return { ok: false, endReason };
  }

  private async separationOfDutiesFacts(userId: string, accessPackage: AccessPackage, request?: AccessRequest, memberOf?: ReadonlySet<string>): Promise<Omit<SeparationOfDutiesInput, 'accessPackage'>> {
    const { repositories, directory } = this.deps;
    const held = await repositories.assignments.listActiveForUser(userId);
    const open = await repositories.requests.listOpenForUser(userId);
    const competing = competingPackageIds(request, held, open);
    const related = await repositories.packages.getMany([...new Set([...competing, ...accessPackage.incompatibleAccessPackages])]);
    const byId = new Map<string, AccessPackage>([...related.map((p) => [p.id, p] as const), [accessPackage.id, accessPackage]]);
    // The groups each package gives come from its catalog's resources.
    const catalogs = new Map<string, Catalog | null>();
    for (const p of byId.values()) if (!catalogs.has(p.catalog)) catalogs.set(p.catalog, await repositories.catalogs.get(p.catalog));
    const granted = new Map([...byId.values()].map((p) => [p.id, groupsGrantedByPackage(p, catalogs.get(p.catalog) ?? null)] as const));
    const memberOfGroupIds = memberOf ?? new Set(accessPackage.incompatibleGroups.length > 0 ? await directory.checkMemberGroups(userId, accessPackage.incompatibleGroups) : []);
    const groupNames = new Map<string, string>();
    for (const groupId of accessPackage.incompatibleGroups.filter((g) => memberOfGroupIds.has(g))) {
      const group = await directory.getGroup(groupId);
      if (group) groupNames.set(groupId, group.displayName);
    }
    return {
      heldOrPendingPackageIds: competing,
      packageNames: new Map(related.map((p) => [p.id, p.displayName])),
      incompatiblePackagesOf: (id) => byId.get(id)?.incompatibleAccessPackages ?? [],
      memberOfGroupIds,
      groupNames,
      groupsGrantedBy: (id) => granted.get(id) ?? [],
      incompatibleGroupsOf: (id) => byId.get(id)?.incompatibleGroups ?? [],
    };
  }
}

export interface EndByRuleDependencies extends ServiceDependencies {
  notifications: Notifications;
  adminNotices: Pick<AdminNotices, 'separationOfDutiesEnded'>;
}

/**
 * Ends a request the bot can no longer grant (state denied, with why), in one conditional
 * update audited with it; then the requester (and the person it was for, when an admin asked)
 * is told, and admins hear of a separation-of-duties conflict. Null when the request had moved
 * on meanwhile (nothing changed, nobody told).
 */
export async function endByRule(
  deps: EndByRuleDependencies,
  request: AccessRequest,
  from: RequestState | readonly RequestState[],
  endReason: RequestEndReason,
  precondition: Filter = {},
  names: { packageName: string },
  /** The approver whose click found it, when one did. */
  triggeredBy?: string,
): Promise<AccessRequest | null> {
  const { repositories, clock } = deps;
  const now = clock.now();
  const ended = await repositories.requests.transition(
    request.id,
    from,
    {
      $set: { state: 'denied', endReason, updatedAt: now },
      $push: { history: { at: now, actorId: 'system', action: `ended: ${endReason.rule}`, details: `checked again at ${endReason.checkedAt}${endReason.conflict ? `; conflicts with ${endReason.conflict.kind} ${endReason.conflict.id}` : ''}` } },
    },
    precondition,
    {
      actorId: 'system',
      action: 'request.endedByRule',
      packageId: request.packageId,
      userId: request.targetUserId,
      requestId: request.id,
      details: { rule: endReason.rule, checkedAt: endReason.checkedAt, ...(endReason.conflict ? { conflict: endReason.conflict } : {}), ...(triggeredBy ? { approverId: triggeredBy } : {}) },
    },
  );
  if (!ended) return null;
  await announceEndedByRule(deps, ended, names.packageName);
  return ended;
}

/**
 * Tells the requester (and the person it was for, and admins for a separation-of-duties
 * conflict) that a request ended by rule. Every notice is keyed, so a rerun after a crash
 * between the end and the notices repeats none that went out.
 */
export async function announceEndedByRule(deps: EndByRuleDependencies, ended: AccessRequest, packageName: string): Promise<void> {
  const { notifications, directory } = deps;
  if (ended.state !== 'denied' || !ended.endReason) return;
  const onBehalf = ended.requesterId !== ended.targetUserId;
  const targetName = onBehalf ? ((await directory.getUser(ended.targetUserId))?.displayName ?? ended.targetUserId) : undefined;
  const info = { request: ended, packageName, ...(targetName !== undefined ? { targetName } : {}) };
  await notifications.send(ended.requesterId, requestEndedByRule(info), { key: `endedByRule:${ended.id}` });
  if (onBehalf) await notifications.send(ended.targetUserId, targetEndedByRule(info, (await directory.getUser(ended.requesterId))?.displayName), { key: `endedByRule:${ended.id}:target` });
  if (ended.endReason.rule === 'separationOfDuties') {
    await deps.adminNotices.separationOfDutiesEnded({ request: ended, packageName, userName: targetName ?? (await directory.getUser(ended.targetUserId))?.displayName ?? ended.targetUserId });
  }
}
