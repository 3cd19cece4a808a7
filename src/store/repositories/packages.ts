import type { AccessPackage, AdminOverride } from '../../domain/model';
import type { Collection, DocumentStore, Filter } from '../port';
import type { AuditRepository, NewAuditEvent } from './audit';
import { enabledIs, switchUpdate } from './switches';
import { type Doc, toDoc } from './documents';
import { PackageListing } from './packageListing';
import { PendingAudit, type WithPendingAudit, withoutPendingAudit } from './pendingAudit';

// `searchTerms` is derived on save: every word of the name and description and its prefixes,
// lower-cased. An indexed equality on it finds "acc" in "Accounting" without
// scanning the catalog.
//
// `requestorKeys` is the union of the requestor keys of the package's enabled policies
// (see policies.ts), kept here by PolicyRepository so that browsing is one indexed, sorted,
// paged query instead of "which packages admit me" followed by an $in of thousands of ids.
type PackageDoc = WithPendingAudit<Doc<AccessPackage> & { searchTerms: string[]; requestorKeys?: string[] }>;

const MAX_TERM_LENGTH = 20;

export function searchWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

export function searchTermsOf(accessPackage: Pick<AccessPackage, 'id' | 'displayName' | 'description'>): string[] {
  const terms = new Set<string>();
  for (const word of searchWords(`${accessPackage.displayName} ${accessPackage.description} ${accessPackage.id}`)) {
    for (let length = 1; length <= Math.min(word.length, MAX_TERM_LENGTH); length++) terms.add(word.slice(0, length));
  }
  return [...terms];
}

function fromPackageDoc(doc: PackageDoc): AccessPackage {
  const { _id, searchTerms, requestorKeys, ...rest } = withoutPendingAudit(doc);
  return { id: _id, ...rest } as AccessPackage;
}

/** What a list of packages shows of each. */
export type PackageSummaryFields = Pick<AccessPackage, 'id' | 'displayName' | 'description'>;

export interface PackageSearch {
  /** Only packages with an enabled policy naming one of these keys (keysForRequestor: the ones the user may request). */
  requestorKeys: string[];
  /** Only packages of these catalogs. */
  catalogIds: string[];
  text?: string;
  skip: number;
  limit: number;
}

export class PackageRepository {
  private readonly collection: Collection<PackageDoc>;
  private readonly pendingAudit: PendingAudit<PackageDoc>;
  private readonly listing: PackageListing;

  constructor(store: DocumentStore, audit: Pick<AuditRepository, 'prepare' | 'record'>, now: () => Date) {
    this.collection = store.collection<PackageDoc>('accessPackages');
    this.pendingAudit = new PendingAudit(this.collection, audit);
    this.listing = new PackageListing(() => this.loadListing(), () => now().getTime());
  }

  private async loadListing() {
    const docs = await this.collection.find({ hidden: false, ...enabledIs(true) }, { sort: { displayName: 1, _id: 1 }, fields: ['displayName', 'description', 'catalog', 'requestorKeys'] });
    return docs.map((d) => ({ id: d._id, displayName: d.displayName, description: d.description, catalog: d.catalog, requestorKeys: d.requestorKeys ?? [] }));
  }

  /** Records the audit events a crash left on packages (start-up); returns how many. */
  async settlePendingAudit(): Promise<number> {
    return this.pendingAudit.settleAll();
  }

  async init(): Promise<void> {
    await this.collection.ensureIndex({ name: 'catalog_1', fields: ['catalog'] });
    await this.collection.ensureIndex({ name: 'searchTerms_1', fields: ['searchTerms'] });
    await this.collection.ensureIndex({ name: 'requestorKeys_1', fields: ['requestorKeys'] });
    // Every package list is in display order (name, then id for equal names): on MongoDB read
    // in this index's order; Azure Cosmos DB RU refuses the sort without it.
    await this.collection.ensureIndex({ name: 'displayName_1__id_1', fields: ['displayName', '_id'], only: 'mongodb' });
  }

