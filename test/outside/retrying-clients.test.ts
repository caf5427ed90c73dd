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
import type { AddressInfo } from 'node:net';
import got from 'got';
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
