/**
 * The gateway behind real shared caches a platform team would put in front of
 * it: Debian's nginx with `proxy_cache` and `proxy_cache_valid 200 1m` (which
 * keys on the URL alone, Authorization or not), and Debian's Varnish with its
 * built-in VCL. Through each:
 * - two workspaces, and two keys of one, reading the same URLs (REST and
 *   GraphQL over GET) each see their own orders, never a stored answer;
 * - a revoked key is refused on its next read, not served a kept answer;
 * - an update is seen on the next read;
 * - probes are answered by the gateway, not by the cache;
 * - a client that takes gzip is not handed the plain copy another client left;
 * - a CORS answer kept for one origin is not handed to another, and a
 *   preflight never grants an origin that is not listed.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { installed, startNginx, startVarnish, type RunningCache } from '../support/http-caches';

const SHOP = 'https://shop.example';
const OTHER = 'https://other.example';

const caches = [
  { name: 'nginx', start: startNginx, available: installed('nginx', ['-v'], 'nginx') },
  { name: 'varnish', start: startVarnish, available: installed('varnishd', ['-V'], 'varnish') },
];

let t: TestApp;
let port = 0;

beforeAll(async () => {
  if (!caches.some((cache) => cache.available.up)) return;
  t = await createTestApp({ corsOrigins: [SHOP, OTHER] });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.http.server.address() as AddressInfo).port;
});
afterAll(() => t?.close());

const ORDERS_QUERY = `/graphql?query=${encodeURIComponent('{ orders(first: 50) { edges { node { id customerId notes } } } }')}`;

for (const cache of caches) {
  describe.skipIf(!cache.available.up)(`behind ${cache.name} ${cache.available.reason}`, () => {
    let proxy: RunningCache;
    beforeAll(async () => {
      proxy = await cache.start(port);
    });
    afterAll(() => proxy?.stop());

    const get = async (url: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${proxy.url}${url}`, { headers });
      const text = await res.text();
      return { res, text, hit: proxy.wasHit(res.headers) };
    };
    const create = async (authorization: string, customer: string) => {
      const res = await fetch(`${proxy.url}/api/orders`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ customer_id: customer, items: [{ product_id: 'p1', quantity: 1, price: '5.00' }], total: '5.00' }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      return ((await res.json()) as { data: { id: string } }).data.id;
    };

    it('two workspaces and two keys reading the same URLs each see their own orders', async () => {
      const acme = await t.bearer(`acme-${cache.name}`);
      const acmeSecond = await t.bearer(`acme-${cache.name}`);
      const globex = await t.bearer(`globex-${cache.name}`);
      const acmeOrder = await create(acme, 'contact_acme');
      const globexOrder = await create(globex, 'contact_globex');
      for (let round = 0; round < 3; round++) {
        for (const [authorization, own, foreign] of [
          [acme, acmeOrder, globexOrder],
          [globex, globexOrder, acmeOrder],
          [acmeSecond, acmeOrder, globexOrder],
        ] as const) {
          for (const url of ['/api/orders', '/api/orders?limit=50', ORDERS_QUERY]) {
            const { res, text, hit } = await get(url, { authorization });
            expect(res.status, `${url}: ${text}`).toBe(200);
            expect(hit, url).toBe(false);
            expect(text, url).toContain(own);
            expect(text, url).not.toContain(foreign);
          }
          const own1 = await get(`/api/orders/${own}`, { authorization });
          expect(own1.res.status).toBe(200);
          expect(own1.hit).toBe(false);
          // The other workspace's order by its id: 404 each time, never the copy the owner's read left behind.
          const other = await get(`/api/orders/${foreign}`, { authorization });
          expect(other.res.status, other.text).toBe(404);
          expect(other.text).not.toContain('contact_');
        }
      }
      // Without a key, nothing a keyed read left behind.
      const anonymous = await get('/api/orders');
      expect(anonymous.res.status).toBe(401);
      expect(anonymous.text).not.toContain('contact_');
    });

    it('a revoked key is refused on its next read, not served a kept answer', async () => {
      const slug = `revoked-${cache.name}`;
      await t.bearer(slug);
      const { id, key } = await t.app.services.auth.createApiKey(slug);
      const authorization = `Bearer ${key}`;
      await create(authorization, 'contact_revoked');
      for (const url of ['/api/orders', ORDERS_QUERY]) expect((await get(url, { authorization })).res.status).toBe(200);
      await t.app.services.auth.revokeApiKey(id);
      for (const url of ['/api/orders', ORDERS_QUERY]) {
        const { res, text, hit } = await get(url, { authorization });
        expect(res.status, url).toBe(401);
        expect(hit, url).toBe(false);
        expect(text, url).not.toContain('contact_revoked');
      }
    });

    it('an update is seen on the next read, on REST and GraphQL', async () => {
      const authorization = await t.bearer(`updates-${cache.name}`);
      const id = await create(authorization, 'contact_updates');
      const query = `/graphql?query=${encodeURIComponent(`{ order(id: "${id}") { notes } }`)}`;
      for (const notes of ['first', 'second', 'third']) {
        const put = await fetch(`${proxy.url}/api/orders/${id}`, {
          method: 'PUT',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ notes }),
        });
        expect(put.status).toBe(200);
        const rest = await get(`/api/orders/${id}`, { authorization });
        expect((JSON.parse(rest.text) as { data: { notes: string } }).data.notes).toBe(notes);
        const gql = await get(query, { authorization });
        expect((JSON.parse(gql.text) as { data: { order: { notes: string } } }).data.order.notes).toBe(notes);
      }
    });

    it.each(['/healthz', '/readyz', '/metrics'])('%s is answered by the gateway each time, not by the cache', async (url) => {
      for (let i = 0; i < 3; i++) {
        const { res, hit } = await get(url);
        expect(res.status).toBe(200);
        expect(hit, `request ${i + 1}`).toBe(false);
      }
    });

    it('a CORS answer kept for one origin is not handed to another, nor to a request without Origin', async () => {
      for (const url of ['/openapi.json', '/docs/static/swagger-ui.css']) {
        for (let i = 0; i < 2; i++) expect((await get(url, { origin: SHOP })).res.headers.get('access-control-allow-origin')).toBe(SHOP);
        const other = await get(url, { origin: OTHER });
        expect(other.res.headers.get('access-control-allow-origin'), url).toBe(OTHER);
        const evil = await get(url, { origin: 'https://evil.example' });
        expect(evil.res.headers.get('access-control-allow-origin'), url).toBeNull();
        const none = await get(url);
        expect(none.res.headers.get('access-control-allow-origin'), url).toBeNull();
      }
    });

    it('a browser that takes gzip gets the documents compressed after a client that took them plain', async () => {
      for (const url of ['/openapi.json', '/graphql/assets/graphiql.min.js', '/docs/static/swagger-ui-bundle.js']) {
        for (let i = 0; i < 2; i++) {
          const plain = await get(url, { 'accept-encoding': 'identity' });
          expect(plain.res.status, url).toBe(200);
          expect(plain.res.headers.get('content-encoding'), url).toBeNull();
        }
        const gzip = await get(url, { 'accept-encoding': 'gzip' });
        expect(gzip.res.status, url).toBe(200);
        expect(gzip.res.headers.get('content-encoding'), url).toBe('gzip');
      }
    });

    it('a preflight through the cache grants only a listed origin, and says how long a browser may keep it', async () => {
      const preflight = (origin: string) =>
        fetch(`${proxy.url}/api/orders`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' },
        });
      for (let i = 0; i < 2; i++) {
        const shop = await preflight(SHOP);
        expect(shop.status).toBe(204);
        expect(shop.headers.get('access-control-allow-origin')).toBe(SHOP);
        expect(shop.headers.get('access-control-max-age')).toBe('600');
        expect(shop.headers.get('vary')).toMatch(/\borigin\b/i);
        const evil = await preflight('https://evil.example');
        expect(evil.headers.get('access-control-allow-origin')).toBeNull();
        const other = await preflight(OTHER);
        expect(other.headers.get('access-control-allow-origin')).toBe(OTHER);
      }
    });
  });
}
