/**
 * GraphQL over HTTP as stock clients expect it (issue 10, points 1–6): request
 * errors keep graphql-js's and Apollo's messages and codes, only our own
 * failures are masked (and logged), empty pages have null cursors, GET queries
 * work with a bearer key alone, every refusal on /graphql is a GraphQL
 * response, and argument errors name GraphQL paths.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { createOrder } from '../support/orders';

let t: TestApp;
let auth: string;

beforeAll(async () => {
  t = await createTestApp({ bodyLimit: 4096 });
  auth = await t.bearer('acme');
});
afterAll(() => t.close());

function post(payload: string, headers: Record<string, string> = {}) {
  return t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', authorization: auth, ...headers },
    payload,
  });
}

const gql = (query: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  post(JSON.stringify({ query, ...extra }), headers);

function logsOf(requestId: string) {
  return t.logs.filter((line) => line.reqId === requestId);
}

describe('operations graphql-js cannot pick (point 1)', () => {
  it('several operations without operationName: 400 with graphql-js’s message, logged with its request id', async () => {
    const res = await gql('query A { __typename } query B { __typename }');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toStrictEqual([
      {
        message: 'Must provide operation name if query contains multiple operations.',
        extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
      },
    ]);
    const lines = logsOf(res.headers['x-request-id'] as string);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request completed', status: 400 }));
  });

  it('an unknown operationName: 400 naming it', async () => {
    const res = await gql('query A { __typename }', { operationName: 'C' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0]).toMatchObject({
      message: 'Unknown operation named "C".',
      extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
    });
  });

  it('the operation that is named still runs', async () => {
    const res = await gql('query A { __typename } query B { __typename }', { operationName: 'B' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ data: { __typename: 'Query' } });
  });
});

describe('client errors pass through, our own failures are masked (point 2)', () => {
  it('a subscription over HTTP is a 400 BAD_REQUEST (subscriptions run over graphql-ws)', async () => {
    const res = await gql('subscription S { orderCreated { id } }');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toStrictEqual([
      {
        message: 'Subscriptions run over WebSocket (the graphql-ws protocol) on /graphql, not over HTTP',
        extensions: { code: 'BAD_REQUEST' },
      },
    ]);
  });

  it('an APQ hash that does not match its query is a 400 BAD_REQUEST with Apollo’s message', async () => {
    const res = await gql('{ __typename }', {
      extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update('{ other }').digest('hex') } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toStrictEqual([
      { message: 'provided sha does not match query', extensions: { code: 'BAD_REQUEST' } },
    ]);
    // A hash that is no SHA-256 at all can name no query: refused before any lookup, saying so.
    const malformed = await gql('{ __typename }', {
      extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } },
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(malformed.json().errors[0].message).toMatch(/sha256Hash must be the SHA-256/);
  });

  it('syntax and validation errors keep their codes', async () => {
    expect((await gql('{ orders {')).json().errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect((await gql('{ nope }')).json().errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a failure of our own code is masked as INTERNAL_ERROR with the request id, and logged under it', async () => {
    const spy = vi
      .spyOn(t.app.services.orders, 'getOrder')
      .mockRejectedValueOnce(new Error('secret detail: relation "orders" is broken'));
    try {
      const res = await gql('{ order(id: "order_x") { id } }');
      const requestId = res.headers['x-request-id'] as string;
      expect(res.json().errors).toStrictEqual([
        {
          message: 'Internal server error',
          locations: [{ line: 1, column: 3 }],
          path: ['order'],
          extensions: { code: 'INTERNAL_ERROR', requestId },
        },
      ]);
      expect(res.body).not.toContain('secret');
      const logged = logsOf(requestId).find((line) => line.level === 50);
      expect(logged).toMatchObject({
        reqId: requestId,
        err: { message: 'secret detail: relation "orders" is broken' },
      });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('cursors (point 3)', () => {
  const PAGE =
    'query($after: String, $filter: OrderFilter) { orders(first: 2, after: $after, filter: $filter) { totalCount edges { cursor } pageInfo { startCursor endCursor hasNextPage } } }';

  it('an empty page has null cursors', async () => {
    const res = await gql(PAGE, { variables: { filter: { customerId: 'nobody' } } });
    expect(res.json().data.orders).toStrictEqual({
      totalCount: 0,
      edges: [],
      pageInfo: { startCursor: null, endCursor: null, hasNextPage: false },
    });
  });

  it('after: "" starts from the beginning, like null', async () => {
    const ctx = await t.app.services.auth.authenticate(auth);
    await createOrder(t.app.services.orders, ctx, {
      customer_id: 'cursor-c',
      items: [{ product_id: 'p', quantity: 1, price: 1 }],
      total: 1,
    });
    const fromEmpty = (
      await gql(PAGE, { variables: { after: '', filter: { customerId: 'cursor-c' } } })
    ).json();
    const fromNull = (
      await gql(PAGE, { variables: { after: null, filter: { customerId: 'cursor-c' } } })
    ).json();
    expect(fromEmpty.errors).toBeUndefined();
    expect(fromEmpty).toStrictEqual(fromNull);
    expect(fromEmpty.data.orders.totalCount).toBe(1);
  });
});

describe('CSRF prevention and GET (point 4)', () => {
  it('a GET query with only Authorization (as urql sends it) is answered', async () => {
    const res = await t.app.http.inject({
      method: 'GET',
      url: '/graphql?query=%7B__typename%7D',
      headers: { authorization: auth },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ data: { __typename: 'Query' } });
  });

  it('a GET without Authorization (what a cross-site page can send) is refused before anything runs', async () => {
    const res = await t.app.http.inject({
      method: 'GET',
      url: '/graphql?query=%7B__typename%7D',
      headers: { accept: 'application/json' },
    });
    // Authentication comes before the CSRF check and before any parsing (issue 11).
    expect(res.statusCode).toBe(401);
    expect(res.json().errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  // HEAD is a GET without the body (server.ts), so it refuses a mutation the same way.
  it.each(['GET', 'HEAD'] as const)('a %s mutation is refused with 405 and Allow: POST, and runs nothing', async (method) => {
    const spy = vi.spyOn(t.app.services.orders, 'createOrderExactlyOnce');
    const query = encodeURIComponent(
      'mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1"}) { order { id } } }',
    );
    const res = await t.app.http.inject({
      method,
      url: `/graphql?query=${query}`,
      headers: { authorization: auth },
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});

describe('HEAD and OPTIONS on /graphql', () => {
  const QUERY_URL = '/graphql?query=%7B__typename%7D';
  const errorLines = (requestId: string) => logsOf(requestId).filter((line) => (line.level as number) >= 50);

  it('HEAD without a key is a 401 like GET, with WWW-Authenticate and no body', async () => {
    const res = await t.app.http.inject({ method: 'HEAD', url: QUERY_URL });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.body).toBe('');
    const wrong = await t.app.http.inject({
      method: 'HEAD',
      url: QUERY_URL,
      headers: { authorization: 'Bearer ogk_wrong' },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('HEAD with a key answers what GET answers, without the body', async () => {
    const get = await t.app.http.inject({ method: 'GET', url: QUERY_URL, headers: { authorization: auth } });
    const head = await t.app.http.inject({
      method: 'HEAD',
      url: QUERY_URL,
      headers: { authorization: auth },
    });
    expect(get.statusCode).toBe(200);
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(errorLines(head.headers['x-request-id'] as string)).toStrictEqual([]);
  });

  it.each([
    ['without a key', {}],
    ['with a key', { authorization: 'KEY' }],
  ])(
    'OPTIONS %s (no CORS_ORIGINS) is a 405 naming the methods, as on REST, and runs no operation',
    async (_label, extra: Record<string, string>) => {
      const spy = vi.spyOn(t.app.services.orders, 'findOrders');
      const res = await t.app.http.inject({
        method: 'OPTIONS',
        url: '/graphql',
        headers: {
          'content-type': 'application/json',
          'apollo-require-preflight': '1',
          ...(extra.authorization ? { authorization: auth } : {}),
        },
        payload: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }),
      });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD, POST');
      expect(res.json()).toStrictEqual({
        errors: [
          { message: 'Use GET or HEAD or POST for GraphQL', extensions: { code: 'METHOD_NOT_ALLOWED' } },
        ],
      });
      expect(res.body).not.toMatch(/context|authenticated workspace/i);
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
      expect(errorLines(res.headers['x-request-id'] as string)).toStrictEqual([]);
    },
  );

  it('the Allow of a 405 lists only methods /graphql answers', async () => {
    const res = await t.app.http.inject({ method: 'PUT', url: '/graphql', headers: { authorization: auth } });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, POST');
  });

  it('with CORS_ORIGINS, a preflight of /graphql is answered (204) before the key check; a listed origin can POST', async () => {
    const cors = await createTestApp({ corsOrigins: ['https://shop.example.com'] });
    try {
      const preflight = await cors.app.http.inject({
        method: 'OPTIONS',
        url: '/graphql',
        headers: {
          origin: 'https://shop.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example.com');
      expect(preflight.headers['access-control-allow-methods']).toContain('POST');
      expect(preflight.body).toBe('');
      const key = await cors.bearer('cors');
      const res = await cors.app.http.inject({
        method: 'POST',
        url: '/graphql',
        headers: {
          authorization: key,
          origin: 'https://shop.example.com',
          'content-type': 'application/json',
        },
        payload: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('https://shop.example.com');
      const put = await cors.app.http.inject({
        method: 'PUT',
        url: '/graphql',
        headers: { authorization: key },
      });
      expect(put.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    } finally {
      await cors.close();
    }
  });

  it('with CORS_ORIGINS, an OPTIONS that is not a preflight (no Origin) is answered with Allow, not a text/plain 400', async () => {
    const cors = await createTestApp({ corsOrigins: ['https://shop.example.com'] });
    try {
      const res = await cors.app.http.inject({ method: 'OPTIONS', url: '/graphql' });
      expect(res.statusCode).toBe(204);
      expect(res.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
      expect(res.body).toBe('');
    } finally {
      await cors.close();
    }
  });
});

describe('refusals on /graphql are GraphQL responses (point 5)', () => {
  const ACCEPT = 'application/graphql-response+json, application/json;q=0.9';

  it.each([
    ['malformed JSON', '{"query": ', 'application/json', 400, 'INVALID_JSON'],
    [
      'a body over the limit',
      JSON.stringify({ query: `{ __typename } # ${'x'.repeat(5000)}` }),
      'application/json',
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['a body that is not JSON', 'query { __typename }', 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])(
    '%s: a GraphQL error response in the media type the client accepts',
    async (_label, payload, contentType, status, code) => {
      for (const [accept, type] of [
        [ACCEPT, 'application/graphql-response+json; charset=utf-8'],
        ['application/json', 'application/json; charset=utf-8'],
      ]) {
        const res = await post(payload, { 'content-type': contentType, accept });
        expect(res.statusCode).toBe(status);
        expect(res.headers['content-type']).toBe(type);
        expect(res.json()).toStrictEqual({ errors: [{ message: expect.any(String), extensions: { code } }] });
        expect(res.headers['x-request-id']).toBeTruthy();
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    },
  );

  it('a POST with no body and no Content-Type: 400, a GraphQL error response with Apollo’s message', async () => {
    for (const [accept, type] of [
      [ACCEPT, 'application/graphql-response+json; charset=utf-8'],
      ['application/json', 'application/json; charset=utf-8'],
    ]) {
      const res = await t.app.http.inject({ method: 'POST', url: '/graphql', headers: { authorization: auth, accept } });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe(type);
      expect(res.json()).toStrictEqual({
        errors: [
          {
            message: 'POST body missing, invalid Content-Type, or JSON object has no keys.',
            extensions: { code: 'BAD_REQUEST' },
          },
        ],
      });
      expect(res.headers['x-request-id']).toBeTruthy();
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('a 401 is UNAUTHENTICATED with WWW-Authenticate: Bearer, on GraphQL and on REST', async () => {
    const gqlRes = await gql('{ __typename }', {}, { authorization: 'Bearer ogk_wrong', accept: ACCEPT });
    expect(gqlRes.statusCode).toBe(401);
    expect(gqlRes.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(gqlRes.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
    expect(gqlRes.json().errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const rest = await t.app.http.inject({
      method: 'GET',
      url: '/api/orders',
      headers: { authorization: 'Bearer ogk_wrong' },
    });
    expect(rest.statusCode).toBe(401);
    expect(rest.headers['www-authenticate']).toMatch(/^Bearer /);
  });

  it('past the rate limit and past the failed-authentication limit: 429 RATE_LIMITED with Retry-After and retryAfterSeconds', async () => {
    const limited = await createTestApp({ rateLimitPerMinute: 2, authFailuresPerMinute: 1 });
    try {
      const key = await limited.bearer('tiny');
      const send = (authorization: string) =>
        limited.app.http.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json', authorization, accept: ACCEPT },
          payload: JSON.stringify({ query: '{ __typename }' }),
        });
      await send(key);
      await send(key);
      const over = await send(key);
      expect(over.statusCode).toBe(429);
      expect(over.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(over.json()).toStrictEqual({
        errors: [
          {
            message: expect.stringMatching(/^Rate limit/),
            extensions: { code: 'RATE_LIMITED', retryAfterSeconds: Number(over.headers['retry-after']) },
          },
        ],
      });

      expect((await send('Bearer ogk_wrong')).statusCode).toBe(401);
      const blocked = await send('Bearer ogk_wrong');
      expect(blocked.statusCode).toBe(429);
      expect(blocked.headers['content-type']).toBe('application/graphql-response+json; charset=utf-8');
      expect(blocked.json().errors[0]).toMatchObject({
        message: expect.stringMatching(/failed authentication/),
        extensions: { code: 'RATE_LIMITED' },
      });
    } finally {
      await limited.close();
    }
  });
});

describe('argument errors name GraphQL paths (point 6)', () => {
  it('lists every bad argument by its GraphQL path, in the message and in extensions.fields', async () => {
    const res = await gql(
      '{ orders(first: 0, filter: { minTotal: "abc", maxTotal: "-5", from: "last week" }) { totalCount } }',
    );
    const error = res.json().errors[0];
    expect(error.extensions.code).toBe('VALIDATION_ERROR');
    expect(
      error.extensions.fields.map((field: { path: string[] }) => field.path.join('.')).sort(),
    ).toStrictEqual(['filter.from', 'filter.maxTotal', 'filter.minTotal', 'first']);
    for (const name of ['filter.minTotal', 'filter.maxTotal', 'filter.from', 'first'])
      expect(error.message).toContain(`${name} `);
    expect(error.message).not.toMatch(/min_total|max_total|fields are invalid/);
  });
});
