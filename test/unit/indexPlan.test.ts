import { existingIndexOf, namedSpecs, planIndexes } from '../../src/store/indexPlan';

const idIndex = existingIndexOf({ v: 2, key: { _id: 1 }, name: '_id_' });
const retired = new Set<string>();

describe('index plan: what makes a collection\'s indexes equal the declared ones', () => {
  it('creates what is missing and changes nothing that matches, whatever the order found', () => {
    const wanted = namedSpecs('c', [{ fields: ['a'] }, { name: 'byB', fields: ['b', '_id'] }], 'mongodb');
    expect(planIndexes('c', [idIndex], wanted, 0, { retired })).toEqual([
      expect.objectContaining({ collection: 'c', index: 'a_1', action: 'create', reason: 'missing', documents: 0 }),
      expect.objectContaining({ index: 'byB', action: 'create' }),
    ]);
    const existing = [existingIndexOf({ key: { b: 1, _id: 1 }, name: 'byB' }), idIndex, existingIndexOf({ key: { a: 1 }, name: 'a_1' })];
    expect(planIndexes('c', existing, wanted, 5, { retired })).toEqual([]);
  });

  it('rebuilds an index whose options or key changed under the same name, saying what changed', () => {
    const wanted = namedSpecs('c', [{ name: 'due', fields: ['at'] }, { name: 'key', fields: ['k'], unique: true, sparse: true }], 'mongodb');
    const existing = [idIndex, existingIndexOf({ key: { at: 1 }, name: 'due', sparse: true }), existingIndexOf({ key: { k: 1, x: 1 }, name: 'key', unique: true })];
    expect(planIndexes('c', existing, wanted, 3, { retired }).map((s) => [s.index, s.action, s.reason, s.drops])).toEqual([
      ['due', 'rebuild', 'options changed: sparse → not sparse', 'due'],
      ['key', 'rebuild', 'options changed: key (k, x) → (k), not sparse → sparse', 'key'],
    ]);
  });

  it('replaces an index of the same key under another name (MongoDB refuses two), and counts options it does not set as a change', () => {
    const wanted = namedSpecs('c', [{ name: 'due', fields: ['at'] }, { name: 'when', fields: ['w'] }], 'mongodb');
    const existing = [idIndex, existingIndexOf({ key: { at: 1 }, name: 'at_1' }), existingIndexOf({ key: { w: 1 }, name: 'when', collation: { locale: 'en' } })];
    expect(planIndexes('c', existing, wanted, 0, { retired }).map((s) => [s.index, s.action, s.reason, s.drops])).toEqual([
      ['due', 'rebuild', 'replaces at_1 (same key)', 'at_1'],
      ['when', 'rebuild', 'options changed: has options the bot does not set (collation)', 'when'],
    ]);
  });

  it('drops retired names, and leaves an index nobody declared or retired (an operator\'s own) alone', () => {
    const wanted = namedSpecs('c', [{ fields: ['a'] }], 'mongodb');
    const existing = [idIndex, existingIndexOf({ key: { a: 1 }, name: 'a_1' }), existingIndexOf({ key: { old: 1 }, name: 'old_1' }), existingIndexOf({ key: { mine: -1 }, name: 'ops_index' })];
    expect(planIndexes('c', existing, wanted, 7, { retired: new Set(['old_1']) })).toEqual([{ collection: 'c', index: 'old_1', action: 'drop', reason: 'no longer used', documents: 7 }]);
  });

  it('marks builds start-up must not make: over more documents than the limit, or a unique index over existing documents; drops never', () => {
    const wanted = namedSpecs('c', [{ fields: ['a'] }, { fields: ['u'], unique: true, sparse: true }], 'mongodb');
    const existing = [idIndex, existingIndexOf({ key: { gone: 1 }, name: 'gone_1' })];
    const small = planIndexes('c', existing, wanted, 10, { retired: new Set(['gone_1']), startupMaxDocuments: 100 });
    expect(small.map((s) => [s.index, s.unsafe])).toEqual([
      ['a_1', undefined],
      ['u_1', expect.stringContaining('a unique index over 10 existing document(s)')],
      ['gone_1', undefined],
    ]);
    const large = planIndexes('c', existing, wanted, 500, { retired: new Set(['gone_1']), startupMaxDocuments: 100 });
    expect(large[0]!.unsafe).toBe('builds over 500 documents (start-up builds over at most 100: MIGRATE_AT_STARTUP_MAX_DOCUMENTS)');
    // Without a limit (npm run migrate) only the unique build is marked, and it is still made.
    expect(planIndexes('c', existing, wanted, 500, { retired }).filter((s) => s.unsafe).map((s) => s.index)).toEqual(['u_1']);
    // An empty collection: nothing to fear.
    expect(planIndexes('c', [idIndex], wanted, 0, { retired, startupMaxDocuments: 0 }).filter((s) => s.unsafe)).toEqual([]);
  });

  it('keeps each adapter\'s indexes (only) and refuses one name declared two ways', () => {
    const specs = [{ fields: ['a'] }, { fields: ['a'] }, { fields: ['b'], only: 'embedded' as const }, { fields: ['c', '_id'], only: 'mongodb' as const }];
    expect(namedSpecs('c', specs, 'mongodb').map((s) => s.name)).toEqual(['a_1', 'c_1__id_1']);
    expect(namedSpecs('c', specs, 'embedded').map((s) => s.name)).toEqual(['a_1', 'b_1']);
    expect(() => namedSpecs('c', [{ fields: ['a'] }, { fields: ['a'], unique: true }], 'mongodb')).toThrow('index a_1 on c is declared twice, differently');
  });
});
