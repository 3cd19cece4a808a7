import { randomUUID } from 'node:crypto';
import type { RunningApp } from '../../src/app';
import type { DocumentStore } from '../../src/store/port';
import { cardOf, cardText } from '../support/botHarness';
import { LoopbackConnector } from '../support/loopbackConnector';
import { postActivity, startTestApp } from '../support/testApp';

const TENANT = '00000000-0000-0000-0000-000000000001';
const user = { id: '29:megan', aadObjectId: '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', name: 'Megan Bowen' };

function message(serviceUrl: string, text: string, extra: Record<string, unknown> = {}) {
  return {
    type: 'message',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl,
    from: user,
    recipient: { id: '28:bot', name: 'Access Packages' },
    conversation: { id: 'a:personal-megan', conversationType: 'personal', tenantId: TENANT },
    channelData: { tenant: { id: TENANT } },
    text,
    ...extra,
  };
}

describe('POST /api/messages through restify with a loopback connector', () => {
  let connector: LoopbackConnector;
  let app: RunningApp & { baseUrl: string };

  beforeAll(async () => {
    connector = new LoopbackConnector();
    await connector.start();
    app = await startTestApp();
  });

  afterAll(async () => {
    try {
      await app?.close();
    } finally {
      await connector.stop();
    }
  });

  it('a message gets the help card back through the connector, as a reply to it', async () => {
    const activity = message(connector.serviceUrl, 'help');
    const before = connector.calls.length;
    const response = await postActivity(app.baseUrl, activity);
    expect(response.status).toBe(200);
    const call = connector.calls.slice(before).find((c) => c.method === 'POST');
    expect(call).toBeDefined();
    expect(call).toMatchObject({ conversationId: 'a:personal-megan', activityId: activity.id });
    expect(call!.body).toMatchObject({ type: 'message', replyToId: activity.id, conversation: { id: 'a:personal-megan' } });
    expect(cardText(cardOf(call!.body))).toContain('Show what you can do here.');
  });

  it('stores the conversation reference, pointing at the connector, for later proactive messages', async () => {
    await postActivity(app.baseUrl, message(connector.serviceUrl, 'help'));
    const ref = await app.repositories.conversationReferences.get(user.aadObjectId);
    expect(ref?.reference).toMatchObject({ serviceUrl: connector.serviceUrl, conversation: { id: 'a:personal-megan' } });
  });

  it('a card button (Action.Execute invoke) is answered in the HTTP response with the card', async () => {
    const before = connector.calls.length;
    const response = await postActivity(app.baseUrl, {
      ...message(connector.serviceUrl, ''),
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: { action: { type: 'Action.Execute', verb: 'help', data: { verb: 'help' } }, trigger: 'manual' },
    });
    expect(response.status).toBe(200);
    const body = response.body as { statusCode: number; type: string; value: unknown };
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardText(body.value)).toContain('Show what you can do here.');
    // The answer is the invoke response itself, not an extra message.
    expect(connector.calls.slice(before)).toHaveLength(0);
  });

  it('a body that is not an activity is refused with 400 and changes nothing', async () => {
    const before = connector.calls.length;
    const response = await fetch(`${app.baseUrl}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello": "world"}' });
    expect(response.status).toBe(400);
    expect(connector.calls.length).toBe(before);
  });

  it('GET /healthz says the process is up', async () => {
    const response = await fetch(`${app.baseUrl}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz says the store is reachable', async () => {
    const response = await fetch(`${app.baseUrl}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', store: app.store.kind });
  });
});

describe('readiness and tenant guard end to end', () => {
  let connector: LoopbackConnector;

  beforeAll(async () => {
    connector = new LoopbackConnector();
    await connector.start();
  });

  afterAll(() => connector.stop());

  it('GET /readyz answers 503 while the store is unreachable', async () => {
    const app = await startTestApp();
    const store = app.store as DocumentStore & { ping: () => Promise<void> };
    const ping = store.ping.bind(store);
    store.ping = () => Promise.reject(new Error('connection refused'));
    try {
      const response = await fetch(`${app.baseUrl}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unavailable', store: app.store.kind, reason: 'store unreachable' });
    } finally {
      store.ping = ping;
      await app.close();
    }
  });

  it('with TENANT_ID set, another tenant\'s message gets no service', async () => {
    const app = await startTestApp({ TENANT_ID: TENANT });
    try {
      const before = connector.calls.length;
      const other = message(connector.serviceUrl, 'help', {
        channelData: { tenant: { id: 'f00df00d-0000-0000-0000-000000000000' } },
        conversation: { id: 'a:personal-megan', conversationType: 'personal', tenantId: 'f00df00d-0000-0000-0000-000000000000' },
      });
      await postActivity(app.baseUrl, other);
      expect(connector.calls.length).toBe(before);
      expect(await app.repositories.conversationReferences.get(user.aadObjectId)).toBeNull();

      await postActivity(app.baseUrl, message(connector.serviceUrl, 'help'));
      expect(connector.calls.length).toBe(before + 1);
    } finally {
      await app.close();
    }
  });
});
