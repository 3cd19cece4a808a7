// NeDB updates every index on every document update: it removes the old document from each
// index and inserts the new one, even when the indexed value did not change. Removing a
// document from a key that thousands of documents share (one package's id, state 'pending',
// an absent field) copies that key's whole list through a comparison callback, so every
// assignment or task update cost O(documents) in allocation: the benchmark found this to be
// the largest single cost of delivery (`npm run bench -- graph`, docs/performance.md).
//
// Where an index's key is the same before and after, the new document takes the old one's
// place in that key's list instead (no removal, no insertion, no uniqueness question). Any
// other case (a changed key, an array-valued key, a multi-document update NeDB rolls back as
// a whole) goes through NeDB's own code. Checked by the store contract suite.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const model = require('@seald-io/nedb/lib/model') as { getDotValues(doc: unknown, fields: string[]): unknown };

type Doc = Record<string, unknown>;
type Pair = { oldDoc: Doc; newDoc: Doc };

interface NedbIndex {
  _fields: string[];
  sparse: boolean;
  tree: { search(key: unknown): Doc[]; tree: { compareKeys(a: unknown, b: unknown): number } };
  update(oldDoc: Doc | Pair[], newDoc?: Doc): void;
  [PATCHED]?: true;
}

const PATCHED = Symbol('inPlaceUpdates');

function isUnindexed(key: unknown, sparse: boolean): boolean {
  if (!sparse) return false;
  return key === undefined || (typeof key === 'object' && key !== null && !(key instanceof Date) && Object.values(key).every((v) => v === undefined));
}

/** Replaces oldDoc by newDoc in place when the key is unchanged; false when NeDB must do it. */
function replaceInPlace(index: NedbIndex, oldDoc: Doc, newDoc: Doc): boolean {
  const oldKey = model.getDotValues(oldDoc, index._fields);
  const newKey = model.getDotValues(newDoc, index._fields);
  if (Array.isArray(oldKey) || Array.isArray(newKey)) return false; // one entry per element
  const oldUnindexed = isUnindexed(oldKey, index.sparse);
  if (oldUnindexed !== isUnindexed(newKey, index.sparse)) return false;
  if (oldUnindexed) return true; // in no list before or after
  if (index.tree.tree.compareKeys(oldKey, newKey) !== 0) return false;
  const list = index.tree.search(oldKey);
  const at = list.indexOf(oldDoc);
  if (at < 0) return false;
  list[at] = newDoc;
  return true;
}

/** Makes updates of this index that keep its key replace in place (idempotent). */
export function speedUpIndexUpdates(index: NedbIndex): void {
  if (index[PATCHED]) return;
  const nedbUpdate = index.update.bind(index);
  index.update = (oldDoc: Doc | Pair[], newDoc?: Doc) => {
    // The pairs form (what Datastore.update uses): in place where every key is unchanged,
    // otherwise NeDB's all-or-nothing path for the pairs that changed.
    const pairs: Pair[] = Array.isArray(oldDoc) ? oldDoc : [{ oldDoc, newDoc: newDoc! }];
    const inPlace: Pair[] = [];
    const changed: Pair[] = [];
    for (const pair of pairs) (replaceInPlace(index, pair.oldDoc, pair.newDoc) ? inPlace : changed).push(pair);
    if (changed.length === 0) return;
    try {
      nedbUpdate(changed);
    } catch (error) {
      // NeDB undid its part (a unique key clash) and the datastore reverts the other indexes:
      // undo ours here, so this index is as it was too.
      for (const pair of inPlace) replaceInPlace(index, pair.newDoc, pair.oldDoc);
      throw error;
    }
  };
  index[PATCHED] = true;
}

/** Patches every index a NeDB datastore has (call after load and after each ensureIndex). */
export function speedUpAllIndexUpdates(db: { indexes: Record<string, unknown> }): void {
  for (const index of Object.values(db.indexes)) speedUpIndexUpdates(index as NedbIndex);
}
