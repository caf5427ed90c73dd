/**
 * The API governance gate: the served `/openapi.json` against the document older callers were
 * written against (test/fixtures/openapi/cekat-orders.openapi.json, written from the Cekat Create
 * Order document and the contract's summary of list, get and update).
 *
 * 1. Breaking changes, found with tools we did not write: both documents are dereferenced by
 *    @apidevtools/swagger-parser, and each request and response schema is compared property by
 *    property with json-schema-diff (the engine of Atlassian's openapi-diff, whose own front end
 *    refuses OpenAPI 3.1). A request schema that accepts less than before, or a response schema
 *    that can answer more than before, is a breaking change; so is a removed path, method,
 *    parameter, status, content type or response header, and a newly required parameter or field.
 *    json-schema-diff does not compare `enum`, `const`, `pattern` or `format`, so those are
 *    compared here, leaf by leaf. Every breaking change must be listed in ACCEPTED with its reason.
 * 2. Real responses, success and every error an operation can answer, are validated with Ajv in
 *    strict mode (with ajv-formats: `date-time` is checked) against the old document, as an old
 *    caller reads them, and against the served one: status, content type, body, and the headers
 *    each document marks required.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { diffSchemas } from 'json-schema-diff';
import fs from 'node:fs';
import path from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ErrorCode } from '../../src/errors/app-error';
import { createTestApp, type TestApp } from '../support/app';
import { withFailingOrderService } from '../support/orders';

type Schema = Record<string, unknown> & {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  allOf?: Schema[];
};
type Header = { required?: boolean; schema?: Schema };
type Response = { headers?: Record<string, Header>; content?: Record<string, { schema: Schema }> };
type Parameter = { name: string; in: string; required?: boolean; schema: Schema };
type Operation = {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, Response>;
};
type Doc = { paths: Record<string, Record<string, Operation>> };

const BASELINE = path.join(__dirname, '..', 'fixtures', 'openapi', 'cekat-orders.openapi.json');

/**
 * Breaking changes against the old document that the contract (orders-api.md) asks for, each with
 * its reason. A new breaking change fails the gate until it is fixed or judged and listed here.
 */
const ACCEPTED: Record<string, string> = {
  // §2: "Unknown fields (top level, item or address) are rejected with the field named".
  'createOrder request: closed to unknown properties': '§2 rejects unknown fields',
  'createOrder request items[]: closed to unknown properties': '§2 rejects unknown fields',
  // The old document said only "object"; §2 names the Address fields, each at most 500 characters.
  'createOrder request shipping_address: accepts less': '§2: the Address fields only, each ≤ 500 characters',
  'createOrder request billing_address: accepts less': '§2: the Address fields only, each ≤ 500 characters',
  'updateOrder request: closed to unknown properties': '§2 rejects unknown fields (update too)',
  'updateOrder request shipping_address: accepts less': '§2: the Address fields only, each ≤ 500 characters',
  // §2's field table: lengths, counts and ranges.
  'createOrder request customer_id: accepts less': '§2: 1–128 characters',
  'createOrder request customer_id: pattern added': 'a customer id of spaces only is no contact id',
  'createOrder request items: accepts less': '§2: 1–500 items',
  'createOrder request items[].product_id: accepts less': '§2: 1–128 characters',
  'createOrder request items[].product_id: pattern added': 'a product id of spaces only names no product',
  'createOrder request items[].name: accepts less': '§2: at most 500 characters',
  'createOrder request items[].sku: accepts less': '§2: at most 128 characters',
  'createOrder request items[].quantity: accepts less': '§2: 1 … 1,000,000',
  'createOrder request items[].price: accepts less': '§2: ≥ 0 (a number; a decimal string is accepted besides)',
  'createOrder request total: accepts less': '§2: ≥ 0 (a number; a decimal string is accepted besides)',
  'createOrder request currency: pattern added': '§2: an ISO 4217 code',
  'createOrder request notes: accepts less': '§2: at most 5,000 characters',
  'createOrder request metadata: accepts less': '§2: at most 50 keys',
  'updateOrder request tracking_number: accepts less': 'a tracking number is at most 255 characters',
  'updateOrder request tracking_url: accepts less': 'a URL is at most 2,048 characters (and http or https)',
  'updateOrder request notes: accepts less': '§2: at most 5,000 characters',
  'updateOrder request metadata: accepts less': '§2: at most 50 keys',
  // §6: "1–255 visible ASCII chars".
  'createOrder parameter header Idempotency-Key: pattern added': '§6: visible ASCII characters only',
  // §3: "limit (default 50, max 100)"; the other bounds are the service's own.
  'listOrders parameter query customer_id: accepts less': 'as create: 1–128 characters',
  'listOrders parameter query from: accepts less': 'a date or date-time is at most 64 characters',
  'listOrders parameter query to: accepts less': 'a date or date-time is at most 64 characters',
  'listOrders parameter query search: accepts less': 'a search text is 1–200 characters',
  'listOrders parameter query offset: accepts less': 'an offset is at most 10^9',
  // A number in the old document: any number's text is taken (1e2 too), but a total is never negative.
  'listOrders parameter query min_total: accepts less': 'a total is never negative: a negative bound is a 422',
  'listOrders parameter query max_total: accepts less': 'a total is never negative: a negative bound is a 422',
  // §7 puts the rate limit's headers on every response. A 503 of load shedding refuses before the
  // limiter counts (its counters may be in Redis, the very work shedding avoids), so it has none;
  // the document says so, and Retry-After tells the caller when to come back.
  ...Object.fromEntries(
    ['createOrder', 'getOrder', 'listOrders', 'updateOrder'].flatMap((operation) =>
      ['X-RateLimit-Limit', 'X-RateLimit-Remaining'].map((name) => [
        `${operation} 503 header ${name}: no longer always sent`,
        'a load-shedding 503 refuses before the rate limiter counts',
      ]),
    ),
  ),
};

