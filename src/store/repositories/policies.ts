import type { AdminOverride, Policy } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';
import type { AuditRepository, NewAuditEvent } from './audit';
import type { PackageRepository } from './packages';
import { PendingAudit, type WithPendingAudit, withoutPendingAudit } from './pendingAudit';
import { enabledIs, switchUpdate } from './switches';

// A policy id is unique only within its package, so the stored key is "<packageId>/<policyId>"
// and the document keeps the policy's own `id` as a plain field.
//
// `requestorKeys` is derived on save ("scope:allMemberUsers", "user:<id>", "group:<id>") and
// indexed, so "which enabled policies admit this user" is one indexed $in, not a scan.
//
// Each package document carries the union of its enabled policies' keys, so browsing is one
// indexed, paged query on packages. This repository is the only writer of those keys: every
// policy write refreshes its package's keys, and refreshAllPackageKeys (run by every catalog
// apply, so at every start) repairs what a crash between the two writes left behind.
type PolicyDoc = WithPendingAudit<Policy & { _id: string; requestorKeys: string[] }>;

export interface RequestorKeysInput {
  userId: string;
  isMember: boolean;
  groupIds: readonly string[];
}

export function requestorKeysOf(policy: Policy): string[] {
  const allowed = policy.allowedRequestors;
  if (allowed.scope === 'specificDirectoryUsers') {
    return [...allowed.users.map((u) => `user:${u}`), ...allowed.groups.map((g) => `group:${g}`)];
  }
  return [`scope:${allowed.scope}`];
}

/** The keys a user matches: everything a policy could name them by. */
export function keysForRequestor({ userId, isMember, groupIds }: RequestorKeysInput): string[] {
  return [
    'scope:allDirectoryUsers',
    ...(isMember ? ['scope:allMemberUsers'] : []),
    `user:${userId}`,
    ...groupIds.map((g) => `group:${g}`),
  ];
}

function keyOf(packageId: string, policyId: string): string {
  return `${packageId}/${policyId}`;
}

function fromPolicyDoc(doc: PolicyDoc): Policy {
  const { _id, requestorKeys, ...policy } = withoutPendingAudit(doc);
  return policy;
}

/** Sorted and without repeats, so two key lists compare by value. */
function keySet(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort();
}

export class PolicyRepository {
  private readonly collection: Collection<PolicyDoc>;
  private readonly pendingAudit: PendingAudit<PolicyDoc>;

  constructor(
    store: DocumentStore,
    private readonly packages: Pick<PackageRepository, 'setRequestorKeys' | 'requestorKeysById'>,
    audit: Pick<AuditRepository, 'prepare' | 'record'>,
  ) {
    this.collection = store.collection<PolicyDoc>('policies');
    this.pendingAudit = new PendingAudit(this.collection, audit);
  }

  /** Records the audit events a crash left on policies (start-up); returns how many. */
  async settlePendingAudit(): Promise<number> {
    return this.pendingAudit.settleAll();
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ name: 'packageId_1', fields: ['packageId'] });
    await this.collection.ensureIndex({ name: 'requestorKeys_1', fields: ['requestorKeys'] });
    // requestorGroupIds() runs on every browse, details and submit: without it, a scan of every policy.
    await this.collection.ensureIndex({ name: 'allowedRequestors.scope_1', fields: ['allowedRequestors.scope'] });
  }

  /** The union of the requestor keys of a package's enabled policies: what its package document carries. */
  async requestorKeysOfPackage(packageId: string): Promise<string[]> {
    const docs = await this.collection.find({ packageId, enabled: true }, { fields: ['requestorKeys'] });
    return keySet(docs.flatMap((d) => d.requestorKeys));
  }

  /**
   * Sets every package's requestor keys from its enabled policies where they differ; returns
   * how many packages it corrected. Two projected reads when nothing differs.
   */
  async refreshAllPackageKeys(): Promise<number> {
    const wanted = new Map<string, string[]>();
    for (const doc of await this.collection.find({ enabled: true }, { fields: ['packageId', 'requestorKeys'] })) {
      wanted.set(doc.packageId, [...(wanted.get(doc.packageId) ?? []), ...doc.requestorKeys]);
    }
    let corrected = 0;
    for (const [packageId, stored] of await this.packages.requestorKeysById()) {
      const keys = keySet(wanted.get(packageId) ?? []);
      if (stored && stored.length === keys.length && keySet(stored).every((k, i) => k === keys[i])) continue;
      await this.packages.setRequestorKeys(packageId, keys);
      corrected++;
    }
    return corrected;
  }

  private async refreshPackageKeys(packageId: string): Promise<void> {
    await this.packages.setRequestorKeys(packageId, await this.requestorKeysOfPackage(packageId));
  }

  /** Groups named by enabled policies: the only memberships eligibility needs to check. */
  async requestorGroupIds(): Promise<string[]> {
    const docs = await this.collection.find({ 'allowedRequestors.scope': 'specificDirectoryUsers', enabled: true });
    return [...new Set(docs.flatMap((d) => (d.allowedRequestors.scope === 'specificDirectoryUsers' ? d.allowedRequestors.groups : [])))];
  }

  async get(packageId: string, policyId: string): Promise<Policy | null> {
    const doc = await this.collection.findOne({ _id: keyOf(packageId, policyId) });
    return doc ? fromPolicyDoc(doc) : null;
  }

  /** A package's policies by id. A few per package, sorted here (no index needed for the sort). */
  async listForPackage(packageId: string): Promise<Policy[]> {
    const docs = await this.collection.find({ packageId });
    return docs.map(fromPolicyDoc).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async save(policy: Policy): Promise<void> {
    await this.collection.replace({ ...policy, _id: keyOf(policy.packageId, policy.id), requestorKeys: requestorKeysOf(policy) }, { upsert: true });
    await this.refreshPackageKeys(policy.packageId);
  }

  async setEnabled(packageId: string, policyId: string, enabled: boolean): Promise<boolean> {
    const changed = (await this.collection.updateOne({ _id: keyOf(packageId, policyId) }, { $set: { enabled } })) === 1;
    if (changed) await this.refreshPackageKeys(packageId);
    return changed;
  }

  /** An admin's enable/disable, written only while `enabled` is still `expected` (see CatalogRepository). */
  async switchEnabled(packageId: string, policyId: string, expected: boolean, enabled: boolean, override: AdminOverride | null, audit?: NewAuditEvent): Promise<boolean> {
    const changed = (await this.pendingAudit.updateOne(keyOf(packageId, policyId), enabledIs(expected), switchUpdate(enabled, override), audit)) === 1;
    if (changed) await this.refreshPackageKeys(packageId);
    return changed;
  }

  async delete(packageId: string, policyId: string): Promise<boolean> {
    const deleted = (await this.collection.delete({ _id: keyOf(packageId, policyId) })) === 1;
    if (deleted) await this.refreshPackageKeys(packageId);
    return deleted;
  }
}
