import { type Collection, type DocumentStore, DuplicateKeyError } from '../port';

interface SettingDoc {
  _id: string;
  value: unknown;
  updatedAt: Date;
  updatedBy?: string;
}

/**
 * Small named values the instances share (the admin notice channel, the export signing key):
 * kept in the store so every instance sees the same, and they survive restarts.
 */
export class SettingsRepository {
  private readonly collection: Collection<SettingDoc>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
  ) {
    this.collection = store.collection<SettingDoc>('settings');
  }

  async init(): Promise<void> {
    // Keyed by _id only.
  }

  async get<T>(name: string): Promise<T | undefined> {
    const doc = await this.collection.findOne({ _id: name });
    return doc ? (doc.value as T) : undefined;
  }

  async set(name: string, value: unknown, updatedBy?: string): Promise<void> {
    await this.collection.replace({ _id: name, value, updatedAt: this.now(), ...(updatedBy ? { updatedBy } : {}) }, { upsert: true });
  }

  async clear(name: string): Promise<void> {
    await this.collection.delete({ _id: name });
  }

  /**
   * Clears the value only while its fields still equal `expected` (e.g. the same binding):
   * a value someone stored meanwhile is kept. True when it was cleared.
   */
  async clearIf(name: string, expected: Record<string, string>): Promise<boolean> {
    const filter = Object.fromEntries(Object.entries(expected).map(([field, value]) => [`value.${field}`, value]));
    return (await this.collection.delete({ ...filter, _id: name })) > 0;
  }

  /**
   * The stored value, or `create()`'s stored first when there is none. Two instances racing
   * both end up with the value that was stored first.
   */
  async getOrCreate<T>(name: string, create: () => T): Promise<T> {
    const existing = await this.get<T>(name);
    if (existing !== undefined) return existing;
    try {
      await this.collection.insert({ _id: name, value: create(), updatedAt: this.now() });
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
    }
    return (await this.get<T>(name)) as T;
  }
}
