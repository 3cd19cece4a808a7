// The store side of admin queries and exports on the embedded store: paging, filters, the
// audit log's newest-first reads, stored export files, and that every one of these reads is
// served by an index (NeDB falls back to `getAllData`, a full scan, when no index fits).
import Datastore from '@seald-io/nedb';
import { FakeClock } from '../support/fakeClock';
import { newRequest } from '../../src/domain/newRequest';
import type { Assignment } from '../../src/domain/model';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { openRepositories, type Repositories } from '../../src/store/repositories';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

describe('admin query store reads (embedded store)', () => {
  let store: DocumentStore;
  let repositories: Repositories;
  let clock: FakeClock;
  let fullScans: jest.SpyInstance;

  beforeEach(async () => {
    store = await openEmbeddedStore({});
    clock = new FakeClock('2026-11-22T09:00:00Z');
    repositories = await openRepositories(store, clock);
    // After the indexes are built (building one reads every document once).
    fullScans = jest.spyOn(Datastore.prototype, 'getAllData');
  });

  afterEach(async () => {
    fullScans.mockRestore();
    await store.close();
  });

  async function addRequest(id: string, packageId: string, state: 'delivered' | 'denied') {
    await repositories.requests.insert(newRequest({ id, type: 'add', packageId, policyId: 'p', requesterId: 'u', targetUserId: 'u', state, schedule: {}, now: clock.now() }));
    clock.advance(MINUTE);
  }

  async function addAssignment(id: string, packageId: string, state: Assignment['state']) {
    const now = clock.now();
    await repositories.assignments.insert({ id, packageId, policyId: 'p', userId: 'u', state, startAt: now, roles: [], requestIds: [], createdAt: now, updatedAt: now });
    clock.advance(MINUTE);
  }

  it('the spy sees a full scan when no index fits (so the checks below mean something)', async () => {
    await addRequest('R0', 'a', 'delivered');
    fullScans.mockClear();
    await store.collection('requests').find({ policyId: 'p' });
    expect(fullScans).toHaveBeenCalled();
  });

  it('requests of a package: newest first, paged, optionally one state, without a full scan', async () => {
    for (let i = 0; i < 5; i++) await addRequest(`R${i}`, 'a', i % 2 === 0 ? 'delivered' : 'denied');
    await addRequest('OTHER', 'b', 'delivered');
    fullScans.mockClear();
    expect((await repositories.requests.listForPackage('a', { skip: 0, limit: 2 })).map((r) => r.id)).toEqual(['R4', 'R3']);
    expect((await repositories.requests.listForPackage('a', { skip: 2, limit: 2 })).map((r) => r.id)).toEqual(['R2', 'R1']);
    expect((await repositories.requests.listForPackage('a', { state: 'delivered', skip: 0, limit: 10 })).map((r) => r.id)).toEqual(['R4', 'R2', 'R0']);
    expect(await repositories.requests.countForPackage('a')).toBe(5);
    expect(await repositories.requests.countForPackage('a', 'denied')).toBe(2);
    expect((await repositories.requests.getMany(['R1', 'OTHER', 'NONE', 'R1'])).map((r) => r.id).sort()).toEqual(['OTHER', 'R1']);
    expect(fullScans).not.toHaveBeenCalled();
  });

  it('assignments of a package: active, all or one state, newest first, without a full scan', async () => {
    await addAssignment('A0', 'a', 'delivered');
    await addAssignment('A1', 'a', 'expired');
    await addAssignment('A2', 'a', 'deliveryFailed');
    await addAssignment('B0', 'b', 'delivered');
    fullScans.mockClear();
    expect((await repositories.assignments.listForPackage('a', { states: ['delivered', 'deliveryFailed'], skip: 0, limit: 10 })).map((a) => a.id)).toEqual(['A2', 'A0']);
    expect((await repositories.assignments.listForPackage('a', { skip: 1, limit: 10 })).map((a) => a.id)).toEqual(['A1', 'A0']);
    expect((await repositories.assignments.listForPackage('a', { states: ['expired'], skip: 0, limit: 10 })).map((a) => a.id)).toEqual(['A1']);
    expect(await repositories.assignments.countForPackage('a')).toBe(3);
    expect(await repositories.assignments.countForPackage('a', ['delivered'])).toBe(1);
    expect(fullScans).not.toHaveBeenCalled();
  });

  describe('audit log', () => {
    async function event(action: string, fields: { packageId?: string; userId?: string; requestId?: string; assignmentId?: string } = {}) {
      await repositories.audit.append({ actorId: 'system', action, ...fields });
    }

    it('the newest events of a package, user, request or assignment, newest first, without a full scan', async () => {
      await event('e1', { packageId: 'a', userId: 'u1', requestId: 'REQ-1' });
      clock.advance(MINUTE);
      await event('e2', { packageId: 'a', userId: 'u2', requestId: 'REQ-1', assignmentId: 'ASG-REQ-1' });
      clock.advance(MINUTE);
      await event('e3', { packageId: 'b', userId: 'u1' });
      await event('e4', { packageId: 'b', userId: 'u1' }); // same millisecond: append order still holds
      fullScans.mockClear();
      const actions = async (query: Parameters<Repositories['audit']['latest']>[0], limit = 10) => (await repositories.audit.latest(query, limit)).map((e) => e.action);
      expect(await actions({ packageId: 'a' })).toEqual(['e2', 'e1']);
      expect(await actions({ userId: 'u1' })).toEqual(['e4', 'e3', 'e1']);
      expect(await actions({ userId: 'u1' }, 2)).toEqual(['e4', 'e3']);
      expect(await actions({ requestId: 'REQ-1' })).toEqual(['e2', 'e1']);
      expect(await actions({ assignmentId: 'ASG-REQ-1' })).toEqual(['e2']);
      expect(await actions({ packageId: 'b', userId: 'u1' })).toEqual(['e4', 'e3']);
      expect(await actions({ userId: 'u1', from: new Date('2026-11-22T09:01:00Z') })).toEqual(['e4', 'e3']);
      expect(await actions({ packageId: 'a', to: new Date('2026-11-22T09:01:00Z') })).toEqual(['e1']);
      expect(await repositories.audit.mentions('packageId', 'b')).toBe(true);
      expect(await repositories.audit.mentions('userId', 'system')).toBe(true); // as actor
      expect(await repositories.audit.mentions('userId', 'u9')).toBe(false);
      expect(fullScans).not.toHaveBeenCalled();
    });

    it('"involving" a user: what they did and what was done about them, merged in order, without a full scan', async () => {
      await repositories.audit.append({ actorId: 'u-ivan', action: 'ivan did', userId: 'u-fred' });
      clock.advance(MINUTE);
      await repositories.audit.append({ actorId: 'system', action: 'about ivan', userId: 'u-ivan' });
      clock.advance(MINUTE);
      await repositories.audit.append({ actorId: 'u-ivan', action: 'ivan about himself', userId: 'u-ivan' });
      await repositories.audit.append({ actorId: 'u-fred', action: 'fred did', userId: 'u-fred' });
      fullScans.mockClear();
      expect((await repositories.audit.latest({ involving: 'u-ivan' }, 10)).map((e) => e.action)).toEqual(['ivan about himself', 'about ivan', 'ivan did']);
      expect((await repositories.audit.latest({ involving: 'u-ivan' }, 2)).map((e) => e.action)).toEqual(['ivan about himself', 'about ivan']);
      expect((await repositories.audit.query({ involving: 'u-ivan', limit: 2 })).map((e) => e.action)).toEqual(['ivan did', 'about ivan']);
      expect((await repositories.audit.query({ involving: 'u-fred' })).map((e) => e.action)).toEqual(['ivan did', 'fred did']);
      expect(fullScans).not.toHaveBeenCalled();
    });

    it('unfiltered: reads back from now in widening windows, so recent events cost no full scan', async () => {
      clock.set('2025-06-01T00:00:00Z');
      await event('ancient');
      clock.set('2026-11-12T09:00:00Z');
      await event('ten days ago');
      clock.set('2026-11-22T08:00:00Z');
      await event('an hour ago');
      await event('just now');
      clock.set('2026-11-22T09:00:00Z');
      fullScans.mockClear();
      expect((await repositories.audit.latest({}, 2)).map((e) => e.action)).toEqual(['just now', 'an hour ago']);
      expect((await repositories.audit.latest({}, 3)).map((e) => e.action)).toEqual(['just now', 'an hour ago', 'ten days ago']);
      expect((await repositories.audit.latest({ to: new Date('2026-11-13T00:00:00Z') }, 1)).map((e) => e.action)).toEqual(['ten days ago']);
      expect(fullScans).not.toHaveBeenCalled();
      // Fewer events than asked for in the last year: the rest of the log is read too.
      expect((await repositories.audit.latest({}, 10)).map((e) => e.action)).toEqual(['just now', 'an hour ago', 'ten days ago', 'ancient']);
      expect((await repositories.audit.latest({ from: new Date('2026-01-01T00:00:00Z') }, 10)).map((e) => e.action)).toEqual(['just now', 'an hour ago', 'ten days ago']);
    });

    it('stays append-only: the repository offers no way to change or delete an event', () => {
      const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(repositories.audit));
      expect(methods).toContain('append');
      // Reads and appends only: nothing that could change or delete what was recorded.
      expect(methods.filter((m) => /update|delete|remove|replace|edit|set|clear|purge|drop/i.test(m))).toEqual([]);
    });
  });

  describe('export files', () => {
    const file = (id: string, expiresAt: Date, chunkCount = 2) => ({ id, filename: 'f.csv', contentType: 'text/csv; charset=utf-8', rowCount: 3, chunkCount, createdBy: 'u-ivan', createdAt: clock.now(), expiresAt });

    it('keeps a file in chunks, read back one at a time', async () => {
      await repositories.exports.save(file('EXP-1', new Date(clock.now().getTime() + DAY)), ['a,b\r\n', 'c,d\r\n']);
      expect(await repositories.exports.get('EXP-1')).toMatchObject({ id: 'EXP-1', chunkCount: 2, rowCount: 3 });
      expect(await repositories.exports.chunk('EXP-1', 0)).toBe('a,b\r\n');
      expect(await repositories.exports.chunk('EXP-1', 1)).toBe('c,d\r\n');
      expect(await repositories.exports.chunk('EXP-1', 2)).toBeNull();
      await expect(repositories.exports.save(file('EXP-2', clock.now(), 3), ['x'])).rejects.toThrow(/1 chunks, expected 3/);
      expect(await repositories.exports.get('EXP-2')).toBeNull();
    });

    it('deletes expired files (entry and chunks) through the expiry index, and keeps the others', async () => {
      const now = clock.now().getTime();
      await repositories.exports.save(file('OLD', new Date(now - MINUTE)), ['1', '2']);
      await repositories.exports.save(file('NEW', new Date(now + MINUTE)), ['3', '4']);
      fullScans.mockClear();
      expect(await repositories.exports.deleteExpired(clock.now())).toBe(1);
      expect(fullScans).not.toHaveBeenCalled();
      expect(await repositories.exports.get('OLD')).toBeNull();
      expect(await repositories.exports.chunk('OLD', 1)).toBeNull();
      expect(await repositories.exports.chunk('NEW', 1)).toBe('4');
      await repositories.exports.delete('NEW');
      expect(await repositories.exports.get('NEW')).toBeNull();
      expect(await repositories.exports.chunk('NEW', 0)).toBeNull();
    });
  });
});
