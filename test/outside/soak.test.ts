/**
 * Soak, from the seat of someone who runs the gateway for weeks without a restart: a mixed
 * workload at one app listening on 127.0.0.1, a bounded number of iterations (not a time), and
 * then the counts that must come back to a plateau after a forced collection: retained heap,
 * active handles, open sockets, pool connections, open subscriptions, and (with memlab's heap
 * snapshot parser) how many sockets and WebSockets are still alive in the heap.
 *
 * The workload of an iteration: REST and GraphQL creates (with and without an idempotency key),
 * reads, lists with filters and updates; bad requests of every kind (invalid JSON, wrong types, no
 * key, unknown keys, 404s, 413, 415, an unknown field); a new operation name and an APQ hash per
 * iteration; a subscription opened and dropped without a word; a client that vanishes mid-body;
 * webhook endpoints that fail, hang or refuse connections; a new workspace and key now and then.
 *
 * The second test holds the event broker still (a publish that does not answer, as a NATS that is
 * away makes every publish wait for its timeout) while creates go on.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { takeNodeMinimalHeap } from '@memlab/core';
import { Agent, fetch } from 'undici';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents } from '../../src/events/order-events';
import { OutboxStore } from '../../src/events/outbox.store';
import type { EventPublisher } from '../../src/events/publisher';
import { EventRelay } from '../../src/events/relay';
import { OrderService } from '../../src/orders/order.service';
import { createTestApp, type TestApp } from '../support/app';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const WARM_UP = 30;
const ITERATIONS = 60;
/** Retained heap growth allowed over ITERATIONS after a full collection: about 50 KB an iteration. */
const HEAP_GROWTH_BOUND = 8 * 1024 * 1024;

