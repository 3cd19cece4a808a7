// Audit events ride in the document whose change they record (see
// src/store/repositories/pendingAudit.ts): a crash between the change and the audit log's
// write can no longer lose the event, and recording it twice changes nothing.
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { openRepositories, type Repositories } from '../../src/store/repositories';
import { settlePendingAudit } from '../../src/services/recovery';
import type { AccessRequest } from '../../src/domain/model';
import { makeAssignment, makeCatalog, makePackage, makePolicy, NOW } from '../support/domainFixtures';

function request(id: string): AccessRequest {
  return {
    id, type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: 'u-fred', targetUserId: 'u-fred', answers: [], schedule: {},
    state: 'pendingApproval', stages: [], createdAt: NOW, updatedAt: NOW, history: [],
  };
}

describe('audit written with the state change', () => {
  let store: DocumentStore;
  let repos: Repositories;

  beforeEach(async () => {
    store = await openEmbeddedStore({});
    repos = await openRepositories(store, { now: () => NOW });
  });
  afterEach(() => store.close());

  /** Raw documents, as a crashed process left them. */
  const raw = (name: string) => store.collection<{ _id: string } & Record<string, unknown>>(name);
  const actions = async () => (await repos.audit.query({ limit: 100 })).map((e) => `${e.action} ${e.requestId ?? e.assignmentId}`);
  const pendingOn = async (collection: string, id: string) => ((await store.collection<{ _id: string; pendingAudit?: unknown[] }>(collection).findOne({ _id: id }))?.pendingAudit ?? []).length;

  it('a transition records its event once, and none when the precondition fails', async () => {
    await repos.requests.insert(request('REQ-1'), { actorId: 'u-fred', action: 'request.submitted', requestId: 'REQ-1' });
    const canceled = await repos.requests.transition('REQ-1', 'pendingApproval', { $set: { state: 'canceled' } }, {}, { actorId: 'u-fred', action: 'request.canceled', requestId: 'REQ-1' });
    expect(canceled?.state).toBe('canceled');
    expect(canceled).not.toHaveProperty('pendingAudit'); // storage, not domain
    // A replayed click: the request has moved on, so nothing is changed or audited.
    expect(await repos.requests.transition('REQ-1', 'pendingApproval', { $set: { state: 'canceled' } }, {}, { actorId: 'u-fred', action: 'request.canceled', requestId: 'REQ-1' })).toBeNull();
    expect(await actions()).toEqual(['request.submitted REQ-1', 'request.canceled REQ-1']);
    expect(await pendingOn('requests', 'REQ-1')).toBe(0);
  });

  it('an event a crash left on a request or an assignment is recorded at start-up, once', async () => {
    // What a process killed between the state change and the audit write leaves behind.
    const submitted = repos.audit.prepare({ actorId: 'u-fred', action: 'request.submitted', requestId: 'REQ-2' });
    const { id: requestId, ...stored } = request('REQ-2');
    await raw('requests').insert({ ...stored, _id: requestId, pendingAudit: [submitted] });
    const granted = repos.audit.prepare({ actorId: 'system', action: 'delivery.granted', assignmentId: 'ASG-1' });
    const assignment = makeAssignment({ id: 'ASG-1' });
    const { id, ...rest } = assignment;
    await raw('assignments').insert({ ...rest, _id: id, pendingAudit: [granted] });
    expect(await actions()).toEqual([]);
    expect((await repos.requests.get('REQ-2'))).not.toHaveProperty('pendingAudit');

    expect(await settlePendingAudit(repos)).toBe(2);
    expect(await actions()).toEqual(['request.submitted REQ-2', 'delivery.granted ASG-1']);
    expect((await repos.audit.query({ requestId: 'REQ-2' }))[0]).toMatchObject({ id: submitted.id, at: submitted.at });
    expect(await pendingOn('requests', 'REQ-2')).toBe(0);
    expect(await pendingOn('assignments', 'ASG-1')).toBe(0);
    expect(await settlePendingAudit(repos)).toBe(0);
  });

  it('recording an event that reached the log before the crash does not record it twice', async () => {
    const event = repos.audit.prepare({ actorId: 'system', action: 'assignment.delivered', assignmentId: 'ASG-3' });
    await repos.audit.record(event); // the log write happened; taking it off the document did not
    const { id, ...rest } = makeAssignment({ id: 'ASG-3' });
    await raw('assignments').insert({ ...rest, _id: id, pendingAudit: [event] });
    expect(await settlePendingAudit(repos)).toBe(1);
    expect(await actions()).toEqual(['assignment.delivered ASG-3']);
  });

  it("an admin's switch of a catalog, package or policy is audited with it, and settled at start-up after a crash", async () => {
    await repos.catalogs.save(makeCatalog());
    await repos.packages.save(makePackage());
    await repos.policies.save(makePolicy());
    const disable = (kind: string) => ({ actorId: 'u-ivan', action: 'admin.disable', details: { kind } });
    expect(await repos.catalogs.switchEnabled('finance', true, false, null, disable('catalog'))).toBe(true);
    expect(await repos.packages.switchEnabled('accounting', true, false, null, disable('package'))).toBe(true);
    expect(await repos.policies.switchEnabled('accounting', 'employees', true, false, null, disable('policy'))).toBe(true);
    // Already disabled: nothing changes and nothing is audited.
    expect(await repos.policies.switchEnabled('accounting', 'employees', true, false, null, disable('policy'))).toBe(false);
    expect((await repos.audit.query({ limit: 10 })).map((e) => e.details?.kind)).toEqual(['catalog', 'package', 'policy']);
    expect(await repos.packages.get('accounting')).not.toHaveProperty('pendingAudit');

    const left = repos.audit.prepare({ actorId: 'u-ivan', action: 'admin.enable', details: { kind: 'policy' } });
    await raw('policies').updateOne({ _id: 'accounting/employees' }, { $push: { pendingAudit: left } });
    expect(await settlePendingAudit(repos)).toBe(1);
    expect((await repos.audit.query({ limit: 10 })).map((e) => e.action)).toEqual(['admin.disable', 'admin.disable', 'admin.disable', 'admin.enable']);
  });
});
