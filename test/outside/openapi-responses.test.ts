/**
 * Issue 10, the REST battery: every response of a battery of valid and invalid
 * requests, one or more for every status the API answers, is checked against
 * `/openapi.json` by tools we did not write:
 *
 * - the document itself by @readme/openapi-parser (OpenAPI 3.1 schema, $refs);
 * - each body by openapi-backend's response validator, for its operation and
 *   status;
 * - and here: its status must be listed for its operation (openapi-backend
 *   passes a status it has no schema for), its content type must be one the
 *   status lists, and each API header it carries must be documented there.
 *
 * Responses outside every operation (an unknown `/api` route, a method a path
 * does not serve) cannot be listed in OpenAPI; they must be the document's
 * `ErrorEnvelope` component.
 */
import { validate } from '@readme/openapi-parser';
import Ajv from 'ajv';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { OpenAPIBackend } from 'openapi-backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ErrorCode } from '../../src/errors/app-error';
import { createTestApp, type TestApp } from '../support/app';
import { withFailingOrderService } from '../support/orders';

type Doc = {
  info: { description: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object> };
};
type Operation = {
  operationId: string;
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
};

/** Headers of ours that a client reads; any of them on a response must be documented for its status. */
const API_HEADERS = [
  'x-request-id',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'retry-after',
  'location',
  'idempotent-replayed',
  'www-authenticate',
  'allow',
  'etag',
];

let t: TestApp;
let limited: TestApp;
let doc: Doc;
let api: OpenAPIBackend;
let auth: string;
let orderId: string;
let cancelledId: string;
const seen: { operationId: string; status: number }[] = [];

const ORDER = {
  customer_id: 'contact_abc123',
  items: [{ product_id: 'prod_001', name: 'Widget', quantity: 2, price: 99.0, sku: 'W-1' }],
  total: 198.0,
  shipping_address: { name: 'John Doe', city: 'Jakarta', country: 'id' },
  metadata: { source: 'battery', big: 1 },
};

function inject(app: TestApp, options: InjectOptions & { authorization?: string | null }) {
  const { authorization = auth, ...rest } = options;
  return app.app.http.inject({
    ...rest,
    headers: { ...(authorization === null ? {} : { authorization }), ...(rest.headers as Record<string, string>) },
  });
}
const json = (body: unknown) => ({
  headers: { 'content-type': 'application/json' },
  payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
});

/** Every way a response can be outside the document, as messages (empty: documented). */
function undocumented(operationId: string | null, res: LightMyRequestResponse): string[] {
  const problems: string[] = [];
  const type = String(res.headers['content-type'] ?? '').split(';')[0].trim();
  if (operationId === null) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const check = ajv.compile({ $ref: '#/components/schemas/ErrorEnvelope', components: doc.components });
    if (type !== 'application/json') problems.push(`content type ${type}`);
    if (!check(res.json())) problems.push(`body: ${ajv.errorsText(check.errors)}`);
    return problems;
  }
  const operation = Object.values(doc.paths)
    .flatMap((methods) => Object.values(methods))
    .find((candidate) => candidate.operationId === operationId)!;
  const documented = operation.responses[String(res.statusCode)];
  if (!documented) return [`status ${res.statusCode} is not listed for ${operationId}`];
  if (res.statusCode === 304) {
    // No body, and none documented.
    if (res.body !== '' || documented.content) problems.push(`a 304 with a body for ${operationId}`);
  } else {
    if (!documented.content?.[type]) problems.push(`content type ${type} is not listed for ${operationId} ${res.statusCode}`);
    const result = api.validateResponse(res.json(), operationId, res.statusCode);
    if (!result.valid) problems.push(`body: ${JSON.stringify(result.errors)}`);
  }
  // The values of the documented headers present (X-RateLimit-Limit an integer, Idempotent-Replayed "true" …).
  const headers = api.validateResponseHeaders(res.headers, operationId, { statusCode: res.statusCode });
  if (!headers.valid) problems.push(`headers: ${JSON.stringify(headers.errors)}`);
  const names = Object.keys(documented.headers ?? {}).map((name) => name.toLowerCase());
  for (const header of API_HEADERS) {
    if (res.headers[header] !== undefined && !names.includes(header)) problems.push(`header ${header} is not documented`);
  }
  return problems;
}

