// The error shape every catalog-file check reports, how rules report it, and how it is printed.

import { type LocatedError, type Path } from '../yamlLocation';

export { formatPath, type Path, type PathSegment } from '../yamlLocation';

/** e.g. path `accessPackages[0].policies[1].approval.stages[0].durationBeforeAutomaticDenial`. */
export type CatalogError = LocatedError;

/** An error found before it is located in the file (checks work on data, not on YAML nodes). */
export interface UnlocatedError {
  path: Path;
  message: string;
}

/** How a rule reports a problem: where in the file, and what is wrong. */
export type Report = (path: Path, message: string) => void;

/** A piece of the file that passed its schema, and where it is. */
export interface Parsed<T> {
  value: T;
  path: Path;
}

/** Reports every value listed more than once (`what` names the list's items). */
export function checkNoRepeats(values: readonly string[], path: Path, what: string, report: Report): void {
  const seen = new Set<string>();
  values.forEach((value, index) => {
    if (seen.has(value)) report([...path, index], `${what} '${value}' is listed twice`);
    seen.add(value);
  });
}

export { compareLocated as compareErrors, formatLocatedError as formatCatalogError } from '../yamlLocation';
