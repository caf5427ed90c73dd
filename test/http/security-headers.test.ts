import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTestApp, useTestApp } from '../support/app';


const t = useTestApp();

const BASELINE = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-dns-prefetch-control': 'off',
  'x-permitted-cross-domain-policies': 'none',
  'x-request-id': expect.any(String),
};
const API_POLICY = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

describe('security headers', () => {
  it.each([
    ['a REST answer', { method: 'GET', url: '/api/orders' }, 200],
    ['a REST 401', { method: 'GET', url: '/api/orders', headers: { authorization: 'Bearer nope' } }, 401],
    ['a REST 404', { method: 'GET', url: '/api/orders/order_nope' }, 404],
    ['an unknown route', { method: 'GET', url: '/nothing/here' }, 404],
    ['a malformed URL (answered before any hook)', { method: 'GET', url: '/api/orders/%E0%A4%A' }, 400],
    ['a body that is too large', { method: 'POST', url: '/api/orders', headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(1024 * 1024)}"` }, 413],
    ['a GraphQL answer', { method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: '{"query":"{ __typename }"}' }, 200],
    ['a GraphQL 400', { method: 'POST', url: '/graphql', headers: { 'content-type': 'application/json' }, payload: '{"query":"{"}' }, 400],
    ['the health probe', { method: 'GET', url: '/healthz' }, 200],
    ['the OpenAPI document', { method: 'GET', url: '/openapi.json' }, 200],
  ] as const)('are on %s, with the no-content policy', async (_name, request, status) => {
    const res = await t.app.http.inject({ ...request, headers: { authorization: t.auth, ...('headers' in request ? request.headers : {}) } });
    expect(res.statusCode).toBe(status);
    expect(res.headers).toMatchObject({ ...BASELINE, 'content-security-policy': API_POLICY });
  });

  it('mark /api and /graphql answers as not cacheable', async () => {
    for (const res of [
      await t.rest.get('/api/orders'),
      await t.rest.post('/graphql', '{"query":"{ __typename }"}'),
    ]) {
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('give Swagger UI a policy that lets its own scripts, styles and spec load, and nothing from elsewhere', async () => {
    for (const url of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/json']) {
      const res = await t.rest.get(url, { authorization: null });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers, url).toMatchObject(BASELINE);
      const policy = String(res.headers['content-security-policy']);
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("connect-src 'self'");
      expect(policy).not.toMatch(/unsafe-eval|https:|\*/);
    }
  });

  it('leave the playground page its own policy', async () => {
    const res = await t.rest.get('/graphql', { authorization: null, headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers).toMatchObject(BASELINE);
    const policy = String(res.headers['content-security-policy']);
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).not.toBe(API_POLICY);
  });
});

describe('server timeouts', () => {
  it('are set from the configuration', () => {
    const server = t.app.http.server;
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(5000);
  });

  it('cut off a client that sends its headers too slowly', async () => {
    const slow = await createTestApp({ headersTimeoutMs: 1000, requestTimeoutMs: 1000 });
    try {
      await slow.app.http.listen({ port: 0, host: '127.0.0.1' });
      const { port } = slow.app.http.server.address() as net.AddressInfo;
      const started = Date.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /api/orders HTTP/1.1\r\nHost: x\r\n'));
        let received = '';
        socket.on('data', (chunk) => (received += chunk.toString()));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
        setTimeout(() => reject(new Error('the server kept the connection open')), 5000);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - started).toBeLessThan(3500);
    } finally {
      await slow.close();
    }
  });
});
