/**
 * Property-based fuzzing of both transports' create input with fast-check:
 * random JSON, valid orders with one value replaced by something nasty (wrong
 * types, huge and deeply nested values, unicode, lone surrogates, NUL, number
 * literals such as 1e308 and -0, and "NaN" or "Infinity" written as strings),
 * and raw bodies that are not JSON at all.
 *
 * Whatever is sent, the answer is 201 or a 4xx with the proper envelope
 * (REST), or data with an order or userErrors, or top-level errors with a
 * code (GraphQL) — never a 500 — and a request that is refused writes no row
 * in any table.
 *
 * The seed is fixed so that the suite is repeatable; explore with another one:
 *   FUZZ_SEED=$RANDOM npx vitest run test/http/fuzz.test.ts
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors/app-error';
import { createTestApp, type TestApp } from '../support/app';

const RUNS = { rest: { json: 250, mutated: 300, raw: 150 }, graphql: { json: 250, mutated: 300 } };
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_261_127;
/** Read by the last test of the file, which prints the total. */
const tally = { cases: 0, created: 0, refused: 0, serverErrors: 0, strayRows: 0 };

let t: TestApp;
let auth: string;
let tables: string[];

beforeAll(async () => {
  // The limits under test here are the input rules, not the rate limit.
  t = await createTestApp({ rateLimitPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000 });
  auth = await t.bearer('fuzz');
  const rows = await t.app.db.em.fork().getConnection().execute<{ table_name: string }[]>(
    `select table_name from information_schema.tables
     where table_schema = current_schema() and table_type = 'BASE TABLE'
       and table_name not in ('mikro_orm_migrations', 'api_keys', 'order_event_queue')`,
  );
  tables = rows.map((row) => row.table_name).sort();
  expect(tables).toEqual(expect.arrayContaining(['orders', 'order_items']));
});
afterAll(() => t.close());

/**
 * Rows in every table a create could write to. Left out: api_keys (using a key
 * updates its last_used_at) and order_event_queue (the relay empties it at any
 * moment; an event that was written shows in order_events).
 */
async function rowCounts(): Promise<Record<string, number>> {
  const sql = tables.map((name) => `select '${name}' as name, count(*)::int as n from "${name}"`).join(' union all ');
  const rows = await t.app.db.em.fork().getConnection().execute<{ name: string; n: number }[]>(sql);
  return Object.fromEntries(rows.map((row) => [row.name, Number(row.n)]));
}

// ---------------------------------------------------------------- values

/** JSON number literals that JSON.stringify cannot write: they are spliced into the body text as written. */
const RAW_NUMBERS = ['-0', '-0.0', '0e0', '1e308', '-1e308', '1e309', '1e-400', '5e-324', '1E2', '123456789012345678901234567890', '9007199254740993', '9.9999999999999999', '2.675', '0.1e1', '1.005'];

class Raw {
  constructor(readonly literal: string) {}
}

/** Deep nesting is written as text: as JS objects it would overflow fast-check's own reporting. */
const nestedArray = (depth: number) => new Raw('['.repeat(depth) + ']'.repeat(depth));
const nestedObject = (depth: number) => new Raw('{"a":'.repeat(depth) + '{}' + '}'.repeat(depth));

const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    0,
    -1,
    0.1,
    Number.MAX_SAFE_INTEGER,
    'NaN',
    '-NaN',
    'Infinity',
    '-Infinity',
    '1e308',
    '-0',
    '-0.00',
    '0x1F',
    ' 1 ',
    '1_000',
    '1,5',
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '٣',
    '１２',
    '\u202e\u202d',
    '🧾'.repeat(300),
    'ＵＳＤ',
    'usd',
    'XAU',
    'Ω',
    '__proto__',
    [],
    {},
    [[[]]],
    { __proto__: { admin: true } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
  ),
  fc.constantFrom(...RAW_NUMBERS).map((literal) => new Raw(literal)),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.double().map((value) => (Number.isFinite(value) ? value : String(value))),
  fc.integer(),
  fc.bigInt().map((value) => new Raw(value.toString())),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(129, 501, 5001, 70_000, 400_000).map((length) => 'x'.repeat(length)),
  fc.constantFrom(60, 501, 5000).map((length) => Array.from({ length }, () => ({ product_id: 'p', quantity: 1, price: 1 }))),
  fc.constantFrom(51, 2000).map((count) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]))),
  fc.constantFrom(20, 500, 3000).chain((depth) => fc.constantFrom(nestedArray(depth), nestedObject(depth))),
);

