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
});
