// Applies a validated catalog definition to the store, idempotently: creates what is missing,
// updates what changed, leaves the rest alone, and deletes what the file no longer lists only
// when nothing depends on it. A package with active assignments or open requests is never
// deleted here: it is kept, its policies stop accepting new requests, and the report says so.
//
// Planning (what to do) is a pure function of the definition, the stored state and the usage
// counts; executing the plan is the only part that writes. A dry run plans and stops.
//
// An admin's enable/disable that differs from the file (an emergency stop) is kept and
// reported, not undone: see overrides.ts.

import { formatInstant } from '../domain/lifecycle';
import type { AccessPackage, AdminOverride, Catalog, Policy } from '../domain/model';
import type { AssignmentRepository } from '../store/repositories/assignments';
import type { CatalogRepository } from '../store/repositories/catalogs';
import type { PackageRepository } from '../store/repositories/packages';
import type { PolicyRepository } from '../store/repositories/policies';
import type { RequestRepository } from '../store/repositories/requests';
import type { CatalogDefinition } from './crossChecks';
import { keepOverride, type Switchable } from './overrides';
import { changedFields, sameValue } from './sameValue';

/** The repository methods apply needs (the full Repositories object satisfies this). */
export interface CatalogRepositories {
  catalogs: Pick<CatalogRepository, 'list' | 'save' | 'delete'>;
  packages: Pick<PackageRepository, 'list' | 'save' | 'delete'>;
  policies: Pick<PolicyRepository, 'listForPackage' | 'save' | 'delete' | 'refreshAllPackageKeys'>;
  assignments: Pick<AssignmentRepository, 'countActiveForPackage'>;
  requests: Pick<RequestRepository, 'countOpenForPackage'>;
}

export interface KindReport {
  created: string[];
  updated: { id: string; fields: string[] }[];
  unchanged: string[];
  deleted: string[];
  kept: { id: string; reason: string }[];
  /** Stored with an admin's enabled value where the file says otherwise (see overrides.ts). */
  overridden: { id: string; override: AdminOverride }[];
}

export interface ApplyReport {
  dryRun: boolean;
  catalogs: KindReport;
  packages: KindReport;
  /** Policy ids are reported as "<packageId>/<policyId>". */
  policies: KindReport;
}

export interface StoredState {
  catalogs: Catalog[];
  packages: AccessPackage[];
  policies: Policy[];
}

export interface PackageUsage {
  activeAssignments: number;
  openRequests: number;
}

export interface ApplyPlan {
  save: { catalogs: Catalog[]; packages: AccessPackage[]; policies: Policy[] };
  delete: { catalogs: string[]; packages: string[]; policies: { packageId: string; policyId: string }[] };
  report: ApplyReport;
}

export async function applyCatalog(
  definition: CatalogDefinition,
  repos: CatalogRepositories,
  options: { dryRun?: boolean } = {},
): Promise<ApplyReport> {
  const stored = await loadStoredState(definition, repos);
  const usage = await loadUsage(definition, stored, repos);
  const plan = planApply(definition, stored, usage, options.dryRun ?? false);
  if (!plan.report.dryRun) await executePlan(plan, repos);
  return plan.report;
}

async function loadStoredState(definition: CatalogDefinition, repos: CatalogRepositories): Promise<StoredState> {
  const [catalogs, packages] = await Promise.all([repos.catalogs.list(), repos.packages.list()]);
  // Policies are listed per package; include the file's packages in case a policy outlived
  // its package document (e.g. an apply interrupted half-way).
  const packageIds = [...new Set([...packages.map((p) => p.id), ...definition.packages.map((p) => p.id)])];
  const policies = (await Promise.all(packageIds.map((id) => repos.policies.listForPackage(id)))).flat();
  return { catalogs, packages, policies };
}

/** Usage is needed only where something might be removed: packages or policies the file dropped. */
async function loadUsage(definition: CatalogDefinition, stored: StoredState, repos: CatalogRepositories): Promise<Map<string, PackageUsage>> {
  const wantedPolicies = new Set(definition.policies.map(policyKey));
  const candidates = new Set<string>();
  const wantedPackages = new Set(definition.packages.map((p) => p.id));
  for (const pkg of stored.packages) if (!wantedPackages.has(pkg.id)) candidates.add(pkg.id);
  for (const policy of stored.policies) if (!wantedPolicies.has(policyKey(policy))) candidates.add(policy.packageId);
  const usage = new Map<string, PackageUsage>();
  for (const packageId of candidates) {
    const [activeAssignments, openRequests] = await Promise.all([
      repos.assignments.countActiveForPackage(packageId),
      repos.requests.countOpenForPackage(packageId),
    ]);
    usage.set(packageId, { activeAssignments, openRequests });
  }
  return usage;
}

