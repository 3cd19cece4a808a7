import type { Policy } from '../../domain/model';
import type { Collection, DocumentStore } from '../port';

// A policy id is unique only within its package, so the stored key is "<packageId>/<policyId>"
// and the document keeps the policy's own `id` as a plain field.
type PolicyDoc = Policy & { _id: string };

function keyOf(packageId: string, policyId: string): string {
  return `${packageId}/${policyId}`;
}

function fromPolicyDoc(doc: PolicyDoc): Policy {
  const { _id, ...policy } = doc;
  return policy;
}

export class PolicyRepository {
  private readonly collection: Collection<PolicyDoc>;

  constructor(store: DocumentStore) {
    this.collection = store.collection<PolicyDoc>('policies');
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ fields: ['packageId'] });
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
    await this.collection.replace({ ...policy, _id: keyOf(policy.packageId, policy.id) }, { upsert: true });
  }

  async setEnabled(packageId: string, policyId: string, enabled: boolean): Promise<boolean> {
    return (await this.collection.updateOne({ _id: keyOf(packageId, policyId) }, { $set: { enabled } })) === 1;
  }

  async delete(packageId: string, policyId: string): Promise<boolean> {
    return (await this.collection.delete({ _id: keyOf(packageId, policyId) })) === 1;
  }
}
