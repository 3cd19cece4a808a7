// Sample data of the admin query cards (adminList, adminRecord, exportReady) for
// test/unit/cards.test.ts, which renders and validates every template.
import { assignmentListCard, assignmentRecordCard, auditListCard, exportReadyCard, requestListCard, requestRecordCard } from '../../src/bot/adminQueryViews';
import { newRequest } from '../../src/domain/newRequest';
import type { AssignmentRecord, RequestRecord } from '../../src/services/adminQueries';
import { NOW } from './domainFixtures';

const accounting = { id: 'accounting', displayName: 'Accounting', catalog: 'finance' };
const request = newRequest({
  id: 'REQ-7K3M9QX2',
  type: 'add',
  packageId: 'accounting',
  policyId: 'employees',
  requesterId: 'u-fred',
  targetUserId: 'u-fred',
  state: 'delivered',
  schedule: { startAt: NOW },
  now: NOW,
  justification: 'I joined the team, "really", =1+1',
});
const history = [
  { at: NOW, who: 'Fred Jansen', what: 'request.submitted', details: 'policyId: employees, state: pendingApproval' },
  { at: NOW, who: 'System', what: 'assignment.created', details: '' },
];
const requestRecord: RequestRecord = {
  kind: 'request',
  request: { ...request, assignmentId: 'ASG-REQ-7K3M9QX2', answers: [{ questionId: 'costCentre', value: '4100' }] },
  packageName: 'Accounting',
  policyName: 'Employees',
  requesterName: 'Fred Jansen (fredj@example.com)',
  targetName: 'Fred Jansen (fredj@example.com)',
  stateText: 'Done: access delivered',
  answers: [{ question: 'What is your cost centre?', answer: '4100' }],
  stages: ['Stage 1 of 1 · asked Nadia Okafor, Alex Wilber · started 22 Nov 2026 at 09:00 UTC · approved by Nadia Okafor on 22 Nov 2026 at 09:00 UTC: "ok"'],
  history,
  historyTruncated: false,
};
const assignmentRecord: AssignmentRecord = {
  kind: 'assignment',
  assignment: {
    id: 'ASG-REQ-7K3M9QX2',
    packageId: 'accounting',
    policyId: 'employees',
    userId: 'u-fred',
    state: 'partiallyDelivered',
    startAt: NOW,
    expiresAt: new Date(NOW.getTime() + 86_400_000),
    roles: [{ resource: 'finance-team', role: 'member', state: 'delivered' }, { resource: 'accounting-app', role: 'User', state: 'failed', error: 'needs AppRoleAssignment.ReadWrite.All' }],
    requestIds: ['REQ-7K3M9QX2'],
    reprocessCount: 1,
    createdAt: NOW,
    updatedAt: NOW,
  },
  packageName: 'Accounting',
  policyName: 'Employees',
  userName: 'Fred Jansen (fredj@example.com)',
  roles: [{ name: 'Finance team (Member)', state: 'delivered', error: '' }, { name: 'Accounting (User)', state: 'failed', error: 'needs AppRoleAssignment.ReadWrite.All' }],
  history: Array.from({ length: 60 }, (_, i) => ({ ...history[0]!, details: `entry ${i} ${'x'.repeat(150)}` })),
  historyTruncated: true,
};
const ready = { title: 'Assignments of Accounting', filters: 'active assignments', filename: 'assignments-accounting-2026-11-22T0900Z.csv', url: 'https://bot.example.com/exports/EXP-0123456789ABCDEF?expires=1795338000&sig=' + 'a'.repeat(64), expiresAt: NOW, rowCount: 12, capped: false, namesCapped: false };

export const ADMIN_QUERY_SAMPLES: Record<string, object[]> = {
  adminList: [
    requestListCard({
      accessPackage: accounting,
      page: { items: [{ id: 'REQ-1', type: 'add', state: 'pendingApproval', stateText: 'Waiting for approval', requesterName: 'Fred Jansen', targetName: 'Fred Jansen', createdAt: NOW }, { id: 'REQ-2', type: 'adminAdd', state: 'denied', stateText: 'Denied by Nadia', requesterName: 'Ivan Petrov', targetName: 'Lola Martin', createdAt: NOW }], total: 25, page: 2, pageCount: 3 },
    }),
    requestListCard({ accessPackage: accounting, state: 'timedOut', page: { items: [], total: 0, page: 1, pageCount: 1 } }),
    assignmentListCard({ accessPackage: accounting, filter: 'active', page: { items: [{ id: 'ASG-REQ-1', userId: 'u-fred', userName: 'Fred Jansen', state: 'delivered', startAt: NOW }, { id: 'ASG-REQ-2', userId: 'u-lola', userName: 'Lola Martin', state: 'deliveryFailed', startAt: NOW, expiresAt: NOW }], total: 2, page: 1, pageCount: 1 } }),
    assignmentListCard({ accessPackage: accounting, filter: 'expired', page: { items: [], total: 0, page: 1, pageCount: 1 } }),
    assignmentListCard({
      accessPackage: accounting,
      filter: 'all',
      page: { items: Array.from({ length: 10 }, (_, i) => ({ id: `ASG-REQ-${i}`, userId: `u-${i}`, userName: 'N'.repeat(256), state: 'removed' as const, startAt: NOW, expiresAt: NOW })), total: 5000, page: 1, pageCount: 500 },
    }),
    auditListCard({ description: 'package Accounting (accounting) · from 1 Nov 2026', events: [{ at: NOW, actorName: 'Ivan Petrov', action: 'admin.export', userName: '', packageId: 'accounting', subjectId: '', details: 'what: assignments, rows: 3' }, { at: NOW, actorName: 'System', action: 'assignment.created', userName: 'Fred Jansen', packageId: 'accounting', subjectId: 'ASG-REQ-1', details: '' }] }, 20),
    auditListCard({ description: '', events: [] }, 20),
  ],
  adminRecord: [
    requestRecordCard(requestRecord),
    requestRecordCard({ ...requestRecord, request: { ...request, state: 'pendingApproval', justification: undefined }, answers: [], stages: [], history: [] }),
    assignmentRecordCard(assignmentRecord),
    assignmentRecordCard({ ...assignmentRecord, assignment: { ...assignmentRecord.assignment, state: 'expired', endReason: 'expired', expiresAt: undefined, requestIds: [] }, roles: [], history: [], historyTruncated: false }),
  ],
  exportReady: [exportReadyCard(ready, 15), exportReadyCard({ ...ready, filters: '', capped: true, namesCapped: true, rowCount: 100_000 }, 1)],
};
