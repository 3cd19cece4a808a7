// The list a browse without search words pages through: every visible package (not hidden,
// not disabled) in display order, with the keys of the requestors its policies admit. Read
// from the store once and kept in memory, so a page costs a filter of that list instead of
// the store matching, counting and sorting every admitted package again (about 70 ms per
// page at 5,000 packages on the embedded store: `npm run bench -- chat`, browseAll).
//
// Writes through this process's PackageRepository drop it at once; writes by another instance
// sharing the store (MongoDB) show within MAX_AGE_MS, like Entra's own catalog changes take a
// while to show. Whatever the list says, requesting re-checks the policies.

export const LISTING_MAX_AGE_MS = 60_000;

export interface ListedPackage {
  id: string;
  displayName: string;
  description: string;
  catalog: string;
  requestorKeys: readonly string[];
}

export class PackageListing {
  private cached?: { loadedAt: number; packages: ListedPackage[] };
  /** Bumped by every invalidation: a load that began before one is not kept. */
  private generation = 0;

  constructor(
    private readonly load: () => Promise<ListedPackage[]>,
    private readonly now: () => number,
  ) {}

  private async packages(): Promise<ListedPackage[]> {
    if (this.cached && this.now() - this.cached.loadedAt < LISTING_MAX_AGE_MS) return this.cached.packages;
    const generation = this.generation;
    const loadedAt = this.now();
    const packages = await this.load();
    if (generation === this.generation) this.cached = { loadedAt, packages };
    return packages;
  }

  invalidate(): void {
    this.generation++;
    this.cached = undefined;
  }

  /** One page of the packages these keys admit in these catalogs, and how many there are. */
  async page(requestorKeys: readonly string[], catalogIds: readonly string[], skip: number, limit: number): Promise<{ items: ListedPackage[]; total: number }> {
    const keys = new Set(requestorKeys);
    const catalogs = new Set(catalogIds);
    const admitted = (await this.packages()).filter((p) => catalogs.has(p.catalog) && p.requestorKeys.some((k) => keys.has(k)));
    return { items: admitted.slice(skip, skip + limit), total: admitted.length };
  }
}