let t: TestApp;
let limited: TestApp;
let auth: string;
let baseline: Doc;
let served: Doc;
let servedRaw: Doc;

beforeAll(async () => {
  t = await createTestApp();
  limited = await createTestApp({ rateLimitPerMinute: 1 });
  auth = await t.bearer('governance');
  servedRaw = (await t.app.http.inject({ method: 'GET', url: '/openapi.json' })).json();
  baseline = (await SwaggerParser.dereference(JSON.parse(fs.readFileSync(BASELINE, 'utf8')))) as unknown as Doc;
  served = (await SwaggerParser.dereference(structuredClone(servedRaw) as never)) as unknown as Doc;
});
afterAll(async () => {
  await t?.close();
  await limited?.close();
});

// ---------------------------------------------------------------------------------------------
// 1. Breaking changes
// ---------------------------------------------------------------------------------------------

/** A schema without the parts json-schema-diff cannot read (annotations, and `const` as `enum`). */
function plain(schema: Schema): Schema {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) =>
      ['description', 'title', 'examples', 'example', 'default'].includes(key) ? undefined : value,
    ),
  ) as Schema;
}
const types = (schema: Schema): string[] =>
  schema.type === undefined ? [] : ([] as string[]).concat(schema.type);
const isObject = (schema: Schema) => types(schema).includes('object') && schema.properties !== undefined;
const isArrayOfObjects = (schema: Schema) => types(schema).includes('array') && schema.items !== undefined && isObject(schema.items);
/** `allOf: [{$ref}]` with a narrowed `enum` beside it (how the served document narrows error codes), as one schema. */
function merged(schema: Schema): Schema {
  if (!schema.allOf) return schema;
  const { allOf, ...rest } = schema;
  return Object.assign({}, ...allOf.map(merged), rest) as Schema;
}
const leafValues = (schema: Schema): unknown[] | undefined =>
  schema.const !== undefined ? [schema.const] : schema.enum;

/**
 * The breaking changes between two schemas of one place, property by property. `side` says which
 * way breaks: a request must accept at least what it accepted, a response may answer no more.
 */