/** What the document says is wrong with a request (openapi-backend's request validator). */
function refusedByDocument(operationId: string, request: InjectOptions & { url: string }): unknown[] {
  const url = new URL(request.url, 'http://localhost');
  const payload = request.payload;
  const result = api.validateRequest(
    {
      method: String(request.method),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...(request.headers as Record<string, string>) },
      body: typeof payload === 'string' ? (JSON.parse(payload) as unknown) : undefined,
    },
    operationId,
  );
  return result.errors ?? [];
}

/** Sends one request of the battery, checks its status, and that the document describes the response. */
async function expectDocumented(
  operationId: string | null,
  status: number,
  request: InjectOptions & { url: string; authorization?: string | null },
  app: TestApp = t,
) {
  const res = await inject(app, request);
  expect(res.statusCode, `${request.method} ${request.url}: ${res.body}`).toBe(status);
  expect(undocumented(operationId, res), `${request.method} ${request.url} → ${status}`).toStrictEqual([]);
  // A request the server accepts, the document accepts too: it is no stricter than the server.
  if (operationId && status < 300) expect(refusedByDocument(operationId, request), `${request.method} ${request.url}`).toStrictEqual([]);
  if (operationId) seen.push({ operationId, status });
  return res;
}

/** Runs `body` with one service method failing as `error`. */
const failing = <K extends Parameters<typeof withFailingOrderService>[1]>(method: K, error: Error, body: () => Promise<unknown>) =>
  withFailingOrderService(t, method, error, body);

beforeAll(async () => {
  t = await createTestApp();
  limited = await createTestApp({ rateLimitPerMinute: 1 });
  auth = await t.bearer('battery');
  doc = (await t.app.http.inject({ method: 'GET', url: '/openapi.json' })).json();
  // quick: openapi-backend's own check of the document knows OpenAPI 3.0 only (it refuses 3.1's `const`);
  // @readme/openapi-parser checks the document below. Its response validation is plain JSON Schema.
  api = new OpenAPIBackend({ definition: structuredClone(doc) as never, quick: true, strict: true });
  await api.init();
  const created = await inject(t, { method: 'POST', url: '/api/orders', ...json(ORDER) });
  orderId = created.json<{ data: { id: string } }>().data.id;
  const cancelled = await inject(t, { method: 'POST', url: '/api/orders', ...json(ORDER) });
  cancelledId = cancelled.json<{ data: { id: string } }>().data.id;
  await inject(t, { method: 'PUT', url: `/api/orders/${cancelledId}`, ...json({ status: 'cancelled' }) });
});
afterAll(async () => {
  await t?.close();
  await limited?.close();
});

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 for @readme/openapi-parser, every $ref resolving', async () => {
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? [] : result.errors).toStrictEqual([]);
  });
});

