import {
  assertStorableDocument,
  assertSupportedFilter,
  assertSupportedUpdate,
  DuplicateKeyError,
  UnsupportedQueryError,
  type Filter,
  type StoredDocument,
  type Update,
} from '../../src/store/port';

/** A readable test title for values JSON can't show (undefined, RegExp, Map, BigInt, functions). */
const label = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => {
    if (v === undefined) return '<undefined>';
    if (typeof v === 'bigint' || typeof v === 'function' || v instanceof RegExp || v instanceof Map) return String(v);
    return v;
  });

describe('assertSupportedFilter', () => {
  const accepted: Filter[] = [
    {},
    { _id: 'x' },
    { name: 'a', n: 1, ok: true, gone: null, at: new Date(0) },
    { tags: ['a', 'b'] },
    { profile: { city: 'Oslo' } },
    { 'profile.city': 'Oslo', 'items.0.sku': 's1' },
    { name: /^a/i },
    { name: { $eq: 'a' } },
    { name: { $eq: null } },
    { name: { $ne: 'a' } },
    { name: { $in: ['a', null] }, n: { $nin: [1, 2] } },
    { n: { $gt: 1, $lt: 5 } },
    { at: { $gte: new Date(0), $lte: new Date(1) } },
    { name: { $gt: 'a' } },
    { name: { $exists: true }, other: { $exists: false } },
    { name: { $regex: /a/m } },
    { items: { $elemMatch: { sku: 's1', qty: { $gt: 1 } } } },
    { items: { $elemMatch: { $or: [{ sku: 's1' }, { qty: 2 }] } } },
    { $and: [{ n: 1 }, { $or: [{ a: 1 }, { b: { $exists: true } }] }] },
  ];

  it.each(accepted.map((f): [string, Filter] => [label(f), f]))('accepts %s', (_l, filter) => {
    expect(() => assertSupportedFilter(filter)).not.toThrow();
  });

  const refused: [Filter, RegExp][] = [
    [{ $where: 'true' }, /\$where is not supported/],
    [{ $expr: {} }, /\$expr is not supported/],
    [{ $nor: [{ a: 1 }] }, /\$nor is not supported/],
    [{ $not: { a: 1 } }, /\$not is not supported/],
    [{ $and: {} }, /\$and takes a non-empty array/],
    [{ $or: [] }, /\$or takes a non-empty array/],
    [{ $or: ['a'] }, /filter\.\$or\[0\]: must be an object/],
    [{ $or: [null] }, /must be an object/],
    [{ $and: [{ n: 1 }, { n: { $where: 1 } }] }, /filter\.\$and\[1\]\.n: operator \$where/],
    [{ n: { $size: 1 } }, /\$size is not supported/],
    [{ n: { $type: 'string' } }, /\$type is not supported/],
    [{ n: { $gt: 1, x: 2 } }, /can't be mixed/],
    [{ items: { $elemMatch: { $where: 'x' } } }, /\$where is not supported/],
    [{ items: { $elemMatch: 'x' } }, /\$elemMatch takes a filter object/],
    [{ items: { $elemMatch: { $gt: 1 } } }, /\$gt is not supported/],
    [{ name: undefined }, /undefined is not a value/],
    [{ name: { $eq: undefined } }, /undefined is not a value/],
    [{ name: { $ne: undefined } }, /undefined is not a value/],
    [{ name: { $in: ['a', undefined] } }, /undefined is not a value/],
    [{ profile: { city: undefined } }, /undefined is not a value/],
    [{ name: { $in: 'a' } }, /\$in takes an array/],
    [{ name: { $nin: null } }, /\$nin takes an array/],
    [{ name: { $in: [/a/] } }, /use \$regex/],
    [{ name: { $eq: /a/ } }, /use \$regex/],
    [{ name: { $eq: { $gt: '' } } }, /key \$gt can't start with \$/],
    [{ name: { $in: [{ $gt: '' }] } }, /key \$gt can't start with \$/],
    [{ profile: { 'a.b': 1 } }, /contain a dot/],
    [{ n: { $gt: null } }, /\$gt takes a number, a string or a Date/],
    [{ n: { $lt: true } }, /\$lt takes/],
    [{ n: { $lte: [1] } }, /\$lte takes/],
    [{ n: { $gte: Number.NaN } }, /\$gte takes/],
    [{ n: { $exists: 1 } }, /\$exists takes a boolean/],
    [{ n: { $regex: 'a' } }, /\$regex takes a RegExp/],
    [{ n: { $regex: /a/g } }, /flags g and y/],
    [{ n: /a/y }, /flags g and y/],
    [{ n: Number.POSITIVE_INFINITY }, /can't be stored/],
    [{ n: new Map() }, /only plain data and Dates/],
  ];

  it.each(refused.map(([f, m]): [string, Filter, RegExp] => [label(f), f, m]))('refuses %s', (_l, filter, message) => {
    expect(() => assertSupportedFilter(filter)).toThrow(UnsupportedQueryError);
    expect(() => assertSupportedFilter(filter)).toThrow(message);
  });

  it('refuses a filter that is not an object', () => {
    expect(() => assertSupportedFilter(null as unknown as Filter)).toThrow(UnsupportedQueryError);
    expect(() => assertSupportedFilter([] as unknown as Filter)).toThrow(UnsupportedQueryError);
  });

  it('names where the problem is, with the caller-given prefix', () => {
    expect(() => assertSupportedFilter({ a: { $bad: 1 } }, 'precondition')).toThrow('precondition.a: operator $bad is not supported');
  });
});

describe('assertSupportedUpdate', () => {
  const accepted: Update[] = [
    { $set: { a: 1, 'b.c': 'x', d: null, e: new Date(0), f: [1, { g: 2 }], h: { i: true } } },
    { $set: { a: undefined } },
    { $unset: { a: '', 'b.c': true } },
    { $inc: { n: 1, m: -2.5 } },
    { $push: { tags: 'a', list: { any: 'doc' } } },
    { $push: { tags: { $each: ['a', 'b'] } } },
    { $push: { recent: { $each: [1], $slice: -10 } } },
    { $addToSet: { tags: 'a' } },
    { $addToSet: { tags: { $each: ['a'] } } },
    { $pull: { tags: 'a' } },
    { $pull: { items: { sku: 's1', qty: { $gt: 1 } } } },
    { $pull: { nums: { $gte: 5 } } },
    { $pull: { tags: { $in: ['a', 'b'] } } },
    { $set: { a: 1 }, $inc: { b: 1 }, $unset: { c: '' }, $push: { d: 1 }, $pull: { e: 1 }, $addToSet: { f: 1 } },
    { $set: { 'a.b': 1, 'a.c': 2 } },
    { $set: { ab: 1, 'a.b': 2 } },
  ];

  it.each(accepted.map((u): [string, Update] => [label(u), u]))('accepts %s', (_l, update) => {
    expect(() => assertSupportedUpdate(update)).not.toThrow();
  });

  const refused: [unknown, RegExp][] = [
    [{}, /empty update/],
    [null, /must be an object/],
    [{ name: 'x' }, /operator name is not supported/],
    [{ $rename: { a: 'b' } }, /\$rename is not supported/],
    [{ $setOnInsert: { a: 1 } }, /\$setOnInsert is not supported/],
    [{ $min: { a: 1 } }, /\$min is not supported/],
    [{ $set: 'x' }, /\$set takes an object/],
    [{ $set: [1] }, /\$set takes an object/],
    [{ $set: { _id: 'x' } }, /can't change _id/],
    [{ $set: { '_id.x': 1 } }, /can't change _id/],
    [{ $set: { $x: 1 } }, /not a field path/],
    [{ $set: { 'a.$': 1 } }, /not a field path/],
    [{ $set: { 'a..b': 1 } }, /not a field path/],
    [{ $set: { '': 1 } }, /not a field path/],
    [{ $set: { a: { $b: 1 } } }, /key \$b can't start with \$/],
    [{ $set: { a: { 'b.c': 1 } } }, /contain a dot/],
    [{ $set: { a: Number.NaN } }, /can't be stored/],
    [{ $set: { a: /x/ } }, /only plain data and Dates/],
    [{ $set: { a: 1 }, $unset: { a: '' } }, /a and a conflict/],
    [{ $set: { a: 1, 'a.b': 2 } }, /a and a\.b conflict/],
    [{ $inc: { 'a.b': 1 }, $set: { a: {} } }, /conflict/],
    [{ $inc: { n: '1' } }, /\$inc takes a number/],
    [{ $inc: { n: Number.POSITIVE_INFINITY } }, /\$inc takes a number/],
    [{ $push: { tags: { $each: 'a' } } }, /takes \$each: \[\.\.\.\]/],
    [{ $push: { tags: { $each: ['a'], $sort: 1 } } }, /\$sort is not supported/],
    [{ $push: { tags: { $each: ['a'], $slice: 1.5 } } }, /\$slice takes an integer/],
    [{ $addToSet: { tags: { $each: ['a'], $slice: 1 } } }, /\$slice is not supported/],
    [{ $push: { tags: { $slice: 1 } } }, /takes \$each/],
    [{ $pull: { tags: { $elemMatch: { a: 1 } } } }, /\$elemMatch is not supported in \$pull/],
    [{ $pull: { tags: { $exists: true } } }, /\$exists is not supported in \$pull/],
    [{ $pull: { items: { sku: { $where: 'x' } } } }, /\$where is not supported/],
    [{ $pull: { tags: { $gt: 1, x: 1 } } }, /can't be mixed/],
    [{ $pull: { tags: undefined } }, /undefined is not a value/],
    [{ $pull: { tags: /a/ } }, /use \$regex/],
  ];

  it.each(refused.map(([u, m]): [string, unknown, RegExp] => [label(u), u, m]))('refuses %s', (_l, update, message) => {
    expect(() => assertSupportedUpdate(update as Update)).toThrow(UnsupportedQueryError);
    expect(() => assertSupportedUpdate(update as Update)).toThrow(message);
  });
});

describe('assertStorableDocument', () => {
  it('accepts plain data with Dates, nulls, nested arrays and undefined fields', () => {
    const doc = { _id: 'a', n: 1, s: 's', b: false, z: null, at: new Date(0), list: [1, [2], { x: new Date(1) }], gone: undefined };
    expect(() => assertStorableDocument(doc)).not.toThrow();
    expect(() => assertStorableDocument(Object.assign(Object.create(null) as object, { _id: 'b' }) as StoredDocument)).not.toThrow();
  });

  const refused: [unknown, RegExp][] = [
    [{ _id: '' }, /_id must be a non-empty string/],
    [{ _id: 1 }, /_id must be a non-empty string/],
    [{ name: 'no id' }, /_id must be a non-empty string/],
    [{ _id: 'a', 'a.b': 1 }, /contain a dot/],
    [{ _id: 'a', $set: 1 }, /can't start with \$/],
    [{ _id: 'a', nested: [{ $x: 1 }] }, /document\.nested\[0\]: key \$x/],
    [{ _id: 'a', n: Number.NaN }, /can't be stored/],
    [{ _id: 'a', at: new Date(Number.NaN) }, /invalid Date/],
    [{ _id: 'a', big: BigInt(1) }, /only plain data/],
    [{ _id: 'a', fn: () => 1 }, /only plain data/],
    [{ _id: 'a', buf: Buffer.from('x') }, /only plain data/],
    [{ _id: 'a', m: new Map() }, /only plain data/],
    [[{ _id: 'a' }], /must be an object/],
  ];

  it.each(refused.map(([d, m]): [string, unknown, RegExp] => [label(d), d, m]))('refuses %s', (_l, doc, message) => {
    expect(() => assertStorableDocument(doc as StoredDocument)).toThrow(UnsupportedQueryError);
    expect(() => assertStorableDocument(doc as StoredDocument)).toThrow(message);
  });
});

describe('DuplicateKeyError', () => {
  it('carries the collection and key', () => {
    const error = new DuplicateKeyError('people', 'a@x');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('DuplicateKeyError');
    expect(error.message).toBe('duplicate key in people: a@x');
    expect([error.collection, error.key]).toEqual(['people', 'a@x']);
  });
});
