/**
 * USN, "US Dollar (Next day)", is an ISO 4217 funds code: the same dollars as USD, for
 * money-market settlement. An order in USN would be a USD order that the merchant's books
 * carry in a ledger of its own, so the gateway refuses it and says to use USD, on both
 * transports, and stores nothing.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();

const order = (currency: string) => ({
  customer_id: 'funds',
  currency,
  items: [{ product_id: 'p', quantity: 1, price: '10.00' }],
  total: '10.00',
});

describe('USN, the next-day US dollar funds code', () => {
  it.each(['USN', 'usn'])(
    'REST: %s is a 422 naming currency and USD, and no order is stored',
    async (code) => {
      const before = await t.db.count('orders');
      const res = await t.rest.post('/api/orders', order(code));
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().error).toMatchObject({
        code: 'VALIDATION_ERROR',
        details: [
          { field: 'currency', message: 'USN is a funds code (US dollar, next-day settlement): use USD' },
        ],
      });
      expect(await t.db.count('orders')).toBe(before);
    },
  );

  it('GraphQL: the same userError, and no order', async () => {
    const res = await t.gql(
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { field message code } } }',
      {
        input: {
          customerId: 'funds',
          currency: 'USN',
          items: [{ productId: 'p', quantity: 1, price: '10.00' }],
          total: '10.00',
        },
      },
    );
    expect(res.json().data.createOrder).toStrictEqual({
      order: null,
      userErrors: [
        {
          field: ['input', 'currency'],
          message: 'USN is a funds code (US dollar, next-day settlement): use USD',
          code: 'VALIDATION_ERROR',
        },
      ],
    });
  });

  it('USD itself is still accepted', async () => {
    const res = await t.rest.post('/api/orders', order('usd'));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().data).toMatchObject({ currency: 'USD', total: 10 });
  });
});
