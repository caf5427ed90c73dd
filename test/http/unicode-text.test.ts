/**
 * Text from people who do not write English, through both transports: names,
 * ids and notes with emoji (ZWJ sequences, skin tones), right-to-left scripts,
 * combining marks, CJK. What create accepts, the list's filters must find.
 */
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { ORDERS } from '../support/graphql';

const t = useTestApp({ rateLimitPerMinute: 1_000_000 });

const order = (extra: Record<string, unknown>) => ({
  customer_id: 'c1',
  items: [{ product_id: 'p', quantity: 1, price: 5 }],
  total: 5,
  ...extra,
});

/** 100 characters (code points), 200 UTF-16 units: within create's 128 characters. */
const EMOJI_CUSTOMER = '👩🏽'.repeat(50);

describe('list filters take what create took', () => {
  it('finds the orders of a customer id of 100 emoji characters, on REST and GraphQL', async () => {
    const created = await t.rest.post('/api/orders', order({ customer_id: EMOJI_CUSTOMER }));
    expect(created.statusCode).toBe(201);
    const id = created.json<{ data: { id: string } }>().data.id;

    const listed = await t.rest.get(`/api/orders?customer_id=${encodeURIComponent(EMOJI_CUSTOMER)}`);
    expect(listed.statusCode).toBe(200);
    expect(listed.json<{ data: { id: string }[] }>().data.map((o) => o.id)).toStrictEqual([id]);

    const viaGraphQL = await t.gql(ORDERS, { filter: { customerId: EMOJI_CUSTOMER }, first: 5 });
    expect(viaGraphQL.json().errors).toBeUndefined();
    expect(viaGraphQL.json().data.orders.edges.map((e: { node: { id: string } }) => e.node.id)).toStrictEqual(
      [id],
    );
  });

  it("counts the filters' limits in characters too: 129 emoji are one too many, with the same message", async () => {
    const tooLong = '😀'.repeat(129);
    const listed = await t.rest.get(`/api/orders?customer_id=${encodeURIComponent(tooLong)}`);
    expect(listed.statusCode).toBe(422);
    expect(listed.json().error.details).toStrictEqual([
      { field: 'customer_id', message: 'must be 1 to 128 characters' },
    ]);
  });
});

describe('search and Unicode normalisation', () => {
  // "Zoë Renée" typed on two keyboards: precomposed (NFC, most systems) and decomposed (NFD, macOS file names).
  const NFC = 'Zo\u00eb Ren\u00e9e';
  const NFD = 'Zoe\u0308 Rene\u0301e';

  it('finds notes written in one form by a search typed in the other, and keeps the notes as sent', async () => {
    const composed = (await t.rest.post('/api/orders', order({ notes: `gift for ${NFC} 🎁` }))).json().data;
    const decomposed = (await t.rest.post('/api/orders', order({ notes: `call ${NFD} first` }))).json().data;
    expect([composed.notes, decomposed.notes]).toStrictEqual([`gift for ${NFC} 🎁`, `call ${NFD} first`]);

    for (const typed of [NFC, NFD, 'zoe\u0308', 'REN\u00c9E']) {
      const listed = await t.rest.get(`/api/orders?search=${encodeURIComponent(typed)}`);
      expect(
        listed
          .json<{ data: { id: string }[] }>()
          .data.map((o) => o.id)
          .sort(),
        typed,
      ).toStrictEqual([composed.id, decomposed.id].sort());
      const viaGraphQL = await t.gql(ORDERS, { filter: { search: typed }, first: 5 });
      expect(viaGraphQL.json().data.orders.totalCount, typed).toBe(2);
    }
  });
});

describe('error messages are safe to show', () => {
  it('escapes control characters of a name the caller sent, instead of echoing them raw', async () => {
    // An unknown field named with an ANSI "clear screen", a line separator and a right-to-left override.
    const name = 'x\u001b[2J\u2028\u202egpj.exe';
    const rest = await t.rest.post('/api/orders', order({ [name]: 1 }));
    expect(rest.statusCode).toBe(422);
    const error = rest.json().error;
    expect(error.message).toBe('Invalid request: x\\u001b[2J\\u2028\\u202egpj.exe is not a known field');
    expect(error.details).toStrictEqual([
      { field: 'x\\u001b[2J\\u2028\\u202egpj.exe', message: 'is not a known field' },
    ]);

    const key = 'k\u0007\u0085'.repeat(14);
    const metadata = await t.rest.post('/api/orders', order({ metadata: { [key]: 1 } }));
    expect(metadata.json().error.details).toStrictEqual([
      { field: `metadata.${'k\\u0007\\u0085'.repeat(14)}`, message: 'key must be 1 to 40 characters' },
    ]);
  });
});

