/**
 * A client library's connection pool (undici 7: `Client` with pipelining, `Pool`) and raw sockets,
 * against a live gateway, after each error the REST shim and `/graphql` give. What a user of such a
 * pool needs: the request after an error, on the same connection, is answered; or the error says
 * `Connection: close` and the server closes cleanly (a FIN after the whole answer, never a reset in
 * the middle of one), so the pool opens a new connection. Never a hang.
 *
 * Found here: a JSON body the server had read to its end and refused (malformed, invalid UTF-8, a
 * charset other than UTF-8) closed the connection, because Fastify closes after every body its parser
 * refuses. Requests pipelined behind it were dropped unanswered (undici noticed and sent them again
 * on a new connection; a raw pipelining client lost them), and every client paid a reconnect. Such
 * a body leaves nothing unread, so the connection now stays open.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const BODY_LIMIT = 4096;
const TIMEOUT = 30_000;

let t: TestApp;
let port: number;
let base: string;
let auth: string;
beforeAll(async () => {
  t = await createTestApp({ bodyLimit: BODY_LIMIT, rateLimitPerMinute: 1_000_000 });
  auth = await t.bearer('keep-alive');
  await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.http.server.address() as net.AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
}, 60_000);
afterAll(() => t?.close());

const order = (customerId = 'keep-alive') =>
  JSON.stringify({ customer_id: customerId, items: [{ product_id: 'p-1', quantity: 1, price: '3.00' }], total: '3.00' });
const json = { 'content-type': 'application/json' };

interface Attempt {
  path: string;
  method: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
  /** undici closes after a DELETE or GET that carries a body unless told `reset: false`. */
  reset?: boolean;
}

/** A valid request that must succeed after the error, on the connection the error left. */
const followUps: { create: Attempt; list: Attempt; graphql: Attempt } = {
  create: { path: '/api/orders', method: 'POST', headers: json, body: order('follow-up') },
  list: { path: '/api/orders?limit=1', method: 'GET' },
  graphql: { path: '/graphql', method: 'POST', headers: json, body: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }) },
};

