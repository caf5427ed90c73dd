/**
 * Issue 10, point 15: metadata numbers that a double cannot hold come back as
 * the same JSON numbers, on every path: REST create, read, idempotent replay
 * and update; GraphQL literals and variables, reads and updates.
 *
 * Bodies are compared as text (lossless-json), since JSON.parse in the test
 * would round the very numbers under test.
 */
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();

/** Keys sorted (jsonb keeps its own key order), numbers exactly as the server wrote them. */
const sortedText = (value: unknown): string => stringify(sortKeys(value)) as string;
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null || isLosslessNumber(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

const ORDER = '"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":10}],"total":10';
const SENT =
  '{"big":12345678901234567890,"e21":1e21,"one":1.0,"negzero":-0,"huge":1E400,"tiny":1e-7,' +
  '"neg":-98765432109876543210.5,"nested":{"list":[12345678901234567891,1.5]},"text":"12345678901234567890"}';
/** As PostgreSQL's numeric writes each number: the same value, no exponent. */
const STORED_TEXT =
  `{"big":12345678901234567890,"e21":1000000000000000000000,"one":1,"negzero":0,"huge":1${'0'.repeat(400)},` +
  '"tiny":1e-7,"neg":-98765432109876543210.5,"nested":{"list":[12345678901234567891,1.5]},"text":"12345678901234567890"}';

const STORED = sortedText(parse(STORED_TEXT));

type Body = { success: boolean; data: { id: string; metadata?: unknown }; error?: { code: string; details?: unknown } };
const read = (text: string) => parse(text) as Body;
/** The metadata of a REST answer, as text. */
const metadataText = (text: string) => sortedText(read(text).data.metadata);

async function createRest(metadata: string, headers: Record<string, string> = {}) {
  const res = await t.rest.post('/api/orders', `{${ORDER},"metadata":${metadata}}`, { headers });
  expect(res.statusCode, res.body).toBe(201);
  return res;
}

describe('REST', () => {
  it('create and read answer every metadata number as the JSON number sent, never a string', async () => {
    const created = await createRest(SENT);
    expect(metadataText(created.body)).toBe(STORED);
    const id = read(created.body).data.id;
    const got = await t.rest.get(`/api/orders/${id}`);
    expect(got.statusCode).toBe(200);
    expect(metadataText(got.body)).toBe(STORED);
    expect(got.body).toContain('"big":12345678901234567890,');
    expect(got.body).not.toContain('"12345678901234567891"');
    // Stored as jsonb numbers, exactly.
    const [row] = await t.db.query<{ kind: string; big: string }>(
      `select jsonb_typeof(metadata->'big') as kind, metadata->>'big' as big from orders where id = ?`,
      [id],
    );
    expect(row).toEqual({ kind: 'number', big: '12345678901234567890' });
  });

  it('a number a double holds comes back plain, whatever its spelling (README: 1.50e1 is 15)', async () => {
    const created = await createRest('{"f":1.50e1,"g":2.50E+1,"one":1.0,"frac":12345678901234567890.50}');
    const answer = '"metadata":{"f":15,"g":25,"one":1,"frac":12345678901234567890.50}';
    expect(created.body).toContain(answer);
    const got = await t.rest.get(`/api/orders/${read(created.body).data.id}`);
    expect(got.body).toContain(answer);
  });

  it('an idempotent replay answers the same numbers', async () => {
    const headers = { 'idempotency-key': `meta-${Date.now()}` };
    const first = await createRest(SENT, headers);
    const again = await createRest(SENT, headers);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(metadataText(again.body)).toBe(STORED);
    expect(read(again.body).data.id).toBe(read(first.body).data.id);
    // The number and the string of the same digits are different requests.
    const asString = SENT.replace('12345678901234567890,', '"12345678901234567890",');
    const other = await t.rest.post('/api/orders', `{${ORDER},"metadata":${asString}}`, { headers });
    expect(other.statusCode).toBe(422);
    expect(read(other.body).error?.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('an update keeps the stored numbers and merges new ones exactly', async () => {
    const id = read((await createRest('{"big":12345678901234567890,"keep":1e21}')).body).data.id;
    const paid = await t.rest.put(`/api/orders/${id}`, '{"status":"paid"}');
    expect(metadataText(paid.body)).toBe('{"big":12345678901234567890,"keep":1000000000000000000000}');
    expect(paid.body).toContain('"status":"paid"');
    const merged = await t.rest.put(`/api/orders/${id}`, '{"metadata":{"added":98765432109876543210,"big":null}}');
    expect(merged.statusCode, merged.body).toBe(200);
    expect(metadataText(merged.body)).toBe('{"added":98765432109876543210,"keep":1000000000000000000000}');
    expect(metadataText((await t.rest.get(`/api/orders/${id}`)).body)).toBe(
      '{"added":98765432109876543210,"keep":1000000000000000000000}',
    );
  });

  it('written losslessly, an order has the same fields as one written by the schema serialiser', async () => {
    const plain = read((await createRest('{"n":1,"x":[1.5,"a"]}')).body).data;
    expect(stringify(plain.metadata)).toBe('{"n":1,"x":[1.5,"a"]}');
    const exact = read((await createRest('{"n":12345678901234567890}')).body).data;
    expect(Object.keys(exact).sort()).toEqual(Object.keys(plain).sort());
  });

  it.each([
    ['1e99999', 'metadata.x'],
    ['-1e-20000', 'metadata.x'],
    ['[1,1e16384]', 'metadata.x[1]'],
  ])('refuses %s, which would be too long written out, as VALIDATION_ERROR naming %s', async (value, field) => {
    const res = await t.rest.post('/api/orders', `{${ORDER},"metadata":{"x":${value}}}`);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: [{ field }] } });
  });

  it('counts numbers written out towards the 16 KiB metadata limit', async () => {
    const res = await t.rest.post('/api/orders', `{${ORDER},"metadata":{"a":1e9000,"b":1e9000}}`);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ error: { details: [{ field: 'metadata', message: expect.stringMatching(/16384 bytes/) }] } });
    expect((await t.rest.post('/api/orders', `{${ORDER},"metadata":{"z":0e99999}}`)).body).toContain('"metadata":{"z":0}');
  });

  it.each([
    ['quantity', '"items":[{"product_id":"p","quantity":12345678901234567890,"price":10}],"total":10', 'items[0].quantity', 'must be at most 1000000'],
    ['customer_id', '"customer_id":1e400,"items":[{"product_id":"p","quantity":1,"price":10}],"total":10', 'customer_id', 'must be a string'],
    ['metadata', '"metadata":12345678901234567890,"items":[{"product_id":"p","quantity":1,"price":10}],"total":10', 'metadata', 'must be an object'],
    ['price', '"items":[{"product_id":"p","quantity":1,"price":1e400}],"total":10', 'items[0].price', 'must be a decimal number such as "99.00"'],
  ])('outside metadata, such a number in %s is refused as before', async (_name, fields, field, message) => {
    const body = `{${fields.includes('customer_id') ? '' : '"customer_id":"c",'}${fields}}`;
    const res = await t.rest.post('/api/orders', body);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json()).toMatchObject({ error: { code: 'VALIDATION_ERROR', details: expect.arrayContaining([{ field, message }]) } });
  });
});

