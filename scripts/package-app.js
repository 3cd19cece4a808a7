#!/usr/bin/env node
// Builds the Teams app package for one environment, as the Agents Toolkit's
// teamsApp/zipAppPackage does, but offline and with checks a person can act on:
//
//   npm run package -- --env dev          → appPackage/build/appPackage.dev.zip
//
// 1. Reads env/.env.<env>, then env/.env.<env>.user (secrets, git-ignored); a variable already
//    set in the process environment wins over both (as dotenv does), so CI can pass values.
// 2. Replaces every ${{NAME}} in appPackage/manifest.json; a name set nowhere is an error.
// 3. Validates the result against the official manifest schema bundled in
//    @microsoft/app-manifest (no network), plus what the schema cannot say (semver version,
//    a bare host name in validDomains), and checks the icons' sizes.
// 4. Writes appPackage/build/manifest.<env>.json and a zip holding exactly manifest.json and
//    the two icons. The zip is reproducible: same inputs, same bytes.
//
// Options: --env NAME (required), --out DIR (default appPackage/build).
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const ROOT = path.resolve(__dirname, '..');

class PackageError extends Error {
  constructor(problems) {
    super(problems.join('\n'));
    this.name = 'PackageError';
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------
// Environment files (the Agents Toolkit's format: NAME=value, # comments, optional quotes)

/** Parses one .env file; returns {} when it does not exist. */
function readEnvFile(file) {
  if (!fs.existsSync(file)) return {};
  const values = {};
  for (const [index, rawLine] of fs.readFileSync(file, 'utf8').split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!match) throw new PackageError([`${path.relative(ROOT, file)}:${index + 1}: expected NAME=value, got "${line}"`]);
    // As dotenv (which the toolkit uses) reads them: a quoted value is kept as written (so
    // APP_NAME_SUFFIX=" (local)" keeps its space); an unquoted one is trimmed, comment dropped.
    const quoted = /^\s*(["'])(.*)\1\s*(#.*)?$/.exec(match[2]);
    values[match[1]] = quoted ? quoted[2] : match[2].replace(/\s+#.*$/, '').trim();
  }
  return values;
}

/** The environment's values: .env.<env>, then .env.<env>.user, then the process environment. */
function loadEnvironment(envDir, env, processEnv = process.env) {
  const file = path.join(envDir, `.env.${env}`);
  if (!fs.existsSync(file)) {
    const available = listEnvironments(envDir);
    throw new PackageError([`no environment "${env}": ${path.relative(ROOT, file) || file} does not exist (available: ${available.join(', ') || 'none'})`]);
  }
  const values = { ...readEnvFile(file), ...readEnvFile(`${file}.user`) };
  for (const name of Object.keys(values)) if (processEnv[name] !== undefined) values[name] = processEnv[name];
  return { values, processEnv };
}

function listEnvironments(envDir) {
  if (!fs.existsSync(envDir)) return [];
  return fs.readdirSync(envDir).map((f) => /^\.env\.([^.]+)$/.exec(f)?.[1]).filter(Boolean).sort();
}

// ---------------------------------------------------------------------------------------
// Manifest

const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Replaces ${{NAME}} everywhere; every name must be set (to a value, possibly empty). */
function substitute(template, lookup, where) {
  const missing = new Set();
  const text = template.replace(PLACEHOLDER, (_, name) => {
    const value = lookup(name);
    if (value === undefined) {
      missing.add(name);
      return '';
    }
    // The value lands inside a JSON string.
    return JSON.stringify(value).slice(1, -1);
  });
  if (missing.size > 0) {
    throw new PackageError([...missing].map((name) => `${name} is not set: add ${name}=... to ${where}`));
  }
  return text;
}

/** The placeholder names used at a JSON pointer of the template (to say which setting is wrong). */
function placeholdersAt(template, pointer) {
  let node = template;
  for (const part of pointer.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return [];
    node = node[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'string' ? [...node.matchAll(PLACEHOLDER)].map((m) => m[1]) : [];
}

/** A development dependency, or a PackageError saying how to get it. */
function requireDevDependency(name) {
  try {
    return require(name);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
    throw new PackageError([`${name} is not installed: run npm install first (packaging needs the development dependencies)`]);
  }
}

function loadSchema(manifest) {
  // The schema that ships with @microsoft/app-manifest for this manifest version: read from
  // disk, never fetched.
  const base = path.dirname(require.resolve('@microsoft/app-manifest/package.json'));
  const file = path.join(base, 'build', 'json-schemas', 'teams', `v${manifest.manifestVersion}`, 'MicrosoftTeams.schema.json');
  if (!fs.existsSync(file)) throw new PackageError([`no bundled schema for manifestVersion ${manifest.manifestVersion} in @microsoft/app-manifest`]);
  // The toolkit does the same clean-up: some schemas carry \a and \v escapes JSON does not allow.
  return JSON.parse(fs.readFileSync(file, 'utf8').replace(/\\a/g, '\\u0007').replace(/\\v/g, '\\u000b'));
}

/** Problems with a substituted manifest: the official schema, then what it cannot express. */
async function validateManifest(manifest, template, describe) {
  const { AppManifestUtils } = requireDevDependency('@microsoft/app-manifest');
  const failures = await AppManifestUtils.validateAgainstSchema(manifest, loadSchema(manifest));
  const problems = failures.map((raw) => {
    const pointer = raw.split(' ')[0];
    // "must match pattern P. Details: {pattern: P}" says P twice; a GUID pattern is better named.
    const failure = raw.replace(/\. Details: \{"pattern":.*\}$/, '').replace(/must match pattern "\^\[0-9a-fA-F\]\{8\}-.*"$/, 'must be a GUID');
    const names = placeholdersAt(template, pointer);
    return names.length > 0 ? `${failure} (${names.map(describe).join(', ')})` : failure;
  });
  if (!/^\d+\.\d+\.\d+$/.test(String(manifest.version))) {
    problems.push(`/version must be major.minor.patch, such as 1.0.0 (${placeholdersAt(template, '/version').map(describe).join(', ') || 'in the manifest'})`);
  }
  for (const [i, domain] of (manifest.validDomains ?? []).entries()) {
    if (domain === '' || /[/:\s]/.test(domain)) {
      const names = placeholdersAt(template, `/validDomains/${i}`);
      problems.push(`/validDomains/${i} must be a host name such as bot.contoso.com, without https:// or a path (${names.map(describe).join(', ') || `got "${domain}"`})`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Icons

/** Width and height from a PNG's IHDR; throws for anything that is not a PNG. */
function pngSize(buffer, name) {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buffer.length < 24 || !buffer.subarray(0, 8).equals(signature) || buffer.toString('ascii', 12, 16) !== 'IHDR') {
    throw new PackageError([`${name} is not a PNG file`]);
  }
  return { width: buffer.readUInt32BE(16), height: buffer.readUInt32BE(20) };
}

const ICON_SIZES = { color: 192, outline: 32 };

function readIcons(manifest, appPackageDir) {
  const problems = [];
  const icons = [];
  for (const [kind, size] of Object.entries(ICON_SIZES)) {
    const name = manifest.icons?.[kind];
    const file = name && path.join(appPackageDir, name);
    if (!file || !fs.existsSync(file)) {
      problems.push(`icons.${kind}: ${name ? `${path.relative(ROOT, file)} does not exist` : 'not set'}`);
      continue;
    }
    const data = fs.readFileSync(file);
    const { width, height } = pngSize(data, name);
    if (width !== size || height !== size) problems.push(`${name} is ${width}×${height}; Teams needs ${size}×${size}`);
    icons.push({ name: path.basename(name), data });
  }
  return { icons, problems };
}

// ---------------------------------------------------------------------------------------
// Zip (PKZIP 2.0: deflate, no extras), written by hand to need no dependency

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A fixed timestamp (2025-01-01 00:00, DOS format) keeps the zip reproducible.
const DOS_TIME = 0;
const DOS_DATE = ((2025 - 1980) << 9) | (1 << 5) | 1;

/** A zip of `entries` ([{name, data}]) at the archive's root, in the order given. */
function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const compressed = zlib.deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(8, 8); // method: deflate
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, compressed);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

// ---------------------------------------------------------------------------------------

/**
 * Builds the package for `env`. Returns the paths written and the manifest; throws a
 * PackageError listing every problem (nothing is written then).
 */
async function buildPackage({ env, root = ROOT, envDir = path.join(root, 'env'), outDir = path.join(root, 'appPackage', 'build'), processEnv = process.env } = {}) {
  if (!env || !/^[A-Za-z0-9_-]+$/.test(env)) {
    throw new PackageError([`choose an environment: npm run package -- --env NAME (available: ${listEnvironments(envDir).join(', ') || 'none'})`]);
  }
  const appPackageDir = path.join(root, 'appPackage');
  const { values } = loadEnvironment(envDir, env, processEnv);
  const lookup = (name) => (name in values ? values[name] : processEnv[name]);
  const envFile = path.relative(root, path.join(envDir, `.env.${env}`)) || `.env.${env}`;
  const userFile = `${envFile}.user`;
  const describe = (name) => {
    const value = lookup(name);
    const secret = /SECRET|PASSWORD/i.test(name);
    return `${name} in ${envFile} or ${userFile}${secret ? '' : `, now "${value ?? ''}"`}`;
  };

  const templateText = fs.readFileSync(path.join(appPackageDir, 'manifest.json'), 'utf8');
  const template = JSON.parse(templateText);
  const manifestText = substitute(templateText, lookup, `${envFile} (or ${userFile} for secrets)`);
  const manifest = JSON.parse(manifestText);
  const problems = await validateManifest(manifest, template, describe);
  const { icons, problems: iconProblems } = readIcons(manifest, appPackageDir);
  problems.push(...iconProblems);
  if (problems.length > 0) throw new PackageError(problems);

  // The manifest as Teams will read it: the substituted text, without the $schema hint's edits.
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  fs.mkdirSync(outDir, { recursive: true });
  const zipPath = path.join(outDir, `appPackage.${env}.zip`);
  const manifestPath = path.join(outDir, `manifest.${env}.json`);
  fs.writeFileSync(manifestPath, manifestBytes);
  fs.writeFileSync(zipPath, zip([{ name: 'manifest.json', data: manifestBytes }, ...icons]));
  return { zipPath, manifestPath, manifest };
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    if (flag === '--env' || flag === '-e') options.env = value();
    else if (flag === '--out') options.outDir = path.resolve(value());
    else if (flag === '--help' || flag === '-h') options.help = true;
    else if (!arg.startsWith('-') && options.env === undefined) options.env = arg;
    else throw new PackageError([`unknown option ${arg} (use --env NAME and optionally --out DIR)`]);
  }
  return options;
}

async function main() {
  try {
    const options = parseArgs(process.argv.slice(2));
    if (options.help) {
      console.log(`Usage: npm run package -- --env NAME [--out DIR]\nEnvironments: ${listEnvironments(path.join(ROOT, 'env')).join(', ')}`);
      return;
    }
    const { zipPath, manifest } = await buildPackage(options);
    console.log(`${path.relative(process.cwd(), zipPath)}: manifest.json (app ${manifest.id}, bot ${manifest.bots?.[0]?.botId}, version ${manifest.version}), color.png, outline.png`);
  } catch (error) {
    if (!(error instanceof PackageError)) throw error;
    console.error(`The app package was not built:\n${error.problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();

module.exports = { buildPackage, readEnvFile, loadEnvironment, substitute, zip, crc32, pngSize, PackageError };
