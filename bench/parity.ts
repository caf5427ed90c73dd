/** Parity: the gateway and the baseline answer the benchmark's request and its bad variants alike. */
import { randomBytes } from 'node:crypto';
import { GRAPHQL_BODY, REST_BODY, type Target, call, recordCreated } from './load';

// ---------------------------------------------------------------------------
// Parity: the gateway and the baseline answer the benchmark's request and its bad variants alike

export interface ParityCase {
  name: string;
  body?: string;
  auth?: 'none' | 'unknown';
  contentType?: string;
  expect: { status: number; code?: string };
}

export const PARITY_CASES: ParityCase[] = [
  { name: 'the benchmark request', body: REST_BODY('contact_abc123'), expect: { status: 201 } },
  {
    name: 'JPY, lower-case code, whole amounts',
    body: REST_BODY('contact_abc123')
      .replace('"price":99.00', '"price":99')
      .replace('"price":29.00', '"price":29')
      .replace('"total":227.00', '"total":227')
      .replace('"USD"', '"jpy"'),
    expect: { status: 201 },
  },
  {
    name: 'KWD with 3 decimals',
    body: REST_BODY('contact_abc123')
      .replace('"price":99.00', '"price":99.005')
      .replace('"total":227.00', '"total":"227.010"')
      .replace('"USD"', '"KWD"'),
    expect: { status: 201 },
  },
  {
    name: 'price with 3 decimals in USD',
    body: REST_BODY('c').replace('"price":99.00', '"price":99.001'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'price 1.5 in JPY',
    body: REST_BODY('c')
      .replace('"price":99.00', '"price":99.5')
      .replace('"total":227.00', '"total":228')
      .replace('"USD"', '"JPY"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'price past double precision',
    body: REST_BODY('c').replace('"price":99.00', '"price":98.9999999999999999'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'negative price string',
    body: REST_BODY('c').replace('"price":99.00', '"price":"-1"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'total off by a cent',
    body: REST_BODY('c').replace('"total":227.00', '"total":226.99'),
    expect: { status: 422, code: 'TOTAL_MISMATCH' },
  },
  {
    name: 'unknown top-level field',
    body: REST_BODY('c', ',"coupon":"X"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown item field',
    body: REST_BODY('c').replace('"sku":"WGT-PRE"', '"sku":"WGT-PRE","color":"red"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown address field',
    body: REST_BODY('c').replace('"city":"Jakarta"', '"city":"Jakarta","zip":"1"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  { name: 'empty customer_id', body: REST_BODY(''), expect: { status: 422, code: 'VALIDATION_ERROR' } },
  {
    name: 'missing customer_id',
    body: REST_BODY('c').replace('"customer_id":"c",', ''),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'quantity 0',
    body: REST_BODY('c').replace('"quantity":2', '"quantity":0'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'quantity 1.5',
    body: REST_BODY('c').replace('"quantity":2', '"quantity":1.5'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'quantity as a string',
    body: REST_BODY('c').replace('"quantity":2', '"quantity":"2"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'no items',
    body: '{"customer_id":"c","items":[],"total":0}',
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown currency',
    body: REST_BODY('c').replace('"USD"', '"ABC"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'unknown country',
    body: REST_BODY('c').replace('"country":"ID"', '"country":"XX"'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'NUL in notes',
    body: REST_BODY('c').replace('gift wrap', 'gift\\u0000wrap'),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  {
    name: 'notes over 5000 characters',
    body: REST_BODY('c').replace('Please gift wrap this order', 'x'.repeat(5001)),
    expect: { status: 422, code: 'VALIDATION_ERROR' },
  },
  { name: 'body not JSON', body: '{"customer_id":', expect: { status: 400, code: 'INVALID_JSON' } },
  { name: 'body not an object', body: '[1]', expect: { status: 422, code: 'VALIDATION_ERROR' } },
  {
    name: 'not application/json',
    body: REST_BODY('c'),
    contentType: 'text/plain',
    expect: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  },
  { name: 'no key', body: REST_BODY('c'), auth: 'none', expect: { status: 401, code: 'UNAUTHORIZED' } },
  {
    name: 'unknown key',
    body: REST_BODY('c'),
    auth: 'unknown',
    expect: { status: 401, code: 'UNAUTHORIZED' },
  },
  {
    name: 'unknown key and a bad body',
    body: REST_BODY('c', ',"coupon":"X"'),
    auth: 'unknown',
    expect: { status: 401, code: 'UNAUTHORIZED' },
  },
];

/** Drops what differs between any two creates of the same request. */
export function comparable(data: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
  for (const key of ['id', 'order_number', 'created_at', 'updated_at']) delete copy[key];
  for (const change of (copy.status_history as Record<string, unknown>[] | undefined) ?? [])
    delete change.timestamp;
  return copy;
}

export const sameJson = (a: unknown, b: unknown) =>
  JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

export interface ParityResult {
  case: string;
  expected: string;
  got: Record<string, string>;
  ok: boolean;
}

export async function checkParity(
  targets: Target[],
  auth: string,
): Promise<{ cases: ParityResult[]; notes: string[]; ok: boolean }> {
  const unknownKey = `Bearer ogk_${randomBytes(32).toString('base64url')}`;
  const cases: ParityResult[] = [];
  const notes: string[] = [];
  const created: Record<string, Record<string, unknown>> = {};
  for (const test of PARITY_CASES) {
    const got: Record<string, string> = {};
    let ok = true;
    const bodies: Record<string, unknown> = {};
    for (const target of targets) {
      const response = await call(target.server, 'POST', '/api/orders', {
        body: test.body,
        contentType: test.contentType,
        auth: test.auth === 'none' ? null : test.auth === 'unknown' ? unknownKey : auth,
      });
      if (response.status >= 200 && response.status < 300) recordCreated(response.text);
      got[target.name] = `${response.status}${response.code ? ` ${response.code}` : ''}`;
      if (
        response.status !== test.expect.status ||
        (test.expect.code !== undefined && response.code !== test.expect.code)
      )
        ok = false;
      if (!response.headers.get('x-request-id')) {
        ok = false;
        notes.push(`${target.name}: no X-Request-Id on "${test.name}"`);
      }
      bodies[target.name] = (response.body as { data?: unknown }).data;
      if (test.expect.status === 201 && test.name === 'the benchmark request')
        created[target.name] = bodies[target.name] as Record<string, unknown>;
    }
    if (
      ok &&
      test.expect.status === 201 &&
      targets.length > 1 &&
      !sameJson(comparable(bodies.gateway), comparable(bodies.baseline))
    ) {
      ok = false;
      notes.push(
        `"${test.name}": the gateway and the baseline return different orders:\n  gateway  ${JSON.stringify(comparable(bodies.gateway))}\n  baseline ${JSON.stringify(comparable(bodies.baseline))}`,
      );
    }
    const expected = `${test.expect.status}${test.expect.code ? ` ${test.expect.code}` : ''}`;
    cases.push({ case: test.name, expected, got, ok });
  }

  // Each reads the other's order back exactly as it was created: same rows, same representation.
  for (const writer of targets) {
    const order = created[writer.name];
    if (!order) continue;
    for (const reader of targets) {
      const response = await call(reader.server, 'GET', `/api/orders/${String(order.id)}`, { auth });
      const ok = response.status === 200 && sameJson((response.body as { data?: unknown }).data, order);
      cases.push({
        case: `GET of the ${writer.name}'s order`,
        expected: '200, same order',
        got: { [reader.name]: `${response.status}${ok ? ', same order' : ', different'}` },
        ok,
      });
      if (!ok)
        notes.push(
          `${reader.name} GET of ${writer.name}'s order differs:\n  created ${JSON.stringify(order)}\n  read    ${JSON.stringify(response.body)}`,
        );
    }
  }

  // GraphQL: the benchmark mutation creates an order; a bad price is a userError, not an order.
  const gateway = targets.find((target) => target.name === 'gateway') as Target;
  for (const [name, price, expectOrder] of [
    ['GraphQL createOrder', '99.00', true],
    ['GraphQL createOrder, price with 3 decimals', '99.001', false],
  ] as const) {
    const response = await call(gateway.server, 'POST', '/graphql', { body: GRAPHQL_BODY(price), auth });
    const payload = (
      response.body as {
        data?: { createOrder?: { order: { orderNumber?: string } | null; userErrors: { code: string }[] } };
      }
    )?.data?.createOrder;
    const hasOrder = Boolean(payload?.order?.orderNumber);
    if (hasOrder) recordCreated(response.text);
    const summary = `${response.status} ${hasOrder ? 'order' : `userErrors ${payload?.userErrors.map((error) => error.code).join(',') ?? JSON.stringify(response.body).slice(0, 200)}`}`;
    const ok =
      response.status === 200 &&
      hasOrder === expectOrder &&
      (expectOrder || payload?.userErrors[0]?.code === 'VALIDATION_ERROR');
    cases.push({
      case: name,
      expected: expectOrder ? '200 order' : '200 userErrors VALIDATION_ERROR',
      got: { gateway: summary },
      ok,
    });
  }
  return { cases, notes, ok: cases.every((entry) => entry.ok) };
}
