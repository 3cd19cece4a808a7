import { openEmbeddedStore } from '../../src/store/nedbStore';
import { openRepositories } from '../../src/store/repositories';
import { TaskRepository } from '../../src/store/repositories/tasks';
import { resumeHandovers } from '../../src/services/recovery';
import type { AccessRequest } from '../../src/domain/model';
import { FakeClock } from '../support/fakeClock';
import { TASK_TYPES } from '../../src/services/workflow';
import { startTestApp } from '../support/testApp';

// Found by the reliability suite (test/reliability/killRestart.test.ts): after kill -9, the tasks
// the dead process had claimed kept their 5-minute lease, so the restarted bot left deliveries
// and approvals untouched for minutes. The embedded store belongs to one process, so at start-up
// every lease in it is a dead run's and is released.
describe('restart after a crash on the embedded store', () => {
  it("resumes at once the tasks the previous run had claimed, and leaves other work's schedule alone", async () => {
    const store = await openEmbeddedStore({});
    const now = new Date();
    const tasks = new TaskRepository(store, () => now);
    await tasks.init();
    const claimed = (await tasks.enqueue({ type: TASK_TYPES.deliver, payload: { requestId: 'REQ-GONE' } }))!;
    const later = (await tasks.enqueue({ type: TASK_TYPES.deliver, payload: { requestId: 'REQ-LATER' }, dueAt: new Date(now.getTime() + 3_600_000) }))!;
    // The previous run claimed it (a 5-minute lease) and was killed before recording an outcome.
    expect(await tasks.claimBatch('worker-dead', 5 * 60_000, 10)).toHaveLength(1);

    const app = await startTestApp({}, { store });
    try {
      app.clock.set(now);
      await app.taskRunner.run();
      expect((await app.repositories.tasks.get(claimed.id))?.state).toBe('done');
      expect(await app.repositories.tasks.get(later.id)).toMatchObject({ state: 'pending', dueAt: later.dueAt });
    } finally {
      await app.close();
    }
  });

  // Also found by it: a kill between storing a request (or a decision) and queueing its next
  // task left the request pending for good: no approval card, no delivery, no timeout.
  it('queues again the next step of requests a crash interrupted, once', async () => {
    const store = await openEmbeddedStore({});
    const clock = new FakeClock();
    const repositories = await openRepositories(store, clock);
    const now = clock.now();
    const base = { type: 'add' as const, packageId: 'accounting', policyId: 'employees', justification: 'Month end', answers: [], schedule: {}, stages: [], createdAt: now, updatedAt: now, history: [] };
    // Submitted (approval needed), its startApproval task never queued.
    await repositories.requests.insert({ ...base, id: 'REQ-CRASH1', requesterId: 'u-fred', targetUserId: 'u-fred', state: 'pendingApproval', currentStage: 0 } as AccessRequest);
    // Approved, its delivery task never queued.
    await repositories.requests.insert({ ...base, id: 'REQ-CRASH2', requesterId: 'u-lola', targetUserId: 'u-lola', state: 'delivering' } as AccessRequest);
    const tasksBefore = await store.collection('tasks').count({});

    const app = await startTestApp({}, { store });
    try {
      expect(await store.collection('tasks').count({})).toBe(tasksBefore + 2);
      app.clock.set(now);
      await app.taskRunner.run();
      await app.taskRunner.run();
      expect((await app.repositories.requests.get('REQ-CRASH1'))?.stages).toHaveLength(1);
      expect((await app.repositories.requests.get('REQ-CRASH2'))?.assignmentId).toBe('ASG-REQ-CRASH2');
      // Another start finds nothing missing and queues nothing twice.
      const tasks = await store.collection('tasks').count({});
      expect(await resumeHandovers(app.repositories)).toBe(0);
      expect(await store.collection('tasks').count({})).toBe(tasks);
    } finally {
      await app.close();
    }
  });

  // And: a grant task killed after recording its role but before settling the assignment ran
  // again, found the role recorded and stopped, leaving the assignment and request delivering.
  it('a grant task run again after a crash settles the assignment its first run recorded', async () => {
    const store = await openEmbeddedStore({});
    const clock = new FakeClock();
    const repositories = await openRepositories(store, clock);
    const now = clock.now();
    await repositories.requests.insert({
      id: 'REQ-CRASH3', type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: 'u-lola', targetUserId: 'u-lola', answers: [], schedule: {},
      stages: [], createdAt: now, updatedAt: now, history: [], state: 'delivering', assignmentId: 'ASG-REQ-CRASH3',
    } as AccessRequest);
    await repositories.assignments.insert({
      id: 'ASG-REQ-CRASH3', packageId: 'accounting', policyId: 'employees', userId: 'u-lola', state: 'delivering', startAt: now, requestIds: ['REQ-CRASH3'], createdAt: now, updatedAt: now,
      roles: [{ resource: 'finance-team', role: 'member', state: 'delivered' }],
    });
    await repositories.tasks.enqueue({ type: 'grant.add', payload: { assignmentId: 'ASG-REQ-CRASH3', index: 0 }, dedupeKey: 'grant.add:ASG-REQ-CRASH3:0' });

    const app = await startTestApp({}, { store });
    try {
      app.clock.set(now);
      await app.taskRunner.run();
      expect((await app.repositories.assignments.get('ASG-REQ-CRASH3'))?.state).toBe('delivered');
      expect((await app.repositories.requests.get('REQ-CRASH3'))?.state).toBe('delivered');
    } finally {
      await app.close();
    }
  });

  // Expiry checks are claimed the same way (lifecycleLeaseUntil): a run killed while checking
  // an assignment left its claim, and the restarted bot waited out the lease before expiring it.
  it('checks at once the expiry the previous run had claimed', async () => {
    const store = await openEmbeddedStore({});
    const clock = new FakeClock();
    const repositories = await openRepositories(store, clock);
    const now = clock.now();
    const expired = new Date(now.getTime() - 60_000);
    await repositories.assignments.insert({
      id: 'ASG-EXPIRED', packageId: 'accounting', policyId: 'employees', userId: 'u-lola', state: 'delivered', startAt: new Date(now.getTime() - 86_400_000),
      expiresAt: expired, lifecycleCheckAt: expired, requestIds: [], createdAt: now, updatedAt: now, roles: [{ resource: 'finance-team', role: 'member', state: 'delivered' }],
    });
    // The previous run claimed it (a 5-minute lease) and was killed before it got further.
    expect(await repositories.assignments.claimLifecycleDue(now, 5 * 60_000, 10)).toHaveLength(1);

    const app = await startTestApp({}, { store });
    try {
      app.clock.set(now);
      await app.lifecycle.run();
      const assignment = await app.repositories.assignments.get('ASG-EXPIRED');
      expect(assignment?.lifecycleCheckAt).toBeUndefined();
      expect(assignment?.lifecycleLeaseUntil).toBeUndefined();
      expect(await store.collection('tasks').count({ type: TASK_TYPES.remove, state: 'pending' })).toBe(1);
    } finally {
      await app.close();
    }
  });
});
