// Employee self-service end to end (issue 3, "Tests"): real HTTP POSTs of Bot Framework
// activities to the restify `/api/messages` endpoint, with `serviceUrl` pointing at a loopback
// connector that records what the bot sends. Same people and packages as
// test/bot/selfService.test.ts (examples/directory.yaml, examples/catalog.yaml).
//
// Both card transports are exercised:
// - Action.Execute: an `invoke` `adaptiveCard/action`; the next card is the HTTP response body
//   and nothing is POSTed to the connector;
// - Action.Submit (the fallback): a `message` whose `value` holds the card data and inputs; the
//   answer is POSTed to the connector as a reply to that activity.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { DirectoryError } from '../../src/directory/port';
import type { Assignment } from '../../src/domain/model';
import { TASK_TYPES } from '../../src/services/workflow';
import { cardButtons, cardOf, cardText } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { FaultyDirectory } from '../support/faultyDirectory';
import { LoopbackConnector, type RecordedCall } from '../support/loopbackConnector';
import { postActivity, REPO_ROOT, startTestApp } from '../support/testApp';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;
type Card = Record<string, unknown>;
type Data = Record<string, unknown>;
type Transport = 'execute' | 'submit';

/** `from` as Teams (and the Agents Playground) sends it: channel id, name, Entra object id. */
interface Sender {
  id: string;
  name: string;
  aadObjectId?: string;
}

const TENANT = '00000000-0000-0000-0000-000000000001';
const BOT = { id: '28:6f1c2e9a-0b7d-4c3e-9a51-bd2f8c7e4a10', name: 'Access Packages' };

function person(aadObjectId: string, name: string): Sender & { aadObjectId: string } {
  return { id: `29:1${aadObjectId}`, name, aadObjectId };
}

// People from examples/directory.yaml.
const fred = person('u-fred', 'Fred Jansen'); // member, All staff only: may request Accounting
const alex = person('00000000-0000-0000-0000-0000000000020', 'Alex Wilber'); // Finance team lead (the Playground user)
const nadia = person('u-nadia', 'Nadia Okafor'); // may request the executive expense reports
const nobody: Sender = { id: '29:1anonymous-client', name: 'Somebody' }; // no aadObjectId

const ACCOUNTING = { packageId: 'accounting', policyId: 'employees' };
const ACCOUNTING_INPUTS = { justification: 'I joined the accounting team', 'answer:costCentre': '4100' };
const VALID_ACCOUNTING = { ...ACCOUNTING, ...ACCOUNTING_INPUTS };
const EXECUTIVE = { packageId: 'expenses-executive', policyId: 'executive-office' };

/** A shown card, as the person reads it. */
interface Shown {
  card: Card;
  text: string;
  buttons: string[];
}

function shown(card: Card | undefined): Shown {
  expect(card).toBeDefined();
  expect(validateCard(card!)).toEqual([]);
  return { card: card!, text: cardText(card), buttons: cardButtons(card) };
}

function conversationOf(sender: Sender) {
  return { id: `a:1personal-${sender.id.slice(4)}`, conversationType: 'personal', tenantId: TENANT };
}

/** Every Action.Execute of a card (body and actions), wherever it sits. */
function executeActions(card: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(card)) card.forEach((node) => executeActions(node, found));
  else if (card && typeof card === 'object') {
    const node = card as Record<string, unknown>;
    if (node.type === 'Action.Execute') found.push(node);
    for (const [key, value] of Object.entries(node)) if (key !== 'fallback') executeActions(value, found);
  }
  return found;
}

function findButton(card: Card, verb: string, match: (data: Data) => boolean = () => true) {
  const action = executeActions(card).find((a) => a.verb === verb && match((a.data ?? {}) as Data));
  if (!action) throw new Error(`no "${verb}" button on the card: ${cardText(card)}`);
  const fallback = action.fallback as { type: string; data: Data } | undefined;
  // Every button has its Action.Submit fallback carrying the same data.
  expect(fallback?.type).toBe('Action.Submit');
  expect(fallback?.data).toEqual(action.data);
  return { data: action.data as Data, fallbackData: fallback!.data };
}

