// The embedded store replaces a document in place in an index whose key an update leaves
// unchanged (src/store/nedbIndexUpdates.ts). Reads through each index must see the updated
// document, changed keys must move, and a refused update must leave every index as it was.
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { DuplicateKeyError, type DocumentStore } from '../../src/store/port';

type Doc = { _id: string; group: string; email: string; n: number; at?: Date };

describe('embedded store: index updates in place', () => {
  let store: DocumentStore;
  beforeEach(async () => {
    store = await openEmbeddedStore({});
  });
  afterEach(() => store.close());

  async function seeded() {
    const c = store.collection<Doc>('people');
    await c.ensureIndex({ fields: ['group'] });
    await c.ensureIndex({ fields: ['email'], unique: true });
    await c.ensureIndex({ fields: ['group', 'n'] });
    await c.ensureIndex({ fields: ['at'] }); // absent on every document: one shared key
    for (let i = 0; i < 50; i++) await c.insert({ _id: `p${i}`, group: i < 40 ? 'a' : 'b', email: `p${i}@x`, n: i });
    return c;
  }

  it('reads through a shared key see the updated documents, not the old ones', async () => {
    const c = await seeded();
    expect(await c.updateMany({ group: 'a' }, { $inc: { n: 1000 } })).toBe(40);
    const a = await c.find({ group: 'a' }, { sort: { _id: 1 } });
    expect(a).toHaveLength(40);
    expect(a.every((d) => d.n >= 1000)).toBe(true);
    expect((await c.findOne({ email: 'p3@x' }))?.n).toBe(1003);
    expect(await c.count({ group: 'a', n: { $gte: 1000 } })).toBe(40);
    expect(await c.count({ at: { $exists: false }, group: 'b' })).toBe(10);
  });

  it('moves a document whose key changed, and keeps the others in place', async () => {
    const c = await seeded();
    await c.updateOne({ _id: 'p1' }, { $set: { group: 'b', at: new Date('2026-11-22T09:00:00Z') } });
    expect((await c.find({ group: 'a' })).map((d) => d._id)).not.toContain('p1');
    expect((await c.find({ group: 'b' })).map((d) => d._id)).toContain('p1');
    expect((await c.find({ at: { $lte: new Date('2026-11-23T00:00:00Z') } })).map((d) => d._id)).toEqual(['p1']);
    expect(await c.count({ group: 'a' })).toBe(39);
  });

  it('a unique clash refuses the whole update and leaves every index as it was', async () => {
    const c = await seeded();
    // Every "b" document would get the same email: the second clashes.
    await expect(c.updateMany({ group: 'b' }, { $set: { email: 'same@x' }, $inc: { n: 1 } })).rejects.toBeInstanceOf(DuplicateKeyError);
    const b = await c.find({ group: 'b' }, { sort: { n: 1 } });
    expect(b.map((d) => [d.email, d.n])).toEqual(Array.from({ length: 10 }, (_, i) => [`p${40 + i}@x`, 40 + i]));
    expect(await c.findOne({ email: 'same@x' })).toBeNull();
    expect((await c.findOne({ email: 'p45@x' }))?.n).toBe(45);
    // And the indexes still work for later updates.
    expect(await c.updateOne({ _id: 'p45' }, { $set: { email: 'new@x' } })).toBe(1);
    expect((await c.findOne({ email: 'new@x' }))?._id).toBe('p45');
    expect(await c.findOne({ email: 'p45@x' })).toBeNull();
  });
});
