import { readdirSync } from 'node:fs';
import { CARDS_DIR, CardRenderer } from '../../src/bot/cards';
import { CHAT_COMMANDS } from '../../src/bot/commands';
import {
  confirmRemoveCard,
  helpCard,
  myAccessCard,
  myRequestsCard,
  noticeCard,
  packageDeepLink,
  packageDetailsCard,
  packageListCard,
  requestFormCard,
  requestSubmittedCard,
  unknownCommandCard,
} from '../../src/bot/views';
import type { AccessSummary } from '../../src/services/access';
import type { PackageDetails } from '../../src/services/catalogBrowser';
import type { RequestSummary } from '../../src/services/requests';
import { newRequest } from '../../src/domain/newRequest';
import { approvalCard, type ApprovalContext } from '../../src/services/approvalMessages';
import { expiryWarningCard } from '../../src/services/lifecycle';
import { cardText as cardTextOf } from '../support/botHarness';
import { assignChooseCard, assignFormCard, reportCard } from '../../src/bot/adminChangeViews';
import type { AssignForm } from '../../src/services/adminAssignments';
import { validateCard } from '../support/cardValidation';
import { failureCard } from '../../src/bot/failureViews';
import { ADMIN_QUERY_SAMPLES } from '../support/adminQuerySamples';
import { digestCardData, type DigestNames, expiringByPackage, timingOutSoon } from '../../src/domain/digest';
import { makeAssignment, makeCatalog, makeChoiceQuestion, makePackage, makePolicy, makeQuestion, makeStage, NOW } from '../support/domainFixtures';

const approvalContext: ApprovalContext = {
  request: {
    ...newRequest({ id: 'REQ-7K3M9QX2', type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: 'u-fred', targetUserId: 'u-fred', state: 'pendingApproval', schedule: { startAt: NOW, expiresAt: new Date('2027-05-21T09:00:00Z') }, now: NOW, justification: 'I joined the team' }),
    answers: [{ questionId: 'costCentre', value: '4100' }],
  },
  accessPackage: makePackage(),
  catalog: makeCatalog({ resources: [{ id: 'finance-team', type: 'group', originId: 'grp-finance', displayName: 'Finance team', roles: [{ id: 'member', displayName: 'Member' }] }] }),
  policy: makePolicy({ questions: [makeQuestion({ id: 'costCentre', text: 'Cost centre' })] }),
  requester: { id: 'u-fred', displayName: 'Fred Jansen', userPrincipalName: 'fredj@example.com', jobTitle: 'Accountant', department: 'Finance', userType: 'Member', accountEnabled: true },
};
const decision = { approverId: 'u-nadia', decision: 'approve' as const, at: NOW, justification: 'Welcome aboard' };

const details: PackageDetails = {
  accessPackage: { id: 'accounting', displayName: 'Accounting', description: 'Finance team, Accounting app and VAT returns' },
  catalogName: 'Finance',
  roles: [
    { resource: 'Finance team', kind: 'Group', role: 'Member' },
    { resource: 'Accounting', kind: 'App', role: 'User' },
  ],
  offers: [
    {
      id: 'employees',
      displayName: 'Employees',
      description: 'Any employee may ask',
      approval: 'Approval by a member of Finance approvers.',
      expiry: 'Access lasts 180 days',
      justificationRequired: true,
      questions: [
        makeQuestion({ id: 'costCentre', text: 'What is your cost centre?', required: true, regex: '^[0-9]{4}$', regexMessage: 'Four digits, e.g. 4100' }),
        makeQuestion({ id: 'notes', text: 'Anything else?', type: 'longText', maxLength: 4000 }),
        // Nested repetition: RegExp could freeze the client on it, so only the server checks.
        makeQuestion({ id: 'words', text: 'Team name', regex: '^([a-zA-Z0-9]+\\s?)*$', regexMessage: 'Letters, digits and single spaces' }),
        makeChoiceQuestion({ id: 'engagement', text: 'Engagement', allowsMultipleSelections: true }),
      ],
      canChooseSchedule: true,
      latestEnd: new Date('2027-05-21T09:00:00Z'),
    },
  ],
  status: 'available',
};
const tie: PackageDetails = { ...details, offers: [details.offers[0]!, { ...details.offers[0]!, id: 'contractors', displayName: 'Contractors', questions: [], canChooseSchedule: false, latestEnd: undefined }] };
const request = (overrides: Partial<RequestSummary>): RequestSummary => ({
  id: 'REQ-7K3M9QX2',
  packageId: 'accounting',
  packageName: 'Accounting',
  type: 'add',
  state: 'pendingApproval',
  stateText: 'Waiting for approval',
  createdAt: NOW,
  canCancel: true,
  ...overrides,
});
const access = (overrides: Partial<AccessSummary>): AccessSummary => ({
  assignmentId: 'a1',
  packageId: 'accounting',
  packageName: 'Accounting',
  state: 'delivered',
  startAt: NOW,
  expiresAt: new Date('2027-05-21T09:00:00Z'),
  roles: details.roles,
  canExtend: true,
  extendRequiresApproval: false,
  extendJustificationRequired: false,
  removalPending: false,
  ...overrides,
});