describe('employee self-service through POST /api/messages (real restify, loopback connector)', () => {
  let connector: LoopbackConnector;
  let app: TestApp | undefined;

  beforeAll(async () => {
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterAll(async () => {
    await connector?.stop();
  });

  beforeEach(async () => {
    app = await startTestApp();
  });

  afterEach(async () => {
    const running = app;
    app = undefined;
    await running?.close();
  });

  function running(): TestApp {
    if (!app) throw new Error('app not started');
    return app;
  }

  /** A realistic Teams activity in the sender's personal chat with the bot. */
  function activity(sender: Sender, fields: Record<string, unknown>) {
    const now = new Date();
    return {
      id: randomUUID(),
      timestamp: now.toISOString(),
      localTimestamp: now.toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: sender,
      recipient: BOT,
      conversation: conversationOf(sender),
      channelData: { tenant: { id: TENANT } },
      locale: 'en-US',
      ...fields,
    };
  }

  function callsFor(conversationId: string, since = 0): RecordedCall[] {
    return connector.calls.slice(since).filter((c) => c.conversationId === conversationId);
  }

  /** The one reply the bot POSTed for this activity: /v3/conversations/{id}/activities/{replyToId}. */
  function replyAtConnector(sent: ReturnType<typeof activity>, since: number): Shown & { call: RecordedCall } {
    const calls = callsFor(sent.conversation.id, since);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call).toMatchObject({ method: 'POST', conversationId: sent.conversation.id, activityId: sent.id });
    expect(call.path).toBe(`/v3/conversations/${encodeURIComponent(sent.conversation.id)}/activities/${encodeURIComponent(sent.id)}`);
    expect(call.body).toMatchObject({ type: 'message', replyToId: sent.id, conversation: { id: sent.conversation.id }, recipient: { id: sent.from.id } });
    return { ...shown(cardOf(call.body)), call };
  }

  /** The person types a chat message; the bot's card comes back through the connector. */
  async function say(sender: Sender, text: string): Promise<Shown> {
    const sent = activity(sender, { type: 'message', text, textFormat: 'plain' });
    const since = connector.calls.length;
    const response = await postActivity(running().baseUrl, sent);
    expect(response.status).toBe(200);
    return replyAtConnector(sent, since);
  }

  /** Action.Execute: the card comes back in the HTTP response, nothing goes to the connector. */
  async function execute(sender: Sender, verb: string, data: Data): Promise<Shown> {
    const sent = activity(sender, {
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
    });
    const since = connector.calls.length;
    const response = await postActivity(running().baseUrl, sent);
    expect(response.status).toBe(200);
    const body = response.body as { statusCode: number; type: string; value: Card };
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(callsFor(sent.conversation.id, since)).toHaveLength(0);
    return shown(body.value);
  }

  /** Action.Submit: a message with `value` and no text; the answer is POSTed to the connector. */
  async function submit(sender: Sender, value: Data): Promise<Shown> {
    const sent = activity(sender, { type: 'message', value });
    const since = connector.calls.length;
    const response = await postActivity(running().baseUrl, sent);
    expect(response.status).toBe(200);
    return replyAtConnector(sent, since);
  }

  /** Sends card data with the chosen transport (as if pressed on a card, or hand-made). */
  function send(transport: Transport, sender: Sender, verb: string, data: Data): Promise<Shown> {
    return transport === 'execute' ? execute(sender, verb, { verb, ...data }) : submit(sender, { verb, ...data });
  }

  /** Presses a button of a shown card, with the form's input values, as Teams does. */
  function press(transport: Transport, sender: Sender, card: Card, verb: string, options: { match?: (data: Data) => boolean; inputs?: Data } = {}): Promise<Shown> {
    const button = findButton(card, verb, options.match);
    return transport === 'execute'
      ? execute(sender, verb, { ...button.data, ...options.inputs })
      : submit(sender, { ...button.fallbackData, ...options.inputs });
  }

  async function stored() {
    const { store } = running();
    return {
      requests: await store.collection('requests').count({}),
      tasks: await store.collection('tasks').count({}),
      auditEvents: await store.collection('auditEvents').count({}),
    };
  }

  async function giveAssignment(userId: string, packageId: string, policyId: string, expiresAt?: Date): Promise<Assignment> {
    const now = running().clock.now();
    const assignment: Assignment = {
      id: `asg-${packageId}-${userId}`,
      packageId,
      policyId,
      userId,
      state: 'delivered',
      startAt: now,
      ...(expiresAt ? { expiresAt } : {}),
      roles: [],
      requestIds: [],
      createdAt: now,
      updatedAt: now,
    };
    await running().repositories.assignments.insert(assignment);
    return assignment;
  }

  // -----------------------------------------------------------------------------------------
  describe.each<[Transport, string]>([
    ['execute', 'Action.Execute (invoke; cards in the HTTP response)'],
    ['submit', 'Action.Submit fallback (message with value; cards POSTed to the connector)'],
  ])('the whole journey with %s buttons', (transport, label) => {
    it(`browse, search, details, form, request with answers, my requests, cancel — ${label}`, async () => {
      const { repositories, store } = running();
      const since = connector.calls.length;

      // Browse: typed, so the list arrives through the connector as a reply.
      const list = await say(fred, 'packages');
      expect(list.text).toContain('Access packages you can request');
      expect(list.text).toContain('Accounting');
      expect(list.text).toContain('1 package');
      expect(list.text).not.toContain('Payment run'); // Finance team only
      expect(list.text).not.toContain('Expense reports'); // executive office only
      expect(list.text).not.toContain('Audit access'); // hidden

      // Search typed, and with the card's search box.
      const typed = await say(fred, 'packages vat');
      expect(typed.text).toContain('1 package matching "vat"');
      expect(typed.text).toContain('Accounting');
      const none = await press(transport, fred, list.card, 'packages', { inputs: { text: 'zebra' } });
      expect(none.text).toContain('Nothing matches "zebra"');
      const found = await press(transport, fred, none.card, 'packages', { inputs: { text: 'accountants' } });
      expect(found.text).toContain('1 package matching "accountants"');

      // Details.
      const details = await press(transport, fred, found.card, 'details', { match: (d) => d.packageId === 'accounting' });
      expect(details.text).toContain('Finance team Member (Group)');
      expect(details.text).toContain('Accounting User (App)');
      expect(details.text).toContain('VAT returns VAT filer (App)');
      expect(details.text).toContain('Approval by a member of Finance approvers.');
      expect(details.text).toContain('Access lasts 180 days');
      expect(details.text).toContain('Justification Required');
      expect(details.buttons).toEqual(['Back to packages']);

      // The request form.
      const form = await press(transport, fred, details.card, 'requestForm', { match: (d) => d.packageId === 'accounting' });
      const formJson = JSON.stringify(form.card);
      expect(form.text).toContain('Request Accounting');
      expect(formJson).toContain('"id":"justification"');
      expect(formJson).toContain('"id":"answer:costCentre"');
      expect(formJson).toContain('"id":"startDate"');
      expect(formJson).toContain('"id":"endDate"');
      expect(await stored()).toEqual({ requests: 0, tasks: 0, auditEvents: 0 });

      // Send it, with the justification and the cost centre answer.
      const sent = await press(transport, fred, form.card, 'submitRequest', { inputs: ACCOUNTING_INPUTS });
      expect(sent.text).toContain('Request sent for approval');
      const [request, ...others] = await repositories.requests.listForUser('u-fred');
      expect(others).toHaveLength(0);
      expect(request).toMatchObject({
        type: 'add',
        packageId: 'accounting',
        policyId: 'employees',
        requesterId: 'u-fred',
        targetUserId: 'u-fred',
        state: 'pendingApproval',
        justification: 'I joined the accounting team',
        answers: [{ questionId: 'costCentre', value: '4100' }],
      });
      expect(sent.text).toContain(request!.id);
      expect(sent.text).toContain('Approval by a member of Finance approvers.');
      expect(await store.collection('tasks').findOne({ type: TASK_TYPES.startApproval })).toMatchObject({ payload: { requestId: request!.id }, state: 'pending' });
      expect((await repositories.audit.query({ userId: 'u-fred' })).map((e) => e.action)).toEqual(['request.submitted']);

      // The list now says it is asked for.
      expect((await say(fred, 'packages')).text).toContain('You have asked for this');

      // My requests: waiting, with a Cancel button for this request.
      const mine = await say(fred, 'my requests');
      expect(mine.text).toContain('Accounting');
      expect(mine.text).toContain('Waiting for approval');
      expect(mine.text).toContain(request!.id);

      // Cancel it.
      const canceled = await press(transport, fred, mine.card, 'cancelRequest', { match: (d) => d.requestId === request!.id });
      expect(canceled.text).toContain(`Request ${request!.id} for "Accounting" is canceled.`);
      expect(canceled.text).toContain('Canceled');
      expect(executeActions(canceled.card).some((a) => a.verb === 'cancelRequest')).toBe(false);
      expect((await repositories.requests.get(request!.id))!.state).toBe('canceled');
      expect(await store.collection('tasks').findOne({ type: TASK_TYPES.cancelApproval })).toMatchObject({ payload: { requestId: request!.id } });
      expect((await repositories.audit.query({ userId: 'u-fred' })).map((e) => e.action)).toEqual(['request.submitted', 'request.canceled']);

      // What reached the connector: one reply per typed message, and per Action.Submit; none per invoke.
      const posted = callsFor(conversationOf(fred).id, since);
      expect(posted.every((c) => c.method === 'POST')).toBe(true);
      expect(posted).toHaveLength(transport === 'execute' ? 4 : 4 + 6);
    });
  });

  // -----------------------------------------------------------------------------------------
  interface RefusalCase {
    sender: Sender;
    data: Data;
    setup?: () => Promise<void>;
    /** What the person reads: every entry must be on the card. */
    says: (string | RegExp)[];
    /** Invalid input shows the form again, answers kept. */
    form?: boolean;
  }

  const refusals: Record<string, RefusalCase> = {
    'not eligible (Fred asks for the executive expense reports)': {
      sender: fred,
      data: { ...EXECUTIVE, justification: 'please' },
      says: ["You can't request this package", `You can't request "Expense reports (executive)": it isn't open to you.`],
    },
    'package closed to new requests (its policy disabled)': {
      sender: fred,
      data: VALID_ACCOUNTING,
      setup: async () => {
        expect(await running().repositories.policies.setEnabled('accounting', 'employees', false)).toBe(true);
      },
      says: [`You can't request "Accounting": it isn't open to requests.`],
    },
    'catalog disabled': {
      sender: fred,
      data: VALID_ACCOUNTING,
      setup: async () => {
        expect(await running().repositories.catalogs.setEnabled('finance', false)).toBe(true);
      },
      says: ["This package isn't available", `You can't request "Accounting" right now: its catalog isn't open for requests.`],
    },
    'already has an active assignment': {
      sender: fred,
      data: VALID_ACCOUNTING,
      setup: async () => {
        await giveAssignment('u-fred', 'accounting', 'employees', new Date('2027-01-01T00:00:00Z'));
      },
      says: ['You already have this access', 'You already have "Accounting" until 1 Jan 2027.'],
    },
    'a pending request exists': {
      sender: fred,
      data: VALID_ACCOUNTING,
      setup: async () => {
        expect((await execute(fred, 'submitRequest', { verb: 'submitRequest', ...VALID_ACCOUNTING })).text).toContain('Request sent for approval');
      },
      says: ['You have already asked for this', /You already asked for "Accounting" on 22 Nov 2026 \(request REQ-[0-9A-Z]{8}\)\. It is waiting for approval\./],
    },
    'separation of duties (Nadia holds Accounting, asks for the executive expense reports)': {
      sender: nadia,
      data: { ...EXECUTIVE, justification: 'Quarter close' },
      setup: async () => {
        await giveAssignment('u-nadia', 'accounting', 'employees');
      },
      says: [`You can't request "Expense reports (executive)" while you have "Accounting": the two are incompatible (separation of duties).`],
    },
    'justification missing': {
      sender: fred,
      data: { ...VALID_ACCOUNTING, justification: '   ' },
      says: ['A justification is required: say why you need this access.'],
      form: true,
    },
    'answer failing its regex': {
      sender: fred,
      data: { ...VALID_ACCOUNTING, 'answer:costCentre': '41' },
      says: ['A cost centre is four digits, e.g. 4100'],
      form: true,
    },
    'schedule outside the policy (end date too late)': {
      sender: fred,
      data: { ...VALID_ACCOUNTING, endDate: '2027-12-31' },
      says: ['Access to this package can last at most 180 days: choose an earlier end date.'],
      form: true,
    },
    'text too long (justification of 1001 characters)': {
      sender: fred,
      data: { ...VALID_ACCOUNTING, justification: 'x'.repeat(1001) },
      says: ['Your justification can be at most 1000 characters; yours has 1001.'],
      form: true,
    },
  };

  describe.each<Transport>(['execute', 'submit'])('each refusal says why and stores nothing (%s)', (transport) => {
    it.each(Object.keys(refusals))('%s', async (name) => {
      const refusal = refusals[name]!;
      await refusal.setup?.();
      const before = await stored();
      const answer = await send(transport, refusal.sender, 'submitRequest', refusal.data);
      for (const expected of refusal.says) {
        if (typeof expected === 'string') expect(answer.text).toContain(expected);
        else expect(answer.text).toMatch(expected);
      }
      if (refusal.form) {
        expect(answer.text).toContain('Please fix the highlighted answers and send the request again.');
        const button = findButton(answer.card, 'submitRequest');
        expect(button.data).toMatchObject({ packageId: refusal.data.packageId, policyId: refusal.data.policyId });
        // The answers are kept on the form.
        const justification = String(refusal.data.justification).trim();
        if (justification) expect(JSON.stringify(answer.card)).toContain(justification.slice(0, 50));
      } else {
        expect(executeActions(answer.card).some((a) => a.verb === 'submitRequest')).toBe(false);
      }
      expect(await stored()).toEqual(before);
    });
  });

  // -----------------------------------------------------------------------------------------
  describe('identity comes from from.aadObjectId only', () => {
    const impostorFields = {
      userId: 'u-nadia',
      aadObjectId: 'u-nadia',
      requesterId: 'u-nadia',
      targetUserId: 'u-nadia',
      from: { id: nadia.id, aadObjectId: 'u-nadia', name: 'Nadia Okafor' },
    };

    it.each<Transport>(['execute', 'submit'])('card data naming another user still acts as the sender (%s)', async (transport) => {
      const { repositories } = running();
      // Fred's card says it is Nadia's: the request is Fred's.
      const ok = await send(transport, fred, 'submitRequest', { ...VALID_ACCOUNTING, ...impostorFields });
      expect(ok.text).toContain('Request sent for approval');
      const [request] = await repositories.requests.listForUser('u-fred');
      expect(request).toMatchObject({ requesterId: 'u-fred', targetUserId: 'u-fred', packageId: 'accounting' });
      expect(await repositories.requests.listForUser('u-nadia')).toHaveLength(0);
      expect((await repositories.audit.query({ userId: 'u-fred' })).map((e) => [e.action, e.actorId])).toEqual([['request.submitted', 'u-fred']]);
      expect(await repositories.audit.query({ userId: 'u-nadia' })).toHaveLength(0);

      // Nadia may request the executive expense reports; Fred pretending to be her may not.
      const before = await stored();
      const refused = await send(transport, fred, 'submitRequest', { ...EXECUTIVE, justification: 'Quarter close', ...impostorFields });
      expect(refused.text).toContain(`You can't request "Expense reports (executive)": it isn't open to you.`);
      expect(await stored()).toEqual(before);

      // Nor can Alex cancel Fred's request by naming it and claiming to be Fred.
      const foreign = await send(transport, alex, 'cancelRequest', { requestId: request!.id, userId: 'u-fred', from: { aadObjectId: 'u-fred' } });
      expect(foreign.text).toContain(`You have no request ${request!.id}`);
      expect((await repositories.requests.get(request!.id))!.state).toBe('pendingApproval');
      expect(await stored()).toEqual(before);
    });

    it('an activity without aadObjectId gets "I can\'t tell who you are", on every path, and stores nothing', async () => {
      const { repositories } = running();
      const before = await stored();
      const who = "I can't tell who you are";
      expect((await say(nobody, 'packages')).text).toContain(who);
      expect((await say(nobody, 'my requests')).text).toContain(who);
      const invoked = await execute(nobody, 'submitRequest', { verb: 'submitRequest', ...VALID_ACCOUNTING, aadObjectId: 'u-fred' });
      expect(invoked.text).toContain(who);
      expect(invoked.text).toContain('arrived without your Microsoft Entra identity');
      expect((await submit(nobody, { verb: 'submitRequest', ...VALID_ACCOUNTING, aadObjectId: 'u-fred' })).text).toContain(who);
      expect(await stored()).toEqual(before);
      expect(await repositories.requests.listForUser('u-fred')).toHaveLength(0);
      // No conversation reference is kept for an unidentified sender either.
      expect(await running().store.collection('conversationReferences').count({})).toBe(0);
    });
  });

  // -----------------------------------------------------------------------------------------
  describe.each<Transport>(['execute', 'submit'])('Mongo operator objects in card data (%s)', (transport) => {
    it('are refused with a clear message and store nothing', async () => {
      const { repositories } = running();
      // An existing request, which an operator matching "any id" would reach.
      await execute(fred, 'submitRequest', { verb: 'submitRequest', ...VALID_ACCOUNTING });
      const [request] = await repositories.requests.listForUser('u-fred');
      expect(request!.state).toBe('pendingApproval');
      const before = await stored();
      const op = { $gt: '' };

      expect((await send(transport, fred, 'details', { packageId: op })).text).toContain('That card did not say which access package it is about.');
      expect((await send(transport, fred, 'requestForm', { packageId: op, policyId: 'employees' })).text).toContain('That card did not say which access package it is about.');
      expect((await send(transport, fred, 'submitRequest', { ...VALID_ACCOUNTING, packageId: op })).text).toContain(
        'That form is incomplete or was altered: it does not say which package and policy it is for.',
      );
      expect((await send(transport, fred, 'submitRequest', { ...VALID_ACCOUNTING, policyId: { $ne: null } })).text).toContain(
        'does not say which package and policy it is for',
      );
      // On another package, so the check that refuses is the justification's, not "already asked".
      const badJustification = await send(transport, alex, 'submitRequest', { ...VALID_ACCOUNTING, justification: op });
      expect(badJustification.text).toContain('The justification must be text.');
      expect(badJustification.text).not.toContain('[object Object]');
      expect((await send(transport, alex, 'submitRequest', { ...VALID_ACCOUNTING, 'answer:costCentre': op })).text).toContain(
        'The answer to "What is your cost centre?" must be text.',
      );
      expect((await send(transport, fred, 'cancelRequest', { requestId: op })).text).toContain('That card did not say which request to cancel.');
      expect((await send(transport, fred, 'cancelRequest', { requestId: '$where' })).text).toContain('That card did not say which request to cancel.');

      expect(await stored()).toEqual(before);
      expect((await repositories.requests.get(request!.id))!.state).toBe('pendingApproval');
      expect(await repositories.requests.listForUser(alex.aadObjectId)).toHaveLength(0);
    });
  });

  // -----------------------------------------------------------------------------------------
  describe('a replayed submit activity stores one request', () => {
    it('the same Action.Submit message (same activity id) posted twice', async () => {
      const { repositories } = running();
      const sent = activity(fred, { type: 'message', value: { verb: 'submitRequest', ...VALID_ACCOUNTING } });
      const since = connector.calls.length;
      expect((await postActivity(running().baseUrl, sent)).status).toBe(200);
      expect((await postActivity(running().baseUrl, sent)).status).toBe(200);

      const replies = callsFor(sent.conversation.id, since);
      expect(replies).toHaveLength(2);
      expect(replies.every((c) => c.activityId === sent.id)).toBe(true);
      const [first, second] = replies.map((c) => cardText(cardOf(c.body)));
      expect(first).toContain('Request sent for approval');
      expect(second).toContain('You already asked for "Accounting"');
      expect(await repositories.requests.listForUser('u-fred')).toHaveLength(1);
      expect(await stored()).toEqual({ requests: 1, tasks: 1, auditEvents: 1 });
    });

    it('the same Action.Execute invoke (same activity id) posted twice at once', async () => {
      const { repositories } = running();
      const sent = activity(fred, {
        type: 'invoke',
        name: 'adaptiveCard/action',
        value: { action: { type: 'Action.Execute', verb: 'submitRequest', data: { verb: 'submitRequest', ...VALID_ACCOUNTING } }, trigger: 'manual' },
      });
      const since = connector.calls.length;
      const responses = await Promise.all([postActivity(running().baseUrl, sent), postActivity(running().baseUrl, sent)]);
      const texts = responses.map((r) => {
        expect(r.status).toBe(200);
        return cardText((r.body as { value: Card }).value);
      });
      expect(texts.filter((t) => t.includes('Request sent for approval'))).toHaveLength(1);
      expect(texts.filter((t) => t.includes('You already asked for "Accounting"'))).toHaveLength(1);
      expect(callsFor(sent.conversation.id, since)).toHaveLength(0);
      expect(await repositories.requests.listForUser('u-fred')).toHaveLength(1);
      expect(await stored()).toEqual({ requests: 1, tasks: 1, auditEvents: 1 });
    });
  });

  // -----------------------------------------------------------------------------------------
  describe('a catalog question with a catastrophic regex', () => {
    // ^([a-zA-Z0-9]+\s?)*$ with JavaScript's RegExp: seconds per hostile answer, every user
    // frozen meanwhile. Answers are checked with RE2 now (linear time).
    let dir = '';

    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'catalog-regex-'));
      const file = path.join(dir, 'catalog.yaml');
      const text = (await readFile(path.join(REPO_ROOT, 'examples', 'catalog.yaml'), 'utf8')).replace('regex: "^[0-9]{4}$"', () => "regex: '^([a-zA-Z0-9]+\\s?)*$'");
      expect(text).toContain("regex: '^([a-zA-Z0-9]+\\s?)*$'");
      await writeFile(file, text);
      await running().close();
      app = await startTestApp({ CATALOG_FILE: file });
    });

    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('refuses a hostile answer quickly, stores nothing, and answers another user at the same time', async () => {
      const hostile = activity(fred, {
        type: 'invoke',
        name: 'adaptiveCard/action',
        value: { action: { type: 'Action.Execute', verb: 'submitRequest', data: { verb: 'submitRequest', ...ACCOUNTING, justification: 'x', 'answer:costCentre': 'a'.repeat(999) + '!' } }, trigger: 'manual' },
      });
      const started = performance.now();
      const [refused, other] = await Promise.all([postActivity(running().baseUrl, hostile), say(alex, 'my requests')]);
      // Both whole HTTP round trips, generously bounded; the regex check itself is about 1 ms.
      expect(performance.now() - started).toBeLessThan(2000);
      expect(refused.status).toBe(200);
      expect(shown((refused.body as { value: Card }).value).text).toContain('A cost centre is four digits, e.g. 4100');
      expect(other.text).toMatch(/no requests/i);
      expect(await stored()).toEqual({ requests: 0, tasks: 0, auditEvents: 0 });
    });
  });

  // -----------------------------------------------------------------------------------------
  describe('a failing directory', () => {
    // Before: an Action.Execute whose handler threw got HTTP 501 with an empty body.
    let directory: FaultyDirectory;

    beforeEach(async () => {
      directory = new FaultyDirectory(await LocalDirectory.open({ file: path.join(REPO_ROOT, 'examples', 'directory.yaml') }));
      await running().close();
      app = await startTestApp({}, { directory });
      const graphDown = () => new DirectoryError('unavailable', "Graph could not read user 'u-fred' (503 serviceNotAvailable)");
      for (const method of ['getUser', 'getManager', 'getGroup', 'checkMemberGroups', 'listTransitiveGroupMembers'] as const) directory.fail(method, graphDown, 1000);
    });

    const DIRECTORY_DOWN = /^I couldn't reach the directory\nMicrosoft Entra ID, where I look up people and groups, didn't answer just now, so I couldn't finish this\. Try again in a minute\./;

    it('an Action.Execute that fails gets HTTP 200 and a card saying what went wrong and what to do; nothing changes', async () => {
      const before = await stored();
      const answer = await execute(fred, 'submitRequest', { verb: 'submitRequest', ...VALID_ACCOUNTING });
      expect(answer.text).toMatch(DIRECTORY_DOWN);
      expect(answer.text).not.toMatch(/Graph could not|503|serviceNotAvailable/);
      expect(answer.buttons).toEqual(['Try again']);
      expect(await stored()).toEqual(before);
      // The directory is back: Try again sends the same answers and the request goes through.
      directory.recover();
      const again = await press('execute', fred, answer.card, 'submitRequest');
      expect(again.text).toContain('Request sent for approval');
    });

    it('an Action.Submit that fails gets the same card as a reply; nothing changes', async () => {
      const before = await stored();
      const answer = await submit(fred, { verb: 'submitRequest', ...VALID_ACCOUNTING });
      expect(answer.text).toMatch(DIRECTORY_DOWN);
      expect(await stored()).toEqual(before);
    });

    it('a typed message that fails gets a plain apology saying to try again', async () => {
      const sent = activity(fred, { type: 'message', text: 'packages', textFormat: 'plain' });
      const since = connector.calls.length;
      expect((await postActivity(running().baseUrl, sent)).status).toBe(200);
      const [call, ...more] = callsFor(sent.conversation.id, since);
      expect(more).toEqual([]);
      expect(call!.body).toMatchObject({ type: 'message', replyToId: sent.id });
      expect((call!.body as { text: string }).text).toMatch(/^Sorry, I couldn't reach the directory \(Microsoft Entra ID\) just now\. Please try again in a minute; if it keeps failing, tell your IT admin\. \(Reference: ERR-[0-9A-Z]{8}\)$/);
    });
  });
});
