import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { hashApiKey } from '../../src/auth/api-key';
import { loadConfig } from '../../src/config/config';
import { createTestApp, type TestApp } from '../support/app';
import { appOnSameDatabase, type ExtraApp } from '../support/more-apps';
import { REDIS_URL } from '../support/services';

const ORDER = { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 1, price: '5.00' }], total: '5.00' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Injectable = { http: TestApp['app']['http'] };
const restGet = (app: Injectable, authorization?: string, remoteAddress = '127.0.0.1') =>
  app.http.inject({ method: 'GET', url: '/api/orders', headers: authorization ? { authorization } : {}, remoteAddress });
const gql = (app: Injectable, authorization?: string, remoteAddress = '127.0.0.1') =>
  app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    payload: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }),
    remoteAddress,
  });

describe('the per-key limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ rateLimitPerMinute: 5 });
  });
  afterAll(() => t.close());

  it('puts X-RateLimit-Limit and X-RateLimit-Remaining on every /api and /graphql response, one budget for both transports', async () => {
    const auth = await t.bearer('acme');
    const responses = [
      await restGet(t.app, auth),
      await t.app.http.inject({ method: 'GET', url: '/api/orders/order_nope', headers: { authorization: auth } }),
      await gql(t.app, auth),
      await t.app.http.inject({ method: 'POST', url: '/api/orders', headers: { authorization: auth, 'content-type': 'application/json' }, payload: '{' }),
      await t.app.http.inject({ method: 'POST', url: '/api/orders', headers: { authorization: auth, 'content-type': 'application/json' }, payload: JSON.stringify(ORDER) }),
    ];
    expect(responses.map((res) => res.statusCode)).toStrictEqual([200, 404, 200, 400, 201]);
    expect(responses.map((res) => res.headers['x-ratelimit-limit'])).toStrictEqual(['5', '5', '5', '5', '5']);
    expect(responses.map((res) => res.headers['x-ratelimit-remaining'])).toStrictEqual(['4', '3', '2', '1', '0']);
    for (const res of responses) expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
  });

  it('answers 429 RATE_LIMITED with Retry-After past the limit, in the REST envelope and as a GraphQL error, without authenticating', async () => {
    const auth = await t.bearer('acme');
    for (let i = 0; i < 5; i++) expect((await restGet(t.app, auth)).statusCode).toBe(200);
    const authenticate = vi.spyOn(t.app.services.auth, 'authenticate');
    try {
      const rest = await restGet(t.app, auth);
      expect(rest.statusCode).toBe(429);
      expect(rest.json()).toStrictEqual({
        success: false,
        error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^Rate limit of 5 requests a minute exceeded; retry in \d+ s$/), request_id: rest.headers['x-request-id'] },
      });
      const retryAfter = Number(rest.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(rest.headers).toMatchObject({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0' });

      const graphql = await gql(t.app, auth);
      expect(graphql.statusCode).toBe(429);
      expect(graphql.headers['content-type']).toMatch(/^application\/json/);
      expect(graphql.json()).toStrictEqual({
        errors: [{ message: expect.stringMatching(/^Rate limit of 5 requests a minute exceeded/), extensions: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) } }],
      });
      expect(Number(graphql.headers['retry-after'])).toBeGreaterThan(0);
      expect(authenticate).not.toHaveBeenCalled();
    } finally {
      authenticate.mockRestore();
    }
  });

  it('counts each key on its own, even in one workspace', async () => {
    const spent = await t.bearer('acme');
    const fresh = await t.bearer('acme');
    for (let i = 0; i < 6; i++) await restGet(t.app, spent);
    expect((await restGet(t.app, spent)).statusCode).toBe(429);
    const res = await restGet(t.app, fresh);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('4');
  });

  it('counts requests without a usable key against their address', async () => {
    const first = await restGet(t.app, undefined, '10.1.1.1');
    expect(first.statusCode).toBe(401);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '4' });
    const second = await gql(t.app, 'Bearer not-a-key', '10.1.1.1');
    expect(second.statusCode).toBe(401);
    expect(second.headers['x-ratelimit-remaining']).toBe('3');
  });

  it('leaves routes outside /api and /graphql alone', async () => {
    const res = await t.app.http.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
  });
});

describe('the window', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ rateLimitPerMinute: 2, rateLimitWindowMs: 1000 });
  });
  afterAll(() => t.close());

  it('resets when the window ends', async () => {
    const auth = await t.bearer('acme');
    expect((await restGet(t.app, auth)).statusCode).toBe(200);
    expect((await restGet(t.app, auth)).statusCode).toBe(200);
    const limited = await restGet(t.app, auth);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    await sleep(1100);
    const again = await restGet(t.app, auth);
    expect(again.statusCode).toBe(200);
    expect(again.headers['x-ratelimit-remaining']).toBe('1');
  });
});

