/**
 * Ids and order numbers that cannot exist (NUL bytes, unpaired surrogates,
 * wrong shapes) are "not found" on every route, answered before any query
 * about orders reaches the database.
 */
import type { LogContext } from '@mikro-orm/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let auth: string;
let orderId: string;
let orderNumber: string;
/** Statements about orders that requests sent to the database since the last reset. */
let orderQueries: string[] = [];
let restoreLogger: () => void;

beforeAll(async () => {
  t = await createTestApp();
  auth = await t.bearer('acme');
  const created = await t.app.http.inject({
    method: 'POST',
    url: '/api/orders',
    headers: { authorization: auth, 'content-type': 'application/json' },
    payload: { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: '1.00' }], total: '1.00' },
  });
  ({ id: orderId, order_number: orderNumber } = created.json().data);
  const logger = t.app.db.orm.config.getLogger();
  const original = logger.logQuery;
  logger.logQuery = function (this: typeof logger, context: LogContext) {
    // The relay's and the webhook dispatcher's statements read orders too, at any moment; they are no request's.
    const background = /\b(order_event_queue|webhook_deliveries)\b/;
    if (context.query && /\border(s|_items)\b/.test(context.query) && !background.test(context.query))
      orderQueries.push(context.query);
    return original.call(this, context);
  };
  restoreLogger = () => (logger.logQuery = original);
});
afterAll(async () => {
  restoreLogger();
  await t.close();
});
afterEach(() => {
  orderQueries = [];
});

/** Ids as a client could send them: raw NUL, a lone surrogate, SQL-ish text, near misses of a real id. */
const BAD_IDS = [
  '\u0000',
  'a\u0000b',
  'order_\u0000',
  '\ud800',
  'x;y',
  "' or 1=1 --",
  'order_',
  'order_01ARZ3NDEKTSV4RRFFQ69G5FA', // 25 characters
  'order_01ARZ3NDEKTSV4RRFFQ69G5FAVV', // 27
  'order_01arz3ndektsv4rrffq69g5fav', // lower case: ULIDs are written upper case
  'order_01ARZ3NDEKTSV4RRFFQ69G5FAU', // U is not in Crockford's alphabet
  ' order_01ARZ3NDEKTSV4RRFFQ69G5FAV',
];

const gql = (query: string, variables: Record<string, unknown>) =>
  t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ query, variables }),
  });

/** As a URL path segment; a lone surrogate cannot be percent-encoded as UTF-8, so it travels as the bytes of one. */
const inPath = (id: string) => (id.isWellFormed() ? encodeURIComponent(id) : id.replace(/[\ud800-\udfff]/g, '%ED%A0%80'));
/** A path that is not UTF-8 never reaches a route: Fastify refuses it as unreadable (400), also without a query. */
const expected = (id: string) => (id.isWellFormed() ? { status: 404, code: 'NOT_FOUND' } : { status: 400, code: 'INVALID_JSON' });

describe('REST', () => {
  it.each(BAD_IDS)('GET /api/orders/%j is 404 NOT_FOUND (400 when not UTF-8) without a query', async (id) => {
    const res = await t.app.http.inject({ method: 'GET', url: `/api/orders/${inPath(id)}`, headers: { authorization: auth } });
    expect({ status: res.statusCode, code: res.json().error.code }).toStrictEqual(expected(id));
    expect(orderQueries).toStrictEqual([]);
  });

  it.each(BAD_IDS)('PUT /api/orders/%j is 404 NOT_FOUND (400 when not UTF-8) without a query, not a 503', async (id) => {
    const res = await t.app.http.inject({
      method: 'PUT',
      url: `/api/orders/${inPath(id)}`,
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: { notes: 'n' },
    });
    expect({ status: res.statusCode, code: res.json().error.code }).toStrictEqual(expected(id));
    expect(res.headers['retry-after']).toBeUndefined();
    expect(orderQueries).toStrictEqual([]);
  });

  it('the 404 for an id that cannot exist does not echo it', async () => {
    const res = await t.app.http.inject({ method: 'GET', url: `/api/orders/${encodeURIComponent('<b>\u0000')}`, headers: { authorization: auth } });
    expect(res.json().error.message).toBe('Order not found');
  });

  it('a real id still reads and updates', async () => {
    expect((await t.app.http.inject({ method: 'GET', url: `/api/orders/${orderId}`, headers: { authorization: auth } })).statusCode).toBe(200);
    const res = await t.app.http.inject({
      method: 'PUT',
      url: `/api/orders/${orderId}`,
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: { notes: 'still here' },
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('GraphQL', () => {
  it.each(BAD_IDS)('order(id: %j) is null without a query', async (id) => {
    const res = await gql('query($id: ID!) { order(id: $id) { id } }', { id });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toStrictEqual({ data: { order: null } });
    expect(orderQueries).toStrictEqual([]);
  });

  it.each([...BAD_IDS, 'ORD-2025-0327-', 'ORD-2025-0327-01', `${'ORD-2025-0327-'}${'1'.repeat(40)}`, 'ord-2025-0327-001'])(
    'orderByNumber(%j) is null without a query',
    async (number) => {
      const res = await gql('query($n: String!) { orderByNumber(orderNumber: $n) { id } }', { n: number });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toStrictEqual({ data: { orderByNumber: null } });
      expect(orderQueries).toStrictEqual([]);
    },
  );

  it.each(BAD_IDS)('updateOrder(id: %j) is a NOT_FOUND user error on id, without a query', async (id) => {
    const res = await gql('mutation($id: ID!) { updateOrder(id: $id, input: {notes: "n"}) { order { id } userErrors { field code } } }', { id });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toStrictEqual({ data: { updateOrder: { order: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND' }] } } });
    expect(orderQueries).toStrictEqual([]);
  });

  it('real ids and numbers still resolve', async () => {
    const res = await gql('query($id: ID!, $n: String!) { order(id: $id) { id } orderByNumber(orderNumber: $n) { id } }', { id: orderId, n: orderNumber });
    expect(res.json()).toStrictEqual({ data: { order: { id: orderId }, orderByNumber: { id: orderId } } });
  });
});
