/**
 * Start-up that fails fast and tells the truth (issue 12, points 6–9): .env is
 * read, a port in use or a bad HOST stops the process at once with one line,
 * a database or data-folder error is one line naming DATABASE_URL or
 * DATA_DIR, and pending migrations keep /readyz at 503.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database';
import { createServerDatabase, usingRealPostgres } from '../support/database';
import { runCli, startServer } from '../support/processes';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-start-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** One line on stderr, and nothing that looks like a stack. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[lines.length - 1];
}

describe('.env', () => {
  it('is read from the current folder, and the real environment wins over it', async () => {
    const folder = tempDir();
    fs.writeFileSync(path.join(folder, '.env'), `DATA_DIR=${path.join(folder, 'from-dotenv')}\nMIGRATE_ON_START=sometimes\n`);
    const bad = await runCli(['migrate'], { ENV_FILE: '.env' }, 30_000, folder);
    expect(bad).toMatchObject({ code: 78, stderr: 'order-gateway: MIGRATE_ON_START must be true or false, got "sometimes"\n' });
    const good = await runCli(['migrate'], { ENV_FILE: '.env', MIGRATE_ON_START: 'true' }, 30_000, folder);
    expect(good.code, good.stderr).toBe(0);
    expect(fs.existsSync(path.join(folder, 'from-dotenv', 'pgdata'))).toBe(true);
  });
});

describe('serve cannot listen', () => {
  it('a port in use: exits 75 (try again later) at once with one line naming PORT', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const dataDir = tempDir();
      const result = await runCli(['serve'], { DATA_DIR: dataDir, PORT: String(port), NODE_ENV: 'development' });
      // 75 (EX_TEMPFAIL): the port may be free again later, so a supervisor may try again.
      expect(result.code).toBe(75);
      expect(oneLine(result.stderr)).toBe(
        `order-gateway: PORT=${port}: the port is already in use on 127.0.0.1 (stop the other process, or choose another PORT)`,
      );
      // It did not wait for anything after the failure (the test's 30 s budget would catch a hang).
      expect(Date.now() - started).toBeLessThan(30_000);
      // A newcomer's development key is made and shown by the first start that serves, not by one
      // that failed (its one showing would scroll by above the error).
      expect(result.stdout).not.toContain('development API key');
      const server = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'development' });
      try {
        expect(server.output()).toContain('Created workspace "default" with a development API key');
      } finally {
        await server.stop();
      }
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('a HOST that is not this machine: exits 78 (fix the configuration) with one line naming HOST', async () => {
    const result = await runCli(['serve'], { DATA_DIR: tempDir(), PORT: '0', HOST: '192.0.2.1', METRICS_TOKEN: 'test-metrics-token-0123456789' });
    // 78 (EX_CONFIG): trying again without changing HOST cannot help.
    expect(result.code).toBe(78);
    expect(oneLine(result.stderr)).toBe(
      'order-gateway: HOST=192.0.2.1: not an address of this machine (use 127.0.0.1 for this machine only, 0.0.0.0 for every interface)',
    );
  });
});

describe('database and data-folder errors', () => {
  it.skipIf(!usingRealPostgres)('a database that does not exist, and a refused connection: one line naming DATABASE_URL (PostgreSQL pass)', async () => {
    const url = new URL(process.env.DATABASE_URL as string);
    url.pathname = '/og_no_such_database';
    const missing = await runCli(['migrate'], { DATABASE_URL: url.toString() });
    expect(missing.code).toBe(78);
    expect(oneLine(missing.stderr)).toBe(
      `order-gateway: DATABASE_URL (${url.toString()}): database "og_no_such_database" does not exist (create it, or fix the name)`,
    );
    url.port = '1';
    const refused = await runCli(['workspace', 'list'], { DATABASE_URL: url.toString() });
    // Refused: the server may be starting, so 75 (try again later).
    expect(refused.code).toBe(75);
    expect(oneLine(refused.stderr)).toContain(`order-gateway: DATABASE_URL (${url.toString()}): connection refused at 127.0.0.1:1`);
  });

  it('a DATA_DIR under a file: one line naming DATA_DIR; the stack only at LOG_LEVEL=debug', async () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, 'not a folder');
    const dataDir = path.join(file, 'data');
    const result = await runCli(['migrate'], { DATA_DIR: dataDir });
    expect(result.code).toBe(78);
    expect(oneLine(result.stderr)).toMatch(new RegExp(`^order-gateway: DATA_DIR \\(${dataDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): cannot use it: `));
    const debug = await runCli(['migrate'], { DATA_DIR: dataDir, LOG_LEVEL: 'debug' });
    expect(debug.stderr).toMatch(/^\s+at /m);
  });
});

describe('MIGRATE_ON_START=false on an unmigrated database', () => {
  const ORDER = JSON.stringify({ customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
  const post = (url: string, route: string, body: string) =>
    fetch(`${url}${route}`, { method: 'POST', headers: { authorization: 'Bearer og_live_whatever', 'content-type': 'application/json' }, body });

  /** The API's answers while the schema waits for `migrate`: 503 with Retry-After, never 500. */
  async function expectGated(url: string) {
    const rest = await post(url, '/api/orders', ORDER);
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBe('5');
    expect(await rest.json()).toMatchObject({
      success: false,
      error: { code: 'SERVICE_UNAVAILABLE', message: expect.stringContaining('run `order-gateway migrate`') },
    });
    const graphql = await post(url, '/graphql', JSON.stringify({ query: '{ __typename }' }));
    expect(graphql.status).toBe(503);
    expect(await graphql.json()).toMatchObject({ errors: [{ extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
  }

  it('serve starts, says so, and /readyz and the API answer 503 with the reason; no background work fails meanwhile', async () => {
    const dataDir = tempDir();
    const server = await startServer({ DATA_DIR: dataDir, MIGRATE_ON_START: 'false', EVENTS_POLL_INTERVAL_MS: '50' });
    try {
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { status: string }).status).toMatch(/^migrations pending: Migration20261127130000_initial, .* \(run `order-gateway migrate`\)$/);
      expect(server.output()).toContain('MIGRATE_ON_START=false and');
      expect(server.output()).toContain('/readyz and the API answer 503 until `order-gateway migrate` applies them');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await expectGated(server.url);
      // The relay, the dispatcher and the sweeper wait for the schema instead of failing on it.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(server.output()).not.toMatch(/does not exist|"level":50/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.skipIf(!usingRealPostgres)('once `migrate` runs from another process, the API opens with no restart (PostgreSQL pass)', async () => {
    const database = await createServerDatabase();
    const server = await startServer({ DATABASE_URL: database.url, MIGRATE_ON_START: 'false' });
    try {
      await expectGated(server.url);
      expect((await runCli(['migrate'], { DATABASE_URL: database.url })).code).toBe(0);
      const key = await runCli(['apikey', 'create', '--workspace', 'gated', '--json'], { DATABASE_URL: database.url });
      const bearer = `Bearer ${(JSON.parse(key.stdout) as { key: string }).key}`;
      let created: Response | undefined;
      for (let tries = 0; tries < 50 && created?.status !== 201; tries++) {
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 200));
        created = await fetch(`${server.url}/api/orders`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: ORDER });
      }
      expect(created?.status).toBe(201);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      // The log is written in batches: the line may trail the answers a little.
      for (let tries = 0; tries < 20 && !server.output().includes('migrations applied'); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(server.output()).toContain('migrations applied: serving the API');
    } finally {
      expect(await server.stop()).toBe(0);
      await database.drop();
    }
  });
});

