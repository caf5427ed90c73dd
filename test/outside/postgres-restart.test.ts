/**
 * A DBA restarts PostgreSQL under a running gateway, and PostgreSQL answers with its own retryable
 * errors (outside review, seat "postgres-restart").
 *
 * The test owns a private PostgreSQL 15 cluster (test/support/pg-cluster.ts) and runs the compiled
 * `order-gateway serve` against it, without NATS. With the DBA's own tools:
 * - `pg_ctl restart -m fast` while REST and GraphQL creates and reads stream in: every request gets
 *   its normal answer or a 503 `SERVICE_UNAVAILABLE` with `Retry-After` (never a 500, never a hung
 *   request), the gateway serves again by itself, `/readyz` goes unready and ready again, no order
 *   is half-written, and a create retried with its Idempotency-Key after a 503 makes one order;
 * - after the restart the relay's LISTEN connection is back: a new order's event is published at
 *   once, not at the (here one-minute) poll, and `/metrics` says what happened;
 * - a row lock held past `DB_STATEMENT_TIMEOUT_MS` (57014), a real deadlock against the gateway's own
 *   create (40P01) and a serialization failure under `default_transaction_isolation = serializable`
 *   (40001) are each a 503 with `Retry-After`, not a 500 that says the gateway has a bug.
 *
 * Without PostgreSQL 15's binaries or root it skips, saying why; under REQUIRE_SERVICES=1 (CI) it fails.
 */
import fs from 'node:fs';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../support/database';
import { eventually } from '../support/nats';
import { createPgCluster, type PgCluster } from '../support/pg-cluster';
import { BUILT_CLI, runCli, startServer, type RunningServer } from '../support/processes';
import type { Availability } from '../support/services';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const METRICS_TOKEN = 'test-metrics-token-0123456789';

