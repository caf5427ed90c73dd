/**
 * A single-page app on another origin calling the gateway from real Chromium
 * (Debian's, through playwright-core), with CORS_ORIGINS listing that origin as
 * the README says: fetch and XMLHttpRequest on REST and GraphQL, graphql-ws
 * (its browser build) for a subscription. What a browser developer sees: the
 * preflights pass, JavaScript can read the headers it needs and the error
 * envelopes (never an opaque "Failed to fetch"), the console has no CORS error
 * on the happy paths, and an origin that is not listed gets nothing.
 *
 * The page is served from `http://localhost:<port>`; the same server as
 * `http://127.0.0.1:<port>` is another origin, the one that is not listed.
 * The gateway is built in this process (`createTestApp`), so the test runs on
 * the embedded database or on DATABASE_URL's server.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { launchChromium } from '../support/chromium';

/** The little of the browser's XMLHttpRequest used below (the project compiles without lib "dom"). */
interface BrowserXhr {
  status: number;
  responseText: string;
  onload: () => void;
  onerror: () => void;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: string): void;
}
declare const XMLHttpRequest: new () => BrowserXhr;

// graphql-ws's browser build (its `exports` do not list the file, so it is found beside package.json).
const GRAPHQL_WS_UMD = path.join(path.dirname(require.resolve('graphql-ws/package.json')), 'umd/graphql-ws.min.js');

let pages: http.Server;
let pagePort: number;
let t: TestApp;
let gateway: string;
let browser: Browser;
let context: BrowserContext;

/** The listed origin (the app's) and one that is not. */
const listedOrigin = () => `http://localhost:${pagePort}`;
const strangerOrigin = () => `http://127.0.0.1:${pagePort}`;

