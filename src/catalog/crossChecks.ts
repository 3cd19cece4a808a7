// Rules that relate entities of the catalog file (unique ids, references, resource roles and
// their resolution), and the conversion of the parsed file into domain objects with every
// default applied; each policy's own rules are in policyRules.ts. Pure: data in, data out.

import { privilegedRoleName } from '../domain/directoryRoles';
import type { AccessPackage, Catalog, Policy, Resource, ResourceRoleDefinition, ResourceRoleRef } from '../domain/model';
import { checkNoRepeats, formatPath, type Parsed, type Path, type Report, type UnlocatedError } from './errors';
import { buildPolicy, type ParsedPolicy } from './policyRules';
import type { CatalogInput, PackageInput, ResourceInput, ResourceRoleInput } from './schema';
import { closestMatch, didYouMean } from './suggest';

/** What a valid catalog file describes, as domain objects ready for the store. */
export interface CatalogDefinition {
  catalogs: Catalog[];
  packages: AccessPackage[];
  policies: Policy[];
}

/**
 * The file after schema validation. Every catalog, package and policy is listed whether or not
 * its own fields parsed (`fields` is then undefined), with whichever of its parts did parse,
 * so the rules of those parts are checked either way. An entity with a part missing is not
 * built, but then its schema errors have been reported and no definition is returned.
 */
export interface ParsedFile {
  catalogs: { path: Path; raw: unknown; fields?: CatalogInput; resources: Parsed<ResourceInput>[] }[];
  packages: ParsedPackage[];
}

export interface ParsedPackage {
  path: Path;
  raw: unknown;
  fields?: PackageInput;
  resourceRoles: Parsed<ResourceRoleInput>[];
  policies: ParsedPolicy[];
}

/** Settings that decide what the file may contain (the rest of the rules are fixed). */
export interface CatalogRules {
  /**
   * Whether resources may be privileged Entra roles (ALLOW_PRIVILEGED_ROLES, default false):
   * Global Administrator and the others Microsoft labels privileged (domain/directoryRoles.ts).
   */
  allowPrivilegedRoles: boolean;
}

/** A directory role resource's one role, unless the file names it otherwise. */
const DIRECTORY_ROLE_NAME = 'Entra role';

/** The safe default: privileged roles refused. */
export const DEFAULT_CATALOG_RULES: CatalogRules = { allowPrivilegedRoles: false };

/** Group and site roles (a site's roles are those of its Microsoft 365 group). */
const MEMBERSHIP_ROLES: readonly ResourceRoleDefinition[] = [
  { id: 'member', displayName: 'Member' },
  { id: 'owner', displayName: 'Owner' },
];

export function buildDefinition(file: ParsedFile, rules: CatalogRules = DEFAULT_CATALOG_RULES): { definition: CatalogDefinition; errors: UnlocatedError[] } {
  const errors: UnlocatedError[] = [];
  const report = (path: Path, message: string) => errors.push({ path, message });
  const rawCatalogs = file.catalogs.map((c) => c.raw);
  const rawPackages = file.packages.map((p) => p.raw);

  checkUniqueIds(rawCatalogs, ['catalogs'], 'catalog', report);
  rawCatalogs.forEach((raw, i) => checkUniqueIds(listField(raw, 'resources'), ['catalogs', i, 'resources'], 'resource', report));
  checkUniqueIds(rawPackages, ['accessPackages'], 'access package', report);
  rawPackages.forEach((raw, i) => {
    const policies = listField(raw, 'policies');
    checkUniqueIds(policies, ['accessPackages', i, 'policies'], 'policy', report);
    policies.forEach((policy, j) =>
      checkUniqueIds(listField(policy, 'questions'), ['accessPackages', i, 'policies', j, 'questions'], 'question', report),
    );
  });

  // References are checked against every id written in the file, even of entities with
  // schema errors, so one mistake does not cascade into "unknown catalog" everywhere.
  const known: Known = { catalogIds: idsOf(rawCatalogs), packageIds: idsOf(rawPackages), resourcesByCatalog: new Map() };

  const catalogs: Catalog[] = [];
  for (const entry of file.catalogs) {
    const resources = buildResources(entry.resources, rules, report);
    const id = idOf(entry.raw);
    if (id !== undefined && !known.resourcesByCatalog.has(id)) {
      known.resourcesByCatalog.set(id, { resources, listedIds: idsOf(listField(entry.raw, 'resources')) });
    }
    if (entry.fields) catalogs.push(buildCatalog(entry.fields, resources));
  }

  const packages: AccessPackage[] = [];
  const policies: Policy[] = [];
  for (const entry of file.packages) {
    const pkg = buildPackage(entry, known, report);
    if (pkg) packages.push(pkg);
    const packageId = idOf(entry.raw) ?? '';
    for (const parsed of entry.policies) {
      const policy = buildPolicy(parsed, packageId, report);
      if (policy) policies.push(policy);
    }
  }
  return { definition: { catalogs, packages, policies }, errors };
}

