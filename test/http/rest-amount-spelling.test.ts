/**
 * REST writes every amount as a JSON number spelled with its currency's digits, as the Cekat
 * document writes `"price": 99.00`: a client that keeps the literal (Python's
 * `parse_float=Decimal`, a decimal library reading the text) gets 99.00, not 99. The value is
 * the same; `JSON.parse` sees no difference. The raw text is what is checked here.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

describe('amounts in REST answers keep the currency digits in their spelling', () => {
  const t = useTestApp({ rateLimitPerMinute: 1_000_000 });

  const order = (currency: string, price: string | number, quantity: number, total: string | number, extra = {}) => ({
    customer_id: `spelling_${currency}`,
    currency,
    items: [{ product_id: 'p', quantity, price }],
    total,
    ...extra,
  });

  it('USD with 2 digits: create, read, update and the list write 99.00, 0.00 and 198.00', async () => {
    const created = await t.rest.post('/api/orders', order('USD', 99, 2, 198));
    expect(created.statusCode, created.body).toBe(201);
    expect(created.body).toContain('"price":99.00,"subtotal":198.00}],"subtotal":198.00,"shipping":0.00,"tax":0.00,"total":198.00,"currency":"USD"');
    const id = created.json().data.id as string;
    const read = await t.rest.get(`/api/orders/${id}`);
    expect(read.body).toBe(created.body);
    const updated = await t.rest.put(`/api/orders/${id}`, { status: 'paid' });
    expect(updated.body).toContain('"subtotal":198.00,"shipping":0.00,"tax":0.00,"total":198.00');
    const list = await t.rest.get('/api/orders?customer_id=spelling_USD');
    expect(list.body).toContain('"items_count":1,"total":198.00,"currency":"USD"');
    // The value is unchanged for a parser that reads numbers as doubles.
    expect(created.json().data.total).toBe(198);
  });

  it('a currency without minor digits (JPY) has none, and one with three (KWD) has three', async () => {
    const yen = await t.rest.post('/api/orders', order('JPY', '1500', 3, 4500));
    expect(yen.body).toContain('"price":1500,"subtotal":4500}],"subtotal":4500,"shipping":0,"tax":0,"total":4500,"currency":"JPY"');
    const dinar = await t.rest.post('/api/orders', order('KWD', 1.25, 2, '2.6', { shipping: 0.1 }));
    expect(dinar.body).toContain('"price":1.250,"subtotal":2.500}],"subtotal":2.500,"shipping":0.100,"tax":0.000,"total":2.600,"currency":"KWD"');
  });

  it('an idempotent replay is the same bytes, and metadata numbers beyond a double stay exact beside the amounts', async () => {
    const body = order('USD', '19.90', 1, 19.9, { metadata: { big: 12345678901234567890n.toString() } });
    // A metadata number a double cannot hold takes the lossless writer; the amounts keep their digits there too.
    const text = JSON.stringify(body).replace('"big":"12345678901234567890"', '"big":12345678901234567890');
    const headers = { 'idempotency-key': 'spelling-replay' };
    const first = await t.rest.post('/api/orders', text, { headers });
    const again = await t.rest.post('/api/orders', text, { headers });
    expect(first.statusCode, first.body).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    expect(first.body).toContain('"price":19.90,"subtotal":19.90}],"subtotal":19.90,"shipping":0.00,"tax":0.00,"total":19.90');
    expect(first.body).toContain('"metadata":{"big":12345678901234567890}');
  });

  it('a refused amount is still refused, and errors carry no marks', async () => {
    const refused = await t.rest.post('/api/orders', order('USD', 99.999, 1, 99.999));
    expect(refused.statusCode).toBe(422);
    expect(refused.body).not.toContain('\\u0000');
    expect(refused.json().error.details).toStrictEqual([
      { field: 'items[0].price', message: 'must have at most 2 decimal places in USD' },
      { field: 'total', message: 'must have at most 2 decimal places in USD' },
    ]);
  });
});
