// The reliability suite's world: a small catalog and a directory of many requesters, written
// to a temp dir so the built bot can run on them. Two packages share one app role, so the
// ledger's "held by several assignments" rule is exercised by every user who has both.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const TENANT = '00000000-0000-0000-0000-0000000000001';
export const APPROVER = 'u-approver';
export const ADMIN = 'u-admin';
export const BOT = { id: '28:bot', name: 'Access Packages' };

export const userId = (i: number) => `r-${String(i).padStart(3, '0')}`;

/** Users whose access to Team A and the app role existed before the bot (pre-existing rows). */
export const PRE_EXISTING = 3;

export function writeWorld(dir: string, users: number): { catalogFile: string; directoryFile: string } {
  const catalogFile = path.join(dir, 'catalog.yaml');
  const directoryFile = path.join(dir, 'directory.yaml');
  writeFileSync(
    catalogFile,
    `catalogs:
  - id: rel
    displayName: Reliability
    resources:
      - { id: team-a, type: group, originId: g-a, displayName: Team A }
      - { id: team-b, type: group, originId: g-b, displayName: Team B }
      - id: app
        type: application
        originId: sp-app
        displayName: App
        roles: [{ id: role-user, displayName: User }]
accessPackages:
  - id: auto
    catalog: rel
    displayName: Auto
    resourceRoles: [{ resource: team-a, role: member }, { resource: app, role: User }]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
  - id: approved
    catalog: rel
    displayName: Approved
    resourceRoles: [{ resource: team-b, role: member }, { resource: app, role: User }]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
        approval:
          required: true
          stages:
            - approvers: [{ user: ${APPROVER} }]
`,
  );
  const people = [APPROVER, ADMIN, ...Array.from({ length: users }, (_, i) => userId(i + 1))];
  const pre = Array.from({ length: PRE_EXISTING }, (_, i) => userId(i + 1));
  writeFileSync(
    directoryFile,
    `users:
${people.map((id) => `  - { id: ${id}, displayName: User ${id}, userPrincipalName: ${id}@example.com }`).join('\n')}
groups:
  - { id: g-a, displayName: Team A, members: [${pre.join(', ')}] }
  - { id: g-b, displayName: Team B, members: [] }
servicePrincipals:
  - id: sp-app
    displayName: App
    appRoles: [{ id: role-user, displayName: User, value: App.User }]
    appRoleAssignments:
${pre.map((id) => `      - { principalId: ${id}, appRoleId: role-user }`).join('\n')}
`,
  );
  return { catalogFile, directoryFile };
}

/** A small seeded generator (mulberry32): the seed is printed, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFromEnv(): number {
  const raw = process.env.RELIABILITY_SEED;
  return raw && /^\d+$/.test(raw) ? Number(raw) : Math.floor(Math.random() * 2 ** 31);
}

/** Every object in a card with `verb` = `verb`: its data (Action.Execute data or Submit data). */
export function actionsIn(card: unknown, verb: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.verb === verb && o.data && typeof o.data === 'object') found.push(o.data as Record<string, unknown>);
      Object.values(o).forEach(walk);
    }
  };
  walk(card);
  return found;
}