/** Sends `error` then `followUp` on one undici Client (one connection at a time); counts the connections it opened. */
async function errorThen(error: Attempt | (() => Attempt), followUp: Attempt, pipelining = 1) {
  const client = new Client(base, { pipelining });
  let connections = 0;
  client.on('connect', () => connections++);
  try {
    const send = async (attempt: Attempt) => {
      const answer = await client.request({
        ...attempt,
        headers: { authorization: auth, ...attempt.headers },
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await answer.body.text();
      return { status: answer.statusCode, headers: answer.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    const first = await send(typeof error === 'function' ? error() : error);
    const second = await send(followUp);
    return { first, second, connections };
  } finally {
    await client.close();
  }
}

async function* chunks(total: number): AsyncIterable<Buffer> {
  for (let sent = 0; sent < total; sent += 1000) yield Buffer.from('['.padEnd(1000, ' '));
}

const errorCode = (body: Record<string, unknown>) =>
  (body.error as { code?: string } | undefined)?.code ??
  ((body.errors as { extensions?: { code?: string } }[] | undefined)?.[0]?.extensions?.code);

describe('each error, then a valid request on the same undici connection', { timeout: TIMEOUT }, () => {
  /** [name, request, status, code, may the error close the connection?] */
  const cases: [string, Attempt | (() => Attempt), number, string, boolean][] = [
    ['REST malformed JSON', { path: '/api/orders', method: 'POST', headers: json, body: '{"customer_id":' }, 400, 'INVALID_JSON', false],
    ['REST invalid UTF-8', { path: '/api/orders', method: 'POST', headers: json, body: Buffer.from([0x7b, 0xff, 0x7d]) }, 400, 'INVALID_JSON', false],
    ['REST a latin1 charset', { path: '/api/orders', method: 'POST', headers: { 'content-type': 'application/json; charset=latin1' }, body: order() }, 415, 'UNSUPPORTED_MEDIA_TYPE', false],
    ['REST text/plain', { path: '/api/orders', method: 'POST', headers: { 'content-type': 'text/plain' }, body: order() }, 415, 'UNSUPPORTED_MEDIA_TYPE', false],
    ['REST body over the limit (Content-Length)', { path: '/api/orders', method: 'POST', headers: json, body: 'x'.repeat(BODY_LIMIT + 1) }, 413, 'PAYLOAD_TOO_LARGE', true],
    ['REST body over the limit (chunked)', () => ({ path: '/api/orders', method: 'POST', headers: json, body: Readable.from(chunks(BODY_LIMIT * 2)) }), 413, 'PAYLOAD_TOO_LARGE', true],
    ['REST unknown order', { path: '/api/orders/order_01JXXXXXXXXXXXXXXXXXXXXXXX', method: 'GET' }, 404, 'NOT_FOUND', false],
    ['REST unknown URL with a body', { path: '/api/nothing', method: 'POST', headers: json, body: '{"x":' }, 404, 'NOT_FOUND', false],
    ['REST DELETE with a body', { path: '/api/orders', method: 'DELETE', headers: json, body: order(), reset: false }, 405, 'METHOD_NOT_ALLOWED', false],
    ['REST validation', { path: '/api/orders', method: 'POST', headers: json, body: '{"customer_id":""}' }, 422, 'VALIDATION_ERROR', false],
    ['REST bad key with a body', { path: '/api/orders', method: 'POST', headers: { ...json, authorization: 'Bearer ogk_nope' }, body: order() }, 401, 'UNAUTHORIZED', false],
    ['GraphQL malformed JSON', { path: '/graphql', method: 'POST', headers: json, body: '{"query":' }, 400, 'INVALID_JSON', false],
    ['GraphQL body over the limit', { path: '/graphql', method: 'POST', headers: json, body: 'x'.repeat(BODY_LIMIT + 1) }, 413, 'PAYLOAD_TOO_LARGE', true],
    ['GraphQL text/plain', { path: '/graphql', method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }, 415, 'UNSUPPORTED_MEDIA_TYPE', false],
    ['GraphQL bad key', { path: '/graphql', method: 'POST', headers: { ...json, authorization: 'Bearer ogk_nope' }, body: '{"query":"{__typename}"}' }, 401, 'UNAUTHENTICATED', false],
    ['GraphQL PUT with a body', { path: '/graphql', method: 'PUT', headers: json, body: '{"query":"{__typename}"}' }, 405, 'METHOD_NOT_ALLOWED', false],
    ['GraphQL syntax error', { path: '/graphql', method: 'POST', headers: json, body: '{"query":"{ orders("}' }, 400, 'GRAPHQL_PARSE_FAILED', false],
  ];
  for (const [name, request, status, code, mayClose] of cases) {
    for (const [followName, followUp] of Object.entries(followUps)) {
      it(`${name} (${status}), then ${followName}`, async () => {
        const { first, second, connections } = await errorThen(request, followUp);
        expect([first.status, errorCode(first.body)]).toEqual([status, code]);
        expect(second.status).toBeLessThan(300);
        const closed = first.headers.connection === 'close';
        // A refusal that leaves nothing unread keeps the connection; one that closes says so first.
        expect(closed).toBe(mayClose);
        expect(connections).toBe(closed ? 2 : 1);
      });
    }
  }

  it('an invalid status move (409) and a reused idempotency key (422), then a create, on one connection', async () => {
    const created = await errorThen(followUps.create, followUps.list);
    const id = (created.first.body.data as { id: string }).id;
    const move = await errorThen(
      { path: `/api/orders/${id}`, method: 'PUT', headers: json, body: '{"status":"delivered"}' },
      followUps.create,
    );
    expect([move.first.status, errorCode(move.first.body), move.second.status, move.connections]).toEqual([409, 'INVALID_STATUS_TRANSITION', 201, 1]);
    const key = { ...json, 'idempotency-key': `k-${Date.now()}` };
    await errorThen({ path: '/api/orders', method: 'POST', headers: key, body: order('a') }, followUps.list);
    const reused = await errorThen({ path: '/api/orders', method: 'POST', headers: key, body: order('b') }, followUps.create);
    expect([reused.first.status, errorCode(reused.first.body), reused.second.status, reused.connections]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED', 201, 1]);
  });
});

/** One HTTP/1.1 response read off a socket. */
interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses as many complete responses (Content-Length or chunked) as `data` holds; `rest` is what is left. */
function parseResponses(data: Buffer): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine, ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyEnd: number;
    let body: Buffer;
    if (status < 200) {
      // 100 Continue: no body.
      at = end + 4;
      continue;
    } else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      let p = end + 4;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(p, lineEnd).toString(), 16);
        if (data.length < lineEnd + 2 + size + 2) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyEnd = p;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (data.length < end + 4 + length) break;
      body = data.subarray(end + 4, end + 4 + length);
      bodyEnd = end + 4 + length;
    }
    responses.push({ status, headers, body: body.toString() });
    at = bodyEnd;
  }
  return { responses, rest: data.subarray(at) };
}

/**
 * Writes `parts` on one socket (each after `gapMs`), then reads until `expected` responses came or the
 * server closed or reset the socket (at most 10 s). `ended` is how the socket ended.
 */
function exchange(parts: (string | Buffer)[], expected: number, gapMs = 0) {
  return new Promise<{ responses: RawResponse[]; rest: string; ended: 'fin' | 'reset' | 'open' }>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let ended: 'fin' | 'reset' | 'open' = 'open';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const { responses, rest } = parseResponses(data);
      resolve({ responses, rest: rest.toString(), ended });
    };
    const timer = setTimeout(finish, 10_000);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (parseResponses(data).responses.length >= expected) finish();
    });
    socket.on('end', () => {
      ended = 'fin';
      finish();
    });
    socket.on('error', () => {
      ended = 'reset';
      finish();
    });
    socket.once('connect', () => {
      void (async () => {
        for (const part of parts) {
          if (gapMs > 0) await sleep(gapMs);
          if (!socket.destroyed) socket.write(part);
        }
      })();
    });
  });
}

