// CSV exports for admins (the audit log, a package's assignments) and their download links.
// A file is built at once, stored with an expiry (so any instance can serve it) and offered
// through a short-lived link signed with HMAC-SHA256; the bot's GET /exports/:id serves it.
// The signing key and signed URLs are never logged.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditFilterWords } from '../domain/adminQueryArgs';
import { type CsvColumn, CSV_BOM, csvHeader, csvRow } from '../domain/csv';
import type { AccessRequest, Assignment, AuditEvent, Catalog } from '../domain/model';
import type { DirectoryUser } from '../directory/port';
import { type AdminQueries, NameBook, statesOf } from './adminQueries';
import type { ServiceDependencies } from './deps';
import { readableId } from './ids';
import type { Outcome } from './outcome';

/** Rows an export holds at most; the card says so when a file was cut there. */
export const EXPORT_ROW_CAP = 100_000;
/** People whose names an export looks up at most (one directory call each); beyond, ids only. */
export const EXPORT_NAME_LOOKUPS = 1_000;
/** Characters per stored chunk: far below MongoDB's 16 MB document limit. */
export const EXPORT_CHUNK_CHARS = 512 * 1024;
const SIGNING_KEY_SETTING = 'exportSigningKey';
const ID_PATTERN = /^EXP-[0-9A-Z]{16}$/;

export interface ExportSettings {
  /** The bot's public origin, without a trailing slash. */
  publicBaseUrl: string;
  linkMinutes: number;
  /** Configured key; when absent one is generated once and kept in the store for every instance. */
  signingKey?: string;
}

export interface ExportReady {
  title: string;
  filters: string;
  filename: string;
  url: string;
  expiresAt: Date;
  rowCount: number;
  /** True when the file stops at EXPORT_ROW_CAP rows and more matched. */
  capped: boolean;
  /** True when names were looked up for only the first EXPORT_NAME_LOOKUPS people. */
  namesCapped: boolean;
}

export type Download =
  | { status: 200; filename: string; contentType: string; chunks: AsyncIterable<string> }
  | { status: 403 | 404 | 410; message: string };

type Deps = Pick<ServiceDependencies, 'repositories' | 'directory' | 'clock'> & { queries: AdminQueries; settings: ExportSettings };

/** HMAC-SHA256 (hex) of the export id and the link's expiry (unix seconds). */
export function exportSignature(key: string, id: string, expires: number): string {
  return createHmac('sha256', key).update(`${id}\n${expires}`).digest('hex');
}

export type LinkCheck = 'valid' | 'forbidden' | 'expired';

/**
 * A link is valid when its signature matches (compared in constant time) and it has not
 * expired. The signature is checked first, so a forged expiry gets "forbidden", not "expired".
 */
export function checkExportLink(key: string, id: string, expires: unknown, signature: unknown, nowMs: number): LinkCheck {
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires)) return 'forbidden';
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return 'forbidden';
  const expected = Buffer.from(exportSignature(key, id, Number(expires)), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'forbidden';
  return Number(expires) * 1000 <= nowMs ? 'expired' : 'valid';
}

export class ExportService {
  private key?: Promise<string>;

  constructor(private readonly deps: Deps) {}

  /** The audit events matching the filters, oldest first, as CSV. */
  async exportAudit(actorId: string, words: AuditFilterWords): Promise<Outcome<ExportReady>> {
    const resolved = await this.deps.queries.resolveAuditFilters(words);
    if (!resolved.ok) return resolved;
    const events = await this.deps.repositories.audit.query({ ...resolved.query, limit: EXPORT_ROW_CAP + 1 });
    const capped = events.length > EXPORT_ROW_CAP;
    const rows = events.slice(0, EXPORT_ROW_CAP);
    const people = await this.people(rows.flatMap((e) => [e.actorId, ...(e.userId ? [e.userId] : [])]));
    const columns = auditColumns(people.users);
    const stamp = fileStamp(this.deps.clock.now());
    return this.store(actorId, {
      title: 'Audit log',
      filters: resolved.description,
      filename: `audit-${stamp}.csv`,
      columns,
      rows,
      capped,
      namesCapped: people.capped,
      audit: { ...(resolved.query.packageId ? { packageId: resolved.query.packageId } : {}), what: 'audit' },
    });
  }

