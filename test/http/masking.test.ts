/**
 * Outside development no response carries a stack trace, an SQL fragment or
 * an internal message; an unexpected failure is INTERNAL_ERROR with the
 * request id, and the full error is in the log under that id. Keys never
 * reach the log. The app runs with NODE_ENV=production here.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config';
import { useTestApp } from '../support/app';

const t = useTestApp(loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'info' }));
let key: string;

/** What a leaking error would carry: SQL, a constraint name, a file path. */
const SECRET_DETAIL = 'select * from api_keys where secret_hash = $1 -- constraint "orders_pkey" at /srv/app/dist/orders/order.service.js:42';
const LEAKS = /api_keys|secret_hash|orders_pkey|select \*|\/srv\/app|\.js:\d+|\bat [A-Za-z.]+ \(|node_modules|FST_/;

beforeAll(() => {
  key = t.auth.slice('Bearer '.length);
});

function failing(): Error {
  const error = new Error(SECRET_DETAIL);
  error.stack = `Error: ${SECRET_DETAIL}\n    at OrderService.getOrder (/srv/app/dist/orders/order.service.js:42:11)`;
  return error;
}

/** The error line logged for a request, with its stack. */
function loggedError(requestId: string) {
  const line = t.logs.find((entry) => entry.reqId === requestId && entry.level === 50) as { err?: { stack?: string; message?: string } } | undefined;
  expect(line, `an error line for ${requestId}`).toBeDefined();
  return line?.err;
}

describe('an injected internal failure', () => {
  it('REST: 500 INTERNAL_ERROR with a generic message and the request id; the log has the stack under that id', async () => {
    const spy = vi.spyOn(t.app.services.orders, 'getOrder').mockRejectedValue(failing());
    try {
      const res = await t.rest.get('/api/orders/order_01', { headers: { 'x-request-id': 'mask-rest-1' } });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toStrictEqual({ success: false, error: { code: 'INTERNAL_ERROR', message: 'Internal server error', request_id: 'mask-rest-1' } });
      expect(res.body).not.toMatch(LEAKS);
      expect(loggedError('mask-rest-1')?.stack).toContain('order.service.js:42');
    } finally {
      spy.mockRestore();
    }
  });

  it('GraphQL resolver: INTERNAL_ERROR with extensions.requestId; the log has the stack under that id', async () => {
    const spy = vi.spyOn(t.app.services.orders, 'getOrder').mockRejectedValue(failing());
    try {
      const res = await t.gql('{ order(id: "order_01") { id } }', {}, { headers: { 'x-request-id': 'mask-gql-1' } });
      expect(res.json()).toStrictEqual({
        data: { order: null },
        errors: [
          {
            message: 'Internal server error',
            locations: [{ line: 1, column: 3 }],
            path: ['order'],
            extensions: { code: 'INTERNAL_ERROR', requestId: 'mask-gql-1' },
          },
        ],
      });
      expect(res.body).not.toMatch(LEAKS);
      expect(loggedError('mask-gql-1')?.stack).toContain('order.service.js:42');
    } finally {
      spy.mockRestore();
    }
  });

  it('during authentication, on both transports: a 500 with the request id, logged', async () => {
    const spy = vi.spyOn(t.app.services.auth, 'authenticate').mockRejectedValue(failing());
    try {
      const rest = await t.rest.get('/api/orders', { headers: { 'x-request-id': 'mask-auth-rest' } });
      expect(rest.statusCode).toBe(500);
      expect(rest.json().error).toStrictEqual({ code: 'INTERNAL_ERROR', message: 'Internal server error', request_id: 'mask-auth-rest' });
      expect(loggedError('mask-auth-rest')?.stack).toContain('order.service.js:42');

      const graphql = await t.gql('{ __typename }', {}, { headers: { 'x-request-id': 'mask-auth-gql' } });
      expect(graphql.statusCode).toBe(500);
      expect(graphql.json()).toStrictEqual({
        errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_ERROR', requestId: 'mask-auth-gql' } }],
      });
      expect(graphql.body).not.toMatch(LEAKS);
      expect(loggedError('mask-auth-gql')?.stack).toContain('order.service.js:42');
    } finally {
      spy.mockRestore();
    }
  });
});

describe("Fastify's and Apollo's own errors", () => {
  it.each([
    ['an unknown route', { method: 'GET', url: '/api/nope' }, 404, 'NOT_FOUND'],
    ['an unsupported method', { method: 'DELETE', url: '/api/orders/order_01' }, 405, 'METHOD_NOT_ALLOWED'],
    ['a malformed URL', { method: 'GET', url: '/api/orders/%E0%A4%A' }, 400, 'INVALID_JSON'],
    ['an id too long for the router', { method: 'GET', url: `/api/orders/${'x'.repeat(500)}` }, 404, 'NOT_FOUND'],
    ['malformed JSON', { method: 'POST', url: '/api/orders', headers: { 'content-type': 'application/json' }, payload: '{"a": ' }, 400, 'INVALID_JSON'],
    ['a wrong content type', { method: 'POST', url: '/api/orders', headers: { 'content-type': 'text/xml' }, payload: '<a/>' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a body over the limit', { method: 'POST', url: '/api/orders', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(1024 * 1024 + 1)}"` }, 413, 'PAYLOAD_TOO_LARGE'],
    ['a JSON body that nests past the parser', { method: 'POST', url: '/api/orders', headers: { 'content-type': 'application/json' }, payload: '['.repeat(100_000) }, 400, 'INVALID_JSON'],
  ] as const)('%s: the envelope, no internals', async (_name, request, status, code) => {
    const res = await t.app.http.inject({ ...request, headers: { authorization: t.auth, ...('headers' in request ? request.headers : {}) } });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toStrictEqual({ success: false, error: { code, message: expect.any(String), request_id: res.headers['x-request-id'] } });
    expect(res.body).not.toMatch(LEAKS);
  });

  it('the 404 for an unknown route does not echo the path', async () => {
    const path = '/api/<script>alert(1)</script>/x?y=<b>';
    const res = await t.rest.get(path);
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toStrictEqual({ code: 'NOT_FOUND', message: 'No such route: check the method and the path', request_id: res.headers['x-request-id'] });
    expect(res.body).not.toContain('script');
    expect(res.body).not.toContain('/api/');
  });

  it.each([
    ['a syntax error', '{ order(id: "x" { id } }', 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field', '{ order(id: "x") { password } }', 'GRAPHQL_VALIDATION_FAILED'],
  ])('GraphQL %s: a top-level error with a code, no stack', async (_name, query, code) => {
    const res = await t.gql(query);
    expect(res.statusCode).toBe(400);
    const [error] = res.json().errors;
    expect(error.extensions).toStrictEqual({ code });
    expect(res.body).not.toMatch(/stacktrace|exception/);
  });

  it('GraphQL with a body that is not an operation: a plain 400', async () => {
    const res = await t.rest.post('/graphql', '{"query": 42}');
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toMatch(LEAKS);
  });
});

describe('the log', () => {
  it('never holds the key or the Authorization header, whatever happened to the request', async () => {
    const spy = vi.spyOn(t.app.services.orders, 'getOrder').mockRejectedValue(failing());
    try {
      for (const authorization of [t.auth, `${t.auth}x`, key, `Basic ${Buffer.from(`user:${key}`).toString('base64')}`]) {
        await t.rest.get('/api/orders/order_01', { authorization: authorization });
        await t.gql('{ order(id: "order_01") { id } }', {}, { authorization: authorization });
        await t.rest.post('/api/orders', '{', { authorization: authorization });
      }
    } finally {
      spy.mockRestore();
    }
    expect(t.logs.filter((line) => line.level === 50).length).toBeGreaterThan(0);
    const everything = JSON.stringify(t.logs);
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(Buffer.from(`user:${key}`).toString('base64'));
    expect(everything.toLowerCase()).not.toContain('"authorization"');
  });
});
