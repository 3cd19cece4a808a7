import type { AccessRequest } from '../domain/model';
import type { TaskRepository } from '../store/repositories/tasks';

/**
 * Hand-over from self-service to approval and delivery. Each step is a durable task, so a
 * request accepted in chat is never lost between the two, whatever happens to the process.
 */
export const TASK_TYPES = {
  startApproval: 'request.startApproval',
  deliver: 'request.deliver',
  cancelApproval: 'request.cancelApproval',
  remove: 'assignment.remove',
} as const;

export interface Workflow {
  submitted(request: AccessRequest): Promise<void>;
  canceled(request: AccessRequest): Promise<void>;
  removalRequested(request: AccessRequest): Promise<void>;
}

export class TaskWorkflow implements Workflow {
  constructor(private readonly tasks: TaskRepository) {}

  async submitted(request: AccessRequest): Promise<void> {
    const type = request.state === 'pendingApproval' ? TASK_TYPES.startApproval : TASK_TYPES.deliver;
    await this.tasks.enqueue({ type, payload: { requestId: request.id }, dedupeKey: `${type}:${request.id}` });
  }

  async canceled(request: AccessRequest): Promise<void> {
    await this.tasks.enqueue({ type: TASK_TYPES.cancelApproval, payload: { requestId: request.id }, dedupeKey: `${TASK_TYPES.cancelApproval}:${request.id}` });
  }

  async removalRequested(request: AccessRequest): Promise<void> {
    await this.tasks.enqueue({ type: TASK_TYPES.remove, payload: { requestId: request.id, assignmentId: request.assignmentId }, dedupeKey: `${TASK_TYPES.remove}:${request.id}` });
  }
}
