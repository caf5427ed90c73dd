/**
 * HTTP conventions of the REST shim (issue 10, points 8–14): 405 with Allow,
 * Location on 201, the request charset, Node's own refusals in the error
 * envelope, compression, CORS, and the trailing slash.
 */
import net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { createOrder } from '../support/orders';

let t: TestApp;
let auth: string;

beforeAll(async () => {
  t = await createTestApp();
  auth = await t.bearer('acme');
});
afterAll(() => t.close());

const ORDER = {
  customer_id: 'c1',
  items: [{ product_id: 'p', name: 'Café crème', quantity: 1, price: '2.00' }],
  total: '2.00',
};

function create(payload: string | Buffer, contentType = 'application/json') {
  return t.app.http.inject({
    method: 'POST',
    url: '/api/orders',
    headers: { authorization: auth, 'content-type': contentType },
    payload,
  });
}

describe('405 Method Not Allowed (point 8)', () => {
  it.each([
    ['DELETE', '/api/orders/order_x', 'GET, HEAD, PUT'],
    ['PATCH', '/api/orders/order_x', 'GET, HEAD, PUT'],
    ['POST', '/api/orders/order_x', 'GET, HEAD, PUT'],
    ['DELETE', '/api/orders', 'GET, HEAD, POST'],
  ])('%s %s is 405 with Allow: %s, in the envelope', async (method, url, allow) => {
    const res = await t.app.http.inject({
      method: method as 'DELETE',
      url,
      headers: { authorization: auth },
    });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.json()).toMatchObject({
      success: false,
      error: { code: 'METHOD_NOT_ALLOWED', request_id: res.headers['x-request-id'] },
    });
  });

  it.each([
    ['DELETE', '/api/orders/order_x', '{not json', 'application/json', 405],
    ['PATCH', '/api/orders/order_x', '{"a":1}', 'text/plain', 405],
    ['POST', '/api/nothing', '{not json', 'application/json', 404],
  ])(
    '%s %s with a body nothing would read (%j, %s) is still %i, not a complaint about the body',
    async (method, url, payload, contentType, status) => {
      const res = await t.app.http.inject({
        method: method as 'DELETE',
        url,
        headers: { authorization: auth, 'content-type': contentType },
        payload,
      });
      expect(res.statusCode).toBe(status);
      expect(res.json().error.code).toBe(status === 405 ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND');
    },
  );

  it('an unknown URL stays 404', async () => {
    const res = await t.app.http.inject({
      method: 'DELETE',
      url: '/api/nothing',
      headers: { authorization: auth },
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers.allow).toBeUndefined();
  });

  it('PUT /graphql is 405 too, as a GraphQL response', async () => {
    const res = await t.app.http.inject({ method: 'PUT', url: '/graphql', headers: { authorization: auth } });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toContain('POST');
    expect(res.json().errors[0].extensions.code).toBe('METHOD_NOT_ALLOWED');
  });
});

describe('Location (point 9)', () => {
  it('a 201 names the new order, and the URL serves it', async () => {
    const res = await create(JSON.stringify(ORDER));
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe(`/api/orders/${res.json().data.id}`);
    const read = await t.app.http.inject({
      method: 'GET',
      url: res.headers.location as string,
      headers: { authorization: auth },
    });
    expect(read.json().data.id).toBe(res.json().data.id);
  });

  it('an idempotent replay carries it too', async () => {
    const headers = { authorization: auth, 'content-type': 'application/json', 'idempotency-key': 'loc-1' };
    const first = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers,
      payload: JSON.stringify(ORDER),
    });
    const again = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers,
      payload: JSON.stringify(ORDER),
    });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe(first.headers.location);
  });
});

