/**
 * REST and GraphQL are two doors to one service: the same create, valid or
 * not, must give the same outcome on both (the same stored order, read back
 * through either; or the same code naming the same fields), and an order
 * made through one must read the same through the other.
 *
 * Inputs are generated with fast-check, type-correct for GraphQL (a string
 * where the schema has a String, an Int within 32 bits), since a value the
 * schema cannot hold is refused by GraphQL before the service runs (README,
 * "Errors": BAD_USER_INPUT).
 *
 *   PARITY_SEED=$RANDOM PARITY_RUNS=300 npx vitest run test/http/transport-parity.test.ts
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { CREATE_ORDER, ORDER, UPDATE_ORDER } from '../support/graphql';
import {
  exactJson,
  graphQLOrderToSecond,
  graphQLOutcome,
  restOrderAsGraphQL,
  restOutcome,
  toGraphQLInput,
} from '../support/parity';

const SEED = process.env.PARITY_SEED ? Number(process.env.PARITY_SEED) : 20_261_206;
const RUNS = process.env.PARITY_RUNS ? Number(process.env.PARITY_RUNS) : 60;

const t = useTestApp({ rateLimitPerMinute: 1_000_000 });

const EXPONENTS: Record<string, number> = { USD: 2, JPY: 0, KWD: 3, IDR: 2, EUR: 2, CLF: 4 };

/** `minor` units of a currency with `exponent` digits, as a decimal string. */
function asDecimal(minor: bigint, exponent: number): string {
  if (exponent === 0) return minor.toString();
  const text = minor.toString().padStart(exponent + 1, '0');
  return `${text.slice(0, -exponent)}.${text.slice(-exponent)}`;
}

/** Mostly ordinary text; now and then text the service refuses or must keep exactly. */
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '  ', 'Gift? yes', 'a\u0000b', '\ud800', 'é\u0301', '😀'.repeat(64), '😀'.repeat(65), 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(501)),
  },
);

const addressArb = fc.record(
  {
    name: fc.oneof(text, fc.constant(null)),
    company: text,
    address: text,
    city: text,
    postal_code: text,
    country: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('ID', 'id', 'US', null) }, { weight: 1, arbitrary: fc.constantFrom('XX', 'IDN', '') }),
    phone: text,
    email: text,
  },
  { requiredKeys: [] },
);

const metadataArb = fc.oneof(
  fc.dictionary(
    fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) }, { weight: 1, arbitrary: fc.constantFrom('snake_key', 'camelKey', '', 'k'.repeat(41)) }),
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 })),
    { maxKeys: 6 },
  ),
  fc.constant({}),
);

