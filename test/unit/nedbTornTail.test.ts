import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openEmbeddedStore, repairTornTail } from '../../src/store/nedbStore';

// Found while checking the kill -9 suite's store: NeDB refuses to load a small collection whose
// last append was cut off (one torn line of four is 25 % "corrupt", over its 10 % threshold),
// so the bot could not start again after a crash mid-write. Only the torn tail is repaired.
describe('embedded store: a write torn by a crash', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'ap-torn-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('drops a torn last line, so the store opens with every whole document', async () => {
    writeFileSync(path.join(dir, 'settings.db'), '{"_id":"a","value":1}\n{"_id":"b","value":2}\n{"_id":"c","value":3}\n{"_id":"d","val');
    const store = await openEmbeddedStore({ dataDir: dir });
    try {
      expect((await store.collection('settings').find({})).map((d) => d._id).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await store.close();
    }
  });

  it('completes a whole last line that only lacks its newline, and leaves sound files alone', async () => {
    const file = path.join(dir, 'x.db');
    writeFileSync(file, '{"_id":"a","value":1}\n{"_id":"b","value":2}');
    expect(await repairTornTail(file)).toBe('completed');
    expect(readFileSync(file, 'utf8')).toBe('{"_id":"a","value":1}\n{"_id":"b","value":2}\n');
    expect(await repairTornTail(file)).toBe('none');
    expect(await repairTornTail(path.join(dir, 'missing.db'))).toBe('none');
  });

  it('still refuses a file corrupt before its last line', async () => {
    writeFileSync(path.join(dir, 'settings.db'), '{"_id":"a"\n{"_id":"b","value":2}\n');
    const store = await openEmbeddedStore({ dataDir: dir });
    try {
      await expect(store.collection('settings').find({})).rejects.toThrow(/corrupt/);
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
