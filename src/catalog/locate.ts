// Maps a path in the parsed data back to a line and column in the YAML text, so every
// validation error can say where to look.

import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { Path } from './errors';

export interface Position {
  line: number;
  column: number;
}

/**
 * The position of the deepest node of `path` that exists in the document. For a field that
 * is there, that is its key (the line an admin edits); for a missing field, the mapping it
 * belongs in; for a list item, the item.
 */
export function locatePath(doc: Document, lineCounter: LineCounter, path: Path): Position | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of path) {
    node = resolveAlias(doc, node);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
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

function resolveAlias(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