function postgres15AsRoot(): Availability {
  const missing = [`${PG_BIN}/initdb`, `${PG_BIN}/pg_ctl`].filter((file) => !fs.existsSync(file));
  const why = missing.length > 0 ? `no ${missing.join(', ')} (apt-get install postgresql-15)` : process.getuid?.() !== 0 ? 'not root (the cluster runs as postgres)' : '';
  if (!why) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but ${why}`);
  const reason = `skipped: ${why}; CI runs these`;
  process.stderr.write(`\n  postgres-restart ${reason}\n`);
  return { up: false, reason };
}

const postgres15 = postgres15AsRoot();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read as untyped JSON, as a caller does
type Json = any;
interface Answer {
  status: number;
  retryAfter: string | null;
  text: string;
  body: Json;
}

const orderBody = (customer: string) => ({ customer_id: customer, items: [{ product_id: 'p1', quantity: 2, price: '10.00' }], total: '20.00' });

describe.skipIf(!postgres15.up)(`PostgreSQL restarts and retryable errors under a running gateway ${postgres15.reason}`, { timeout: 180_000 }, () => {
  let cluster: PgCluster;
  let server: RunningServer;
  let bearer = '';

  const sql = <T extends object>(text: string, values: unknown[] = []): Promise<T[]> =>
    withClient(cluster.url('gateway'), async (client) => (await client.query(text, values)).rows as T[]);

  /** Until a session other than `dba`'s (the gateway's create) waits for a lock: the counter row `dba` holds. */
  const gatewayWaitsForCounter = (dba: Client) =>
    eventually(
      async () => (await sql(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and pid <> $1`, [(dba as Json).processID])).length > 0,
      5_000,
      'the gateway waiting for the counter row',
    );

  beforeAll(async () => {
    cluster = await createPgCluster();
    const env = { DATABASE_URL: cluster.url('gateway'), DB_CONNECT_TIMEOUT_MS: '1000' };
    const key = await runCli(['apikey', 'create', '--workspace', 'restarts', '--json'], env, 120_000);
    expect(key.code, key.stderr).toBe(0);
    bearer = `Bearer ${JSON.parse(key.stdout).key}`;
    server = await startServer(
      { ...env, DB_STATEMENT_TIMEOUT_MS: '1500', EVENTS_POLL_INTERVAL_MS: '60000', MAX_EVENT_LOOP_DELAY_MS: '0' },
      60_000,
      BUILT_CLI,
    );
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    cluster?.destroy();
  });

  async function call(method: string, path: string, body?: object, headers: Record<string, string> = {}): Promise<Answer> {
    // A request that hangs past this fails the test: an answer is owed within a few seconds.
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: bearer, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: Json;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), text, body: parsed };
  }
  const graphql = (query: string, variables: object) => call('POST', '/graphql', { query, variables });
  const gqlCreate = (customer: string) =>
    graphql(`mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id orderNumber } userErrors { code } } }`, {
      input: { customerId: customer, items: [{ productId: 'p1', quantity: 2, price: '10.00' }], total: '20.00' },
    });
  const metric = async (name: string): Promise<number> => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const line = (await res.text()).split('\n').find((row) => row.startsWith(`${name} `) || row.startsWith(`${name}{`));
    return line ? Number(line.split(' ').pop()) : Number.NaN;
  };

  /** The contract's 503: SERVICE_UNAVAILABLE, a Retry-After in seconds, and nothing of the database's. */
  function expectUnavailable(answer: Answer, transport: 'rest' | 'graphql') {
    expect(answer.status, answer.text).toBe(503);
    expect(answer.retryAfter, answer.text).toMatch(/^\d+$/);
    if (transport === 'rest') expect(answer.body.error.code, answer.text).toBe('SERVICE_UNAVAILABLE');
    else expect(answer.body.errors[0].extensions.code, answer.text).toBe('SERVICE_UNAVAILABLE');
    expect(answer.text).not.toMatch(/deadlock|serializ|statement timeout|terminating|select |insert |update |stack|\.js:\d/i);
  }

  /** Each order has its items and its one order.created event; numbers 001… with no gap or repeat. */
  async function expectWholeOrders() {
    const rows = await sql<{ order_number: string; items: number; created: number }>(
      `select o.order_number,
              (select count(*)::int from order_items i where i.order_id = o.id) as items,
              (select count(*)::int from order_events e where e.order_id = o.id and e.type = 'order.created') as created
         from orders o order by o.order_number`,
    );
    for (const row of rows) expect(row, row.order_number).toMatchObject({ items: 1, created: 1 });
    const numbers = rows.map((row) => Number(row.order_number.slice(-3)));
    expect(numbers).toStrictEqual(numbers.map((_, index) => index + 1));
    return rows.length;
  }

  it('pg_ctl restart -m fast under a stream of creates and reads: normal answers or 503 with Retry-After, then service again, whole orders, one order per key', async () => {
    const first = await call('POST', '/api/orders', orderBody('before'));
    expect(first.status, first.text).toBe(201);
    const known = first.body.data.id as string;
    expect((await call('GET', '/readyz')).status).toBe(200);

    const answers: { what: string; answer: Answer }[] = [];
    const keyed: { key: string; status: number }[] = [];
    const readyz: number[] = [];
    let streaming = true;
    const worker = async (index: number) => {
      for (let round = 0; streaming; round++) {
        const kind = (index + round) % 4;
        if (kind === 0) {
          const key = `restart-${index}-${round}`;
          const answer = await call('POST', '/api/orders', orderBody(key), { 'idempotency-key': key });
          keyed.push({ key, status: answer.status });
          answers.push({ what: 'rest create', answer });
        } else if (kind === 1) answers.push({ what: 'rest read', answer: await call('GET', `/api/orders/${known}`) });
        else if (kind === 2) answers.push({ what: 'graphql create', answer: await gqlCreate(`gql-${index}-${round}`) });
        else answers.push({ what: 'graphql read', answer: await graphql(`query($id: ID!) { order(id: $id) { id status } }`, { id: known }) });
        await sleep(20);
      }
    };
    const probe = async () => {
      while (streaming) {
        readyz.push((await call('GET', '/readyz')).status);
        await sleep(50);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    const probing = probe();
    await sleep(500);
    await cluster.restartFast();
    await sleep(1500);
    streaming = false;
    await Promise.all([...workers, probing]);

    for (const { what, answer } of answers) {
      if (answer.status === 503) expectUnavailable(answer, what.startsWith('rest') ? 'rest' : 'graphql');
      else expect([200, 201], `${what}: ${answer.status} ${answer.text}`).toContain(answer.status);
      if (what === 'graphql create' && answer.status === 200) expect(answer.body.data.createOrder.order.id, answer.text).toBeTruthy();
    }
    expect(answers.some(({ answer }) => answer.status === 503), 'the restart was seen').toBe(true);
    expect(readyz).toContain(503);

    // Service again, without restarting the gateway.
    await eventually(async () => (await call('GET', '/readyz')).status === 200, 15_000, '/readyz ready again');
    expect((await call('POST', '/api/orders', orderBody('after'))).status).toBe(201);

    // Every key that got a 503 (or anything) is retried: one order per key, replayed if it had been made.
    for (const { key } of keyed) {
      const again = await call('POST', '/api/orders', orderBody(key), { 'idempotency-key': key });
      expect(again.status, again.text).toBeLessThan(300);
    }
    const perKey = await sql<{ customer_id: string; n: number }>(
      `select customer_id, count(*)::int as n from orders where customer_id like 'restart-%' group by customer_id`,
    );
    expect(perKey.filter((row) => row.n !== 1)).toStrictEqual([]);
    expect(perKey).toHaveLength(keyed.length);
    await expectWholeOrders();
  });

  it('after the restart the relay listens again: a new order is published at once, not at the one-minute poll; /metrics shows it', async () => {
    await eventually(async () => (await metric('events_listen_up')) === 1, 15_000, 'events_listen_up back to 1');
    expect(await metric('events_listen_lost_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('db_up')).toBe(1);
    // A second gateway without a relay commits the order: only the NOTIFY its commit sends, heard on
    // the first one's LISTEN connection, can publish it before the poll (a gateway's own commits wake
    // its relay directly, so they would prove nothing here).
    const writer = await startServer({ DATABASE_URL: cluster.url('gateway'), EVENTS_RELAY: 'false' }, 60_000, BUILT_CLI);
    try {
      const res = await fetch(`${writer.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: bearer, 'content-type': 'application/json' },
        body: JSON.stringify(orderBody('after-listen')),
      });
      const created = (await res.json()) as Json;
      expect(res.status, JSON.stringify(created)).toBe(201);
      await eventually(
        async () => (await sql(`select 1 from order_event_queue where order_id = $1`, [created.data.id])).length === 0,
        5_000,
        'the new order published well before the one-minute poll',
      );
    } finally {
      await writer.stop();
    }
  });

  it('a row lock held past DB_STATEMENT_TIMEOUT_MS is a 503 with Retry-After on REST and GraphQL; released, the same change goes through', async () => {
    const created = await call('POST', '/api/orders', orderBody('locked'));
    const id = created.body.data.id as string;
    const holder = new Client({ connectionString: cluster.url('gateway') });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from orders where id = $1 for update', [id]);
      expectUnavailable(await call('PUT', `/api/orders/${id}`, { notes: 'waited' }), 'rest');
      expectUnavailable(
        await graphql(`mutation($id: ID!) { updateOrder(id: $id, input: { notes: "waited" }) { order { id } userErrors { code } } }`, { id }),
        'graphql',
      );
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
    const after = await call('PUT', `/api/orders/${id}`, { notes: 'waited' });
    expect(after.status, after.text).toBe(200);
    expect((await sql<{ notes: string }>('select notes from orders where id = $1', [id]))[0]?.notes).toBe('waited');
  });

  it("a deadlock with the gateway's own create (40P01) is a 503 with Retry-After, and nothing is half-written", async () => {
    const before = await expectWholeOrders();
    const dba = new Client({ connectionString: cluster.url('gateway') });
    await dba.connect();
    try {
      // The DBA's session waits long before it looks for deadlocks, so the gateway's session finds this one.
      await dba.query(`set deadlock_timeout = '20s'`);
      await dba.query('begin');
      await dba.query('update order_number_counters set last_value = last_value');
      // The gateway's create writes its items and event, then waits for the counter row…
      const pending = call('POST', '/api/orders', orderBody('deadlocked'));
      await gatewayWaitsForCounter(dba);
      // …while this session asks for the tables the gateway has written to.
      const blocked = dba.query('lock table order_items, order_events in share mode').catch((error: unknown) => error);
      expectUnavailable(await pending, 'rest');
      await blocked;
    } finally {
      await dba.query('rollback').catch(() => undefined);
      await dba.end();
    }
    expect(await expectWholeOrders()).toBe(before);
    expect((await call('POST', '/api/orders', orderBody('after-deadlock'))).status).toBe(201);
  });

  it('a serialization failure (40001, default_transaction_isolation = serializable) is a 503 with Retry-After, not a 500', async () => {
    await sql(`alter database gateway set default_transaction_isolation = 'serializable'`);
    // Sessions read the setting when they start: the gateway's pool is made anew.
    await sql(`select pg_terminate_backend(pid) from pg_stat_activity where datname = 'gateway' and pid <> pg_backend_pid()`);
    await eventually(async () => (await call('GET', '/readyz')).status === 200, 15_000, 'ready after the sessions were ended');
    const before = await expectWholeOrders();
    const dba = new Client({ connectionString: cluster.url('gateway') });
    await dba.connect();
    try {
      await dba.query('begin isolation level read committed');
      await dba.query('update order_number_counters set last_value = last_value');
      const pending = call('POST', '/api/orders', orderBody('serialized'));
      await gatewayWaitsForCounter(dba);
      await dba.query('commit');
      expectUnavailable(await pending, 'rest');
    } finally {
      await dba.query('rollback').catch(() => undefined);
      await dba.end();
      await sql(`alter database gateway reset default_transaction_isolation`);
    }
    expect(await expectWholeOrders()).toBe(before);
  });
});
