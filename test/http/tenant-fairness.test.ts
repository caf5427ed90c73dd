/**
 * One workspace cannot starve the others. The original finding: fifteen
 * aliases of `orders(first: 14)` over orders of 500 items answered 17.6 MB in
 * 6 s, two of them at once made another workspace's reads 200 times slower,
 * emptied the connection pool and took /readyz down. What a user would notice
 * of each control is asserted here (speed itself is measured by
 * `npm run bench:fairness`, never in a test):
 * - the query cost counts `first` given as a variable and every order's items;
 * - one request holds at most two pool connections at once;
 * - an answer over the size limit is an error with a stable code;
 * - while one workspace sends its heaviest allowed queries, another's reads
 *   are answered, and the pool keeps connections to spare.
 * Load shedding has its own file (load-shedding.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';
import { createOrder } from '../support/orders';

let t: TestApp;
let heavy: string;
let victim: string;
let victimOrderId: string;

const ORDER_FIELDS = `id orderNumber customerId status
  items { productId name quantity price sku subtotal }
  subtotal shipping tax total currency
  shippingAddress { name company address address2 city state postalCode country phone email }
  billingAddress { name company address address2 city state postalCode country phone email }
  notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt`;

/** The finding's shape: `aliases` × `orders(first)` with every field. */
const aliased = (aliases: number, first: number | '$n') =>
  `${first === '$n' ? 'query($n: Int)' : 'query'} { ${Array.from({ length: aliases }, (_, i) => `a${i}: orders(first: ${first}) { totalCount edges { cursor node { ${ORDER_FIELDS} } } }`).join(' ')} }`;

const gql = (authorization: string, query: string, variables: Record<string, unknown> = {}) =>
  t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization, 'content-type': 'application/json' },
    payload: JSON.stringify({ query, variables }),
  });

beforeAll(async () => {
  // No relay or webhook dispatcher: their polls take pool connections of their own at any moment,
  // and the pool test below counts what one request holds.
  t = await createTestApp({ rateLimitPerMinute: 1_000_000, eventsRelay: false });
  heavy = await t.bearer('heavy');
  victim = await t.bearer('victim');
  const heavyCtx = await t.app.services.auth.authenticate(heavy);
  const orders = t.app.services.orders;
  const items = Array.from({ length: 500 }, (_, i) => ({ product_id: `p${i}`, name: `Item ${i}`, quantity: 1, price: '1.00', sku: `S${i}` }));
  for (let i = 0; i < 3; i++) await createOrder(orders, heavyCtx, { customer_id: `bulk${i}`, items, total: '500.00' });
  const victimCtx = await t.app.services.auth.authenticate(victim);
  victimOrderId = (await createOrder(orders, victimCtx, { customer_id: 'v', items: [{ product_id: 'p', quantity: 1, price: '1.00' }], total: '1.00' })).id;
});
afterAll(() => t.close());

function expectCostRefusal(res: Awaited<ReturnType<typeof gql>>) {
  expect(res.statusCode, res.body.slice(0, 300)).toBe(400);
  expect(res.json().errors).toStrictEqual([
    { message: expect.stringMatching(/^Query cost limit of 50000 exceeded, found \d+\.$/), extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'cost' } },
  ]);
}

describe('the cost of a query', () => {
  it('refuses the original finding, 15 aliases of orders(first: 14), before any resolver runs', async () => {
    const findOrders = vi.spyOn(t.app.services.orders, 'findOrders');
    try {
      expectCostRefusal(await gql(heavy, aliased(15, 14)));
      expect(findOrders).not.toHaveBeenCalled();
    } finally {
      findOrders.mockRestore();
    }
  });

  it('counts `first` given as a variable exactly like a literal', async () => {
    const page = (first: string) => `query${first === '$n' ? '($n: Int)' : ''} { orders(first: ${first}) { edges { node { id items { productId } } } } }`;
    // 1 + n × (edges + node + id + items (1 + 500 × productId)) = 1 + 504 n: 99 fits in 50,000, 100 does not.
    for (const [query, variables] of [
      [page('100'), {}],
      [page('$n'), { n: 100 }],
    ] as const) {
      expectCostRefusal(await gql(heavy, query, variables));
    }
    for (const [query, variables] of [
      [page('99'), {}],
      [page('$n'), { n: 99 }],
    ] as const) {
      const res = await gql(heavy, query, variables);
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    }
  });

  it('counts every order’s items at 500: a page of 100 without items fits, with items it does not', async () => {
    const withoutItems = ORDER_FIELDS.replace('items { productId name quantity price sku subtotal }', '');
    const res = await gql(heavy, `{ orders(first: 100) { edges { node { ${withoutItems} } } } }`);
    expect(res.statusCode).toBe(200);
    expect(res.json().errors).toBeUndefined();
    expectCostRefusal(await gql(heavy, `{ orders(first: 100) { edges { node { ${withoutItems} items { productId } } } } }`));
  });

  it('the heaviest allowed query of that shape is 15 aliases of orders(first: 1), 7,500 items at most', async () => {
    const allowed = await gql(heavy, aliased(15, 1));
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json().data.a14.edges[0].node.items).toHaveLength(500);
    expectCostRefusal(await gql(heavy, aliased(15, 2)));
    expectCostRefusal(await gql(heavy, aliased(15, '$n'), { n: 2 }));
  });
});

