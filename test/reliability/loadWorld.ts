// The world of the flood-and-revoke and takeover tests (issue 14): packages that need no
// approval (one group each) for a user who floods requests, a "Kept team" package that other
// users hold (to give back, or to let expire), and people to send a backlog of notices to.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const FLOODER = 'u-flooder';
export const KEPT_GROUP = 'g-kept';
export const room = (k: number) => `g-room-${k}`;

export function writeLoadWorld(dir: string, options: { rooms: number; holders: string[] }): { catalogFile: string; directoryFile: string } {
  const catalogFile = path.join(dir, 'catalog.yaml');
  const directoryFile = path.join(dir, 'directory.yaml');
  const rooms = Array.from({ length: options.rooms }, (_, i) => i + 1);
  writeFileSync(
    catalogFile,
    [
      'catalogs:',
      '  - id: load',
      '    displayName: Load',
      '    resources:',
      `      - { id: kept, type: group, originId: ${KEPT_GROUP}, displayName: Kept team }`,
      ...rooms.map((k) => `      - { id: room-${k}, type: group, originId: ${room(k)}, displayName: Room ${k} }`),
      'accessPackages:',
      '  - id: keep',
      '    catalog: load',
      '    displayName: Kept team',
      '    resourceRoles: [{ resource: kept, role: member }]',
      '    policies:',
      '      - { id: all, displayName: Everyone, allowedRequestors: { scope: allMemberUsers } }',
      ...rooms.flatMap((k) => [
        `  - id: room-${k}`,
        '    catalog: load',
        `    displayName: Room ${k}`,
        `    resourceRoles: [{ resource: room-${k}, role: member }]`,
        '    policies:',
        '      - { id: all, displayName: Everyone, allowedRequestors: { scope: allMemberUsers } }',
      ]),
      '',
    ].join('\n'),
  );
  const people = [FLOODER, ...options.holders];
  writeFileSync(
    directoryFile,
    [
      'users:',
      ...people.map((id) => `  - { id: ${id}, displayName: User ${id}, userPrincipalName: ${id}@example.com }`),
      'groups:',
      `  - { id: ${KEPT_GROUP}, displayName: Kept team, members: [${options.holders.join(', ')}] }`,
      ...rooms.map((k) => `  - { id: ${room(k)}, displayName: Room ${k}, members: [] }`),
      'servicePrincipals: []',
      '',
    ].join('\n'),
  );
  return { catalogFile, directoryFile };
}
