import { randomUUID } from 'node:crypto';
import { type Collection, type DocumentStore, DuplicateKeyError } from '../port';

// Per-person claims: the changes that can give a person access (a submission, an admin's direct
// assignment, an extension, the last check before delivery) check separation of duties and then
// write. Two of them for one person at the same moment (two devices, two bot instances, an admin
// and the person) would each check before the other wrote. So each first claims the person: one
// document per person, created or taken over atomically on both store adapters, with a lease so
// a holder that died (kill -9) blocks nobody for longer than the lease. One claim at a time, never
// two nested, so no deadlock is possible.

/** How long a claim holds if its holder never releases it (it died or hangs). */
export const PERSON_CLAIM_LEASE_MS = 30_000;

export interface PersonClaim {
  personId: string;
  /** Unique per acquisition: only this acquisition can renew or release it. */
  owner: string;
  /** What it was taken for, for logs and for whoever finds it held. */
  purpose: string;
  leaseUntil: Date;
  /** True when it was taken over from a holder whose lease had run out. */
  takenOver: boolean;
}

interface PersonClaimDoc {
  _id: string;
  owner: string;
  purpose: string;
  leaseUntil: Date;
  acquiredAt: Date;
}

export class PersonClaimRepository {
  private readonly collection: Collection<PersonClaimDoc>;

  constructor(
    store: DocumentStore,
    private readonly now: () => Date,
    private readonly leaseMs = PERSON_CLAIM_LEASE_MS,
  ) {
    this.collection = store.collection<PersonClaimDoc>('personClaims');
  }

  async init(): Promise<void> {
    // Keyed by the person's object id (_id): nothing else is looked up.
  }

  /**
   * Claims the person once: when nobody holds them, or their holder's lease has run out.
   * Null when someone else holds them now. The first attempt is an insert (the usual case:
   * nobody holds them); a document left by a holder that died is taken over conditionally on
   * its lease having run out, so two takers never both get it.
   */
  async tryAcquire(personId: string, purpose: string): Promise<PersonClaim | null> {
    const now = this.now();
    const owner = randomUUID();
    const leaseUntil = new Date(now.getTime() + this.leaseMs);
    try {
      await this.collection.insert({ _id: personId, owner, purpose, leaseUntil, acquiredAt: now });
      return { personId, owner, purpose, leaseUntil, takenOver: false };
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
    }
    const taken = await this.collection.findOneAndUpdate({ _id: personId, leaseUntil: { $lte: now } }, { $set: { owner, purpose, leaseUntil, acquiredAt: now } });
    return taken ? { personId, owner, purpose, leaseUntil, takenOver: true } : null;
  }

  /**
   * Claims the person, waiting while someone else holds them (backing off from 5 to 100 ms, up
   * to `waitMs` of real time in all). Null when they are still held after that. Claims are held
   * for a few store and directory calls, so a wait is short unless a holder died: then the
   * lease decides.
   */
  async acquire(personId: string, purpose: string, waitMs: number): Promise<PersonClaim | null> {
    let waited = 0;
    let pause = 5;
    for (;;) {
      const claim = await this.tryAcquire(personId, purpose);
      if (claim || waited >= waitMs) return claim;
      const ms = Math.min(pause, waitMs - waited);
      // A little jitter, so two waiters don't retry in lockstep.
      await new Promise((resolve) => setTimeout(resolve, ms + Math.floor(Math.random() * 3)));
      waited += ms;
      pause = Math.min(pause * 2, 100);
    }
  }

  /**
   * Extends the lease if the claim is still this acquisition's; false when another has taken it
   * over (this holder was too slow): the holder must then not write what it checked.
   */
  async renew(claim: PersonClaim): Promise<boolean> {
    const leaseUntil = new Date(this.now().getTime() + this.leaseMs);
    const renewed = await this.collection.updateOne({ _id: claim.personId, owner: claim.owner }, { $set: { leaseUntil } });
    if (renewed === 1) claim.leaseUntil = leaseUntil;
    return renewed === 1;
  }

  /** Gives the claim back (only this acquisition's: a claim taken over stays with its new holder). */
  async release(claim: PersonClaim): Promise<void> {
    await this.collection.delete({ _id: claim.personId, owner: claim.owner });
  }

  /** Who holds the person now, if anyone (for messages and tests). */
  async holder(personId: string): Promise<{ purpose: string; leaseUntil: Date } | null> {
    const doc = await this.collection.findOne({ _id: personId });
    return doc ? { purpose: doc.purpose, leaseUntil: doc.leaseUntil } : null;
  }

  /**
   * Drops every claim. Only for a store one process owns (the embedded store): at start-up any
   * claim found there was this process's before it died. Returns how many.
   */
  async releaseAll(): Promise<number> {
    return this.collection.delete({});
  }
}