/** Decides every write and deletion; pure. */
export function planApply(definition: CatalogDefinition, stored: StoredState, usage: Map<string, PackageUsage>, dryRun = false): ApplyPlan {
  const report: ApplyReport = { dryRun, catalogs: emptyKindReport(), packages: emptyKindReport(), policies: emptyKindReport() };
  const plan: ApplyPlan = { save: { catalogs: [], packages: [], policies: [] }, delete: { catalogs: [], packages: [], policies: [] }, report };

  plan.save.catalogs = upserts(withOverrides(definition.catalogs, stored.catalogs, (c) => c.id, report.catalogs), stored.catalogs, (c) => c.id, report.catalogs);
  plan.save.packages = upserts(withOverrides(definition.packages, stored.packages, (p) => p.id, report.packages), stored.packages, (p) => p.id, report.packages);
  plan.save.policies = upserts(withOverrides(definition.policies, stored.policies, policyKey, report.policies), stored.policies, policyKey, report.policies);

  // Packages the file no longer lists.
  const wantedPackages = new Set(definition.packages.map((p) => p.id));
  const keptPackages = new Set<string>();
  for (const pkg of stored.packages) {
    if (wantedPackages.has(pkg.id)) continue;
    const inUse = usageText(usage.get(pkg.id));
    if (inUse) {
      keptPackages.add(pkg.id);
      report.packages.kept.push({ id: pkg.id, reason: `${inUse}; remove them first` });
    } else {
      plan.delete.packages.push(pkg.id);
      report.packages.deleted.push(pkg.id);
    }
  }

  // Policies the file no longer lists: they go with their package, or stay while it is in use.
  const wantedPolicies = new Set(definition.policies.map(policyKey));
  for (const policy of stored.policies) {
    const key = policyKey(policy);
    if (wantedPolicies.has(key)) continue;
    const inUse = usageText(usage.get(policy.packageId));
    const reason = keptPackages.has(policy.packageId) ? `its package '${policy.packageId}' is kept` : inUse && `its package has ${inUse}`;
    if (reason) {
      // Kept for the assignments and requests that refer to it, but closed to new requests:
      // the admin removed it from the file, so nobody should be able to start a new one.
      // An admin's "enable" of it goes too: taking it out of the file is the later decision.
      const { adminOverride, ...withoutOverride } = policy;
      const closed = policy.enabled ? { ...withoutOverride, enabled: false } : undefined;
      if (closed) plan.save.policies.push(closed);
      report.policies.kept.push({ id: key, reason: `${reason}; new requests ${closed ? 'now' : 'already'} disabled` });
    } else {
      plan.delete.policies.push({ packageId: policy.packageId, policyId: policy.id });
      report.policies.deleted.push(key);
    }
  }

  // Catalogs the file no longer lists: kept while a kept package still belongs to them.
  const wantedCatalogs = new Set(definition.catalogs.map((c) => c.id));
  for (const catalog of stored.catalogs) {
    if (wantedCatalogs.has(catalog.id)) continue;
    const holding = stored.packages.filter((p) => keptPackages.has(p.id) && p.catalog === catalog.id).map((p) => p.id);
    if (holding.length > 0) {
      report.catalogs.kept.push({ id: catalog.id, reason: `still holds kept package${holding.length === 1 ? '' : 's'} ${holding.join(', ')}` });
    } else {
      plan.delete.catalogs.push(catalog.id);
      report.catalogs.deleted.push(catalog.id);
    }
  }
  return plan;
}

/** Parents before children on the way in, children before parents on the way out. */
async function executePlan(plan: ApplyPlan, repos: CatalogRepositories): Promise<void> {
  for (const catalog of plan.save.catalogs) await repos.catalogs.save(catalog);
  for (const pkg of plan.save.packages) await repos.packages.save(pkg);
  for (const policy of plan.save.policies) await repos.policies.save(policy);
  for (const { packageId, policyId } of plan.delete.policies) await repos.policies.delete(packageId, policyId);
  for (const id of plan.delete.packages) await repos.packages.delete(id);
  for (const id of plan.delete.catalogs) await repos.catalogs.delete(id);
  // Each policy write refreshed its package's keys; this repairs any that a crash between
  // those two writes (here or in an admin's switch) left out of date.
  await repos.policies.refreshAllPackageKeys();
}

