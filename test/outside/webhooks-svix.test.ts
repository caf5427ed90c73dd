/**
 * A webhook receiver that verifies with svix's `Webhook` class (1.82.0: its own
 * HMAC and base64 code, not the `standardwebhooks` package the gateway signs
 * with), as a user who wrote their receiver against another Standard Webhooks
 * implementation would. The endpoints are managed over GraphQL, as the README
 * shows, and what `webhookDeliveries` reports is checked against what the
 * receiver saw: every attempt, its status code, its time.
 */
import http from 'node:http';
import type net from 'node:net';
import { Webhook, WebhookVerificationError } from 'svix';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestApp } from '../support/app';
import { eventually } from '../support/nats';

interface Arrival {
  at: number;
  headers: Record<string, string>;
  body: string;
  status: number;
}

/** An HTTP receiver on 127.0.0.1 answering each request with the next of `statuses` (then the last). */
async function svixReceiver(statuses: number[]) {
  const arrivals: Arrival[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = statuses[Math.min(arrivals.length, statuses.length - 1)] ?? 200;
      arrivals.push({ at: Date.now(), headers: request.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8'), status });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hooks/orders`,
    arrivals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What svix says of an arrival with `secret`: the parsed event, or its error's message. */
function svixVerify(secret: string, arrival: Arrival): { event?: { id: string; type: string }; error?: string } {
  try {
    return { event: new Webhook(secret).verify(arrival.body, arrival.headers) as { id: string; type: string } };
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    return { error: error.message };
  }
}

const t = useTestApp({ webhookAllowPrivateNetworks: true, webhookRetrySchedule: [200, 200], eventsPollIntervalMs: 100 });
const receivers: { close(): Promise<void> }[] = [];
afterAll(() => Promise.all(receivers.map((receiver) => receiver.close())));
afterEach(() => vi.useRealTimers());

const orderBody = (customer: string) => ({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });

async function gqlData(query: string, variables: Record<string, unknown>) {
  const response = await t.gql(query, variables);
  expect(response.statusCode, response.body).toBe(200);
  expect(response.json().errors, response.body).toBeUndefined();
  return response.json().data;
}

async function createEndpoint(url: string, events?: string[]): Promise<{ id: string; secret: string }> {
  const { createWebhookEndpoint } = await gqlData(
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { message } } }',
    { input: { url, ...(events ? { events } : {}) } },
  );
  expect(createWebhookEndpoint.userErrors).toStrictEqual([]);
  return { id: createWebhookEndpoint.endpoint.id, secret: createWebhookEndpoint.secret };
}

interface Delivery {
  id: string;
  eventId: string;
  status: string;
  deliveredAt: string | null;
  attempts: { attemptedAt: string; statusCode: number | null; error: string | null }[];
}

async function deliveries(endpointId: string): Promise<Delivery[]> {
  const { webhookDeliveries } = await gqlData(
    `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 50) {
       edges { node { id eventId status deliveredAt attempts { attemptedAt statusCode error } } } } }`,
    { id: endpointId },
  );
  return webhookDeliveries.edges.map((edge: { node: Delivery }) => edge.node);
}

describe('a receiver that verifies with svix', () => {
  let endpoint: { id: string; secret: string };
  let receiver: Awaited<ReturnType<typeof svixReceiver>>;

  beforeAll(async () => {
    receiver = await svixReceiver([503, 500, 204]);
    receivers.push(receiver);
    endpoint = await createEndpoint(receiver.url, ['ORDER_CREATED']);
  });

  it('verifies every attempt of a retried delivery, which carries one webhook-id, and the attempt log matches what it saw', async () => {
    const created = await t.rest.post('/api/orders', orderBody('svix-retries'));
    expect(created.statusCode).toBe(201);
    await eventually(async () => (await deliveries(endpoint.id))[0]?.status === 'DELIVERED', 15_000, 'the delivery');

    const verdicts = receiver.arrivals.map((arrival) => svixVerify(endpoint.secret, arrival));
    expect(verdicts.map((verdict) => verdict.error)).toStrictEqual([undefined, undefined, undefined]);
    const [event] = verdicts.map((verdict) => verdict.event);
    expect(event).toMatchObject({ type: 'order.created', subject: created.json().data.id });
    expect(receiver.arrivals.map((arrival) => arrival.headers['webhook-id'])).toStrictEqual([event?.id, event?.id, event?.id]);
    // Each attempt is signed at its own time, within svix's 5-minute tolerance.
    for (const arrival of receiver.arrivals) expect(Math.abs(Number(arrival.headers['webhook-timestamp']) * 1000 - arrival.at)).toBeLessThan(5_000);

    const [delivery] = await deliveries(endpoint.id);
    expect(delivery?.eventId).toBe(event?.id);
    expect(delivery?.attempts.map((attempt) => attempt.statusCode)).toStrictEqual(receiver.arrivals.map((arrival) => arrival.status));
    delivery?.attempts.forEach((attempt, index) => {
      const sent = Date.parse(attempt.attemptedAt);
      const arrived = receiver.arrivals[index]?.at ?? 0;
      // The log's time is when the attempt started: at most a moment before the receiver had it.
      expect(arrived - sent).toBeGreaterThanOrEqual(-5);
      expect(arrived - sent).toBeLessThan(5_000);
      // Signed at the attempt's own second.
      expect(Number(receiver.arrivals[index]?.headers['webhook-timestamp'])).toBe(Math.floor(sent / 1000));
    });
    expect(Date.parse(delivery?.deliveredAt ?? '')).toBeGreaterThanOrEqual((receiver.arrivals[2]?.at ?? Infinity) - 5);
  });

  it('refuses a delivery replayed after svix’s five minutes, or with its body changed', async () => {
    const arrival = receiver.arrivals.at(-1) as Arrival;
    expect(svixVerify(endpoint.secret, { ...arrival, body: arrival.body.replace('"order.created"', '"order.updated"') }).error).toBe('No matching signature found');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Number(arrival.headers['webhook-timestamp']) * 1000 + 6 * 60_000);
    expect(svixVerify(endpoint.secret, arrival).error).toBe('Message timestamp too old');
  });

  it('during a rotation, a receiver with either the old or the new secret verifies each delivery; after a rotation with no grace, only the new', async () => {
    const { rotateWebhookSecret } = await gqlData(
      'mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { previousSecretExpiresAt } userErrors { message } } }',
      { id: endpoint.id },
    );
    expect(rotateWebhookSecret.userErrors).toStrictEqual([]);
    const seen = receiver.arrivals.length;
    await t.rest.post('/api/orders', orderBody('svix-rotation'));
    await eventually(async () => receiver.arrivals.length === seen + 1, 10_000, 'the delivery during the rotation');
    const during = receiver.arrivals[seen];
    expect(svixVerify(endpoint.secret, during).error).toBeUndefined();
    expect(svixVerify(rotateWebhookSecret.secret, during).error).toBeUndefined();

    const { rotateWebhookSecret: again } = await gqlData(
      'mutation($id: ID!) { rotateWebhookSecret(id: $id, previousSecretValidForSeconds: 0) { secret userErrors { message } } }',
      { id: endpoint.id },
    );
    await t.rest.post('/api/orders', orderBody('svix-rotated'));
    await eventually(async () => receiver.arrivals.length === seen + 2, 10_000, 'the delivery after the rotation');
    const after = receiver.arrivals[seen + 1];
    expect(svixVerify(again.secret, after).error).toBeUndefined();
    expect(svixVerify(rotateWebhookSecret.secret, after).error).toBe('No matching signature found');
    expect(svixVerify(endpoint.secret, after).error).toBe('No matching signature found');
  });
});