const digestNames: DigestNames = { user: (id) => `User ${id}`, package: (id) => `Package ${id}`, failedRoles: (a) => a.roles.map((r) => `${r.resource} (${r.role})`) };
const digestFull = {
  now: NOW,
  days: 7,
  note: 'Catch-up: the bot was not running at 08:00 UTC on 20 Nov 2026 to 22 Nov 2026.',
  expiring: expiringByPackage(Array.from({ length: 40 }, (_, i) => makeAssignment({ id: `E${i}`, packageId: `p${i % 20}`, userId: `u${i}`, expiresAt: new Date(NOW.getTime() + i * 3_600_000) }))),
  failed: Array.from({ length: 12 }, (_, i) => makeAssignment({ id: `ASG-${i}`, state: 'deliveryFailed' as const, roles: [{ resource: 'sap', role: 'User', state: 'failed' as const, error: 'E'.repeat(300) }] })),
  timingOut: timingOutSoon(
    [{ ...newRequest({ id: 'REQ-1', type: 'add', packageId: 'accounting', policyId: 'employees', requesterId: 'u-fred', targetUserId: 'u-fred', state: 'pendingApproval', schedule: {}, now: NOW }), stages: [{ index: 0, approverIds: ['a', 'b', 'c', 'd'], startedAt: new Date(NOW.getTime() - 13 * 86_400_000) }] }],
    () => makePolicy(),
    NOW,
  ),
  escalations: [{ id: 'e1', at: NOW, actorId: 'system', action: 'approval.escalated', packageId: 'accounting', userId: 'u-fred', requestId: 'REQ-1', details: { stage: 0, addedApproverIds: ['u-ivan'] } }],
};
const assignForm: AssignForm = {
  packageId: 'accounting',
  packageName: 'Accounting',
  policies: [
    { id: 'direct', displayName: 'Direct assignment by admins', description: '', audience: 'Admin-only: for direct assignment', approval: 'No approval needed: access is set up right away.', approvalRequired: false, justificationRequired: false, expiry: "Access doesn't expire", questions: [] },
    {
      id: 'employees',
      displayName: 'Employees',
      description: 'Any employee may ask',
      audience: 'Requestable by every member (not guests)',
      approval: 'Approval by a member of Finance approvers.',
      approvalRequired: true,
      justificationRequired: true,
      expiry: 'Access lasts 180 days',
      questions: details.offers[0]!.questions,
      latestEnd: new Date('2027-05-21T09:00:00Z'),
    },
  ],
};
const [directOption, employeesOption] = assignForm.policies as [AssignForm['policies'][number], AssignForm['policies'][number]];
/** Ivan (an admin) asked for Fred, then an admin canceled it. */
const adminAddCanceled = approvalCard(
  { ...approvalContext, request: { ...approvalContext.request, requesterId: 'u-ivan', type: 'adminAdd' }, requester: { ...approvalContext.requester!, id: 'u-ivan', displayName: 'Ivan Petrov', jobTitle: 'IT Administrator', department: 'IT' }, target: approvalContext.requester },
  0,
  NOW,
  { kind: 'canceled', byAdministrator: true },
).data;

