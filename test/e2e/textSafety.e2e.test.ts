/**
 * @jest-environment-options {"globalsCleanup": "off"}
 */
// Nothing a user types can deceive another, end to end: a requester whose directory name, job
// title and department are hostile sends a hostile justification and answers through the real
// /api/messages endpoint; the approver's card, as the notifier posts it to the (loopback)
// connector, is rendered by a Teams-like renderer (adaptivecards + markdown-it) and shows all of
// it as text. The approver's hostile reason reaches the requester the same way. The admin's
// markdown in the package description still renders as markdown.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import type { RunningApp } from '../../src/app';
import { cardOf } from '../support/botHarness';
import { HOSTILE_BLOCK, HOSTILE_TEXT, renderCard, textProblems } from '../support/cardRendering';
import { validateCard } from '../support/cardValidation';
import { LoopbackConnector } from '../support/loopbackConnector';
import { drainTasks, postActivity, startTestApp } from '../support/testApp';
import { personalActivity } from '../support/teamsActivity';

const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };

// The directory holds what the requester's profile says (HR sync, or a self-service profile).
const MALLORY = {
  id: 'u-mallory',
  displayName: `Mallory ${HOSTILE_TEXT.slice(0, 120)}`,
  userPrincipalName: 'mallory@example.com',
  jobTitle: '**CISO** [verified](https://evil.example/badge) \u202Etsil-etihw',
  department: '<at>IT Security</at> # Approvals',
};
const APPROVER = { id: 'u-nadia', displayName: 'Nadia Okafor', userPrincipalName: 'nadia@example.com' };
const DESCRIPTION = 'For **operators**: see [the runbook](https://intranet.example.com/runbook).';

const DIRECTORY = stringify({
  users: [MALLORY, APPROVER],
  groups: [{ id: 'grp-ops', displayName: 'Ops team' }],
});
const CATALOG = stringify({
  catalogs: [{ id: 'ops', displayName: 'Operations', resources: [{ id: 'ops-team', type: 'group', originId: 'grp-ops', displayName: 'Ops team' }] }],
  accessPackages: [
    {
      id: 'ops',
      catalog: 'ops',
      displayName: 'Ops access',
      description: DESCRIPTION,
      resourceRoles: [{ resource: 'ops-team', role: 'member' }],
      policies: [
        {
          id: 'staff',
          displayName: 'Staff',
          allowedRequestors: { scope: 'allMemberUsers' },
          approval: { required: true, requestorJustificationRequired: true, stages: [{ approvers: [{ user: APPROVER.id }], approverJustificationRequired: true }] },
          questions: [
            { id: 'plan', text: 'What will you do with it?', type: 'longText', required: true },
            { id: 'ticket', text: 'Ticket', type: 'text', required: true },
          ],
        },
      ],
    },
  ],
});

interface Person {
  aadObjectId: string;
  name: string;
}
const mallory: Person = { aadObjectId: MALLORY.id, name: 'Mallory' };
const nadia: Person = { aadObjectId: APPROVER.id, name: APPROVER.displayName };

