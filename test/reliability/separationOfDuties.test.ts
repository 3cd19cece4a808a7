import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningApp } from '../../src/app';
import { LocalDirectory } from '../../src/directory/localDirectory';
import { newRequest } from '../../src/domain/newRequest';
import { TASK_TYPES } from '../../src/services/workflow';
import { openMongoStore } from '../../src/store/mongoStore';
import { openEmbeddedStore } from '../../src/store/nedbStore';
import type { DocumentStore } from '../../src/store/port';
import { cardText } from '../support/botHarness';
import type { FakeClock } from '../support/fakeClock';
import { LoopbackConnector } from '../support/loopbackConnector';
import { mongoUnavailable, startMongoTarget, uniqueDbName } from '../support/mongoWire';
import { personalActivity } from '../support/teamsActivity';
import { postActivity, startTestApp } from '../support/testApp';
import { FaultyDirectory } from '../support/faultyDirectory';
import { slowStore } from '../support/slowStore';
import { BOT, seededRandom, seedFromEnv, TENANT } from './fixtures';

// Separation of duties under concurrency (issue 14, points 3 and 6): people submit two
// incompatible packages at the same instant through the real /api/messages endpoint of two bot
// instances sharing one store, while an admin assigns directly and extensions run. Whatever the
// interleaving, nobody may hold or wait for two incompatible packages (or a package and a group
// it excludes), and the directory must never show anyone in two incompatible groups.
//
// The world: "ledger" gives group g-ledger and lists "payments" as incompatible (one-sided:
// "payments" lists nothing, so the reverse direction is exercised); "payments" gives g-payments
// and needs one approval; "audit" gives g-audit and lists g-ledger in incompatibleGroups.
const APPROVER = 'u-approver';
const ADMIN = 'u-admin';
const PER_ROUND = 10;
const user = (round: number, i: number) => `s${round}-${String(i).padStart(2, '0')}`;

function writeWorld(dir: string): { catalogFile: string; directoryFile: string; users: string[] } {
  const catalogFile = path.join(dir, 'catalog.yaml');
  const directoryFile = path.join(dir, 'directory.yaml');
  writeFileSync(
    catalogFile,
    `catalogs:
  - id: sod
    displayName: Separation of duties
    resources:
      - { id: ledger-team, type: group, originId: g-ledger, displayName: Ledger }
      - { id: payments-team, type: group, originId: g-payments, displayName: Payments }
      - { id: audit-team, type: group, originId: g-audit, displayName: Audit }
accessPackages:
  - id: ledger
    catalog: sod
    displayName: Ledger
    resourceRoles: [{ resource: ledger-team, role: member }]
    incompatibleAccessPackages: [payments]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
        lifecycle:
          expiration: { type: afterDuration, duration: P30D }
          extension: { allowed: true, requiresApproval: false }
  - id: payments
    catalog: sod
    displayName: Payments
    resourceRoles: [{ resource: payments-team, role: member }]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
        approval:
          required: true
          stages:
            - approvers: [{ user: ${APPROVER} }]
  - id: audit
    catalog: sod
    displayName: Audit
    resourceRoles: [{ resource: audit-team, role: member }]
    incompatibleGroups: [g-ledger]
    policies:
      - id: all
        displayName: Everyone
        allowedRequestors: { scope: allMemberUsers }
`,
  );
  const users = [1, 2, 3, 4, 5].flatMap((round) => Array.from({ length: PER_ROUND }, (_, i) => user(round, i + 1)));
  writeFileSync(
    directoryFile,
    `users:
${[APPROVER, ADMIN, ...users].map((id) => `  - { id: ${id}, displayName: User ${id}, userPrincipalName: ${id}@example.com }`).join('\n')}
groups:
  - { id: g-ledger, displayName: Ledger, members: [] }
  - { id: g-payments, displayName: Payments, members: [] }
  - { id: g-audit, displayName: Audit, members: [] }
`,
  );
  return { catalogFile, directoryFile, users };
}