/** A create body in REST's names, often valid, often with one or two things wrong. */
const createBody = fc
  .record({
    customer_id: fc.oneof({ weight: 8, arbitrary: fc.constant('contact_1') }, { weight: 1, arbitrary: text }),
    currency: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(undefined, 'USD', 'usd', 'JPY', 'KWD', 'IDR', 'EUR', 'CLF') },
      { weight: 1, arbitrary: fc.constantFrom('XXX', 'ZZZ', '') },
    ),
    items: fc.array(
      fc.record({
        product_id: fc.oneof({ weight: 8, arbitrary: fc.constant('prod_1') }, { weight: 1, arbitrary: text }),
        name: fc.option(text, { nil: undefined }),
        sku: fc.option(text, { nil: undefined }),
        quantity: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1_000_000, 1_000_001, 2_147_483_647) }),
        minor: fc.bigInt({ min: 0n, max: 10n ** 9n }),
        /** Extra decimal digits beyond the currency's (a refusal), or as a JSON number. */
        extraDigits: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1),
        asNumber: fc.boolean(),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    shipping: fc.option(fc.oneof({ weight: 9, arbitrary: fc.bigInt({ min: 0n, max: 10_000n }) }, { weight: 1, arbitrary: fc.constant(-1n) }), { nil: undefined }),
    tax: fc.option(fc.bigInt({ min: 0n, max: 10_000n }), { nil: undefined }),
    totalOffBy: fc.constantFrom(0n, 0n, 0n, 0n, 0n, 0n, 1n, -1n),
    shipping_address: fc.option(addressArb, { nil: undefined }),
    billing_address: fc.option(fc.oneof(addressArb, fc.constant(null)), { nil: undefined }),
    notes: fc.option(fc.oneof({ weight: 8, arbitrary: text }, { weight: 1, arbitrary: fc.constantFrom('n'.repeat(5001), null) }), { nil: undefined }),
    metadata: fc.option(metadataArb, { nil: undefined }),
  })
  .map((g) => {
    const exponent = EXPONENTS[(g.currency || 'USD').toUpperCase()] ?? 2;
    let total = 0n;
    const items = g.items.map((item) => {
      total += BigInt(item.quantity) * item.minor;
      let price: string | number = asDecimal(item.minor, exponent);
      if (item.extraDigits) price = `${price}${exponent === 0 ? '.' : ''}5`;
      if (item.asNumber) price = Number(price);
      const line: Record<string, unknown> = { product_id: item.product_id, quantity: item.quantity, price };
      if (item.name !== undefined) line.name = item.name;
      if (item.sku !== undefined) line.sku = item.sku;
      return line;
    });
    if (g.shipping !== undefined) total += g.shipping;
    if (g.tax !== undefined) total += g.tax;
    const body: Record<string, unknown> = { customer_id: g.customer_id, items, total: asDecimal(total + g.totalOffBy < 0n ? 0n : total + g.totalOffBy, exponent) };
    if (g.currency !== undefined) body.currency = g.currency;
    if (g.shipping !== undefined) body.shipping = g.shipping < 0n ? -1 : asDecimal(g.shipping, exponent);
    if (g.tax !== undefined) body.tax = asDecimal(g.tax, exponent);
    for (const key of ['shipping_address', 'billing_address', 'notes', 'metadata'] as const)
      if (g[key] !== undefined) body[key] = g[key];
    return body;
  });

async function readBoth(id: string) {
  const rest = await t.rest.get(`/api/orders/${id}`);
  expect(rest.statusCode, rest.body).toBe(200);
  const graphql = await t.gql(ORDER, { id });
  const order = exactJson(graphql).data.order;
  expect(order, graphql.body).not.toBeNull();
  return { rest: restOrderAsGraphQL(exactJson(rest).data), graphql: graphQLOrderToSecond(order) };
}