describe('the check itself', () => {
  /** A response as inject gives it, for feeding the check what the server never sends. */
  const fake = (statusCode: number, body: unknown, headers: Record<string, string> = {}) =>
    ({
      statusCode,
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      json: () => body,
    }) as unknown as LightMyRequestResponse;

  it('fails a response whose body, status, content type or headers the document does not describe', async () => {
    const good = await inject(t, { method: 'GET', url: `/api/orders/${orderId}` });
    const body = good.json<{ data: Record<string, unknown> }>();
    expect(undocumented('getOrder', fake(200, body))).toStrictEqual([]);
    expect(undocumented('getOrder', fake(200, { ...body, data: { ...body.data, total: '227.00' } })).join()).toMatch(/body/);
    expect(undocumented('getOrder', fake(200, { ...body, data: { ...body.data, colour: 'red' } })).join()).toMatch(/body/);
    expect(undocumented('getOrder', fake(418, body))).toStrictEqual(['status 418 is not listed for getOrder']);
    expect(undocumented('getOrder', fake(409, body))).toStrictEqual(['status 409 is not listed for getOrder']);
    expect(undocumented('getOrder', fake(200, body, { 'content-type': 'text/html' })).join()).toMatch(/content type text\/html/);
    expect(undocumented('getOrder', fake(200, body, { allow: 'GET' }))).toStrictEqual(['header allow is not documented']);
    expect(undocumented('getOrder', fake(200, body, { 'x-ratelimit-limit': 'many' })).join()).toMatch(/headers:/);
    const notFound = { success: false, error: { code: 'NOT_FOUND', message: 'm', request_id: 'r' } };
    expect(undocumented('getOrder', fake(404, notFound))).toStrictEqual([]);
    expect(undocumented('getOrder', fake(404, { ...notFound, error: { ...notFound.error, code: 'TOTAL_MISMATCH' } })).join()).toMatch(/body/);
    expect(undocumented(null, fake(405, { ...notFound, error: { ...notFound.error, code: 'NO_SUCH_CODE' } })).join()).toMatch(/body/);
  });
});

