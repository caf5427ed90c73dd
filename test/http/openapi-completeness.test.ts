/**
 * The OpenAPI document says what the server does (issue 10, point 16): the
 * codes behind each error status per operation, operationIds, response
 * headers, the offset maximum, patterns and the enum of error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

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
  doc.paths[path]![method]!.responses[status]!.content['application/json']!.schema.properties.error.properties
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
    expect(doc.paths['/api/orders']!.post!.operationId).toBe('createOrder');
    expect(doc.paths['/api/orders']!.get!.operationId).toBe('listOrders');
    expect(doc.paths['/api/orders/{id}']!.get!.operationId).toBe('getOrder');
    expect(doc.paths['/api/orders/{id}']!.put!.operationId).toBe('updateOrder');
  });

  it('documents the response headers', () => {
    const created = doc.paths['/api/orders']!.post!.responses['201']!.headers!;
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
    expect(Object.keys(doc.paths['/api/orders']!.get!.responses['429']!.headers!)).toContain('Retry-After');
    expect(Object.keys(doc.paths['/api/orders']!.get!.responses['503']!.headers!)).toContain('Retry-After');
  });

  it('states the offset maximum and the decimal pattern of the list filters', () => {
    const parameters = doc.paths['/api/orders']!.get!.parameters!;
    expect(parameters.find((p) => p.name === 'offset')!.schema.maximum).toBe(1_000_000_000);
    expect(parameters.find((p) => p.name === 'min_total')!.schema.pattern).toBeDefined();
  });
});