describe('request charset (point 10)', () => {
  it('UTF-8, declared or not, keeps é', async () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset="UTF-8"',
    ]) {
      const res = await create(Buffer.from(JSON.stringify(ORDER), 'utf8'), type);
      expect(res.statusCode).toBe(201);
      expect(res.json().data.items[0].name).toBe('Café crème');
    }
  });

  it('a body declared in another charset is 415 and stores nothing', async () => {
    const before = (
      await t.app.http.inject({ method: 'GET', url: '/api/orders?limit=1', headers: { authorization: auth } })
    ).json().pagination.total;
    const res = await create(
      Buffer.from(JSON.stringify(ORDER), 'latin1'),
      'application/json; charset=iso-8859-1',
    );
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const after = (
      await t.app.http.inject({ method: 'GET', url: '/api/orders?limit=1', headers: { authorization: auth } })
    ).json().pagination.total;
    expect(after).toBe(before);
  });

  it('bytes that are not UTF-8 are 400 INVALID_JSON, never stored as U+FFFD', async () => {
    const res = await create(Buffer.from(JSON.stringify(ORDER), 'latin1'));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: 'INVALID_JSON',
      message: 'The request body is not valid UTF-8',
    });
  });
});

describe('request Content-Encoding', () => {
  function send(url: string, payload: string | Buffer, encoding: string) {
    return t.app.http.inject({
      method: 'POST',
      url,
      headers: { authorization: auth, 'content-type': 'application/json', 'content-encoding': encoding },
      payload,
    });
  }

  // (zstd is left out: Node 22.15+ decodes it.)
  it.each(['compress', 'exi', 'x-unknown'])(
    'a body in a content coding the server does not decode (%s) is 415 UNSUPPORTED_MEDIA_TYPE on both transports, not a 400 "could not be read"',
    async (encoding) => {
      const rest = await send('/api/orders', JSON.stringify(ORDER), encoding);
      expect(rest.statusCode).toBe(415);
      expect(rest.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      const gql = await send('/graphql', JSON.stringify({ query: '{ __typename }' }), encoding);
      expect(gql.statusCode).toBe(415);
      expect(gql.json().errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    },
  );

  it.each(['gzip', 'GZIP', 'Gzip'])(
    'a gzip body is read whatever the case of its coding (%j): content codings are case-insensitive (RFC 9110 §8.4.1)',
    async (encoding) => {
      const res = await send('/api/orders', zlib.gzipSync(JSON.stringify(ORDER)), encoding);
      expect(res.statusCode).toBe(201);
      expect(res.json().data.items[0].name).toBe('Café crème');
    },
  );
});

describe('a missing body answers as an empty JSON body', () => {
  const EMPTY = { code: 'INVALID_JSON', message: 'The request body is empty; send a JSON object' };
  const send = (method: 'POST' | 'PUT', url: string, headers: Record<string, string> = {}) =>
    t.app.http.inject({ method, url, headers: { authorization: auth, ...headers } });
  const total = async () =>
    (await t.app.http.inject({ method: 'GET', url: '/api/orders?limit=1', headers: { authorization: auth } })).json()
      .pagination.total as number;

  it('POST /api/orders with no body and no Content-Type is 400 INVALID_JSON, as with Content-Type: application/json', async () => {
    const before = await total();
    for (const headers of [{}, { 'content-length': '0' }, { 'content-type': 'application/json' }] as Record<string, string>[]) {
      const res = await send('POST', '/api/orders', headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(400);
      expect(res.json()).toStrictEqual({ success: false, error: { ...EMPTY, request_id: res.headers['x-request-id'] } });
    }
    expect(await total()).toBe(before);
  });

  it('PUT /api/orders/:id with no body is 400 INVALID_JSON and changes nothing; an unknown id too', async () => {
    const ctx = await t.app.services.auth.authenticate(auth);
    const order = await createOrder(t.app.services.orders, ctx, { ...ORDER, notes: 'kept' });
    for (const url of [`/api/orders/${order.id}`, '/api/orders/order_01ARZ3NDEKTSV4RRFFQ69G5FAV']) {
      const res = await send('PUT', url);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toStrictEqual({ success: false, error: { ...EMPTY, request_id: res.headers['x-request-id'] } });
    }
    const after = await t.app.services.orders.getOrder(ctx, order.id);
    expect([after.notes, after.updatedAt]).toStrictEqual([order.notes, order.updatedAt]);
  });

  it('a missing key is still 401 first; a body without a Content-Type is still 415', async () => {
    const anonymous = await t.app.http.inject({ method: 'POST', url: '/api/orders' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error.code).toBe('UNAUTHORIZED');
    const untyped = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: auth },
      payload: Buffer.from(JSON.stringify(ORDER)),
    });
    expect(untyped.statusCode).toBe(415);
    expect(untyped.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('an Idempotency-Key sent with no body is not taken: the real request under it creates the order', async () => {
    const key = { 'idempotency-key': 'empty-then-real' };
    expect((await send('POST', '/api/orders', key)).statusCode).toBe(400);
    const keyed = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: auth, 'content-type': 'application/json', ...key },
      payload: JSON.stringify(ORDER),
    });
    expect(keyed.statusCode).toBe(201);
    expect(keyed.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('compression (point 12)', () => {
  it('a large list is gzip-compressed for a client that accepts it; a small answer is not', async () => {
    const ctx = await t.app.services.auth.authenticate(auth);
    for (let i = 0; i < 40; i++) {
      await createOrder(t.app.services.orders, ctx, {
        customer_id: `zip-${i}`,
        items: [{ product_id: 'p', quantity: 1, price: 1 }],
        total: 1,
      });
    }
    const res = await t.app.http.inject({
      method: 'GET',
      url: '/api/orders?limit=100',
      headers: { authorization: auth, 'accept-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    const body = JSON.parse(zlib.gunzipSync(res.rawPayload).toString('utf8'));
    expect(body.data.length).toBeGreaterThanOrEqual(40);

    const small = await t.app.http.inject({
      method: 'GET',
      url: '/api/orders/order_none',
      headers: { authorization: auth, 'accept-encoding': 'gzip' },
    });
    expect(small.headers['content-encoding']).toBeUndefined();
    const plain = await t.app.http.inject({
      method: 'GET',
      url: '/api/orders?limit=100',
      headers: { authorization: auth },
    });
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('HEAD answers the headers GET does, compression included (RFC 9110 §9.3.2)', async () => {
    const ctx = await t.app.services.auth.authenticate(auth);
    for (let i = 0; i < 30; i++) {
      await createOrder(t.app.services.orders, ctx, {
        customer_id: `head-${i}`,
        items: [{ product_id: 'p', quantity: 1, price: 1 }],
        total: 1,
      });
    }
    const headers = { authorization: auth, 'accept-encoding': 'gzip' };
    const get = await t.app.http.inject({ method: 'GET', url: '/api/orders?limit=50', headers });
    const head = await t.app.http.inject({ method: 'HEAD', url: '/api/orders?limit=50', headers });
    expect(get.headers['content-encoding']).toBe('gzip');
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-encoding']).toBe('gzip');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers.vary).toBe(get.headers.vary);
  });
});

describe('CORS (point 13)', () => {
  it('is off by default: no Access-Control-* headers, and a preflight is not answered as one', async () => {
    const res = await t.app.http.inject({
      method: 'GET',
      url: '/api/orders',
      headers: { authorization: auth, origin: 'https://shop.example.com' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await t.app.http.inject({
      method: 'OPTIONS',
      url: '/api/orders',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('CORS_ORIGINS allows the listed origins: preflight answered with Authorization allowed; others get nothing', async () => {
    const cors = await createTestApp({ corsOrigins: ['https://shop.example.com'] });
    try {
      const key = await cors.bearer('cors');
      const preflight = await cors.app.http.inject({
        method: 'OPTIONS',
        url: '/api/orders',
        headers: {
          origin: 'https://shop.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, idempotency-key',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example.com');
      expect(String(preflight.headers['access-control-allow-headers']).toLowerCase()).toContain(
        'authorization',
      );
      expect(preflight.headers['access-control-allow-methods']).toContain('POST');

      const res = await cors.app.http.inject({
        method: 'GET',
        url: '/api/orders',
        headers: { authorization: key, origin: 'https://shop.example.com' },
      });
      expect(res.headers['access-control-allow-origin']).toBe('https://shop.example.com');
      expect(String(res.headers['access-control-expose-headers'])).toContain('X-Request-Id');

      const stranger = await cors.app.http.inject({
        method: 'GET',
        url: '/api/orders',
        headers: { authorization: key, origin: 'https://evil.example' },
      });
      expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await cors.close();
    }
  });
});

describe('CORS_ORIGINS set: routing is unchanged apart from preflights', () => {
  let cors: TestApp;
  let key: string;
  beforeAll(async () => {
    cors = await createTestApp({ corsOrigins: ['https://shop.example.com'] });
    key = await cors.bearer('cors');
  });
  afterAll(() => cors.close());

  it.each(['/api/nothing', '/nonexistent', '//api/orders'])(
    'an unknown URL (GET %s) stays 404 without Allow, not 405 "use OPTIONS"',
    async (url) => {
      const res = await cors.app.http.inject({ method: 'GET', url, headers: { authorization: key } });
      expect(res.statusCode).toBe(404);
      expect(res.headers.allow).toBeUndefined();
      expect(res.json()).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    },
  );

  it('a plain OPTIONS (no Origin, not a preflight) is answered with Allow, not a text/plain 400', async () => {
    const res = await cors.app.http.inject({ method: 'OPTIONS', url: '/api/orders/order_x' });
    expect(res.statusCode).toBe(204);
    expect(res.headers.allow).toBe('GET, HEAD, PUT, OPTIONS');
    expect(res.body).toBe('');
    const unknown = await cors.app.http.inject({ method: 'OPTIONS', url: '/api/nothing' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
  });

  it('a real preflight is still answered, and a known URL under another method is still 405', async () => {
    const preflight = await cors.app.http.inject({
      method: 'OPTIONS',
      url: '/api/orders/order_x',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'PUT' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    const del = await cors.app.http.inject({
      method: 'DELETE',
      url: '/api/orders/order_x',
      headers: { authorization: key },
    });
    expect(del.statusCode).toBe(405);
    expect(del.headers.allow).toBe('GET, HEAD, PUT, OPTIONS');
  });
});

describe('one Authorization header', () => {
  it.each([
    ['GET', '/api/orders', undefined, 'UNAUTHORIZED'],
    ['POST', '/graphql', JSON.stringify({ query: '{ __typename }' }), 'UNAUTHENTICATED'],
  ])('%s %s with two Authorization headers is 401: the key is not picked from one of them', async (method, url, payload, code) => {
    const other = await t.bearer('someone-else');
    const res = await t.app.http.inject({
      method: method as 'GET',
      url,
      // Two field lines, as Node's parser hands them over (light-my-request does the same).
      headers: { authorization: [auth, other] as unknown as string, 'content-type': 'application/json' },
      ...(payload === undefined ? {} : { payload }),
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    const body = res.json();
    expect(body.error?.code ?? body.errors?.[0]?.extensions?.code).toBe(code);
  });
});

describe('trailing slash (point 14)', () => {
  it('GET /api/orders/ is the list, not an order with an empty id', async () => {
    const res = await t.app.http.inject({
      method: 'GET',
      url: '/api/orders/?limit=1',
      headers: { authorization: auth },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: true, pagination: { limit: 1 } });
  });
});

describe('Node’s own refusals (point 11)', () => {
  let port: number;
  let node: TestApp;
  beforeAll(async () => {
    node = await createTestApp({ headersTimeoutMs: 1000, requestTimeoutMs: 1000 });
    await node.app.http.listen({ host: '127.0.0.1', port: 0 });
    port = (node.app.http.server.address() as net.AddressInfo).port;
  });
  afterAll(() => node.close());

  /** Sends raw bytes and returns everything the server writes before it closes the connection. */
  function raw(bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString('latin1')));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    });
  }

  function parse(response: string) {
    const [head = '', body = ''] = response.split('\r\n\r\n');
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    return {
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: JSON.parse(body) as { success: boolean; error: { code: string; request_id: string } },
    };
  }

  it.each([
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, 'INVALID_JSON'],
    [
      'headers over the limit',
      `GET /api/orders HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    ['headers that never finish', 'GET /api/orders HTTP/1.1\r\nHost: x\r\n', 408, 'REQUEST_TIMEOUT'],
  ])('%s: the envelope, with a request id and the security headers', async (_label, bytes, status, code) => {
    const res = parse(await raw(bytes));
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toMatchObject({ success: false, error: { code } });
    expect(res.headers['x-request-id']).toBe(res.body.error.request_id);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers.connection).toBe('close');
  });
});
