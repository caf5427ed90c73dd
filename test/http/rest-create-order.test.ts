import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { loadSeed } from '../support/seed';

const seed = loadSeed();

const t = useTestApp();

async function countRows(): Promise<{ orders: number; items: number }> {
  return { orders: await t.db.count('orders'), items: await t.db.count('order_items') };
}

describe('POST /api/orders: the seed document', () => {
  it('answers the seed request with the seed response (only id, order_number and timestamps differ)', async () => {
    const res = await t.rest.post('/api/orders', seed.request);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    const expected = seed.response.data;

    expect(body.success).toBe(true);
    expect(body.data.id).toMatch(/^order_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(body.data.order_number).toMatch(/^ORD-\d{4}-\d{4}-\d{3,}$/);
    for (const key of ['created_at', 'updated_at']) expect(body.data[key]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // Every key of the seed response, with the same value and JSON type.
    for (const [key, value] of Object.entries(expected)) {
      if (['id', 'order_number', 'created_at', 'updated_at'].includes(key)) continue;
      if (key === 'items') continue;
      expect(body.data[key], key).toStrictEqual(value);
    }
    // Items: the seed's fields, plus `sku` echoed back (the contract's representation lists it).
    const seedItems = expected.items as Record<string, unknown>[];
    const requestItems = seed.request.items as Record<string, unknown>[];
    expect(body.data.items).toHaveLength(seedItems.length);
    seedItems.forEach((item, index) => {
      expect(body.data.items[index]).toStrictEqual({ ...item, sku: requestItems[index]?.sku });
    });
    // The only keys beyond the seed's are the contract's status_history.
    expect(Object.keys(body.data).sort()).toStrictEqual([...Object.keys(expected), 'status_history'].sort());
    expect(body.data.status_history).toStrictEqual([{ status: 'pending', timestamp: body.data.created_at }]);
    // Absent optional fields are omitted, not null.
    expect(body.data).not.toHaveProperty('billing_address');
    expect(body.data).not.toHaveProperty('metadata');
    expect(body.data).not.toHaveProperty('tracking_number');
  });

  it('an empty metadata object or address is no value: left out, on create, get and after an update, as when not sent', async () => {
    // Serialisers of older integrations send `metadata: {}` and empty addresses on every create.
    const res = await t.rest.post('/api/orders', { ...seed.request, metadata: {}, billing_address: {} });
    expect(res.statusCode).toBe(201);
    const { id } = res.json().data as { id: string };
    const read = (await t.rest.get(`/api/orders/${id}`)).json().data;
    for (const data of [res.json().data, read]) {
      expect(data).not.toHaveProperty('metadata');
      expect(data).not.toHaveProperty('billing_address');
    }
    // The same as an update that removes the last key answers.
    await t.rest.put(`/api/orders/${id}`, { metadata: { a: 1 } });
    expect((await t.rest.put(`/api/orders/${id}`, { metadata: { a: null } })).json().data).not.toHaveProperty('metadata');
  });

  it('writes the keys in the seed’s order, the contract’s additions where the contract lists them', async () => {
    // JSON.parse keeps the order the keys were written in (none of these is integer-like).
    const res = await t.rest.post('/api/orders', seed.request);
    const data = JSON.parse(res.body).data as Record<string, unknown> & { items: Record<string, unknown>[] };
    // The contract's representation (§2), of which the seed's keys are a subsequence.
    const contract = ['id', 'order_number', 'customer_id', 'status', 'items', 'subtotal', 'shipping', 'tax', 'total', 'currency', 'shipping_address', 'billing_address', 'notes', 'metadata', 'tracking_number', 'tracking_url', 'status_history', 'created_at', 'updated_at'];
    expect(Object.keys(data)).toStrictEqual(contract.filter((key) => key in data));
    expect(Object.keys(data).filter((key) => key in seed.response.data)).toStrictEqual(Object.keys(seed.response.data));
    const seedItem = Object.keys((seed.response.data.items as Record<string, unknown>[])[0] ?? {});
    expect(seedItem).toStrictEqual(['product_id', 'name', 'quantity', 'price', 'subtotal']);
    for (const item of data.items) expect(Object.keys(item)).toStrictEqual(['product_id', 'name', 'quantity', 'price', 'sku', 'subtotal']);
    expect(Object.keys(data.shipping_address as object)).toStrictEqual(Object.keys(seed.response.data.shipping_address as object));
    // The same order whatever the order holds, and on every route: GET and PUT too.
    const got = await t.rest.get(`/api/orders/${data.id as string}`);
    expect(got.body).toBe(res.body);
    const updated = JSON.parse((await t.rest.put(`/api/orders/${data.id as string}`, { tracking_number: 'TRK1', metadata: { a: 1 } })).body).data;
    expect(Object.keys(updated)).toStrictEqual(contract.filter((key) => key in updated));
  });

  it('writes the error envelope’s keys in the contract’s order (§5) on every route', async () => {
    const order = ['code', 'message', 'details', 'request_id'];
    for (const res of [
      await t.rest.post('/api/orders', { ...seed.request, total: 1 }),
      await t.rest.post('/api/orders', { ...seed.request, colour: 'red' }),
      await t.rest.get('/api/orders?limit=0'),
      await t.rest.put('/api/orders/order_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { status: 'lost' }),
      await t.rest.get('/api/orders/order_01ZZZZZZZZZZZZZZZZZZZZZZZZ'),
      await t.rest.post('/api/orders', seed.request, { authorization: null }),
    ]) {
      const body = JSON.parse(res.body) as { error: Record<string, unknown> };
      expect(Object.keys(body), res.body).toStrictEqual(['success', 'error']);
      expect(Object.keys(body.error), res.body).toStrictEqual(order.filter((key) => key in body.error));
    }
  });

  it('stores what it returned: the order and its items are rows, and GET returns the same representation', async () => {
    const created = (await t.rest.post('/api/orders', seed.request)).json().data;
    const got = await t.rest.get(`/api/orders/${created.id}`);
    expect(got.statusCode).toBe(200);
    expect(got.json()).toStrictEqual({ success: true, data: created });
    const [row] = await t.db.query('select total::text, currency, status from orders where id = ?', [created.id]);
    expect(row).toStrictEqual({ total: '227.0000', currency: 'USD', status: 'pending' });
  });
});

describe('POST, GET and PUT against a schema written from the seed, checked by ajv', () => {
  const schemas = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'cekat-create-order.schema.json'), 'utf8')) as { request: object; response: object };
  const ajv = new Ajv({ allErrors: true, strict: false });
  const request = ajv.compile(schemas.request);
  const response = ajv.compile(schemas.response);
  const problems = (validate: typeof response, value: unknown) => (validate(value) ? [] : validate.errors);

  it('the schema holds the seed’s own example', () => {
    expect(problems(request, seed.request)).toStrictEqual([]);
    expect(problems(response, seed.response)).toStrictEqual([]);
  });

  it.each([
    ['the seed request', seed.request],
    ['the seed’s JavaScript example', { customer_id: 'contact_abc123', items: [{ product_id: 'prod_001', name: 'Widget', quantity: 1, price: 99.0 }], total: 99.0, currency: 'USD' }],
    ['KWD, a billing address and metadata', { customer_id: 'c', items: [{ product_id: 'p', quantity: 3, price: 1.005 }], total: 3.015, currency: 'kwd', billing_address: { name: 'X', country: 'kw' }, metadata: { a: [1, { b: null }] } }],
    ['JPY', { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 5000 }], total: 5000, currency: 'JPY' }],
  ])('%s: every answer has the seed’s keys and JSON types', async (_name, body) => {
    expect(problems(request, body)).toStrictEqual([]);
    const created = await t.rest.post('/api/orders', body);
    expect(created.statusCode).toBe(201);
    expect(problems(response, created.json())).toStrictEqual([]);
    const id = created.json().data.id as string;
    expect(problems(response, (await t.rest.get(`/api/orders/${id}`)).json())).toStrictEqual([]);
    const updated = await t.rest.put(`/api/orders/${id}`, { status: 'paid', tracking_number: 'TRK1', tracking_url: 'https://t.example/1', metadata: { gift_wrap: true } });
    expect(updated.statusCode).toBe(200);
    expect(problems(response, updated.json())).toStrictEqual([]);
  });
});

