// Reads and validates the catalog file (DESIGN.md §4; reference in docs/catalog-file.md).
// Three passes, each collecting every error it finds: YAML syntax, then the schema of each
// catalog, resource, package and policy on its own (schema.ts), then the rules across fields
// and entities (crossChecks.ts).
// Every error is located (file, line, column, path) before it is returned.

import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { buildDefinition, type CatalogDefinition, type CatalogRules, DEFAULT_CATALOG_RULES, type ParsedFile, type ParsedPackage } from './crossChecks';
import { type CatalogError, compareErrors, formatPath, type Parsed, type Path, type UnlocatedError } from './errors';
import type { ParsedPolicy } from './policyRules';
import { locatePath, positionOf } from '../yamlLocation';
import { catalogSchema, fileSchema, packageSchema, parseAt, policySchema, policySections, questionSchema, resourceRoleSchema, resourceSchema } from './schema';

export { type CatalogDefinition, type CatalogRules, DEFAULT_CATALOG_RULES } from './crossChecks';
export { type CatalogError, formatCatalogError } from './errors';

export type CatalogFileResult = { ok: true; catalog: CatalogDefinition } | { ok: false; errors: CatalogError[] };

/** `rules`: what the deployment allows (ALLOW_PRIVILEGED_ROLES); refusing privileged roles when not given. */
export function parseCatalogFile(text: string, fileName: string, rules: CatalogRules = DEFAULT_CATALOG_RULES): CatalogFileResult {
  const lineCounter = new LineCounter();
  // prettyErrors off: we add the position ourselves, in the same format as every other error.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({ file: fileName, path: '', ...toLineColumn(positionOf(lineCounter, e.pos[0])), message: e.message })),
    };
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // e.g. an alias bomb (excessive alias count) or an alias to nothing.
    return { ok: false, errors: [{ file: fileName, path: '', message: (error as Error).message }] };
  }
  if (data === null || data === undefined) {
    return { ok: false, errors: [{ file: fileName, path: '', message: "the file is empty; expected 'catalogs' and 'accessPackages'" }] };
  }

  const locate = (errors: UnlocatedError[]): CatalogError[] =>
    errors.map((e) => ({ file: fileName, path: formatPath(e.path), ...toLineColumn(locatePath(doc, lineCounter, e.path)), message: e.message }));

  const { parsed, errors } = parseEntities(data);
  if (!parsed) return { ok: false, errors: locate(errors) };
  const built = buildDefinition(parsed, rules);
  const all = locate([...errors, ...built.errors]).sort(compareErrors);
  return all.length === 0 ? { ok: true, catalog: built.definition } : { ok: false, errors: all };
}

/** Reads and parses the file at `path`; an unreadable file is reported like any other error. */
export async function loadCatalogFile(path: string, rules: CatalogRules = DEFAULT_CATALOG_RULES): Promise<CatalogFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, errors: [{ file: path, path: '', message: readErrorMessage(error) }] };
  }
  return parseCatalogFile(text, path, rules);
}

/** One line for the CLI and logs: "1 catalog, 2 packages, 3 policies". */
export function summarizeDefinition(definition: CatalogDefinition): string {
  return [
    plural(definition.catalogs.length, 'catalog', 'catalogs'),
    plural(definition.packages.length, 'package', 'packages'),
    plural(definition.policies.length, 'policy', 'policies'),
  ].join(', ');
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function readErrorMessage(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory, not a catalog file';
  if (code === 'EACCES') return 'permission denied';
  return `cannot read the file: ${(error as Error).message}`;
}

function toLineColumn(position: { line: number; column: number } | undefined): { line?: number; column?: number } {
  return position ? { line: position.line, column: position.column } : {};
}

/** Schema-validates each catalog, resource, package and policy separately (each reports its own errors). */
function parseEntities(data: unknown): { parsed?: ParsedFile; errors: UnlocatedError[] } {
  const top = parseAt(fileSchema, data, []);
  // Not a mapping at all: nothing further to check. Otherwise (an unknown top-level field,
  // a list that is not a list) the lists that are there are still worth checking.
  if (!top.ok && top.errors.some((e) => e.path.length === 0)) return { errors: top.errors };
  const errors: UnlocatedError[] = top.ok ? [] : [...top.errors];
  const rawCatalogs = listAt(data, 'catalogs');
  const rawPackages = listAt(data, 'accessPackages');

  const catalogs: ParsedFile['catalogs'] = rawCatalogs.map((raw, i) => {
    const path: Path = ['catalogs', i];
    const fields = parseOne(catalogSchema, raw, path, errors);
    const resources = parseEach(resourceSchema, listAt(raw, 'resources'), [...path, 'resources'], errors);
    return { path, raw, fields, resources };
  });

  const packages = rawPackages.map((raw, i): ParsedPackage => {
    const path: Path = ['accessPackages', i];
    const fields = parseOne(packageSchema, raw, path, errors);
    const resourceRoles = parseEach(resourceRoleSchema, listAt(raw, 'resourceRoles'), [...path, 'resourceRoles'], errors);
    const policies = listAt(raw, 'policies').map((policy, j) => parsePolicy(policy, [...path, 'policies', j], errors));
    return { path, raw, fields, resourceRoles, policies };
  });

  return { parsed: { catalogs, packages }, errors };
}

/** A policy's own fields and each of its sections, parsed separately. */
function parsePolicy(raw: unknown, path: Path, errors: UnlocatedError[]): ParsedPolicy {
  const section = <T>(schema: z.ZodType<T>, field: string) => parseOne(schema, fieldAt(raw, field), [...path, field], errors);
  return {
    path,
    raw,
    fields: parseOne(policySchema, raw, path, errors),
    allowedRequestors: section(policySections.allowedRequestors, 'allowedRequestors'),
    approval: section(policySections.approval, 'approval'),
    questions: parseEach(questionSchema, listAt(raw, 'questions'), [...path, 'questions'], errors),
    lifecycle: section(policySections.lifecycle, 'lifecycle'),
  };
}

/** The parsed value, or undefined with its errors added to `errors`. */
function parseOne<T>(schema: z.ZodType<T>, raw: unknown, path: Path, errors: UnlocatedError[]): T | undefined {
  const result = parseAt(schema, raw, path);
  if (result.ok) return result.value;
  errors.push(...result.errors);
  return undefined;
}

/** Parses each item of a list on its own; returns those that parsed, adds the others' errors. */
function parseEach<T>(schema: z.ZodType<T>, raws: unknown[], listPath: Path, errors: UnlocatedError[]): Parsed<T>[] {
  const parsed: Parsed<T>[] = [];
  raws.forEach((raw, index) => {
    const path: Path = [...listPath, index];
    const value = parseOne(schema, raw, path, errors);
    if (value !== undefined) parsed.push({ value, path });
  });
  return parsed;
}

function fieldAt(data: unknown, field: string): unknown {
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>)[field] : undefined;
}

function listAt(data: unknown, field: string): unknown[] {
  const value = fieldAt(data, field);
  return Array.isArray(value) ? value : [];
}
