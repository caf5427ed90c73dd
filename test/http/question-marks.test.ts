/**
 * A `?` is ordinary text. MikroORM writes an entity's values into the SQL
 * text, where `?` also marks a parameter: the JSON columns written through
 * entities (an idempotency key's remembered answer, an updated order's
 * metadata) must still store it as sent, on both transports.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { CREATE_ORDER, ORDER, UPDATE_ORDER } from '../support/graphql';

const t = useTestApp();

const order = {
  customer_id: 'c?',
  items: [{ product_id: 'p?', name: 'Is it a gift?', quantity: 1, price: '1.00' }],
  total: '1.00',
  shipping_address: { address: '1 Main St?', city: '??' },
  notes: 'Gift wrap? yes ?? no',
  metadata: { 'k?': 'v?', q: '?' },
};

describe('a "?" in a stored text', () => {
  it('is kept by a create with an Idempotency-Key, and replayed as it was (REST)', async () => {
    const first = await t.rest.post('/api/orders', order, { headers: { 'idempotency-key': 'question-rest' } });
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().data).toMatchObject({ notes: order.notes, metadata: order.metadata, shipping_address: order.shipping_address });
    const replay = await t.rest.post('/api/orders', order, { headers: { 'idempotency-key': 'question-rest' } });
    expect(replay.statusCode, replay.body).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
  });

  it('is kept by a createOrder with an idempotencyKey, and replayed as it was (GraphQL)', async () => {
    const input = {
      customerId: 'c?',
      items: [{ productId: 'p?', name: 'Is it a gift?', quantity: 1, price: '1.00' }],
      total: '1.00',
      notes: order.notes,
      metadata: order.metadata,
    };
    const first = (await t.gql(CREATE_ORDER, { input, idempotencyKey: 'question-graphql' })).json().data.createOrder;
    expect(first.userErrors).toStrictEqual([]);
    expect(first.order).toMatchObject({ notes: order.notes, metadata: order.metadata });
    const replay = (await t.gql(CREATE_ORDER, { input, idempotencyKey: 'question-graphql' })).json().data.createOrder;
    expect(replay).toStrictEqual({ ...first, replayed: true });
  });

  it('is kept in metadata by an update, on both transports', async () => {
    const created = (await t.rest.post('/api/orders', { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 })).json().data;
    const rest = await t.rest.put(`/api/orders/${created.id}`, { metadata: { 'why?': 'because?' } });
    expect(rest.statusCode, rest.body).toBe(200);
    expect(rest.json().data.metadata).toStrictEqual({ 'why?': 'because?' });
    const graphql = (await t.gql(UPDATE_ORDER, { id: created.id, input: { metadata: { 'how?': '??' } } })).json().data.updateOrder;
    expect(graphql.userErrors).toStrictEqual([]);
    expect(graphql.order.metadata).toStrictEqual({ 'why?': 'because?', 'how?': '??' });
    expect((await t.gql(ORDER, { id: created.id })).json().data.order.metadata).toStrictEqual({ 'why?': 'because?', 'how?': '??' });
  });
});
