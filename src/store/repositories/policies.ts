import type { AdminOverride, Policy } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';
import { enabledIs, switchUpdate } from './switches';

// A policy id is unique only within its package, so the stored key is "<packageId>/<policyId>"
// and the document keeps the policy's own `id` as a plain field.
//
// `requestorKeys` is derived on save ("scope:allMemberUsers", "user:<id>", "group:<id>") and
// indexed, so "which enabled policies admit this user" is one indexed $in, not a scan.
type PolicyDoc = Policy & { _id: string; requestorKeys: string[] };

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
  const { _id, requestorKeys, ...policy } = doc;
  return policy;
}

export class PolicyRepository {
  private readonly collection: Collection<PolicyDoc>;

  constructor(store: DocumentStore) {
    this.collection = store.collection<PolicyDoc>('policies');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['packageId'] });
    await this.collection.ensureIndex({ fields: ['requestorKeys'] });
    // requestorGroupIds() runs on every browse, details and submit: without it, a scan of every policy.
    await this.collection.ensureIndex({ fields: ['allowedRequestors.scope'] });
  }

  /**
   * The packages of the enabled policies that admit these keys: what browsing needs. Only
   * packageId is read, so a catalog of thousands of policies isn't copied whole per browse.
   */
  async packageIdsAdmitting(keys: string[]): Promise<string[]> {
    const docs = await this.collection.find({ requestorKeys: { $in: keys }, enabled: true }, { fields: ['packageId'] });
    return [...new Set(docs.map((d) => d.packageId))];
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

  async listForPackage(packageId: string): Promise<Policy[]> {
    const docs = await this.collection.find({ packageId }, { sort: { id: 1 } });
    return docs.map(fromPolicyDoc);
  }

  async save(policy: Policy): Promise<void> {
    await this.collection.replace({ ...policy, _id: keyOf(policy.packageId, policy.id), requestorKeys: requestorKeysOf(policy) }, { upsert: true });
  }

  async setEnabled(packageId: string, policyId: string, enabled: boolean): Promise<boolean> {
    return (await this.collection.updateOne({ _id: keyOf(packageId, policyId) }, { $set: { enabled } })) === 1;
  }

  /** An admin's enable/disable, written only while `enabled` is still `expected` (see CatalogRepository). */
  async switchEnabled(packageId: string, policyId: string, expected: boolean, enabled: boolean, override: AdminOverride | null): Promise<boolean> {
    return (await this.collection.updateOne({ _id: keyOf(packageId, policyId), ...enabledIs(expected) }, switchUpdate(enabled, override))) === 1;
  }

  async delete(packageId: string, policyId: string): Promise<boolean> {
    return (await this.collection.delete({ _id: keyOf(packageId, policyId) })) === 1;
  }
}