describe('GraphQL', () => {
  const CREATE = `mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id metadata } userErrors { code field } } }`;
  type Created = { data: { createOrder: { order: { id: string; metadata: unknown } | null; userErrors: unknown[] } } };

  const send = async (text: string) => {
    const res = await t.rest.post('/graphql', text);
    expect(res.statusCode, res.body).toBe(200);
    return parse(res.body) as { data: Record<string, { order?: { id: string; metadata: unknown } } & Record<string, unknown>> };
  };

  it('variables: the JSON scalar answers the numbers sent, on create and on read', async () => {
    const body = `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"customerId":"c","items":[{"productId":"p","quantity":1,"price":"10"}],"total":"10","metadata":${SENT}}}}`;
    const created = (await send(body)) as unknown as Created;
    expect(created.data.createOrder.userErrors).toEqual([]);
    const order = created.data.createOrder.order!;
    expect(sortedText(order.metadata)).toBe(STORED);
    const query = `{"query":"query($id: ID!) { order(id: $id) { metadata } orders(first: 5) { edges { node { id metadata } } } }","variables":{"id":"${order.id}"}}`;
    const got = (await send(query)) as unknown as {
      data: { order: { metadata: unknown }; orders: { edges: { node: { id: string; metadata: unknown } }[] } };
    };
    expect(sortedText(got.data.order.metadata)).toBe(STORED);
    const node = got.data.orders.edges.find((edge) => edge.node.id === order.id)!.node;
    expect(sortedText(node.metadata)).toBe(STORED);
  });

  it('inline literals: numbers in the document stay exact, and an update merges exactly', async () => {
    const mutation = `mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "10"}], total: "10",
      metadata: {big: 12345678901234567890, e21: 1e21, list: [98765432109876543210.25, 2]}}) { order { id metadata } userErrors { code } } }`;
    const created = (await send(JSON.stringify({ query: mutation }))) as unknown as Created;
    const order = created.data.createOrder.order!;
    expect(sortedText(order.metadata)).toBe(
      '{"big":12345678901234567890,"e21":1000000000000000000000,"list":[98765432109876543210.25,2]}',
    );
    const update = `mutation { updateOrder(id: "${order.id}", input: {metadata: {added: 11111111111111111111}}) { order { metadata } userErrors { code } } }`;
    const updated = (await send(JSON.stringify({ query: update }))) as unknown as {
      data: { updateOrder: { order: { metadata: Record<string, unknown> } } };
    };
    expect(sortedText(updated.data.updateOrder.order.metadata)).toBe(
      '{"added":11111111111111111111,"big":12345678901234567890,"e21":1000000000000000000000,"list":[98765432109876543210.25,2]}',
    );
    expect(isLosslessNumber(updated.data.updateOrder.order.metadata.added)).toBe(true);
  });

  it('a Decimal variable sent as a long number literal is read digit by digit, as before', async () => {
    const body = `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"customerId":"c","items":[{"productId":"p","quantity":1,"price":9.9999999999999999}],"total":10}}}`;
    const res = (await send(body)) as unknown as Created;
    expect(res.data.createOrder.order).toBeNull();
    expect(res.data.createOrder.userErrors).toEqual([expect.objectContaining({ code: 'VALIDATION_ERROR' })]);
  });
});
