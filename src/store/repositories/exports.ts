import type { Collection, DocumentStore } from '../port';

/** A generated file (CSV) waiting to be downloaded through a signed link. */
export interface ExportFile {
  id: string;
  filename: string;
  contentType: string;
  rowCount: number;
  chunkCount: number;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
}

interface FileDoc extends Omit<ExportFile, 'id'> {
  _id: string;
}

interface ChunkDoc {
  _id: string;
  exportId: string;
  index: number;
  text: string;
  expiresAt: Date;
}

/**
 * Generated files live in the store, not on one instance's disk, so whichever instance the load
 * balancer picks can serve the download. A file is split in chunks (a MongoDB document holds at
 * most 16 MB); its entry is written after its chunks, so a listed file is always complete.
 */
export class ExportRepository {
  private readonly files: Collection<FileDoc>;
  private readonly chunks: Collection<ChunkDoc>;

  constructor(store: DocumentStore) {
    this.files = store.collection<FileDoc>('exportFiles');
    this.chunks = store.collection<ChunkDoc>('exportChunks');
  }

  async init(): Promise<void> {
    // Expired files are deleted by a range on expiresAt: it costs what has expired.
    await this.files.ensureIndex({ name: 'expiresAt_1', fields: ['expiresAt'] });
    await this.chunks.ensureIndex({ name: 'expiresAt_1', fields: ['expiresAt'] });
    await this.chunks.ensureIndex({ name: 'exportId_1', fields: ['exportId'] });
  }

  async save(file: ExportFile, chunks: readonly string[]): Promise<void> {
    if (chunks.length !== file.chunkCount) throw new Error(`export ${file.id}: ${chunks.length} chunks, expected ${file.chunkCount}`);
    for (let index = 0; index < chunks.length; index++) {
      await this.chunks.insert({ _id: chunkId(file.id, index), exportId: file.id, index, text: chunks[index]!, expiresAt: file.expiresAt });
    }
    const { id, ...rest } = file;
    await this.files.insert({ _id: id, ...rest });
  }

  async get(id: string): Promise<ExportFile | null> {
    const doc = await this.files.findOne({ _id: id });
    if (!doc) return null;
    const { _id, ...rest } = doc;
    return { id: _id, ...rest };
  }

  /** One chunk's text, or null when it is gone (expired and deleted meanwhile). */
  async chunk(id: string, index: number): Promise<string | null> {
    return (await this.chunks.findOne({ _id: chunkId(id, index) }))?.text ?? null;
  }

  async delete(id: string): Promise<void> {
    await this.files.delete({ _id: id });
    await this.chunks.delete({ exportId: id });
  }

  /** Deletes every file whose link has expired (at or before `now`); returns how many files went. */
  async deleteExpired(now: Date): Promise<number> {
    const files = await this.files.delete({ expiresAt: { $lte: now } });
    await this.chunks.delete({ expiresAt: { $lte: now } });
    return files;
  }
}

function chunkId(id: string, index: number): string {
  return `${id}:${index}`;
}
