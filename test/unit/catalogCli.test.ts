import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, USAGE } from '../../src/catalog/cli';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { systemClock } from '../../src/clock';
import { openRepositories } from '../../src/store/repositories';

const VALID = `
catalogs:
  - id: finance
    displayName: Finance
    resources:
      - { id: finance-team, type: group, originId: grp-finance, displayName: Finance team }
accessPackages:
  - id: accounting
    catalog: finance
    displayName: Accounting
    resourceRoles: [{ resource: finance-team, role: member }]
    policies:
      - { id: employees, displayName: Employees }
      - { id: managers, displayName: Managers, allowedRequestors: { scope: specificDirectoryUsers, groups: [grp-managers] } }
`;

const INVALID = `
catalogs:
  - id: finance
    displayName: Finance
accessPackages:
  - id: accounting
    catalog: finanse
    displayName: Accounting
    policies:
      - { id: employees, displayName: Employees, approval: { required: true } }
`;

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('catalog CLI', () => {
  let dir: string;
  let valid: string;
  let invalid: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'catalog-cli-'));
    valid = join(dir, 'catalog.yaml');
    invalid = join(dir, 'invalid.yaml');
    await writeFile(valid, VALID);
    await writeFile(invalid, INVALID);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('validate', () => {
    it('prints a one-line summary and exits 0 for a valid file', async () => {
      const result = await run(['validate', valid]);
      expect(result).toEqual({ code: 0, out: `${valid}: valid — 1 catalog, 1 package, 2 policies`, err: '' });
    });

    it('prints each located error on its own line and exits 1', async () => {
      const result = await run(['validate', invalid]);
      expect(result.code).toBe(1);
      expect(result.out).toBe('');
      expect(result.err.split('\n')).toEqual([
        `${invalid}:7:5: accessPackages[0].catalog: unknown catalog 'finanse'; did you mean 'finance'?`,
        `${invalid}:10:62: accessPackages[0].policies[0].approval.required: approval is required but no stages are given: add 1 to 3 stages under approval.stages`,
        `${invalid}: 2 errors`,
      ]);
    });

    it('refuses a privileged Entra role unless ALLOW_PRIVILEGED_ROLES=true, as the bot does', async () => {
      const privileged = join(dir, 'privileged.yaml');
      await writeFile(privileged, VALID.replace('      - { id: finance-team', '      - { id: ga, type: directoryRole, originId: 62e90394-69f5-4237-9190-012177145e10, displayName: Global admins }\n      - { id: finance-team'));
      const refused = await run(['validate', privileged]);
      expect(refused.code).toBe(1);
      expect(refused.err.split('\n')[0]).toMatch(new RegExp(`^${privileged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:\\d+: catalogs\\[0\\]\\.resources\\[0\\]\\.originId: 'Global Administrator' .* unless ALLOW_PRIVILEGED_ROLES=true`));
      expect(await run(['validate', privileged], { ALLOW_PRIVILEGED_ROLES: 'true' })).toMatchObject({ code: 0, err: '' });
      expect(await run(['validate', privileged], { ALLOW_PRIVILEGED_ROLES: 'yes' })).toEqual({ code: 2, out: '', err: 'Configuration error: ALLOW_PRIVILEGED_ROLES must be true or false (got "yes")' });
    });

    it('reports a missing file as an error (exit 1)', async () => {
      const missing = join(dir, 'nope.yaml');
      const result = await run(['validate', missing]);
      expect(result.code).toBe(1);
      expect(result.err.split('\n')[0]).toBe(`${missing}: file not found`);
    });
  });

  describe('apply', () => {
    it('applies to the embedded store in DATA_DIR, idempotently', async () => {
      const dataDir = join(dir, 'data');
      const first = await run(['apply', valid], { DATA_DIR: dataDir });
      expect(first.code).toBe(0);
      expect(first.out.split('\n')).toEqual([
        `${valid}: valid — 1 catalog, 1 package, 2 policies`,
        'catalogs: 1 created (finance)',
        'packages: 1 created (accounting)',
        'policies: 2 created (accounting/employees, accounting/managers)',
      ]);

      // The store is closed after apply, so a new process (here: a new store) sees the data.
      const store = await openEmbeddedStore({ dataDir });
      try {
        expect((await (await openRepositories(store, systemClock)).packages.get('accounting'))?.displayName).toBe('Accounting');
      } finally {
        await store.close();
      }

      const second = await run(['apply', valid], { DATA_DIR: dataDir });
      expect(second.out.split('\n').slice(1)).toEqual(['catalogs: 1 unchanged', 'packages: 1 unchanged', 'policies: 2 unchanged']);
    });

    it('records an audit event a crashed bot left on a package before rewriting it', async () => {
      const dataDir = join(dir, 'data-pending');
      expect((await run(['apply', valid], { DATA_DIR: dataDir })).code).toBe(0);
      let store = await openEmbeddedStore({ dataDir });
      const repos = await openRepositories(store, systemClock);
      // An admin's disable, written with its event; the bot died before recording the event.
      const event = repos.audit.prepare({ actorId: 'u-ivan', action: 'admin.disable', packageId: 'accounting', details: { kind: 'package' } });
      await store.collection('accessPackages').updateOne({ _id: 'accounting' }, { $set: { enabled: false }, $push: { pendingAudit: event } });
      await store.close();

      expect((await run(['apply', valid], { DATA_DIR: dataDir })).code).toBe(0);
      store = await openEmbeddedStore({ dataDir });
      try {
        expect((await (await openRepositories(store, systemClock)).audit.query({ packageId: 'accounting' })).map((e) => e.id)).toEqual([event.id]);
      } finally {
        await store.close();
      }
    });

    it('writes nothing with --dry-run', async () => {
      const dataDir = join(dir, 'dry');
      const dry = await run(['apply', '--dry-run', valid], { DATA_DIR: dataDir });
      expect(dry.code).toBe(0);
      expect(dry.out).toContain('dry run: nothing was written');
      expect(dry.out).toContain('packages: 1 created (accounting)');
      const again = await run(['apply', valid, '--dry-run'], { DATA_DIR: dataDir });
      expect(again.out).toContain('packages: 1 created (accounting)');
    });

    it('does not touch the store when the file is invalid', async () => {
      let opened = false;
      const code = await main(['apply', invalid], {}, { out: () => undefined, err: () => undefined }, {
        openStore: async () => {
          opened = true;
          throw new Error('should not be called');
        },
      });
      expect(code).toBe(1);
      expect(opened).toBe(false);
    });

    it('reports a store that cannot be opened', async () => {
      const err: string[] = [];
      const code = await main(['apply', valid], {}, { out: () => undefined, err: (l) => err.push(l) }, {
        openStore: async () => {
          throw new Error('connection refused');
        },
      });
      expect(code).toBe(1);
      expect(err).toEqual(['cannot open the store: connection refused']);
    });
  });

  describe('usage errors', () => {
    it.each([
      [[], 'missing command'],
      [['check', 'x.yaml'], "unknown command 'check'"],
      [['validate'], 'validate: missing FILE'],
      [['apply'], 'apply: missing FILE'],
      [['validate', 'a.yaml', 'b.yaml'], "validate: unexpected argument 'b.yaml'"],
      [['validate', 'a.yaml', '--dry-run'], "validate: unknown option '--dry-run'"],
      [['apply', 'a.yaml', '--force'], "apply: unknown option '--force'"],
    ])('%j → exit 2 with usage', async (argv, message) => {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.err).toBe(`${message}\n${USAGE}`);
    });

    it('prints usage on --help and exits 0', async () => {
      expect(await run(['--help'])).toEqual({ code: 0, out: USAGE, err: '' });
    });
  });
});
