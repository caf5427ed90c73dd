/**
 * Oversized numbers are refused before anything parses them, and a GraphQL
 * request is authenticated before its body is read.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let auth: string;

beforeAll(async () => {
  t = await createTestApp();
  auth = await t.bearer('acme');
});
afterAll(() => t.close());

const MILLION_DIGITS = '1'.repeat(1_000_000);
const order = (price: string) =>
  `{"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":${price}}],"total":"1.00"}`;
const post = (url: string, payload: string, authorization: string | null = auth) =>
  t.app.http.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    payload,
  });

describe('REST', () => {
  it('a decimal string of a million digits is a 422 naming the field and its length limit', async () => {
    const res = await post('/api/orders', order(`"${MILLION_DIGITS}"`));
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field: 'items[0].price', message: 'must be a decimal number of at most 64 characters' }]);
  });

  it('a number literal of a million digits is refused before the body is parsed', async () => {
    const res = await post('/api/orders', order(MILLION_DIGITS));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: 'INVALID_JSON',
      message: 'The request body has a number longer than 64 characters; no field takes one',
    });
  });

  it('64 characters are still read: a valid amount padded with zeros', async () => {
    const padded = `1.${'0'.repeat(62)}`;
    expect(padded).toHaveLength(64);
    const res = await post('/api/orders', `{"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":"${padded}"}],"total":${padded}}`);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().data.total).toBe(1);
  });
});

describe('GraphQL', () => {
  const CREATE = 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { field message } } }';

  it('a Decimal string of a million digits is a userError naming the field and its length limit, as on REST', async () => {
    const input = { customerId: 'c', items: [{ productId: 'p', quantity: 1, price: MILLION_DIGITS }], total: '1' };
    const tooLong = { order: null, userErrors: [{ field: ['input', 'items', '0', 'price'], message: 'must be a decimal number of at most 64 characters' }] };
    const res = await post('/graphql', JSON.stringify({ query: CREATE, variables: { input } }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ data: { createOrder: tooLong } });
    // Written in the document, the same string is the same userError.
    const query = `mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "${MILLION_DIGITS}"}], total: "1"}) { order { id } userErrors { field message } } }`;
    const literal = await post('/graphql', JSON.stringify({ query }));
    expect(literal.statusCode).toBe(200);
    expect(literal.json()).toStrictEqual({ data: { createOrder: tooLong } });
  });

  it('a Decimal literal of 100,000 digits in the document is refused before any resolver runs', async () => {
    const createOrder = vi.spyOn(t.app.services.orders, 'createOrderExactlyOnce');
    try {
      const digits = '1'.repeat(100_000);
      const query = `mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: ${digits}}], total: "1"}) { order { id } } }`;
      const res = await post('/graphql', JSON.stringify({ query }));
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0].message).toContain('Decimal must be at most 64 characters');
      expect(createOrder).not.toHaveBeenCalled();
    } finally {
      createOrder.mockRestore();
    }
  });

  it.each([
    ['no key', null],
    ['an unknown key', `Bearer ogk_${'Z'.repeat(43)}`],
  ])('with %s, the body is never read: even one that is not JSON gets 401, not 400', async (_name, authorization) => {
    for (const payload of ['{', `{"query": "${'x'.repeat(500_000)}`, JSON.stringify({ query: '{ __typename }' })]) {
      const res = await post('/graphql', payload, authorization);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toStrictEqual({
        errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }],
      });
    }
  });

  it('with a valid key, a body that is not JSON is still a 400', async () => {
    const res = await post('/graphql', '{');
    expect(res.statusCode).toBe(400);
  });
});