  /** Who has (had) a package: active assignments by default, or "all", or one state. */
  async exportAssignments(actorId: string, rawPackageId: unknown, rawFilter: unknown): Promise<Outcome<ExportReady>> {
    const { queries, repositories } = this.deps;
    const accessPackage = await queries.packageOf(rawPackageId);
    if (!accessPackage.ok) return accessPackage;
    const filter = queries.assignmentFilter(rawFilter);
    if (!filter.ok) return filter;
    const assignments = await repositories.assignments.listForPackage(accessPackage.id, { states: statesOf(filter.filter), skip: 0, limit: EXPORT_ROW_CAP + 1 });
    const capped = assignments.length > EXPORT_ROW_CAP;
    const rows = assignments.slice(0, EXPORT_ROW_CAP);
    const people = await this.people(rows.map((a) => a.userId));
    const requests = new Map((await repositories.requests.getMany(rows.flatMap((a) => a.requestIds.slice(0, 1)))).map((r) => [r.id, r]));
    const catalog = await repositories.catalogs.get(accessPackage.catalog);
    const policies = new Map((await repositories.policies.listForPackage(accessPackage.id)).map((p) => [p.id, p.displayName]));
    const context: AssignmentContext = { packageName: accessPackage.displayName, catalog, policies, users: people.users, requests };
    return this.store(actorId, {
      title: `Assignments of ${accessPackage.displayName}`,
      filters: filter.filter === 'active' ? 'active assignments' : filter.filter === 'all' ? 'all assignments, ended ones too' : `state ${filter.filter}`,
      filename: `assignments-${safeFileWord(accessPackage.id)}-${fileStamp(this.deps.clock.now())}.csv`,
      columns: assignmentColumns(context),
      rows,
      capped,
      namesCapped: people.capped,
      audit: { packageId: accessPackage.id, what: 'assignments', state: filter.filter },
    });
  }

  /** For the scheduler loop: deletes expired files even when nobody exports again (safe on every instance). */
  purgeJob(): { name: string; run(): Promise<void> } {
    return { name: 'exports.purge', run: async () => void (await this.deps.repositories.exports.deleteExpired(this.deps.clock.now())) };
  }

  /** What GET /exports/:id answers: the file, or why not (one line, no detail to probe with). */
  async download(rawId: string, expires: unknown, signature: unknown): Promise<Download> {
    const id = rawId.slice(0, 100);
    const now = this.deps.clock.now();
    const check = checkExportLink(await this.signingKey(), id, expires, signature, now.getTime());
    if (check === 'forbidden') return { status: 403, message: 'This download link is not valid.' };
    const { exports } = this.deps.repositories;
    if (check === 'expired') {
      if (ID_PATTERN.test(id)) await exports.delete(id);
      return { status: 410, message: 'This download link has expired. Run the export again in Teams.' };
    }
    const file = ID_PATTERN.test(id) ? await exports.get(id) : null;
    if (!file) return { status: 404, message: 'There is no such export (it may have expired). Run the export again in Teams.' };
    if (file.expiresAt.getTime() <= now.getTime()) {
      await exports.delete(id);
      return { status: 410, message: 'This download link has expired. Run the export again in Teams.' };
    }
    return { status: 200, filename: file.filename, contentType: file.contentType, chunks: readChunks(exports, file.id, file.chunkCount) };
  }

  /** The shared key: configured, or generated once and stored (first writer wins across instances). */
  private signingKey(): Promise<string> {
    if (this.deps.settings.signingKey) return Promise.resolve(this.deps.settings.signingKey);
    this.key ??= this.deps.repositories.settings.getOrCreate<string>(SIGNING_KEY_SETTING, () => randomBytes(32).toString('hex')).catch((error: unknown) => {
      this.key = undefined; // the store may be back on the next try
      throw error;
    });
    return this.key;
  }

  private async store<T>(actorId: string, file: { title: string; filters: string; filename: string; columns: CsvColumn<T>[]; rows: T[]; capped: boolean; namesCapped: boolean; audit: Record<string, unknown> & { packageId?: string } }): Promise<Outcome<ExportReady>> {
    const { repositories, clock, settings } = this.deps;
    const now = clock.now();
    await repositories.exports.deleteExpired(now);
    const chunks = chunkCsv(file.columns, file.rows);
    const id = readableId('EXP', 16);
    // Whole seconds, as the link carries them: the file and its link expire together.
    const expires = Math.floor(now.getTime() / 1000) + settings.linkMinutes * 60;
    const expiresAt = new Date(expires * 1000);
    await repositories.exports.save(
      { id, filename: file.filename, contentType: 'text/csv; charset=utf-8', rowCount: file.rows.length, chunkCount: chunks.length, createdBy: actorId, createdAt: now, expiresAt },
      chunks,
    );
    const url = `${settings.publicBaseUrl}/exports/${id}?expires=${expires}&sig=${exportSignature(await this.signingKey(), id, expires)}`;
    const { packageId, ...what } = file.audit;
    await repositories.audit.append({
      actorId,
      action: 'admin.export',
      ...(packageId ? { packageId } : {}),
      details: { ...what, filters: file.filters, rows: file.rows.length, capped: file.capped, exportId: id },
    });
    return { ok: true, title: file.title, filters: file.filters, filename: file.filename, url, expiresAt, rowCount: file.rows.length, capped: file.capped, namesCapped: file.namesCapped };
  }