describe('the same create on both transports', () => {
  it('gives the same outcome, and the same order read through either', async () => {
    await fc.assert(
      fc.asyncProperty(createBody, async (body) => {
        const rest = await t.rest.post('/api/orders', body);
        const graphql = await t.gql(CREATE_ORDER, { input: toGraphQLInput(body) });
        const restSaid = restOutcome(rest);
        expect(graphQLOutcome(graphql, 'createOrder', 'created'), `REST said ${rest.body}\nGraphQL said ${graphql.body}`).toStrictEqual(restSaid);
        if (restSaid !== 'created') return;

        const fromRest = await readBoth(rest.json().data.id);
        const fromGraphQL = await readBoth(graphql.json().data.createOrder.order.id);
        // Each order reads the same through either door, and as its create answered it.
        expect(fromRest.graphql).toStrictEqual(fromRest.rest);
        expect(fromGraphQL.graphql).toStrictEqual(fromGraphQL.rest);
        expect(restOrderAsGraphQL(exactJson(rest).data)).toStrictEqual(fromRest.rest);
        expect(graphQLOrderToSecond(exactJson(graphql).data.createOrder.order)).toStrictEqual(fromGraphQL.graphql);
        // And the two orders are the same order, but for who and when.
        const same = ({ id, orderNumber, createdAt, updatedAt, statusHistory, ...rest }: Record<string, unknown>) => rest;
        expect(same(fromGraphQL.rest)).toStrictEqual(same(fromRest.rest));
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 120_000);
});

const STATUSES = ['pending', 'paid', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded'] as const;

/** An update body in REST's names: any mix of the contract's fields, valid or not. */
const updateBody = fc.record(
  {
    status: fc.oneof(fc.constantFrom(...STATUSES), fc.constant(null)),
    tracking_number: fc.oneof(text, fc.constant(null)),
    tracking_url: fc.constantFrom('https://track.example/1', 'http://x.example', 'ftp://x.example', 'not a url', '', null),
    notes: fc.oneof(text, fc.constant(null), fc.constant('n'.repeat(5001))),
    metadata: fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.constantFrom('a', 'b', 'snake_key', 'k'.repeat(41)), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null)), { maxKeys: 3 }),
    ),
    shipping_address: fc.oneof(addressArb, fc.constant(null)),
  },
  { requiredKeys: [] },
);

const toGraphQLUpdate = (body: Record<string, unknown>) => {
  const input = toGraphQLInput(body);
  if (typeof input.status === 'string') input.status = input.status.toUpperCase();
  return input;
};

describe('the same updates on both transports', () => {
  it('move twin orders the same way, refuse the same moves, and leave them the same', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(updateBody, { minLength: 1, maxLength: 5 }), async (updates) => {
        const order = { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: '5.00' }], total: '5.00', metadata: { a: 1 }, notes: 'n' };
        const viaRest = (await t.rest.post('/api/orders', order)).json().data.id as string;
        const viaGraphQL = (await t.rest.post('/api/orders', order)).json().data.id as string;
        for (const body of updates) {
          const rest = await t.rest.put(`/api/orders/${viaRest}`, body);
          const graphql = await t.gql(UPDATE_ORDER, { id: viaGraphQL, input: toGraphQLUpdate(body) });
          expect(graphQLOutcome(graphql, 'updateOrder', 'ok'), `REST said ${rest.body}\nGraphQL said ${graphql.body}`).toStrictEqual(restOutcome(rest));
          if (rest.statusCode === 200) {
            const { rest: readRest, graphql: readGraphQL } = await readBoth(viaRest);
            expect(restOrderAsGraphQL(exactJson(rest).data)).toStrictEqual(readRest);
            expect(readGraphQL).toStrictEqual(readRest);
            expect(graphQLOrderToSecond(exactJson(graphql).data.updateOrder.order)).toStrictEqual((await readBoth(viaGraphQL)).graphql);
          }
        }
        const a = await readBoth(viaRest);
        const b = await readBoth(viaGraphQL);
        const same = ({ id, orderNumber, createdAt, updatedAt, statusHistory, ...rest }: Record<string, unknown>) => ({
          ...rest,
          statuses: (statusHistory as { status: string }[]).map((change) => change.status),
        });
        expect(same(b.rest)).toStrictEqual(same(a.rest));
        expect(same(b.graphql)).toStrictEqual(same(a.rest));
      }),
      { numRuns: Math.ceil(RUNS / 2), seed: SEED },
    );
  }, 120_000);
});

describe('an idempotency key across transports', () => {
  it('replays the first create on either, and refuses another request under it on both', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(createBody, fc.boolean(), async (body, restFirst) => {
        const key = `parity-${SEED}-${n++}`;
        const viaRest = () => t.rest.post('/api/orders', body, { headers: { 'idempotency-key': key } });
        const viaGraphQL = () => t.gql(CREATE_ORDER, { input: toGraphQLInput(body), idempotencyKey: key });
        const first = restFirst ? restOutcome(await viaRest()) : graphQLOutcome(await viaGraphQL(), 'createOrder', 'created');
        const rest = await viaRest();
        const graphql = await viaGraphQL();
        expect(restOutcome(rest)).toStrictEqual(first);
        expect(graphQLOutcome(graphql, 'createOrder', 'created')).toStrictEqual(first);
        if (first !== 'created') return;
        // Both replay the one order, as it was created.
        expect(rest.headers['idempotent-replayed']).toBe('true');
        expect(graphql.json().data.createOrder.replayed).toBe(true);
        const order = exactJson(rest).data;
        expect(graphQLOrderToSecond(exactJson(graphql).data.createOrder.order)).toStrictEqual(restOrderAsGraphQL(order));
        expect(await t.db.count('orders', 'id = ?', [order.id])).toBe(1);
        // Another request under the key: the same refusal on both.
        const other = { ...body, notes: 'changed' };
        const restReused = await t.rest.post('/api/orders', other, { headers: { 'idempotency-key': key } });
        expect(restReused.statusCode, restReused.body).toBe(422);
        expect(restReused.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
        const graphqlReused = await t.gql(CREATE_ORDER, { input: toGraphQLInput(other), idempotencyKey: key });
        expect(graphqlReused.json().data.createOrder.userErrors).toMatchObject([
          { field: ['idempotencyKey'], code: 'IDEMPOTENCY_KEY_REUSED' },
        ]);
      }),
      { numRuns: Math.ceil(RUNS / 2), seed: SEED },
    );
  }, 120_000);
});