beforeAll(async () => {
  pages = http.createServer((request, response) => {
    if (request.url === '/graphql-ws.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      return void response.end(fs.readFileSync(GRAPHQL_WS_UMD));
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html><head><title>shop admin</title><script src="/graphql-ws.js"></script></head><body>SPA</body></html>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagePort = (pages.address() as AddressInfo).port;
  t = await createTestApp({ corsOrigins: [listedOrigin()], rateLimitPerMinute: 40 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  gateway = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  browser = await launchChromium();
  context = await browser.newContext();
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await new Promise((resolve) => pages?.close(resolve));
});

interface Opened {
  page: Page;
  /** Every console message and uncaught exception, as text. */
  console: string[];
}

async function openApp(origin = listedOrigin()): Promise<Opened> {
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => console.push(`pageerror: ${error.message}`));
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  return { page, console };
}

const corsErrors = (lines: string[]) => lines.filter((line) => /CORS|Access-Control|cross-origin/i.test(line));

/** What the page's JavaScript could read of a fetch: the status, the named headers and the body, or the TypeError. */
interface Seen {
  status?: number;
  headers?: Record<string, string | null>;
  body?: unknown;
  failed?: string;
}

/** Runs `fetch(gateway + path, init)` in the page and returns what its JavaScript saw. */
function pageFetch(page: Page, path: string, init: { method?: string; headers?: Record<string, string>; body?: string }, read: string[] = []): Promise<Seen> {
  return page.evaluate(
    async ({ url, init, read }) => {
      try {
        const response = await fetch(url, init);
        const text = await response.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: kept as text
        }
        return {
          status: response.status,
          headers: Object.fromEntries(read.map((name) => [name, response.headers.get(name)])),
          body,
        };
      } catch (error) {
        return { failed: String(error) };
      }
    },
    { url: gateway + path, init, read },
  );
}

const ORDER = {
  customer_id: 'contact_spa',
  items: [{ product_id: 'prod_001', name: 'Premium Widget', quantity: 2, price: '99.00', sku: 'WGT-PRE' }],
  total: '198.00',
  currency: 'USD',
};

describe('a single-page app on a listed origin', () => {
  it('creates, replays, reads and updates an order over REST with fetch, reading every header it needs, with no CORS error', async () => {
    const { page, console } = await openApp();
    const key = await t.bearer('spa-rest');
    const create = {
      method: 'POST',
      headers: { Authorization: key, 'Content-Type': 'application/json', 'Idempotency-Key': 'spa-create-1', 'X-Request-Id': 'spa-req-1' },
      body: JSON.stringify(ORDER),
    };
    const read = ['location', 'x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'idempotent-replayed'];
    const first = await pageFetch(page, '/api/orders', create, read);
    expect(first).toMatchObject({ status: 201, body: { success: true, data: { total: 198 } } });
    const id = (first.body as { data: { id: string } }).data.id;
    expect(first.headers).toEqual({
      location: `/api/orders/${id}`,
      'x-request-id': 'spa-req-1',
      'x-ratelimit-limit': '40',
      'x-ratelimit-remaining': expect.stringMatching(/^\d+$/),
      'x-ratelimit-reset': expect.stringMatching(/^\d+$/),
      'idempotent-replayed': null,
    });
    const replay = await pageFetch(page, '/api/orders', create, ['idempotent-replayed', 'location']);
    expect(replay).toMatchObject({ status: 201, headers: { 'idempotent-replayed': 'true', location: `/api/orders/${id}` } });

    expect(await pageFetch(page, `/api/orders/${id}`, { headers: { Authorization: key } })).toMatchObject({
      status: 200,
      body: { data: { id, status: 'pending' } },
    });
    const update = await pageFetch(page, `/api/orders/${id}`, {
      method: 'PUT',
      headers: { Authorization: key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'paid' }),
    });
    expect(update).toMatchObject({ status: 200, body: { data: { status: 'paid' } } });
    expect(corsErrors(console)).toEqual([]);
  });

  it('runs GraphQL over POST (fetch and XMLHttpRequest) and GET, with no CORS error', async () => {
    const { page, console } = await openApp();
    const key = await t.bearer('spa-graphql');
    const mutation = {
      query: 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id total } userErrors { code } } }',
      variables: { input: { customerId: 'contact_spa', items: [{ productId: 'p1', quantity: 1, price: '5.00' }], total: '5.00' } },
    };
    const created = await pageFetch(page, '/graphql', {
      method: 'POST',
      headers: { Authorization: key, 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify(mutation),
    });
    expect(created).toMatchObject({ status: 200, body: { data: { createOrder: { order: { total: '5.00' }, userErrors: [] } } } });

    const viaXhr = await page.evaluate(
      ({ url, key }) =>
        new Promise<{ status: number; requestId: string | null; body: string }>((resolve, reject) => {
          const xhr = new XMLHttpRequest();
          xhr.open('POST', url);
          xhr.setRequestHeader('Authorization', key);
          xhr.setRequestHeader('Content-Type', 'application/json');
          xhr.onload = () => resolve({ status: xhr.status, requestId: xhr.getResponseHeader('X-Request-Id'), body: xhr.responseText });
          xhr.onerror = () => reject(new Error('XMLHttpRequest failed'));
          xhr.send(JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }));
        }),
      { url: `${gateway}/graphql`, key },
    );
    expect(viaXhr.status).toBe(200);
    expect(viaXhr.requestId).toMatch(/./);
    expect(JSON.parse(viaXhr.body)).toEqual({ data: { orders: { totalCount: 1 } } });

    const get = await pageFetch(page, `/graphql?query=${encodeURIComponent('{ orders(first: 1) { totalCount } }')}`, {
      headers: { Authorization: key, 'Apollo-Require-Preflight': 'true' },
    });
    expect(get).toMatchObject({ status: 200, body: { data: { orders: { totalCount: 1 } } } });
    // Apollo Client with clientAwareness ({ name, version }) sends these two headers with every operation.
    const named = await pageFetch(page, '/graphql', {
      method: 'POST',
      headers: { Authorization: key, 'Content-Type': 'application/json', 'apollographql-client-name': 'shop-admin', 'apollographql-client-version': '1.4.0' },
      body: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }),
    });
    expect(named).toMatchObject({ status: 200, body: { data: { orders: { totalCount: 1 } } } });
    expect(corsErrors(console)).toEqual([]);
  });

  it('reads every error answer: status, code and the headers that go with it (401, 404, 405, 413, 415, 422, GraphQL errors)', async () => {
    const { page } = await openApp();
    const key = await t.bearer('spa-errors');
    const json = { Authorization: key, 'Content-Type': 'application/json' };
    const code = (seen: Seen) => (seen.body as { error?: { code: string } }).error?.code;

    const unauthenticated = await pageFetch(page, '/api/orders', {}, ['www-authenticate']);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers?.['www-authenticate']).toMatch(/^Bearer/);
    expect(code(unauthenticated)).toBe('UNAUTHORIZED');
    const badKey = await pageFetch(page, '/graphql', { method: 'POST', headers: { ...json, Authorization: 'Bearer ogk_nope' }, body: '{"query":"{ __typename }"}' }, ['www-authenticate']);
    expect(badKey).toMatchObject({ status: 401, body: { errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] } });

    expect(code(await pageFetch(page, '/api/orders/order_missing', { headers: { Authorization: key } }))).toBe('NOT_FOUND');
    expect(code(await pageFetch(page, '/api/nothing-here', { headers: { Authorization: key } }))).toBe('NOT_FOUND');
    const notAllowed = await pageFetch(page, '/api/orders/order_missing', { method: 'POST', headers: json, body: '{}' }, ['allow']);
    expect([notAllowed.status, code(notAllowed)]).toEqual([405, 'METHOD_NOT_ALLOWED']);
    expect(notAllowed.headers?.allow).toMatch(/^GET, HEAD, PUT/);
    const tooLarge = await pageFetch(page, '/api/orders', { method: 'POST', headers: json, body: JSON.stringify({ notes: 'x'.repeat(1_100_000) }) });
    expect([tooLarge.status, code(tooLarge)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const plainText = await pageFetch(page, '/api/orders', { method: 'POST', headers: { Authorization: key, 'Content-Type': 'text/plain' }, body: '{}' });
    expect([plainText.status, code(plainText)]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const invalid = await pageFetch(page, '/api/orders', { method: 'POST', headers: json, body: '{}' });
    expect([invalid.status, code(invalid)]).toEqual([422, 'VALIDATION_ERROR']);
    const broken = await pageFetch(page, '/api/orders', { method: 'POST', headers: json, body: '{' });
    expect([broken.status, code(broken)]).toEqual([400, 'INVALID_JSON']);
    // An id typed with a percent sign is a malformed URL, refused before routing: still readable.
    const typo = await pageFetch(page, '/api/orders/50%off', { headers: { Authorization: key } }, ['x-request-id']);
    expect([typo.status, code(typo)]).toEqual([400, 'INVALID_JSON']);
    expect(typo.headers?.['x-request-id']).toMatch(/./);
    const graphqlError = await pageFetch(page, '/graphql', { method: 'POST', headers: json, body: '{"query":"{ nope }"}' });
    expect(graphqlError).toMatchObject({ status: 400, body: { errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } });
  });

  it('reads a 429 and its Retry-After', async () => {
    const { page } = await openApp();
    const key = await t.bearer('spa-burst');
    const statuses = await page.evaluate(
      async ({ url, key }) => {
        const seen: { status: number; retryAfter: string | null; remaining: string | null }[] = [];
        for (let i = 0; i < 41; i++) {
          const response = await fetch(url, { headers: { Authorization: key } });
          seen.push({ status: response.status, retryAfter: response.headers.get('retry-after'), remaining: response.headers.get('x-ratelimit-remaining') });
        }
        return seen;
      },
      { url: `${gateway}/api/orders?limit=1`, key },
    );
    expect(statuses.slice(0, 40).every((seen) => seen.status === 200)).toBe(true);
    expect(statuses[40]).toEqual({ status: 429, retryAfter: expect.stringMatching(/^\d+$/), remaining: '0' });
  });

  it('hears orderCreated over graphql-ws from the page', async () => {
    const { page, console } = await openApp();
    const key = await t.bearer('spa-subscription');
    await page.evaluate(
      ({ url, key }) => {
        const client = (globalThis as unknown as { graphqlWs: { createClient(options: object): { subscribe(payload: object, sink: object): void } } }).graphqlWs.createClient({
          url,
          connectionParams: { authorization: key },
          retryAttempts: 0,
        });
        const seen: unknown[] = ((globalThis as unknown as { seen: unknown[] }).seen = []);
        client.subscribe(
          { query: 'subscription { orderCreated { customerId total } }' },
          { next: (value: unknown) => seen.push(value), error: (error: unknown) => seen.push({ error: String((error as { code?: number }).code ?? error) }), complete: () => undefined },
        );
      },
      { url: `${gateway.replace('http', 'ws')}/graphql`, key },
    );
    const workspace = (await t.app.services.auth.findWorkspace('spa-subscription'))!;
    await expect.poll(() => t.app.feed.listening(workspace.id), { timeout: 10_000 }).toBe(1);
    const created = await pageFetch(page, '/api/orders', {
      method: 'POST',
      headers: { Authorization: key, 'Content-Type': 'application/json' },
      body: JSON.stringify(ORDER),
    });
    expect(created.status).toBe(201);
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as { seen: unknown[] }).seen), { timeout: 10_000 })
      .toEqual([{ data: { orderCreated: { customerId: 'contact_spa', total: '198.00' } } }]);
    expect(corsErrors(console)).toEqual([]);
  });
});

