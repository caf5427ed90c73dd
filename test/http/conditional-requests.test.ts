/**
 * Conditional requests on the REST shim (RFC 9110 §13). An order's entity tag is its version
 * (`"1"` as created); an `If-Match` naming no version it is at can never match: a `PUT` with it must
 * not be applied (412), or a client that guards against lost updates with it overwrites another's
 * change without knowing. `*` matches any order that exists (test/outside/http-conditional.test.ts
 * has the rest). A request that would not succeed without the condition (a missing
 * order, another workspace's) keeps its own answer (§13.2.1).
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();

const createOrder = async () => {
  const res = await t.rest.post('/api/orders', { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 1, price: '5.00' }], total: '5.00', notes: 'as created' });
  expect(res.statusCode).toBe(201);
  return res.json().data as { id: string };
};

describe('If-Match on PUT /api/orders/:id', () => {
  it('a tag the order is not at never matches: 412 PRECONDITION_FAILED, and the order is unchanged', async () => {
    const order = await createOrder();
    for (const ifMatch of ['"abc"', 'W/"abc"', '"abc", "def"']) {
      const res = await t.rest.put(`/api/orders/${order.id}`, { notes: 'overwritten' }, { headers: { 'if-match': ifMatch } });
      expect(res.statusCode, ifMatch).toBe(412);
      expect(res.json()).toMatchObject({ success: false, error: { code: 'PRECONDITION_FAILED' } });
      expect(res.headers['cache-control']).toBe('no-store');
    }
    const read = await t.rest.get(`/api/orders/${order.id}`);
    expect(read.json().data.notes).not.toBe('overwritten');
  });

  it('* matches an order that exists', async () => {
    const order = await createOrder();
    const res = await t.rest.put(`/api/orders/${order.id}`, { notes: 'star' }, { headers: { 'if-match': '*' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.notes).toBe('star');
  });

  it('a missing order, or another workspace’s, stays 404 whatever the condition', async () => {
    const order = await createOrder();
    const other = await t.bearer('globex');
    for (const ifMatch of ['"abc"', '*']) {
      const foreign = await t.rest.put(`/api/orders/${order.id}`, { notes: 'x' }, { authorization: other, headers: { 'if-match': ifMatch } });
      expect(foreign.statusCode, ifMatch).toBe(404);
      const missing = await t.rest.put('/api/orders/order_01ARZ3NDEKTSV4RRFFQ69G5FAV', { notes: 'x' }, { headers: { 'if-match': ifMatch } });
      expect(missing.statusCode, ifMatch).toBe(404);
    }
  });
});
