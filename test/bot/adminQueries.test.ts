// Admin queries and exports through botbuilder's TestAdapter (example catalog and directory):
// requests, assignments, show, audit and export, with paging, filters, bad input (which changes
// nothing) and the refusal of non-admins (audited).
import { newRequest } from '../../src/domain/newRequest';
import type { Assignment, RequestState } from '../../src/domain/model';
import { type BotHarness, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, type TeamsUser } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';

const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' }; // the admin
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const nadia: TeamsUser = { aadObjectId: 'u-nadia', name: 'Nadia Okafor' };
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const COLLECTIONS = ['requests', 'assignments', 'tasks', 'auditEvents', 'exportFiles', 'exportChunks', 'settings', 'grants'];

type Card = Record<string, unknown>;

/** Every Action.Execute of a card with its data. */
function executeActions(node: unknown, found: { title: string; verb: string; data: Record<string, unknown> }[] = []) {
  if (Array.isArray(node)) node.forEach((n) => executeActions(n, found));
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (obj.type === 'Action.Execute') found.push({ title: String(obj.title), verb: String(obj.verb), data: obj.data as Record<string, unknown> });
    for (const [key, value] of Object.entries(obj)) if (key !== 'fallback') executeActions(value, found);
  }
  return found;
}

function openUrl(card: Card): string {
  const action = (card.actions as { type: string; url: string }[]).find((a) => a.type === 'Action.OpenUrl');
  if (!action) throw new Error('no Action.OpenUrl on the card');
  return action.url;
}