/** Tracks the knex pool (PostgreSQL): the most connections in use at once. */
function watchPool() {
  type Pool = {
    numUsed(): number;
    on(event: string, listener: () => void): void;
    removeListener(event: string, listener: () => void): void;
  };
  const pool = (t.app.db.em.getConnection().getKnex().client as { pool: Pool }).pool;
  const seen = { maxUsed: 0 };
  const onAcquired = () => (seen.maxUsed = Math.max(seen.maxUsed, pool.numUsed()));
  pool.on('acquireSuccess', onAcquired);
  return { seen, stop: () => pool.removeListener('acquireSuccess', onAcquired) };
}

/** Counts the service calls in flight at once. */
function watchServiceCalls() {
  const orders = t.app.services.orders;
  const original = orders.findOrders;
  const seen = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const spy = vi.spyOn(orders, 'findOrders').mockImplementation(async (...args) => {
    seen.calls++;
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
    try {
      return await original.apply(orders, args);
    } finally {
      seen.inFlight--;
    }
  });
  return { seen, stop: () => spy.mockRestore() };
}

describe('connections one request may hold', () => {
  it('a request with 15 aliases calls the service one call at a time', async () => {
    const calls = watchServiceCalls();
    try {
      const res = await gql(heavy, aliased(15, 1));
      expect(res.statusCode).toBe(200);
      expect(calls.seen).toMatchObject({ calls: 15, maxInFlight: 1 });
    } finally {
      calls.stop();
    }
  });

  it.skipIf(!usingRealPostgres)('so it holds one pool connection at a time (PostgreSQL; the embedded database has one connection)', async () => {
    const pool = watchPool();
    try {
      expect((await gql(heavy, aliased(15, 1))).statusCode).toBe(200);
    } finally {
      pool.stop();
    }
    // A page reads its rows and its count in one statement, then its orders.
    expect(pool.seen.maxUsed).toBe(1);
  });
});

describe('another workspace while one sends its heaviest allowed queries', () => {
  it('gets every read answered, and the pool always has connections to spare', async () => {
    const pool = usingRealPostgres ? watchPool() : undefined;
    const calls = watchServiceCalls();
    try {
      const heavyRequests = [gql(heavy, aliased(15, 1)), gql(heavy, aliased(15, 1))];
      const reads = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          i % 2 === 0
            ? t.app.http.inject({ method: 'GET', url: `/api/orders/${victimOrderId}`, headers: { authorization: victim } })
            : gql(victim, `{ order(id: "${victimOrderId}") { id total } }`),
        ),
      );
      for (const read of reads) {
        expect(read.statusCode).toBe(200);
        expect(read.body).toContain(victimOrderId);
      }
      for (const res of await Promise.all(heavyRequests)) expect(res.statusCode).toBe(200);
    } finally {
      calls.stop();
      pool?.stop();
    }
    // Each heavy request ran one service call at a time, 15 in all: never more than 2 at once for the two.
    expect(calls.seen.calls).toBe(30);
    expect(calls.seen.maxInFlight).toBeLessThanOrEqual(2);
    if (pool) {
      // Two heavy requests hold 1 connection each, each read 1: 6 of the pool's 10,
      // where the heavy requests alone used to take all 10 and leave the reads waiting.
      expect(pool.seen.maxUsed).toBeLessThanOrEqual(2 + 4);
    }
  });
});

describe('the size of an answer', () => {
  let small: TestApp;
  let auth: string;
  beforeAll(async () => {
    small = await createTestApp({ graphqlMaxResponseBytes: 10_000 });
    auth = await small.bearer('acme');
    const ctx = await small.app.services.auth.authenticate(auth);
    const items = Array.from({ length: 200 }, (_, i) => ({ product_id: `p${i}`, name: `Item ${i}`, quantity: 1, price: '1.00' }));
    await createOrder(small.app.services.orders, ctx, { customer_id: 'c', items, total: '200.00' });
  });
  afterAll(() => small.close());

  const ask = (query: string, variables: Record<string, unknown> = {}) =>
    small.app.http.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ query, variables }),
    });

  it('over GRAPHQL_MAX_RESPONSE_BYTES, a query gets QUERY_LIMIT_EXCEEDED naming responseSize instead of the answer', async () => {
    const res = await ask('{ orders(first: 1) { edges { node { id items { productId name quantity price subtotal } } } } }');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toStrictEqual({
      errors: [
        {
          message: expect.stringMatching(/^The response would be \d+ bytes, over the limit of 10000; ask for fewer orders or fields\.$/),
          extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'responseSize' },
        },
      ],
    });
    expect(res.body.length).toBeLessThan(1000);
  });

  it('under it, the same order without its items is answered', async () => {
    const res = await ask('{ orders { edges { node { id total } } } }');
    expect(res.statusCode).toBe(200);
    expect(res.json().data.orders.edges).toHaveLength(1);
  });

  it('a mutation’s answer always goes out: it says what was written', async () => {
    const items = Array.from({ length: 200 }, (_, i) => ({ productId: `p${i}`, name: `Item ${i}`, quantity: 1, price: '1.00' }));
    const res = await ask('mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id items { productId name price } } userErrors { code } } }', {
      input: { customerId: 'm', items, total: '200.00' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body.length).toBeGreaterThan(10_000);
    expect(res.json().data.createOrder.order.items).toHaveLength(200);
  });
});
