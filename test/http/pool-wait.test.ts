/**
 * A request that finds every database connection busy waits at most
 * DB_CONNECT_TIMEOUT_MS for one, then gets 503 SERVICE_UNAVAILABLE with
 * Retry-After and writes nothing; /readyz says "database unavailable" within
 * that bound too. On the embedded database (one connection) as on a server
 * (DB_POOL_MAX connections). Before, the embedded database queued requests for
 * knex's own 60 s, whatever DB_CONNECT_TIMEOUT_MS said, so under overload a
 * client waited a minute and /readyz did not answer at all.
 *
 * Every connection is held by a transaction that waits on a promise the test
 * resolves; nothing is timed.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app/app';
import { databaseTarget, openDatabase, type Database } from '../../src/db/database';
import { testConfig } from '../support/app';
import { createServerDatabase, usingRealPostgres } from '../support/database';

const POOL = 2;
const ORDER = { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 1, price: '5.00' }], total: '5.00' };

let app: App;
let db: Database;
let auth = '';
let dropServerDatabase: (() => Promise<void>) | undefined;

beforeAll(async () => {
  let databaseUrl: string | undefined;
  if (usingRealPostgres) {
    const server = await createServerDatabase();
    databaseUrl = server.url;
    dropServerDatabase = server.drop;
  }
  const config = testConfig({ databaseUrl, dataDir: '', dbPoolMax: POOL, dbConnectTimeoutMs: 1000 });
  const target = databaseTarget(config);
  // The embedded database of a test lives in memory, as everywhere else in the suite.
  db = await openDatabase(target.kind === 'embedded' ? { ...target, dataDir: null } : target);
  await db.migrate();
  app = await buildApp({
    config,
    db,
    logStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  // The app's own background work (relay, dispatcher) takes the connection too: setting up retries a 503.
  auth = await withRetries(async () => {
    if (!(await app.services.auth.findWorkspace('acme')))
      await app.services.auth.createWorkspace('acme', 'UTC');
    return `Bearer ${(await app.services.auth.createApiKey('acme')).key}`;
  });
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  await dropServerDatabase?.();
});

async function withRetries<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Holds every connection of the pool in an open transaction until `release()`. */
async function holdEveryConnection(): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const connections = db.kind === 'embedded' ? 1 : POOL;
  let holding = 0;
  let allHeld!: () => void;
  let failed!: (error: unknown) => void;
  const held = new Promise<void>((resolve, reject) => ((allHeld = resolve), (failed = reject)));
  const transactions = Array.from({ length: connections }, () =>
    db.em
      .fork()
      .transactional(async (tx) => {
        await tx.execute('select 1');
        if (++holding === connections) allHeld();
        await released;
      })
      .catch(failed),
  );
  try {
    await held;
  } catch (error) {
    release();
    await Promise.all(transactions);
    throw error;
  }
  return {
    release: async () => {
      release();
      await Promise.all(transactions);
    },
  };
}

describe('when every database connection is busy', () => {
  it('answers 503 with Retry-After instead of queueing, /readyz says so, and nothing is written', async () => {
    const hold = await withRetries(holdEveryConnection);
    let create, read, graphql, ready, live;
    try {
      [create, read, graphql, ready, live] = await Promise.all([
        app.http.inject({
          method: 'POST',
          url: '/api/orders',
          headers: { authorization: auth, 'content-type': 'application/json', 'idempotency-key': 'busy-1' },
          payload: JSON.stringify(ORDER),
        }),
        app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: auth } }),
        app.http.inject({
          method: 'POST',
          url: '/graphql',
          headers: { authorization: auth, 'content-type': 'application/json' },
          payload: JSON.stringify({ query: '{ orders(first: 5) { totalCount } }' }),
        }),
        app.http.inject({ method: 'GET', url: '/readyz' }),
        app.http.inject({ method: 'GET', url: '/healthz' }),
      ]);
    } finally {
      await hold.release();
    }

    for (const res of [create, read]) {
      expect(res.statusCode).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.json().error.code).toBe('SERVICE_UNAVAILABLE');
    }
    expect(graphql.statusCode).toBe(503);
    expect(Number(graphql.headers['retry-after'])).toBeGreaterThan(0);
    expect(graphql.json().errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toStrictEqual({ status: 'database unavailable' });
    expect(live.statusCode).toBe(200);

    // Once the connections are free it serves at once; the refused create wrote nothing, and its key is free.
    expect((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const list = await app.http.inject({
      method: 'GET',
      url: '/api/orders',
      headers: { authorization: auth },
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().pagination.total).toBe(0);
    const retried = await app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: auth, 'content-type': 'application/json', 'idempotency-key': 'busy-1' },
      payload: JSON.stringify(ORDER),
    });
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    const [row] = await db.em.fork().execute<{ n: number }[]>('select count(*)::int as n from orders');
    expect(row?.n).toBe(1);
  }, 20_000);
});
