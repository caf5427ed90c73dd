/**
 * REST lookup by order number: `GET /api/orders?order_number=ORD-…` is the
 * list narrowed to that one number (GraphQL has `orderByNumber`, and the
 * same filter as `OrderFilter.orderNumber`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();
const body = { customer_id: 'c1', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 };
let mine: { id: string; order_number: string };
let other: { id: string; order_number: string };
let foreignAuth: string;

beforeAll(async () => {
  mine = (await t.rest.post('/api/orders', body)).json().data;
  other = (await t.rest.post('/api/orders', body)).json().data;
  foreignAuth = await t.bearer('globex');
});

describe('GET /api/orders?order_number=', () => {
  it('answers the list holding exactly that order', async () => {
    const res = await t.rest.get(`/api/orders?order_number=${mine.order_number}`);
    expect(res.statusCode, res.body).toBe(200);
    const list = res.json();
    expect(list.data.map((row: { id: string }) => row.id)).toStrictEqual([mine.id]);
    expect(list.data[0]).toMatchObject({ order_number: mine.order_number, customer_id: 'c1', items_count: 1, total: 5 });
    expect(list.pagination).toMatchObject({ total: 1, limit: 50, offset: 0, has_more: false, next_cursor: null });
    expect(other.order_number).not.toBe(mine.order_number);
  });

  it('is an empty list for a well-formed number that does not exist, or belongs to another workspace', async () => {
    for (const auth of [t.auth, foreignAuth]) {
      const number = auth === t.auth ? 'ORD-1999-0101-001' : mine.order_number;
      const res = await t.rest.get(`/api/orders?order_number=${number}`, { authorization: auth });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ data: [], pagination: { total: 0, has_more: false } });
    }
  });

  it('combines with the other filters', async () => {
    const miss = await t.rest.get(`/api/orders?order_number=${mine.order_number}&customer_id=someone-else`);
    expect(miss.json().data).toStrictEqual([]);
    const hit = await t.rest.get(`/api/orders?order_number=${mine.order_number}&status=pending`);
    expect(hit.json().data).toHaveLength(1);
  });

  it.each([
    ['an id', () => mine.id],
    ['lower case', () => mine.order_number.toLowerCase()],
    ['a part of a number', () => mine.order_number.slice(0, 12)],
    ['a wildcard', () => 'ORD-%'],
    ['too long', () => `ORD-2025-0101-${'1'.repeat(40)}`],
    ['empty', () => ''],
  ])('refuses %s with a VALIDATION_ERROR naming order_number, without echoing it', async (_label, value) => {
    const res = await t.rest.get(`/api/orders?order_number=${encodeURIComponent(value())}`);
    expect(res.statusCode, res.body).toBe(422);
    const error = res.json().error;
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details.map((detail: { field: string }) => detail.field)).toStrictEqual(['order_number']);
    if (value().length > 0) expect(res.body).not.toContain(value());
  });

  it('refuses it given twice', async () => {
    const res = await t.rest.get(`/api/orders?order_number=${mine.order_number}&order_number=${other.order_number}`);
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field: 'order_number', message: 'must be given once' }]);
  });
});

describe('GraphQL OrderFilter.orderNumber', () => {
  it('narrows orders() to that number, and names the filter field when malformed', async () => {
    const query = 'query($n: String) { orders(filter: {orderNumber: $n}) { totalCount edges { node { id } } } }';
    const hit = (await t.gql(query, { n: mine.order_number })).json();
    expect(hit.data.orders).toStrictEqual({ totalCount: 1, edges: [{ node: { id: mine.id } }] });
    const bad = (await t.gql(query, { n: 'nope' })).json();
    expect(bad.errors[0].extensions.code).toBe('VALIDATION_ERROR');
    expect(bad.errors[0].extensions.fields).toStrictEqual([
      { path: ['filter', 'orderNumber'], message: 'must be an order number such as ORD-2025-0327-001' },
    ]);
  });
});

describe('OpenAPI', () => {
  it('documents order_number on the list', async () => {
    const doc = (await t.app.http.inject({ method: 'GET', url: '/openapi.json' })).json();
    const parameter = doc.paths['/api/orders'].get.parameters.find((p: { name: string }) => p.name === 'order_number');
    expect(parameter).toMatchObject({ in: 'query', schema: { type: 'string' } });
    expect(parameter.schema.description ?? parameter.description).toMatch(/exactly this order number/i);
  });
});