describe('DATABASE_URL parameters', () => {
  // libpq's sslmode in the URL is how operators ask for TLS; dropping it silently sends passwords
  // and orders in plain text. With it, a connection is encrypted, or there is none.
  it.skipIf(!usingRealPostgres)('sslmode=require is honoured by the pool: TLS, or no connection (PostgreSQL pass)', async () => {
    const url = new URL(process.env.DATABASE_URL as string);
    url.searchParams.set('sslmode', 'require');
    const db = await openDatabase({ kind: 'postgres', url: url.toString(), poolMax: 2, connectTimeoutMs: 2000, statementTimeoutMs: 10_000 });
    try {
      const answer = await db.em
        .fork()
        .execute<{ ssl: boolean }[]>('select ssl from pg_stat_ssl where pid = pg_backend_pid()')
        .then(
          (rows) => rows[0]?.ssl,
          (error: Error) => error.message,
        );
      // Either the server speaks TLS and the session uses it, or it does not and the pool refuses to connect.
      if (typeof answer === 'string') expect(answer).toMatch(/SSL/i);
      else expect(answer).toBe(true);
    } finally {
      await db.close();
    }
  });

  it.skipIf(!usingRealPostgres)('sslmode=require on a server without TLS: one line naming DATABASE_URL and sslmode (PostgreSQL pass)', async () => {
    const url = new URL(process.env.DATABASE_URL as string);
    url.searchParams.set('sslmode', 'require');
    const result = await runCli(['migrate'], { DATABASE_URL: url.toString() });
    const db = await openDatabase({ kind: 'postgres', url: process.env.DATABASE_URL as string, poolMax: 1, connectTimeoutMs: 2000, statementTimeoutMs: 10_000 });
    const ssl = await db.em.fork().execute<{ ssl: string }[]>('show ssl').finally(() => db.close());
    if (ssl[0]?.ssl === 'on') expect(result.code, result.stderr).toBe(0);
    else {
      expect(result.code).toBe(78);
      expect(oneLine(result.stderr)).toBe(
        `order-gateway: DATABASE_URL (${url.toString()}): the server does not accept SSL connections, which sslmode=require requires (turn ssl on in the server, or change sslmode)`,
      );
    }
  });
});
