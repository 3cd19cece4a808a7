// Who may request an access package, and through which policy (DESIGN.md §3, Entra's rules).
// Pure: the caller gathers the requester's facts (user type, group memberships) first.

import type { AccessPackage, Catalog, Policy } from './model';

export interface RequestorFacts {
  userId: string;
  userType: 'Member' | 'Guest';
  /** The user's transitive group memberships, at least among the groups the policies name. */
  groupIds: ReadonlySet<string>;
}

export type UnavailableReason = 'catalogDisabled' | 'packageDisabled' | 'externalUsersNotAllowed' | 'hidden' | 'noPolicy' | 'notEligible';

export type PackageAvailability =
  | { available: true; policies: Policy[] }
  | { available: false; reason: UnavailableReason; message: string };

export interface PackageAvailabilityInput {
  catalog: Catalog | null;
  accessPackage: AccessPackage;
  policies: Policy[];
  facts: RequestorFacts;
  viaDirectLink: boolean;
}

/** Whether an enabled policy lets this user request. Disabled policies ("enable new requests" off) admit nobody. */
export function policyAdmits(policy: Policy, facts: RequestorFacts): boolean {
  if (!policy.enabled) return false;
  const requestors = policy.allowedRequestors;
  switch (requestors.scope) {
    case 'specificDirectoryUsers':
      // Named users and group members qualify whatever their user type: naming them is the
      // administrator's explicit decision, guests included.
      return requestors.users.includes(facts.userId) || requestors.groups.some((id) => facts.groupIds.has(id));
    case 'allMemberUsers':
      return facts.userType === 'Member';
    case 'allDirectoryUsers':
      return true;
    case 'notSpecified':
      // Admin-only policy: assignments are made directly, never requested.
      return false;
  }
}

/** Entra's precedence when several policies admit a user: the most specific audience wins. */
export function policySpecificity(policy: Policy): number {
  switch (policy.allowedRequestors.scope) {
    case 'specificDirectoryUsers':
      return 3;
    case 'allMemberUsers':
      return 2;
    case 'allDirectoryUsers':
      return 1;
    case 'notSpecified':
      return 0;
  }
}

/**
 * The admitting policies of the highest specificity present. Several when tied: the user
 * then picks one (as in My Access). Ordered by displayName, then id, so cards are stable.
 */
export function applicablePolicies(policies: Policy[], facts: RequestorFacts): Policy[] {
  const admitting = policies.filter((policy) => policyAdmits(policy, facts));
  if (admitting.length === 0) return [];
  const best = Math.max(...admitting.map(policySpecificity));
  return admitting.filter((policy) => policySpecificity(policy) === best).sort(byDisplayName);
}

/**
 * Whether the user may request the package, with the policies to choose from, or why not.
 * Checks run from what concerns everyone (catalog, visibility) to what concerns this user.
 */
export function packageAvailability(input: PackageAvailabilityInput): PackageAvailability {
  const { catalog, accessPackage, facts } = input;
  const name = quoted(accessPackage.displayName);
  // Policies of another package must never make this one requestable (defensive: a caller bug
  // here would offer the wrong approval chain).
  const policies = input.policies.filter((policy) => policy.packageId === accessPackage.id);

  if (!catalog || !catalog.enabled) {
    return unavailable('catalogDisabled', `You can't request ${name} right now: its catalog isn't open for requests. Ask IT if you still need it.`);
  }
  // A disabled package takes no new requests; access people already have stays.
  if (accessPackage.enabled === false) {
    return unavailable('packageDisabled', `You can't request ${name} right now: it isn't open for new requests. Ask IT if you still need it.`);
  }
  // Hidden packages are not listed or offered; only a direct link (the package id) reaches them.
  if (accessPackage.hidden && !input.viaDirectLink) {
    return unavailable('hidden', `${name} isn't listed for requests. Use the link you were given for it, or ask IT for one.`);
  }
  if (facts.userType === 'Guest' && !catalog.externalUsersEnabled) {
    return unavailable(
      'externalUsersNotAllowed',
      `You can't request ${name}: its catalog doesn't accept requests from guest users. Ask your contact in the organization to arrange access for you.`,
    );
  }
  if (!policies.some(acceptsRequests)) {
    return unavailable('noPolicy', `You can't request ${name}: it isn't open to requests. IT assigns it directly; ask them if you need it.`);
  }
  const applicable = applicablePolicies(policies, facts);
  if (applicable.length === 0) {
    return unavailable('notEligible', `You can't request ${name}: it isn't open to you. Ask your manager or IT which package fits your role.`);
  }
  return { available: true, policies: applicable };
}

/** Distinct group ids named by enabled specificDirectoryUsers policies: the only memberships worth looking up. */
export function policyGroupIds(policies: Policy[]): string[] {
  const ids = new Set<string>();
  for (const policy of policies) {
    // A disabled policy admits nobody, so its groups need no membership check.
    if (!policy.enabled || policy.allowedRequestors.scope !== 'specificDirectoryUsers') continue;
    for (const id of policy.allowedRequestors.groups) ids.add(id);
  }
  return [...ids];
}

/**
 * An enabled policy that anyone could request through. Admin-only (notSpecified) policies do
 * not count: a package with only those is "not open to requests", not "not open to you".
 */
function acceptsRequests(policy: Policy): boolean {
  return policy.enabled && policy.allowedRequestors.scope !== 'notSpecified';
}

function byDisplayName(a: Policy, b: Policy): number {
  return a.displayName.localeCompare(b.displayName, 'en') || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function unavailable(reason: UnavailableReason, message: string): PackageAvailability {
  return { available: false, reason, message };
}

function quoted(text: string): string {
  return `"${text}"`;
}