describe('the failed-authentication limit per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ authFailuresPerMinute: 3 });
  });
  afterAll(() => t.close());

  it('refuses an address with 429 once it has failed authentication too often, before looking any key up', async () => {
    const good = await t.bearer('acme');
    const attacker = '203.0.113.7';
    const wrong = `Bearer ogk_${'A'.repeat(43)}`;
    expect((await restGet(t.app, wrong, attacker)).statusCode).toBe(401);
    expect((await gql(t.app, wrong, attacker)).statusCode).toBe(401);
    expect((await restGet(t.app, undefined, attacker)).statusCode).toBe(401);

    const authenticate = vi.spyOn(t.app.services.auth, 'authenticate');
    try {
      const refused = await restGet(t.app, wrong, attacker);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/^Too many failed authentication attempts/) });
      expect(refused.headers).toMatchObject({ 'x-ratelimit-limit': '3', 'x-ratelimit-remaining': '0' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // For the rest of the window the address is refused whatever it sends, on both transports.
      expect((await restGet(t.app, good, attacker)).statusCode).toBe(429);
      const graphql = await gql(t.app, good, attacker);
      expect(graphql.statusCode).toBe(429);
      expect(graphql.json().errors[0].extensions.code).toBe('RATE_LIMITED');
      expect(authenticate).not.toHaveBeenCalled();

      // Other addresses are not affected.
      expect((await restGet(t.app, good, '198.51.100.1')).statusCode).toBe(200);
      expect((await restGet(t.app, wrong, '198.51.100.1')).statusCode).toBe(401);
    } finally {
      authenticate.mockRestore();
    }
  });

  it('does not count successful requests', async () => {
    const good = await t.bearer('acme');
    for (let i = 0; i < 10; i++) expect((await restGet(t.app, good, '192.0.2.44')).statusCode).toBe(200);
  });
});

describe('the failed-authentication limit behind one proxy (TRUST_PROXY=true)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ authFailuresPerMinute: 3, trustProxy: loadConfig({ TRUST_PROXY: 'true' }).trustProxy });
  });
  afterAll(() => t.close());

  it('counts the address the proxy added to X-Forwarded-For, never one the client wrote before it', async () => {
    const wrong = `Bearer ogk_${'A'.repeat(43)}`;
    // What HAProxy's option forwardfor and nginx's $proxy_add_x_forwarded_for send: the client's header, then its address.
    const viaProxy = (claimed: string, client: string) =>
      t.app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: wrong, 'x-forwarded-for': `${claimed}, ${client}` }, remoteAddress: '10.0.0.5' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await viaProxy(`192.0.2.${i}`, '203.0.113.9')).statusCode);
    expect(statuses).toStrictEqual([401, 401, 401, 429]);
    // Another client behind the same proxy has its own count.
    expect((await viaProxy('203.0.113.9', '198.51.100.20')).statusCode).toBe(401);
  });
});

/** Opens a graphql-ws socket and sends connection_init: how the server closed it, or the status that refused the upgrade (once the server closed that connection). */
function connectionInit(url: string, authorization: string): Promise<{ code: number; reason: string } | { status: number }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })));
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    socket.on('unexpected-response', (_request, response) => {
      // Only once the server has closed the connection: a refused upgrade's socket used to stay open,
      // and the server's close() then waited for it for ever.
      response.socket.on('close', () => resolve({ status: response.statusCode ?? 0 }));
      response.resume();
    });
  });
}

describe('the failed-authentication limit over WebSocket (subscriptions)', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp({ authFailuresPerMinute: 2 });
    url = `${(await t.app.http.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws')}/graphql`;
  });
  afterAll(() => t.close());

  it('counts a key refused in connection_init like a 401, so guessing keys over WebSocket meets the same limit', async () => {
    const good = await t.bearer('acme');
    const wrong = `Bearer ogk_${'D'.repeat(43)}`;
    expect(await connectionInit(url, wrong)).toStrictEqual({ code: 4403, reason: 'Forbidden' });
    expect(await connectionInit(url, wrong)).toStrictEqual({ code: 4403, reason: 'Forbidden' });
    // From now on the address is refused before any lookup: the next upgrade, and HTTP on both transports.
    expect(await connectionInit(url, good)).toStrictEqual({ status: 429 });
    expect((await restGet(t.app, good, '127.0.0.1')).statusCode).toBe(429);
    expect((await gql(t.app, good, '127.0.0.1')).statusCode).toBe(429);
    // Other addresses are not affected.
    expect((await restGet(t.app, good, '198.51.100.2')).statusCode).toBe(200);
  });

  it('says why in the close reason when attempts arriving together pass the limit', async () => {
    const wrong = `Bearer ogk_${'E'.repeat(43)}`;
    // A fresh address would be needed for a clean count; the sockets all come from 127.0.0.1, already
    // refused above, so this one shows the reason on a server with a limit of one.
    const one = await createTestApp({ authFailuresPerMinute: 1 });
    try {
      const at = `${(await one.app.http.listen({ port: 0, host: '127.0.0.1' })).replace('http', 'ws')}/graphql`;
      const closes = await Promise.all([connectionInit(at, wrong), connectionInit(at, wrong), connectionInit(at, wrong)]);
      expect(closes).toContainEqual({ code: 4403, reason: 'Forbidden' });
      expect(closes).toContainEqual({
        code: 4403,
        reason: expect.stringMatching(/^Forbidden: Too many failed authentication attempts from this address; retry in \d+ s$/),
      });
    } finally {
      await one.close();
    }
  });
});