describe('the same list on both transports', () => {
  const LIST = `query($first: Int, $filter: OrderFilter, $orderBy: OrdersOrderBy) {
    orders(first: $first, filter: $filter, orderBy: $orderBy) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } }
  }`;
  const CUSTOMERS = ['a', 'b', 'A', 'a b', 'ü'];

  it('lists the same orders, in the same order, with the same count and next page, for any filter', async () => {
    const workspace = await t.bearer('parity-lists');
    for (let i = 0; i < 15; i++) {
      const currency = ['USD', 'JPY', 'KWD'][i % 3] ?? 'USD';
      const exponent = EXPONENTS[currency] ?? 2;
      const quantity = 1 + (i % 3);
      const minor = BigInt(i * 137 + 5);
      const res = await t.rest.post(
        '/api/orders',
        {
          customer_id: CUSTOMERS[i % CUSTOMERS.length],
          currency,
          items: [{ product_id: 'p', quantity, price: asDecimal(minor, exponent) }],
          total: asDecimal(minor * BigInt(quantity), exponent),
          ...(i % 4 ? { notes: `Note ${i} Wrap%_` } : {}),
        },
        { authorization: workspace },
      );
      expect(res.statusCode, res.body).toBe(201);
      if (i % 3 === 1) await t.rest.put(`/api/orders/${res.json().data.id}`, { status: 'paid', tracking_number: `T${i}` }, { authorization: workspace });
    }
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const filters = fc.record(
      {
        customer_id: fc.constantFrom(...CUSTOMERS, 'none'),
        status: fc.constantFrom('pending', 'paid'),
        min_total: fc.constantFrom('0', '1.5', '10', '7', '5.001', '3.1'),
        max_total: fc.constantFrom('100', '10.5', '20', '3'),
        search: fc.constantFrom('wrap', 'WRAP%', '%_', 'Note 1', 'ORD', '-00', 'ü'),
        from: fc.constantFrom('2000-01-01', '2099-01-01', hourAgo),
        to: fc.constantFrom('2099-01-01', '2000-01-01', new Date().toISOString().slice(0, 10)),
        updated_since: fc.constantFrom('2000-01-01T00:00:00Z', hourAgo),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(filters, fc.integer({ min: 1, max: 20 }), fc.boolean(), async (filter, limit, byChange) => {
        const query = new URLSearchParams({ ...filter, limit: String(limit), ...(byChange ? { sort: 'updated_at' } : {}) });
        const rest = await t.rest.get(`/api/orders?${query.toString()}`, { authorization: workspace });
        expect(rest.statusCode, rest.body).toBe(200);
        const graphqlFilter = toGraphQLInput(filter);
        if (typeof graphqlFilter.status === 'string') graphqlFilter.status = graphqlFilter.status.toUpperCase();
        const graphql = (
          await t.gql(LIST, { filter: graphqlFilter, first: limit, orderBy: byChange ? 'UPDATED_AT_ASC' : 'CREATED_AT_DESC' }, { authorization: workspace })
        ).json();
        expect(graphql.errors).toBeUndefined();
        const { data, pagination } = rest.json();
        const page = graphql.data.orders;
        expect(page.edges.map((edge: { node: { id: string } }) => edge.node.id)).toStrictEqual(data.map((order: { id: string }) => order.id));
        expect(page.totalCount).toBe(pagination.total);
        expect(page.pageInfo.hasNextPage).toBe(pagination.has_more);
        // The two cursors are one: a client can go on with either (README, "The list").
        if (pagination.has_more) expect(page.pageInfo.endCursor).toBe(pagination.next_cursor);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 120_000);
});