describe('POST /api/orders: money', () => {
  const order = (overrides: Record<string, unknown>) => ({
    customer_id: 'c1',
    items: [{ product_id: 'p1', quantity: 1, price: 10 }],
    total: 10,
    ...overrides,
  });

  it('computes with exact decimals: 0.1 + 0.2 is 0.3', async () => {
    const res = await t.rest.post('/api/orders', order({ items: [{ product_id: 'a', quantity: 1, price: 0.1 }, { product_id: 'b', quantity: 1, price: 0.2 }], total: 0.3 }));
    expect(res.statusCode).toBe(201);
    expect(res.json().data.subtotal).toBe(0.3);
    expect(res.json().data.total).toBe(0.3);
  });

  it('accepts amounts as decimal strings and returns them as numbers', async () => {
    const res = await t.rest.post('/api/orders', order({ items: [{ product_id: 'a', quantity: 3, price: '19.99' }], shipping: '5', tax: 1.2, total: '66.17' }));
    expect(res.statusCode).toBe(201);
    expect(res.json().data).toMatchObject({ subtotal: 59.97, shipping: 5, tax: 1.2, total: 66.17 });
  });

  it('does not let JSON number parsing round a price into a valid one', async () => {
    // JSON.parse would read 9.9999999999999999 as 10, a valid USD price.
    const res = await t.rest.post('/api/orders', '{"customer_id":"c","items":[{"product_id":"a","quantity":1,"price":9.9999999999999999}],"total":10}');
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([
      { field: 'items[0].price', message: 'must have at most 2 decimal places in USD' },
    ]);
  });

  it('does not let JSON number parsing round a quantity into a whole one, as GraphQL does not', async () => {
    // JSON.parse would read 2.9999999999999999 as 3; GraphQL's Int refuses the same literal.
    const before = await countRows();
    const res = await t.rest.post('/api/orders', '{"customer_id":"c","items":[{"product_id":"a","quantity":2.9999999999999999,"price":1}],"total":3}');
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field: 'items[0].quantity', message: 'must be an integer' }]);
    expect(await countRows()).toStrictEqual(before);
    // A whole number written long is still whole.
    const whole = await t.rest.post('/api/orders', '{"customer_id":"c","items":[{"product_id":"a","quantity":3.0000000000000000,"price":1}],"total":3}');
    expect(whole.statusCode, whole.body).toBe(201);
    expect(whole.json().data.items[0].quantity).toBe(3);
  });

  it('refuses amounts past 15 significant digits, where a JSON number stops being exact', async () => {
    const res = await t.rest.post('/api/orders', order({ items: [{ product_id: 'a', quantity: 1, price: '10000000000000.00' }], total: '10000000000000.00' }));
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toContainEqual({ field: 'items[0].price', message: 'must be at most 9999999999999.99 USD' });
    const big = await t.rest.post('/api/orders', order({ items: [{ product_id: 'a', quantity: 1000000, price: '99999999.99' }], total: '1.00' }));
    expect(big.statusCode).toBe(422);
    expect(big.json().error.details[0].field).toBe('items[0]');
  });

  it('says the expected total on TOTAL_MISMATCH and stores nothing', async () => {
    const before = await countRows();
    const res = await t.rest.post('/api/orders', order({ total: 9.99 }));
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'TOTAL_MISMATCH',
      details: [{ field: 'total', message: 'must be 10.00' }],
    });
    expect(res.json().error.message).toContain('expected total 10.00');
    expect(await countRows()).toStrictEqual(before);
  });

  it('rejects 9.999 USD and 1.5 JPY instead of rounding them', async () => {
    const usd = await t.rest.post('/api/orders', order({ items: [{ product_id: 'a', quantity: 1, price: 9.999 }], total: 9.999 }));
    expect(usd.statusCode).toBe(422);
    expect(usd.json().error.details).toContainEqual({ field: 'items[0].price', message: 'must have at most 2 decimal places in USD' });
    const jpy = await t.rest.post('/api/orders', order({ currency: 'jpy', items: [{ product_id: 'a', quantity: 1, price: 1.5 }], total: 1.5 }));
    expect(jpy.statusCode).toBe(422);
    expect(jpy.json().error.details).toContainEqual({ field: 'items[0].price', message: 'must be a whole number in JPY' });
  });

  it('stores the currency upper-case and keeps KWD to three digits', async () => {
    const res = await t.rest.post('/api/orders', order({ currency: 'kwd', items: [{ product_id: 'a', quantity: 3, price: 1.005 }], total: 3.015 }));
    expect(res.statusCode).toBe(201);
    expect(res.json().data).toMatchObject({ currency: 'KWD', total: 3.015, items: [{ price: 1.005, subtotal: 3.015 }] });
  });
});

