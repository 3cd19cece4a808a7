// The Teams app package (appPackage/, scripts/package-app.js): the manifest validated offline
// against the official schema bundled in @microsoft/app-manifest after ${{...}} substitution from
// env/, the command lists against the bot's commands, the icons' sizes and transparency (PNG
// decoded here with node:zlib), and the zip `npm run package` builds: exactly manifest.json,
// color.png and outline.png, values substituted.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync, inflateSync } from 'node:zlib';
import { CHAT_COMMANDS } from '../../src/bot/commands';

// @microsoft/app-manifest requires strip-bom 5, an ES module: Node 20.19+ loads it (require(esm)),
// jest's module runtime does not. Only the library's file readers use it, which nothing here
// calls, so a CommonJS stand-in is enough.
jest.mock(
  require.resolve('strip-bom', { paths: [require('node:path').dirname(require.resolve('@microsoft/app-manifest'))] }),
  () => ({ __esModule: true, default: (text: string) => text.replace(/^\uFEFF/, '') }),
);

const ROOT = path.join(__dirname, '..', '..');
const APP = path.join(ROOT, 'appPackage');
const SCRIPT = path.join(ROOT, 'scripts', 'package-app.js');

/* eslint-disable @typescript-eslint/no-require-imports */
const pack = require(SCRIPT) as {
  buildPackage(options: { env: string; root?: string; envDir?: string; outDir?: string; processEnv?: Record<string, string | undefined> }): Promise<{ zipPath: string; manifestPath: string; manifest: Manifest }>;
  readEnvFile(file: string): Record<string, string>;
  crc32(data: Buffer): number;
  PackageError: new (problems: string[]) => Error & { problems: string[] };
};
const icons = require(path.join(ROOT, 'scripts', 'generate-icons.js')) as { colorIcon(size: number): Buffer; outlineIcon(size: number): Buffer };
const { AppManifestUtils } = require('@microsoft/app-manifest') as { AppManifestUtils: { validateAgainstSchema(manifest: unknown, schema?: unknown): Promise<string[]> } };
/* eslint-enable @typescript-eslint/no-require-imports */

interface Manifest {
  $schema: string;
  manifestVersion: string;
  version: string;
  id: string;
  name: { short: string; full: string };
  icons: { color: string; outline: string };
  bots: Array<{ botId: string; scopes: string[]; commandLists: Array<{ scopes: string[]; commands: Array<{ title: string; description: string }> }> }>;
  webApplicationInfo: { id: string; resource?: string };
  validDomains: string[];
}

const TEMPLATE_TEXT = readFileSync(path.join(APP, 'manifest.json'), 'utf8');
const TEMPLATE = JSON.parse(TEMPLATE_TEXT) as Manifest;
const PLACEHOLDERS = [...new Set([...TEMPLATE_TEXT.matchAll(/\$\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g)].map((m) => m[1]!))];

/** Values a provisioned tenant has: real-looking GUIDs and host name. */
const TENANT_VALUES = {
  TEAMSFX_ENV: 'prod',
  APP_VERSION: '1.2.3',
  APP_NAME_SUFFIX: '',
  APP_PUBLISHER: 'Contoso IT',
  APP_WEBSITE_URL: 'https://it.contoso.com',
  APP_PRIVACY_URL: 'https://it.contoso.com/privacy',
  APP_TERMS_URL: 'https://it.contoso.com/terms',
  TEAMS_APP_ID: '3f7b2a91-5c4d-4e8f-a1b2-c3d4e5f60718',
  BOT_ID: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  BOT_DOMAIN: 'access.contoso.com',
};

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'app-package-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function envDirWith(values: Record<string, string>, user: Record<string, string> = {}, env = 'prod'): string {
  const dir = path.join(scratch, 'env');
  require('node:fs').mkdirSync(dir, { recursive: true });
  const lines = (v: Record<string, string>) => Object.entries(v).map(([k, x]) => `${k}=${/^\s|\s$/.test(x) ? `"${x}"` : x}`).join('\n');
  writeFileSync(path.join(dir, `.env.${env}`), `# test environment\n${lines(values)}\n`);
  if (Object.keys(user).length > 0) writeFileSync(path.join(dir, `.env.${env}.user`), `${lines(user)}\n`);
  return dir;
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(pack.PackageError);
  return (error as { problems: string[] }).problems;
}

