/**
 * CORS with CORS_ORIGINS set, on the answers a browser app on a listed origin
 * must be able to read (test/e2e/cross-origin.e2e.ts runs the same in Chromium).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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

describe('CORS on refusals', () => {
  it('a 405 lets the listed origin read Allow, the methods the resource has', async () => {
    const res = await t.app.http.inject({ method: 'POST', url: '/api/orders/order_missing', headers: { authorization: key, origin: ORIGIN, 'content-type': 'application/json' }, payload: '{}' });
    expect(res.statusCode).toBe(405);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(String(res.headers['access-control-expose-headers']).split(/\s*,\s*/)).toContain('Allow');
    expect(res.headers.allow).toMatch(/^GET, HEAD, PUT/);
  });
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

describe('the Origin of a subscription (graphql-ws on /graphql)', () => {
  /** Opens a graphql-ws connection with `origin` (none when undefined) and a good key; resolves with the first message or the close. */
  async function connect(origin: string | undefined, host?: string): Promise<string> {
    const address = t.app.http.server.address() as AddressInfo | null;
    const port = address?.port ?? (await t.app.http.listen({ host: '127.0.0.1', port: 0 }), (t.app.http.server.address() as AddressInfo).port);
    const headers: Record<string, string> = host ? { host } : {};
    const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws', { ...(origin ? { origin } : {}), headers });
    return new Promise((resolve, reject) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: key } })));
      socket.on('message', (data: Buffer) => {
        resolve((JSON.parse(data.toString()) as { type: string }).type);
        socket.close();
      });
      socket.on('close', (code, reason) => resolve(`closed ${code} ${String(reason)}`));
      socket.on('error', reject);
    });
  }

  it('a listed origin, the gateway\'s own (the playground) and a client without Origin (a server) are acknowledged', async () => {
    expect(await connect(ORIGIN)).toBe('connection_ack');
    expect(await connect(undefined)).toBe('connection_ack');
    expect(await connect('https://orders.example.com', 'orders.example.com')).toBe('connection_ack');
  });

  it('a page on an origin that is not listed is refused with 4403, as its HTTP requests are, even with a good key', async () => {
    expect(await connect('http://evil.test')).toMatch(/^closed 4403 Forbidden: .*origin/i);
  });
});
