import type { StoredDocument } from '../port';

// Domain entities carry `id`; stored documents carry it as `_id` so both adapters key them
// the same way. These two functions are the only place that mapping happens.

export type Doc<T extends { id: string }> = Omit<T, 'id'> & StoredDocument;

export function toDoc<T extends { id: string }>(entity: T): Doc<T> {
  const { id, ...rest } = entity;
  return { _id: id, ...rest } as Doc<T>;
}

export function fromDoc<T extends { id: string }>(doc: Doc<T>): T {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest } as unknown as T;
}

export function fromDocs<T extends { id: string }>(docs: Doc<T>[]): T[] {
  return docs.map((d) => fromDoc<T>(d));
}
