// Reconciliation: reads the ledger and the assignments, asks the directory about each key
// once, and applies the pure comparison (domain/reconcile.ts). Reads only: it repairs nothing
// (an admin reprocesses or removes what it reports).

import { endedButHeld, type ReconcileAssignment, type ReconcileReport, keyOf, keysToCheck, reconcile } from '../domain/reconcile';
import type { Resource } from '../domain/model';
import { type Directory, DirectoryError } from '../directory/port';
import type { Repositories } from '../store/repositories';

export async function runReconciliation(repositories: Repositories, directory: Directory): Promise<ReconcileReport> {
  const [grants, assignments, catalogs, packages] = [
    await repositories.grants.listAll(),
    await repositories.assignments.listAll(),
    await repositories.catalogs.list(),
    await repositories.packages.list(),
  ];
  const resources = new Map<string, Resource>();
  const catalogOfPackage = new Map(packages.map((p) => [p.id, p.catalog]));
  for (const c of catalogs) for (const r of c.resources) resources.set(`${c.id}/${r.id}`, r);
  const typeOfOrigin = new Map<string, Resource['type']>();
  for (const g of grants) typeOfOrigin.set(g.originId, g.resourceType);

  const resolved: ReconcileAssignment[] = assignments.map((a) => ({
    id: a.id,
    userId: a.userId,
    state: a.state,
    roles: a.roles.flatMap((r) => {
      const resource = resources.get(`${catalogOfPackage.get(a.packageId)}/${r.resource}`);
      if (!resource) return []; // no longer in the catalog: nothing to compare it with
      typeOfOrigin.set(resource.originId, resource.type);
      return [{ originId: resource.originId, role: r.role, state: r.state }];
    }),
  }));

  const held = new Set<string>();
  for (const key of keysToCheck(grants, resolved)) {
    const type = typeOfOrigin.get(key.originId);
    if (await holds(directory, type, key.originId, key.userId, key.role)) held.add(keyOf(key));
  }
  const keptAsPreExisting = new Set<string>();
  for (const { key, assignmentIds } of endedButHeld({ grants, assignments: resolved, held })) {
    const events = await repositories.audit.query({ userId: key.userId, limit: 1000 });
    const kept = events.some((e) => e.action === 'delivery.kept' && e.details?.reason === 'preExisting' && assignmentIds.includes(e.assignmentId ?? ''));
    if (kept) keptAsPreExisting.add(keyOf(key));
  }
  return reconcile({ grants, assignments: resolved, held, keptAsPreExisting });
}

/** Whether the directory gives the user this role; an object that no longer exists gives nothing. */
async function holds(directory: Directory, type: Resource['type'] | undefined, originId: string, userId: string, role: string): Promise<boolean> {
  try {
    if (type === 'application') return (await directory.listAppRoleAssignments(originId, userId)).some((x) => x.appRoleId === role);
    if ((type === 'group' || type === 'sharePointSite') && (role === 'member' || role === 'owner')) return await directory.hasGroupRole(originId, userId, role);
    // A directory role's key is (user, role definition, role definition): held when assigned tenant-wide.
    if (type === 'directoryRole') return (await directory.listDirectoryRoleAssignments(userId, originId)).length > 0;
    return false;
  } catch (error) {
    if (error instanceof DirectoryError && error.kind === 'notFound') return false;
    throw error;
  }
}