  /** Directory entries of the first EXPORT_NAME_LOOKUPS distinct people, ten lookups at a time. */
  private async people(ids: string[]): Promise<{ users: Map<string, DirectoryUser | null>; capped: boolean }> {
    const distinct = [...new Set(ids)].filter((id) => id !== 'system');
    const book = new NameBook(this.deps.directory);
    const users = new Map<string, DirectoryUser | null>();
    const looked = distinct.slice(0, EXPORT_NAME_LOOKUPS);
    for (let i = 0; i < looked.length; i += 10) {
      const batch = looked.slice(i, i + 10);
      const found = await Promise.all(batch.map((id) => book.user(id)));
      batch.forEach((id, j) => users.set(id, found[j] ?? null));
    }
    return { users, capped: distinct.length > looked.length };
  }
}

async function* readChunks(exports: ServiceDependencies['repositories']['exports'], id: string, count: number): AsyncIterable<string> {
  for (let index = 0; index < count; index++) {
    const text = await exports.chunk(id, index);
    if (text === null) throw new Error(`export ${id}: chunk ${index} is gone`);
    yield text;
  }
}

/** The CSV (BOM, header, rows) cut into chunks of about EXPORT_CHUNK_CHARS, on row boundaries. */
export function chunkCsv<T>(columns: readonly CsvColumn<T>[], rows: readonly T[], size = EXPORT_CHUNK_CHARS): string[] {
  const chunks: string[] = [];
  let current = CSV_BOM + csvHeader(columns);
  const parts: string[] = [current];
  let length = current.length;
  for (const row of rows) {
    current = csvRow(columns, row);
    if (length + current.length > size && length > 0) {
      chunks.push(parts.join(''));
      parts.length = 0;
      length = 0;
    }
    parts.push(current);
    length += current.length;
  }
  if (length > 0) chunks.push(parts.join(''));
  return chunks;
}

function auditColumns(users: Map<string, DirectoryUser | null>): CsvColumn<AuditEvent>[] {
  const name = (id: string | undefined) => (id === 'system' ? 'System' : id ? (users.get(id)?.displayName ?? '') : '');
  return [
    { header: 'time', value: (e) => e.at },
    { header: 'action', value: (e) => e.action },
    { header: 'actorId', value: (e) => e.actorId },
    { header: 'actorName', value: (e) => name(e.actorId) },
    { header: 'userId', value: (e) => e.userId },
    { header: 'userName', value: (e) => name(e.userId) },
    { header: 'packageId', value: (e) => e.packageId },
    { header: 'requestId', value: (e) => e.requestId },
    { header: 'assignmentId', value: (e) => e.assignmentId },
    { header: 'details', value: (e) => (e.details ? JSON.stringify(e.details) : '') },
    { header: 'eventId', value: (e) => e.id },
  ];
}

interface AssignmentContext {
  packageName: string;
  catalog: Catalog | null;
  policies: Map<string, string>;
  users: Map<string, DirectoryUser | null>;
  requests: Map<string, AccessRequest>;
}

function assignmentColumns(context: AssignmentContext): CsvColumn<Assignment>[] {
  const { catalog, policies, users, requests } = context;
  const roleText = (a: Assignment) =>
    a.roles
      .map((r) => {
        const resource = catalog?.resources.find((x) => x.id === r.resource);
        const role = resource?.roles.find((x) => x.id === r.role)?.displayName ?? r.role;
        return `${resource?.displayName ?? r.resource} (${role}): ${r.state}${r.error ? ` - ${r.error}` : ''}`;
      })
      .join('; ');
  return [
    { header: 'assignmentId', value: (a) => a.id },
    { header: 'packageId', value: (a) => a.packageId },
    { header: 'packageName', value: () => context.packageName },
    { header: 'policyId', value: (a) => a.policyId },
    { header: 'policyName', value: (a) => policies.get(a.policyId) ?? '' },
    { header: 'userId', value: (a) => a.userId },
    { header: 'userName', value: (a) => users.get(a.userId)?.displayName ?? '' },
    { header: 'userPrincipalName', value: (a) => users.get(a.userId)?.userPrincipalName ?? '' },
    { header: 'state', value: (a) => a.state },
    { header: 'startAt', value: (a) => a.startAt },
    { header: 'expiresAt', value: (a) => a.expiresAt },
    { header: 'endReason', value: (a) => a.endReason },
    { header: 'resourceRoles', value: roleText },
    { header: 'requestIds', value: (a) => a.requestIds.join(' ') },
    { header: 'justification', value: (a) => requests.get(a.requestIds[0] ?? '')?.justification },
    { header: 'createdAt', value: (a) => a.createdAt },
    { header: 'updatedAt', value: (a) => a.updatedAt },
  ];
}

/** "2026-11-22T0900Z": sortable, and safe in a file name. */
function fileStamp(now: Date): string {
  return `${now.toISOString().slice(0, 16).replace(':', '')}Z`;
}

function safeFileWord(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 60);
}