/** A full collection, after the callbacks already queued have run. */
async function collected(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** Live objects per class of the classes that hold a connection, from a heap snapshot parsed by memlab. */
// 'Socket' and 'WebSocket' grew by one per dropped subscription while the test waited for the
// subscription with an unawaited `expect.poll`: vitest keeps such a promise (to report it if never
// awaited) until the test ends, and with it the client's WebSocket and Socket. The server kept none:
// with a plain wait below they stay flat.
const WATCHED_CLASSES = ['IncomingMessage', 'ServerResponse', 'ClientRequest', 'Timeout', 'Socket', 'WebSocket'];
async function liveObjects(): Promise<Record<string, number>> {
  await collected();
  const heap = await takeNodeMinimalHeap();
  const counts = Object.fromEntries(WATCHED_CLASSES.map((name) => [name, 0]));
  heap.nodes.forEach((node) => {
    if (node.type === 'object' && node.name in counts) counts[node.name] = (counts[node.name] ?? 0) + 1;
  });
  return counts;
}

let t: TestApp;
let base = '';
let auth = '';
const agent = new Agent({ connections: 4 });
const receivers: Receiver[] = [];
const hanging = http.createServer(() => undefined); // takes the request and never answers

beforeAll(async () => {
  t = await createTestApp({
    logLevel: 'fatal',
    // Every request comes from 127.0.0.1: the made-up keys would get the address refused (429) after 10.
    authFailuresPerMinute: 1_000_000,
    rateLimitPerMinute: 1_000_000,
    webhookAllowPrivateNetworks: true,
    webhookTimeoutMs: 200,
    webhookRetrySchedule: [100, 100],
  });
  auth = await t.bearer('acme');
  base = await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  // A port nothing listens on: connections are refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const refusedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const failing = await startReceiver([500]);
  receivers.push(failing);
  const ctx = await t.app.services.auth.authenticate(auth);
  for (const url of [failing.url, `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/slow`, `http://127.0.0.1:${refusedPort}/gone`])
    await t.app.services.webhooks.createEndpoint(ctx, { url });
});
afterAll(async () => {
  await t?.close();
  await agent.close().catch(() => undefined);
  hanging.closeAllConnections();
  await new Promise((resolve) => hanging.close(resolve));
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

const order = (n: number) => ({
  customer_id: `contact_${n}`,
  items: [{ product_id: 'prod_001', name: 'Widget', quantity: 1, price: 10 }],
  total: 10,
  currency: 'USD',
});
const json = { 'content-type': 'application/json' };

async function call(path: string, init: { method?: string; headers?: Record<string, string>; body?: string; authorization?: string | null }): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.authorization !== null) headers.authorization = init.authorization ?? auth;
  const response = await fetch(`${base}${path}`, { method: init.method, headers, body: init.body, dispatcher: agent });
  return { status: response.status, body: await response.text() };
}

async function iteration(i: number, keys: string[]): Promise<void> {
  const authorization = keys[i % keys.length];
  const created = await call('/api/orders', {
    method: 'POST',
    headers: { ...json, 'idempotency-key': randomUUID() },
    body: JSON.stringify(order(i)),
    authorization,
  });
  expect(created.status).toBe(201);
  const id = (JSON.parse(created.body) as { data: { id: string } }).data.id;
  expect((await call('/api/orders', { method: 'POST', headers: json, body: JSON.stringify(order(i)), authorization })).status).toBe(201);
  expect((await call(`/api/orders/${id}`, { authorization })).status).toBe(200);
  expect((await call(`/api/orders/${id}`, { method: 'PUT', headers: json, body: JSON.stringify({ notes: `n${i}` }), authorization })).status).toBe(200);
  expect((await call(`/api/orders?status=pending&search=s${i}&limit=5`, { authorization })).status).toBe(200);
  // Bad requests of every kind.
  expect((await call('/api/orders', { method: 'POST', headers: json, body: '{"bad', authorization })).status).toBe(400);
  expect((await call('/api/orders', { method: 'POST', headers: json, body: JSON.stringify({ ...order(i), total: 'x' }), authorization })).status).toBe(422);
  expect((await call('/api/orders', { authorization: null })).status).toBe(401);
  const madeUp = `Bearer ogk_${createHash('sha256').update(`made-up ${i}`).digest('hex').slice(0, 40)}`;
  expect((await call('/api/orders', { authorization: madeUp })).status).toBe(401);
  expect((await call(`/api/orders/order_${i}`, { authorization })).status).toBe(404);
  expect((await call(`/api/nothing/${i}`, { authorization })).status).toBe(404);
  expect((await call('/api/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x', authorization })).status).toBe(415);
  expect((await call('/api/orders', { method: 'POST', headers: json, body: `{"a":"${'x'.repeat(1_100_000)}"}`, authorization })).status).toBe(413);
  // GraphQL: a new operation name, a new APQ hash (unknown, then registered), an unknown field.
  const gql = (body: unknown) => call('/graphql', { method: 'POST', headers: json, body: JSON.stringify(body), authorization });
  const mutation = await gql({
    query: `mutation Create${i}($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) { order { id } userErrors { code } } }`,
    variables: { input: { customerId: `c${i}`, items: [{ productId: 'p', quantity: 1, price: '1.00' }], total: '1.00' }, key: i % 2 ? `k${i}` : null },
    operationName: `Create${i}`,
  });
  expect(mutation.body).toContain('"userErrors":[]');
  const text = `query Q${i} { orders(first: 1) { totalCount } }`;
  const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(text).digest('hex') };
  expect((await gql({ extensions: { persistedQuery } })).body).toContain('PERSISTED_QUERY_NOT_FOUND');
  expect((await gql({ query: text, extensions: { persistedQuery } })).body).toContain('totalCount');
  expect((await gql({ query: `{ nope${i} }` })).body).toContain('GRAPHQL_VALIDATION_FAILED');
  // A subscription opened, then its socket dropped without a close frame.
  const ws = new WebSocket(`${base.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })));
    ws.on('message', (data) => {
      const text = (data as Buffer).toString('utf8');
      const message = JSON.parse(text) as { type: string };
      // An order another request of the workload created may arrive before the socket is dropped.
      if (message.type === 'next') return;
      if (message.type !== 'connection_ack') return reject(new Error(`unexpected ${text}`));
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { orderCreated { id } }' } }));
      // Once the subscription is live (the feed counts it), the client vanishes.
      // A plain wait, not `expect.poll` (see WATCHED_CLASSES).
      void (async () => {
        for (let tries = 0; t.app.feed.size === 0; tries++) {
          if (tries > 1_000) throw new Error('the subscription never went live');
          await new Promise((wait) => setTimeout(wait, 5));
        }
      })().then(() => {
        ws.terminate();
        resolve();
      }, reject);
    });
    ws.on('error', reject);
  });
  // A client that sends half a body and vanishes.
  await new Promise<void>((resolve, reject) => {
    const { port, hostname } = new URL(base);
    const socket = connect(Number(port), hostname, () => {
      socket.write(`POST /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"cust`, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
}

const count = async (sql: string, params: unknown[] = []) =>
  Number((await t.app.db.em.getConnection().execute<{ count: string }[]>(sql, params))[0]?.count);

