import type { RunningApp } from '../../src/app';
import { cardOf, cardText } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { LoopbackConnector } from '../support/loopbackConnector';
import { drainTasks, postActivity, startTestApp } from '../support/testApp';
import { personalActivity } from '../support/teamsActivity';

// Direct assignment end to end: an admin (ADMIN_USER_IDS) types "assign" in chat through the
// real /api/messages endpoint, fills the form with approval skipped, the scheduled work runs,
// the local directory gets the memberships, and the user's notice reaches the connector.
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };

interface Person {
  aadObjectId: string;
  name: string;
}
const ivan: Person = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' };
const fred: Person = { aadObjectId: 'u-fred', name: 'Fred Jansen' };

describe('an admin assigns a package directly, end to end through /api/messages', () => {
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string };

  beforeEach(async () => {
    connector = new LoopbackConnector();
    await connector.start();
    app = await startTestApp({ TENANT_ID: TENANT, ADMIN_USER_IDS: ivan.aadObjectId });
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

  /** A typed command; the bot's card comes back through the connector. */
  async function say(person: Person, text: string) {
    const since = connector.calls.length;
    expect((await postActivity(app.baseUrl, activity(person, { type: 'message', text, textFormat: 'plain' }))).status).toBe(200);
    const reply = connector.calls.slice(since).find((c) => c.method === 'POST' && cardOf(c.body));
    const card = cardOf(reply!.body)!;
    expect(validateCard(card)).toEqual([]);
    return { text: cardText(card), json: JSON.stringify(card) };
  }

  /** Action.Execute: the card comes back in the HTTP response. */
  async function press(person: Person, data: Record<string, unknown>) {
    const response = await postActivity(app.baseUrl, activity(person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }));
    expect(response.status).toBe(200);
    const card = (response.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return cardText(card);
  }

  async function drain(): Promise<void> {
    await drainTasks(app, () => app.taskRunner.run());
  }

  /** Card texts that reached Fred's chat (the bot opens one for him: he never wrote to it). */
  function cardsToFred(): string[] {
    const created = connector.calls.filter((c) => c.path === '/v3/conversations' && (c.body.members as { id: string }[] | undefined)?.[0]?.id === fred.aadObjectId).map((c) => c.responseId);
    return connector.calls.filter((c) => c.method === 'POST' && c.conversationId && created.includes(c.conversationId) && cardOf(c.body)).map((c) => cardText(cardOf(c.body)));
  }

  it('approval skipped with a justification: Fred gets the memberships and is told an admin gave them', async () => {
    expect(await app.directory.hasGroupRole('grp-finance', fred.aadObjectId, 'member')).toBe(false);

    const choose = await say(ivan, 'assign accounting');
    expect(choose.text).toContain('Assign Accounting');
    expect(choose.json).toContain('"verb":"adminAssignForm"');
    const form = await press(ivan, { verb: 'adminAssignForm', packageId: 'accounting', policyId: 'employees' });
    expect(form).toContain('Policy: Employees');

    const answer = await press(ivan, {
      verb: 'adminAssign',
      packageId: 'accounting',
      policyId: 'employees',
      user: 'fredj@example.com',
      skipApproval: 'true',
      justification: 'New joiner, first day',
      'answer:costCentre': '4100',
    });
    expect(answer).toContain('Assigned: Accounting to Fred Jansen');
    await drain();

    expect(await app.directory.hasGroupRole('grp-finance', fred.aadObjectId, 'member')).toBe(true);
    expect((await app.directory.listAppRoleAssignments('sp-accounting', fred.aadObjectId)).map((a) => a.appRoleId)).toEqual(['role-accounting-user']);
    const [request] = await app.repositories.requests.listForUser(fred.aadObjectId);
    expect(request).toMatchObject({ type: 'adminAdd', requesterId: 'u-ivan', state: 'delivered' });
    const audit = (await app.repositories.audit.query({ userId: fred.aadObjectId })).map((e) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['admin.assign', 'assignment.created', 'assignment.delivered']));
    expect(audit).not.toContain('approval.cardSent');

    const told = cardsToFred().join('\n');
    expect(told).toContain('You now have access: Accounting');
    expect(told).toContain('Ivan Petrov, an access package administrator, gave you this access.');
  });

  it('an employee who types assign is refused, and nothing is assigned', async () => {
    const reply = await say(fred, 'assign accounting');
    expect(reply.text).toContain('Only access package administrators can use assign.');
    expect(await app.repositories.requests.listForUser(fred.aadObjectId)).toEqual([]);
    expect((await app.repositories.audit.query()).filter((e) => e.action === 'admin.refused').map((e) => e.actorId)).toEqual(['u-fred']);
  });
});