async function compare(where: string, before: Schema, after: Schema, side: 'request' | 'response', root = false): Promise<string[]> {
  before = merged(before);
  after = merged(after);
  const found: string[] = [];
  if (isObject(before) && isObject(after)) {
    if (side === 'request' && before.additionalProperties !== false && after.additionalProperties === false)
      found.push(`${where}: closed to unknown properties`);
    const beforeRequired = new Set(before.required ?? []);
    const afterRequired = new Set(after.required ?? []);
    for (const [name, property] of Object.entries(before.properties!)) {
      const place = root ? `${where} ${name}` : `${where}.${name}`;
      const now = after.properties![name];
      if (!now) {
        found.push(`${place}: removed`);
        continue;
      }
      if (side === 'request' && !beforeRequired.has(name) && afterRequired.has(name)) found.push(`${place}: newly required`);
      if (side === 'response' && beforeRequired.has(name) && !afterRequired.has(name)) found.push(`${place}: no longer always sent`);
      found.push(...(await compare(place, property, now, side)));
    }
    return found;
  }
  if (isArrayOfObjects(before) && isArrayOfObjects(after)) {
    const shell = (schema: Schema) => ({ ...plain(schema), items: {} });
    found.push(...(await leaf(where, shell(before), shell(after), side)));
    found.push(...(await compare(`${where}[]`, before.items!, after.items!, side)));
    return found;
  }
  return leaf(where, before, after, side);
}

/** One value's schema: json-schema-diff for types and bounds, and the keywords it does not read. */
async function leaf(where: string, before: Schema, after: Schema, side: 'request' | 'response'): Promise<string[]> {
  const found: string[] = [];
  const result = await diffSchemas({ sourceSchema: plain(before) as never, destinationSchema: plain(after) as never });
  if (side === 'request' && result.removalsFound) found.push(`${where}: accepts less`);
  if (side === 'response' && result.additionsFound) found.push(`${where}: answers more`);
  const valuesBefore = leafValues(before);
  const valuesAfter = leafValues(after);
  if (side === 'request' && valuesAfter && !(valuesBefore ?? []).every((v) => valuesAfter.includes(v)))
    found.push(`${where}: enum narrowed`);
  if (side === 'request' && !valuesBefore && valuesAfter) found.push(`${where}: enum added`);
  if (side === 'response' && valuesAfter && (!valuesBefore || !valuesAfter.every((v) => valuesBefore.includes(v))))
    found.push(`${where}: enum widened`);
  // Both apply to strings only: a pattern beside a number the old document typed does not narrow it.
  const tookStrings = types(before).length === 0 || types(before).includes('string');
  for (const keyword of ['pattern', 'format'] as const) {
    if (!tookStrings || after[keyword] === undefined || after[keyword] === before[keyword]) continue;
    if (side === 'request') found.push(`${where}: ${keyword} ${before[keyword] === undefined ? 'added' : 'changed'}`);
  }
  if (side === 'response' && before.format !== undefined && after.format !== before.format)
    found.push(`${where}: format ${after.format === undefined ? 'removed' : 'changed'}`);
  return found;
}

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([url, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ url, method, operation })),
  );

/** Every breaking change from `before` to `after`, as `"<operationId> <place>: <what>"`. */
async function breakingChanges(before: Doc, after: Doc): Promise<string[]> {
  const found: string[] = [];
  for (const { url, method, operation } of operations(before)) {
    const id = operation.operationId;
    const now = after.paths[url]?.[method];
    if (!now) {
      found.push(`${id}: ${method.toUpperCase()} ${url} removed`);
      continue;
    }
    // Header names are case-insensitive (RFC 9110 §5.1).
    const key = (p: Parameter) => `${p.in} ${p.in === 'header' ? p.name.toLowerCase() : p.name}`;
    const nowParameters = new Map((now.parameters ?? []).map((p) => [key(p), p]));
    for (const parameter of operation.parameters ?? []) {
      const where = `${id} parameter ${parameter.in} ${parameter.name}`;
      const current = nowParameters.get(key(parameter));
      if (!current) found.push(`${where}: removed`);
      else {
        if (!parameter.required && current.required) found.push(`${where}: newly required`);
        found.push(...(await compare(where, parameter.schema, current.schema, 'request')));
      }
    }
    const oldNames = new Set((operation.parameters ?? []).map(key));
    for (const parameter of now.parameters ?? [])
      if (parameter.required && !oldNames.has(key(parameter))) found.push(`${id} parameter ${parameter.in} ${parameter.name}: added, required`);
    if (operation.requestBody) {
      for (const [type, media] of Object.entries(operation.requestBody.content)) {
        const current = now.requestBody?.content[type];
        if (!current) found.push(`${id} request ${type}: no longer accepted`);
        else found.push(...(await compare(`${id} request`, media.schema, current.schema, 'request', true)));
      }
    } else if (now.requestBody?.required) found.push(`${id} request: body newly required`);
    for (const [status, response] of Object.entries(operation.responses)) {
      const current = now.responses[status];
      if (!current) {
        found.push(`${id} ${status}: removed`);
        continue;
      }
      const currentHeaders = Object.fromEntries(Object.entries(current.headers ?? {}).map(([n, h]) => [n.toLowerCase(), h]));
      for (const [name, header] of Object.entries(response.headers ?? {})) {
        const now = currentHeaders[name.toLowerCase()];
        if (!now) found.push(`${id} ${status} header ${name}: removed`);
        else if (header.required && !now.required) found.push(`${id} ${status} header ${name}: no longer always sent`);
      }
      for (const [type, media] of Object.entries(response.content ?? {})) {
        const currentMedia = current.content?.[type];
        if (!currentMedia) found.push(`${id} ${status} ${type}: removed`);
        else found.push(...(await compare(`${id} ${status} response`, media.schema, currentMedia.schema, 'response', true)));
      }
    }
  }
  return found;
}

