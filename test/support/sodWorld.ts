import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyCatalog } from '../../src/catalog/applyCatalog';
import { formatCatalogError, loadCatalogFile } from '../../src/catalog/catalogFile';
import type { DirectoryUser } from '../../src/directory/port';
import { loadDirectoryFile } from '../../src/directory/directoryFile';
import { LocalDirectory } from '../../src/directory/localDirectory';
import type { Repositories } from '../../src/store/repositories';

// A small world for separation-of-duties and checked-again tests (bot and e2e):
//   ledger    gives group g-ledger; only the finance group (g-finance) may request it; Nadia
//             approves; incompatible with membership of g-exec (Executives), however it came;
//             extensions need approval. Admins can assign it through "direct" (admin-only).
//   payments  gives group g-payments; everyone; Nadia approves; lists ledger as incompatible.
//   audit     gives g-audit; everyone; no approval; requesters may choose their dates.
// People: Fred (in g-finance), Lola (in g-finance), Nadia (approver), Ivan (admin), Victor (in g-exec).
export const SOD_PEOPLE = {
  fred: { aadObjectId: 'u-fred', name: 'Fred Jansen' },
  lola: { aadObjectId: 'u-lola', name: 'Lola Martin' },
  nadia: { aadObjectId: 'u-nadia', name: 'Nadia Okafor' },
  ivan: { aadObjectId: 'u-ivan', name: 'Ivan Petrov' },
  victor: { aadObjectId: 'u-victor', name: 'Victor Hale' },
} as const;

export function writeSodWorld(dir = mkdtempSync(path.join(os.tmpdir(), 'sod-world-'))): { dir: string; catalogFile: string; directoryFile: string } {
  const catalogFile = path.join(dir, 'catalog.yaml');
  const directoryFile = path.join(dir, 'directory.yaml');
  writeFileSync(
    catalogFile,
    `catalogs:
  - id: sod
    displayName: Finance duties
    resources:
      - { id: ledger-team, type: group, originId: g-ledger, displayName: Ledger }
      - { id: payments-team, type: group, originId: g-payments, displayName: Payments }
      - { id: audit-team, type: group, originId: g-audit, displayName: Audit }
accessPackages:
  - id: ledger
    catalog: sod
    displayName: Ledger
    resourceRoles: [{ resource: ledger-team, role: member }]
    incompatibleGroups: [g-exec]
    policies:
      - id: finance
        displayName: Finance team
        allowedRequestors: { scope: specificDirectoryUsers, groups: [g-finance] }
        approval:
          required: true
          stages:
            - approvers: [{ user: u-nadia }]
        lifecycle:
          expiration: { type: afterDuration, duration: P30D }
          extension: { allowed: true, requiresApproval: true }
      - id: direct
        displayName: Direct assignment
        allowedRequestors: { scope: notSpecified }
  - id: payments
    catalog: sod
    displayName: Payments
    resourceRoles: [{ resource: payments-team, role: member }]
    incompatibleAccessPackages: [ledger]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
        approval:
          required: true
          stages:
            - approvers: [{ user: u-nadia }]
  - id: audit
    catalog: sod
    displayName: Audit
    resourceRoles: [{ resource: audit-team, role: member }]
    incompatibleGroups: [g-exec]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
        lifecycle:
          expiration: { type: afterDuration, duration: P30D }
          requestorCanChooseSchedule: true
`,
  );
  writeFileSync(
    directoryFile,
    `users:
  - { id: u-fred, displayName: Fred Jansen, userPrincipalName: fredj@example.com, jobTitle: Accountant, department: Finance }
  - { id: u-lola, displayName: Lola Martin, userPrincipalName: lolam@example.com }
  - { id: u-nadia, displayName: Nadia Okafor, userPrincipalName: nadiao@example.com }
  - { id: u-ivan, displayName: Ivan Petrov, userPrincipalName: ivanp@example.com }
  - { id: u-victor, displayName: Victor Hale, userPrincipalName: victorh@example.com }
groups:
  - { id: g-finance, displayName: Finance, members: [u-fred, u-lola] }
  - { id: g-exec, displayName: Executives, members: [u-victor] }
  - { id: g-ledger, displayName: Ledger, members: [] }
  - { id: g-payments, displayName: Payments, members: [] }
  - { id: g-audit, displayName: Audit, members: [] }
`,
  );
  return { dir, catalogFile, directoryFile };
}

export async function applySodCatalog(catalogFile: string, repositories: Repositories): Promise<void> {
  const catalog = await loadCatalogFile(catalogFile);
  if (!catalog.ok) throw new Error(`sod catalog invalid: ${catalog.errors.map(formatCatalogError).join('; ')}`);
  await applyCatalog(catalog.catalog, repositories);
}

/**
 * The world's local directory, plus what Entra admins do outside the bot that the file can't
 * express at run time: disabling an account.
 */
export class SodDirectory extends LocalDirectory {
  private readonly disabled = new Set<string>();

  static async load(file: string): Promise<SodDirectory> {
    return new SodDirectory(await loadDirectoryFile(file));
  }

  disableAccount(userId: string): void {
    this.disabled.add(userId);
  }

  override async getUser(idOrUpn: string): Promise<DirectoryUser | null> {
    const user = await super.getUser(idOrUpn);
    return user && this.disabled.has(user.id) ? { ...user, accountEnabled: false } : user;
  }
}
