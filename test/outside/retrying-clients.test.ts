/**
 * HTTP clients that retry by themselves, with the retry policies their authors ship, against a live
 * gateway (listening on a port, as a server) while it fails the way it does in production. What
 * a user of such a client cares about: a retried create ends as one order with one event, the
 * headers the client reads (`Retry-After`, `X-RateLimit-*`) parse with its own parser, and it
 * gives up or succeeds in a sensible time.
 *
 * The clients: got 14 (its default retry, and `methods: ['POST']` for keyed creates), ky 1,
 * axios with axios-retry 4 (`isNetworkOrIdempotentRequestError`, `exponentialDelay`), p-retry 7
 * around fetch, and undici 7's RetryAgent.
 */
import net, { type AddressInfo } from 'node:net';
import axios from 'axios';
import axiosRetry, { exponentialDelay, isNetworkOrIdempotentRequestError } from 'axios-retry';
import got from 'got';
import ky from 'ky';
import pRetry from 'p-retry';
import { Agent, RetryAgent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const TIMEOUT = 30_000;

let t: TestApp;
let base = '';
let auth = '';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 1_000_000 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  auth = await t.bearer('retrying-clients');
}, TIMEOUT);
afterAll(() => t?.close());

/** `order.created` events of a customer's orders in the outbox. */
async function createdEventsOf(customerId: string): Promise<number> {
  const [row] = await t.app.db.em
    .fork()
    .execute<{ n: number }[]>(
      `select count(*)::int as n from order_events e join orders o on o.id = e.order_id where o.customer_id = ? and e.type = 'order.created'`,
      [customerId],
    );
  return row?.n ?? 0;
}

const restOrder = (customerId: string) => ({
  customer_id: customerId,
  items: [{ product_id: 'p-1', quantity: 1, price: '5.00' }],
  total: '5.00',
});

/** The orders of a customer, through REST. */
async function ordersOf(customerId: string): Promise<number> {
  const page = await got(`${base}/api/orders`, {
    searchParams: { customer_id: customerId },
    headers: { authorization: auth },
  }).json<{ pagination: { total: number } }>();
  return page.pagination.total;
}

const CREATE_TWO = `mutation Two($a: CreateOrderInput!, $b: CreateOrderInput!) {
  a: createOrder(input: $a) { order { id } userErrors { code } }
  b: createOrder(input: $b) { order { id } userErrors { code } }
}`;
const input = (customerId: string) => ({
  customerId,
  items: [{ productId: 'p-1', quantity: 1, price: '5.00' }],
  total: '5.00',
});