describe('the served OpenAPI document against the one older callers were written against', () => {
  it('has no breaking change but the accepted ones, and each accepted one is still there', async () => {
    const changes = [...new Set(await breakingChanges(baseline, served))].sort();
    expect(changes.filter((change) => !(change in ACCEPTED))).toStrictEqual([]);
    // An accepted difference that has gone (fixed, or the document changed) is taken off the list.
    expect(Object.keys(ACCEPTED).filter((change) => !changes.includes(change))).toStrictEqual([]);
  }, 60_000);

  it('the gate can fail: each kind of breaking change is found', async () => {
    const broken = structuredClone(served);
    const list = broken.paths['/api/orders'].get;
    list.parameters = list.parameters!.filter((p) => p.name !== 'search');
    list.parameters.find((p) => p.name === 'status')!.schema.enum = ['pending', 'paid'];
    list.parameters.push({ name: 'tenant', in: 'query', required: true, schema: { type: 'string' } });
    const create = broken.paths['/api/orders'].post;
    const request = create.requestBody!.content['application/json'].schema;
    request.required = [...request.required!, 'currency'];
    request.properties!.items.items!.properties!.quantity = { type: 'string' };
    const order = create.responses['201'].content!['application/json'].schema.properties!.data;
    order.required = order.required!.filter((name) => name !== 'order_number');
    order.properties!.created_at = { type: 'string' };
    order.properties!.total = { type: ['number', 'string'] };
    delete create.responses['201'].headers!.Location;
    delete create.responses['415'];
    delete broken.paths['/api/orders/{id}'].put;
    const changes = await breakingChanges(baseline, broken);
    expect(changes).toEqual(
      expect.arrayContaining([
        'listOrders parameter query search: removed',
        'listOrders parameter query status: enum narrowed',
        'listOrders parameter query tenant: added, required',
        'createOrder request currency: newly required',
        'createOrder request items[].quantity: accepts less',
        'createOrder 201 response data.order_number: no longer always sent',
        'createOrder 201 response data.created_at: format removed',
        'createOrder 201 response data.total: answers more',
        'createOrder 201 header Location: removed',
        'createOrder 415: removed',
        'updateOrder: PUT /api/orders/{id} removed',
      ]),
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// 2. Real responses, read by both documents with Ajv in strict mode
// ---------------------------------------------------------------------------------------------

/** Statuses the old document did not list, which the contract adds, with the reason. */
const NEW_STATUSES: Record<string, string> = {
  'updateOrder 412': 'an If-Match naming an entity tag the order is no longer at (RFC 9110 §13.1.1)',
  'getOrder 304': 'an If-None-Match naming the order’s current entity tag (RFC 9110 §13.1.2); sent only to a caller that sends one',
};

const strictAjv = () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
};
/** Header values are text; the documents type some as integers. */
const headerAjv = () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true, coerceTypes: true });
  addFormats(ajv);
  return ajv;
};

function operationById(doc: Doc, operationId: string): Operation {
  return operations(doc).find(({ operation }) => operation.operationId === operationId)!.operation;
}

/** What `doc` says is wrong with `res` as an answer of `operationId` (empty: it describes it). */
function againstDocument(doc: Doc, operationId: string, res: LightMyRequestResponse): string[] {
  const response = operationById(doc, operationId).responses[String(res.statusCode)];
  if (!response) return [`status ${res.statusCode} is not listed`];
  const problems: string[] = [];
  const [essence, ...parameters] = String(res.headers['content-type'] ?? '').split(';').map((part) => part.trim().toLowerCase());
  const media = response.content?.[essence];
  // A 304 has no body, and its description no content.
  if (res.statusCode === 304) {
    if (res.body !== '' || response.content) problems.push('a 304 with a body');
  } else if (!media) problems.push(`content type ${essence} is not listed`);
  else {
    // Request and response bodies are UTF-8 (orders-api.md §8), and the answer says so.
    if (!parameters.includes('charset=utf-8')) problems.push(`content type without charset=utf-8: ${String(res.headers['content-type'])}`);
    const check = strictAjv().compile(structuredClone(media.schema));
    if (!check(res.json())) problems.push(`body: ${strictAjv().errorsText(check.errors)}`);
  }
  const headers = Object.entries(response.headers ?? {});
  const check = headerAjv().compile({
    type: 'object',
    properties: Object.fromEntries(headers.map(([name, header]) => [name.toLowerCase(), structuredClone(header.schema ?? {})])),
    required: headers.filter(([, header]) => header.required).map(([name]) => name.toLowerCase()),
  });
  const sent = Object.fromEntries(Object.entries(res.headers).map(([name, value]) => [name.toLowerCase(), value]));
  if (!check(sent)) problems.push(`headers: ${headerAjv().errorsText(check.errors)}`);
  return problems;
}

const ORDER = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'cekat-create-order.json'), 'utf8')).request as Record<string, unknown>;
const seen = new Set<string>();