/** The file's items, with the admin overrides the file does not agree with kept (and reported). */
function withOverrides<T extends Switchable>(wanted: T[], stored: T[], keyOf: (item: T) => string, report: KindReport): T[] {
  const storedByKey = new Map(stored.map((item) => [keyOf(item), item]));
  return wanted.map((item) => {
    const { item: effective, kept } = keepOverride(item, storedByKey.get(keyOf(item)));
    if (kept) report.overridden.push({ id: keyOf(item), override: kept });
    return effective;
  });
}

function upserts<T extends object>(wanted: T[], stored: T[], keyOf: (item: T) => string, report: KindReport): T[] {
  const storedByKey = new Map(stored.map((item) => [keyOf(item), item]));
  const writes: T[] = [];
  for (const item of wanted) {
    const key = keyOf(item);
    const existing = storedByKey.get(key);
    if (!existing) {
      report.created.push(key);
      writes.push(item);
    } else if (sameValue(existing, item)) {
      report.unchanged.push(key);
    } else {
      report.updated.push({ id: key, fields: changedFields(existing, item) });
      writes.push(item);
    }
  }
  return writes;
}

/** "2 active assignments / 0 open requests", or undefined when nothing holds the package. */
function usageText(usage: PackageUsage | undefined): string | undefined {
  if (!usage || (usage.activeAssignments === 0 && usage.openRequests === 0)) return undefined;
  return `${count(usage.activeAssignments, 'active assignment')} / ${count(usage.openRequests, 'open request')}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function policyKey(policy: Pick<Policy, 'packageId' | 'id'>): string {
  return `${policy.packageId}/${policy.id}`;
}

function emptyKindReport(): KindReport {
  return { created: [], updated: [], unchanged: [], deleted: [], kept: [], overridden: [] };
}

/**
 * A short summary, one line per kind plus one per warning, e.g.
 *   packages: 1 created (accounting), 1 updated (vat: description), 2 unchanged
 *   warning: package 'old' kept: 2 active assignments / 0 open requests; remove them first
 *   note: policy 'accounting/employees' kept disabled by Ivan Petrov on 22 Nov 2026 at 09:00 UTC; type enable policy accounting/employees to clear
 */
export function formatApplyReport(report: ApplyReport): string {
  const lines: string[] = report.dryRun ? ['dry run: nothing was written; this is what apply would do'] : [];
  const kinds = [
    ['catalogs', 'catalog', report.catalogs],
    ['packages', 'package', report.packages],
    ['policies', 'policy', report.policies],
  ] as const;
  for (const [plural, , kind] of kinds) lines.push(`${plural}: ${summarizeKind(kind)}`);
  for (const [, singular, kind] of kinds) {
    for (const kept of kind.kept) lines.push(`warning: ${singular} '${kept.id}' kept: ${kept.reason}`);
  }
  for (const [, singular, kind] of kinds) {
    for (const { id, override } of kind.overridden) lines.push(overrideNote(singular, id, override));
  }
  return lines.join('\n');
}

function summarizeKind(kind: KindReport): string {
  const parts: string[] = [];
  if (kind.created.length > 0) parts.push(`${kind.created.length} created (${kind.created.join(', ')})`);
  if (kind.updated.length > 0) {
    parts.push(`${kind.updated.length} updated (${kind.updated.map((u) => `${u.id}: ${u.fields.join(', ')}`).join('; ')})`);
  }
  if (kind.deleted.length > 0) parts.push(`${kind.deleted.length} deleted (${kind.deleted.join(', ')})`);
  if (kind.kept.length > 0) parts.push(`${kind.kept.length} kept`);
  if (kind.overridden.length > 0) parts.push(`${kind.overridden.length} kept ${kind.overridden.length === 1 ? 'as an admin set it' : 'as admins set them'}`);
  if (kind.unchanged.length > 0) parts.push(`${kind.unchanged.length} unchanged`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** "note: policy 'a/b' kept disabled by Ivan Petrov on 22 Nov 2026; type enable policy a/b to clear". */
export function overrideNote(singular: string, id: string, override: AdminOverride): string {
  const state = override.enabled ? 'enabled' : 'disabled';
  const fileSays = override.fileEnabled ? 'enable' : 'disable';
  return `note: ${singular} '${id}' kept ${state} by ${override.byName} on ${formatInstant(override.at)} (the file says ${override.fileEnabled ? 'enabled' : 'disabled'}); type ${fileSays} ${singular} ${id} to clear`;
}
