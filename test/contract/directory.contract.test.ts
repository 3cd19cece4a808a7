// Runs the shared directory contract on both adapters: the local directory (YAML) and the Graph
// directory through the real graph-client SDK and ClientSecretCredential, against the in-memory
// Graph seeded from the same examples/directory.yaml.

import path from 'node:path';
import { Secret } from '../../src/config';
import { type DirectoryFile, loadDirectoryFile } from '../../src/directory/directoryFile';
import { GraphDirectory } from '../../src/directory/graphDirectory';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { FakeDirectory, InMemoryGraph, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TEST_TENANT_ID } from '../support/inMemoryGraph';
import { describeDirectoryContract } from './directoryContract';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'directory.yaml');

describeDirectoryContract('local directory', () => LocalDirectory.open({ file: EXAMPLE }));

// Graph: a national-cloud-style endpoint, so customHosts and AZURE_AUTHORITY_HOST are in play.
const graphEndpoint = 'https://graph.contract.test';
const authorityHost = 'https://login.contract.test';
let file: DirectoryFile;
const graph = new InMemoryGraph(new FakeDirectory(), { graphEndpoint, authorityHost });
beforeAll(async () => {
  file = await loadDirectoryFile(EXAMPLE);
  graph.listen();
});
afterAll(() => graph.close());

// One directory (one credential, one cached token) for the whole run; the state is reset per test.
let directory: GraphDirectory | undefined;
describeDirectoryContract('Graph directory (graph-client SDK against the in-memory Graph)', async () => {
  graph.reset(FakeDirectory.fromFile(file));
  directory ??= GraphDirectory.fromConfig({
    auth: { kind: 'clientSecret', tenantId: TEST_TENANT_ID, clientId: TEST_CLIENT_ID, clientSecret: new Secret(TEST_CLIENT_SECRET) },
    endpoint: graphEndpoint,
    authorityHost,
  });
  return directory;
});