/** Serialises a value, writing each `Raw` literal exactly as given. */
function toJsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, inner: unknown) => {
    if (inner instanceof Raw) {
      raws.push(inner.literal);
      return `@@raw${raws.length - 1}@@`;
    }
    return inner;
  });
  return (text ?? 'null').replace(/"@@raw(\d+)@@"/g, (_match, index: string) => raws[Number(index)] ?? 'null');
}

/** Puts `value` at `path` in a deep copy of `base` (or deletes it when `value` is the DELETE marker). */
const DELETE = Symbol('delete');
function setAt(base: Record<string, unknown>, path: readonly (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let node: Record<string | number, unknown> = copy;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (value === DELETE) delete node[last];
  else if (last === '__proto__') Object.defineProperty(node, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  else node[last] = value;
  return copy;
}

const VALID_REST = {
  customer_id: 'contact_1',
  items: [
    { product_id: 'prod_1', name: 'Widget', quantity: 2, price: 99, sku: 'W-1' },
    { product_id: 'prod_2', quantity: 1, price: '29.00' },
  ],
  total: 227,
  currency: 'USD',
  shipping_address: { name: 'J', address: '1 Main St', city: 'Jakarta', postal_code: '12345', country: 'ID' },
  notes: 'n',
  metadata: { k: 'v' },
};
const REST_PATHS: (string | number)[][] = [
  ['customer_id'], ['items'], ['items', 0], ['items', 0, 'product_id'], ['items', 0, 'quantity'], ['items', 0, 'price'],
  ['items', 0, 'name'], ['items', 0, 'sku'], ['items', 1, 'price'], ['items', 2], ['total'], ['currency'], ['shipping'], ['tax'],
  ['shipping_address'], ['shipping_address', 'country'], ['shipping_address', 'postal_code'], ['billing_address'],
  ['notes'], ['metadata'], ['metadata', 'k'], ['extra'], ['items', 0, 'extra'], ['shipping_address', 'extra'], ['__proto__'], ['constructor'],
];

const VALID_GRAPHQL = {
  customerId: 'contact_1',
  items: [
    { productId: 'prod_1', name: 'Widget', quantity: 2, price: '99.00', sku: 'W-1' },
    { productId: 'prod_2', quantity: 1, price: 29 },
  ],
  total: '227.00',
  currency: 'USD',
  shippingAddress: { name: 'J', address: '1 Main St', city: 'Jakarta', postalCode: '12345', country: 'ID' },
  notes: 'n',
  metadata: { k: 'v' },
};
const GRAPHQL_PATHS: (string | number)[][] = [
  ['customerId'], ['items'], ['items', 0], ['items', 0, 'productId'], ['items', 0, 'quantity'], ['items', 0, 'price'],
  ['items', 0, 'name'], ['items', 1, 'price'], ['items', 2], ['total'], ['currency'], ['shipping'], ['tax'],
  ['shippingAddress'], ['shippingAddress', 'country'], ['shippingAddress', 'postalCode'], ['billingAddress'],
  ['notes'], ['metadata'], ['metadata', 'k'], ['extra'], ['items', 0, 'extra'], ['__proto__'],
];

const mutation = (base: Record<string, unknown>, paths: (string | number)[][]) =>
  fc.tuple(fc.constantFrom(...paths), fc.oneof({ weight: 9, arbitrary: nasty }, { weight: 1, arbitrary: fc.constant<unknown>(DELETE) }))
    .map(([path, value]) => setAt(base, path, value));

// ---------------------------------------------------------------- checks

const CODES = new Set<string>(Object.values(ErrorCode));

async function send(url: string, payload: string, extraHeaders: Record<string, string> = {}) {
  const before = await rowCounts();
  const res = await t.app.http.inject({ method: 'POST', url, headers: { authorization: auth, 'content-type': 'application/json', ...extraHeaders }, payload });
  const after = await rowCounts();
  tally.cases++;
  if (res.statusCode >= 500) tally.serverErrors++;
  return { res, before, after };
}

function expectNoRows(before: Record<string, number>, after: Record<string, number>, what: string) {
  if (JSON.stringify(before) !== JSON.stringify(after)) tally.strayRows++;
  expect(after, `rows after a refused ${what}`).toStrictEqual(before);
}

function expectOneOrder(before: Record<string, number>, after: Record<string, number>) {
  expect(after.orders).toBe((before.orders ?? 0) + 1);
  expect(after.order_items).toBeGreaterThan(before.order_items ?? 0);
}

async function checkRest(payload: string) {
  const { res, before, after } = await send('/api/orders', payload);
  expect(res.statusCode, res.body.slice(0, 500)).toBeLessThan(500);
  const body = res.json();
  if (res.statusCode === 201) {
    tally.created++;
    expect(body.success).toBe(true);
    expect(body.data.id).toMatch(/^order_/);
    expectOneOrder(before, after);
    return;
  }
  tally.refused++;
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  expect(Object.keys(body).sort()).toStrictEqual(['error', 'success']);
  expect(body.success).toBe(false);
  const { code, message, request_id: requestId, details, ...rest } = body.error;
  expect(rest).toStrictEqual({});
  expect(CODES.has(code), code).toBe(true);
  expect(code).not.toBe(ErrorCode.INTERNAL_ERROR);
  expect(typeof message).toBe('string');
  expect(requestId).toBe(res.headers['x-request-id']);
  if (details !== undefined) {
    expect(details.length).toBeGreaterThan(0);
    for (const detail of details) expect(Object.keys(detail).sort()).toStrictEqual(['field', 'message']);
  }
  expectNoRows(before, after, 'REST create');
}

const CREATE = `mutation($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id orderNumber total items { subtotal } } userErrors { field message code } }
}`;

async function checkGraphQL(variablesText: string) {
  const { res, before, after } = await send('/graphql', `{"query": ${JSON.stringify(CREATE)}, "variables": {"input": ${variablesText}}}`);
  expect(res.statusCode, res.body.slice(0, 500)).toBeLessThan(500);
  expect(res.body).not.toContain(ErrorCode.INTERNAL_ERROR);
  const body = res.json();
  if (res.statusCode === 200 && body.data?.createOrder) {
    const { order, userErrors } = body.data.createOrder;
    if (order) {
      tally.created++;
      expect(userErrors).toStrictEqual([]);
      expect(order.id).toMatch(/^order_/);
      expect(order.orderNumber).toMatch(/^ORD-\d{4}-\d{4}-\d{3,}$/);
      expectOneOrder(before, after);
      return;
    }
    tally.refused++;
    expect(userErrors.length).toBeGreaterThan(0);
    for (const error of userErrors) {
      expect(CODES.has(error.code), error.code).toBe(true);
      expect(error.field[0]).toBe('input');
    }
    expectNoRows(before, after, 'GraphQL create');
    return;
  }
  tally.refused++;
  const code = body.errors?.[0]?.extensions?.code;
  if (res.statusCode === 413 || (res.statusCode === 400 && (code === 'INVALID_JSON' || code === 'PAYLOAD_TOO_LARGE'))) {
    // Refused by the HTTP layer (body limit, unreadable JSON) before GraphQL: still a GraphQL response.
    expect(code).toMatch(/^(PAYLOAD_TOO_LARGE|INVALID_JSON)$/);
  } else {
    expect(res.statusCode).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors.length).toBeGreaterThan(0);
    for (const error of body.errors) expect(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']).toContain(error.extensions.code);
  }
  expectNoRows(before, after, 'GraphQL create');
}

// ---------------------------------------------------------------- properties

describe('REST POST /api/orders', () => {
  it('the valid base order is created', async () => {
    await checkRest(toJsonText(VALID_REST));
    expect(tally.created).toBe(1);
  });

  it('random JSON: 201 or a 4xx envelope, never 500, no rows when refused', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 6 }), nasty), async (value) => checkRest(toJsonText(value))), { numRuns: RUNS.rest.json, seed: SEED });
  });

  it('a valid order with one value replaced by a nasty one', async () => {
    await fc.assert(fc.asyncProperty(mutation(VALID_REST, REST_PATHS), async (body) => checkRest(toJsonText(body))), {
      numRuns: RUNS.rest.mutated,
      seed: SEED,
      // Always tried: text with a semicolon (the embedded driver once took it for a second SQL statement).
      examples: [[setAt(VALID_REST, ['notes'], 'gift wrap; thanks')], [setAt(VALID_REST, ['metadata', 'k'], { ';': [] })]],
    });
  });

  it('raw bodies that are not (quite) JSON', async () => {
    const raw = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('', ' ', 'null', '{', '{"a":', '[1,]', '{"a":1,}', "{'a':1}", 'NaN', '{"total": NaN}', '{"total": Infinity}', '{"total": -Infinity}', '{"total": 0x10}', '\ufeff{}', '{"a":"\\ud800"}', '{"a":"\\u0000"}'),
      fc.constantFrom(10, 10_000, 200_000).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
      fc.constantFrom(10, 10_000, 100_000).map((depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)),
      fc.constant(`{"notes": "${'x'.repeat(1024 * 1024)}"}`),
      toJsonTextArbitrary(),
    );
    await fc.assert(fc.asyncProperty(raw, async (payload) => checkRest(payload)), { numRuns: RUNS.rest.raw, seed: SEED });
  });
});

