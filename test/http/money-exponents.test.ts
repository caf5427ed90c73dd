/**
 * Every minor-unit exponent of the currency table (0, 2, 3 and 4 digits)
 * stored exactly: the amounts a create answers are the amounts read, listed
 * and replayed afterwards, on both transports, and the items add up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let auth: string;

beforeAll(async () => {
  t = await createTestApp();
  auth = await t.bearer('acme');
});
afterAll(() => t.close());

/** Per currency: the smallest amount, and the largest price with 15 significant digits. */
const CURRENCIES = [
  { code: 'JPY', exponent: 0, small: '7', large: '123456789012345' },
  { code: 'USD', exponent: 2, small: '0.07', large: '1234567890123.45' },
  { code: 'KWD', exponent: 3, small: '0.007', large: '123456789012.345' },
  { code: 'CLF', exponent: 4, small: '0.0005', large: '1234567890.1234' },
  { code: 'UYW', exponent: 4, small: '0.0001', large: '9999999999.9999' },
] as const;

/** Decimal arithmetic on strings with `exponent` digits, through integer minor units. */
const minor = (value: string, exponent: number) => {
  const [whole, fraction = ''] = value.split('.');
  return BigInt(`${whole}${fraction.padEnd(exponent, '0')}`);
};
const fmt = (value: bigint, exponent: number) => {
  const digits = value.toString().padStart(exponent + 1, '0');
  return exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
};

const restPost = (body: unknown, key?: string) =>
  t.app.http.inject({
    method: 'POST',
    url: '/api/orders',
    headers: { authorization: auth, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    payload: JSON.stringify(body),
  });
const restGet = (url: string) => t.app.http.inject({ method: 'GET', url, headers: { authorization: auth } });
const gql = (query: string, variables: Record<string, unknown> = {}) =>
  t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ query, variables }),
  });

describe.each(CURRENCIES)('$code (exponent $exponent)', ({ code, exponent, small, large }) => {
  const subtotal = fmt(minor(small, exponent) * 2n + minor(large, exponent), exponent);
  const total = subtotal;
  const order = {
    customer_id: `money_${code}`,
    currency: code,
    // Strings: the exact way to send an amount; the REST answer has JSON numbers of the same value.
    items: [
      { product_id: 'small', quantity: 2, price: small },
      { product_id: 'large', quantity: 1, price: large },
    ],
    total,
  };
  const expectedItems = [
    { price: small, subtotal: fmt(minor(small, exponent) * 2n, exponent) },
    { price: large, subtotal: large },
  ];

  it('REST: create, read, list and replay all answer the amounts that were sent, and they are what is stored', async () => {
    const created = await restPost(order, `money-${code}`);
    expect(created.statusCode, created.body).toBe(201);
    const amounts = (data: { items: { price: number; subtotal: number }[]; subtotal: number; total: number }) => ({
      items: data.items.map((item) => ({ price: item.price, subtotal: item.subtotal })),
      subtotal: data.subtotal,
      total: data.total,
    });
    const expected = {
      items: expectedItems.map((item) => ({ price: Number(item.price), subtotal: Number(item.subtotal) })),
      subtotal: Number(subtotal),
      total: Number(total),
    };
    const data = created.json().data;
    expect(amounts(data)).toStrictEqual(expected);

    const read = await restGet(`/api/orders/${data.id}`);
    expect(read.statusCode).toBe(200);
    expect(amounts(read.json().data)).toStrictEqual(expected);
    expect(read.json().data).toStrictEqual(data);

    const listed = await restGet(`/api/orders?customer_id=money_${code}`);
    expect(listed.json().data.map((row: { total: number }) => row.total)).toStrictEqual([Number(total)]);

    const replay = await restPost(order, `money-${code}`);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toStrictEqual(created.json());

    // Stored exactly, not rounded to fewer digits.
    const [row] = await t.app.db.em
      .fork()
      .getConnection()
      .execute<{ total: string; prices: string[] }[]>(
        `select o.total::text as total, array(select i.price::text from order_items i where i.order_id = o.id order by i.position) as prices
         from orders o where o.id = ?`,
        [data.id],
      );
    if (!row) throw new Error(`order ${data.id} has no row`);
    expect(minor(row.total, 4)).toBe(minor(total, exponent) * 10n ** BigInt(4 - exponent));
    expect(row.prices.map((price) => minor(price, 4))).toStrictEqual(
      [small, large].map((price) => minor(price, exponent) * 10n ** BigInt(4 - exponent)),
    );
  });

  it('GraphQL: create, read by id and number, and list answer the same decimal strings, with the currency’s digits', async () => {
    const fields = 'id orderNumber currency subtotal total items { price subtotal }';
    const created = await gql(
      `mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { ${fields} } userErrors { field message } } }`,
      {
        input: {
          customerId: `money_gql_${code}`,
          currency: code,
          items: order.items.map((item) => ({ productId: item.product_id, quantity: item.quantity, price: item.price })),
          total,
        },
      },
    );
    const payload = created.json().data.createOrder;
    expect(payload.userErrors).toStrictEqual([]);
    expect(payload.order).toMatchObject({ currency: code, subtotal, total, items: expectedItems });

    const read = await gql(`query($id: ID!, $number: String!) { order(id: $id) { ${fields} } orderByNumber(orderNumber: $number) { ${fields} } }`, {
      id: payload.order.id,
      number: payload.order.orderNumber,
    });
    expect(read.json().data).toStrictEqual({ order: payload.order, orderByNumber: payload.order });

    const listed = await gql(`query($filter: OrderFilter) { orders(filter: $filter, first: 10) { edges { node { ${fields} } } } }`, {
      filter: { customerId: `money_gql_${code}` },
    });
    expect(listed.json().data.orders.edges).toStrictEqual([{ node: payload.order }]);
  });

  it('a total filter at the currency’s precision finds the order', async () => {
    const res = await restGet(`/api/orders?customer_id=money_${code}&min_total=${total}&max_total=${total}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toHaveLength(1);
  });
});
