import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/reconcile/cli';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { GrantRepository } from '../../src/store/repositories/grants';
import { REPO_ROOT } from '../support/testApp';

// `npm run reconcile`: exit codes and output, on an embedded store in a temp DATA_DIR and the
// example local directory.
describe('reconcile CLI', () => {
  let dataDir: string;
  let out: string[];
  let err: string[];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  const env = () => ({ DATA_DIR: dataDir, LOCAL_DIRECTORY_FILE: path.join(REPO_ROOT, 'examples', 'directory.yaml') });

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ap-reconcile-'));
    out = [];
    err = [];
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reports no drift on an empty store (exit 0)', async () => {
    expect(await main([], env(), io)).toBe(0);
    expect(out).toEqual(['checked 0 grant(s); no drift (missingInDirectory 0, extraHolder 0, unrecordedHolder 0, heldAfterEnd 0, emptyLedgerRow 0); pre-existing rows 0']);
  });

  it('reports a ledger row held by an assignment that does not exist (exit 1), as text or JSON', async () => {
    const store = await openEmbeddedStore({ dataDir });
    const grants = new GrantRepository(store, () => new Date());
    await grants.init();
    await grants.open({ userId: 'u-fred', resourceType: 'group', originId: 'grp-finance', role: 'member', preExisting: false });
    await grants.addHolder('u-fred|grp-finance|member', 'ASG-GONE');
    await store.close();

    expect(await main([], env(), io)).toBe(1);
    expect(out[0]).toBe('extraHolder: user u-fred, grp-finance (member): ASG-GONE (unknown assignment)');
    expect(out[1]).toMatch(/^checked 1 grant\(s\); 1 drift \(missingInDirectory 0, extraHolder 1,/);
    out = [];
    expect(await main(['--json'], env(), io)).toBe(1);
    expect(JSON.parse(out[0]!)).toMatchObject({ checked: 1, drift: [{ kind: 'extraHolder', userId: 'u-fred', assignmentIds: ['ASG-GONE'] }] });
  });

  it('refuses an unknown argument with the usage (exit 2) and a bad setting with its one line (exit 1)', async () => {
    expect(await main(['--fix'], env(), io)).toBe(2);
    expect(err[0]).toMatch(/^unexpected argument '--fix'\nusage: npm run reconcile/);
    err = [];
    expect(await main([], { ...env(), MONGODB_URI: 'http://nope' }, io)).toBe(1);
    expect(err[0]).toMatch(/^Configuration error: MONGODB_URI must be/);
  });
});
