import { openEmbeddedStore } from '../../src/store/nedbStore';
import { TaskRepository } from '../../src/store/repositories/tasks';
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
});
