// Runs the MongoDB wire double (../shared/mongo-wire, a test double, not MongoDB) for one test
// process: prints its URI, then takes commands on stdin, one per line, answering "ok" (or
// "error <reason>") per line on stdout. Exits when stdin closes, so it never outlives the test
// process that started it (test/support/mongoWire.ts), even one killed with -9.
//
//   pause                              hold every reply (a stalled server) until "release"
//   release
//   pause-after <command> <collection> hold every reply after the next such command is answered
//   drop-connections                   a network blip
//   stats                              "ok" and the count of each command answered so far, as JSON
//
// Options: --replset NAME (a one-member replica set), --cosmos-ru (Azure Cosmos DB RU rules).
// Run from the project's root, so the double finds bson in its node_modules.
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { replset: { type: 'string' }, 'cosmos-ru': { type: 'boolean' }, double: { type: 'string' } } });
const doublePath = values.double ?? path.resolve(here, '..', '..', '..', 'shared', 'mongo-wire', 'index.mjs');
const { startMongoFake } = await import(doublePath);
const fake = await startMongoFake({ replicaSet: values.replset, cosmosRU: values['cosmos-ru'] ?? false });

let release = null;
let trigger = null;
fake.onCommand(({ name, command }) => {
  if (!trigger || name !== trigger.command || command[name] !== trigger.collection) return;
  trigger = null;
  // This command's reply still goes out (it is being answered); everything after it waits.
  release ??= fake.pause();
});

const answer = (line) => process.stdout.write(`${line}\n`);
answer(fake.uri);

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [verb, ...args] = line.trim().split(/\s+/);
  if (verb === 'pause') release ??= fake.pause();
  else if (verb === 'release') {
    trigger = null;
    release?.();
    release = null;
  } else if (verb === 'pause-after' && args.length === 2) trigger = { command: args[0], collection: args[1] };
  else if (verb === 'drop-connections') fake.dropConnections();
  else if (verb === 'stats') return answer(`ok ${JSON.stringify(fake.stats().commands)}`);
  else return answer(`error unknown command: ${line}`);
  answer('ok');
});
lines.on('close', async () => {
  release?.();
  await fake.stop();
  process.exit(0);
});
