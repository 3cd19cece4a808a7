// The error shape every catalog-file check reports, how rules report it, and how it is printed.

/** A step into the parsed file: a field name or a list index. */
export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface CatalogError {
  file: string;
  /** Where in the document, e.g. `accessPackages[0].policies[1].approval.stages[0].durationBeforeAutomaticDenial`; '' for the whole file. */
  path: string;
  /** 1-based, when the position is known. */
  line?: number;
  column?: number;
  message: string;
}

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


/** `file:line:col: path: message`, the format editors and CI logs turn into links. */
export function formatCatalogError(error: CatalogError): string {
  const position = error.line === undefined ? '' : `:${error.line}:${error.column ?? 1}`;
  const path = error.path === '' ? '' : `${error.path}: `;
  return `${error.file}${position}: ${path}${error.message}`;
}

/** ['accessPackages', 0, 'policies', 1] → "accessPackages[0].policies[1]". */
export function formatPath(path: Path): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

/** File order: by line, then column; unlocated errors last. */
export function compareErrors(a: CatalogError, b: CatalogError): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
}
