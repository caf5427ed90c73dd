/**
 * CORS with CORS_ORIGINS set, on the answers a browser app on a listed origin
 * must be able to read (test/e2e/cross-origin.e2e.ts runs the same in Chromium).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const ORIGIN = 'http://localhost:5173';
let t: TestApp;
let key: string;

beforeAll(async () => {
  t = await createTestApp({ corsOrigins: [ORIGIN] });
  key = await t.bearer('cors');
});
afterAll(() => t?.close());

describe('CORS on answers given before routing', () => {
  it.each(['/api/orders/50%off', '/api/orders/%E0%A4%A'])(
    'a malformed URL (GET %s) is a 400 the listed origin can read, with Vary: Origin',
    async (url) => {
      const res = await t.app.http.inject({ method: 'GET', url, headers: { authorization: key, origin: ORIGIN } });
      expect(res.statusCode).toBe(400);
      expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(String(res.headers['access-control-expose-headers'])).toContain('X-Request-Id');
      expect(String(res.headers.vary)).toMatch(/\bOrigin\b/);
      const preflight = await t.app.http.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(ORIGIN);
      expect(String(preflight.headers['access-control-allow-headers'])).toContain('Authorization');
      const stranger = await t.app.http.inject({ method: 'GET', url, headers: { authorization: key, origin: 'http://evil.test' } });
      expect(stranger.statusCode).toBe(400);
      expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
      expect(String(stranger.headers.vary)).toMatch(/\bOrigin\b/);
    },
  );
});

describe('CORS preflights of stock GraphQL clients', () => {
  it("allows Apollo Client's client-awareness headers (new ApolloClient({ clientAwareness: { name, version } }))", async () => {
    const preflight = await t.app.http.inject({
      method: 'OPTIONS',
      url: '/graphql',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'apollographql-client-name,apollographql-client-version,authorization,content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    const allowed = String(preflight.headers['access-control-allow-headers']).toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['apollographql-client-name', 'apollographql-client-version', 'authorization', 'content-type']));
  });
});