describe('hostile text through the real flow is shown as text (/api/messages, notifier, loopback connector)', () => {
  let dir: string;
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'text-safety-e2e-'));
    await writeFile(path.join(dir, 'directory.yaml'), DIRECTORY);
    await writeFile(path.join(dir, 'catalog.yaml'), CATALOG);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    connector = new LoopbackConnector();
    await connector.start();
    app = await startTestApp({ TENANT_ID: TENANT, CATALOG_FILE: path.join(dir, 'catalog.yaml'), LOCAL_DIRECTORY_FILE: path.join(dir, 'directory.yaml') });
  });

  afterEach(async () => {
    try {
      await app?.close();
    } finally {
      await connector.stop();
    }
  });

  function activity(person: Person, extra: Record<string, unknown>) {
    return personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, person, extra);
  }

  async function press(person: Person, data: Record<string, unknown>): Promise<Record<string, unknown>> {
    const response = await postActivity(app.baseUrl, activity(person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }));
    expect(response.status).toBe(200);
    const card = (response.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return card;
  }

  /** Cards posted to a person's chat (the one the bot created for them, or their own). */
  function cardsTo(person: Person): Record<string, unknown>[] {
    const created = connector.calls.filter((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[] | undefined)?.[0]?.id === person.aadObjectId).map((c) => c.responseId);
    const theirs = new Set([`a:personal-${person.aadObjectId}`, ...created]);
    return connector.calls.filter((c) => c.method === 'POST' && c.conversationId && theirs.has(c.conversationId) && cardOf(c.body)).map((c) => cardOf(c.body)!);
  }

  async function drain(): Promise<void> {
    await drainTasks(app, () => app.taskRunner.run());
  }

  it("the requester's name, job title, department, justification and answers reach the approver as text; the approver's reason reaches the requester as text", async () => {
    await postActivity(app.baseUrl, activity(mallory, { type: 'message', text: 'help' }));
    const submitted = await press(mallory, { verb: 'submitRequest', packageId: 'ops', policyId: 'staff', justification: HOSTILE_BLOCK, 'answer:plan': HOSTILE_BLOCK, 'answer:ticket': HOSTILE_TEXT });
    expect(textProblems(renderCard(submitted), ['Request sent for approval'])).toEqual([]);
    await drain();

    const [approverCard] = cardsTo(nadia);
    expect(approverCard).toBeDefined();
    expect(validateCard(approverCard!)).toEqual([]);
    const shownToApprover = renderCard(approverCard!);
    expect(textProblems(shownToApprover, [MALLORY.displayName, MALLORY.jobTitle, MALLORY.department, HOSTILE_BLOCK, HOSTILE_TEXT])).toEqual([]);
    // The examples: no link to approve elsewhere, no bold line that looks like ours.
    expect(shownToApprover.root.querySelector('a')).toBeNull();
    expect(shownToApprover.root.querySelector('strong, b')).toBeNull();
    expect(shownToApprover.text).toContain('[Approve here](https://evil.example/approve)');
    expect(shownToApprover.text).toContain('**Manager pre-approval:** ✅ granted by the CISO');

    const reason = 'Not like this.\n**IT update:** your access was granted, see [the portal](https://evil.example/portal) \u202Eevah';
    const decided = await press(nadia, { verb: 'decide', requestId: (await app.repositories.requests.listForUser(mallory.aadObjectId))[0]!.id, stage: 0, decision: 'deny', justification: reason });
    expect(textProblems(renderCard(decided), [reason, MALLORY.displayName])).toEqual([]);
    await drain();

    const denial = cardsTo(mallory).map(renderCard).find((c) => c.text.startsWith('Denied: Ops access'));
    expect(denial).toBeDefined();
    expect(textProblems(denial!, [reason])).toEqual([]);
    // The reason is one line inside our sentence: it can't add a line that looks like ours.
    expect(denial!.text).toContain('Nadia Okafor denied your request');
    expect(Array.from(denial!.root.querySelectorAll('.ac-textRun')).map((run) => run.textContent)).toEqual([
      'Denied: Ops access',
      expect.stringMatching(/^Nadia Okafor denied your request REQ-\w+\. Their reason: "Not like this\. \*\*IT update:\*\* your access was granted, see \[the portal\]\(https:\/\/evil\.example\/portal\) evah"$/),
    ]);
    const myRequests = renderCard(await press(mallory, { verb: 'myRequests' }));
    expect(textProblems(myRequests, [reason])).toEqual([]);
  });

  it("the admin's markdown in a package description still renders as markdown", async () => {
    const details = renderCard(await press(mallory, { verb: 'details', packageId: 'ops' }));
    expect(details.root.querySelector('strong')?.textContent).toBe('operators');
    expect(details.root.querySelector('a[href="https://intranet.example.com/runbook"]')?.textContent).toBe('the runbook');
  });
});