// Every template with realistic data, including edge cases (long text, empty lists).
const SAMPLES: Record<string, object[]> = {
  ...ADMIN_QUERY_SAMPLES,
  help: [helpCard(CHAT_COMMANDS, false), helpCard(CHAT_COMMANDS, true)],
  welcome: [{ name: 'Megan' }, { name: '' }],
  unknownCommand: [
    unknownCommandCard('hlep', CHAT_COMMANDS, false, 'help'),
    unknownCommandCard('x'.repeat(5000), CHAT_COMMANDS, false),
  ],
  adminDigest: [
    digestCardData({ now: NOW, days: 7, expiring: [], failed: [], timingOut: [], escalations: [], note: '' }, digestNames),
    digestCardData(digestFull, digestNames),
  ],
  notice: [
    noticeCard('Done', 'All good'),
    noticeCard('Careful', 'Something to know', 'warning', [{ title: 'My requests', verb: 'myRequests' }]),
    noticeCard('Failed', 'It broke', 'error'),
  ],
  packageList: [
    packageListCard({ items: [{ id: 'accounting', displayName: 'Accounting', description: 'd', status: 'available' }, { id: 'payment-run', displayName: 'Payment run', description: 'd', status: 'assigned' }], total: 25, page: 1, pageCount: 3, text: 'acc' }),
    packageListCard({ items: [], total: 0, page: 0, pageCount: 1, text: '' }),
    packageListCard({ items: [], total: 0, page: 0, pageCount: 1, text: 'nothing like this' }),
    packageListCard({
      items: Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, displayName: 'N'.repeat(256), description: 'D'.repeat(2000), status: 'pending' as const })),
      total: 5000,
      page: 0,
      pageCount: 500,
      text: '',
    }),
  ],
  packageDetails: [packageDetailsCard(details), packageDetailsCard(details, '11111111-2222-3333-4444-555555555555'), packageDetailsCard(tie), packageDetailsCard({ ...details, status: 'assigned', expiresAt: NOW }), packageDetailsCard({ ...details, status: 'pending', pendingRequestId: 'REQ-1' })],
  requestForm: [
    requestFormCard(details, 'employees', NOW),
    requestFormCard(tie, 'contractors', NOW),
    requestFormCard(details, 'employees', NOW, {
      values: { justification: 'month end', 'answer:costCentre': '41', startDate: '2026-12-01' },
      refusal: { ok: false, reason: 'invalidInput', message: 'Please fix the highlighted answers.', fieldErrors: [{ field: 'answers.costCentre', message: 'A cost centre is four digits.' }, { field: 'endDate', message: 'Too late.' }] },
    }),
  ],
  failure: [
    failureCard({ kind: 'directoryUnavailable', reference: 'ERR-7K3M9QX2' }, { verb: 'submitRequest', data: { packageId: 'accounting', policyId: 'employees', justification: 'month end', 'answer:costCentre': '4100' } }),
    failureCard({ kind: 'directoryRefused', reference: 'ERR-7K3M9QX2' }, { verb: 'submitRequest', data: {} }),
    failureCard({ kind: 'storeUnavailable', reference: 'ERR-7K3M9QX2' }, { verb: 'decide', data: { requestId: 'REQ-1', stage: 0, decision: 'approve' } }),
    failureCard({ kind: 'unexpected', reference: 'ERR-7K3M9QX2' }),
    // Answers too large to put back on a card: no Try again rather than a card Teams refuses.
    failureCard({ kind: 'unexpected', reference: 'ERR-7K3M9QX2' }, { verb: 'submitRequest', data: { justification: 'x'.repeat(30_000) } }),
  ],
  requestSubmitted: [
    requestSubmittedCard({ requestId: 'REQ-1', packageName: 'Accounting', sentAt: NOW, needsApproval: true, state: 'pendingApproval', approval: 'Approval by your manager.' }),
    requestSubmittedCard({ requestId: 'REQ-2', packageName: 'Payment run', sentAt: NOW, needsApproval: false, state: 'delivering', approval: '' }),
  ],
  myRequests: [
    myRequestsCard([request({}), request({ id: 'REQ-2', state: 'denied', stateText: 'Denied by Nadia: "not now"', canCancel: false }), request({ id: 'REQ-3', type: 'extend' })], 'Request REQ-4 is canceled.'),
    myRequestsCard([]),
  ],
  myAccess: [
    myAccessCard([access({}), access({ assignmentId: 'a2', canExtend: false, extendNote: 'This package cannot be extended.' }), access({ assignmentId: 'a3', expiresAt: undefined, removalPending: true })], 'Extended.'),
    myAccessCard([]),
    // Extension through approval: a reason box per item (required, optional), each with its own input id.
    myAccessCard([
      access({ extendRequiresApproval: true, extendJustificationRequired: true, extendUntil: new Date('2027-11-17T09:00:00Z') }),
      access({ assignmentId: 'a2', packageName: 'Payment run', extendRequiresApproval: true }),
      access({ assignmentId: 'a3', packageName: 'Audit archive' }),
    ]),
  ],
  confirmRemove: [confirmRemoveCard(access({}))],
  expiryWarning: [
    expiryWarningCard({ assignmentId: 'ASG-1', packageName: 'Accounting', roles: details.roles, expiresAt: new Date('2026-11-23T09:00:00Z'), now: NOW, offer: { allowed: true, newExpiresAt: new Date('2027-05-21T09:00:00Z'), requiresApproval: true, justificationRequired: true } }).data,
    expiryWarningCard({ assignmentId: 'ASG-2', packageName: 'Payment run', roles: [], expiresAt: new Date('2026-11-22T09:01:00Z'), now: NOW, offer: { allowed: true, newExpiresAt: new Date('2026-11-22T09:02:00Z'), requiresApproval: false, justificationRequired: false } }).data,
    expiryWarningCard({ assignmentId: 'ASG-3', packageName: 'N'.repeat(256), roles: details.roles, expiresAt: new Date('2026-12-06T09:00:00Z'), now: NOW, offer: { allowed: false, message: "This package doesn't allow extensions." } }).data,
  ],
  adminAssignChoose: [assignChooseCard(assignForm)],
  adminAssignForm: [
    assignFormCard({ ...assignForm, chosen: employeesOption }, employeesOption, NOW),
    assignFormCard({ ...assignForm, policies: [directOption], chosen: directOption }, directOption, NOW),
    assignFormCard({ ...assignForm, chosen: employeesOption }, employeesOption, NOW, {
      values: { user: 'fredj@example.com', skipApproval: 'true', justification: '', 'answer:costCentre': '41', endDate: '2028-01-01' },
      refusal: {
        ok: false,
        reason: 'invalidInput',
        message: 'Please fix the highlighted fields and assign again.',
        fieldErrors: [
          { field: 'user', message: 'Fred Jansen already has "Accounting".' },
          { field: 'justification', message: 'A justification is required to skip approval.' },
          { field: 'answers.costCentre', message: 'A cost centre is four digits.' },
          { field: 'endDate', message: 'Too late.' },
        ],
      },
    }),
  ],
  adminReport: [
    reportCard('Catalog applied: catalog.yaml', 'catalog.yaml is valid (1 catalog, 5 packages, 6 policies). What changed:', [
      'catalogs: 1 unchanged',
      "warning: package 'old' kept: 1 active assignment / 0 open requests; remove them first",
      "note: policy 'accounting/employees' kept disabled by Ivan Petrov on 22 Nov 2026 at 09:00 UTC (the file says enabled); type enable policy accounting/employees to clear",
    ]),
    reportCard('The catalog file has errors', 'catalog.yaml has 1 error, so nothing was changed.', ['catalog.yaml:3:5: catalogs[0].dispalyName: unknown field'], 'error', [{ title: 'Help', verb: 'help' }]),
    reportCard('Nothing', '', []),
  ],
  approvalRequest: [
    approvalCard(approvalContext, 0, NOW, { kind: 'pending' }).data,
    approvalCard(approvalContext, 0, NOW, { kind: 'pending' }, 'Escalated to you').data,
    approvalCard(approvalContext, 0, NOW, { kind: 'decided', decision, approverName: 'Nadia Okafor' }).data,
    approvalCard(approvalContext, 0, NOW, { kind: 'decided', decision: { ...decision, decision: 'deny' }, approverName: 'Nadia Okafor' }).data,
    approvalCard({ ...approvalContext, requester: null, request: { ...approvalContext.request, answers: [], justification: undefined } }, 0, NOW, { kind: 'timedOut' }).data,
    approvalCard(approvalContext, 0, NOW, { kind: 'canceled' }).data,
    approvalCard(
      {
        ...approvalContext,
        policy: makePolicy({ approval: { stages: [makeStage(), makeStage()] } }),
        request: { ...approvalContext.request, stages: [{ index: 0, approverIds: ['u-nadia'], startedAt: NOW, decision }, { index: 1, approverIds: ['u-victor'], startedAt: NOW }], currentStage: 1 },
        deciderNames: new Map([['u-nadia', 'Nadia Okafor']]),
      },
      1,
      NOW,
      { kind: 'pending' },
    ).data,
    adminAddCanceled,
  ],
};

