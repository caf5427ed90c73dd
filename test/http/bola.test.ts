/**
 * Object-level authorisation (OWASP API1): every route and query, given
 * another workspace's identifiers, answers exactly as for identifiers that do
 * not exist, and changes nothing. (Single-route cases live in the read/update
 * tests; this file walks all of them with one foreign order.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Order, RequestContext } from '../../src/orders/order.types';
import { useTestApp } from '../support/app';
import { createOrder } from '../support/orders';

const t = useTestApp();
let theirsCtx: RequestContext;
let foreign: Order;
const UNKNOWN_ID = 'order_01ZZZZZZZZZZZZZZZZZZZZZZZZ';

beforeAll(async () => {
  await createOrder(t.app.services.orders, await t.context(), {
    customer_id: 'mine',
    items: [{ product_id: 'p', quantity: 1, price: '1.00' }],
    total: '1.00',
  });
  theirsCtx = await t.app.services.auth.authenticate(await t.bearer('globex'));
  foreign = await createOrder(t.app.services.orders, theirsCtx, {
    customer_id: 'their-customer',
    items: [{ product_id: 'p', quantity: 1, price: '7.00' }],
    total: '7.00',
    notes: 'their secret note',
    metadata: { theirs: true },
  });
});

/** A response with the ids that differ between two otherwise identical answers blanked out. */
const blank = (value: unknown, id: string) => JSON.parse(JSON.stringify(value).replaceAll(id, '<id>').replace(/"request_id":"[^"]+"/, '"request_id":"<rid>"'));

async function expectForeignUnchanged() {
  const now = await t.app.services.orders.getOrder(theirsCtx, foreign.id);
  expect(now).toMatchObject({ status: 'pending', notes: 'their secret note', metadata: { theirs: true } });
  expect(now.trackingNumber).toBeUndefined();
  expect(now.statusHistory).toHaveLength(1);
}

describe('REST with another workspace’s ids', () => {
  it('GET /api/orders/:id answers exactly as for an unknown id', async () => {
    const theirs = await t.rest.get(`/api/orders/${foreign.id}`);
    const unknown = await t.rest.get(`/api/orders/${UNKNOWN_ID}`);
    expect(theirs.statusCode).toBe(404);
    expect(blank(theirs.json(), foreign.id)).toStrictEqual(blank(unknown.json(), UNKNOWN_ID));
  });

  it.each([
    ['a status move', { status: 'cancelled' }],
    ['tracking', { tracking_number: 'X1', tracking_url: 'https://t.example/X1' }],
    ['notes and metadata', { notes: 'hijacked', metadata: { theirs: null, mine: 1 } }],
    ['the shipping address', { shipping_address: { name: 'Mallory', country: 'ID' } }],
  ])('PUT /api/orders/:id with %s: 404 like an unknown id, and nothing changes', async (_what, body) => {
    const theirs = await t.rest.put(`/api/orders/${foreign.id}`, body);
    const unknown = await t.rest.put(`/api/orders/${UNKNOWN_ID}`, body);
    expect(theirs.statusCode).toBe(404);
    expect(blank(theirs.json(), foreign.id)).toStrictEqual(blank(unknown.json(), UNKNOWN_ID));
    await expectForeignUnchanged();
  });

  it.each([
    `customer_id=their-customer`,
    `search=${encodeURIComponent('their secret')}`,
    'search=',
    `min_total=7&max_total=7`,
  ])('GET /api/orders?%s never lists their order', async (query) => {
    const res = await t.rest.get(`/api/orders?${query}`);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.body).not.toContain(foreign.id);
    expect(res.body).not.toContain('their secret');
  });

  it('GET /api/orders?search=<their order number> finds only our own order of that number', async () => {
    // Numbers are per workspace, so ours can be the same string; it must be ours that comes back.
    const res = await t.rest.get(`/api/orders?search=${encodeURIComponent(foreign.orderNumber)}`);
    expect(res.statusCode).toBe(200);
    for (const row of res.json().data) expect(row).toMatchObject({ customer_id: 'mine' });
    expect(res.body).not.toContain(foreign.id);
  });

  it('POST /api/orders with their Idempotency-Key creates our own order instead of replaying theirs', async () => {
    const key = 'shared-key-1';
    const body = { customer_id: 'their-customer', items: [{ product_id: 'p', quantity: 1, price: '7.00' }], total: '7.00' };
    await t.app.services.orders.createOrderExactlyOnce(theirsCtx, body, key);
    const res = await t.rest.post('/api/orders', body, { headers: { 'idempotency-key': key } });
    expect(res.statusCode).toBe(201);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(res.body).not.toContain(foreign.id);
  });
});

describe('GraphQL with another workspace’s ids', () => {
  it('order(id) gives null, and orderByNumber never their order', async () => {
    const res = (await t.gql('query($id: ID!, $n: String!) { order(id: $id) { id } orderByNumber(orderNumber: $n) { id customerId } }', {
      id: foreign.id,
      n: foreign.orderNumber,
    })).json();
    expect(res.data.order).toBeNull();
    // Numbers are per workspace: the same string may name our own order, never theirs.
    if (res.data.orderByNumber) expect(res.data.orderByNumber.customerId).toBe('mine');
    expect(JSON.stringify(res)).not.toContain(foreign.id);
  });

  it('orders(filter) never lists their order, whatever the filter', async () => {
    for (const filter of [{ customerId: 'their-customer' }, { search: foreign.orderNumber }, { search: 'their secret' }, { minTotal: '7', maxTotal: '7' }]) {
      const res = (await t.gql('query($f: OrderFilter) { orders(filter: $f, first: 100) { totalCount edges { node { id } } } }', { f: filter })).json();
      expect(JSON.stringify(res)).not.toContain(foreign.id);
      expect(res.data.orders.edges.every((edge: { node: { id: string } }) => edge.node.id !== foreign.id)).toBe(true);
    }
  });

  it('updateOrder answers NOT_FOUND exactly as for an unknown id, and nothing changes', async () => {
    const UPDATE = 'mutation($id: ID!, $input: UpdateOrderInput!) { updateOrder(id: $id, input: $input) { order { id } userErrors { field message code } } }';
    for (const input of [{ status: 'CANCELLED' }, { trackingNumber: 'X1' }, { notes: 'hijacked', metadata: { mine: 1 } }, { shippingAddress: { name: 'Mallory' } }]) {
      const theirs = (await t.gql(UPDATE, { id: foreign.id, input })).json();
      const unknown = (await t.gql(UPDATE, { id: UNKNOWN_ID, input })).json();
      expect(theirs.data.updateOrder.userErrors[0].code).toBe('NOT_FOUND');
      expect(blank(theirs, foreign.id)).toStrictEqual(blank(unknown, UNKNOWN_ID));
    }
    await expectForeignUnchanged();
  });

  it('createOrder with their idempotency key creates our own order', async () => {
    const key = 'shared-key-2';
    await t.app.services.orders.createOrderExactlyOnce(
      theirsCtx,
      { customer_id: 'x', items: [{ product_id: 'p', quantity: 1, price: '7.00' }], total: '7.00' },
      key,
    );
    const res = (await t.gql('mutation($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) { order { id customerId } replayed userErrors { code } } }', { input: { customerId: 'x', items: [{ productId: 'p', quantity: 1, price: '7.00' }], total: '7.00' }, key })).json();
    expect(res.data.createOrder).toMatchObject({ order: { customerId: 'x' }, replayed: false, userErrors: [] });
  });
});