  async get(id: string): Promise<AccessPackage | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromPackageDoc(doc) : null;
  }

  /**
   * Visible (not hidden, not disabled) packages the keys admit, matching every word of `text`,
   * a page at a time. Without words, a page of the in-memory listing (see packageListing.ts).
   */
  async search(query: PackageSearch): Promise<{ items: PackageSummaryFields[]; total: number }> {
    const words = searchWords(query.text ?? '').map((w) => w.slice(0, MAX_TERM_LENGTH));
    if (words.length > 0) return this.searchText(query, words);
    const { items, total } = await this.listing.page(query.requestorKeys, query.catalogIds, query.skip, query.limit);
    return { items: items.map(({ id, displayName, description }) => ({ id, displayName, description })), total };
  }

  /**
   * With search words: the first word is a top-level equality, so the embedded store reads
   * its searchTerms index entry (the packages with that word) rather than every admitted
   * package. Costs what the first word matches, paged in memory.
   */
  private async searchText(query: PackageSearch, words: string[]): Promise<{ items: PackageSummaryFields[]; total: number }> {
    const filter: Filter = {
      hidden: false,
      catalog: { $in: query.catalogIds },
      searchTerms: words[0],
      $and: [...words.slice(1).map((w) => ({ searchTerms: w })), { requestorKeys: { $in: query.requestorKeys } }, enabledIs(true)],
    };
    const docs = await this.collection.find(filter, { sort: { displayName: 1, _id: 1 } });
    return { items: docs.slice(query.skip, query.skip + query.limit).map(fromPackageDoc), total: docs.length };
  }

  async getMany(ids: string[]): Promise<AccessPackage[]> {
    if (ids.length === 0) return [];
    return (await this.collection.find({ _id: { $in: ids } }, { sort: { displayName: 1, _id: 1 } })).map(fromPackageDoc);
  }

  async list(): Promise<AccessPackage[]> {
    return (await this.collection.find({}, { sort: { displayName: 1, _id: 1 } })).map(fromPackageDoc);
  }

  async listByCatalog(catalogId: string): Promise<AccessPackage[]> {
    return (await this.collection.find({ catalog: catalogId }, { sort: { displayName: 1, _id: 1 } })).map(fromPackageDoc);
  }

  /** Packages that name `packageId` among their incompatible packages (SoD checked both ways). */
  async listIncompatibleWith(packageId: string): Promise<AccessPackage[]> {
    return (await this.collection.find({ incompatibleAccessPackages: packageId })).map(fromPackageDoc);
  }

  /** Stores the package as given; its requestor keys (derived from its policies) are kept. */
  async save(accessPackage: AccessPackage): Promise<void> {
    const existing = await this.collection.find({ _id: accessPackage.id }, { fields: ['requestorKeys'] });
    const requestorKeys = existing[0]?.requestorKeys ?? [];
    await this.collection.replace({ ...toDoc(accessPackage), searchTerms: searchTermsOf(accessPackage), requestorKeys }, { upsert: true });
    this.listing.invalidate();
  }

  /** Sets the keys that admit requestors to this package (PolicyRepository derives them). */
  async setRequestorKeys(id: string, requestorKeys: string[]): Promise<void> {
    await this.collection.updateOne({ _id: id }, { $set: { requestorKeys } });
    this.listing.invalidate();
  }

  /** Every package's stored requestor keys (absent for packages stored before they existed). */
  async requestorKeysById(): Promise<Map<string, string[] | undefined>> {
    const docs = await this.collection.find({}, { fields: ['requestorKeys'] });
    return new Map(docs.map((d) => [d._id, d.requestorKeys]));
  }

  async delete(id: string): Promise<boolean> {
    const deleted = (await this.collection.delete({ _id: id })) === 1;
    this.listing.invalidate();
    return deleted;
  }

  /**
   * An admin's enable/disable: written only while `enabled` is still `expected`, so two admins
   * switching at once change it once. `override` null clears a recorded override. `audit` is
   * recorded with the change (see pendingAudit.ts).
   */
  async switchEnabled(id: string, expected: boolean, enabled: boolean, override: AdminOverride | null, audit?: NewAuditEvent): Promise<boolean> {
    const changed = (await this.pendingAudit.updateOne(id, enabledIs(expected), switchUpdate(enabled, override), audit)) === 1;
    this.listing.invalidate();
    return changed;
  }
}
