import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { CREATE_ORDER, ORDER_FIELDS } from '../support/graphql';
import { loadSeed } from '../support/seed';

const seed = loadSeed();

const t = useTestApp();

/** The seed request in GraphQL's names. */
const seedInput = {
  customerId: 'contact_abc123',
  items: [
    { productId: 'prod_001', name: 'Premium Widget', quantity: 2, price: 99.0, sku: 'WGT-PRE' },
    { productId: 'prod_002', name: 'Widget Accessory', quantity: 1, price: 29.0, sku: 'WGT-ACC' },
  ],
  total: 227.0,
  currency: 'USD',
  shippingAddress: { name: 'John Doe', address: '123 Main St', city: 'Jakarta', state: 'DKI', postalCode: '12345', country: 'ID' },
  notes: 'Please gift wrap this order',
};

describe('createOrder over HTTP', () => {
  it('creates the seed order, with Decimal amounts as strings carrying the currency digits', async () => {
    expect(seed.request.customer_id).toBe(seedInput.customerId);
    const res = await t.gql(CREATE_ORDER, { input: seedInput });
    expect(res.statusCode).toBe(200);
    const { order, userErrors } = res.json().data.createOrder;
    expect(userErrors).toStrictEqual([]);
    expect(order).toMatchObject({
      customerId: 'contact_abc123',
      status: 'PENDING',
      items: [
        { productId: 'prod_001', name: 'Premium Widget', quantity: 2, price: '99.00', sku: 'WGT-PRE', subtotal: '198.00' },
        { productId: 'prod_002', name: 'Widget Accessory', quantity: 1, price: '29.00', sku: 'WGT-ACC', subtotal: '29.00' },
      ],
      subtotal: '227.00',
      shipping: '0.00',
      tax: '0.00',
      total: '227.00',
      currency: 'USD',
      shippingAddress: { name: 'John Doe', company: null, address: '123 Main St', city: 'Jakarta', state: 'DKI', postalCode: '12345', country: 'ID' },
      billingAddress: null,
      notes: 'Please gift wrap this order',
      metadata: null,
      statusHistory: [{ status: 'PENDING', timestamp: order.createdAt }],
    });
    expect(order.orderNumber).toMatch(/^ORD-\d{4}-\d{4}-\d{3}$/);

    // Read back through GraphQL and through REST: one service, one order.
    const read = await t.gql(`query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id: order.id });
    expect(read.json().data.order).toStrictEqual(order);
    const rest = await t.rest.get(`/api/orders/${order.id}`);
    expect(rest.json().data).toMatchObject({ order_number: order.orderNumber, total: 227 });
  });

  it('returns every input error in userErrors and stores nothing', async () => {
    const [{ n: before }] = await t.app.db.em.fork().execute('select count(*)::int as n from orders');
    const res = await t.gql(CREATE_ORDER, {
      input: { customerId: '', items: [{ productId: 'p', quantity: 1, price: '9.999' }], total: '9.999', currency: 'usd', shippingAddress: { country: 'ZZ' } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.createOrder).toStrictEqual({
      order: null,
      replayed: false,
      userErrors: [
        { field: ['input', 'customerId'], message: 'must not be empty', code: 'VALIDATION_ERROR' },
        { field: ['input', 'items', '0', 'price'], message: 'must have at most 2 decimal places in USD', code: 'VALIDATION_ERROR' },
        { field: ['input', 'total'], message: 'must have at most 2 decimal places in USD', code: 'VALIDATION_ERROR' },
        { field: ['input', 'shippingAddress', 'country'], message: 'must be an ISO 3166-1 alpha-2 country code such as ID', code: 'VALIDATION_ERROR' },
      ],
    });
    const [{ n: after }] = await t.app.db.em.fork().execute('select count(*)::int as n from orders');
    expect(after).toBe(before);
  });

  it('refuses a customerId or productId of only whitespace as blank, as REST does', async () => {
    const res = await t.gql(CREATE_ORDER, { input: { ...seedInput, customerId: ' ', items: [{ productId: '\n', quantity: 1, price: '227.00' }] } });
    expect(res.json().data.createOrder).toStrictEqual({
      order: null,
      replayed: false,
      userErrors: [
        { field: ['input', 'customerId'], message: 'must not be blank', code: 'VALIDATION_ERROR' },
        { field: ['input', 'items', '0', 'productId'], message: 'must not be blank', code: 'VALIDATION_ERROR' },
      ],
    });
  });

  it('returns TOTAL_MISMATCH with the expected total', async () => {
    const res = await t.gql(CREATE_ORDER, { input: { ...seedInput, total: '226.99' } });
    expect(res.json().data.createOrder).toStrictEqual({
      order: null,
      replayed: false,
      userErrors: [
        {
          field: ['input', 'total'],
          message: 'total 226.99 does not match the expected total 227.00 (items 227.00 + shipping 0.00 + tax 0.00)',
          code: 'TOTAL_MISMATCH',
        },
      ],
    });
  });

  it('rejects a field the schema does not know, before any service call', async () => {
    const res = await t.gql(CREATE_ORDER, { input: { ...seedInput, colour: 'red' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.json().errors[0].message).toContain('colour');
  });
});

describe('a Decimal written as a number, exponent or not (contract §2: "a string or a number")', () => {
  /** Each literal as price and total of a one-line USD order; what every transport must answer. */
  const CASES: [literal: string, answer: { total: string } | { message: string }][] = [
    ['1e2', { total: '100.00' }],
    ['1E2', { total: '100.00' }],
    ['1.5e1', { total: '15.00' }],
    ['2.5E-1', { total: '0.25' }],
    ['0e0', { total: '0.00' }],
    ['100', { total: '100.00' }],
    ['99.5', { total: '99.50' }],
    ['1e-7', { message: 'must have at most 2 decimal places in USD' }],
    ['1.005', { message: 'must have at most 2 decimal places in USD' }],
    ['9.9999999999999999', { message: 'must have at most 2 decimal places in USD' }],
    ['1e15', { message: 'must be at most 9999999999999.99 USD' }],
    // A literal a double cannot hold is read as its text, which must then be plain decimal (as over REST).
    ['1e21', { message: 'must be a decimal number such as "99.00"' }],
    ['12345678901234567890', { message: 'must be at most 9999999999999.99 USD' }],
    ['-1e2', { message: 'must be 0 or more' }],
  ];
  const customerId = 'decimal-number';
  const mutation = (price: string, total: string) =>
    `mutation { createOrder(input: {customerId: "${customerId}", items: [{productId: "p", quantity: 1, price: ${price}}], total: ${total}}) { order { id total items { price } } userErrors { field message code } } }`;
  const VARIABLES_MUTATION =
    'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id total items { price } } userErrors { field message code } } }';
  const raw = (payload: string) =>
    t.app.http.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: t.auth, 'content-type': 'application/json' },
      payload,
    });

  it.each(CASES)('%s: the same answer in the document, as a variable and over REST', async (literal, answer) => {
    const before = await t.db.count('orders');
    const inDocument = await t.gql(mutation(literal, literal));
    // The variables' JSON text carries the literal as written, as a client's JSON would.
    const asVariable = await raw(
      `{"query": ${JSON.stringify(VARIABLES_MUTATION)}, "variables": {"input": {"customerId": "${customerId}", "items": [{"productId": "p", "quantity": 1, "price": ${literal}}], "total": ${literal}}}}`,
    );
    const rest = await t.rest.post(
      '/api/orders',
      `{"customer_id": "${customerId}", "items": [{"product_id": "p", "quantity": 1, "price": ${literal}}], "total": ${literal}}`,
    );
    for (const res of [inDocument, asVariable]) expect(res.statusCode, res.body).toBe(200);
    const payloads = [inDocument, asVariable].map((res) => res.json().data.createOrder);

    if ('total' in answer) {
      for (const payload of payloads) {
        expect(payload.userErrors).toStrictEqual([]);
        expect(payload.order).toMatchObject({ total: answer.total, items: [{ price: answer.total }] });
      }
      expect(rest.statusCode, rest.body).toBe(201);
      expect(rest.json().data).toMatchObject({ total: Number(answer.total), items: [{ price: Number(answer.total) }] });
      expect(await t.db.count('orders')).toBe(before + 3);
      return;
    }
    for (const payload of payloads) {
      expect(payload).toStrictEqual({
        order: null,
        userErrors: [
          { field: ['input', 'items', '0', 'price'], message: answer.message, code: 'VALIDATION_ERROR' },
          { field: ['input', 'total'], message: answer.message, code: 'VALIDATION_ERROR' },
        ],
      });
    }
    expect(rest.statusCode).toBe(422);
    expect(rest.json().error).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [
        { field: 'items[0].price', message: answer.message },
        { field: 'total', message: answer.message },
      ],
    });
    expect(await t.db.count('orders')).toBe(before);
  });

  it('an order filter takes minTotal: 1e2 in the document as it does as a variable', async () => {
    const filter = (minTotal: string) => `orders(first: 5, filter: {customerId: "${customerId}", minTotal: ${minTotal}}) { totalCount }`;
    const inDocument = await t.gql(`{ ${filter('1e2')} }`);
    const asVariable = await raw(
      `{"query": ${JSON.stringify(`query($m: Decimal) { ${filter('$m')} }`)}, "variables": {"m": 1e2}}`,
    );
    expect(inDocument.json().errors).toBeUndefined();
    expect(inDocument.json()).toStrictEqual(asVariable.json());
    expect(inDocument.json().data.orders.totalCount).toBeGreaterThan(0);
  });
});

describe('authentication and tenancy', () => {
  it('answers 401 with extensions.code UNAUTHENTICATED without a key, and with a bad one', async () => {
    for (const authorization of ['', 'Bearer nope', `Bearer ogk_${'B'.repeat(43)}`]) {
      const res = await t.gql('{ order(id: "order_x") { id } }', {}, { authorization: authorization || null });
      expect(res.statusCode).toBe(401);
      expect(res.json().errors[0].extensions).toStrictEqual({ code: 'UNAUTHENTICATED' });
    }
  });

  it("gives null for another workspace's order, exactly as for an unknown id", async () => {
    const created = (await t.gql(CREATE_ORDER, { input: seedInput })).json().data.createOrder.order;
    const other = await t.bearer('globex');
    const foreign = await t.gql(`{ order(id: "${created.id}") { id } }`, {}, { authorization: other || null });
    expect(foreign.json()).toStrictEqual({ data: { order: null } });
  });
});

describe('errors', () => {
  it('masks unexpected failures as INTERNAL_ERROR and keeps the detail out of the response', async () => {
    const orders = t.app.services.orders;
    const original = orders.getOrder;
    orders.getOrder = async () => {
      throw new Error('duplicate key value violates unique constraint "orders_pkey"');
    };
    try {
      const res = await t.gql('{ order(id: "order_x") { id } }');
      expect(res.json().errors).toStrictEqual([
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 3 }],
          path: ['order'],
          extensions: { code: 'INTERNAL_ERROR', requestId: res.headers['x-request-id'] },
        },
      ]);
      expect(res.body).not.toContain('orders_pkey');
      const logged = t.logs.find((line) => line.reqId === res.headers['x-request-id'] && line.level === 50);
      expect(JSON.stringify(logged)).toContain('orders_pkey');
    } finally {
      orders.getOrder = original;
    }
  });

  it('refuses batched requests', async () => {
    const res = await t.rest.post('/graphql', [{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('batch');
  });
});
