/**
 * Every kind of answer the gateway gives, judged by http-cache-semantics (the
 * RFC 9111 rules got and npm's fetch use to decide what a cache may store) as
 * a shared cache: a CDN, nginx's proxy_cache, a corporate forward proxy.
 *
 * - Nothing that holds one workspace's data (REST reads, lists, creates,
 *   updates and errors; GraphQL over POST and GET; HEAD) may be stored.
 * - Probes and metrics describe this process now: not storable either.
 * - What a cache may keep (the OpenAPI document, the docs and the playground's
 *   assets) names in Vary everything its choice read: the Origin (CORS) and
 *   Accept-Encoding, also on the uncompressed answer.
 * - The playground's assets are immutable under the URL the page gives them.
 */
import { createHash } from 'node:crypto';
import CachePolicy from 'http-cache-semantics';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const SHOP = 'https://shop.example';
const OTHER = 'https://other.example';

let t: TestApp;
let acme = '';
let globex = '';
let orderId = '';

beforeAll(async () => {
  t = await createTestApp({ corsOrigins: [SHOP, OTHER] });
  acme = await t.bearer('acme');
  globex = await t.bearer('globex');
  const created = await send({ method: 'POST', url: '/api/orders', headers: { authorization: acme, 'content-type': 'application/json' }, payload: ORDER });
  if (created.response.status !== 201) throw new Error(created.response.raw);
  orderId = (created.response.body as { data: { id: string } }).data.id;
});
afterAll(() => t?.close());

const ORDER = JSON.stringify({
  customer_id: 'contact_cache',
  items: [{ product_id: 'p1', name: 'A widget with a long enough name to make the answer worth compressing '.repeat(5), quantity: 1, price: '5.00' }],
  total: '5.00',
  notes: 'n'.repeat(1500),
});

interface Exchange {
  request: CachePolicy.Request;
  response: CachePolicy.Response & { body: unknown; raw: string; rawPayload: Buffer };
  policy: CachePolicy;
}

async function send(options: InjectOptions & { url: string; method: string }): Promise<Exchange> {
  const headers = Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const res = await t.app.http.inject({ ...options, headers });
  const request = { method: options.method, url: options.url, headers };
  let body: unknown;
  try {
    body = res.headers['content-encoding'] ? undefined : res.json();
  } catch {
    body = undefined;
  }
  const response = { status: res.statusCode, headers: res.headers as Record<string, string>, body, raw: res.body, rawPayload: res.rawPayload };
  return { request, response, policy: new CachePolicy(request, response, { shared: true }) };
}

