import type { Activity } from 'botbuilder';
import { type BotHarness, cardInvoke, cardOf, cardText, createBotHarness, personalMessage, TENANT, type TeamsUser } from '../support/botHarness';
import { seededRandom, seedFromEnv } from './fixtures';

// Fuzz: seeded hostile card submissions and messages through the bot. Each must be answered
// with a clear message (or, from another tenant, dropped), never crash a turn, and change
// nothing: every business collection keeps its count.
const ROUNDS = 1500;
const fred: TeamsUser = { aadObjectId: 'u-fred', name: 'Fred Jansen' };
const lola: TeamsUser = { aadObjectId: 'u-lola', name: 'Lola Martin' };
const ivan: TeamsUser = { aadObjectId: 'u-ivan', name: 'Ivan Petrov' }; // admin

const VERBS = ['submitRequest', 'cancelRequest', 'decide', 'extend', 'confirmRemove', 'removeAccess', 'letExpire', 'adminAssign', 'adminAssignForm', 'requestForm', 'details', 'reprocess'];
const FIELDS = ['packageId', 'policyId', 'requestId', 'assignmentId', 'stage', 'decision', 'justification', 'expiresAt', 'startAt', 'userId', 'answer:costCentre', 'text', 'page'];
const COMMANDS = ['requests', 'assignments', 'show', 'assign', 'remove', 'reprocess', 'cancel', 'enable', 'disable', 'apply catalog', 'audit', 'export', 'notices', 'digest', 'approvals'];
// Success phrases a refused action must never produce.
const SUCCESS = /Request sent|Approved by|Denied by|has been removed|Request canceled|Assigned|Extension requested|Reprocessing/i;
const BUSINESS = ['requests', 'assignments', 'grants', 'tasks', 'catalogs', 'packages', 'policies', 'settings', 'exports', 'sentCards'];