const renderer = new CardRenderer();
const templates = readdirSync(CARDS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

describe('card templates', () => {
  it('every template in cards/ has sample data in this test', () => {
    expect(templates.filter((t) => !SAMPLES[t])).toEqual([]);
  });

  describe.each(templates)('%s', (template) => {
    it.each((SAMPLES[template] ?? []).map((data, i) => [i, data] as const))('renders sample %i to a valid Adaptive Card 1.5 under 80 KB', (_i, data) => {
      const card = renderer.render(template, data);
      expect(validateCard(card)).toEqual([]);
    });
  });

  it('the validator catches a broken card (so the checks above mean something)', () => {
    const problems = validateCard({
      type: 'AdaptiveCard',
      version: '1.4',
      body: [{ type: 'TextBlok', text: 'typo' }, { type: 'Input.Text' }, { type: 'TextBlock', text: 'x'.repeat(90 * 1024) }],
      actions: [{ type: 'Action.Execute', title: 'Go', verb: 'go', data: {} }],
    });
    expect(problems.join('\n')).toMatch(/Unknown element type "TextBlok"/);
    expect(problems.join('\n')).toMatch(/unique Id/);
    expect(problems.join('\n')).toMatch(/version is 1.4/);
    expect(problems.join('\n')).toMatch(/limit 81920/);
    expect(problems.join('\n')).toMatch(/must repeat its verb/);
    expect(problems.join('\n')).toMatch(/no Action.Submit fallback/);
  });

  it('the help card lists each command and a button per command verb', () => {
    const card = renderer.render('help', helpCard(CHAT_COMMANDS, false));
    const text = JSON.stringify(card);
    for (const command of CHAT_COMMANDS.filter((c) => !c.adminOnly)) expect(text).toContain(command.usage);
  });

  it('user text echoed in the unknown-command card is shortened', () => {
    const card = renderer.render('unknownCommand', unknownCommandCard('y'.repeat(500), CHAT_COMMANDS, false));
    expect(JSON.stringify(card)).not.toContain('y'.repeat(100));
    expect(JSON.stringify(card)).toContain('…');
  });

  it('the share link opens the bot chat with the request command typed in', () => {
    expect(packageDeepLink('11111111-2222-3333-4444-555555555555', 'audit-archive')).toBe(
      'https://teams.microsoft.com/l/chat/0/0?users=28:11111111-2222-3333-4444-555555555555&message=request%20audit-archive',
    );
    expect(packageDeepLink('', 'audit-archive')).toBe('');
    expect(cardTextOf(renderer.render('packageDetails', packageDetailsCard(details)))).toContain('Others can open it by typing **request accounting**.');
  });

  it('a later approver sees who approved the earlier step', () => {
    const card = renderer.render('approvalRequest', SAMPLES.approvalRequest![6]!);
    expect(cardTextOf(card)).toContain('Step 1 approved by Nadia Okafor on 22 Nov 2026 at 09:00 UTC: "Welcome aboard"');
  });

  it('the digest card has a Reprocess button per failed delivery shown, and says when a section is empty', () => {
    const full = renderer.render('adminDigest', SAMPLES.adminDigest![1]!);
    const reprocess = JSON.stringify(full).match(/"verb":"reprocess","id":"ASG-\d+"/g) ?? [];
    expect(reprocess).toHaveLength(2 * 10); // Action.Execute and its Action.Submit fallback, for the 10 shown
    const quiet = cardTextOf(renderer.render('adminDigest', SAMPLES.adminDigest![0]!));
    expect(quiet).toContain('All quiet');
    expect(quiet).toContain('Nothing expires in the next 7 days.');
    expect(quiet).toContain('No delivery has failed.');
    expect(quiet).toContain('No request is denied automatically in the next 2 days.');
    expect(quiet).toContain('No approval was escalated.');
  });

  it('My access gives each item whose extension goes to approval its own reason box', () => {
    const card = JSON.stringify(renderer.render('myAccess', SAMPLES.myAccess![2]!));
    expect(card.match(/"type":"Action.ShowCard","title":"Extend"/g)).toHaveLength(2);
    expect(card).toContain('"id":"justification:a1","label":"Why do you need it longer? (required)"');
    expect(card).toContain('"id":"justification:a2","label":"Why do you need it longer? (optional)"');
    expect(card).toContain('Extending asks the approvers to keep it until 17 Nov 2027 at 09:00 UTC.');
    // No approval: Extend acts at once, without a box.
    expect(card).toContain('"title":"Extend","verb":"extend","data":{"verb":"extend","assignmentId":"a3"}');
    expect(card).not.toContain('justification:a3');
  });

  it('an approver sees who an admin asks for, and an admin cancel says so', () => {
    const card = cardTextOf(renderer.render('approvalRequest', adminAddCanceled));
    expect(card).toContain('Ivan Petrov asks for Fred Jansen');
    expect(card).toContain('Accountant · Finance'); // about Fred, not Ivan
    expect(card).toContain('Canceled by an administrator.');
  });

  it('the assign form keeps what was typed and shows each problem by its field', () => {
    const card = renderer.render('adminAssignForm', SAMPLES.adminAssignForm![2]!);
    const text = cardTextOf(card);
    expect(text).toContain('Fred Jansen already has "Accounting".');
    expect(text).toContain('A justification is required to skip approval.');
    expect(text).toContain('Please fix the highlighted fields and assign again.');
    expect(text).toContain('A cost centre is four digits.');
    expect(text).toMatch(/at the latest\.\nToo late\.$/); // next to the dates
    expect(JSON.stringify(card)).toContain('"id":"skipApproval","title":"Skip approval (needs a justification; recorded in the audit log)","valueOn":"true","valueOff":"false","value":"true"');
    // Without approval there is nothing to skip, and one policy needs no "Other policy" button.
    const direct = JSON.stringify(renderer.render('adminAssignForm', SAMPLES.adminAssignForm![1]!));
    expect(direct).not.toContain('skipApproval');
    expect(direct).not.toContain('Other policy');
  });

  it("the request form's text inputs carry the format check the client can run, and the hint as placeholder", () => {
    const card = renderer.render('requestForm', SAMPLES.requestForm![0]!);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const AC = require('adaptivecards/dist/adaptivecards.js');
    const parsed = new AC.AdaptiveCard();
    parsed.parse(card, new AC.SerializationContext());
    const input = (id: string) => parsed.getElementById(id) as { regex?: string; placeholder?: string; errorMessage?: string; maxLength?: number };
    expect(input('answer:costCentre')).toMatchObject({ regex: '^\\s*(?:[0-9]{4})\\s*$', placeholder: 'Four digits, e.g. 4100', errorMessage: 'Four digits, e.g. 4100' });
    // The client's own check, as the Adaptive Cards renderer runs it on each value.
    const clientCheck = (value: string) => new RegExp(input('answer:costCentre').regex!, 'g').test(value);
    expect(['4100', ' 4100 ', '41', '41000'].map(clientCheck)).toEqual([true, true, false, false]);
    // Only the server checks a pattern RegExp may backtrack on; the hint is still shown.
    expect(input('answer:words').regex).toBeUndefined();
    expect(input('answer:words').placeholder).toBe('Letters, digits and single spaces');
    // No regex, no hint: neither property is sent.
    expect(input('answer:notes').regex).toBeUndefined();
    const notes = JSON.stringify(card).match(/\{[^{}]*"id":"answer:notes"[^{}]*\}/)![0];
    expect(notes).not.toContain('"regex"');
    expect(input('answer:notes').maxLength).toBe(4000);
  });

  it('a failure card says what happened and what to do, and Try again resends the same data where retrying can help', () => {
    const [directory, refused, , unexpected, huge] = SAMPLES.failure!.map((data) => renderer.render('failure', data));
    expect(cardTextOf(directory)).toBe(
      "I couldn't reach the directory\nMicrosoft Entra ID, where I look up people and groups, didn't answer just now, so I couldn't finish this. Try again in a minute. Anything that already went through is kept and won't be done twice. If it keeps failing, tell your IT admin.\nReference: ERR-7K3M9QX2",
    );
    expect(directory!.actions).toEqual([
      {
        type: 'Action.Execute',
        title: 'Try again',
        verb: 'submitRequest',
        data: { verb: 'submitRequest', packageId: 'accounting', policyId: 'employees', justification: 'month end', 'answer:costCentre': '4100' },
        fallback: { type: 'Action.Submit', title: 'Try again', data: { verb: 'submitRequest', packageId: 'accounting', policyId: 'employees', justification: 'month end', 'answer:costCentre': '4100' } },
      },
    ]);
    expect(refused!.actions).toEqual([]);
    expect(cardTextOf(unexpected)).toMatch(/^Something went wrong on my side\n/);
    expect(huge!.actions).toEqual([]);
  });

  it('refuses a template name that could escape cards/', () => {
    expect(() => renderer.render('../package', {})).toThrow(/invalid card template name/);
  });
});
