/**
 * PostgreSQL stops hard (`pg_ctl stop -m immediate`) in the middle of a load
 * and comes back. A loader retries every failed create with the same
 * Idempotency-Key. Afterwards every request has exactly one order, the
 * gateway answered 503 (never 500) while the database was down, /readyz
 * followed the database, and the process never restarted.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from 'pg';
import { createPgCluster, type PgCluster } from '../support/pg-cluster';
import { createWithRetries } from '../support/load';
import { runCli, startServer, type RunningServer } from '../support/processes';

let cluster: PgCluster;
let server: RunningServer;
let bearer: string;

beforeAll(async () => {
  cluster = await createPgCluster();
  const env = { DATABASE_URL: cluster.url('gateway'), DB_CONNECT_TIMEOUT_MS: '1000' };
  const created = await runCli(['apikey', 'create', '--workspace', 'faults', '--json'], env);
  expect(created.code, created.stderr).toBe(0);
  bearer = `Bearer ${JSON.parse(created.stdout).key}`;
  server = await startServer(env);
});

afterAll(async () => {
  await server?.stop();
  cluster?.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('loses and doubles no order across a database crash, answering 503 while it is down', async () => {
  const REQUESTS = 600;
  const readiness: { at: number; status: number | 'error' }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const status = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(3000) })
        .then((res) => res.status)
        .catch(() => 'error' as const);
      readiness.push({ at: Date.now(), status });
      await sleep(100);
    }
  })();

  let doneCount = 0;
  const load = createWithRetries({
    targets: [server.url],
    bearer: () => bearer,
    count: REQUESTS,
    concurrency: 10,
    keyPrefix: 'fault',
    body: (index) => ({ customer_id: `c${index}`, items: [{ product_id: 'p', quantity: 2, price: 10 }], total: 20 }),
    deadline: Date.now() + 120_000,
    onProgress: (done) => (doneCount = done),
  });

  while (doneCount < REQUESTS / 3) await sleep(20);
  const downAt = Date.now();
  cluster.stopImmediately();
  await sleep(3000);
  cluster.start();
  const upAt = Date.now();

  const outcomes = await load;
  polling = false;
  await poller;

  const attempts = outcomes.flatMap((outcome) => outcome.attempts);
  const count = (status: number | 'network-error') => attempts.filter((attempt) => attempt.status === status).length;
  const firstCreatedAfterUp = attempts.filter((a) => a.status === 201 && a.at >= upAt).map((a) => a.at).sort((a, b) => a - b)[0];

  // Every request got its order, once.
  expect(outcomes).toHaveLength(REQUESTS);
  expect(outcomes.filter((outcome) => !outcome.created)).toStrictEqual([]);
  const ids = outcomes.map((outcome) => outcome.created?.body?.data?.id);
  expect(new Set(ids).size).toBe(REQUESTS);

  const client = new Client({ connectionString: cluster.url('gateway') });
  await client.connect();
  const { rows } = await client.query<{ orders: number; items: number; keys: number; numbers: number }>(
    `select (select count(*)::int from orders) as orders, (select count(*)::int from order_items) as items,
            (select count(*)::int from idempotency_keys) as keys, (select count(distinct order_number)::int from orders) as numbers`,
  );
  const stored = await client.query<{ id: string }>('select id from orders');
  await client.end();
  expect(rows[0]).toStrictEqual({ orders: REQUESTS, items: REQUESTS, keys: REQUESTS, numbers: REQUESTS });
  expect(new Set(stored.rows.map((row) => row.id))).toStrictEqual(new Set(ids));

  // While down: 503s, never a 500; /readyz followed the database.
  const failures = server.output().split('\n').filter((line) => line.includes('"level":50'));
  expect(count(500), `errors the gateway logged:\n${failures.slice(0, 5).join('\n')}`).toBe(0);
  expect(count(503)).toBeGreaterThan(0);
  const during = readiness.filter((entry) => entry.at > downAt + 500 && entry.at < upAt);
  expect(during.length).toBeGreaterThan(0);
  expect(during.every((entry) => entry.status === 503)).toBe(true);
  expect(readiness.at(-1)?.status).toBe(200);
  // The same process served before and after.
  expect(server.child.exitCode).toBeNull();

  const figures = {
    requests: REQUESTS,
    attempts: attempts.length,
    created201: attempts.filter((a) => a.status === 201 && !a.replayed).length,
    replayed201: attempts.filter((a) => a.status === 201 && a.replayed).length,
    unavailable503: count(503),
    inProgress409: count(409),
    internal500: count(500),
    networkErrors: count('network-error'),
    ordersInDatabase: rows[0]?.orders,
    databaseDownMs: upAt - downAt,
    recoveryMsAfterDatabaseBack: firstCreatedAfterUp === undefined ? null : firstCreatedAfterUp - upAt,
    readyzRecoveredMsAfterDatabaseBack: (readiness.find((entry) => entry.at >= upAt && entry.status === 200)?.at ?? NaN) - upAt,
  };
  fs.mkdirSync('test-results', { recursive: true });
  fs.writeFileSync('test-results/database-faults.json', `${JSON.stringify(figures, null, 2)}\n`);
  console.info('database faults', figures);
  // Each request ended on exactly one 201: a fresh create, or the replay of a create whose answer was lost.
  expect(figures.created201 + figures.replayed201).toBe(REQUESTS);
});
