import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prefersHtml } from '../../src/playground/playground';
import { createTestApp, useTestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';


const t = useTestApp();

/** The configuration the page hands to its start-up script. */
function pageConfig(html: string): { endpoint: string; query: string; variables: string; headers: string } {
  const json = /<script type="application\/json" id="playground-config">(.*?)<\/script>/s.exec(html)?.[1];
  if (!json) throw new Error('no playground config in the page');
  return JSON.parse(json);
}

describe('GET /graphql from a browser', () => {
  it('asked for as /graphql/ (trailing slash), the page still names its assets and endpoint right', async () => {
    const res = await t.rest.get('/graphql/', { authorization: null, headers: { accept: BROWSER_ACCEPT } });
    expect(res.statusCode).toBe(200);
    const page = 'http://gateway/graphql/';
    for (const [, url = ''] of res.body.matchAll(/<script src="([^"]+)"/g)) {
      expect(new URL(url, page).pathname, url).toMatch(/^\/graphql\/assets\/[\w.-]+$/);
    }
    expect(new URL(pageConfig(res.body).endpoint, page).pathname).toBe('/graphql/');
  });

  it('serves GraphiQL from local assets only, opening on the createOrder example', async () => {
    const res = await t.rest.get('/graphql', { authorization: null, headers: { accept: BROWSER_ACCEPT } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");

    const urls = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    // Relative to the page, so that a proxy's path prefix stays in them (test/outside/nginx.test.ts).
    expect(urls.filter((u) => u.startsWith('./graphql/assets/'))).toHaveLength(7);
    for (const url of urls) {
      expect(url).not.toMatch(/^(https?:)?\/\//);
      if (url.startsWith('data:')) continue;
      const resolved = new URL(url, 'http://gateway/graphql');
      const asset = await t.rest.get(`${resolved.pathname}${resolved.search}`, { authorization: null });
      expect(asset.statusCode, url).toBe(200);
      expect(asset.body.length, url).toBeGreaterThan(50);
    }

    const config = pageConfig(res.body);
    expect(config.endpoint).toBe('./graphql');
    expect(config.query).toContain('mutation CreateOrder($input: CreateOrderInput!)');
    expect(JSON.parse(config.variables).input).toMatchObject({ customerId: 'contact_abc123', total: '227.00' });
    // Not in development on a data directory here, so the key is a placeholder.
    expect(JSON.parse(config.headers)).toStrictEqual({ Authorization: 'Bearer <your API key>' });
  });

  it('answers a browser’s HEAD like its GET, without the body', async () => {
    const get = await t.rest.get('/graphql', { authorization: null, headers: { accept: BROWSER_ACCEPT } });
    const head = await t.app.http.inject({ method: 'HEAD', url: '/graphql', headers: { accept: BROWSER_ACCEPT } });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.body).toBe('');
  });

  it('opens with an example that runs as it stands, given a key', async () => {
    const config = pageConfig((await t.rest.get('/graphql', { authorization: null, headers: { accept: BROWSER_ACCEPT } })).body);
    const res = await t.rest.post('/graphql', { query: config.query, variables: JSON.parse(config.variables), operationName: 'CreateOrder' });
    expect(res.json().data.createOrder).toMatchObject({ order: { orderNumber: expect.stringMatching(/^ORD-/), total: '227.00' }, userErrors: [] });
  });

  it('leaves every other GET and POST to Apollo', async () => {
    const get = await t.rest.get('/graphql?query=%7B__typename%7D', { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(get.json()).toStrictEqual({ data: { __typename: 'Query' } });
    const anything = await t.rest.get('/graphql?query=%7B__typename%7D', { headers: { accept: '*/*', 'apollo-require-preflight': 'true' } });
    expect(anything.json()).toStrictEqual({ data: { __typename: 'Query' } });
    const post = await t.gql('{ __typename }', {}, { headers: { accept: BROWSER_ACCEPT } });
    expect(post.json()).toStrictEqual({ data: { __typename: 'Query' } });
  });

  it('answers unknown assets with 404', async () => {
    for (const file of ['constructor', '__proto__', '..%2Fpackage.json', 'graphiql.min.js.map']) {
      expect((await t.rest.get(`/graphql/assets/${file}`, { authorization: null })).statusCode, file).toBe(404);
    }
  });
});

describe('prefersHtml', () => {
  it.each([
    [BROWSER_ACCEPT, true],
    ['text/html', true],
    ['application/json', false],
    ['*/*', false],
    [undefined, false],
    ['application/json, text/html;q=0.5', false],
    ['text/html;q=0.9, application/graphql-response+json;q=1', false],
    ['text/html;q=0', false],
  ])('%s → %s', (accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected);
  });
});

describe('configuration', () => {
  it('is off in production unless PLAYGROUND turns it on', async () => {
    const off = await createTestApp({ nodeEnv: 'production', playground: false });
    const on = await createTestApp({ nodeEnv: 'production', playground: true });
    try {
      const closed = await off.app.http.inject({ method: 'GET', url: '/graphql', headers: { accept: BROWSER_ACCEPT } });
      expect(closed.headers['content-type']).not.toContain('text/html');
      expect((await off.app.http.inject({ method: 'GET', url: '/graphql/assets/graphiql.min.js' })).statusCode).toBe(404);
      const open = await on.app.http.inject({ method: 'GET', url: '/graphql', headers: { accept: BROWSER_ACCEPT } });
      expect(open.headers['content-type']).toContain('text/html');
      expect(JSON.parse(pageConfig(open.body).headers).Authorization).toBe('Bearer <your API key>');
    } finally {
      await off.close();
      await on.close();
    }
  });

  it.skipIf(usingRealPostgres)('fills in the development key in development on the embedded database, for this machine under its own name only', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-playground-'));
    fs.writeFileSync(path.join(dataDir, 'development-key'), `ogk_${'A'.repeat(43)}\n`);
    const dev = await createTestApp({ nodeEnv: 'development', dataDir });
    try {
      const local = await dev.app.http.inject({ method: 'GET', url: '/graphql', headers: { accept: BROWSER_ACCEPT } });
      expect(JSON.parse(pageConfig(local.body).headers)).toStrictEqual({ Authorization: `Bearer ogk_${'A'.repeat(43)}` });
      const remote = await dev.app.http.inject({ method: 'GET', url: '/graphql', headers: { accept: BROWSER_ACCEPT }, remoteAddress: '192.0.2.10' });
      expect(JSON.parse(pageConfig(remote.body).headers)).toStrictEqual({ Authorization: 'Bearer <your API key>' });
      for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'app.localhost:3000', 'localhost']) {
        const named = await dev.app.http.inject({ method: 'GET', url: '/graphql', headers: { accept: BROWSER_ACCEPT, host } });
        expect(JSON.parse(pageConfig(named.body).headers), host).toStrictEqual({ Authorization: `Bearer ogk_${'A'.repeat(43)}` });
      }
      // A page of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding) reaches
      // this server from this machine, but under its own name: it must not read the key.
      for (const host of ['rebound.example.com:3000', '127.0.0.1.nip.example:3000', 'localhost.example.com']) {
        const rebound = await dev.app.http.inject({ method: 'GET', url: '/graphql', headers: { accept: BROWSER_ACCEPT, host } });
        expect(JSON.parse(pageConfig(rebound.body).headers), host).toStrictEqual({ Authorization: 'Bearer <your API key>' });
        const docsKey = await dev.app.http.inject({ method: 'GET', url: '/docs/development-key', headers: { host } });
        expect(docsKey.statusCode, host).toBe(404);
        expect(docsKey.body).not.toContain('A'.repeat(43));
      }
    } finally {
      await dev.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
