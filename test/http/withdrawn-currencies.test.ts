/**
 * ANG, the Netherlands Antillean guilder, was replaced by XCG, the Caribbean guilder, in 2025
 * (dinero.js, which follows ISO 4217, no longer has ANG). A new order in ANG would be booked in
 * a currency no one pays in any more, so a create is refused and told to use XCG, on both
 * transports, and stores nothing.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();

const MESSAGE = 'ANG, the Netherlands Antillean guilder, was replaced by XCG in 2025: use XCG';

describe('ANG, the withdrawn Netherlands Antillean guilder', () => {
  it.each(['ANG', 'ang'])(
    'REST: %s is a 422 naming currency and XCG, and no order is stored',
    async (code) => {
      const before = await t.db.count('orders');
      const res = await t.rest.post('/api/orders', {
        customer_id: 'curacao',
        currency: code,
        items: [{ product_id: 'p', quantity: 1, price: '10.00' }],
        total: '10.00',
      });
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().error).toMatchObject({
        code: 'VALIDATION_ERROR',
        details: [{ field: 'currency', message: MESSAGE }],
      });
      expect(await t.db.count('orders')).toBe(before);
    },
  );

  it('GraphQL: the same userError, and no order', async () => {
    const res = await t.gql(
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { field message code } } }',
      {
        input: {
          customerId: 'curacao',
          currency: 'ANG',
          items: [{ productId: 'p', quantity: 1, price: '10.00' }],
          total: '10.00',
        },
      },
    );
    expect(res.json().data.createOrder).toStrictEqual({
      order: null,
      userErrors: [{ field: ['input', 'currency'], message: MESSAGE, code: 'VALIDATION_ERROR' }],
    });
  });
});