// ---------------------------------------------------------------------------------------
// Offline: the schema must come from the package, never from the network.

let fetchCalls: string[] = [];
const realFetch = globalThis.fetch;
beforeAll(() => {
  globalThis.fetch = (async (input: unknown) => {
    fetchCalls.push(String(input));
    throw new Error('no network in this test');
  }) as typeof fetch;
});
afterAll(() => {
  globalThis.fetch = realFetch;
});
beforeEach(() => {
  fetchCalls = [];
});

describe('manifest template', () => {
  it('uses manifest schema v1.22 or newer, with a bundled schema for that version', () => {
    const [major, minor] = TEMPLATE.manifestVersion.split('.').map(Number);
    expect(major).toBe(1);
    expect(minor).toBeGreaterThanOrEqual(22);
    expect(TEMPLATE.$schema).toBe(`https://developer.microsoft.com/en-us/json-schemas/teams/v${TEMPLATE.manifestVersion}/MicrosoftTeams.schema.json`);
  });

  it('every placeholder is set in every committed environment, so packaging never meets an unknown name', () => {
    for (const env of ['dev', 'local', 'playground']) {
      const values = pack.readEnvFile(path.join(ROOT, 'env', `.env.${env}`));
      expect({ env, missing: PLACEHOLDERS.filter((name) => !(name in values)) }).toEqual({ env, missing: [] });
    }
  });

  it('is a bot for personal, team and group chat, tied to the bot app by webApplicationInfo and validDomains', () => {
    const bot = TEMPLATE.bots[0]!;
    expect(TEMPLATE.bots).toHaveLength(1);
    expect(bot.scopes.sort()).toEqual(['groupChat', 'personal', 'team']);
    expect(bot.botId).toBe('${{BOT_ID}}');
    // Proactive installation (TeamsAppInstallation.ReadWriteSelfForUser.All) needs the Entra app here.
    expect(TEMPLATE.webApplicationInfo.id).toBe('${{BOT_ID}}');
    expect(TEMPLATE.validDomains).toContain('${{BOT_DOMAIN}}');
  });

  it('lists the employee commands in personal chat and admin commands in every scope, all known to the bot', () => {
    const lists = TEMPLATE.bots[0]!.commandLists;
    const names = new Map(CHAT_COMMANDS.map((c) => [c.name, c]));
    // Each scope in exactly one list (Teams shows one command menu per scope).
    expect(lists.flatMap((l) => l.scopes).sort()).toEqual(['groupChat', 'personal', 'team']);
    for (const list of lists) {
      expect(list.commands.length).toBeLessThanOrEqual(10);
      for (const command of list.commands) {
        // What the menu inserts must be a command the bot parses; admin ones say so.
        expect(names.has(command.title)).toBe(true);
        expect(command.title.length).toBeLessThanOrEqual(32);
        expect(command.description.length).toBeLessThanOrEqual(128);
        expect(command.description).not.toMatch(/[<>]/);
        expect(command.description.startsWith('Admins:')).toBe(names.get(command.title)!.adminOnly);
      }
      expect(new Set(list.commands.map((c) => c.title)).size).toBe(list.commands.length);
    }
    const personal = lists.find((l) => l.scopes.includes('personal'))!.commands.map((c) => c.title);
    expect(personal).toEqual(expect.arrayContaining(CHAT_COMMANDS.filter((c) => !c.adminOnly).map((c) => c.name)));
    expect(personal.some((t) => names.get(t)!.adminOnly)).toBe(true);
    const team = lists.find((l) => l.scopes.includes('team'))!.commands.map((c) => c.title);
    // A channel is where admins bind notices.
    expect(team).toEqual(expect.arrayContaining(['help', 'notices', 'digest']));
  });
});