describe('admin queries and exports (TestAdapter, example catalog)', () => {
  let h: BotHarness;

  beforeEach(async () => {
    h = await createBotHarness({ exampleCatalog: true, adminUserIds: [ivan.aadObjectId] });
  });

  afterEach(() => h.close());

  async function say(user: TeamsUser, text: string) {
    let reply: Card | undefined;
    await h.adapter.send(personalMessage(user, text)).assertReply((activity) => {
      reply = cardOf(activity);
    });
    expect(validateCard(reply!)).toEqual([]);
    return { card: reply!, text: cardText(reply) };
  }

  async function press(user: TeamsUser, verb: string, data: Record<string, unknown> = {}) {
    await h.adapter.processActivity(cardInvoke(user, verb, data));
    h.adapter.activeQueue.splice(0);
    const card = (h.lastInvokeResponse()?.body as { value: Card }).value;
    expect(validateCard(card)).toEqual([]);
    return { card, text: cardText(card) };
  }

  async function counts(): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    for (const name of COLLECTIONS) result[name] = await h.store.collection(name).count({});
    return result;
  }

  /** Stores requests of the accounting package directly, one a minute; closed states need no openKey. */
  async function seedRequests(count: number, state: RequestState = 'delivered', packageId = 'accounting') {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `REQ-${state.slice(0, 3).toUpperCase()}${String(i).padStart(5, '0')}`;
      await h.repositories.requests.insert(newRequest({ id, type: 'add', packageId, policyId: 'employees', requesterId: 'u-fred', targetUserId: 'u-fred', state, schedule: {}, now: h.clock.now() }));
      ids.push(id);
      h.clock.advance(MINUTE);
    }
    return ids;
  }

  async function seedAssignment(id: string, userId: string, state: Assignment['state'], extra: Partial<Assignment> = {}) {
    const now = h.clock.now();
    await h.repositories.assignments.insert({ id, packageId: 'accounting', policyId: 'employees', userId, state, startAt: now, roles: [], requestIds: [], createdAt: now, updatedAt: now, ...extra });
    h.clock.advance(MINUTE);
  }

  /** Fred asks for Accounting, Nadia approves, delivery runs: a real request and assignment. */
  async function deliveredAccounting() {
    await press(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'I joined, "finally", the team', 'answer:costCentre': '4100' });
    await h.taskRunner.run();
    const [request] = await h.repositories.requests.listForUser('u-fred');
    h.clock.advance(5 * MINUTE);
    await press(nadia, 'decide', { requestId: request!.id, stage: 0, decision: 'approve', justification: 'Welcome' });
    await h.taskRunner.run();
    await h.taskRunner.run();
    return (await h.repositories.requests.get(request!.id))!;
  }

  describe('requests', () => {
    it('lists a package\'s requests newest first with names, state in words and a Show button', async () => {
      await seedRequests(2, 'denied');
      await seedRequests(1, 'pendingApproval');
      const { card, text } = await say(ivan, 'requests accounting');
      expect(text).toContain('Requests: Accounting');
      expect(text).toContain('3 requests, newest first · package accounting');
      expect(text).toContain('Fred Jansen');
      expect(text).toContain('Waiting for approval');
      expect(text).toContain('Denied');
      const shows = executeActions(card).filter((a) => a.verb === 'adminShow');
      expect(shows.map((a) => a.data.id)).toEqual(['REQ-PEN00000', 'REQ-DEN00001', 'REQ-DEN00000']);
      expect(text.indexOf('REQ-PEN00000')).toBeLessThan(text.indexOf('REQ-DEN00001'));
    });

    it('pages by 10: page N typed, and Next/Previous buttons that carry only the package, state and page', async () => {
      await seedRequests(23);
      const first = await say(ivan, 'requests accounting');
      expect(first.text).toContain('23 requests, newest first · page 1 of 3');
      expect(executeActions(first.card).filter((a) => a.verb === 'adminShow')).toHaveLength(10);
      const next = executeActions(first.card).find((a) => a.title === 'Next ▶')!;
      expect(next).toMatchObject({ verb: 'adminRequests', data: { verb: 'adminRequests', packageId: 'accounting', state: '', page: 2 } });
      expect(executeActions(first.card).some((a) => a.title === '◀ Previous')).toBe(false);

      const second = await press(ivan, 'adminRequests', next.data);
      expect(second.text).toContain('page 2 of 3');
      expect(second.text).toContain('REQ-DEL00012');
      expect(second.text).not.toContain('REQ-DEL00013');

      const third = await say(ivan, 'requests accounting page 3');
      expect(executeActions(third.card).filter((a) => a.verb === 'adminShow').map((a) => a.data.id)).toEqual(['REQ-DEL00002', 'REQ-DEL00001', 'REQ-DEL00000']);
      expect(executeActions(third.card).map((a) => a.title)).toContain('◀ Previous');
      expect(executeActions(third.card).map((a) => a.title)).not.toContain('Next ▶');
    });

    it('filters by state (any letter case), also across pages', async () => {
      await seedRequests(12, 'denied');
      await seedRequests(2, 'timedOut');
      const { card, text } = await say(ivan, 'requests accounting DENIED page 2');
      expect(text).toContain('12 requests in state denied, newest first · page 2 of 2');
      expect(executeActions(card).filter((a) => a.verb === 'adminShow')).toHaveLength(2);
      const previous = executeActions(card).find((a) => a.title === '◀ Previous')!;
      expect(previous.data).toMatchObject({ state: 'denied', page: 1 });
      expect((await press(ivan, 'adminRequests', previous.data)).text).toContain('12 requests in state denied, newest first · page 1 of 2');
      expect((await say(ivan, 'requests accounting canceled')).text).toContain('Accounting has no requests in state canceled.');
    });

    it('bad input gets a specific message and changes nothing', async () => {
      await seedRequests(3);
      const before = await counts();
      expect((await say(ivan, 'requests accounting approved')).text).toMatch(/There is no request state "approved"\. Use one of: pendingApproval, scheduled, delivering, delivered, .*timedOut\./);
      expect((await say(ivan, 'requests acounting')).text).toContain('There is no package "acounting". Did you mean accounting? Package ids: accounting, audit-archive, expenses-executive, payment-run, sign-in-reports, supplier-invoices.');
      expect((await say(ivan, 'requests accounting page 2')).text).toContain('There is only 1 page (3 in all)');
      expect((await say(ivan, 'requests accounting page two')).text).toContain('"page" takes a page number from 1 to 100000, not "two"');
      expect((await say(ivan, 'requests accounting page 0')).text).toContain('"page" takes a page number');
      expect((await say(ivan, 'requests accounting page')).text).toContain('"page" takes a page number');
      expect((await say(ivan, 'requests accounting denied extra')).text).toContain('I don\'t understand "extra"');
      expect((await press(ivan, 'adminRequests', { packageId: 'accounting', state: 'delivered', page: -1 })).text).toContain('"page" takes a page number');
      expect((await press(ivan, 'adminRequests', { packageId: { $ne: 1 }, page: 1 })).text).toContain('Give the id of a package');
      expect((await press(ivan, 'adminRequests', { packageId: 'accounting', state: ['delivered'], page: 1 })).text).toContain('There is no request state');
      expect(await counts()).toEqual(before);
    });

    it('"requests" alone is still the employee\'s own list; with a package it is the admin list', async () => {
      expect(await say(fred, 'requests').then((r) => r.text)).toContain('My requests');
      expect((await say(ivan, 'requests')).text).toContain('My requests');
      expect((await say(ivan, 'requests accounting')).text).toContain('Requests: Accounting');
    });
  });

  describe('assignments', () => {
    beforeEach(async () => {
      await seedAssignment('ASG-1', 'u-fred', 'delivered', { expiresAt: new Date(h.clock.now().getTime() + 30 * DAY) });
      await seedAssignment('ASG-2', 'u-lola', 'deliveryFailed');
      await seedAssignment('ASG-3', 'u-nadia', 'expired', { endReason: 'expired' });
      await seedAssignment('ASG-4', 'u-victor', 'removed', { endReason: 'removed' });
    });

    it('shows who has the package: active ones by default, with user name, state, start and expiry', async () => {
      const { card, text } = await say(ivan, 'assignments accounting');
      expect(text).toContain('2 assignments active, newest first · package accounting');
      expect(text).toContain('Lola Martin');
      expect(text).toContain('Delivery failed · since 22 Nov 2026 at 09:01 UTC · no end date');
      expect(text).toContain('Fred Jansen');
      expect(text).toContain('Delivered · since 22 Nov 2026 at 09:00 UTC · ends 22 Dec 2026 at 09:00 UTC');
      expect(text).not.toContain('Nadia Okafor');
      expect(executeActions(card).filter((a) => a.verb === 'adminShow').map((a) => a.data.id)).toEqual(['ASG-2', 'ASG-1']);
      expect(text).toContain('Type export assignments accounting for a CSV of them all.');
    });

    it('"all" shows ended ones too; a state shows only that state', async () => {
      expect((await say(ivan, 'assignments accounting all')).text).toContain('4 assignments in all (ended ones too)');
      const expired = await say(ivan, 'assignments accounting Expired');
      expect(expired.text).toContain('1 assignment in state expired');
      expect(expired.text).toContain('Nadia Okafor');
      expect((await say(ivan, 'assignments payment-run')).text).toContain('Nobody has Payment run (just-in-time) at the moment. Add "all" to see ended assignments too.');
    });

    it('pages by 10 with buttons that keep the filter', async () => {
      for (let i = 0; i < 9; i++) await seedAssignment(`ASG-X${i}`, `u-x${i}`, 'removed');
      const first = await say(ivan, 'assignments accounting all');
      expect(first.text).toContain('13 assignments in all (ended ones too), newest first · page 1 of 2');
      const next = executeActions(first.card).find((a) => a.title === 'Next ▶')!;
      expect(next.data).toEqual({ verb: 'adminAssignments', packageId: 'accounting', state: 'all', page: 2 });
      const second = await press(ivan, 'adminAssignments', next.data);
      expect(executeActions(second.card).filter((a) => a.verb === 'adminShow').map((a) => a.data.id)).toEqual(['ASG-3', 'ASG-2', 'ASG-1']);
      // A user the directory doesn't know shows as their id.
      expect(first.text).toContain('u-x8');
    });

    it('bad input gets a specific message and changes nothing', async () => {
      const before = await counts();
      expect((await say(ivan, 'assignments accounting gone')).text).toContain('There is no assignment state "gone". Use active (the default), all, or one of: delivering, delivered, partiallyDelivered, deliveryFailed, expired, removed.');
      expect((await say(ivan, 'assignments nope')).text).toContain('There is no package "nope".');
      expect((await say(ivan, 'assignments accounting page 9')).text).toContain('There is only 1 page (2 in all)');
      expect((await say(ivan, 'assignments accounting all page 1 page 2')).text).toContain('Give the page once');
      expect(await counts()).toEqual(before);
    });
  });

  describe('show', () => {
    it('a request: everything an admin needs, and its history with the audit events in time order', async () => {
      const request = await deliveredAccounting();
      const { card, text } = await say(ivan, `show ${request.id}`);
      expect(text).toContain(`Request ${request.id}`);
      expect(text).toContain('Done: access delivered');
      expect(text).toContain('Package Accounting (accounting)');
      expect(text).toContain('Policy Employees (employees)');
      expect(text).toContain('For Fred Jansen (fredj@example.com)');
      expect(text).toContain('Justification I joined, "finally", the team');
      expect(text).toContain('What is your cost centre?: 4100');
      expect(text).toMatch(/Stage 1 of 1 · asked .*Nadia Okafor.* · started 22 Nov 2026 at 09:00 UTC · approved by Nadia Okafor on 22 Nov 2026 at 09:05 UTC: "Welcome"/);
      expect(text).toContain(`Assignment ASG-${request.id}`);
      const history = text.slice(text.indexOf('History'));
      const order = ['Fred Jansen · submitted', 'Fred Jansen · request.submitted', 'approval.stageStarted', 'Nadia Okafor · approval.approved', 'System · assignment.created'];
      const positions = order.map((entry) => history.indexOf(entry));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      expect(executeActions(card)).toContainEqual({ title: 'Show assignment', verb: 'adminShow', data: { verb: 'adminShow', id: `ASG-${request.id}` } });
    });

    it('an assignment: roles with their delivery state, and its history (its own events and its request\'s)', async () => {
      const request = await deliveredAccounting();
      const { card, text } = await press(ivan, 'adminShow', { id: `ASG-${request.id}` });
      expect(text).toContain(`Assignment ASG-${request.id}`);
      expect(text).toContain('User Fred Jansen (fredj@example.com)');
      expect(text).toContain('Finance team (Member): delivered');
      expect(text).toContain('Accounting (User): delivered');
      expect(text).toContain('VAT returns (VAT filer): delivered');
      expect(text).toContain('Ends 21 May 2027 at 09:05 UTC');
      expect(text).toContain('approval.approved');
      expect(text).toContain('delivery.granted');
      expect(text).toContain('assignment.delivered');
      expect(text).toContain(`Admin commands: remove ASG-${request.id} reason · reprocess ASG-${request.id}`);
      expect(executeActions(card).map((a) => a.title)).toEqual([`Show ${request.id}`]);
    });

    it('a failed role shows its error and a Reprocess button', async () => {
      await seedAssignment('ASG-F', 'u-lola', 'partiallyDelivered', { roles: [{ resource: 'finance-team', role: 'member', state: 'delivered' }, { resource: 'accounting-app', role: 'role-accounting-user', state: 'failed', error: 'Graph said: Insufficient privileges' }] });
      const { card, text } = await say(ivan, 'show asg-f');
      expect(text).toContain('Partly delivered: some resource roles failed');
      expect(text).toContain('Accounting (User): failed — Graph said: Insufficient privileges');
      expect(executeActions(card)).toContainEqual({ title: 'Reprocess', verb: 'reprocess', data: { verb: 'reprocess', id: 'ASG-F' } });
    });

    it('bad or unknown ids get a specific message and change nothing', async () => {
      const before = await counts();
      expect((await say(ivan, 'show REQ-NOPE')).text).toContain('There is no request REQ-NOPE.');
      expect((await say(ivan, 'show ASG-NOPE')).text).toContain('There is no assignment ASG-NOPE.');
      expect((await say(ivan, 'show accounting')).text).toContain('Give the id of a request (REQ-…) or an assignment (ASG-…), not "accounting"');
      expect((await say(ivan, 'show')).text).toContain('Usage: show request-id or assignment-id');
      expect((await say(ivan, 'show REQ-1 REQ-2')).text).toContain('Give one id');
      expect((await press(ivan, 'adminShow', { id: 42 })).text).toContain('Give the id of a request');
      expect(await counts()).toEqual(before);
    });
  });

  describe('audit', () => {
    beforeEach(async () => {
      // 25 events about Fred in accounting over five days, then some about Nadia elsewhere.
      h.clock.set('2026-11-01T08:00:00Z');
      for (let i = 0; i < 25; i++) {
        await h.repositories.audit.append({ actorId: 'system', action: `test.fred${i}`, packageId: 'accounting', userId: 'u-fred', details: { step: i } });
        h.clock.advance(5 * 60 * MINUTE);
      }
      h.clock.set('2026-11-20T08:00:00Z');
      await h.repositories.audit.append({ actorId: 'u-ivan', action: 'test.nadia', packageId: 'payment-run', userId: 'u-nadia', requestId: 'REQ-N1', details: { note: 'x'.repeat(500) } });
      h.clock.set('2026-11-22T09:00:00Z');
    });

    it('shows the newest 20 events with actor and user names, newest first', async () => {
      const { card, text } = await say(ivan, 'audit');
      expect(text).toContain('The newest 20 events, newest first');
      expect(text).toContain('20 Nov 2026 at 08:00 UTC · test.nadia');
      expect(text).toContain('By Ivan Petrov · about Nadia Okafor · package payment-run');
      expect(text).toContain('By System · about Fred Jansen · package accounting');
      expect(text).toContain('step: 24');
      expect(text).not.toContain('test.fred4\n');
      expect(text.indexOf('test.nadia')).toBeLessThan(text.indexOf('test.fred24'));
      expect(text).toContain('Only the newest events are shown: type export audit');
      expect(executeActions(card).filter((a) => a.verb === 'adminShow').map((a) => a.data.id)).toEqual(['REQ-N1']);
    });

    it('filters by package, by user (object id or sign-in name) and by dates, combined', async () => {
      const byPackage = await say(ivan, 'audit package payment-run');
      expect(byPackage.text).toContain('The newest 1 event, newest first · package Payment run (just-in-time) (payment-run)');
      expect((await say(ivan, 'audit user nadiao@example.com')).text).toContain('test.nadia');
      expect((await say(ivan, 'audit user u-nadia')).text).toContain('· user Nadia Okafor');
      // A user's events are those about them and those they did.
      const byIvan = await say(ivan, 'audit user ivanp@example.com');
      expect(byIvan.text).toContain('The newest 1 event, newest first · user Ivan Petrov');
      expect(byIvan.text).toContain('By Ivan Petrov · about Nadia Okafor');
      // 1 Nov: events at 08:00, 13:00, 18:00, 23:00 (fred0..fred3).
      const oneDay = await say(ivan, 'audit package accounting user fredj@example.com from 2026-11-01 to 2026-11-01');
      expect(oneDay.text).toContain('The newest 4 events, newest first · package Accounting (accounting) · user Fred Jansen · from 1 Nov 2026 · to 1 Nov 2026');
      expect(oneDay.text).toContain('test.fred3');
      expect(oneDay.text).not.toContain('test.fred4');
      const since = await say(ivan, 'audit from 2026-11-06');
      expect(since.text).toContain('The newest 3 events, newest first · from 6 Nov 2026'); // fred23 (03:00), fred24 (08:00) and nadia
      expect(since.text).not.toContain('test.fred22');
      expect((await say(ivan, 'audit to 2026-10-31')).text).toContain('No events · to 31 Oct 2026');
    });

    it('bad filters get a specific message and change nothing', async () => {
      const before = await counts();
      expect((await say(ivan, 'audit from 2026-13-01')).text).toContain('"2026-13-01" is not a date: write it as YYYY-MM-DD');
      expect((await say(ivan, 'audit from yesterday')).text).toContain('"yesterday" is not a date');
      expect((await say(ivan, 'audit to 2026-02-30')).text).toContain('"2026-02-30" is not a date');
      expect((await say(ivan, 'audit since 2026-11-01')).text).toContain('"since" is not a filter. Filters are package, user, from and to');
      expect((await say(ivan, 'audit package')).text).toContain('"package" needs a value');
      expect((await say(ivan, 'audit user u-fred user u-nadia')).text).toContain('Give "user" once.');
      expect((await say(ivan, 'audit from 2026-11-10 to 2026-11-01')).text).toContain('The "from" date is after the "to" date');
      expect((await say(ivan, 'audit user nobody@example.com')).text).toContain('There is no user "nobody@example.com" in the directory or the audit log.');
      expect((await say(ivan, 'audit package nothing')).text).toContain('There is no package "nothing".');
      expect(await counts()).toEqual(before);
    });

    it('a package or user gone from the catalog or directory is still found through its events', async () => {
      await h.repositories.audit.append({ actorId: 'system', action: 'test.old', packageId: 'retired-package', userId: 'u-leaver' });
      expect((await say(ivan, 'audit package retired-package')).text).toContain('test.old');
      expect((await say(ivan, 'audit user u-leaver')).text).toContain('user u-leaver (no longer in the directory)');
    });
  });

  describe('export', () => {
    it('export assignments: a card with a signed download link; the file is stored and the export audited', async () => {
      await seedAssignment('ASG-1', 'u-fred', 'delivered');
      await seedAssignment('ASG-2', 'u-lola', 'removed');
      const { card, text } = await say(ivan, 'export assignments accounting all');
      expect(text).toContain('Export ready: Assignments of Accounting');
      expect(text).toContain('Rows 2');
      expect(text).toContain('Filters all assignments, ended ones too');
      expect(text).toContain('Link works until 22 Nov 2026 at 09:17 UTC'); // two seeded minutes + 15
      expect(text).toContain("Anyone who has the link can download the file for 15 minutes: don't forward it.");
      const url = new URL(openUrl(card));
      expect(url.origin).toBe('http://localhost:3978');
      expect(url.pathname).toMatch(/^\/exports\/EXP-[0-9A-Z]{16}$/);
      expect(url.searchParams.get('expires')).toBe(String(Date.parse('2026-11-22T09:17:00Z') / 1000));
      expect(url.searchParams.get('sig')).toMatch(/^[0-9a-f]{64}$/);

      const id = url.pathname.split('/')[2]!;
      expect(await h.repositories.exports.get(id)).toMatchObject({ rowCount: 2, filename: 'assignments-accounting-2026-11-22T0902Z.csv', createdBy: 'u-ivan' });
      const events = (await h.repositories.audit.query()).filter((e) => e.action === 'admin.export');
      expect(events).toEqual([expect.objectContaining({ actorId: 'u-ivan', packageId: 'accounting', details: { what: 'assignments', state: 'all', filters: 'all assignments, ended ones too', rows: 2, capped: false, exportId: id } })]);
      // The audit event holds no link and no signature.
      expect(JSON.stringify(events)).not.toContain(url.searchParams.get('sig')!);

    });

    it('export audit with filters: the matching events, oldest first', async () => {
      await h.repositories.audit.append({ actorId: 'u-ivan', action: 'test.one', packageId: 'accounting', userId: 'u-fred' });
      h.clock.advance(MINUTE);
      await h.repositories.audit.append({ actorId: 'system', action: 'test.two', packageId: 'payment-run', userId: 'u-fred' });
      const { card, text } = await say(ivan, 'export audit user fredj@example.com package accounting');
      expect(text).toContain('Export ready: Audit log');
      expect(text).toContain('Rows 1');
      expect(text).toContain('Filters package Accounting (accounting) · user Fred Jansen');
      const id = new URL(openUrl(card)).pathname.split('/')[2]!;
      const file = await h.repositories.exports.get(id);
      expect(file).toMatchObject({ rowCount: 1, chunkCount: 1, filename: 'audit-2026-11-22T0901Z.csv' });
      const csv = await h.repositories.exports.chunk(id, 0);
      expect(csv).toContain('\r\n');
      expect(csv!.split('\r\n')[1]).toMatch(/^"2026-11-22T09:00:00.000Z","test.one","u-ivan","Ivan Petrov","u-fred","Fred Jansen","accounting","","","",/);
    });

    it('each new export deletes the files whose links have expired', async () => {
      const first = new URL(openUrl((await say(ivan, 'export assignments accounting')).card)).pathname.split('/')[2]!;
      h.clock.advance(16 * MINUTE);
      const second = new URL(openUrl((await say(ivan, 'export audit')).card)).pathname.split('/')[2]!;
      expect(await h.repositories.exports.get(first)).toBeNull();
      expect(await h.repositories.exports.chunk(first, 0)).toBeNull();
      expect(await h.repositories.exports.get(second)).not.toBeNull();
    });

    it('one signing key, generated once and kept in the store for every instance', async () => {
      await say(ivan, 'export audit');
      const key = await h.repositories.settings.get<string>('exportSigningKey');
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      await say(ivan, 'export audit');
      expect(await h.repositories.settings.get<string>('exportSigningKey')).toBe(key);
    });

    it('bad input gets a specific message, stores no file and audits nothing', async () => {
      const before = await counts();
      expect((await say(ivan, 'export')).text).toContain('Usage: export audit [filters] or export assignments package-id [active|all|state]');
      expect((await say(ivan, 'export everything')).text).toContain('Usage: export audit');
      expect((await say(ivan, 'export assignments')).text).toContain('Give the id of the package');
      expect((await say(ivan, 'export assignments nope')).text).toContain('There is no package "nope".');
      expect((await say(ivan, 'export assignments accounting sometimes')).text).toContain('There is no assignment state "sometimes"');
      expect((await say(ivan, 'export assignments accounting all extra')).text).toContain('I don\'t understand "extra"');
      expect((await say(ivan, 'export audit from 2026-99-01')).text).toContain('is not a date');
      expect((await say(ivan, 'export audit user ghost@example.com')).text).toContain('There is no user "ghost@example.com"');
      expect(await counts()).toEqual(before);
    });
  });

  describe('only admins', () => {
    it.each([
      ['requests accounting', 'requests'],
      ['assignments accounting', 'assignments'],
      ['show REQ-1', 'show'],
      ['audit', 'audit'],
      ['export audit', 'export'],
      ['export assignments accounting', 'export'],
    ])('"%s" is refused to an employee, audited, and nothing else happens', async (text, command) => {
      await seedRequests(1);
      const before = await counts();
      const reply = await say(fred, text);
      expect(reply.text).toContain('Admins only');
      expect(reply.text).toContain(`Only access package administrators can use ${command}.`);
      expect(reply.text).not.toContain('REQ-DEL00000');
      expect(await counts()).toEqual({ ...before, auditEvents: before.auditEvents! + 1 });
      const [refusal] = (await h.repositories.audit.query()).filter((e) => e.action === 'admin.refused');
      expect(refusal).toMatchObject({ actorId: 'u-fred', details: { command } });
    });

    it.each([
      ['adminRequests', { packageId: 'accounting', state: '', page: 1 }],
      ['adminAssignments', { packageId: 'accounting', state: 'all', page: 1 }],
      ['adminShow', { id: 'REQ-DEL00000' }],
    ])('the %s button is refused to an employee and audited', async (verb, data) => {
      await seedRequests(1);
      const before = await counts();
      const { text } = await press(fred, verb, data);
      expect(text).toContain(`Only access package administrators can use ${verb}.`);
      expect(text).not.toContain('REQ-DEL00000');
      expect(await counts()).toEqual({ ...before, auditEvents: before.auditEvents! + 1 });
    });
  });
});
