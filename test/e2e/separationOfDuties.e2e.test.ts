import { rmSync } from 'node:fs';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { cardOf, cardText } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { LoopbackConnector } from '../support/loopbackConnector';
import { SOD_PEOPLE, SodDirectory, writeSodWorld } from '../support/sodWorld';
import { personalActivity } from '../support/teamsActivity';
import { drainTasks, postActivity, REPO_ROOT, startTestApp } from '../support/testApp';

// Separation of duties end to end through the real /api/messages endpoint (issue 14): two
// incompatible packages asked for at the same instant, and a conflict that arrives outside the
// bot while a request waits for its start, caught just before delivery.
const TENANT = '00000000-0000-0000-0000-0000000000001';
const BOT = { id: '28:bot', name: 'Access Packages' };
type Person = { aadObjectId: string; name: string };

describe('separation of duties through /api/messages', () => {
  let connector: LoopbackConnector;
  let app: Awaited<ReturnType<typeof startTestApp>> | undefined;
  let worldDir: string | undefined;

  beforeEach(async () => {
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterEach(async () => {
    try {
      await app?.close();
    } finally {
      app = undefined;
      await connector.stop();
      if (worldDir) rmSync(worldDir, { recursive: true, force: true });
      worldDir = undefined;
    }
  });

  async function press(person: Person, data: Record<string, unknown>): Promise<string> {
    const response = await postActivity(
      app!.baseUrl,
      personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, person, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' } }),
    );
    expect(response.status).toBe(200);
    const card = (response.body as { value: Record<string, unknown> }).value;
    expect(validateCard(card)).toEqual([]);
    return cardText(card);
  }

  it('the example catalog: Nadia asks for Accounting and the executive expense reports at the same instant; one is accepted, the other refused', async () => {
    app = await startTestApp({ TENANT_ID: TENANT }, { directory: await LocalDirectory.open({ file: `${REPO_ROOT}/examples/directory.yaml` }) });
    const nadia = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
    const answers = await Promise.all([
      press(nadia, { verb: 'submitRequest', packageId: 'accounting', policyId: 'employees', justification: 'Covering the close', 'answer:costCentre': '4100' }),
      press(nadia, { verb: 'submitRequest', packageId: 'expenses-executive', policyId: 'executive-office', justification: 'Quarter close' }),
    ]);
    expect(answers.filter((t) => t.includes('Request sent for approval'))).toHaveLength(1);
    expect(answers.filter((t) => t.includes('the two are incompatible (separation of duties)'))).toHaveLength(1);
    const open = await app.repositories.requests.listOpenForUser(nadia.aadObjectId);
    expect(open).toHaveLength(1);
  });

  it('joined an incompatible group outside the bot before the chosen start: checked again at the start, nothing delivered, the requester told in chat', async () => {
    const world = writeSodWorld();
    worldDir = world.dir;
    const directory = await SodDirectory.load(world.directoryFile);
    app = await startTestApp({ TENANT_ID: TENANT, CATALOG_FILE: world.catalogFile, LOCAL_DIRECTORY_FILE: world.directoryFile, TEAMS_SERVICE_URL: connector.serviceUrl }, { directory });
    const { fred } = SOD_PEOPLE;
    const answer = await press(fred, { verb: 'submitRequest', packageId: 'audit', policyId: 'all', justification: 'Year-end audit', startDate: '2026-11-25' });
    expect(answer).toContain('Audit');
    const [request] = await app.repositories.requests.listForUser(fred.aadObjectId);
    expect(request!.state).toBe('scheduled');

    // Added to Executives directly in Entra: no bot step can serialise that, the last check catches it.
    await directory.addGroupRole('g-exec', fred.aadObjectId, 'member');
    app.clock.set('2026-11-25T00:00:01Z');
    await drainTasks(app, () => app!.taskRunner.run());

    expect(await app.repositories.requests.get(request!.id)).toMatchObject({ state: 'denied', endReason: { rule: 'separationOfDuties', checkedAt: 'delivery', conflict: { kind: 'group', id: 'g-exec' } } });
    expect(await directory.hasGroupRole('g-audit', fred.aadObjectId, 'member')).toBe(false);
    expect(await app.repositories.assignments.listActiveForUser(fred.aadObjectId)).toEqual([]);
    const toFred = connector.calls.filter((c) => c.method === 'POST' && c.conversationId === `a:personal-${fred.aadObjectId}` && cardOf(c.body)).map((c) => cardText(cardOf(c.body)));
    expect(toFred.join('\n')).toContain(`Request ${request!.id} was checked again just before delivery and can no longer be granted: you are now a member of "Executives", which is incompatible with this package (separation of duties). It has ended and nothing was delivered.`);
  });
});