describe('a page on an origin that is not listed', () => {
  it('cannot read any answer, even with a good key: the browser refuses it, and no credentials are allowed', async () => {
    const { page, console } = await openApp(strangerOrigin());
    const key = await t.bearer('stranger');
    const read = await pageFetch(page, '/api/orders', { headers: { Authorization: key } });
    expect(read.failed).toMatch(/TypeError: Failed to fetch/);
    const simple = await pageFetch(page, '/graphql', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    expect(simple.failed).toMatch(/TypeError: Failed to fetch/);
    expect(corsErrors(console).length).toBeGreaterThan(0);
    // A WebSocket is outside CORS: the gateway itself refuses the page's subscription (4403).
    const closed = await page.evaluate(
      ({ url, key }) =>
        new Promise<string>((resolve) => {
          const client = (globalThis as unknown as { graphqlWs: { createClient(options: object): { subscribe(payload: object, sink: object): void } } }).graphqlWs.createClient({
            url,
            connectionParams: { authorization: key },
            retryAttempts: 0,
          });
          client.subscribe(
            { query: 'subscription { orderCreated { id } }' },
            { next: () => resolve('next'), error: (error: unknown) => resolve(String((error as { code?: number }).code ?? error)), complete: () => resolve('complete') },
          );
        }),
      { url: `${gateway.replace('http', 'ws')}/graphql`, key },
    );
    expect(closed).toBe('4403');
    const preflight = await fetch(`${gateway}/api/orders`, {
      method: 'OPTIONS',
      headers: { Origin: strangerOrigin(), 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    expect(preflight.headers.get('vary')).toMatch(/Origin/);
  });
});
