import { openEmbeddedStore } from '../../src/store/nedbStore';
import { SettingsRepository } from '../../src/store/repositories/settings';

describe('SettingsRepository', () => {
  it('stores, replaces and clears named values', async () => {
    const store = await openEmbeddedStore({});
    const settings = new SettingsRepository(store, () => new Date('2026-11-22T08:00:00Z'));
    expect(await settings.get('adminChannel')).toBeUndefined();
    await settings.set('adminChannel', { conversationId: 'c-1' }, 'u-ivan');
    await settings.set('adminChannel', { conversationId: 'c-2' }, 'u-ivan');
    expect(await settings.get('adminChannel')).toEqual({ conversationId: 'c-2' });
    await settings.clear('adminChannel');
    expect(await settings.get('adminChannel')).toBeUndefined();
    await store.close();
  });

  it('getOrCreate keeps the first value stored, even when two callers race', async () => {
    const store = await openEmbeddedStore({});
    const settings = new SettingsRepository(store, () => new Date());
    const [a, b] = await Promise.all([settings.getOrCreate('key', () => 'first'), settings.getOrCreate('key', () => 'second')]);
    expect(a).toBe(b);
    expect(await settings.getOrCreate('key', () => 'third')).toBe(a);
    await store.close();
  });
});
