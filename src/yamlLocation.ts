// Errors in a YAML file that say where to look: `file:line:col: path: message`. Shared by
// the catalog file and the local directory file, whose checks work on data paths and map
// them back to the YAML text here.

import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

/** A step into the parsed data: a field name or a list index. */
export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface LocatedError {
  file: string;
  /** e.g. `accessPackages[0].policies[1].approval`; '' for the whole file. */
  path: string;
  /** 1-based, when the position is known. */
  line?: number;
  column?: number;
  message: string;
}

export interface Position {
  line: number;
  column: number;
}

/** `file:line:col: path: message`, the format editors and CI logs turn into links. */
export function formatLocatedError(error: LocatedError): string {
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
export function compareLocated(a: LocatedError, b: LocatedError): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0);
}

/**
 * The position of the deepest node of `path` that exists in the document. For a field that
 * is there: its key (`anchor: 'key'`, the line an admin edits) or its value (`'value'`, the
 * offending text; the key when the value is empty). For a missing field: the mapping it
 * belongs in. For a list item: the item.
 */
export function locatePath(doc: Document, lineCounter: LineCounter, path: Path, anchor: 'key' | 'value' = 'key'): Position | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of path) {
    node = isAlias(node) ? node.resolve(doc) : node;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = (anchor === 'value' ? rangeStart(pair.value) : undefined) ?? rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : positionOf(lineCounter, offset);
}

/** 1-based line and column of a character offset. */
export function positionOf(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  // LineCounter reports line 0 before it has seen a newline (a one-line file).
  return { line: Math.max(line, 1), column: Math.max(col, 1) };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