describe('POST /api/orders: bad input', () => {
  it('names every bad and unknown field at once, and writes nothing', async () => {
    const before = await countRows();
    const res = await t.rest.post('/api/orders', {
      customer_id: '',
      items: [{ product_id: 'p', quantity: 0, price: -1, colour: 'red' }],
      total: 'ten',
      shipping_address: { country: 'XX', zip: '1' },
      extra: true,
    });
    expect(res.statusCode).toBe(422);
    const error = res.json().error;
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.request_id).toBe(res.headers['x-request-id']);
    expect(error.details).toEqual(
      expect.arrayContaining([
        { field: 'customer_id', message: 'must not be empty' },
        { field: 'items[0].quantity', message: 'must be at least 1' },
        { field: 'items[0].colour', message: 'is not a known field' },
        { field: 'shipping_address.zip', message: 'is not a known field' },
        { field: 'extra', message: 'is not a known field' },
      ]),
    );
    expect(await countRows()).toStrictEqual(before);
  });

  it('refuses a customer_id or product_id of only whitespace as blank, and writes nothing', async () => {
    const before = await countRows();
    const res = await t.rest.post('/api/orders', {
      customer_id: '  ',
      items: [{ product_id: '\t\u00a0', quantity: 1, price: 1 }],
      total: 1,
    });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error.details).toStrictEqual([
      { field: 'customer_id', message: 'must not be blank' },
      { field: 'items[0].product_id', message: 'must not be blank' },
    ]);
    expect(await countRows()).toStrictEqual(before);
    // Spaces inside or around an id are the caller's: kept as sent.
    const ok = await t.rest.post('/api/orders', { customer_id: ' c 1 ', items: [{ product_id: 'p 1', quantity: 1, price: 1 }], total: 1 });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().data.customer_id).toBe(' c 1 ');
  });

  it('rejects a camelCase field name on REST rather than guessing what it means', async () => {
    const res = await t.rest.post('/api/orders', { customerId: 'c', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toEqual(
      expect.arrayContaining([
        { field: 'customerId', message: 'is not a known field' },
        { field: 'customer_id', message: 'is required' },
      ]),
    );
  });

  it('answers 400 INVALID_JSON for a body that is not JSON', async () => {
    const res = await t.rest.post('/api/orders', '{"customer_id": ');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toStrictEqual({
      success: false,
      error: { code: 'INVALID_JSON', message: 'The request body is not valid JSON', request_id: res.headers['x-request-id'] },
    });
  });

  it('answers 422 for JSON that is not an object', async () => {
    const res = await t.rest.post('/api/orders', '[1, 2]');
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field: 'body', message: 'must be a JSON object' }]);
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a body that is not application/json', async () => {
    const res = await t.rest.post('/api/orders', 'customer_id=c1', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const text = await t.rest.post('/api/orders', '{}', { headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
  });

  it('answers 413 PAYLOAD_TOO_LARGE over the body limit', async () => {
    const res = await t.rest.post('/api/orders', { customer_id: 'c', notes: 'x'.repeat(1024 * 1024 + 1), items: [], total: 0 });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('authentication', () => {
  const cases: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a malformed header', { authorization: 'Token abc' }],
    ['an unknown key', { authorization: `Bearer ogk_${'A'.repeat(43)}` }],
  ];
  it.each(cases)('answers 401 UNAUTHORIZED for %s', async (_name, headers) => {
    const res = await t.rest.post('/api/orders', seed.request, { authorization: null, headers });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('UNAUTHORIZED');
  });

  it('answers 401 for a revoked key', async () => {
    const { id, key } = await t.app.services.auth.createApiKey('acme');
    await t.app.services.auth.revokeApiKey(id);
    const res = await t.rest.get('/api/orders/order_x', { authorization: `Bearer ${key}` });
    expect(res.statusCode).toBe(401);
  });

  it("never shows one workspace another's order: 404, exactly like an unknown id", async () => {
    const created = (await t.rest.post('/api/orders', seed.request)).json().data;
    const other = await t.bearer('globex');
    const foreign = await t.rest.get(`/api/orders/${created.id}`, { authorization: other });
    const unknown = await t.rest.get('/api/orders/order_01ZZZZZZZZZZZZZZZZZZZZZZZZ', { authorization: other });
    expect(foreign.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('NOT_FOUND');
    expect(foreign.json().error.message).toBe(`Order ${created.id} not found`);
  });
});

describe('request ids and unexpected errors', () => {
  it('puts X-Request-Id on every response and keeps a valid incoming one', async () => {
    const ok = await t.rest.post('/api/orders', seed.request, { headers: { 'x-request-id': 'client-req-42' } });
    expect(ok.headers['x-request-id']).toBe('client-req-42');
    const bad = await t.rest.post('/api/orders', '{', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(bad.json().error.request_id).toBe(bad.headers['x-request-id']);
    const health = await t.rest.get('/healthz', { authorization: null });
    expect(health.headers['x-request-id']).toBeTruthy();
  });

  it('answers an unexpected failure with a generic 500 and logs the stack under the request id', async () => {
    const orders = t.app.services.orders;
    const original = orders.createOrderExactlyOnce;
    orders.createOrderExactlyOnce = async () => {
      throw new Error('relation "secret_table" does not exist');
    };
    try {
      const res = await t.rest.post('/api/orders', seed.request);
      expect(res.statusCode).toBe(500);
      expect(res.json()).toStrictEqual({
        success: false,
        error: { code: 'INTERNAL_ERROR', message: 'Internal server error', request_id: res.headers['x-request-id'] },
      });
      expect(res.body).not.toContain('secret_table');
      const line = t.logs.find((entry) => entry.reqId === res.headers['x-request-id'] && entry.level === 50);
      expect((line?.err as { stack: string }).stack).toContain('secret_table');
    } finally {
      orders.createOrderExactlyOnce = original;
    }
  });

  it('answers unknown routes with the error envelope', async () => {
    const res = await t.rest.get('/api/nothing-here', { authorization: null });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
  });
});
