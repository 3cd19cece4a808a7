// Rules checked again after a request was accepted: at each approval and just before delivery
// (docs/lifecycle.md, "Checked again"). What they depend on can change while a request waits:
// the requester leaves the policy's group, an admin disables the catalog, the account is
// disabled, the person joins an incompatible group outside the bot. Pure: the caller gathers
// the facts as they are now.

import { policyAdmits, type RequestorFacts } from './eligibility';
import type { AccessPackage, AccessRequest, Assignment, Catalog, Policy, RecheckedRule, RequestType } from './model';
import { checkSeparationOfDuties, type SeparationOfDutiesInput } from './separationOfDuties';

export interface RecheckInput {
  requestType: RequestType;
  catalog: Catalog | null;
  accessPackage: AccessPackage;
  policy: Policy;
  /** The person the access is for, as the directory has them now; null when they are gone. */
  target: { userType: 'Member' | 'Guest'; accountEnabled: boolean } | null;
  /** Their group memberships among those the policy names (eligibility). */
  facts: RequestorFacts;
  /** Everything separation of duties needs except the package (facts as they are now). */
  separationOfDuties: Omit<SeparationOfDutiesInput, 'accessPackage'>;
}

export type RecheckResult = { ok: true } | { ok: false; rule: RecheckedRule; conflict?: { kind: 'package' | 'group'; id: string } };

/**
 * Whether a waiting request may still be granted. Which rules apply follows who asked:
 * - add (the person themselves): everything a submission checks.
 * - adminAdd (an administrator, Entra's direct assignment): the administrator may override who
 *   is eligible, but not a disabled catalog, package or policy, a disabled account, a catalog
 *   closed to guests, nor separation of duties (Entra enforces incompatibility on direct
 *   assignments too).
 * - extend: the person must still be in the policy's scope (as when they asked) and the
 *   extension must not prolong access that now conflicts; the catalog and package switches
 *   govern new access, not the end date of access people have.
 * Removals are never held back.
 */
export function recheckRequest(input: RecheckInput): RecheckResult {
  const { requestType: type, catalog, accessPackage, policy, target } = input;
  if (type === 'remove' || type === 'adminRemove') return { ok: true };
  if (!target || !target.accountEnabled) return fail('accountDisabled');
  const grantsNew = type === 'add' || type === 'adminAdd';
  if (grantsNew && (!catalog || !catalog.enabled)) return fail('catalogDisabled');
  if (grantsNew && accessPackage.enabled === false) return fail('packageDisabled');
  if (!policy.enabled) return fail('policyDisabled');
  if (grantsNew && target.userType === 'Guest' && !catalog?.externalUsersEnabled) return fail('externalUsersNotAllowed');
  if (type !== 'adminAdd' && !policyAdmits(policy, input.facts)) return fail('notEligible');
  const sod = checkSeparationOfDuties({ ...input.separationOfDuties, accessPackage });
  if (!sod.ok) return { ok: false, rule: 'separationOfDuties', conflict: sod.conflict };
  return { ok: true };
}

/**
 * The packages a request competes with: those the person holds (other than through this very
 * request) and those of their open add requests that came first. Of two open requests that
 * conflict, the later one gives way, so the two can never both be delivered, and one of them
 * is, whichever is checked first. `request` absent: a submission not stored yet, which comes
 * after every open request.
 */
export function competingPackageIds(
  request: Pick<AccessRequest, 'id' | 'createdAt'> | undefined,
  held: readonly Pick<Assignment, 'packageId' | 'requestIds'>[],
  open: readonly Pick<AccessRequest, 'id' | 'type' | 'packageId' | 'createdAt'>[],
): Set<string> {
  const ids = new Set<string>();
  for (const assignment of held) if (!request || !assignment.requestIds.includes(request.id)) ids.add(assignment.packageId);
  for (const other of open) {
    if (other.type !== 'add' && other.type !== 'adminAdd') continue;
    if (request && (other.id === request.id || !cameFirst(other, request))) continue;
    ids.add(other.packageId);
  }
  return ids;
}

/** Earlier creation first; the id settles a tie (requests made in the same millisecond). */
function cameFirst(a: Pick<AccessRequest, 'id' | 'createdAt'>, b: Pick<AccessRequest, 'id' | 'createdAt'>): boolean {
  const difference = a.createdAt.getTime() - b.createdAt.getTime();
  return difference !== 0 ? difference < 0 : a.id < b.id;
}

function fail(rule: RecheckedRule): RecheckResult {
  return { ok: false, rule };
}
