import { type AccessRequest, FINAL_REQUEST_STATES, type RequestState, type RequestType } from '../../domain/model';
import { type Collection, type DocumentStore, DuplicateKeyError, type Filter, type Update } from '../port';
import type { AuditRepository, NewAuditEvent } from './audit';
import { type Doc, fromDoc, toDoc } from './documents';
import { PendingAudit, type WithPendingAudit, withoutPendingAudit } from './pendingAudit';

export const OPEN_REQUEST_STATES: readonly RequestState[] = ['pendingApproval', 'scheduled', 'delivering'];

// `openKey` exists only while a request is open, under a unique index: two submissions for the
// same user, package and kind (a double click, two devices) can't both be open. It is removed
// by the transition that closes the request.
type RequestDoc = WithPendingAudit<Doc<AccessRequest> & { openKey?: string }>;

function openKeyOf(request: Pick<AccessRequest, 'type' | 'targetUserId' | 'packageId'>): string {
  const kind = request.type === 'add' || request.type === 'adminAdd' ? 'add' : request.type === 'extend' ? 'extend' : 'remove';
  return `${request.targetUserId}|${request.packageId}|${kind}`;
}

function fromRequestDoc(doc: RequestDoc): AccessRequest {
  const { openKey, ...rest } = withoutPendingAudit(doc);
  return fromDoc<AccessRequest>(rest);
}

export class AlreadyOpenError extends Error {
  constructor(readonly openKey: string) {
    super(`an open request already exists for ${openKey}`);
    this.name = 'AlreadyOpenError';
  }
}

export class RequestRepository {
  private readonly collection: Collection<RequestDoc>;
  private readonly pendingAudit: PendingAudit<RequestDoc>;

  constructor(store: DocumentStore, audit: Pick<AuditRepository, 'prepare' | 'record'>) {
    this.collection = store.collection<RequestDoc>('requests');
    this.pendingAudit = new PendingAudit(this.collection, audit);
  }

  /** Records the audit events a crash left on requests (start-up); returns how many. */
  async settlePendingAudit(): Promise<number> {
    return this.pendingAudit.settleAll();
  }