function send(options: InjectOptions & { authorization?: string | null }, app: TestApp = t) {
  const { authorization = auth, ...rest } = options;
  return app.app.http.inject({
    ...rest,
    headers: { ...(authorization === null ? {} : { authorization }), ...(rest.headers as Record<string, string>) },
  });
}
const body = (value: unknown) => ({
  headers: { 'content-type': 'application/json' },
  payload: typeof value === 'string' ? value : JSON.stringify(value),
});

/** Sends a request; its answer must have `status`, and both documents must describe it. */
async function expectDescribed(
  operationId: string,
  status: number,
  request: InjectOptions & { authorization?: string | null },
  app: TestApp = t,
) {
  const res = await send(request, app);
  expect(res.statusCode, `${String(request.method)} ${JSON.stringify(request.url)}: ${res.body.slice(0, 300)}`).toBe(status);
  expect(againstDocument(served, operationId, res), `served document, ${operationId} ${status}`).toStrictEqual([]);
  if (!(`${operationId} ${status}` in NEW_STATUSES))
    expect(againstDocument(baseline, operationId, res), `old document, ${operationId} ${status}`).toStrictEqual([]);
  seen.add(`${operationId} ${status}`);
  return res;
}

describe('real answers, as an old caller and as the served document read them (Ajv strict)', () => {
  let id: string;

  it('the check can fail: a body, a status, a content type or a header neither document describes', async () => {
    const res = await send({ method: 'GET', url: '/api/orders' });
    const fake = (statusCode: number, json: unknown, headers: Record<string, unknown> = res.headers) =>
      ({ statusCode, headers, json: () => json }) as unknown as LightMyRequestResponse;
    const page = res.json<{ data: Record<string, unknown>[] }>();
    expect(againstDocument(served, 'listOrders', fake(200, page))).toStrictEqual([]);
    expect(againstDocument(served, 'listOrders', fake(200, { ...page, data: [{ id: 1 }] })).join()).toMatch(/body/);
    expect(againstDocument(baseline, 'listOrders', fake(200, { ...page, success: 'yes' })).join()).toMatch(/body/);
    expect(againstDocument(served, 'listOrders', fake(418, page))).toStrictEqual(['status 418 is not listed']);
    expect(againstDocument(served, 'listOrders', fake(200, page, { ...res.headers, 'content-type': 'text/html' })).join()).toMatch(/content type text\/html/);
    expect(againstDocument(served, 'listOrders', fake(200, page, { ...res.headers, 'content-type': 'application/json' })).join()).toMatch(/charset/);
    const { 'x-ratelimit-limit': _dropped, ...fewer } = res.headers;
    expect(againstDocument(baseline, 'listOrders', fake(200, page, fewer)).join()).toMatch(/x-ratelimit-limit/);
    expect(againstDocument(served, 'listOrders', fake(200, page, { ...res.headers, 'x-ratelimit-remaining': 'many' })).join()).toMatch(/headers/);
  });

  it('createOrder: what the Cekat document sends, and each refusal', async () => {
    const created = await expectDescribed('createOrder', 201, { method: 'POST', url: '/api/orders', ...body(ORDER), headers: { 'content-type': 'application/json', 'idempotency-key': 'governance-1' } });
    id = created.json<{ data: { id: string } }>().data.id;
    expect(created.headers.location).toBe(`/api/orders/${id}`);
    // The Cekat document's JavaScript example, as written there.
    await expectDescribed('createOrder', 201, { method: 'POST', url: '/api/orders', ...body({ customer_id: 'contact_abc123', items: [{ product_id: 'prod_001', name: 'Widget', quantity: 1, price: 99.0 }], total: 99.0, currency: 'USD' }) });
    await expectDescribed('createOrder', 422, { method: 'POST', url: '/api/orders', ...body({ ...ORDER, total: 1 }) });
    await expectDescribed('createOrder', 422, { method: 'POST', url: '/api/orders', ...body({ ...ORDER, notes: 'other' }), headers: { 'content-type': 'application/json', 'idempotency-key': 'governance-1' } });
    await expectDescribed('createOrder', 400, { method: 'POST', url: '/api/orders', ...body('{"customer_id"') });
    await expectDescribed('createOrder', 401, { method: 'POST', url: '/api/orders', ...body(ORDER), authorization: null });
    await expectDescribed('createOrder', 413, { method: 'POST', url: '/api/orders', ...body(`{"notes":"${'x'.repeat(1_100_000)}"}`) });
    await expectDescribed('createOrder', 415, { method: 'POST', url: '/api/orders', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
  });

  it('listOrders: every parameter of the old document, numbers written as numbers', async () => {
    await expectDescribed('listOrders', 200, { method: 'GET', url: '/api/orders' });
    const query = new URLSearchParams({ customer_id: 'contact_abc123', status: 'pending', from: '2020-01-01', to: '2099-12-31T23:59:59Z', min_total: '227', max_total: '227.00', search: 'gift', limit: '100', offset: '0' });
    const page = await expectDescribed('listOrders', 200, { method: 'GET', url: `/api/orders?${query.toString()}` });
    expect(page.json<{ data: { id: string }[] }>().data.map((order) => order.id)).toContain(id);
    // `number` in the old document: a number's text, also with an exponent, as JSON and clients write it.
    // Java's Double.toString writes ten million as 1.0E7; Python's str writes 0.00001 as 1e-05.
    for (const [min, max] of [['2.27e2', '2.27E+2'], ['1e2', '1.0E7'], ['1e-05', '22700e-2']]) {
      const res = await expectDescribed('listOrders', 200, { method: 'GET', url: `/api/orders?${new URLSearchParams({ customer_id: 'contact_abc123', min_total: min, max_total: max }).toString()}` });
      expect(res.json<{ data: { id: string }[] }>().data.map((order) => order.id), `${min} … ${max}`).toContain(id);
    }
    await expectDescribed('listOrders', 200, { method: 'GET', url: '/api/orders?min_total=1e3' }).then((res) =>
      expect(res.json<{ data: unknown[] }>().data).toStrictEqual([]),
    );
    await expectDescribed('listOrders', 422, { method: 'GET', url: '/api/orders?min_total=-1' });
    await expectDescribed('listOrders', 422, { method: 'GET', url: '/api/orders?max_total=1e99' });
    await expectDescribed('listOrders', 422, { method: 'GET', url: '/api/orders?limit=101' });
    await expectDescribed('listOrders', 401, { method: 'GET', url: '/api/orders', authorization: 'Bearer ogk_nope' });
  });

  it('getOrder and updateOrder', async () => {
    const read = await expectDescribed('getOrder', 200, { method: 'GET', url: `/api/orders/${id}` });
    await expectDescribed('getOrder', 304, { method: 'GET', url: `/api/orders/${id}`, headers: { 'if-none-match': String(read.headers.etag) } });
    await expectDescribed('getOrder', 404, { method: 'GET', url: '/api/orders/order_nope' });
    await expectDescribed('getOrder', 401, { method: 'GET', url: `/api/orders/${id}`, authorization: null });
    for (const status of ['paid', 'processing', 'shipped', 'delivered', 'refunded'])
      await expectDescribed('updateOrder', 200, { method: 'PUT', url: `/api/orders/${id}`, ...body({ status, tracking_number: 'TRK-1', tracking_url: 'https://track.example/1', notes: 'n', metadata: { a: 1 }, shipping_address: { city: 'Bandung' } }) });
    await expectDescribed('updateOrder', 409, { method: 'PUT', url: `/api/orders/${id}`, ...body({ status: 'pending' }) });
    await expectDescribed('updateOrder', 404, { method: 'PUT', url: '/api/orders/order_nope', ...body({ notes: 'n' }) });
    await expectDescribed('updateOrder', 422, { method: 'PUT', url: `/api/orders/${id}`, ...body({ status: 'lost' }) });
    await expectDescribed('updateOrder', 400, { method: 'PUT', url: `/api/orders/${id}`, ...body('[') });
    await expectDescribed('updateOrder', 401, { method: 'PUT', url: `/api/orders/${id}`, ...body({}), authorization: null });
    await expectDescribed('updateOrder', 412, { method: 'PUT', url: `/api/orders/${id}`, ...body({ notes: 'x' }), headers: { 'content-type': 'application/json', 'if-match': '"v1"' } });
    await expectDescribed('updateOrder', 413, { method: 'PUT', url: `/api/orders/${id}`, ...body(`{"notes":"${'x'.repeat(1_100_000)}"}`) });
    await expectDescribed('updateOrder', 415, { method: 'PUT', url: `/api/orders/${id}`, headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
  });

  it('409 in progress, 500 and 503 on every operation, 429 past the limit', async () => {
    await withFailingOrderService(t, 'createOrderExactlyOnce', new AppError(ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS, 'in progress', [], 1), () =>
      expectDescribed('createOrder', 409, { method: 'POST', url: '/api/orders', ...body(ORDER) }),
    );
    const unreachable = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    for (const [status, error] of [[500, () => new Error('a bug')], [503, unreachable]] as const) {
      await withFailingOrderService(t, 'createOrderExactlyOnce', error(), () => expectDescribed('createOrder', status, { method: 'POST', url: '/api/orders', ...body(ORDER) }));
      await withFailingOrderService(t, 'getOrder', error(), () => expectDescribed('getOrder', status, { method: 'GET', url: `/api/orders/${id}` }));
      await withFailingOrderService(t, 'listOrders', error(), () => expectDescribed('listOrders', status, { method: 'GET', url: '/api/orders' }));
      await withFailingOrderService(t, 'updateOrder', error(), () => expectDescribed('updateOrder', status, { method: 'PUT', url: `/api/orders/${id}`, ...body({ notes: 'n' }) }));
    }
    const key = await limited.bearer('governance');
    await expectDescribed('listOrders', 200, { method: 'GET', url: '/api/orders', authorization: key }, limited);
    await expectDescribed('listOrders', 429, { method: 'GET', url: '/api/orders', authorization: key }, limited);
    await expectDescribed('createOrder', 429, { method: 'POST', url: '/api/orders', ...body(ORDER), authorization: key }, limited);
    await expectDescribed('getOrder', 429, { method: 'GET', url: `/api/orders/${id}`, authorization: key }, limited);
    await expectDescribed('updateOrder', 429, { method: 'PUT', url: `/api/orders/${id}`, ...body({}), authorization: key }, limited);
  });

  it('every status either document lists was answered and described', () => {
    const listed = [...operations(baseline), ...operations(served)].flatMap(({ operation }) =>
      Object.keys(operation.responses).map((status) => `${operation.operationId} ${status}`),
    );
    expect([...new Set(listed)].filter((entry) => !seen.has(entry)).sort()).toStrictEqual([]);
  });
});