const rawRequest = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) => {
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: ${auth}`];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  if (body !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), Buffer.from(body ?? '')]);
};

describe('pipelining: several requests written at once on one socket', { timeout: TIMEOUT }, () => {
  it('answers each, in order and whole, a malformed JSON body in the middle included', async () => {
    const { responses, ended, rest } = await exchange(
      [
        Buffer.concat([
          rawRequest('GET', '/api/orders?limit=1'),
          rawRequest('POST', '/api/orders', '{"customer_id":'),
          rawRequest('POST', '/api/orders', order('pipelined')),
          rawRequest('POST', '/graphql', '{"query":'),
          rawRequest('POST', '/graphql', JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' })),
          rawRequest('DELETE', '/api/orders', '{}'),
          rawRequest('GET', '/api/orders?customer_id=pipelined'),
        ]),
      ],
      7,
    );
    expect(responses.map((response) => response.status)).toEqual([200, 400, 201, 400, 200, 405, 200]);
    // The same connection headers as on any other answer, so a pool knows how long it may keep the connection.
    for (const response of responses) expect([response.headers.connection, response.headers['keep-alive']]).toEqual(['keep-alive', 'timeout=5']);
    for (const response of responses) expect(() => JSON.parse(response.body)).not.toThrow();
    expect(JSON.parse(responses[6]?.body ?? '{}').pagination.total).toBe(1);
    expect([ended, rest]).toEqual(['open', '']);
  });

  it('a malformed body from a client that asked for Connection: close: the 400, then the close it asked for', async () => {
    const { responses, ended } = await exchange([rawRequest('POST', '/api/orders', '{"x":', { Connection: 'close' })], 2);
    expect(responses.map((response) => [response.status, response.headers.connection])).toEqual([[400, 'close']]);
    expect(ended).toBe('fin');
  });

  it('a body over the limit in the middle: its 413 closes the connection after the answers before it, cleanly', async () => {
    const { responses, ended, rest } = await exchange(
      [
        Buffer.concat([
          rawRequest('GET', '/api/orders?limit=1'),
          rawRequest('POST', '/api/orders', 'x'.repeat(BODY_LIMIT + 1)),
          rawRequest('GET', '/api/orders?limit=1'),
        ]),
      ],
      3,
    );
    expect(responses.map((response) => [response.status, response.headers.connection])).toEqual([
      [200, 'keep-alive'],
      [413, 'close'],
    ]);
    expect([ended, rest]).toEqual(['fin', '']);
  });

  it('a chunked body over the limit, sent whole, with a request behind it: the 413, then a FIN, no reset', async () => {
    const head = `POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunk = `${(1000).toString(16)}\r\n${'['.padEnd(1000, ' ')}\r\n`;
    const { responses, ended, rest } = await exchange(
      [Buffer.concat([Buffer.from(head + chunk.repeat(8) + '0\r\n\r\n'), rawRequest('GET', '/api/orders?limit=1')])],
      2,
    );
    expect(responses.map((response) => [response.status, response.headers.connection])).toEqual([[413, 'close']]);
    expect(JSON.parse(responses[0]?.body ?? '{}').error.code).toBe('PAYLOAD_TOO_LARGE');
    expect([ended, rest]).toEqual(['fin', '']);
  });

  it('undici Client with pipelining 4: an oversized PUT answered 413 (closing), and the GETs queued behind it still succeed', async () => {
    const client = new Client(base, { pipelining: 4 });
    try {
      const answers = await Promise.all(
        [
          { path: '/api/orders/order_x', method: 'PUT' as const, body: 'x'.repeat(BODY_LIMIT + 1) },
          ...Array.from({ length: 3 }, () => ({ path: '/api/orders?limit=1', method: 'GET' as const })),
        ].map(async (request) => {
          const answer = await client.request({ ...request, headers: { authorization: auth, ...json } });
          await answer.body.text();
          return answer.statusCode;
        }),
      );
      expect(answers).toEqual([413, 200, 200, 200]);
    } finally {
      await client.close();
    }
  });

  it('undici Client with pipelining 4: GETs pipelined behind a malformed PUT all succeed, on one connection', async () => {
    const client = new Client(base, { pipelining: 4 });
    let connections = 0;
    client.on('connect', () => connections++);
    try {
      const created = await client.request({ path: '/api/orders', method: 'POST', headers: { authorization: auth, ...json }, body: order() });
      const { data } = (await created.body.json()) as { data: { id: string } };
      const answers = await Promise.all(
        [
          { path: `/api/orders/${data.id}`, method: 'PUT' as const, body: '{"notes":' },
          ...Array.from({ length: 6 }, () => ({ path: `/api/orders/${data.id}`, method: 'GET' as const })),
        ].map(async (request) => {
          const answer = await client.request({ ...request, headers: { authorization: auth, ...json } });
          await answer.body.text();
          return answer.statusCode;
        }),
      );
      expect(answers).toEqual([400, 200, 200, 200, 200, 200, 200]);
      expect(connections).toBe(1);
    } finally {
      await client.close();
    }
  });
});