type App = RunningApp & { baseUrl: string; clock: FakeClock };

interface Outcome {
  text: string;
}

/** Runs the whole race on two instances sharing `store`; returns, per user, what they hold or wait for. */
async function race(store: DocumentStore, label: string, seed: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sod-rel-'));
  const connector = new LoopbackConnector();
  await connector.start();
  const apps: App[] = [];
  try {
    const world = writeWorld(dir);
    const local = await LocalDirectory.open({ file: world.directoryFile });
    // Directory calls take 1-8 ms, as Graph's round trips take time: interleavings differ per seed.
    const random = seededRandom(seed);
    const directory = new FaultyDirectory(local);
    directory.slowDown(() => 1 + Math.floor(random() * 8));
    const env = { TENANT_ID: TENANT, TEAMS_SERVICE_URL: connector.serviceUrl, CATALOG_FILE: world.catalogFile, LOCAL_DIRECTORY_FILE: world.directoryFile, ADMIN_USER_IDS: ADMIN };
    apps.push(await startTestApp(env, { store, directory }), await startTestApp(env, { store, directory }));
    const [a, b] = apps as [App, App];
    b.clock.set(a.clock.now());

    const invoke = (app: App, person: string, data: Record<string, unknown>): Promise<Outcome> =>
      postActivity(
        app.baseUrl,
        personalActivity({ serviceUrl: connector.serviceUrl, tenantId: TENANT, bot: BOT }, { aadObjectId: person, name: person }, {
          type: 'invoke',
          name: 'adaptiveCard/action',
          value: { action: { type: 'Action.Execute', verb: data.verb, data }, trigger: 'manual' },
        }),
      ).then((response) => {
        expect(response.status).toBe(200);
        return { text: cardText((response.body as { value: unknown }).value) };
      });
    const submit = (app: App, person: string, packageId: string) => invoke(app, person, { verb: 'submitRequest', packageId, policyId: 'all', justification: 'Needed for the close' });
    const assign = (app: App, person: string, packageId: string) =>
      invoke(app, ADMIN, { verb: 'adminAssign', packageId, policyId: 'all', user: `${person}@example.com`, skipApproval: 'true', justification: 'Covering for a colleague' });
    async function settle(): Promise<void> {
      for (let i = 0; i < 30; i++) {
        await Promise.all(apps.map((app) => app.taskRunner.run()));
        // Due within a few seconds, not only now: a step that found the person claimed by another
        // worker (lanes run several at once) is put back a couple of seconds.
        const due = await store.collection('tasks').count({ state: 'pending', dueAt: { $lte: new Date(a.clock.now().getTime() + 5_000) } });
        if (due === 0) return;
        for (const app of apps) app.clock.advance(1_000);
      }
    }

    // Round 4 starts holding ledger (delivered), so its extensions can race below.
    for (let i = 1; i <= PER_ROUND; i++) await submit(a, user(4, i), 'ledger');
    await settle();

    const pairs: [number, string, string, string, string][] = [
      [1, 'ledger', 'payments', 'g-ledger', 'g-payments'],
      [2, 'ledger', 'audit', 'g-ledger', 'g-audit'],
      [3, 'ledger', 'payments', 'g-ledger', 'g-payments'],
      [4, 'ledger', 'payments', 'g-ledger', 'g-payments'],
      [5, 'ledger', 'payments', 'g-ledger', 'g-payments'],
    ];
    /** The person holds, or waits for, both packages (the first violation found, or undefined). */
    async function holdsBoth(person: string, first: string, second: string): Promise<string | undefined> {
      const held = (await a.repositories.assignments.listActiveForUser(person)).map((x) => x.packageId);
      const open = (await a.repositories.requests.listOpenForUser(person)).filter((r) => r.type === 'add' || r.type === 'adminAdd').map((r) => r.packageId);
      const has = new Set([...held, ...open]);
      return has.has(first) && has.has(second) ? person : undefined;
    }

    const ledgerHeld = await Promise.all(Array.from({ length: PER_ROUND }, async (_, i) => (await a.repositories.assignments.listActiveForUser(user(4, i + 1)))[0]?.id ?? 'none'));
    const answers: Promise<Outcome>[] = [];
    for (let i = 1; i <= PER_ROUND; i++) {
      // Round 1: two incompatible packages at the same instant, one on each instance.
      answers.push(submit(a, user(1, i), 'ledger'), submit(b, user(1, i), 'payments'));
      // Round 2: a package and a package whose incompatible group the first one gives.
      answers.push(submit(b, user(2, i), 'audit'), submit(a, user(2, i), 'ledger'));
      // Round 3: the user asks for one while an admin assigns the other (approval skipped).
      answers.push(submit(a, user(3, i), 'payments'), assign(b, user(3, i), 'ledger'));
      // Round 4: holding ledger, the user extends it while asking for payments and an admin assigns payments.
      answers.push(invoke(b, user(4, i), { verb: 'extend', assignmentId: ledgerHeld[i - 1] }), submit(a, user(4, i), 'payments'), assign(b, user(4, i), 'payments'));
    }
    const texts = (await Promise.all(answers)).map((o) => o.text);
    // Right after the burst, before anything is approved or delivered: nobody waits for (or holds) both.
    const bothRightAfter = (await Promise.all(pairs.slice(0, 4).flatMap(([round, first, second]) => Array.from({ length: PER_ROUND }, (_, i) => holdsBoth(user(round, i + 1), first, second))))).filter(Boolean);
    // Round 5: two approved requests that conflict are already stored (made before this check
    // existed, or the catalog made the two incompatible later); both instances deliver at once.
    // The last check before delivery lets exactly one through: the one asked for first.
    const slipped: string[] = [];
    for (let i = 1; i <= PER_ROUND; i++) {
      for (const [order, packageId] of [[1, 'payments'], [2, 'ledger']] as const) {
        const request = newRequest({ id: `REQ-SLIP-${i}-${order}-${packageId}`, type: 'add', packageId, policyId: 'all', requesterId: user(5, i), targetUserId: user(5, i), schedule: { startAt: a.clock.now() }, state: 'delivering', now: a.clock.now() });
        await a.repositories.requests.insert(request);
        await a.repositories.tasks.enqueue({ type: TASK_TYPES.deliver, payload: { requestId: request.id }, dedupeKey: `${TASK_TYPES.deliver}:${request.id}` });
        slipped.push(request.id);
      }
    }
    await settle();
    // The approver approves every payments request still waiting (both instances, like two devices).
    for (const request of await a.repositories.requests.listPending('payments')) {
      await Promise.all([invoke(a, APPROVER, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' }), invoke(b, APPROVER, { verb: 'decide', requestId: request.id, stage: 0, decision: 'approve' })]);
    }
    await settle();

    const violations: string[] = [];
    const directoryViolations: string[] = [];
    const neither: string[] = [];
    const perRound = pairs.map(() => 0);
    for (const [round, first, second, groupOne, groupTwo] of pairs) {
      for (let i = 1; i <= PER_ROUND; i++) {
        const person = user(round, i);
        const has = new Set([
          ...(await a.repositories.assignments.listActiveForUser(person)).map((x) => x.packageId),
          ...(await a.repositories.requests.listOpenForUser(person)).map((r) => r.packageId),
        ]);
        if (await holdsBoth(person, first, second)) {
          violations.push(person);
          perRound[round - 1]!++;
        }
        if (!has.has(first) && !has.has(second)) neither.push(person);
        const inOne = await directory.hasGroupRole(groupOne, person, 'member');
        const inTwo = await directory.hasGroupRole(groupTwo, person, 'member');
        if (inOne && inTwo) directoryViolations.push(person);
      }
    }
    const users = PER_ROUND * pairs.length;
    console.log(
      `separation of duties (${label}, seed ${seed}): ${violations.length} of ${users} people hold or wait for both incompatible packages ` +
        `(two requests ${perRound[0]}/${PER_ROUND}, package and group ${perRound[1]}/${PER_ROUND}, request and admin assignment ${perRound[2]}/${PER_ROUND}, ` +
        `holding one while extending ${perRound[3]}/${PER_ROUND}, stored conflicting requests delivered at once ${perRound[4]}/${PER_ROUND}); ${directoryViolations.length} in both incompatible groups in the directory; ${neither.length} got neither; ` +
        `right after the submissions (rounds 1-4) ${bothRightAfter.length} waited for or held both`,
    );
    expect(bothRightAfter).toEqual([]);
    expect(violations).toEqual([]);
    expect(directoryViolations).toEqual([]);
    // Not vacuous: every person got one of the two (the first to arrive wins).
    expect(neither).toEqual([]);
    // The refusals say why: one per person in rounds 1-3, two in round 4 (the request and the assignment).
    const refusals = texts.filter((t) => /separation of duties/i.test(t));
    expect(refusals).toHaveLength(PER_ROUND * 5);

    // Round 5: of each stored pair, the one asked for first (same instant: the lower id, payments) was
    // delivered; the other ended with the reason, and admins were told.
    for (let i = 1; i <= PER_ROUND; i++) {
      const [payments, ledger] = await Promise.all([a.repositories.requests.get(`REQ-SLIP-${i}-1-payments`), a.repositories.requests.get(`REQ-SLIP-${i}-2-ledger`)]);
      expect(payments?.state).toBe('delivered');
      expect(ledger).toMatchObject({ state: 'denied', endReason: { rule: 'separationOfDuties', checkedAt: 'delivery', conflict: { kind: 'package', id: 'payments' } } });
    }
    const notices = await store.collection<{ _id: string; dedupeKey?: string }>('tasks').find({ type: 'notify.send' });
    expect(slipped.filter((id) => id.endsWith('ledger')).every((id) => notices.some((t) => t.dedupeKey?.startsWith(`notify.send:sod:${id}:`)))).toBe(true);

    // Nothing is left half-done: no request of these people is still open after the approvals
    // and deliveries ran, other than what an approver still has to decide (none here).
    const stillOpen = (await Promise.all(world.users.map((u) => a.repositories.requests.listOpenForUser(u)))).flat();
    expect(stillOpen.map((r) => `${r.id} ${r.state}`)).toEqual([]);
    // Every held package is fully delivered, and each audit event recorded once.
    const held = (await Promise.all(world.users.map((u) => a.repositories.assignments.listActiveForUser(u)))).flat();
    expect(held.filter((x) => x.state !== 'delivered').map((x) => `${x.id} ${x.state}`)).toEqual([]);
    const audit = await a.repositories.audit.query({ limit: 10_000 });
    expect(audit.length).toBe(new Set(audit.map((e) => e.id)).size);
  } finally {
    for (const app of apps) await app.close().catch(() => undefined);
    await connector.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('separation of duties holds under concurrent submissions, admin assignments and extensions', () => {
  it('on the embedded store (two instances, one store)', async () => {
    const seed = seedFromEnv();
    const random = seededRandom(seed + 1);
    // Store calls take 0-4 ms, as a database's round trips do (the MongoDB runs have real ones).
    const store = slowStore(await openEmbeddedStore({}), () => Math.floor(random() * 5));
    try {
      await race(store, 'embedded store', seed);
    } finally {
      await store.close();
    }
  }, 120_000);

  const unavailable = mongoUnavailable();
  if (unavailable) console.info(unavailable);
  (unavailable ? it.skip : it).each([
    ['standalone', {}],
    ['replica set', { replicaSet: 'rs0' }],
  ])('on MongoDB (%s) through the MongoDB wire double or MONGODB_URI: two instances, one database', async (_name, options) => {
    const target = await startMongoTarget(options);
    const store = await openMongoStore({ uri: target.uri, dbName: uniqueDbName('sod') });
    try {
      await race(store, `${target.label}, ${_name}`, seedFromEnv());
    } finally {
      await store.close();
      await target.stop();
    }
  }, 180_000);
});