// ---------------------------------------------------------------------------------------
// Ids

function listField(raw: unknown, field: string): unknown[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const value = (raw as Record<string, unknown>)[field];
  return Array.isArray(value) ? value : [];
}

/** A non-empty text field of an entry that may not have parsed. */
function stringField(raw: unknown, field: string): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const value = (raw as Record<string, unknown>)[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function idOf(raw: unknown): string | undefined {
  return stringField(raw, 'id');
}

function idsOf(raws: unknown[]): Set<string> {
  return new Set(raws.map(idOf).filter((id): id is string => id !== undefined));
}

function checkUniqueIds(items: unknown[], path: Path, kind: string, report: Report): void {
  const first = new Map<string, number>();
  items.forEach((item, index) => {
    const id = idOf(item);
    if (id === undefined) return;
    const earlier = first.get(id);
    if (earlier === undefined) first.set(id, index);
    else report([...path, index, 'id'], `duplicate ${kind} id '${id}' (already used by ${formatPath([...path, earlier])})`);
  });
}

// ---------------------------------------------------------------------------------------
// Catalogs

function buildCatalog(value: CatalogInput, resources: Resource[]): Catalog {
  return {
    id: value.id,
    displayName: value.displayName,
    description: value.description,
    enabled: value.enabled,
    externalUsersEnabled: value.externalUsersEnabled,
    resources,
  };
}

function buildResources(parsed: Parsed<ResourceInput>[], rules: CatalogRules, report: Report): Resource[] {
  const origins = new Map<string, string>();
  return parsed.map(({ value, path }) => {
    // The same directory object twice would make two packages look different while
    // granting the same thing; Entra refuses it too.
    const origin = `${value.type}:${value.originId}`;
    const earlier = origins.get(origin);
    if (earlier !== undefined) report([...path, 'originId'], `${value.type} '${value.originId}' is already in this catalog as resource '${earlier}'`);
    else origins.set(origin, value.id);
    return buildResource(value, path, rules, report);
  });
}

function buildResource(resource: ResourceInput, path: Path, rules: CatalogRules, report: Report): Resource {
  const roles = resourceRoles(resource, path, report);
  const privileged = resource.type === 'directoryRole' ? privilegedRoleName(resource.originId) : undefined;
  if (privileged !== undefined && !rules.allowPrivilegedRoles) {
    report(
      [...path, 'originId'],
      `'${privileged}' (${resource.originId}) is a privileged Entra role, which the bot does not deliver unless ALLOW_PRIVILEGED_ROLES=true (docs/deployment.md); offer a less privileged role, or manage this one in Privileged Identity Management`,
    );
  }
  checkNoRepeats(roles.map((r) => r.id), [...path, 'roles'], 'role id', report);
  // Packages may name a role by its display name, so two roles must not share one.
  checkNoRepeats(roles.map((r) => r.displayName.toLowerCase()), [...path, 'roles'], 'role displayName', report);
  return {
    id: resource.id,
    type: resource.type,
    originId: resource.originId,
    displayName: resource.displayName,
    ...(resource.description === undefined ? {} : { description: resource.description }),
    roles,
  };
}

/** Declared roles, or the type's default: member/owner for groups and sites, the role itself ("Entra role") for a directory role. */
function resourceRoles(resource: ResourceInput, path: Path, report: Report): ResourceRoleDefinition[] {
  const declared = resource.roles?.map((r) => ({ id: r.id, displayName: r.displayName }));
  switch (resource.type) {
    case 'group':
    case 'sharePointSite': {
      if (declared === undefined) return [...MEMBERSHIP_ROLES];
      return declared.map((role, k) => {
        const known = MEMBERSHIP_ROLES.find((m) => m.id === role.id);
        if (!known) report([...path, 'roles', k], `a ${resource.type}'s roles are member and owner, not '${role.id}'${didYouMean(role.id, ['member', 'owner'])}`);
        return { id: role.id, displayName: role.displayName ?? known?.displayName ?? role.id };
      });
    }
    case 'application':
      if (declared === undefined || declared.length === 0) {
        report([...path, 'roles'], 'an application resource needs its app roles, e.g. roles: [{ id: <appRole id>, displayName: User }]');
        return [];
      }
      return declared.map((role) => ({ id: role.id, displayName: role.displayName ?? role.id }));
    case 'directoryRole':
      // Delivered as an assignment of the role definition named by originId: there is no other role to give.
      // Named for what it is, as "Member" is for a group: people read "Reports Reader (Entra role)".
      if (declared === undefined) return [{ id: resource.originId, displayName: DIRECTORY_ROLE_NAME }];
      if (declared.length !== 1) report([...path, 'roles'], `a directoryRole resource has exactly one role, its role definition '${resource.originId}' (the originId); leave roles out to use it`);
      return declared.map((role, k) => {
        if (declared.length === 1 && role.id.toLowerCase() !== resource.originId.toLowerCase()) {
          report([...path, 'roles', k], `a directoryRole resource's one role is its role definition '${resource.originId}' (the originId), not '${role.id}'; leave roles out, or declare { id: ${resource.originId} }`);
        }
        return { id: role.id, displayName: role.displayName ?? DIRECTORY_ROLE_NAME };
      });
  }
}

// ---------------------------------------------------------------------------------------
// Access packages

interface Known {
  catalogIds: Set<string>;
  packageIds: Set<string>;
  /** Per catalog id: its resources that parsed, and every resource id listed (parsed or not). */
  resourcesByCatalog: Map<string, { resources: Resource[]; listedIds: Set<string> }>;
}

function buildPackage({ path, raw, fields: value, resourceRoles: refs }: ParsedPackage, known: Known, report: Report): AccessPackage | undefined {
  // The catalog is read from the raw entry so its resources are checked even when another
  // field of the package is wrong.
  const catalogId = stringField(raw, 'catalog');
  if (catalogId !== undefined && !known.catalogIds.has(catalogId)) {
    report([...path, 'catalog'], `unknown catalog '${catalogId}'${suggestion(catalogId, [...known.catalogIds])}`);
  }
  const seen = new Set<string>();
  const resourceRoles = refs.map(({ value: ref, path: refPath }) => {
    const resolved = catalogId === undefined ? { resource: ref.resource, role: ref.role } : resolveResourceRole(catalogId, known, ref, refPath, report);
    // Compared after resolution: { role: User } and { role: role-accounting-user } are the same.
    const key = `${resolved.resource}/${resolved.role}`;
    if (seen.has(key)) report(refPath, `resource role '${key}' is listed twice`);
    seen.add(key);
    return resolved;
  });
  if (!value) return undefined;

  value.incompatibleAccessPackages.forEach((id, k) => {
    const at = [...path, 'incompatibleAccessPackages', k];
    if (id === value.id) report(at, 'a package cannot be incompatible with itself');
    else if (!known.packageIds.has(id)) report(at, `unknown access package '${id}'${suggestion(id, [...known.packageIds])}`);
  });
  checkNoRepeats(value.incompatibleAccessPackages, [...path, 'incompatibleAccessPackages'], 'access package', report);
  checkNoRepeats(value.incompatibleGroups, [...path, 'incompatibleGroups'], 'group', report);

  return {
    id: value.id,
    catalog: value.catalog,
    displayName: value.displayName,
    description: value.description,
    hidden: value.hidden,
    enabled: value.enabled,
    resourceRoles,
    incompatibleAccessPackages: value.incompatibleAccessPackages,
    incompatibleGroups: value.incompatibleGroups,
  };
}

/** Finds the resource in the package's catalog and the role by id, else by display name (any case). */
function resolveResourceRole(catalogId: string, known: Known, ref: { resource: string; role: string }, path: Path, report: Report): ResourceRoleRef {
  const catalog = known.resourcesByCatalog.get(catalogId);
  const resource = catalog?.resources.find((r) => r.id === ref.resource);
  if (!catalog || !resource) {
    // Listed but with errors of its own: those say what to fix; its roles are unknown.
    if (catalog && !catalog.listedIds.has(ref.resource)) report([...path, 'resource'], unknownResourceMessage(catalogId, known, ref.resource));
    return { resource: ref.resource, role: ref.role };
  }
  const byId = resource.roles.find((r) => r.id === ref.role);
  if (byId) return { resource: resource.id, role: byId.id };
  const byName = resource.roles.filter((r) => r.displayName.toLowerCase() === ref.role.toLowerCase());
  if (byName.length === 1) return { resource: resource.id, role: byName[0].id };
  const names = resource.roles.map((r) => (r.id === r.displayName ? r.id : `${r.displayName} (${r.id})`));
  const hint = didYouMean(ref.role, [...resource.roles.map((r) => r.id), ...resource.roles.map((r) => r.displayName)]);
  report(
    [...path, 'role'],
    `${resource.type} '${resource.id}' has no role '${ref.role}'${hint}${hint ? '' : `; its roles are: ${names.join(', ') || 'none'}`}`,
  );
  return { resource: resource.id, role: ref.role };
}

function unknownResourceMessage(catalogId: string, known: Known, resourceId: string): string {
  // Entra only lets a package use resources of its own catalog: say so when that is the mistake.
  const elsewhere = [...known.resourcesByCatalog].find(([, c]) => c.listedIds.has(resourceId));
  if (elsewhere) return `resource '${resourceId}' belongs to catalog '${elsewhere[0]}'; a package can only use resources of its own catalog ('${catalogId}')`;
  const listed = [...(known.resourcesByCatalog.get(catalogId)?.listedIds ?? [])];
  return `catalog '${catalogId}' has no resource '${resourceId}'${suggestion(resourceId, listed)}`;
}

function suggestion(word: string, candidates: string[]): string {
  if (candidates.length === 0) return '';
  const match = closestMatch(word, candidates);
  return match === undefined ? `; known: ${candidates.join(', ')}` : `; did you mean '${match}'?`;
}
