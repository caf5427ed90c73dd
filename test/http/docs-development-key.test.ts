/**
 * /docs fills Swagger UI's Authorize dialog with the development key, like the
 * playground: only in development on the embedded database, and only for a
 * browser on this machine (test/e2e/playground.e2e.ts clicks through it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usingRealPostgres } from '../support/database';
import { createTestApp, type TestApp } from '../support/app';

describe.skipIf(usingRealPostgres)('the development key in /docs (embedded database only: skipped in the PostgreSQL pass)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-docs-key-'));
  const key = `ogk_${'K'.repeat(43)}`;
  let development: TestApp;
  let production: TestApp;
  beforeAll(async () => {
    fs.writeFileSync(path.join(dataDir, 'development-key'), `${key}\n`);
    development = await createTestApp({ nodeEnv: 'development', dataDir });
    production = await createTestApp({ nodeEnv: 'production', dataDir });
  });
  afterAll(async () => {
    await development?.close();
    await production?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('is given to a browser on this machine, in development', async () => {
    const res = await development.app.http.inject({ method: 'GET', url: '/docs/development-key', remoteAddress: '127.0.0.1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ key });
    expect(res.headers['cache-control']).toBe('no-store');
    const script = await development.app.http.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(script.body).toContain("ui.preauthorizeApiKey('bearerAuth', body.key)");
  });

  it('is never given to another address, nor outside development', async () => {
    const remote = await development.app.http.inject({ method: 'GET', url: '/docs/development-key', remoteAddress: '203.0.113.7' });
    expect(remote.statusCode).toBe(404);
    expect(remote.body).not.toContain(key);
    const prod = await production.app.http.inject({ method: 'GET', url: '/docs/development-key', remoteAddress: '127.0.0.1' });
    expect(prod.statusCode).toBe(404);
    const script = await production.app.http.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    expect(script.body).not.toContain('preauthorizeApiKey');
  });

  it('is never given through a proxy or tunnel on this machine, whatever Host it passes on', async () => {
    // nginx on the same machine (`proxy_pass http://127.0.0.1:3000`, Host rewritten to 127.0.0.1:3000),
    // `ngrok http 3000 --host-header=rewrite`, cloudflared: the connection comes from 127.0.0.1 with a
    // loopback Host, but the browser is anywhere on the internet, and the proxy says so in its headers.
    const forwarded = [
      { 'x-forwarded-for': '203.0.113.7' },
      { forwarded: 'for=203.0.113.7;proto=https' },
      { 'x-real-ip': '203.0.113.7' },
      { via: '1.1 ngrok' },
      { 'x-forwarded-host': 'abc.ngrok.app' },
    ];
    for (const headers of forwarded) {
      const header = Object.keys(headers)[0];
      const docs = await development.app.http.inject({
        method: 'GET',
        url: '/docs/development-key',
        remoteAddress: '127.0.0.1',
        headers: { host: '127.0.0.1:3000', ...headers },
      });
      expect([header, docs.statusCode]).toStrictEqual([header, 404]);
      expect(docs.body).not.toContain(key);
      const playground = await development.app.http.inject({
        method: 'GET',
        url: '/graphql',
        remoteAddress: '127.0.0.1',
        headers: { host: 'localhost:3000', accept: 'text/html', ...headers },
      });
      expect([header, playground.statusCode]).toStrictEqual([header, 200]);
      expect(playground.body).not.toContain(key);
    }
  });

  it('is never given to a remote client that claims 127.0.0.1 in X-Forwarded-For, even with TRUST_PROXY', async () => {
    const trusting = await createTestApp({ nodeEnv: 'development', dataDir, trustProxy: 1 });
    try {
      const res = await trusting.app.http.inject({
        method: 'GET',
        url: '/docs/development-key',
        remoteAddress: '203.0.113.7',
        headers: { host: 'localhost', 'x-forwarded-for': '127.0.0.1' },
      });
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain(key);
    } finally {
      await trusting.close();
    }
  });
});