/**
 * The active handles and requests, less the file writes of memlab's own snapshots and the TCP
 * sockets: the pool keeps the idle connections a busy moment opened (at most DB_POOL_MAX), and the
 * server's own sockets are counted apart (`openConnections`, which must come back to 0).
 */
const handles = () =>
  process.getActiveResourcesInfo().filter((kind) => kind !== 'FSReqCallback' && kind !== 'TCPSocketWrap');

const openConnections = () =>
  new Promise<number>((resolve, reject) => t.app.http.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

/** The pool's `used` and `pending` connections, from the app's own metrics (absent on the embedded database). */
async function poolBusy(): Promise<number> {
  const text = await t.app.metrics.render();
  return [...text.matchAll(/^db_pool_connections\{state="(?:used|pending)"\} (\d+)$/gm)].reduce((sum, [, value]) => sum + Number(value), 0);
}

describe('a long mixed workload at one process', () => {
  it('comes back to a plateau: heap, handles, sockets, pool, subscriptions', async () => {
    const keys = [auth];
    for (let w = 0; w < 3; w++) keys.push(await t.bearer(`soak-${w}`));
    for (let i = 0; i < WARM_UP; i++) await iteration(i, keys);

    const settled = async () => {
      await agent.close().catch(() => undefined);
      await expect.poll(() => t.app.feed.size).toBe(0);
      // A connection closed with its request body unread (a 413, a vanished client) lingers up to
      // 5 s reading what is still sent (src/app/lingering-close.ts) before it is destroyed.
      await expect.poll(openConnections, { timeout: 10_000 }).toBe(0);
      await expect.poll(poolBusy).toBe(0);
      // The last iterations' webhook attempts (to endpoints that fail, hang or refuse) have all ended.
      await expect
        .poll(() => count(`select count(*)::text as count from webhook_deliveries where status = 'pending'`), { timeout: 30_000 })
        .toBe(0);
    };
    await expect.poll(() => t.app.feed.size).toBe(0);
    const objectsBefore = await liveObjects();
    const heapBefore = await collected();
    const handlesBefore = handles().length;

    for (let i = WARM_UP; i < WARM_UP + ITERATIONS; i++) {
      await iteration(i, keys);
      if (i % 30 === 0) keys.push(await t.bearer(`soak-${i}`));
    }
    await settled();
    const heapAfter = await collected();
    const handlesAfter = handles();
    const objectsAfter = await liveObjects();

    expect(heapAfter - heapBefore).toBeLessThan(HEAP_GROWTH_BOUND);
    // The agent's keep-alive sockets are closed now: at most the handles there were, not one a request.
    expect(handlesAfter.length, handlesAfter.join(', ')).toBeLessThanOrEqual(handlesBefore);
    const grown = Object.fromEntries(
      WATCHED_CLASSES.flatMap((name) => {
        const more = (objectsAfter[name] ?? 0) - (objectsBefore[name] ?? 0);
        return more > 4 ? [[name, more]] : [];
      }),
    );
    expect(grown, 'live objects more than before').toStrictEqual({});
  }, 600_000);
});

describe('the event relay while the broker does not answer', () => {
  it('keeps at most its bound of handed-over events in memory, and the rest reach the outbox and go out later', async () => {
    let calls = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const stalled: EventPublisher = {
      name: 'stalled',
      async publish() {
        calls++;
        await gate;
      },
      close: async () => undefined,
    };
    const relay = new EventRelay({
      store: new OutboxStore(t.app.db.em),
      publishers: [stalled],
      log: { warn: () => undefined, error: () => undefined },
      pollIntervalMs: 600_000,
      batchDelayMs: 0,
      batchSize: 2,
      maxHandedOver: 4,
    });
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay });
    const ctx = await t.app.services.auth.authenticate(auth);
    relay.start();
    const ids: string[] = [];
    const create = async (n: number) =>
      ids.push((await service.createOrderExactlyOnce(ctx, { ...order(n), customer_id: `stalled_${n}` })).order.id);
    await create(0);
    await expect.poll(() => calls).toBeGreaterThan(0);
    for (let n = 1; n < 20; n++) await create(n);
    expect(relay.handedOverCount).toBeLessThanOrEqual(4);

    open();
    const waiting = () => count('select count(*)::text as count from order_event_queue where order_id = any(?::text[])', [`{${ids.join(',')}}`]);
    await expect.poll(waiting).toBe(0);
    expect(relay.handedOverCount).toBe(0);
    await relay.stop();
  });
});
