// Admin changes to the catalog from chat: enable/disable a catalog, package or policy (an
// override the next apply keeps, see src/catalog/overrides.ts) and apply the catalog file
// the bot runs with.
import path from 'node:path';
import { type ApplyReport, applyCatalog, formatApplyReport } from '../catalog/applyCatalog';
import { type CatalogRules, DEFAULT_CATALOG_RULES, formatCatalogError, loadCatalogFile, summarizeDefinition } from '../catalog/catalogFile';
import { isEnabled, planSwitch, type Switchable } from '../catalog/overrides';
import { closestMatch } from '../catalog/suggest';
import type { AdminOverride } from '../domain/model';
import type { NewAuditEvent } from '../store/repositories/audit';
import type { AdminGate } from './admins';
import type { ServiceDependencies } from './deps';
import { asId, type Outcome, type Refusal, refuse } from './outcome';

export interface AdminCatalogDependencies extends Omit<ServiceDependencies, 'workflow'> {
  gate: AdminGate;
  /** The catalog file the bot was started with (CATALOG_FILE). */
  catalogFile: string;
  /** What the file may contain (ALLOW_PRIVILEGED_ROLES); the same rules as at start-up. */
  catalogRules?: CatalogRules;
}

export const SWITCH_KINDS = ['catalog', 'package', 'policy'] as const;
export type SwitchKind = (typeof SWITCH_KINDS)[number];

export interface SwitchResult {
  changed: boolean;
  title: string;
  message: string;
}

export interface ApplyResult {
  file: string;
  /** "1 catalog, 5 packages, 6 policies". */
  summary: string;
  /** The apply report, one line each (as the CLI prints it). */
  lines: string[];
  report: ApplyReport;
}

/** Errors listed on the card at most; the rest are counted. */
const MAX_LISTED_ERRORS = 25;

/** A record found by kind and id: what the switch needs to plan and write it. */
interface SwitchTarget {
  kind: SwitchKind;
  id: string;
  label: string;
  packageId?: string;
  current: Switchable;
  /** Writes the switch, with its audit event in the same write (see store/repositories/pendingAudit.ts). */
  write(expected: boolean, enabled: boolean, override: AdminOverride | null, audit: NewAuditEvent): Promise<boolean>;
}

const EFFECTS: Record<SwitchKind, { on: string; off: string }> = {
  catalog: {
    off: 'Its packages are no longer offered, and new requests to them are refused.',
    on: 'Its packages are offered again to the people their policies admit.',
  },
  package: {
    off: 'It is no longer offered, and new requests to it are refused.',
    on: 'It is offered again to the people its policies admit.',
  },
  policy: {
    off: 'Nobody can start a new request or an extension through it.',
    on: 'New requests through it are accepted again.',
  },
};

export class AdminCatalog {
  constructor(private readonly deps: AdminCatalogDependencies) {}

  /** enable|disable catalog|package|policy id. Access people have, and requests in flight, stay either way. */
  async setEnabled(adminId: string, rawKind: unknown, rawId: unknown, enabled: boolean): Promise<Outcome<SwitchResult>> {
    const verb = enabled ? 'enable' : 'disable';
    const refusal = await this.deps.gate.refusal(adminId, verb);
    if (refusal) return refuse('notAllowed', refusal);
    const kind = typeof rawKind === 'string' ? rawKind.toLowerCase() : '';
    if (!isSwitchKind(kind)) {
      return refuse('invalidInput', `Say what to ${verb}: ${verb} catalog finance, ${verb} package accounting, or ${verb} policy accounting/employees (package id / policy id).`);
    }
    const id = asId(rawId);
    if (!id) return refuse('invalidInput', `Give the id of the ${kind} to ${verb}, for example: ${verb} ${kind} ${kind === 'catalog' ? 'finance' : kind === 'package' ? 'accounting' : 'accounting/employees'}.`);
    const target = await this.find(kind, id);
    if ('ok' in target) return target;

    const now = this.deps.clock.now();
    const adminName = (await this.deps.directory.getUser(adminId))?.displayName ?? adminId;
    const plan = planSwitch(target.current, enabled, { id: adminId, name: adminName }, now);
    const state = enabled ? 'enabled' : 'disabled';
    if (!plan.change) {
      return { ok: true, changed: false, title: `Already ${state}: ${target.label}`, message: `${capitalise(target.label)} is already ${state}. Nothing was changed.` };
    }
    const written = await target.write(isEnabled(target.current), plan.enabled, plan.override, {
      actorId: adminId,
      action: enabled ? 'admin.enable' : 'admin.disable',
      ...(target.packageId ? { packageId: target.packageId } : {}),
      details: { kind, id: target.id, override: plan.override ? 'recorded' : 'cleared' },
    });
    if (!written) return refuse('stale', `${capitalise(target.label)} was changed meanwhile (by another admin or an apply). Look again and retry.`);
    const effect = enabled ? EFFECTS[kind].on : EFFECTS[kind].off;
    const stays = 'Access people have, and requests already in flight, stay.';
    const file = plan.override
      ? `The catalog file says ${plan.override.fileEnabled ? 'enabled' : 'disabled'}: applying it keeps your change (and says so) until someone types ${plan.override.fileEnabled ? 'enable' : 'disable'} ${kind} ${target.id}.`
      : 'That is what the catalog file says, so the earlier override is cleared.';
    return { ok: true, changed: true, title: `${capitalise(state)}: ${target.label}`, message: `${effect} ${stays} ${file}` };
  }