describe('a GraphQL client whose HTTP layer retries POST on 503 (got, retry.methods: POST)', { timeout: TIMEOUT }, () => {
  it('is not told to retry a document whose first mutation committed before the second met the outage: one order, no retry', async () => {
    const orders = t.app.services.orders;
    const original = orders.createOrderExactlyOnce.bind(orders);
    // The database goes away between the two creates of one document: the second one meets it.
    orders.createOrderExactlyOnce = async (ctx, request, key) => {
      if ((request as { customer_id?: string }).customer_id === 'batch-b') throw refused();
      return original(ctx, request, key);
    };
    const retries: number[] = [];
    try {
      const res = await got.post(`${base}/graphql`, {
        json: { query: CREATE_TWO, variables: { a: input('batch-a'), b: input('batch-b') } },
        headers: { authorization: auth },
        throwHttpErrors: false,
        retry: { limit: 2, methods: ['POST'] },
        hooks: { beforeRetry: [(_error, count) => void retries.push(count)] },
      });
      const body = JSON.parse(res.body) as { errors?: { extensions: { code: string } }[] };
      // The outage is still reported, as the error of the field that met it…
      expect(body.errors?.map((error) => error.extensions.code)).toStrictEqual(['SERVICE_UNAVAILABLE']);
      // …but the answer does not say "nothing was written, retry the request": the first create was.
      expect({ status: res.statusCode, retryAfter: res.headers['retry-after'], retries }).toStrictEqual({
        status: 200,
        retryAfter: undefined,
        retries: [],
      });
    } finally {
      orders.createOrderExactlyOnce = original;
    }
    expect(await ordersOf('batch-a')).toBe(1);
  });

  it('is still told to retry (503, Retry-After: 2) when the outage hit before anything was written: one order after the retry', async () => {
    const orders = t.app.services.orders;
    const original = orders.createOrderExactlyOnce.bind(orders);
    let calls = 0;
    orders.createOrderExactlyOnce = async (ctx, request, key) => {
      if (++calls === 1) throw refused(); // the first attempt meets the outage; the retry finds the database back
      return original(ctx, request, key);
    };
    const retries: string[] = [];
    try {
      const res = await got.post(`${base}/graphql`, {
        json: { query: `mutation One($a: CreateOrderInput!) { createOrder(input: $a) { order { id } } }`, variables: { a: input('outage-a') } },
        headers: { authorization: auth },
        retry: { limit: 2, methods: ['POST'] },
        hooks: { beforeRetry: [(error) => void retries.push(`${error.response?.statusCode} ${error.response?.headers['retry-after']}`)] },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      orders.createOrderExactlyOnce = original;
    }
    expect(retries).toStrictEqual(['503 2']);
    expect(await ordersOf('outage-a')).toBe(1);
  });
});

describe('REST clients with the retry policies their authors ship', { timeout: TIMEOUT }, () => {
  it('axios-retry (isNetworkOrIdempotentRequestError, exponentialDelay) retries a keyed create whose answer was lost to a reset connection: the replay, one order, one event', async () => {
    // A proxy that lets the first create through to the gateway and resets the client's connection
    // as the answer comes back: the order is committed, the client never hears of it.
    let resets = 0;
    const proxy = net.createServer((client) => {
      const upstream = net.connect((t.app.http.server.address() as AddressInfo).port, '127.0.0.1');
      client.pipe(upstream);
      upstream.on('data', (chunk) => {
        if (resets === 0) {
          resets += 1;
          client.resetAndDestroy();
          upstream.destroy();
        } else client.write(chunk);
      });
      upstream.on('end', () => client.end());
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const client = axios.create({ baseURL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    const retried: string[] = [];
    axiosRetry(client, {
      retries: 3,
      retryDelay: exponentialDelay,
      retryCondition: isNetworkOrIdempotentRequestError,
      onRetry: (_count, error) => void retried.push(String(error.code)),
    });
    try {
      const res = await client.post('/api/orders', restOrder('axios-reset'), {
        headers: { authorization: auth, 'idempotency-key': 'axios-reset-1' },
      });
      expect({ status: res.status, replayed: res.headers['idempotent-replayed'] }).toStrictEqual({ status: 201, replayed: 'true' });
    } finally {
      proxy.close();
    }
    expect(retried).toStrictEqual(['ECONNRESET']);
    expect([await ordersOf('axios-reset'), await createdEventsOf('axios-reset')]).toStrictEqual([1, 1]);
  });

  it('p-retry around fetch with AbortSignal.timeout: a keyed create that outlives the timeout is retried under its key and ends as one order with one event', async () => {
    const orders = t.app.services.orders;
    const original = orders.createOrderExactlyOnce.bind(orders);
    let slow = true;
    orders.createOrderExactlyOnce = async (ctx, request, key) => {
      // The first attempt commits after its client gave up waiting.
      const created = await original(ctx, request, key);
      if (slow) {
        slow = false;
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      return created;
    };
    const attempts: string[] = [];
    try {
      const body = await pRetry(
        async () => {
          const res = await fetch(`${base}/api/orders`, {
            method: 'POST',
            headers: { authorization: auth, 'content-type': 'application/json', 'idempotency-key': 'p-retry-1' },
            body: JSON.stringify(restOrder('p-retry-timeout')),
            signal: AbortSignal.timeout(500),
          });
          attempts.push(String(res.status));
          if (!res.ok) throw new Error(`${res.status}`);
          return { replayed: res.headers.get('idempotent-replayed'), ...((await res.json()) as { data: { id: string } }) };
        },
        { retries: 4, minTimeout: 200, onFailedAttempt: ({ error }) => void (error.name === 'TimeoutError' && attempts.push('timeout')) },
      );
      expect(body.replayed).toBe('true');
    } finally {
      orders.createOrderExactlyOnce = original;
    }
    expect(attempts).toStrictEqual(['timeout', '201']);
    expect([await ordersOf('p-retry-timeout'), await createdEventsOf('p-retry-timeout')]).toStrictEqual([1, 1]);
  });

  it("undici's RetryAgent retries an update (PUT) that met the outage after Retry-After, and the status moves once", async () => {
    const created = await got
      .post(`${base}/api/orders`, { json: restOrder('undici-put'), headers: { authorization: auth } })
      .json<{ data: { id: string } }>();
    const orders = t.app.services.orders;
    const original = orders.updateOrder.bind(orders);
    let calls = 0;
    orders.updateOrder = async (...args) => {
      if (++calls === 1) throw refused();
      return original(...args);
    };
    const agent = new RetryAgent(new Agent(), { maxRetries: 2, minTimeout: 100 });
    const started = Date.now();
    try {
      const res = await undiciRequest(`${base}/api/orders/${created.data.id}`, {
        method: 'PUT',
        dispatcher: agent,
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'paid' }),
      });
      const body = (await res.body.json()) as { data: { status_history: { status: string }[] } };
      expect(res.statusCode).toBe(200);
      expect(body.data.status_history.map((entry) => entry.status)).toStrictEqual(['pending', 'paid']);
    } finally {
      orders.updateOrder = original;
      await agent.close();
    }
    // It waited the 2 s of Retry-After (read with undici's own parser), not its 100 ms minimum.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(calls).toBe(2);
  });
});

describe('the rate limit as retrying clients read it', { timeout: TIMEOUT }, () => {
  let limited: TestApp;
  let limitedBase = '';
  let limitedAuth = '';
  beforeAll(async () => {
    limited = await createTestApp({ rateLimitPerMinute: 2, rateLimitWindowMs: 2000 });
    await limited.app.http.listen({ host: '127.0.0.1', port: 0 });
    limitedBase = `http://127.0.0.1:${(limited.app.http.server.address() as AddressInfo).port}`;
    limitedAuth = await limited.bearer('limited');
  }, TIMEOUT);
  afterAll(() => limited?.close());

  it('ky and got wait for Retry-After on a 429 (their own parsers) and then succeed; the X-RateLimit headers are integers', async () => {
    const headers = { authorization: limitedAuth };
    const first = await got(`${limitedBase}/api/orders`, { headers, retry: { limit: 0 } });
    expect(Number.isInteger(Number(first.headers['x-ratelimit-limit']))).toBe(true);
    expect(Number.isInteger(Number(first.headers['x-ratelimit-reset']))).toBe(true);
    await got(`${limitedBase}/api/orders`, { headers, retry: { limit: 0 } });
    const statuses: number[] = [];
    const started = Date.now();
    const res = await ky.get(`${limitedBase}/api/orders`, {
      headers,
      retry: { limit: 3 },
      hooks: { beforeRetry: [({ error }) => void statuses.push((error as { response?: Response }).response?.status ?? 0)] },
    });
    expect(res.status).toBe(200);
    expect(statuses).toStrictEqual([429]);
    expect(Date.now() - started).toBeLessThan(5000);
    // got, the same: its default retry honours Retry-After on a 429.
    await got(`${limitedBase}/api/orders`, { headers, retry: { limit: 0 } });
    const viaGot = await got(`${limitedBase}/api/orders`, { headers });
    expect(viaGot.statusCode).toBe(200);
    expect(viaGot.retryCount).toBe(1);
  });
});