describe('GraphQL error messages are safe to show', () => {
  it("escapes control characters in GraphQL's own message about an unknown input field", async () => {
    const name = 'x\u001b[2J\u202egpj.exe';
    const response = await t.gql(
      'mutation ($input: CreateOrderInput!) { createOrder(input: $input) { order { id } } }',
      {
        input: {
          customerId: 'c',
          items: [{ productId: 'p', quantity: 1, price: '5' }],
          total: '5',
          [name]: 1,
        },
      },
    );
    expect(response.statusCode).toBe(400);
    const [error] = response.json().errors;
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toContain(
      'Field "x\\u001b[2J\\u202egpj.exe" is not defined by type "CreateOrderInput".',
    );
    expect([...error.message].filter((c: string) => c === '\u001b' || c === '\u202e')).toStrictEqual([]);
  });
});

describe('round trips', () => {
  const FAMILY = '👨‍👩‍👧‍👦'; // one grapheme, seven code points (ZWJ sequence)
  const TEXTS = {
    skinTones: '👋🏿 👍🏽 🧑🏻‍💻',
    rtl: 'مرحبا بالعالم — שלום',
    combining: 'Zoe\u0308 Ngu\u0303\u0301 a\u0308\u0301\u0323',
    cjk: '王小明 東京都千代田区 서울',
    separators: 'line\u2028next\u2029para',
    bom: '\ufeffstarts with a BOM',
    // One grapheme cluster of 501 code points: a base and 500 combining marks.
    longCluster: `a${'\u0301'.repeat(499)}`,
  };

  it('keeps names, notes and metadata byte-exact on REST, GraphQL and in the order event', async () => {
    const notes = Object.values(TEXTS).join(' | ');
    const address = {
      name: TEXTS.rtl,
      company: FAMILY,
      address: TEXTS.cjk,
      city: TEXTS.combining,
      country: 'JP',
    };
    const metadata = { [FAMILY]: TEXTS.skinTones, [TEXTS.rtl.slice(0, 5)]: TEXTS.bom, sep: TEXTS.separators };
    const created = await t.rest.post(
      '/api/orders',
      order({ customer_id: `${FAMILY}${TEXTS.combining}`, notes, shipping_address: address, metadata }),
    );
    expect(created.statusCode).toBe(201);
    const data = created.json().data;
    expect({
      notes: data.notes,
      address: data.shipping_address,
      metadata: data.metadata,
      customer: data.customer_id,
    }).toStrictEqual({
      notes,
      address,
      metadata,
      customer: `${FAMILY}${TEXTS.combining}`,
    });
    // Read back the other way: GraphQL gives the very same strings.
    const read = await t.gql(
      'query ($id: ID!) { order(id: $id) { customerId notes metadata shippingAddress { name company address city } } }',
      {
        id: data.id,
      },
    );
    expect(read.json().data.order).toStrictEqual({
      customerId: `${FAMILY}${TEXTS.combining}`,
      notes,
      metadata,
      shippingAddress: {
        name: address.name,
        company: address.company,
        address: address.address,
        city: address.city,
      },
    });
    // The event that leaves for NATS and webhooks carries the same text.
    const [event] = await t.db.query<{ data: string }>(
      `select data::text as data from order_events where order_id = ? and type = 'order.created'`,
      [data.id],
    );
    const payload = JSON.parse(event.data);
    expect(JSON.stringify(payload)).toContain(JSON.stringify(notes).slice(1, -1));
    expect(JSON.stringify(payload)).toContain(JSON.stringify(TEXTS.bom).slice(1, -1));
  });
});

describe('length limits, counted in characters on both transports', () => {
  const gqlOrder = (extra: Record<string, unknown>) => ({
    customerId: 'c1',
    items: [{ productId: 'p', quantity: 1, price: '5' }],
    total: '5',
    ...extra,
  });
  const CREATE = `mutation ($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { field message code } } }`;

  it('takes 5,000 emoji as notes and refuses 5,001 with the same message on REST and GraphQL', async () => {
    expect((await t.rest.post('/api/orders', order({ notes: '😀'.repeat(5000) }))).statusCode).toBe(201);
    const accepted = await t.gql(CREATE, { input: gqlOrder({ notes: '👍🏽'.repeat(2500) }) });
    expect(accepted.json().data.createOrder.userErrors).toStrictEqual([]);

    const rest = await t.rest.post('/api/orders', order({ notes: '😀'.repeat(5001) }));
    expect(rest.json().error.details).toStrictEqual([
      { field: 'notes', message: 'must be at most 5000 characters' },
    ]);
    const graphql = await t.gql(CREATE, { input: gqlOrder({ notes: '😀'.repeat(5001) }) });
    expect(graphql.json().data.createOrder.userErrors).toStrictEqual([
      { field: ['input', 'notes'], message: 'must be at most 5000 characters', code: 'VALIDATION_ERROR' },
    ]);
  });
});
