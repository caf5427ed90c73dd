/**
 * Workspace B attacking workspace A through what leaves the gateway as events, with stock tools:
 * the `graphql-ws` client over `ws` for subscriptions, a plain Node HTTP server (verifying with
 * `standardwebhooks`) as A's webhook receiver, and B's own receiver redirecting to A's.
 */
import http from 'node:http';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestApp } from '../support/app';
import { eventually } from '../support/nats';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

// Private networks allowed: both receivers listen on 127.0.0.1.
const t = useTestApp({ webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100, webhookRetrySchedule: [200, 200] });
const body = (customer: string) => ({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 });
let wsUrl: string;
let b: string;
const clients: Client[] = [];

beforeAll(async () => {
  const address = await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  wsUrl = `${address.replace('http', 'ws')}/graphql`;
  b = await t.bearer('workspace-b');
});
afterAll(async () => {
  await Promise.all(clients.map(async (client) => client.dispose()));
});

function clientOf(authorization: string): Client {
  const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization } });
  clients.push(client);
  return client;
}

/** What one subscription delivers: data, errors inside results, and the error that ends it. */
function watch(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const seen = { data: [] as Record<string, { id: string }>[], errors: [] as { message: string; extensions?: { code?: string } }[], done: false };
  client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) seen.errors.push(...(result.errors as typeof seen.errors));
        else seen.data.push(result.data as Record<string, { id: string }>);
      },
      error: (error) => seen.errors.push(...(Array.isArray(error) ? error : [error])),
      complete: () => {
        seen.done = true;
      },
    },
  );
  return seen;
}

describe('B subscribing to A', () => {
  it('orderUpdated(id) of A’s order answers B exactly as an unknown id does, and B’s unfiltered subscriptions get none of A’s changes', async () => {
    const aOrder = (await t.rest.post('/api/orders', body('a-customer'))).json().data.id as string;
    const client = clientOf(b);
    const foreign = watch(client, 'subscription($id: ID!) { orderUpdated(id: $id) { id customerId } }', { id: aOrder });
    // A well-formed id that no workspace has (the last character changed).
    const nobodys = `${aOrder.slice(0, -1)}${aOrder.endsWith('0') ? '1' : '0'}`;
    const unknown = watch(client, 'subscription($id: ID!) { orderUpdated(id: $id) { id customerId } }', { id: nobodys });
    const created = watch(client, 'subscription { orderCreated { id customerId } }');
    const updated = watch(client, 'subscription { orderUpdated { id customerId } }');
    await eventually(async () => foreign.done && unknown.done, 5000, 'both refusals');
    expect(foreign.data).toStrictEqual([]);
    // The same answer, but for the id each names.
    const answer = (errors: typeof foreign.errors, id: string) => errors.map((error) => [error.message.replace(id, '<id>'), error.extensions?.code]);
    expect(answer(foreign.errors, aOrder)).toStrictEqual(answer(unknown.errors, nobodys));
    expect(answer(foreign.errors, aOrder)).toStrictEqual([['Order <id> not found', 'NOT_FOUND']]);

    await t.rest.post('/api/orders', body('a-customer'));
    const moved = await t.gql('mutation($id: ID!) { updateOrder(id: $id, input: {status: PROCESSING}) { order { status } userErrors { code } } }', { id: aOrder });
    expect(moved.json().data.updateOrder).toStrictEqual({ order: { status: 'PROCESSING' }, userErrors: [] });
    const own = (await t.rest.post('/api/orders', body('b-customer'), { authorization: b })).json().data.id as string;
    await eventually(async () => created.data.length === 1, 5000, 'B’s own create');
    await sleep(300);
    expect(created.data).toStrictEqual([{ orderCreated: { id: own, customerId: 'b-customer' } }]);
    expect(updated.data).toStrictEqual([]);
  });
});

describe('B’s webhook against A’s receiver', () => {
  let aReceiver: Receiver;
  let redirector: http.Server;
  let redirectorUrl: string;
  beforeAll(async () => {
    aReceiver = await startReceiver([200]);
    redirector = http.createServer((request, response) => {
      request.resume();
      response.writeHead(307, { location: aReceiver.url }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as net.AddressInfo).port}/hooks`;
  });
  afterAll(async () => {
    await aReceiver?.close();
    await new Promise((resolve) => redirector?.close(resolve));
  });

  it('a redirect is not followed: A’s receiver gets nothing, B’s attempts log the 307 and fail', async () => {
    const created = await t.gql(
      'mutation($url: String!) { createWebhookEndpoint(input: {url: $url}) { endpoint { id } } }',
      { url: redirectorUrl },
      { authorization: b },
    );
    const endpointId = created.json().data.createWebhookEndpoint.endpoint.id as string;
    await t.rest.post('/api/orders', body('b-customer'), { authorization: b });
    const deliveries = async () =>
      (
        await t.gql(
          'query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { node { status attempts { statusCode error } } } } }',
          { id: endpointId },
          { authorization: b },
        )
      ).json().data.webhookDeliveries.edges as { node: { status: string; attempts: unknown[] } }[];
    await eventually(async () => (await deliveries())[0]?.node.status === 'FAILED', 10_000, 'the delivery to fail');
    expect((await deliveries())[0]?.node.attempts).toStrictEqual([
      { statusCode: 307, error: null },
      { statusCode: 307, error: null },
      { statusCode: 307, error: null },
    ]);
    expect(aReceiver.received).toStrictEqual([]);
  });

  it('A’s secret is shown to A once and appears nowhere after: not to B, not in A’s own reads, not in any log line', async () => {
    const made = await t.gql('mutation($url: String!) { createWebhookEndpoint(input: {url: $url}) { endpoint { id } secret } }', { url: aReceiver.url });
    const { secret } = made.json().data.createWebhookEndpoint as { secret: string };
    aReceiver.secret = secret;
    await t.rest.post('/api/orders', body('a-customer'));
    await eventually(async () => aReceiver.received.length >= 1, 10_000, 'A’s delivery');
    expect(aReceiver.received[0]?.verified).toBe(true);
    const reads = [
      await t.gql('{ webhookEndpoints { id url events enabled createdAt previousSecretExpiresAt } }'),
      await t.gql('{ webhookEndpoints { id url } }', {}, { authorization: b }),
    ];
    for (const read of reads) expect(read.body).not.toContain(secret);
    expect(JSON.stringify(t.logs)).not.toContain(secret.slice('whsec_'.length));
    expect(JSON.stringify(t.logs)).not.toMatch(/whsec_/);
  });
});