describe('slow bodies, Expect: 100-continue, and bodies on GET and DELETE', { timeout: TIMEOUT }, () => {
  it('a create whose body arrives in pieces, then a GET, on one socket', async () => {
    const request = rawRequest('POST', '/api/orders', order('slow'));
    const pieces = [request.subarray(0, 40), request.subarray(40, 200), request.subarray(200)];
    const { responses, ended } = await exchange([...pieces, rawRequest('GET', '/api/orders?customer_id=slow')], 2, 150);
    expect(responses.map((response) => response.status)).toEqual([201, 200]);
    expect(ended).toBe('open');
  });

  it('a malformed body sent in pieces, then a create, on one socket', async () => {
    const request = rawRequest('POST', '/api/orders', `{"customer_id": "slow-bad", ${' '.repeat(300)}`);
    const { responses, ended } = await exchange(
      [request.subarray(0, 100), request.subarray(100, 300), request.subarray(300), rawRequest('POST', '/api/orders', order())],
      2,
      150,
    );
    expect(responses.map((response) => response.status)).toEqual([400, 201]);
    expect(ended).toBe('open');
  });

  it('Expect: 100-continue: 100, then the 201, then the next request on the same socket', async () => {
    const body = order('continue');
    const head = rawRequest('POST', '/api/orders', undefined, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      Expect: '100-continue',
    });
    const { responses, ended } = await exchange([head, body, rawRequest('GET', '/api/orders?customer_id=continue')], 2, 150);
    expect(responses.map((response) => response.status)).toEqual([201, 200]);
    expect(JSON.parse(responses[1]?.body ?? '{}').pagination.total).toBe(1);
    expect(ended).toBe('open');
  });

  it('Expect: 100-continue with a malformed body: the 400, and the connection stays for the next request', async () => {
    const body = '{"customer_id": "continue-bad",';
    const head = rawRequest('POST', '/graphql', undefined, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      Expect: '100-continue',
    });
    const { responses, ended } = await exchange([head, body, rawRequest('GET', '/api/orders?limit=1')], 2, 150);
    expect(responses.map((response) => [response.status, response.headers.connection])).toEqual([
      [400, 'keep-alive'],
      [200, 'keep-alive'],
    ]);
    expect(JSON.parse(responses[0]?.body ?? '{}').errors[0].extensions.code).toBe('INVALID_JSON');
    expect(ended).toBe('open');
  });

  it('GET and DELETE with a body: answered, the body skipped, and the next request is not mistaken for it', async () => {
    const { responses, ended } = await exchange(
      [
        Buffer.concat([
          rawRequest('GET', '/api/orders?limit=1', '{"ignored": true}'),
          rawRequest('DELETE', '/api/orders/order_x', 'GET /api/orders HTTP/1.1\r\n\r\n'),
          rawRequest('GET', '/api/orders?limit=1'),
        ]),
      ],
      3,
    );
    expect(responses.map((response) => response.status)).toEqual([200, 405, 200]);
    expect(ended).toBe('open');
  });
});