describe('fuzz: malformed and hostile input', () => {
  const seed = seedFromEnv();
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  let h: BotHarness;
  let fredRequestId: string;
  let lolaAssignmentId: string;

  beforeAll(async () => {
    h = await createBotHarness({ exampleCatalog: true, tenantId: TENANT, adminUserIds: ['u-ivan'] });
    // Real state for hostile input to aim at: Fred's open request, Lola's delivered access.
    await h.adapter.processActivity(cardInvoke(fred, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' }));
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    fredRequestId = (await h.repositories.requests.listForUser('u-fred'))[0]!.id;
    await h.adapter.processActivity(cardInvoke(lola, 'submitRequest', { packageId: 'accounting', policyId: 'employees', justification: 'Month end', 'answer:costCentre': '4100' }));
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    const lolaRequest = (await h.repositories.requests.listForUser('u-lola'))[0]!;
    expect((await h.approvals.decide('u-nadia', { requestId: lolaRequest.id, stage: 0, decision: 'approve' })).ok).toBe(true);
    for (let i = 0; i < 5; i++) await h.taskRunner.run();
    lolaAssignmentId = (await h.repositories.assignments.listActiveForUser('u-lola'))[0]!.id;
    h.adapter.activeQueue.splice(0);
  });

  afterAll(() => h?.close());

  function hostileValue(): unknown {
    switch (Math.floor(random() * 12)) {
      case 0: return { $gt: '' };
      case 1: return { $ne: null };
      case 2: return { $where: 'sleep(1000)' };
      case 3: return { $regex: '.*' };
      case 4: return 'x'.repeat(100_000 + Math.floor(random() * 100_000));
      case 5: return Math.floor(random() * 1e9) * (random() < 0.5 ? -1 : 1);
      case 6: return [pick(['a', fredRequestId, lolaAssignmentId]), { $gt: '' }];
      case 7: return null;
      case 8: return random() < 0.5;
      case 9: return pick([fredRequestId, lolaAssignmentId, `ASG-${fredRequestId}`]); // someone else's ids
      case 10: return '\u0000\u202e<script>alert(1)</script>${x}{{y}}';
      default: return { nested: { $set: { state: 'delivered' } }, __proto__: { admin: true } };
    }
  }

  type Category = 'unknownVerb' | 'wrongTypes' | 'operatorObject' | 'othersIds' | 'hugeString' | 'badMessage' | 'adminByNonAdmin' | 'otherTenant' | 'malformedInvoke';
  function generate(): { category: Category; activity: Partial<Activity>; expectReply: boolean } {
    const user = pick([fred, lola]);
    const data = () => Object.fromEntries(FIELDS.filter(() => random() < 0.4).map((f) => [f, hostileValue()]));
    const category = pick<Category>(['unknownVerb', 'wrongTypes', 'operatorObject', 'othersIds', 'hugeString', 'badMessage', 'adminByNonAdmin', 'otherTenant', 'malformedInvoke']);
    switch (category) {
      case 'unknownVerb':
        return { category, activity: cardInvoke(user, pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(64), 'déçidé', '$where', 'approveAll']), data()), expectReply: true };
      case 'wrongTypes':
        return { category, activity: cardInvoke(user, pick(VERBS), Object.fromEntries(FIELDS.map((f) => [f, pick<unknown>([42, true, null, [], [1, 2], { a: 1 }, -1.5])]))), expectReply: true };
      case 'operatorObject':
        return { category, activity: cardInvoke(user, pick(VERBS), Object.fromEntries(FIELDS.map((f) => [f, pick<unknown>([{ $gt: '' }, { $ne: null }, { $in: [fredRequestId] }, { $exists: true }, { $regex: '^' }])]))), expectReply: true };
      case 'othersIds': {
        // Lola acting on Fred's request; Fred on Lola's assignment; neither is an approver of the other.
        const verb = pick(['cancelRequest', 'decide', 'removeAccess', 'extend', 'letExpire', 'confirmRemove']);
        const actor = verb === 'cancelRequest' || verb === 'decide' ? lola : fred;
        return { category, activity: cardInvoke(actor, verb, { requestId: fredRequestId, assignmentId: lolaAssignmentId, stage: 0, decision: 'approve', justification: 'mine now', expiresAt: new Date().toISOString() }), expectReply: true };
      }
      case 'hugeString':
        return { category, activity: cardInvoke(user, pick(VERBS), Object.fromEntries(FIELDS.map((f) => [f, 'A'.repeat(200_000)]))), expectReply: true };
      case 'badMessage':
        return { category, activity: personalMessage(user, pick(['', ' ', '\u0000', 'x'.repeat(300_000), '{"$gt":""}', 'request {"$ne":null}', 'cancel REQ-' + 'Z'.repeat(500), 'show ' + fredRequestId, '<at>bot</at>'])), expectReply: true };
      case 'adminByNonAdmin':
        return { category, activity: personalMessage(user, `${pick(COMMANDS)} ${pick(['accounting', fredRequestId, lolaAssignmentId, '{"$gt":""}', ''])}`), expectReply: true };
      case 'otherTenant':
        return { category, activity: cardInvoke(pick([ivan, fred]), pick(VERBS), { requestId: fredRequestId, assignmentId: lolaAssignmentId, stage: 0, decision: 'approve' }, { conversation: { id: 'a:x', conversationType: 'personal', tenantId: 'evil-tenant' } as Activity['conversation'], channelData: { tenant: { id: 'evil-tenant' } } }), expectReply: false };
      default: {
        const base = cardInvoke(user, 'submitRequest', {});
        return { category, activity: { ...base, value: pick<unknown>([null, 'text', 42, [], { action: null }, { action: { verb: { $gt: '' }, data: {} } }, { action: { verb: 'submitRequest', data: 'not an object' } }]) }, expectReply: true };
      }
    }
  }

  async function counts(): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    for (const name of BUSINESS) result[name] = await h.store.collection(name).count({});
    // Refusals are audited on purpose (admin.refused, approval.refused); nothing else may be.
    result.auditOther = (await h.repositories.audit.query({ limit: 100_000 })).filter((e) => !e.action.endsWith('.refused')).length;
    return result;
  }

  it(`${ROUNDS} hostile inputs: each refused with a message, no crash, nothing stored`, async () => {
    const before = await counts();
    const fredBefore = await h.repositories.requests.get(fredRequestId);
    const byCategory = new Map<string, { sent: number; answered: number; dropped: number }>();
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { category, activity, expectReply } = generate();
      h.adapter.activeQueue.splice(0);
      try {
        await h.adapter.processActivity(activity);
      } catch (error) {
        problems.push(`${category} #${round}: crashed: ${(error as Error).message.slice(0, 200)}`);
        continue;
      }
      const replies = h.adapter.activeQueue.splice(0).filter((a) => a.type === 'message');
      const invoke = activity.type === 'invoke' ? h.lastInvokeResponse() : undefined;
      const texts = [...replies.map((r) => cardText(cardOf(r)) || String(r.text ?? '')), ...(invoke?.body ? [cardText((invoke.body as { value?: unknown }).value)] : [])].filter((t) => t.trim() !== '');
      const tally = byCategory.get(category) ?? { sent: 0, answered: 0, dropped: 0 };
      tally.sent++;
      if (texts.length > 0) tally.answered++;
      else tally.dropped++;
      byCategory.set(category, tally);
      if (expectReply && texts.length === 0) problems.push(`${category} #${round}: no answer`);
      if (!expectReply && texts.length > 0) problems.push(`${category} #${round}: another tenant was answered`);
      const success = texts.find((t) => SUCCESS.test(t));
      if (success) problems.push(`${category} #${round}: looked like success: ${success.slice(0, 160)}`);
    }
    console.log(
      `fuzz: seed ${seed}, ${ROUNDS} inputs, ${problems.length} problems\n${[...byCategory].map(([c, t]) => `  ${c.padEnd(16)} sent ${t.sent}, answered ${t.answered}, dropped ${t.dropped}`).join('\n')}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(await counts()).toEqual(before);
    expect(await h.repositories.requests.get(fredRequestId)).toEqual(fredBefore);
  });
});
