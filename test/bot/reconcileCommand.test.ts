import { type BotHarness, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';

// The admin command "reconcile": the ledger against the directory, answered in chat.
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' };
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };

describe('reconcile (admin command)', () => {
  let h: BotHarness;
  beforeEach(async () => (h = await createBotHarness({ exampleCatalog: true, adminUserIds: ['u-ivan'] })));
  afterEach(() => h.close());

  async function say(user: TeamsUser, text: string): Promise<string> {
    h.adapter.activeQueue.splice(0);
    await h.adapter.processActivity(personalMessage(user, text));
    const card = cardOf(h.adapter.activeQueue.splice(0).find((a) => cardOf(a)));
    expect(validateCard(card!)).toEqual([]);
    return cardText(card);
  }

  it('says there is no drift, then names the role removed outside the bot', async () => {
    await h.adapter.processActivity(cardInvoke(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' }));
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    const [request] = await h.repositories.requests.listForUser('u-fred');
    expect((await h.approvals.decide('u-nadia', { requestId: request!.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    expect((await h.repositories.requests.get(request!.id))!.state).toBe('delivered');

    expect(await say(ivan, 'reconcile')).toContain('No drift: the grant ledger matches the directory');
    // Someone takes Fred out of the Finance team in Entra, behind the bot's back.
    await h.directory.removeGroupRole('grp-finance', 'u-fred', 'member');
    const text = await say(ivan, 'reconcile');
    expect(text).toContain('Drift found: 1 (missingInDirectory)');
    expect(text).toContain(`missingInDirectory: user u-fred, grp-finance (member): held by ASG-${request!.id} but not in the directory`);
  });

  it('refuses a non-admin, audits it, and changes nothing', async () => {
    const before = await h.store.collection('grants').count({});
    expect(await say(fred, 'reconcile')).toMatch(/admin/i);
    expect((await h.repositories.audit.query({ limit: 100 })).filter((e) => e.action === 'admin.refused' && e.actorId === 'u-fred')).toHaveLength(1);
    expect(await h.store.collection('grants').count({})).toBe(before);
  });
});