describe('the failed-authentication limit, window by window', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ authFailuresPerMinute: 2, rateLimitWindowMs: 1000 });
  });
  afterAll(() => t.close());

  it('refuses the address until its window ends, then counts its failures afresh', async () => {
    const good = await t.bearer('acme');
    const wrong = `Bearer ogk_${'C'.repeat(43)}`;
    const address = '203.0.113.20';
    // Requests from an address that never failed are served as usual.
    expect((await restGet(t.app, good, address)).statusCode).toBe(200);
    expect((await restGet(t.app, wrong, address)).statusCode).toBe(401);
    expect((await restGet(t.app, wrong, address)).statusCode).toBe(401);
    expect((await restGet(t.app, wrong, address)).statusCode).toBe(429);
    expect((await restGet(t.app, good, address)).statusCode).toBe(429);
    expect((await gql(t.app, good, address)).statusCode).toBe(429);
    await sleep(1100);
    expect((await restGet(t.app, good, address)).statusCode).toBe(200);
    expect((await restGet(t.app, wrong, address)).statusCode).toBe(401);
    expect((await restGet(t.app, wrong, address)).statusCode).toBe(401);
    expect((await restGet(t.app, good, address)).statusCode).toBe(429);
  });
});

describe('the failed-authentication limit under concurrency', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ authFailuresPerMinute: 30 });
  });
  afterAll(() => t.close());

  it('answers exactly 30 attempts with 401 when 45 arrive at once, on both transports: counting and checking are one step', async () => {
    const wrong = `Bearer ogk_${'C'.repeat(43)}`;
    const address = '203.0.113.30';
    const responses = await Promise.all(
      Array.from({ length: 45 }, (_, i) => (i % 3 === 0 ? gql(t.app, wrong, address) : restGet(t.app, i % 3 === 1 ? wrong : undefined, address))),
    );
    const statuses = responses.map((res) => res.statusCode);
    expect(statuses.filter((status) => status === 401)).toHaveLength(30);
    expect(statuses.filter((status) => status === 429)).toHaveLength(15);
    for (const res of responses.filter((r) => r.statusCode === 429)) {
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['x-ratelimit-limit']).toBe('30');
    }
  });
});

const redisUrl = REDIS_URL();
// Redis is optional for a newcomer: without one these tests skip, saying why (CI requires it).
const redis = inject('redis');

describe.skipIf(!redis.up)(`Redis: one limit across gateway processes${redis.up ? '' : ` (${redis.reason})`}`, () => {
  // A prefix of its own, so that no other run (or test file) shares these counters.
  const prefix = `og-test:${randomUUID()}:`;
  let t: TestApp;
  let second: ExtraApp;
  let client: Redis;

  beforeAll(async () => {
    const limits = { rateLimitPerMinute: 4, authFailuresPerMinute: 2, redisUrl, rateLimitRedisPrefix: prefix };
    t = await createTestApp(limits);
    second = await appOnSameDatabase(t.app.db, limits);
    client = new Redis(redisUrl);
  });
  afterEach(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
    await client?.quit();
  });

  it('shares one key’s budget between two app instances', async () => {
    const auth = await t.bearer('acme');
    const one = t.app;
    const two = second.app;
    const seen = [];
    for (const app of [one, two, one, two, one, two]) {
      const res = await restGet(app, auth);
      seen.push([res.statusCode, res.headers['x-ratelimit-remaining']]);
    }
    expect(seen).toStrictEqual([
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'],
      [429, '0'],
      [429, '0'],
    ]);
    expect((await gql(two, auth)).statusCode).toBe(429);
  });

  it('counts failures atomically across instances: of 12 at once, exactly 2 get 401', async () => {
    const wrong = `Bearer ogk_${'D'.repeat(43)}`;
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => restGet(i % 2 === 0 ? t.app : second.app, wrong, '203.0.113.12')));
    const statuses = responses.map((res) => res.statusCode).sort();
    expect(statuses).toStrictEqual([...Array(2).fill(401), ...Array(10).fill(429)]);
  });

  it('shares the failed-authentication count too', async () => {
    const wrong = `Bearer ogk_${'B'.repeat(43)}`;
    expect((await restGet(t.app, wrong, '203.0.113.9')).statusCode).toBe(401);
    expect((await restGet(second.app, wrong, '203.0.113.9')).statusCode).toBe(401);
    expect((await restGet(t.app, wrong, '203.0.113.9')).statusCode).toBe(429);
    expect((await restGet(second.app, wrong, '203.0.113.9')).statusCode).toBe(429);
  });

  it('names its Redis keys after the key’s hash, never the key', async () => {
    const auth = await t.bearer('acme');
    const key = auth.slice('Bearer '.length);
    await restGet(t.app, auth);
    const keys = await client.keys(`${prefix}*`);
    expect(keys).toContain(`${prefix}key:${hashApiKey(key)}`);
    expect(keys.some((name) => name.includes(key))).toBe(false);
  });
});
