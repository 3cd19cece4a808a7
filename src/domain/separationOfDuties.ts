// Separation of duties: a package may declare other packages and groups incompatible with it
// (DESIGN.md §3, Entra's incompatibleAccessPackages / incompatibleGroups).
//
// Goes past Entra on purpose: Entra checks only the *requested* package's lists. Here a
// conflict also exists when a package the user holds (or has pending) lists the requested one.
// Otherwise a one-sided configuration ("Executive expense reports" lists "Accounting" but not
// the reverse) would let SoD be bypassed simply by requesting the two in the other order.
// The same goes for groups: a group a held or pending package gives counts as a membership
// (a pending package's group is not in the directory yet, so asking for both at once would
// otherwise slip through), both ways round.

import type { AccessPackage, Catalog } from './model';

export interface SeparationOfDutiesInput {
  accessPackage: AccessPackage;
  /** Packages the user holds (active assignment) or has a pending request for. */
  heldOrPendingPackageIds: ReadonlySet<string>;
  /** Display names by package id, for the message. */
  packageNames: ReadonlyMap<string, string>;
  /** Another package's incompatibleAccessPackages list. */
  incompatiblePackagesOf: (packageId: string) => string[];
  /** The user's transitive group memberships, at least among accessPackage.incompatibleGroups. */
  memberOfGroupIds: ReadonlySet<string>;
  groupNames?: ReadonlyMap<string, string>;
  /** Group object ids a package gives (its group and site resources). Absent: groups given by packages are not considered. */
  groupsGrantedBy?: (packageId: string) => string[];
  /** Another package's incompatibleGroups list. */
  incompatibleGroupsOf?: (packageId: string) => string[];
}

export type SeparationOfDutiesResult =
  | { ok: true }
  | { ok: false; message: string; conflict: { kind: 'package' | 'group'; id: string } };

export function checkSeparationOfDuties(input: SeparationOfDutiesInput): SeparationOfDutiesResult {
  const conflictingPackage = declaredConflict(input) ?? reverseConflict(input);
  if (conflictingPackage !== undefined) {
    const other = describe(input.packageNames, conflictingPackage, 'package');
    return conflict(input, 'package', conflictingPackage, `while you have ${other}`);
  }
  const group = input.accessPackage.incompatibleGroups.find((id) => input.memberOfGroupIds.has(id));
  if (group !== undefined) {
    const other = describe(input.groupNames, group, 'group');
    return conflict(input, 'group', group, `while you're a member of ${other}`);
  }
  const givingPackage = groupGivenConflict(input);
  if (givingPackage !== undefined) {
    const other = describe(input.packageNames, givingPackage, 'package');
    return conflict(input, 'package', givingPackage, `while you have ${other}`);
  }
  return { ok: true };
}

/**
 * A held/pending package that gives a group this package excludes, or that excludes a group
 * this package gives: the two can't be held together either.
 */
function groupGivenConflict(input: SeparationOfDutiesInput): string | undefined {
  const { groupsGrantedBy, incompatibleGroupsOf } = input;
  if (!groupsGrantedBy) return undefined;
  const self = input.accessPackage.id;
  const excluded = new Set(input.accessPackage.incompatibleGroups);
  const given = new Set(groupsGrantedBy(self));
  for (const held of input.heldOrPendingPackageIds) {
    if (held === self) continue;
    if (groupsGrantedBy(held).some((id) => excluded.has(id))) return held;
    if (incompatibleGroupsOf && incompatibleGroupsOf(held).some((id) => given.has(id))) return held;
  }
  return undefined;
}

/** Group object ids a package's resource roles give (groups, and sites through their Microsoft 365 group). */
export function groupsGrantedByPackage(accessPackage: AccessPackage, catalog: Pick<Catalog, 'resources'> | null): string[] {
  if (!catalog) return [];
  const ids = new Set<string>();
  for (const role of accessPackage.resourceRoles) {
    const resource = catalog.resources.find((r) => r.id === role.resource);
    if (resource && (resource.type === 'group' || resource.type === 'sharePointSite')) ids.add(resource.originId);
  }
  return [...ids];
}

/** A held/pending package this package lists as incompatible (Entra's own check). */
function declaredConflict(input: SeparationOfDutiesInput): string | undefined {
  const self = input.accessPackage.id;
  // A package listing itself is a configuration slip, not a conflict: re-requesting a package
  // you hold is a different rule (already assigned / extend).
  return input.accessPackage.incompatibleAccessPackages.find((id) => id !== self && input.heldOrPendingPackageIds.has(id));
}

/** A held/pending package that lists this one as incompatible (the one-sided case Entra misses). */
function reverseConflict(input: SeparationOfDutiesInput): string | undefined {
  const self = input.accessPackage.id;
  for (const held of input.heldOrPendingPackageIds) {
    if (held !== self && input.incompatiblePackagesOf(held).includes(self)) return held;
  }
  return undefined;
}

function conflict(
  input: SeparationOfDutiesInput,
  kind: 'package' | 'group',
  id: string,
  circumstance: string,
): SeparationOfDutiesResult {
  const name = `"${input.accessPackage.displayName}"`;
  return {
    ok: false,
    message: `You can't request ${name} ${circumstance}: the two are incompatible (separation of duties).`,
    conflict: { kind, id },
  };
}

/** The display name in quotes, or a plain description with the id when the name is unknown. */
function describe(names: ReadonlyMap<string, string> | undefined, id: string, kind: 'package' | 'group'): string {
  const name = names?.get(id);
  return name === undefined ? `the ${kind} with id "${id}"` : `"${name}"`;
}