  // Names are fixed; `only` as explained in assignments.ts.
  async init(): Promise<void> {
    // A user's requests, newest first (my requests), and their open ones (submit checks).
    await this.collection.ensureIndex({ name: 'targetUserId_1_createdAt_1__id_1', fields: ['targetUserId', 'createdAt', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'targetUserId_1', fields: ['targetUserId'], only: 'embedded' });
    // The open requests a person asked for (the open-request limit on submit).
    await this.collection.ensureIndex({ name: 'requesterId_1', fields: ['requesterId'] });
    await this.collection.ensureIndex({ name: 'packageId_1_state_1', fields: ['packageId', 'state'] });
    await this.collection.ensureIndex({ name: 'openKey_1', fields: ['openKey'], unique: true, sparse: true });
    // Admin lists of a package's requests, newest first: MongoDB walks this index backwards; the
    // embedded store (compound indexes only for equality on every field) uses the single one.
    await this.collection.ensureIndex({ name: 'packageId_1_createdAt_1__id_1', fields: ['packageId', 'createdAt', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'packageId_1', fields: ['packageId'], only: 'embedded' });
    // Requests in a state: waiting for approval, oldest first (approvals, digest), and those in
    // motion (start-up recovery, services/recovery.ts).
    await this.collection.ensureIndex({ name: 'state_1_createdAt_1__id_1', fields: ['state', 'createdAt', '_id'], only: 'mongodb' });
    await this.collection.ensureIndex({ name: 'state_1', fields: ['state'], only: 'embedded' });
    // The sort on (createdAt, _id) as Azure Cosmos DB RU needs it served.
    await this.collection.ensureIndex({ name: 'createdAt_1__id_1', fields: ['createdAt', '_id'], only: 'mongodb' });
  }

  /** Requests in these states (start-up recovery: what is in motion, not the history). */
  async listInStates(states: readonly RequestState[]): Promise<AccessRequest[]> {
    return (await this.collection.find({ state: { $in: [...states] } })).map(fromRequestDoc);
  }

  /**
   * Stores a new request, with `audit` recorded as part of it; throws AlreadyOpenError when an
   * equivalent one is still open.
   */
  async insert(request: AccessRequest, audit?: NewAuditEvent): Promise<void> {
    const open = OPEN_REQUEST_STATES.includes(request.state);
    const event = audit && this.pendingAudit.prepare(audit);
    const doc: RequestDoc = { ...toDoc(request), ...(open ? { openKey: openKeyOf(request) } : {}), ...(event ? { pendingAudit: [event] } : {}) };
    try {
      await this.collection.insert(doc);
    } catch (error) {
      if (error instanceof DuplicateKeyError && doc.openKey && (await this.collection.findOne({ openKey: doc.openKey }))) throw new AlreadyOpenError(doc.openKey);
      throw error;
    }
    if (event) await this.pendingAudit.settle(request.id, event);
  }

  async get(id: string): Promise<AccessRequest | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? fromRequestDoc(doc) : null;
  }

  async listForUser(userId: string, limit = 20): Promise<AccessRequest[]> {
    return (await this.collection.find({ targetUserId: userId }, { sort: { createdAt: -1, _id: -1 }, limit })).map(fromRequestDoc);
  }

  async listOpenForUser(userId: string): Promise<AccessRequest[]> {
    return (await this.collection.find({ targetUserId: userId, state: { $in: [...OPEN_REQUEST_STATES] } })).map(fromRequestDoc);
  }

  /**
   * How many open requests of these types this person asked for (as the requester, whoever
   * they are for): the open-request limit's count.
   */
  async countOpenRequestedBy(requesterId: string, types: readonly RequestType[]): Promise<number> {
    return this.collection.count({ requesterId, state: { $in: [...OPEN_REQUEST_STATES] }, type: { $in: [...types] } });
  }

  /** The user's open request of this kind for a package, if any. */
  async findOpen(userId: string, packageId: string, type: RequestType = 'add'): Promise<AccessRequest | null> {
    const doc = await this.collection.findOne({ openKey: openKeyOf({ type, targetUserId: userId, packageId }) });
    return doc ? fromRequestDoc(doc) : null;
  }

  /** Requests waiting for approval (of one package, or all), oldest first. */
  async listPending(packageId?: string, limit = 200): Promise<AccessRequest[]> {
    const filter: Filter = { state: 'pendingApproval', ...(packageId ? { packageId } : {}) };
    return (await this.collection.find(filter, { sort: { createdAt: 1, _id: 1 }, limit })).map(fromRequestDoc);
  }

  /** One page of a package's requests (optionally of one state), newest first. */
  async listForPackage(packageId: string, options: { state?: RequestState; skip: number; limit: number }): Promise<AccessRequest[]> {
    const filter: Filter = { packageId, ...(options.state ? { state: options.state } : {}) };
    return (await this.collection.find(filter, { sort: { createdAt: -1, _id: -1 }, skip: options.skip, limit: options.limit })).map(fromRequestDoc);
  }

  async countForPackage(packageId: string, state?: RequestState): Promise<number> {
    return this.collection.count({ packageId, ...(state ? { state } : {}) });
  }

  /** The requests with these ids that exist (by the primary key, in batches). */
  async getMany(ids: readonly string[]): Promise<AccessRequest[]> {
    const found: AccessRequest[] = [];
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 500) found.push(...(await this.collection.find({ _id: { $in: unique.slice(i, i + 500) } })).map(fromRequestDoc));
    return found;
  }

  async countOpenForPackage(packageId: string): Promise<number> {
    return this.collection.count({ packageId, state: { $in: [...OPEN_REQUEST_STATES] } });
  }

  /**
   * Atomic state transition: applies `update` only if the request is still in `from`.
   * `precondition` adds conditions (e.g. the stage, or `updatedAt` as a version for
   * optimistic concurrency). `audit` is recorded with the change, in the same write (see
   * pendingAudit.ts), and only if it happens. Returns the request after the update, or null
   * when it had already moved on.
   */
  async transition(id: string, from: RequestState | readonly RequestState[], update: Update, precondition: Filter = {}, audit?: NewAuditEvent): Promise<AccessRequest | null> {
    const states = typeof from === 'string' ? [from] : [...from];
    const target = update.$set?.state as RequestState | undefined;
    const closing = target !== undefined && FINAL_REQUEST_STATES.includes(target);
    const effective: Update = closing ? { ...update, $unset: { ...(update.$unset ?? {}), openKey: true } } : update;
    const doc = await this.pendingAudit.findOneAndUpdate(id, { ...precondition, state: { $in: states } }, effective, audit);
    return doc ? fromRequestDoc(doc) : null;
  }
}