const varyOf = (exchange: Exchange) =>
  new Set(
    String(exchange.response.headers.vary ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );

describe('as a shared cache sees them', () => {
  it('no answer that holds a workspace’s orders, or says anything about a key, may be stored', async () => {
    const json = { 'content-type': 'application/json' };
    const gqlGet = `/graphql?query=${encodeURIComponent('{ orders(first: 5) { edges { node { id notes } } } }')}`;
    const requests: (InjectOptions & { url: string; method: string; name: string })[] = [
      { name: 'REST list', method: 'GET', url: '/api/orders' },
      { name: 'REST list, filtered', method: 'GET', url: '/api/orders?customer_id=contact_cache' },
      { name: 'REST read', method: 'GET', url: `/api/orders/${orderId}` },
      { name: 'REST HEAD', method: 'HEAD', url: `/api/orders/${orderId}` },
      { name: 'REST create', method: 'POST', url: '/api/orders', headers: json, payload: ORDER },
      { name: 'REST update', method: 'PUT', url: `/api/orders/${orderId}`, headers: json, payload: '{"notes":"updated"}' },
      { name: 'REST 404', method: 'GET', url: '/api/orders/order_01ARZ3NDEKTSV4RRFFQ69G5FAV' },
      { name: 'REST 422', method: 'GET', url: '/api/orders?limit=-1' },
      { name: 'REST 405', method: 'DELETE', url: `/api/orders/${orderId}` },
      { name: 'GraphQL POST', method: 'POST', url: '/graphql', headers: json, payload: JSON.stringify({ query: '{ orders(first: 5) { edges { node { id notes } } } }' }) },
      { name: 'GraphQL GET', method: 'GET', url: gqlGet },
      { name: 'GraphQL HEAD', method: 'HEAD', url: gqlGet },
      { name: 'GraphQL 400', method: 'GET', url: '/graphql?query=%7B' },
    ];
    const cases: [string, Record<string, string>][] = [
      ['the key of acme', { authorization: acme }],
      ['the key of acme, from a browser on an allowed origin, accepting gzip', { authorization: acme, origin: SHOP, 'accept-encoding': 'gzip, br' }],
      ['the key of another workspace', { authorization: globex }],
      ['no key', {}],
      ['a wrong key', { authorization: 'Bearer ogk_nope' }],
    ];
    for (const { name, ...request } of requests) {
      for (const [who, headers] of cases) {
        const exchange = await send({ ...request, headers: { ...headers, ...(request.headers as Record<string, string>) } });
        const label = `${name} with ${who} (${exchange.response.status})`;
        expect(exchange.policy.storable(), label).toBe(false);
        expect(String(exchange.response.headers['cache-control']), label).toMatch(/\bno-store\b/);
      }
    }
  });

  it('the playground page is not stored (it may hold the development key)', async () => {
    const page = await send({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
    expect(page.response.headers['content-type']).toMatch(/^text\/html/);
    expect(page.policy.storable()).toBe(false);
  });

  it.each(['/healthz', '/readyz', '/metrics'])('%s describes this process now: not storable', async (url) => {
    const exchange = await send({ method: 'GET', url });
    expect(exchange.response.status).toBe(200);
    expect(exchange.policy.storable()).toBe(false);
    expect(String(exchange.response.headers['cache-control'])).toMatch(/\bno-store\b/);
  });
});

describe('what a shared cache may keep', () => {
  const publicUrls = async () => {
    const page = await send({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
    const assets = [...page.response.raw.matchAll(/(?:src|href)="((?:\.)?\/graphql\/assets\/[^"]+)"/g)].map(
      // The page names them relative to itself (it may be served under a path prefix).
      (m) => {
        const url = new URL(m[1] ?? '', 'http://gateway/graphql');
        return url.pathname + url.search;
      },
    );
    expect(assets.length).toBeGreaterThan(5);
    return ['/openapi.json', '/docs/json', '/docs', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', ...assets];
  };

  it('names Accept-Encoding in Vary on the uncompressed answer too, so a cache that kept it does not hand it to every client that takes gzip', async () => {
    for (const url of await publicUrls()) {
      const identity = await send({ method: 'GET', url });
      const gzip = await send({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
      expect(identity.response.status, url).toBe(200);
      if (gzip.response.headers['content-encoding'] === undefined) continue; // never compressed: nothing to vary on
      expect(varyOf(identity), url).toContain('accept-encoding');
      expect(varyOf(gzip), url).toEqual(varyOf(identity));
      // As http-cache-semantics sees it: what was stored for one is not the other's answer.
      expect(identity.policy.satisfiesWithoutRevalidation(gzip.request), url).toBe(false);
      expect(gzip.policy.satisfiesWithoutRevalidation(identity.request), url).toBe(false);
    }
  });

  it('names Origin in Vary: a copy stored for one origin does not grant another (or none) its CORS allowance', async () => {
    for (const url of await publicUrls()) {
      const shop = await send({ method: 'GET', url, headers: { origin: SHOP } });
      expect(shop.response.headers['access-control-allow-origin'], url).toBe(SHOP);
      expect(varyOf(shop), url).toContain('origin');
      for (const origin of [OTHER, 'https://evil.example']) {
        expect(shop.policy.satisfiesWithoutRevalidation({ method: 'GET', url, headers: { origin } }), `${url} for ${origin}`).toBe(false);
      }
      expect(shop.policy.satisfiesWithoutRevalidation({ method: 'GET', url, headers: {} }), url).toBe(false);
    }
  });

  it('the playground’s assets are immutable under the URLs the page gives them, and those URLs change with the content', async () => {
    const page = await send({ method: 'GET', url: '/graphql', headers: { accept: 'text/html' } });
    const assets = [...page.response.raw.matchAll(/(?:src|href)="((?:\.)?\/graphql\/assets\/[^"]+)"/g)].map(
      // The page names them relative to itself (it may be served under a path prefix).
      (m) => {
        const url = new URL(m[1] ?? '', 'http://gateway/graphql');
        return url.pathname + url.search;
      },
    );
    for (const url of assets) {
      const asset = await send({ method: 'GET', url });
      expect(asset.response.status, url).toBe(200);
      expect(asset.policy.storable(), url).toBe(true);
      expect(String(asset.response.headers['cache-control']), url).toMatch(/\bimmutable\b/);
      expect(asset.policy.timeToLive(), url).toBeGreaterThanOrEqual(30 * 24 * 3600 * 1000);
      // The version in the URL is the content's: new bytes, a new URL.
      const version = new URL(url, 'http://x').searchParams.get('v');
      expect(createHash('sha256').update(asset.response.rawPayload).digest('hex'), url).toMatch(new RegExp(`^${version}`));
      // Another version's URL of the same file (a page from before an upgrade, a guess) is not kept for long:
      // it must not pin this content under a name that promised other bytes.
      const path = url.split('?', 1)[0];
      for (const other of [path, `${path}?v=0000000000`]) {
        const stale = await send({ method: 'GET', url: other });
        expect(stale.response.status, other).toBe(200);
        expect(stale.policy.timeToLive(), other).toBe(0);
      }
    }
  });
});
