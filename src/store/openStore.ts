import { openMongoStore } from './mongoStore';
import { openEmbeddedStore } from './nedbStore';
import type { DocumentStore } from './port';

/** MongoDB when a URI is configured, otherwise the file-backed embedded store under dataDir. */
export async function openStore(config: { mongodbUri?: string; dataDir: string; mongodbTimeoutMs?: number }): Promise<DocumentStore> {
  const uri = config.mongodbUri?.trim();
  if (uri) return openMongoStore({ uri, timeoutMs: config.mongodbTimeoutMs });
  return openEmbeddedStore({ dataDir: config.dataDir });
}
