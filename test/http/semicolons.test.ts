/**
 * A `;` is ordinary text. On the embedded database the driver once ran any
 * SQL text containing `;` as a multi-statement script, so `PUT /api/orders/x;y`
 * answered 500 (issue 11, point 3). Every text field and every id, on every
 * route of both transports, carries one here.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp({}, { slug: 'semicolons' });

const S = 'a;b'; // and one statement after the other: 'x'); drop table orders; --
const EVIL = `x'); drop table orders; --`;

const address = (tag: string) => ({
  name: `${tag}${S}`,
  company: `${tag}${S}`,
  address: EVIL,
  address2: `${tag}${S}`,
  city: `${tag}${S}`,
  state: `${tag}${S}`,
  postal_code: `${tag}${S}`,
  country: 'ID',
  phone: `${tag}${S}`,
  email: `${tag}${S}`,
});

const createBody = {
  customer_id: `cust${S}`,
  items: [{ product_id: `prod${S}`, name: EVIL, quantity: 2, price: '1.50', sku: `sku${S}` }],
  total: '3.00',
  shipping_address: address('ship'),
  billing_address: address('bill'),
  notes: `notes${S} ${EVIL}`,
  metadata: { [`key${S}`]: `value${S}`, nested: { [S]: [S] } },
};

const gql = async (query: string, variables: Record<string, unknown> = {}) => {
  const response = await t.gql(query, variables);
  expect(response.statusCode).toBe(200);
  return response.json<{ data: Record<string, unknown>; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>();
};

/** Each list query finds exactly the one order `id`. */
async function expectListsOnly(queries: string[], id: string): Promise<void> {
  for (const query of queries) {
    const list = await t.rest.get(`/api/orders?${query}`);
    expect(list.statusCode, query).toBe(200);
    expect(
      list.json<{ data: { id: string }[] }>().data.map((order) => order.id),
      query,
    ).toStrictEqual([id]);
  }
}

describe('REST', () => {
  let id: string;

  it('stores and returns `;` in every text field and in the idempotency key', async () => {
    const created = await t.rest.post('/api/orders', createBody, { headers: { 'idempotency-key': `key${S}` } });
    expect(created.statusCode).toBe(201);
    const data = created.json<{ data: Record<string, unknown> & { id: string } }>().data;
    id = data.id;
    expect(data).toMatchObject({
      ...createBody,
      total: 3,
      items: [{ ...createBody.items[0], price: 1.5, subtotal: 3 }],
    });

    const replay = await t.rest.post('/api/orders', createBody, { headers: { 'idempotency-key': `key${S}` } });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toStrictEqual(created.json());

    const read = await t.rest.get(`/api/orders/${id}`);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toStrictEqual(created.json());
    expect(
      (await t.rest.get('/api/orders')).json<{ pagination: { total: number } }>().pagination.total,
    ).toBe(1);
  });

  it('filters the list by text with `;`', async () => {
    await expectListsOnly(
      [`customer_id=${encodeURIComponent(`cust${S}`)}`, `search=${encodeURIComponent(';')}`, `search=${encodeURIComponent(EVIL)}`],
      id,
    );
    const none = await t.rest.get(`/api/orders?customer_id=${encodeURIComponent(EVIL)}`);
    expect(none.json<{ data: unknown[] }>().data).toStrictEqual([]);
  });

  it('updates every text field to text with `;`', async () => {
    const changes = {
      status: 'paid',
      tracking_number: `track${S}`,
      tracking_url: `https://t.example/${S}?q=${S}`,
      notes: EVIL,
      metadata: { [`more${S}`]: EVIL },
      shipping_address: address('new'),
    };
    const updated = await t.rest.put(`/api/orders/${id}`, changes);
    expect(updated.statusCode).toBe(200);
    expect(updated.json<{ data: unknown }>().data).toMatchObject({
      ...changes,
      metadata: { ...createBody.metadata, ...changes.metadata },
    });
    expect((await t.rest.get(`/api/orders/${id}`)).json()).toStrictEqual(updated.json());
  });

  it.each(['x;y', `${EVIL}`, 'order_01;', ';'])('an id %j is a 404 on GET and PUT', async (bad) => {
    const url = `/api/orders/${encodeURIComponent(bad)}`;
    const get = await t.rest.get(url);
    expect(get.statusCode).toBe(404);
    expect(get.json()).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    const put = await t.rest.put(url, { notes: 'x' });
    expect(put.statusCode).toBe(404);
    expect(put.json()).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
  });

  it('PUT /api/orders/x;y written literally in the URL is a 404', async () => {
    const put = await t.rest.put('/api/orders/x;y', { status: 'paid' });
    expect(put.statusCode).toBe(404);
  });
});