describe('schema validation after substitution (offline)', () => {
  it('a provisioned environment builds a manifest the official schema accepts', async () => {
    const { manifest } = await pack.buildPackage({ env: 'prod', envDir: envDirWith(TENANT_VALUES), outDir: scratch, processEnv: {} });

    expect(manifest.id).toBe(TENANT_VALUES.TEAMS_APP_ID);
    expect(manifest.bots[0]!.botId).toBe(TENANT_VALUES.BOT_ID);
    expect(manifest.validDomains).toEqual([TENANT_VALUES.BOT_DOMAIN]);
    expect(manifest.webApplicationInfo).toEqual({ id: TENANT_VALUES.BOT_ID, resource: `api://${TENANT_VALUES.BOT_DOMAIN}/botid-${TENANT_VALUES.BOT_ID}` });
    // Independently of the script: the bundled schema, read from disk, accepts it.
    const schemaFile = path.join(path.dirname(require.resolve('@microsoft/app-manifest/package.json')), 'build', 'json-schemas', 'teams', `v${manifest.manifestVersion}`, 'MicrosoftTeams.schema.json');
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as unknown;
    expect(await AppManifestUtils.validateAgainstSchema(manifest, schema)).toEqual([]);
    // The library's own lookup by $schema URL finds the bundled copy too.
    expect(await AppManifestUtils.validateAgainstSchema(manifest)).toEqual([]);
    expect(fetchCalls).toEqual([]);
  });

  it('the committed playground environment builds as it is', async () => {
    const { manifest } = await pack.buildPackage({ env: 'playground', outDir: scratch, processEnv: {} });
    expect(manifest.name.short).toBe('Access Packages (playground)');
    expect(fetchCalls).toEqual([]);
  });

  it('the schema catches what it can, and each problem names the setting to change', async () => {
    const problems = await problemsOf(pack.buildPackage({ env: 'prod', envDir: envDirWith({ ...TENANT_VALUES, TEAMS_APP_ID: '', BOT_ID: 'my-bot' }), outDir: scratch, processEnv: {} }));

    expect(problems).toEqual([
      '/id must be a GUID (TEAMS_APP_ID in env/.env.prod or env/.env.prod.user, now "")',
      '/bots/0/botId must be a GUID (BOT_ID in env/.env.prod or env/.env.prod.user, now "my-bot")',
      '/webApplicationInfo/id must be a GUID (BOT_ID in env/.env.prod or env/.env.prod.user, now "my-bot")',
    ].map((p) => p.replace(/env\/\.env\.prod/g, path.relative(ROOT, path.join(scratch, 'env', '.env.prod')))));
    expect(readdirSync(scratch)).toEqual(['env']); // nothing written
  });

  it('checks what the schema cannot: a semver version, a bare host name, too long a name', async () => {
    const problems = await problemsOf(
      pack.buildPackage({ env: 'prod', envDir: envDirWith({ ...TENANT_VALUES, APP_VERSION: '1.0', BOT_DOMAIN: 'https://access.contoso.com/api', APP_NAME_SUFFIX: ' (a suffix far too long)' }), outDir: scratch, processEnv: {} }),
    );

    expect(problems.some((p) => p.startsWith('/version must be major.minor.patch') && p.includes('APP_VERSION'))).toBe(true);
    expect(problems.some((p) => p.startsWith('/validDomains/0 must be a host name') && p.includes('BOT_DOMAIN'))).toBe(true);
    expect(problems.some((p) => p.startsWith('/name/short must NOT have more than 30 characters') && p.includes('APP_NAME_SUFFIX'))).toBe(true);
  });

  it('a name set nowhere is an error naming it and the file to add it to', async () => {
    const { TEAMS_APP_ID: _omitted, ...rest } = TENANT_VALUES;
    const problems = await problemsOf(pack.buildPackage({ env: 'prod', envDir: envDirWith(rest), outDir: scratch, processEnv: {} }));
    expect(problems).toEqual([expect.stringMatching(/^TEAMS_APP_ID is not set: add TEAMS_APP_ID=\.\.\. to .*\.env\.prod/)]);
  });

  it('an unknown environment lists the ones there are', async () => {
    const problems = await problemsOf(pack.buildPackage({ env: 'staging', outDir: scratch, processEnv: {} }));
    expect(problems).toEqual(['no environment "staging": env/.env.staging does not exist (available: dev, local, playground)']);
  });

  it('reads .env.NAME.user over .env.NAME, and the process environment over both', async () => {
    const envDir = envDirWith({ ...TENANT_VALUES, APP_PUBLISHER: 'from the env file' }, { APP_PUBLISHER: 'from the user file', APP_VERSION: '2.0.0' });

    const fromFiles = await pack.buildPackage({ env: 'prod', envDir, outDir: scratch, processEnv: {} });
    expect(fromFiles.manifest).toMatchObject({ version: '2.0.0', developer: { name: 'from the user file' } });

    const fromProcess = await pack.buildPackage({ env: 'prod', envDir, outDir: scratch, processEnv: { APP_PUBLISHER: 'from CI' } });
    expect(fromProcess.manifest).toMatchObject({ developer: { name: 'from CI' } });
  });

  it('escapes values for JSON: quotes and backslashes stay text', async () => {
    const { manifest } = await pack.buildPackage({ env: 'prod', envDir: envDirWith({ ...TENANT_VALUES, APP_PUBLISHER: 'Contoso "IT" \\ Ops' }), outDir: scratch, processEnv: {} });
    expect((manifest as unknown as { developer: { name: string } }).developer.name).toBe('Contoso "IT" \\ Ops');
  });
});