describe('every response of the battery is in the document', () => {
  it('createOrder: 201, replay, and every refusal', async () => {
    const key = { 'idempotency-key': `battery-${Date.now()}` };
    const first = await expectDocumented('createOrder', 201, { method: 'POST', url: '/api/orders', ...json(ORDER), headers: { ...json(ORDER).headers, ...key } });
    const replay = await expectDocumented('createOrder', 201, { method: 'POST', url: '/api/orders', ...json(ORDER), headers: { ...json(ORDER).headers, ...key } });
    expect(first.headers.location).toBeDefined();
    // An order whose metadata holds a number a double cannot hold takes the lossless serialiser.
    const exact = await expectDocumented('createOrder', 201, { method: 'POST', url: '/api/orders', ...json(JSON.stringify(ORDER).replace('"big":1', '"big":12345678901234567890')) });
    expect(exact.body).toContain('"big":12345678901234567890');
    await expectDocumented('getOrder', 200, { method: 'GET', url: `/api/orders/${exact.json<{ data: { id: string } }>().data.id}` });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    await expectDocumented('createOrder', 422, { method: 'POST', url: '/api/orders', ...json({ ...ORDER, total: 1 }), headers: { ...json(ORDER).headers, ...key } });
    await expectDocumented('createOrder', 422, { method: 'POST', url: '/api/orders', ...json({ ...ORDER, total: 1 }) });
    await expectDocumented('createOrder', 422, { method: 'POST', url: '/api/orders', ...json({ customer_id: '', items: [], colour: 'red' }) });
    await expectDocumented('createOrder', 400, { method: 'POST', url: '/api/orders', ...json('{"customer_id":') });
    await expectDocumented('createOrder', 400, { method: 'POST', url: '/api/orders', ...json(Buffer.from([0x7b, 0xff, 0x7d])) });
    await expectDocumented('createOrder', 400, { method: 'POST', url: '/api/orders' });
    await expectDocumented('createOrder', 401, { method: 'POST', url: '/api/orders', ...json(ORDER), authorization: null });
    await expectDocumented('createOrder', 401, { method: 'POST', url: '/api/orders', ...json(ORDER), authorization: 'Bearer ogk_nope' });
    await expectDocumented('createOrder', 413, { method: 'POST', url: '/api/orders', ...json(`{"notes":"${'x'.repeat(1_100_000)}"}`) });
    await expectDocumented('createOrder', 415, { method: 'POST', url: '/api/orders', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    await expectDocumented('createOrder', 415, { method: 'POST', url: '/api/orders', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, payload: JSON.stringify(ORDER) });
    await failing('createOrderExactlyOnce', new AppError(ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS, 'in progress', [], 1), () =>
      expectDocumented('createOrder', 409, { method: 'POST', url: '/api/orders', ...json(ORDER) }),
    );
    await failing('createOrderExactlyOnce', new Error('a bug'), () =>
      expectDocumented('createOrder', 500, { method: 'POST', url: '/api/orders', ...json(ORDER) }),
    );
    await failing('createOrderExactlyOnce', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), () =>
      expectDocumented('createOrder', 503, { method: 'POST', url: '/api/orders', ...json(ORDER) }),
    );
  });

  it('listOrders: pages, filters and refusals', async () => {
    await expectDocumented('listOrders', 200, { method: 'GET', url: '/api/orders' });
    await expectDocumented('listOrders', 200, { method: 'GET', url: '/api/orders?limit=1&offset=1&status=pending&min_total=1.00' });
    await expectDocumented('listOrders', 200, { method: 'GET', url: '/api/orders?min_total=0.0001&max_total=99999.9999&from=2025-01-01&to=2030-12-31T00:00:00Z' });
    await expectDocumented('listOrders', 200, { method: 'GET', url: '/api/orders?customer_id=nobody' });
    await expectDocumented('listOrders', 200, { method: 'GET', url: '/api/orders/' });
    await expectDocumented('listOrders', 422, { method: 'GET', url: '/api/orders?limit=1000&status=lost&from=yesterday' });
    await expectDocumented('listOrders', 401, { method: 'GET', url: '/api/orders', authorization: 'Basic abc' });
  });

  it('getOrder and updateOrder', async () => {
    const read = await expectDocumented('getOrder', 200, { method: 'GET', url: `/api/orders/${orderId}` });
    await expectDocumented('getOrder', 304, { method: 'GET', url: `/api/orders/${orderId}`, headers: { 'if-none-match': String(read.headers.etag) } });
    await expectDocumented('getOrder', 404, { method: 'GET', url: '/api/orders/order_01JQ7Z8X9Y0ABCDEF123456789' });
    await expectDocumented('getOrder', 404, { method: 'GET', url: '/api/orders/%3Cscript%3E' });
    await expectDocumented('getOrder', 404, { method: 'GET', url: `/api/orders/${'x'.repeat(300)}` });
    await expectDocumented('getOrder', 401, { method: 'GET', url: `/api/orders/${orderId}`, authorization: null });
    await expectDocumented('updateOrder', 200, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({ status: 'paid', tracking_number: 'T1' }) });
    await expectDocumented('updateOrder', 200, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({}) });
    await expectDocumented('updateOrder', 404, { method: 'PUT', url: '/api/orders/order_nope', ...json({ status: 'paid' }) });
    await expectDocumented('updateOrder', 401, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({}), authorization: 'Bearer ' });
    await expectDocumented('updateOrder', 409, { method: 'PUT', url: `/api/orders/${cancelledId}`, ...json({ status: 'paid' }) });
    await expectDocumented('updateOrder', 412, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({ notes: 'x' }), headers: { 'content-type': 'application/json', 'if-match': '"v1"' } });
    await expectDocumented('updateOrder', 422, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({ status: 'lost', tracking_url: 'ftp://x' }) });
    await expectDocumented('updateOrder', 400, { method: 'PUT', url: `/api/orders/${orderId}`, ...json('[') });
    await expectDocumented('updateOrder', 400, { method: 'PUT', url: `/api/orders/${orderId}` });
    await expectDocumented('updateOrder', 415, { method: 'PUT', url: `/api/orders/${orderId}`, headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    await expectDocumented('updateOrder', 413, { method: 'PUT', url: `/api/orders/${orderId}`, ...json(`{"notes":"${'x'.repeat(1_100_000)}"}`) });
  });

  it('500 and 503 on every operation', async () => {
    const unreachable = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    for (const [status, error] of [[500, () => new Error('a bug')], [503, unreachable]] as const) {
      await failing('getOrder', error(), () => expectDocumented('getOrder', status, { method: 'GET', url: `/api/orders/${orderId}` }));
      await failing('listOrders', error(), () => expectDocumented('listOrders', status, { method: 'GET', url: '/api/orders' }));
      await failing('updateOrder', error(), () =>
        expectDocumented('updateOrder', status, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({ notes: 'n' }) }),
      );
    }
  });

  it('429 past the rate limit, with Retry-After', async () => {
    const key = await limited.bearer('battery');
    await expectDocumented('listOrders', 200, { method: 'GET', url: '/api/orders', authorization: key }, limited);
    const res = await expectDocumented('listOrders', 429, { method: 'GET', url: '/api/orders', authorization: key }, limited);
    expect(res.headers['retry-after']).toBeDefined();
    await expectDocumented('createOrder', 429, { method: 'POST', url: '/api/orders', ...json(ORDER), authorization: key }, limited);
    await expectDocumented('getOrder', 429, { method: 'GET', url: `/api/orders/${orderId}`, authorization: key }, limited);
    await expectDocumented('updateOrder', 429, { method: 'PUT', url: `/api/orders/${orderId}`, ...json({}), authorization: key }, limited);
  });

  it('outside every operation: an unknown route and a method a path does not serve are the ErrorEnvelope component', async () => {
    await expectDocumented(null, 404, { method: 'GET', url: '/api/nothing-here' });
    for (const method of ['DELETE', 'PATCH', 'POST'] as const) {
      const res = await expectDocumented(null, 405, { method, url: `/api/orders/${orderId}`, ...json({}) });
      expect(res.headers.allow).toBe('GET, HEAD, PUT');
    }
    expect(doc.info.description).toMatch(/405/);
  });

  it('a parameter value the server refuses, the document refuses too', async () => {
    // What a generated client may send: each is a 422 naming the parameter, so the document must say so.
    const refused: [string, InjectOptions & { url: string }, string][] = [
      ['listOrders', { method: 'GET', url: '/api/orders?search=' }, 'search'],
      ['listOrders', { method: 'GET', url: `/api/orders?search=${'x'.repeat(201)}` }, 'search'],
      ['listOrders', { method: 'GET', url: '/api/orders?customer_id=' }, 'customer_id'],
      ['listOrders', { method: 'GET', url: `/api/orders?customer_id=${'c'.repeat(129)}` }, 'customer_id'],
      ['listOrders', { method: 'GET', url: '/api/orders?from=' }, 'from'],
      ['listOrders', { method: 'GET', url: `/api/orders?to=2025-01-01T00:00:00.${'0'.repeat(60)}Z` }, 'to'],
      ['listOrders', { method: 'GET', url: `/api/orders?updated_since=2025-01-01T00:00:00.${'0'.repeat(60)}Z` }, 'updated_since'],
      ['listOrders', { method: 'GET', url: '/api/orders?order_number=12345' }, 'order_number'],
      ['createOrder', { method: 'POST', url: '/api/orders', ...json(ORDER), headers: { ...json(ORDER).headers, 'idempotency-key': 'two words' } }, 'idempotency_key'],
    ];
    for (const [operationId, request, field] of refused) {
      const res = await expectDocumented(operationId, 422, request);
      expect(res.json<{ error: { details: { field: string }[] } }>().error.details.map((d) => d.field), request.url).toContain(field);
      expect(refusedByDocument(operationId, request), `${request.method} ${request.url.slice(0, 80)}`).not.toStrictEqual([]);
    }
    // The same parameters at their limits are taken by both.
    const id = 'x'.repeat(200);
    for (const url of [`/api/orders?search=${id}`, `/api/orders?customer_id=${'c'.repeat(128)}`, '/api/orders?order_number=ORD-2025-0327-1234']) {
      await expectDocumented('listOrders', 200, { method: 'GET', url });
    }
  });

  it('covered every status that the document lists for every operation', () => {
    const listed = Object.values(doc.paths).flatMap((methods) =>
      Object.values(methods).flatMap((operation) =>
        Object.keys(operation.responses).map((status) => `${operation.operationId} ${status}`),
      ),
    );
    const covered = new Set(seen.map(({ operationId, status }) => `${operationId} ${status}`));
    const missing = listed.filter((entry) => !covered.has(entry));
    expect(missing).toStrictEqual([]);
  });
});
