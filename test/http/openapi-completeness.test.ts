/**
 * The OpenAPI document says what the server does (issue 10, point 16): the
 * codes behind each error status per operation, operationIds, response
 * headers, the offset maximum, patterns and the enum of error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { ErrorCode } from '../../src/errors/app-error';
import { HTTP_STATUS } from '../../src/rest/error-handler';

type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId?: string;
        parameters?: { name: string; schema: { maximum?: number; pattern?: string } }[];
        responses: Record<
          string,
          {
            headers?: Record<string, unknown>;
            content: Record<
              string,
              { schema: { properties: { error: { properties: { code: { enum?: string[] } } } } } }
            >;
          }
        >;
      }
    >
  >;
};

let t: TestApp;
let doc: Doc;
beforeAll(async () => {
  t = await createTestApp();
  doc = (await t.app.http.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(() => t.close());

const codes = (path: string, method: string, status: string) =>
  doc.paths[path][method].responses[status].content['application/json'].schema.properties.error.properties
    .code.enum;

describe('OpenAPI document', () => {
  it('names the codes behind each error status, per operation', () => {
    expect(codes('/api/orders', 'post', '409')).toStrictEqual(['IDEMPOTENCY_REQUEST_IN_PROGRESS']);
    expect(codes('/api/orders/{id}', 'put', '409')).toStrictEqual(['INVALID_STATUS_TRANSITION']);
    expect(codes('/api/orders', 'post', '422')).toStrictEqual([
      'VALIDATION_ERROR',
      'TOTAL_MISMATCH',
      'IDEMPOTENCY_KEY_REUSED',
    ]);
    expect(codes('/api/orders', 'get', '429')).toStrictEqual(['RATE_LIMITED']);
  });

  it('gives every operation an operationId', () => {
    expect(doc.paths['/api/orders'].post.operationId).toBe('createOrder');
    expect(doc.paths['/api/orders'].get.operationId).toBe('listOrders');
    expect(doc.paths['/api/orders/{id}'].get.operationId).toBe('getOrder');
    expect(doc.paths['/api/orders/{id}'].put.operationId).toBe('updateOrder');
  });

  it('documents the response headers', () => {
    const created = doc.paths['/api/orders'].post.responses['201'].headers!;
    expect(Object.keys(created)).toEqual(
      expect.arrayContaining([
        'Location',
        'Idempotent-Replayed',
        'X-Request-Id',
        'X-RateLimit-Limit',
        'X-RateLimit-Remaining',
        'X-RateLimit-Reset',
      ]),
    );
    expect(Object.keys(doc.paths['/api/orders'].get.responses['429'].headers!)).toContain('Retry-After');
    expect(Object.keys(doc.paths['/api/orders'].get.responses['503'].headers!)).toContain('Retry-After');
    expect(Object.keys(doc.paths['/api/orders'].post.responses['409'].headers!)).toContain('Retry-After');
  });

  it('states the offset maximum and the decimal pattern of the list filters', () => {
    const parameters = doc.paths['/api/orders'].get.parameters!;
    expect(parameters.find((p) => p.name === 'offset')!.schema.maximum).toBe(1_000_000_000);
    expect(parameters.find((p) => p.name === 'min_total')!.schema.pattern).toBeDefined();
  });

  it('takes every integer query parameter at its documented minimum and maximum', async () => {
    const auth = await t.bearer('docs-bounds');
    const integers = doc.paths['/api/orders'].get.parameters!.filter(
      (p) => (p.schema as { type?: string }).type === 'integer',
    ) as { name: string; schema: { minimum: number; maximum: number } }[];
    expect(integers.map((p) => p.name).sort()).toEqual(['limit', 'offset']);
    for (const { name, schema } of integers) {
      for (const value of [schema.minimum, schema.maximum]) {
        const res = await t.app.http.inject({ method: 'GET', url: `/api/orders?${name}=${value}`, headers: { authorization: auth } });
        expect(res.statusCode, `${name}=${value}: ${res.body}`).toBe(200);
      }
    }
  });
});

type Schema = Record<string, unknown> & {
  $ref?: string;
  pattern?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: string[];
};
type Operation = {
  operationId: string;
  parameters?: { name: string; in: string; example?: unknown; schema?: { default?: unknown } }[];
  requestBody?: { content: Record<string, { schema: Schema; example?: unknown }> };
  responses: Record<string, { headers?: Record<string, { schema: Schema }>; content?: Record<string, { schema: Schema }> }>;
};
const full = () => doc as unknown as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
const component = (name: string) => full().components.schemas[name];
const operations = () =>
  Object.entries(full().paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );

describe('OpenAPI document, point 16', () => {
  it('states the patterns of currency, country and decimal strings, and the metadata limits', () => {
    const create = component('CreateOrderRequest');
    expect(create.properties!.currency.pattern).toBe('^[A-Za-z]{3}$');
    expect(create.properties!.total.pattern).toBe('^\\d{1,15}(\\.\\d{1,4})?$');
    expect(component('OrderItemInput').properties!.price.pattern).toBe('^\\d{1,15}(\\.\\d{1,4})?$');
    expect(component('AddressInput').properties!.country.pattern).toBe('^[A-Za-z]{2}$');
    expect(component('Address').properties!.country.pattern).toBe('^[A-Z]{2}$');
    expect(component('Order').properties!.currency.pattern).toBe('^[A-Z]{3}$');
    expect(create.properties!.metadata).toMatchObject({ maxProperties: 50, propertyNames: { minLength: 1, maxLength: 40 } });
    expect(create.properties!.metadata.description).toMatch(/16 KiB/);
    expect(component('UpdateOrderRequest').properties!.metadata).toMatchObject({ maxProperties: 50 });
  });

  it('names its schemas as components and uses them through $ref', () => {
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    expect(full().paths['/api/orders/{id}'].get.responses['200'].content!['application/json'].schema).toEqual(ref('OrderEnvelope'));
    expect(full().paths['/api/orders'].post.responses['201'].content!['application/json'].schema).toEqual(ref('OrderEnvelope'));
    expect(full().paths['/api/orders'].get.responses['200'].content!['application/json'].schema).toEqual(ref('OrderListEnvelope'));
    expect(full().paths['/api/orders'].post.requestBody!.content['application/json'].schema).toEqual(ref('CreateOrderRequest'));
    expect(component('OrderEnvelope').properties!.data).toEqual(ref('Order'));
    expect(component('Order').properties!.items.items).toEqual(ref('OrderItem'));
    expect(component('Order').properties!.shipping_address).toEqual(ref('Address'));
  });

  it('has an enum of every error code, which each error status narrows', () => {
    expect(component('ErrorCode').enum).toStrictEqual(Object.values(ErrorCode));
    for (const { path, method, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        const code = response.content!['application/json'].schema.properties!.error.properties!.code;
        expect(code.allOf, `${method} ${path} ${status}`).toEqual([{ $ref: '#/components/schemas/ErrorCode' }]);
        for (const value of code.enum!) expect(Object.values(ErrorCode)).toContain(value);
        // The error handler's own table: the status of each code listed is this status.
        for (const value of code.enum!) expect(HTTP_STATUS[value as ErrorCode], `${value}`).toBe(Number(status));
      }
    }
  });

  it('documents each header as a header object with a schema, and WWW-Authenticate on 401', () => {
    for (const { operation } of operations()) {
      for (const response of Object.values(operation.responses)) {
        for (const header of Object.values(response.headers ?? {})) expect(header.schema.type).toMatch(/string|integer/);
      }
      expect(Object.keys(operation.responses['401'].headers!)).toContain('WWW-Authenticate');
    }
  });

  it('has an example for every request body, and "Try it out" with the examples succeeds for every operation', async () => {
    const auth = await t.bearer('docs-examples');
    const send = (method: string, url: string, body?: unknown) =>
      t.app.http.inject({
        method: method.toUpperCase() as 'GET',
        url,
        headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
    // Create first: the other operations need an order of this workspace for `{id}`.
    const ordered = operations().sort((a, b) => Number(b.operation.operationId === 'createOrder') - Number(a.operation.operationId === 'createOrder'));
    let id = '';
    for (const { path, method, operation } of ordered) {
      const media = operation.requestBody?.content['application/json'];
      if (operation.requestBody) expect(media?.example, operation.operationId).toBeDefined();
      const idExample = operation.parameters?.find((p) => p.in === 'path' && p.name === 'id')?.example;
      if (path.includes('{id}')) expect(idExample, operation.operationId).toMatch(/^order_/);
      // Swagger UI fills each parameter's example (or default) in; so does this.
      const query = new URLSearchParams();
      for (const parameter of operation.parameters ?? []) {
        const value = parameter.example ?? parameter.schema?.default;
        if (parameter.in === 'query' && value !== undefined) query.set(parameter.name, typeof value === 'string' ? value : JSON.stringify(value));
      }
      const url = path.replace('{id}', id) + (query.size > 0 ? `?${query.toString()}` : '');
      const res = await send(method, url, media?.example);
      expect(res.statusCode, `${operation.operationId}: ${res.body}`).toBeGreaterThanOrEqual(200);
      expect(res.statusCode, `${operation.operationId}: ${res.body}`).toBeLessThan(300);
      if (operation.operationId === 'createOrder') id = res.json<{ data: { id: string } }>().data.id;
    }
    expect(ordered.map((o) => o.operation.operationId).sort()).toEqual(['createOrder', 'getOrder', 'listOrders', 'updateOrder']);
  });
});