describe('GraphQL', () => {
  const ORDER_FIELDS =
    'id customerId notes metadata trackingNumber shippingAddress { name address } items { productId name sku }';
  let id: string;
  let orderNumber: string;

  it('createOrder stores `;` in every text field and in the idempotency key', async () => {
    const input = {
      customerId: `gql${S}`,
      items: [{ productId: `p${S}`, name: EVIL, quantity: 1, price: '2.00', sku: `s${S}` }],
      total: '2.00',
      notes: EVIL,
      metadata: { [S]: S },
      shippingAddress: { name: S, address: EVIL, postalCode: S, country: 'ID' },
      billingAddress: { name: S, city: EVIL },
    };
    const body = await gql(
      `mutation($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) {
         replayed order { ${ORDER_FIELDS} orderNumber } userErrors { code } } }`,
      { input, key: `gql${S}` },
    );
    const payload = body.data.createOrder as {
      order: { id: string; orderNumber: string };
      userErrors: unknown[];
    };
    expect(payload.userErrors).toStrictEqual([]);
    expect(payload.order).toMatchObject({
      customerId: input.customerId,
      notes: EVIL,
      metadata: { [S]: S },
      items: [{ name: EVIL }],
    });
    id = payload.order.id;
    orderNumber = payload.order.orderNumber;
  });

  it('reads it by id, by number and through filters with `;`', async () => {
    const body = await gql(
      `query($id: ID!, $number: String!, $filter: OrderFilter) {
         order(id: $id) { id } orderByNumber(orderNumber: $number) { id }
         orders(filter: $filter) { totalCount edges { node { id } } } }`,
      { id, number: orderNumber, filter: { customerId: `gql${S}`, search: EVIL } },
    );
    expect(body.data).toStrictEqual({
      order: { id },
      orderByNumber: { id },
      orders: { totalCount: 1, edges: [{ node: { id } }] },
    });
  });

  it('updateOrder writes `;` into every text field', async () => {
    const input = {
      trackingNumber: S,
      trackingUrl: `https://t.example/${S}`,
      notes: S,
      metadata: { more: EVIL },
      shippingAddress: { name: EVIL },
    };
    const body = await gql(
      `mutation($id: ID!, $input: UpdateOrderInput!) { updateOrder(id: $id, input: $input) { order { ${ORDER_FIELDS} } userErrors { code } } }`,
      {
        id,
        input,
      },
    );
    expect(body.data.updateOrder).toMatchObject({
      userErrors: [],
      order: {
        trackingNumber: S,
        notes: S,
        metadata: { [S]: S, more: EVIL },
        shippingAddress: { name: EVIL },
      },
    });
  });

  it.each(['x;y', EVIL, ';'])('an id or number %j is null, or NOT_FOUND for an update', async (bad) => {
    const body = await gql(
      `query($id: ID!, $number: String!) { order(id: $id) { id } orderByNumber(orderNumber: $number) { id } }`,
      { id: bad, number: bad },
    );
    expect(body).toStrictEqual({ data: { order: null, orderByNumber: null } });
    const update = await gql(
      `mutation($id: ID!) { updateOrder(id: $id, input: { notes: "x" }) { order { id } userErrors { code field } } }`,
      { id: bad },
    );
    expect(update.data.updateOrder).toStrictEqual({
      order: null,
      userErrors: [{ code: 'NOT_FOUND', field: ['id'] }],
    });
  });

  it('a cursor whose id holds `;` is refused as a cursor this API never wrote, not a server error', async () => {
    const cursor = Buffer.from(JSON.stringify(['2025-01-01T00:00:00.000Z', 'x;y'])).toString('base64url');
    const body = await gql(
      `query($after: String) { orders(after: $after) { totalCount edges { node { id } } } }`,
      { after: cursor },
    );
    expect(body.errors?.[0]).toMatchObject({
      message: 'Invalid request: after is not a cursor from this API',
      extensions: { code: 'VALIDATION_ERROR' },
    });
  });
});

describe('a backslash with a `;` (MikroORM writes such a value as an E-string)', () => {
  // `\` followed by `;` is what a Postman collection's generated Idempotency-Key held
  // (test/outside/newman.test.ts), and what a Windows path in a search does.
  const B = "C:\\temp;x\\\\y'z;";

  it('REST: an Idempotency-Key and a search with them answer as any other text', async () => {
    const body = { ...createBody, customer_id: 'backslash', notes: `path ${B}` };
    const created = await t.rest.post('/api/orders', body, { headers: { 'idempotency-key': `k${B}` } });
    expect(created.statusCode).toBe(201);
    const replay = await t.rest.post('/api/orders', body, { headers: { 'idempotency-key': `k${B}` } });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toStrictEqual(created.json());
    const other = await t.rest.post(
      '/api/orders',
      { ...body, notes: 'other' },
      { headers: { 'idempotency-key': `k${B}` } },
    );
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    const id = created.json<{ data: { id: string } }>().data.id;
    await expectListsOnly([`search=${encodeURIComponent(B)}`, `customer_id=backslash&search=${encodeURIComponent('\\temp;')}`], id);
  });

  it('GraphQL: a search and an idempotency key with them', async () => {
    const input = {
      customerId: 'gql-backslash',
      items: [{ productId: 'p', quantity: 1, price: '2.00' }],
      total: '2.00',
      notes: B,
    };
    const created = await gql(
      `mutation($input: CreateOrderInput!, $key: String) { createOrder(input: $input, idempotencyKey: $key) { order { id } userErrors { code } } }`,
      { input, key: `g${B}` },
    );
    const order = (created.data.createOrder as { order: { id: string } }).order;
    expect(order).not.toBeNull();
    const listed = await gql(
      `query($filter: OrderFilter) { orders(filter: $filter) { edges { node { id } } } }`,
      {
        filter: { customerId: 'gql-backslash', search: B },
      },
    );
    expect(listed.data.orders).toStrictEqual({ edges: [{ node: { id: order.id } }] });
  });
});
