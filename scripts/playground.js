#!/usr/bin/env node
// Starts the Microsoft 365 Agents Playground against the local bot, as one of the mock users of
// playground/mock-data.yml (who examples/directory.yaml knows):
//
//   npm run playground                      you are Alex Wilber, on http://localhost:56150
//   npm run playground -- --as lynne        you are Lynne Robbins, on her own port (56155)
//   npm run playground -- --as patti --port 56200 --endpoint http://127.0.0.1:3978/api/messages
//
// A Playground acts as exactly one person, so an approval needs one per person, each on its own
// port: every mock user gets a fixed one (56150 + their place in the file). The mock data is
// passed through M365_AGENTS_PLAYGROUND_CONFIG_PATH (the Playground otherwise reads
// .m365agentsplayground.yml from the current directory); its log goes to devTools/.
// Arguments after a bare `--` go to the Playground as they are (e.g. -- --dt to turn off its
// telemetry). The Playground comes from node_modules when installed, else from npx, pinned.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');

const ROOT = path.resolve(__dirname, '..');
const MOCK_DATA = path.join(ROOT, 'playground', 'mock-data.yml');
const OUT = path.join(ROOT, 'devTools');
const PLAYGROUND_PACKAGE = '@microsoft/m365agentsplayground';
// The version docs/playground.md and the README walkthrough were checked with.
const PLAYGROUND_VERSION = '0.2.28';
const FIRST_PORT = 56150;
const DEFAULT_ENDPOINT = 'http://127.0.0.1:3978/api/messages';

function fail(message) {
  console.error(message);
  process.exit(1);
}

function parseArgs(argv) {
  const options = { as: undefined, port: undefined, endpoint: DEFAULT_ENDPOINT, passThrough: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    if (flag === '--') {
      options.passThrough = argv.slice(i + 1);
      break;
    } else if (flag === '--as') options.as = value();
    else if (flag === '--port' || flag === '-p') options.port = Number(value());
    else if (flag === '--endpoint' || flag === '-e') options.endpoint = value();
    else if (flag === '--help' || flag === '-h') options.help = true;
    else if (!flag.startsWith('-') && options.as === undefined) options.as = flag;
    else fail(`unknown option ${argv[i]}; usage: npm run playground -- [--as NAME] [--port N] [--endpoint URL] [-- playground options]`);
  }
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0 && options.port < 65536)) fail('--port must be a port number such as 56150');
  return options;
}

/** Every mock user in file order: the current user first, then `users`. */
function people(config) {
  return [config.currentUser, ...config.users];
}

function matches(user, wanted) {
  const w = wanted.toLowerCase();
  return [user.givenName, user.name, user.id, user.aadObjectId, user.userPrincipleName, String(user.userPrincipleName).split('@')[0]].some(
    (v) => typeof v === 'string' && v.toLowerCase() === w,
  );
}

/** The mock data with `who` as the current user and their own personal chat. */
function mockDataAs(config, who) {
  const everyone = people(config);
  const me = everyone.find((u) => matches(u, who));
  if (!me) fail(`no mock user "${who}" in playground/mock-data.yml; choose one of: ${everyone.map((u) => u.givenName.toLowerCase()).join(', ')}`);
  const others = everyone.filter((u) => u !== me);
  return {
    config: { ...config, currentUser: me, users: others, personalChat: { ...config.personalChat, id: `${me.givenName.toLowerCase()}-personal-chat` } },
    me,
    port: FIRST_PORT + everyone.indexOf(me),
  };
}

/**
 * A local install when there is one (a devDependency, or devTools/playground where the Agents
 * Toolkit's devTool/install puts it), else npx with the pinned version.
 */
function playgroundCommand() {
  try {
    const cli = require.resolve(`${PLAYGROUND_PACKAGE}/cli.js`, { paths: [ROOT, path.join(OUT, 'playground')] });
    return { command: process.execPath, args: [cli] };
  } catch {
    return { command: process.platform === 'win32' ? 'npx.cmd' : 'npx', args: ['--yes', `${PLAYGROUND_PACKAGE}@${PLAYGROUND_VERSION}`], shell: process.platform === 'win32' };
  }
}

async function botAnswers(endpoint) {
  try {
    const response = await fetch(new URL('/healthz', endpoint), { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const base = YAML.parse(fs.readFileSync(MOCK_DATA, 'utf8'));
  if (options.help) {
    console.log('Usage: npm run playground -- [--as NAME] [--port N] [--endpoint URL] [-- playground options]');
    console.log(`Mock users: ${people(base).map((u, i) => `${u.givenName.toLowerCase()} (${u.name}, port ${FIRST_PORT + i})`).join(', ')}`);
    return;
  }
  const { config, me, port: ownPort } = mockDataAs(base, options.as ?? base.currentUser.givenName);
  const port = options.port ?? ownPort;
  const name = me.givenName.toLowerCase();

  fs.mkdirSync(OUT, { recursive: true });
  const configPath = path.join(OUT, `mock-data.${name}.yml`);
  fs.writeFileSync(configPath, `# Written by scripts/playground.js from playground/mock-data.yml: edit that file instead.\n${YAML.stringify(config)}`);

  const up = await botAnswers(options.endpoint);
  console.log(`Agents Playground as ${me.name}: http://localhost:${port}`);
  console.log(`  bot:       ${options.endpoint}${up ? '' : '  (not answering yet: start it in another terminal with `npm start`)'}`);
  console.log(`  mock data: ${path.relative(process.cwd(), configPath)}`);

  const { command, args, shell } = playgroundCommand();
  // Its own process group (POSIX), so a stop reaches npx's child too and nothing is left listening.
  const group = process.platform !== 'win32';
  const child = spawn(command, [...args, '--port', String(port), '--app-endpoint', options.endpoint, ...options.passThrough], {
    cwd: ROOT,
    stdio: 'inherit',
    shell: Boolean(shell),
    detached: group,
    env: {
      ...process.env,
      M365_AGENTS_PLAYGROUND_CONFIG_PATH: configPath,
      M365_AGENTS_PLAYGROUND_LOGFILE: process.env.M365_AGENTS_PLAYGROUND_LOGFILE ?? path.join(OUT, `playground.${name}.log`),
    },
  });
  const stop = (signal) => {
    try {
      if (group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stop(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  child.on('error', (error) => fail(`could not start the Agents Playground: ${error.message}`));
}

if (require.main === module) void main();

module.exports = { mockDataAs, parseArgs, people, FIRST_PORT };