/** A valid order cut off at a random point. */
function toJsonTextArbitrary(): fc.Arbitrary<string> {
  const text = toJsonText(VALID_REST);
  return fc.integer({ min: 0, max: text.length - 1 }).map((end) => text.slice(0, end));
}

describe('GraphQL createOrder', () => {
  it('the valid base input is created', async () => {
    const created = tally.created;
    await checkGraphQL(toJsonText(VALID_GRAPHQL));
    expect(tally.created).toBe(created + 1);
  });

  it('random JSON as the input variable: data or top-level errors, never 500, no rows when refused', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 6 }), nasty), async (value) => checkGraphQL(toJsonText(value))), { numRuns: RUNS.graphql.json, seed: SEED });
  });

  it('a valid input with one value replaced by a nasty one', async () => {
    await fc.assert(fc.asyncProperty(mutation(VALID_GRAPHQL, GRAPHQL_PATHS), async (input) => checkGraphQL(toJsonText(input))), {
      numRuns: RUNS.graphql.mutated,
      seed: SEED,
      examples: [[setAt(VALID_GRAPHQL, ['notes'], 'gift wrap; thanks')]],
    });
  });
});

describe('deep nesting', () => {
  const metadataOfDepth = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

  it('a REST body nests at most 64 levels: deeper is INVALID_JSON before anything is parsed', async () => {
    // body (1) → metadata (2) → … : metadata of depth 63 makes a body of depth 64.
    const body = (depth: number) => `{"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":1}],"total":1,"metadata":${metadataOfDepth(depth)}}`;
    // 63 levels parse, and then meet the metadata rule (at most 32 levels): a 422, nothing stored.
    const parsed = await checkAndReturn(body(63));
    expect(parsed.statusCode).toBe(422);
    expect(parsed.json().error.details).toStrictEqual([
      { field: 'metadata', message: 'must not nest objects and arrays more than 32 levels deep' },
    ]);
    const deep = await checkAndReturn(body(64));
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error.message).toBe('The request body nests arrays and objects more than 64 levels deep');
  });

  it('GraphQL metadata written inline, as deep as the token limit allows, is refused without harm', async () => {
    // About 4 tokens a level: the default 2,000 tokens allow some 490 levels, well under
    // the depth that exhausts the embedded database's stack (about 850).
    const depth = 485;
    const literal = '{a: '.repeat(depth) + '{}' + ' }'.repeat(depth);
    const { res, before, after } = await send('/graphql', JSON.stringify({ query: `mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1", metadata: ${literal}}) { order { id } userErrors { code } } }` }));
    expect(res.statusCode).toBe(200);
    expect(res.json().data.createOrder).toStrictEqual({ order: null, userErrors: [{ code: 'VALIDATION_ERROR' }] });
    tally.refused++;
    expectNoRows(before, after, 'GraphQL create');
    expect(await rowCounts()).toBeDefined(); // the database still answers
  });
});

async function checkAndReturn(payload: string) {
  const { res, before, after } = await send('/api/orders', payload);
  tally.refused++;
  expectNoRows(before, after, 'REST create');
  return res;
}

describe('the whole run', () => {
  it('had no 500 and no stray row', () => {
    // Two base cases, the properties (their explicit examples count among their runs), and the three nesting cases.
    const planned = 2 + RUNS.rest.json + RUNS.rest.mutated + RUNS.rest.raw + RUNS.graphql.json + RUNS.graphql.mutated + 3;
    // Printed for the record (and the closing note).
    console.log(`fuzz: ${tally.cases} cases (${tally.created} created, ${tally.refused} refused), ${tally.serverErrors} server errors, ${tally.strayRows} stray rows`);
    expect(tally.cases).toBeGreaterThanOrEqual(planned);
    expect(tally.serverErrors).toBe(0);
    expect(tally.strayRows).toBe(0);
    expect(tally.created).toBeGreaterThan(2);
  });
});
