import { type Collection, type DocumentStore, type StoredDocument, StoreUnavailableError } from '../../src/store/port';

/**
 * Wraps a store so that, while `failing`, every collection operation throws what an adapter
 * throws when its database can't be reached (StoreUnavailableError), or a given error. The
 * collections handed out before (repositories keep theirs) fail too; recover() ends it.
 */
export class FaultyStore implements DocumentStore {
  readonly kind: string;
  private fault: ((collection: string) => Error) | undefined;

  constructor(private readonly inner: DocumentStore) {
    this.kind = inner.kind;
  }

  /** From now on every operation fails; by default as an unreachable database. */
  fail(error: (collection: string) => Error = (collection) => new StoreUnavailableError(collection, new Error('connect ECONNREFUSED 10.0.0.5:27017'))): void {
    this.fault = error;
  }

  recover(): void {
    this.fault = undefined;
  }

  collection<T extends StoredDocument>(name: string): Collection<T> {
    const inner = this.inner.collection<T>(name);
    return new Proxy(inner, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (this.fault) return Promise.reject(this.fault(name));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  ping(): Promise<void> {
    return this.fault ? Promise.reject(this.fault('ping')) : this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
