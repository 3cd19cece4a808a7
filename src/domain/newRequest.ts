import type { AccessRequest, RequestState, RequestType, Schedule, SubmittedAnswerValue } from './model';

export interface NewRequestInput {
  id: string;
  type: RequestType;
  packageId: string;
  policyId: string;
  requesterId: string;
  targetUserId: string;
  state: RequestState;
  schedule: Schedule;
  now: Date;
  justification?: string;
  answers?: { questionId: string; value: SubmittedAnswerValue }[];
  assignmentId?: string;
}

/** A request as it is first stored: no stages resolved yet, one "submitted" history entry. */
export function newRequest(input: NewRequestInput): AccessRequest {
  const { now, justification, assignmentId, answers = [], ...rest } = input;
  return {
    ...rest,
    ...(justification ? { justification } : {}),
    answers,
    ...(input.state === 'pendingApproval' ? { currentStage: 0 } : {}),
    stages: [],
    ...(assignmentId ? { assignmentId } : {}),
    createdAt: now,
    updatedAt: now,
    history: [{ at: now, actorId: input.requesterId, action: 'submitted' }],
  };
}
