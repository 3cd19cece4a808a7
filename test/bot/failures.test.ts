// A card action or message that fails (directory down or refusing, store down, any exception)
// is answered in plain words with what to do next, never with a bare HTTP 501 or internal
// detail, and logged once. TestAdapter level; the e2e counterpart is in
// test/e2e/selfService.e2e.test.ts ("a failing directory").

import { TestAdapter } from 'botbuilder';
import { DirectoryError } from '../../src/directory/port';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import { type BotHarness, EXAMPLE_DIRECTORY, cardButtons, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { FaultyDirectory } from '../support/faultyDirectory';
import { FaultyStore } from '../support/faultyStore';
import { memoryLogger } from '../support/silentLogger';

const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const alex: TeamsUser = { aadObjectId: '00000000-0000-0000-0000-0000000000020', name: 'Alex Wilber' };
const SUBMIT = { packageId: 'accounting', policyId: 'employees', justification: 'I joined the accounting team', 'answer:costCentre': '4100' };

// What Graph and the driver really say: none of it may reach the person.
const GRAPH_DOWN = () => new DirectoryError('unavailable', "Graph could not read user 'u-fred' (503 serviceNotAvailable: upstream connect error)");
const INTERNALS = /Graph could not|serviceNotAvailable|ECONNREFUSED|27017|TypeError|at .*\.ts|stack|undefined/;

const DIRECTORY_METHODS = ['getUser', 'getManager', 'getGroup', 'getServicePrincipal', 'checkMemberGroups', 'listTransitiveGroupMembers'] as const;

describe('failures are answered in words (TestAdapter)', () => {
  let h: BotHarness;
  let directory: FaultyDirectory;
  let store: FaultyStore;
  let log: ReturnType<typeof memoryLogger>;

  beforeEach(async () => {
    log = memoryLogger();
    directory = new FaultyDirectory(await LocalDirectory.open({ file: EXAMPLE_DIRECTORY }));
    store = new FaultyStore(await openEmbeddedStore({}));
    h = await createBotHarness({ exampleCatalog: true, directory, store, logger: log.logger });
  });

  afterEach(() => h.close());

  function directoryFails(error: () => Error) {
    for (const method of DIRECTORY_METHODS) directory.fail(method, error, 1000);
  }

  /** Presses a button (Action.Execute): the invoke response as Teams receives it. */
  async function press(user: TeamsUser, verb: string, data: Record<string, unknown>) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
    const response = h.lastInvokeResponse();
    expect(response?.status).toBe(200);
    const body = response!.body as { statusCode: number; type: string; value: Record<string, unknown> };
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(validateCard(body.value)).toEqual([]);
    return { card: body.value, text: cardText(body.value), buttons: cardButtons(body.value) };
  }

  async function counts() {
    return {
      requests: await h.store.collection('requests').count({}),
      tasks: await h.store.collection('tasks').count({}),
      auditEvents: await h.store.collection('auditEvents').count({}),
    };
  }

  function errorLines() {
    return log.lines().filter((line) => line.level === 50);
  }

  it('directory unavailable: a card saying so and what to do, a Try again button with the same answers; logged once; nothing stored', async () => {
    const before = await counts();
    directoryFails(GRAPH_DOWN);
    const { card, text, buttons } = await press(fred, 'submitRequest', SUBMIT);
    expect(text).toContain("I couldn't reach the directory");
    expect(text).toContain('Try again in a minute.');
    expect(text).toContain('If it keeps failing, tell your IT admin.');
    expect(text).not.toMatch(INTERNALS);
    expect(buttons).toEqual(['Try again']);

    const [line, ...more] = errorLines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({ msg: 'turn failed; the user was told', failure: 'directoryUnavailable', activityType: 'invoke', verb: 'submitRequest', err: { type: 'DirectoryError' } });
    expect(text).toContain(`Reference: ${String(line!.reference)}`);
    expect(await counts()).toEqual(before);

    // Try again sends the same verb and answers; once the directory is back it goes through.
    const retry = (card.actions as { verb: string; data: Record<string, unknown> }[])[0]!;
    expect(retry).toMatchObject({ verb: 'submitRequest', data: { verb: 'submitRequest', ...SUBMIT } });
    directory.recover();
    const again = await press(fred, retry.verb, retry.data);
    expect(again.text).toContain('Request sent for approval');
    expect((await counts()).requests).toBe(before.requests + 1);
  });

  it('directory throttling reads the same to the person', async () => {
    directoryFails(() => new DirectoryError('throttled', 'Graph throttled the request to read user; retry after 30 s', 30_000));
    const { text } = await press(fred, 'packages', {});
    expect(text).toContain("I couldn't reach the directory");
    expect(errorLines()).toEqual([expect.objectContaining({ failure: 'directoryUnavailable', verb: 'packages' })]);
  });

  it('a permission the directory refuses: says retrying will not help, offers no Try again', async () => {
    directoryFails(() => new DirectoryError('forbidden', 'Graph refused GET /users/u-fred (403 Authorization_RequestDenied); grant User.Read.All'));
    const { text, buttons } = await press(fred, 'submitRequest', SUBMIT);
    expect(text).toContain("I'm not allowed to do that in the directory");
    expect(text).toContain("Trying again won't help");
    expect(text).not.toMatch(/Authorization_RequestDenied|User\.Read\.All/);
    expect(buttons).toEqual([]);
    expect(errorLines()).toEqual([expect.objectContaining({ failure: 'directoryRefused' })]);
  });

  it('store unavailable: a card saying my records could not be reached', async () => {
    store.fail();
    const { text, buttons } = await press(fred, 'submitRequest', SUBMIT);
    expect(text).toContain("I couldn't reach my records");
    expect(text).toContain('Try again in a minute.');
    expect(text).not.toMatch(INTERNALS);
    expect(buttons).toEqual(['Try again']);
    expect(errorLines()).toEqual([expect.objectContaining({ failure: 'storeUnavailable', err: expect.objectContaining({ type: 'StoreUnavailableError' }) })]);
    store.recover();
    expect(await counts()).toEqual({ requests: 0, tasks: 0, auditEvents: 0 });
  });

  it('any other exception: "something went wrong on my side", with a reference and no detail', async () => {
    directoryFails(() => new TypeError("Cannot read properties of undefined (reading 'displayName')"));
    const { text } = await press(fred, 'details', { packageId: 'accounting' });
    expect(text).toContain('Something went wrong on my side');
    expect(text).toMatch(/Reference: ERR-[0-9A-Z]{8}/);
    expect(text).not.toMatch(/displayName|Cannot read/);
    expect(errorLines()).toEqual([expect.objectContaining({ failure: 'unexpected', err: expect.objectContaining({ type: 'TypeError' }) })]);
  });

  it('Action.Submit (a message with the card data) gets the same card as a reply', async () => {
    directoryFails(GRAPH_DOWN);
    let reply: Record<string, unknown> | undefined;
    await h.adapter.send(personalMessage(fred, '', { value: { verb: 'submitRequest', ...SUBMIT } })).assertReply((activity) => {
      reply = cardOf(activity);
    });
    expect(validateCard(reply!)).toEqual([]);
    expect(cardText(reply)).toContain("I couldn't reach the directory");
    expect(cardButtons(reply)).toEqual(['Try again']);
    expect(errorLines()).toHaveLength(1);
  });

  it('a typed message gets a plain apology that says to try again', async () => {
    store.fail();
    await h.adapter.send(personalMessage(fred, 'my requests')).assertReply((activity) => {
      expect(activity.attachments ?? []).toEqual([]);
      expect(activity.text).toMatch(/^Sorry, I couldn't reach my records just now\. Please try again in a minute; if it keeps failing, tell your IT admin\. \(Reference: ERR-[0-9A-Z]{8}\)$/);
    });
    expect(errorLines()).toHaveLength(1);
  });

  it('after a failure the bot goes on answering, the same user and others', async () => {
    directoryFails(GRAPH_DOWN);
    expect((await press(fred, 'packages', {})).text).toContain("I couldn't reach the directory");
    directory.recover();
    expect((await press(alex, 'packages', {})).text).toContain('Accounting');
    expect((await press(fred, 'packages', {})).text).toContain('Accounting');
  });

  it('a shared card button in a channel is answered as a message, leaving the card for everyone', async () => {
    const channel = { conversation: { id: '19:channel@thread.tacv2', conversationType: 'channel', tenantId: '00000000-0000-0000-0000-000000000001', isGroup: true, name: '' } };
    store.fail();
    await h.adapter.processActivity(cardInvoke(fred, 'reprocess', { id: 'REQ-1' }, channel));
    const body = h.lastInvokeResponse()?.body as { statusCode: number; type: string; value: string };
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(body.value).toMatch(/^I couldn't reach my records\. My database didn't answer just now/);
  });
});

describe("the adapter's onTurnError (failures outside the handlers)", () => {
  it('answers a card action with the failure card instead of a bare 501, and a message with an apology', async () => {
    const log = memoryLogger();
    const h = await createBotHarness({ exampleCatalog: true, logger: log.logger });
    try {
      // As src/app.ts wires it, behind a middleware that fails (here: before the bot runs).
      const adapter = new TestAdapter(async (context) => h.bot.run(context));
      adapter.onTurnError = (context, error) => h.bot.answerTurnError(context, error);
      const sent: { type?: string; value?: unknown; text?: string }[] = [];
      adapter.use(async (context, next) => {
        context.onSendActivities(async (_ctx, activities, sendNext) => {
          sent.push(...activities);
          return sendNext();
        });
        await next();
      });
      adapter.use(async () => {
        throw new DirectoryError('unavailable', 'Graph could not check the tenant (no response: ETIMEDOUT)');
      });

      await adapter.processActivity(cardInvoke(fred, 'myRequests', {}));
      const invokeResponse = sent.find((a) => a.type === 'invokeResponse')?.value as { status: number; body: { type: string; value: unknown } };
      expect(invokeResponse.status).toBe(200);
      expect(invokeResponse.body.type).toBe('application/vnd.microsoft.card.adaptive');
      expect(cardText(invokeResponse.body.value)).toContain("I couldn't reach the directory");
      expect(cardText(invokeResponse.body.value)).not.toMatch(/ETIMEDOUT/);

      await adapter.processActivity(personalMessage(fred, 'help'));
      expect(sent.filter((a) => a.type === 'message').map((a) => a.text)).toEqual([expect.stringMatching(/^Sorry, I couldn't reach the directory \(Microsoft Entra ID\) just now\./)]);
      expect(log.lines().filter((line) => line.level === 50)).toHaveLength(2);
    } finally {
      await h.close();
    }
  });
});
