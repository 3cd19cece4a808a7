import type { AccessRequest } from '../domain/model';
import { WORKFLOW_TASKS as TASK_TYPES } from '../domain/taskTypes';
import type { TaskRepository } from '../store/repositories/tasks';

/**
 * Hand-over from self-service to approval and delivery. Each step is a durable task, so a
 * request accepted in chat is never lost between the two, whatever happens to the process.
 */
export { TASK_TYPES };

export interface Workflow {
  submitted(request: AccessRequest): Promise<void>;
  /** Approval is complete: deliver (at the requested start when it lies ahead). */
  approved(request: AccessRequest): Promise<void>;
  canceled(request: AccessRequest): Promise<void>;
  removalRequested(request: AccessRequest): Promise<void>;
}

export class TaskWorkflow implements Workflow {
  constructor(private readonly tasks: TaskRepository) {}

  async submitted(request: AccessRequest): Promise<void> {
    if (request.state === 'pendingApproval') {
      await this.tasks.enqueue({ type: TASK_TYPES.startApproval, payload: { requestId: request.id }, dedupeKey: `${TASK_TYPES.startApproval}:${request.id}` });
    } else {
      await this.approved(request);
    }
  }

  async approved(request: AccessRequest): Promise<void> {
    // A scheduled request's delivery task simply falls due at its start.
    await this.tasks.enqueue({
      type: TASK_TYPES.deliver,
      payload: { requestId: request.id },
      dueAt: request.state === 'scheduled' ? request.schedule.startAt : undefined,
      dedupeKey: `${TASK_TYPES.deliver}:${request.id}`,
    });
  }

  async canceled(request: AccessRequest): Promise<void> {
    await this.tasks.enqueue({ type: TASK_TYPES.cancelApproval, payload: { requestId: request.id }, dedupeKey: `${TASK_TYPES.cancelApproval}:${request.id}` });
  }

  async removalRequested(request: AccessRequest): Promise<void> {
    await this.tasks.enqueue({ type: TASK_TYPES.remove, payload: { requestId: request.id, assignmentId: request.assignmentId }, dedupeKey: `${TASK_TYPES.remove}:${request.id}` });
  }
}