  /** Validates the catalog file (nothing changes when it has errors), then applies it. */
  async apply(adminId: string): Promise<Outcome<ApplyResult>> {
    const refusal = await this.deps.gate.refusal(adminId, 'apply');
    if (refusal) return refuse('notAllowed', refusal);
    if (!this.deps.catalogFile) return refuse('unavailable', 'This bot was started without a catalog file (CATALOG_FILE), so there is nothing to apply.');
    // The server's directory layout is nobody's business in a chat: the file's name says enough.
    const file = path.basename(this.deps.catalogFile);
    const loaded = await loadCatalogFile(this.deps.catalogFile, this.deps.catalogRules ?? DEFAULT_CATALOG_RULES);
    if (!loaded.ok) {
      const listed = loaded.errors.slice(0, MAX_LISTED_ERRORS).map((e) => ({ field: e.path, message: formatCatalogError({ ...e, file }) }));
      const more = loaded.errors.length - listed.length;
      if (more > 0) listed.push({ field: '', message: `… and ${more} more. Run npm run catalog -- validate ${file} to see them all.` });
      const count = `${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'}`;
      return refuse('invalidInput', `${file} has ${count}, so nothing was changed. Fix the file, then type apply catalog again.`, listed);
    }
    const report = await applyCatalog(loaded.catalog, this.deps.repositories);
    const counts = (kind: ApplyReport['catalogs']) => ({ created: kind.created.length, updated: kind.updated.length, deleted: kind.deleted.length, kept: kind.kept.length, overridden: kind.overridden.length });
    await this.deps.repositories.audit.append({
      actorId: adminId,
      action: 'admin.apply',
      details: { file, catalogs: counts(report.catalogs), packages: counts(report.packages), policies: counts(report.policies) },
    });
    return { ok: true, file, summary: summarizeDefinition(loaded.catalog), lines: formatApplyReport(report).split('\n'), report };
  }

  private async find(kind: SwitchKind, id: string): Promise<SwitchTarget | Refusal> {
    const { repositories } = this.deps;
    const shown = id.slice(0, 60);
    if (kind === 'catalog') {
      const catalog = await repositories.catalogs.get(id);
      if (!catalog) return refuse('notFound', `There's no catalog "${shown}"${suggestion(id, (await repositories.catalogs.list()).map((c) => c.id))}`);
      return { kind, id, label: `catalog "${catalog.displayName}"`, current: catalog, write: (expected, enabled, override, audit) => repositories.catalogs.switchEnabled(id, expected, enabled, override, audit) };
    }
    if (kind === 'package') {
      const accessPackage = await repositories.packages.get(id);
      if (!accessPackage) return refuse('notFound', `There's no access package "${shown}"${suggestion(id, (await repositories.packages.list()).map((p) => p.id))}`);
      return {
        kind,
        id,
        label: `package "${accessPackage.displayName}"`,
        packageId: id,
        current: accessPackage,
        write: (expected, enabled, override, audit) => repositories.packages.switchEnabled(id, expected, enabled, override, audit),
      };
    }
    const [packageId, policyId, ...rest] = id.split('/');
    const accessPackage = packageId ? await repositories.packages.get(packageId) : null;
    const policies = accessPackage ? await repositories.policies.listForPackage(accessPackage.id) : [];
    if (!packageId || !policyId || rest.length > 0) {
      const known = accessPackage ? ` Its policies: ${policies.map((p) => `${accessPackage.id}/${p.id}`).join(', ') || 'none'}.` : '';
      return refuse('invalidInput', `Name a policy by its package and its own id, for example policy accounting/employees.${known}`);
    }
    if (!accessPackage) return refuse('notFound', `There's no access package "${packageId.slice(0, 60)}"${suggestion(packageId, (await repositories.packages.list()).map((p) => p.id))}`);
    const policy = policies.find((p) => p.id === policyId);
    if (!policy) return refuse('notFound', `"${accessPackage.displayName}" has no policy "${policyId.slice(0, 60)}"${suggestion(policyId, policies.map((p) => p.id))}`);
    return {
      kind,
      id: `${accessPackage.id}/${policy.id}`,
      label: `policy "${policy.displayName}" of "${accessPackage.displayName}"`,
      packageId: accessPackage.id,
      current: policy,
      write: (expected, enabled, override, audit) => repositories.policies.switchEnabled(accessPackage.id, policy.id, expected, enabled, override, audit),
    };
  }
}

function isSwitchKind(kind: string): kind is SwitchKind {
  return (SWITCH_KINDS as readonly string[]).includes(kind);
}

/** ". Did you mean 'x'?" or ". Known: a, b, c." — ends the sentence. */
function suggestion(word: string, candidates: string[]): string {
  const match = closestMatch(word, candidates);
  if (match !== undefined) return `. Did you mean ${match}?`;
  if (candidates.length === 0) return '.';
  const shown = candidates.slice(0, 10);
  return `. Known: ${shown.join(', ')}${candidates.length > shown.length ? ', …' : ''}.`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
