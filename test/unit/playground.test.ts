// `npm run playground` (scripts/playground.js) and its mock data (playground/mock-data.yml): the
// Playground's users are the example directory's, each reachable by id, and acting as another
// person swaps who the current user is without changing anyone.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadDirectoryFile, type DirectoryFile } from '../../src/directory/directoryFile';

const ROOT = path.join(__dirname, '..', '..');

interface MockUser {
  id: string;
  name: string;
  userPrincipleName: string;
  aadObjectId: string;
  givenName: string;
  surname: string;
  email: string;
}

interface MockData {
  tenantId: string;
  currentUser: MockUser;
  users: MockUser[];
  personalChat: { id: string };
  groupChat: { id: string };
  team: { id: string; aadGroupId: string; channels: Array<{ id: string }> };
}

/* eslint-disable @typescript-eslint/no-require-imports */
const playground = require(path.join(ROOT, 'scripts', 'playground.js')) as {
  mockDataAs(config: MockData, who: string): { config: MockData; me: MockUser; port: number };
  parseArgs(argv: string[]): { as?: string; port?: number; endpoint: string; passThrough: string[] };
  people(config: MockData): MockUser[];
  FIRST_PORT: number;
};
/* eslint-enable @typescript-eslint/no-require-imports */

const MOCK = parse(readFileSync(path.join(ROOT, 'playground', 'mock-data.yml'), 'utf8')) as MockData;
let directory: DirectoryFile;

beforeAll(async () => {
  directory = await loadDirectoryFile(path.join(ROOT, 'examples', 'directory.yaml'));
});

describe('playground/mock-data.yml', () => {
  it('has the current user and exactly five others, as the Playground requires', () => {
    expect(MOCK.users).toHaveLength(5);
    const ids = playground.people(MOCK).map((u) => u.id);
    expect(new Set(ids).size).toBe(6);
  });

  it('every mock user is a user of examples/directory.yaml with the same name, UPN and mail', () => {
    for (const user of playground.people(MOCK)) {
      const known = directory.users.find((u) => u.id === user.aadObjectId);
      expect({ user: user.name, known: known && { displayName: known.displayName, userPrincipalName: known.userPrincipalName, mail: known.mail } }).toEqual({
        user: user.name,
        known: { displayName: user.name, userPrincipalName: user.userPrincipleName, mail: user.email },
      });
      expect(user.name).toBe(`${user.givenName} ${user.surname}`);
    }
  });

  it("each user's id is their aadObjectId, so chats the bot opens by object id reach them", () => {
    for (const user of playground.people(MOCK)) expect(user.id).toBe(user.aadObjectId);
  });

  it("the Playground team is the directory's group of that aadGroupId", () => {
    expect(directory.groups.some((g) => g.id === MOCK.team.aadGroupId)).toBe(true);
  });
});

describe('acting as someone else', () => {
  it('defaults to the file as it is: Alex Wilber on the Playground port', () => {
    const { config, me, port } = playground.mockDataAs(MOCK, 'alex');
    expect(me.name).toBe('Alex Wilber');
    expect(port).toBe(56150);
    expect(config.personalChat.id).toBe('alex-personal-chat');
    expect(config.users).toEqual(MOCK.users);
  });

  it('swaps the current user, keeps everyone, and gives each person their own chat and port', () => {
    const { config, me, port } = playground.mockDataAs(MOCK, 'Lynne');
    expect(me.name).toBe('Lynne Robbins');
    expect(config.currentUser).toEqual(me);
    expect(config.users).toHaveLength(5);
    expect(config.users.map((u) => u.name)).not.toContain('Lynne Robbins');
    expect(config.users.map((u) => u.name)).toContain('Alex Wilber');
    expect(config.personalChat.id).toBe('lynne-personal-chat');
    expect(port).toBe(playground.FIRST_PORT + 5);
    // The rest of the file is untouched.
    expect(config.team).toEqual(MOCK.team);
    expect(config.tenantId).toBe(MOCK.tenantId);

    const ports = playground.people(MOCK).map((u) => playground.mockDataAs(MOCK, u.givenName).port);
    expect(new Set(ports).size).toBe(6);
  });

  it('finds people by first name, full name, UPN or object id', () => {
    for (const who of ['patti', 'Patti Fernandez', 'pattif@example.com', 'pattif', '00000000-0000-0000-0000-0000000000024']) {
      expect(playground.mockDataAs(MOCK, who).me.name).toBe('Patti Fernandez');
    }
  });

  it('reads its options, passing what follows a bare -- to the Playground', () => {
    expect(playground.parseArgs([])).toEqual({ as: undefined, port: undefined, endpoint: 'http://127.0.0.1:3978/api/messages', passThrough: [] });
    expect(playground.parseArgs(['--as', 'lynne', '--port=56200', '--', '--dt'])).toEqual({ as: 'lynne', port: 56200, endpoint: 'http://127.0.0.1:3978/api/messages', passThrough: ['--dt'] });
    expect(playground.parseArgs(['patti', '-e', 'http://127.0.0.1:4000/api/messages'])).toMatchObject({ as: 'patti', endpoint: 'http://127.0.0.1:4000/api/messages' });
  });
});