// ---------------------------------------------------------------------------------------
// Icons

interface Png {
  width: number;
  height: number;
  colorType: number;
  pixel(x: number, y: number): [number, number, number, number];
}

/** Decodes an 8-bit RGBA or RGB PNG (any filter), enough to check Teams' icon rules. */
function decodePng(data: Buffer): Png {
  expect(data.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let offset = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  while (offset < data.length) {
    const length = data.readUInt32BE(offset);
    const type = data.toString('ascii', offset + 4, offset + 8);
    const body = data.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') header = body;
    if (type === 'IDAT') idat.push(body);
    offset += 12 + length;
  }
  const width = header!.readUInt32BE(0);
  const height = header!.readUInt32BE(4);
  const bitDepth = header![8]!;
  const colorType = header![9]!;
  expect(bitDepth).toBe(8);
  expect([2, 6]).toContain(colorType); // RGB or RGBA
  const channels = colorType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? out[y * stride + i - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? out[(y - 1) * stride + i - channels]! : 0;
      const paeth = (): number => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const predictor = [0, a, b, (a + b) >> 1, paeth()][filter]!;
      out[y * stride + i] = (x + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    colorType,
    pixel: (x, y) => {
      const at = y * stride + x * channels;
      return [out[at]!, out[at + 1]!, out[at + 2]!, channels === 4 ? out[at + 3]! : 255];
    },
  };
}

function pixels(png: Png): Array<[number, number, [number, number, number, number]]> {
  const all: Array<[number, number, [number, number, number, number]]> = [];
  for (let y = 0; y < png.height; y++) for (let x = 0; x < png.width; x++) all.push([x, y, png.pixel(x, y)]);
  return all;
}

describe('icons', () => {
  const color = decodePng(readFileSync(path.join(APP, TEMPLATE.icons.color)));
  const outline = decodePng(readFileSync(path.join(APP, TEMPLATE.icons.outline)));

  it('color.png is 192×192 on a solid, square, fully opaque background (Teams rounds the corners itself)', () => {
    expect([color.width, color.height]).toEqual([192, 192]);
    expect(pixels(color).every(([, , p]) => p[3] === 255)).toBe(true);
    const corner = color.pixel(0, 0);
    for (const [x, y] of [[191, 0], [0, 191], [191, 191], [96, 2], [2, 96]] as const) expect(color.pixel(x, y)).toEqual(corner);
  });

  it('color.png keeps its symbol inside the central 96×96 (48 px of padding for cropping)', () => {
    const background = color.pixel(0, 0);
    const symbol = pixels(color).filter(([, , p]) => p.some((v, i) => v !== background[i]));
    expect(symbol.length).toBeGreaterThan(96 * 96 * 0.3); // a real symbol, not a speck
    expect(symbol.every(([x, y]) => x >= 48 && x < 144 && y >= 48 && y < 144)).toBe(true);
    // Not one colour plus white: it has the tint that sets the lid apart.
    expect(new Set(symbol.map(([, , p]) => p.join(','))).size).toBeGreaterThan(3);
  });

  it('outline.png is 32×32, pure white on full transparency, without padding', () => {
    expect([outline.width, outline.height]).toEqual([32, 32]);
    expect(outline.colorType).toBe(6);
    const all = pixels(outline);
    // Every visible pixel is white (255,255,255); everything else is fully transparent.
    expect(all.filter(([, , p]) => p[3] > 0).every(([, , p]) => p[0] === 255 && p[1] === 255 && p[2] === 255)).toBe(true);
    const transparent = all.filter(([, , p]) => p[3] === 0).length;
    const opaque = all.filter(([, , p]) => p[3] === 255).length;
    expect(transparent).toBeGreaterThan(32 * 32 * 0.15);
    expect(opaque).toBeGreaterThan(32 * 32 * 0.3);
    const xs = all.filter(([, , p]) => p[3] > 0).map(([x]) => x);
    expect([Math.min(...xs), Math.max(...xs)]).toEqual([0, 31]);
  });

  it('are what scripts/generate-icons.js draws (the script is their source)', () => {
    expect(icons.colorIcon(192).equals(readFileSync(path.join(APP, 'color.png')))).toBe(true);
    expect(icons.outlineIcon(32).equals(readFileSync(path.join(APP, 'outline.png')))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// The zip

interface ZipEntry {
  name: string;
  data: Buffer;
}

/** Reads a zip through its central directory, checking each entry's CRC and sizes. */
function readZip(zip: Buffer): ZipEntry[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(end).toBeGreaterThan(0);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    expect(zip.readUInt32LE(localOffset)).toBe(0x04034b50);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const stored = zip.subarray(dataStart, dataStart + compressedSize);
    const data = method === 8 ? inflateRawSync(stored) : stored;
    expect(data.length).toBe(size);
    expect(pack.crc32(data)).toBe(crc);
    entries.push({ name, data });
    at += 46 + nameLength + extra + comment;
  }
  return entries;
}

const execFileAsync = promisify(execFile);

describe('npm run package', () => {
  it('builds appPackage.ENV.zip with exactly manifest.json, color.png and outline.png, values substituted', async () => {
    const { stdout } = await execFileAsync(process.execPath, [SCRIPT, '--env', 'playground', '--out', scratch], { cwd: ROOT });
    expect(stdout).toContain('appPackage.playground.zip');

    const entries = readZip(readFileSync(path.join(scratch, 'appPackage.playground.zip')));
    expect(entries.map((e) => e.name)).toEqual(['manifest.json', 'color.png', 'outline.png']);
    const manifestText = entries[0]!.data.toString('utf8');
    expect(manifestText).not.toContain('${{');
    const env = pack.readEnvFile(path.join(ROOT, 'env', '.env.playground'));
    const manifest = JSON.parse(manifestText) as Manifest;
    expect(manifest.id).toBe(env.TEAMS_APP_ID);
    expect(manifest.bots[0]!.botId).toBe(env.BOT_ID);
    expect(manifest.version).toBe(env.APP_VERSION);
    expect(manifest.name.short).toBe(`Access Packages${env.APP_NAME_SUFFIX}`);
    expect(entries[1]!.data.equals(readFileSync(path.join(APP, 'color.png')))).toBe(true);
    expect(entries[2]!.data.equals(readFileSync(path.join(APP, 'outline.png')))).toBe(true);
    // The substituted manifest is also left next to the zip, for review.
    expect(readFileSync(path.join(scratch, 'manifest.playground.json'), 'utf8')).toBe(manifestText);
  });

  it('is reproducible: the same inputs give the same bytes', async () => {
    const first = await pack.buildPackage({ env: 'prod', envDir: envDirWith(TENANT_VALUES), outDir: path.join(scratch, 'a'), processEnv: {} });
    const second = await pack.buildPackage({ env: 'prod', envDir: envDirWith(TENANT_VALUES), outDir: path.join(scratch, 'b'), processEnv: {} });
    expect(readFileSync(first.zipPath).equals(readFileSync(second.zipPath))).toBe(true);
  });

  it('fails with the list of problems and exit code 1, writing nothing, for an environment not yet provisioned', async () => {
    const failed = await execFileAsync(process.execPath, [SCRIPT, '--env', 'dev', '--out', scratch], { cwd: ROOT, env: { PATH: process.env.PATH } }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('The app package was not built:');
    expect(failed?.stderr).toContain('/id must be a GUID (TEAMS_APP_ID in env/.env.dev or env/.env.dev.user, now "")');
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('asks for an environment when none is given', async () => {
    const failed = await execFileAsync(process.execPath, [SCRIPT], { cwd: ROOT }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('choose an environment: npm run package -- --env NAME (available: dev, local, playground)');
  });
});
