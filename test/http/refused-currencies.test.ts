/**
 * Codes ISO 4217 lists that an order must not be booked in, each refused with its reason and
 * the code to use instead, on both transports, storing nothing:
 * - USN, "US Dollar (Next day)", a funds code: the same dollars as USD, for money-market
 *   settlement. An order in USN would be a USD order that the merchant's books carry in a
 *   ledger of its own.
 * - ANG, the Netherlands Antillean guilder, replaced by XCG, the Caribbean guilder, in 2025
 *   (dinero.js, which follows ISO 4217, no longer has it): no one pays in it any more.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();

const REFUSED = [
  ['USN', 'USD', 'USN is a funds code (US dollar, next-day settlement): use USD'],
  ['ANG', 'XCG', 'ANG, the Netherlands Antillean guilder, was replaced by XCG in 2025: use XCG'],
] as const;

const order = (currency: string) => ({
  customer_id: 'refused-currency',
  currency,
  items: [{ product_id: 'p', quantity: 1, price: '10.00' }],
  total: '10.00',
});

describe.each(REFUSED)('%s', (code, instead, message) => {
  it.each([code, code.toLowerCase()])(`REST: %s is a 422 naming currency and ${instead}, and no order is stored`, async (sent) => {
    const before = await t.db.count('orders');
    const res = await t.rest.post('/api/orders', order(sent));
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field: 'currency', message }] });
    expect(await t.db.count('orders')).toBe(before);
  });

  it('GraphQL: the same userError, and no order', async () => {
    const before = await t.db.count('orders');
    const res = await t.gql(
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { field message code } } }',
      { input: { customerId: 'refused-currency', currency: code, items: [{ productId: 'p', quantity: 1, price: '10.00' }], total: '10.00' } },
    );
    expect(res.json().data.createOrder).toStrictEqual({
      order: null,
      userErrors: [{ field: ['input', 'currency'], message, code: 'VALIDATION_ERROR' }],
    });
    expect(await t.db.count('orders')).toBe(before);
  });

  it(`${instead} itself is accepted`, async () => {
    const res = await t.rest.post('/api/orders', order(instead.toLowerCase()));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().data).toMatchObject({ currency: instead, total: 10 });
  });
});