describe('the Artillery case: a malformed body, then a create, under light concurrency (undici Pool)', { timeout: TIMEOUT }, () => {
  it('every create after a malformed body is answered 201; no socket error, no timeout', async () => {
    const pool = new Pool(base, { connections: 4, pipelining: 1, headersTimeout: 8_000, bodyTimeout: 8_000 });
    const failures: string[] = [];
    const statuses: number[] = [];
    const send = async (body: string) => {
      try {
        const answer = await pool.request({ path: '/api/orders', method: 'POST', headers: { authorization: auth, ...json }, body });
        await answer.body.text();
        statuses.push(answer.statusCode);
      } catch (error) {
        failures.push(`${(error as { code?: string }).code}: ${(error as Error).message}`);
      }
    };
    const virtualUser = async (user: number) => {
      for (let round = 0; round < 5; round++) {
        await send('{"customer_id": "artillery", "items": [');
        await send(order(`artillery-${user}`));
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, user) => virtualUser(user)));
    await pool.close();
    expect(failures).toEqual([]);
    expect(statuses.filter((status) => status === 201)).toHaveLength(30);
    expect(statuses.filter((status) => status === 400)).toHaveLength(30);
  });
});

describe('over the rate limit (429), then another key on the same connection', { timeout: TIMEOUT }, () => {
  let limited: TestApp;
  let limitedBase: string;
  beforeAll(async () => {
    limited = await createTestApp({ rateLimitPerMinute: 2 });
    await limited.app.http.listen({ port: 0, host: '127.0.0.1' });
    limitedBase = `http://127.0.0.1:${(limited.app.http.server.address() as net.AddressInfo).port}`;
  }, 60_000);
  afterAll(() => limited?.close());

  it('answers 429 with Retry-After and keeps the connection for the next key', async () => {
    const [busy, other] = [await limited.bearer('busy'), await limited.bearer('other')];
    const client = new Client(limitedBase, { pipelining: 1 });
    let connections = 0;
    client.on('connect', () => connections++);
    try {
      const statuses: number[] = [];
      let retryAfter: unknown;
      for (const authorization of [busy, busy, busy, other]) {
        const answer = await client.request({ path: '/api/orders', method: 'POST', headers: { authorization, ...json }, body: order() });
        await answer.body.text();
        statuses.push(answer.statusCode);
        if (answer.statusCode === 429) retryAfter = answer.headers['retry-after'];
      }
      expect(statuses).toEqual([201, 201, 429, 201]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
      expect(connections).toBe(1);
    } finally {
      await client.close();
    }
  });
});
