/**
 * An SRE breaks PostgreSQL under a running gateway with the server's own levers, on a database
 * of its own on the machine's server (DATABASE_URL, or 127.0.0.1:5432 in the embedded pass):
 * the database turned read-only (`default_transaction_read_only`, what a promoted-away primary
 * or a hot standby answers), a table lock held by another session under a `lock_timeout`, the
 * gateway's connections terminated mid-transaction (`pg_terminate_backend`), and the database
 * closed to new sessions (`ALLOW_CONNECTIONS false`). For each, REST and GraphQL answer 503
 * `SERVICE_UNAVAILABLE` with `Retry-After` (no 500, no SQL, no stack), nothing is half-written
 * (no order without items or its outbox event, no order number used up), `/readyz` tells the
 * truth, and the gateway serves again by itself once the lever is released. Every lever is
 * released and the database dropped afterwards, whatever happens.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../../src/app/app';
import { openDatabase, type Database } from '../../src/db/database';
import { testConfig } from '../support/app';
import { POSTGRES_SERVER_URL } from '../support/services';
import { queryRows } from '../support/database';

const SERVER_URL = POSTGRES_SERVER_URL;
const server = inject('postgres');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read as untyped JSON, as a caller does
type Json = any;

describe.runIf(server.up)('database faults under a running gateway', { timeout: 120_000 }, () => {
  const name = `og_faults_${randomBytes(6).toString('hex')}`;
  const databaseUrl = (() => {
    const url = new URL(SERVER_URL);
    url.pathname = `/${name}`;
    return url.toString();
  })();
  const admin = <T extends object>(sql: string) => queryRows<T>(SERVER_URL, sql);
  const inDatabase = <T extends object>(sql: string) => queryRows<T>(databaseUrl, sql);
  /** Ends every session of the gateway's database but the caller's, so the next ones read new settings. */
  const terminateGateway = () =>
    admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`);
  let db: Database;
  let app: App;
  let bearer = '';
  let orderNumbersTaken = 0;
  /** Every event the gateway's relay published, as it published them. */
  const published: string[] = [];

  beforeAll(async () => {
    await admin(`create database ${name}`);
    db = await openDatabase({ kind: 'postgres', url: databaseUrl, poolMax: 5, connectTimeoutMs: 1000, statementTimeoutMs: 5000 });
    await db.migrate();
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    app = await buildApp({ config: testConfig(), db, logStream: quiet });
    app.events.relay.subscribe((event) => published.push(event.id));
    await app.services.auth.createWorkspace('faults', 'UTC');
    bearer = `Bearer ${(await app.services.auth.createApiKey('faults')).key}`;
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await admin(`drop database if exists ${name} with (force)`).catch(() => undefined);
  });

  const order = (customer: string) => ({
    customer_id: customer,
    items: [{ product_id: 'p1', quantity: 2, price: '10.00' }],
    total: '20.00',
  });
  const rest = async (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await app.http.inject({
      method,
      url,
      headers: { authorization: bearer, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: response.statusCode, headers: response.headers, text: response.body, body: response.json<Json>() };
  };
  const gqlCreate = async (customer: string) => {
    const response = await app.http.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: bearer, 'content-type': 'application/json' },
      payload: JSON.stringify({
        query: `mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id orderNumber } userErrors { code } } }`,
        variables: { input: { customerId: customer, items: [{ productId: 'p1', quantity: 2, price: '10.00' }], total: '20.00' } },
      }),
    });
    return { status: response.statusCode, headers: response.headers, text: response.body, body: response.json<Json>() };
  };
  const readyz = async () => (await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode;

  /** A 503 a caller can act on: the contract's code, a retry hint, and nothing of the database's. */
  function expectUnavailable(answer: { status: number; headers: Record<string, unknown>; text: string }, transport: 'rest' | 'graphql') {
    expect(answer.status, answer.text).toBe(503);
    expect(answer.headers['retry-after'], answer.text).toMatch(/^\d+$/);
    if (transport === 'rest') expect(JSON.parse(answer.text).error.code).toBe('SERVICE_UNAVAILABLE');
    else expect(JSON.parse(answer.text).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(answer.text).not.toMatch(/select|insert|update |transaction|read-only|lock|stack|at \w+ \(|\.ts:\d/i);
  }

  /** Each created order has its items, its one order.created event, and numbers 001… with no gap or repeat. */
  async function expectWholeOrders(created: number) {
    const orders = await inDatabase<{ id: string; order_number: string; items: number; created: number }>(
      `select o.id, o.order_number,
              (select count(*)::int from order_items i where i.order_id = o.id) as items,
              (select count(*)::int from order_events e where e.order_id = o.id and e.type = 'order.created') as created
         from orders o order by o.order_number`,
    );
    expect(orders).toHaveLength(created);
    for (const row of orders) expect({ id: row.id, items: row.items, created: row.created }).toStrictEqual({ id: row.id, items: 1, created: 1 });
    const numbers = orders.map((row) => Number(row.order_number.slice(-3)));
    expect(numbers).toStrictEqual(numbers.map((_, index) => index + 1));
    orderNumbersTaken = created;
  }

  /** Waits until the gateway creates again by itself (no restart), at most `ms`. */
  async function expectRecovers(ms = 10_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      const answer = await rest('POST', '/api/orders', order('after'));
      if (answer.status === 201) return;
      if (Date.now() > deadline) throw new Error(`no recovery: ${answer.status} ${answer.text}`);
      await sleep(200);
    }
  }

  it('serves before any fault', async () => {
    expect((await rest('POST', '/api/orders', order('c0'))).status).toBe(201);
    expect(await readyz()).toBe(200);
    await expectWholeOrders(1);
  });

  it('a read-only database (default_transaction_read_only) is a 503 with Retry-After on both transports, and /readyz says not ready', async () => {
    await admin(`alter database ${name} set default_transaction_read_only = on`);
    try {
      await terminateGateway();
      expectUnavailable(await rest('POST', '/api/orders', order('ro-rest'), { 'idempotency-key': 'ro-1' }), 'rest');
      expectUnavailable(await gqlCreate('ro-gql'), 'graphql');
      expect(await readyz()).toBe(503);
      // Reads still work: the database answers, it only refuses writes.
      expect((await rest('GET', '/api/orders')).status).toBe(200);
    } finally {
      await admin(`alter database ${name} reset default_transaction_read_only`);
      await terminateGateway();
    }
    await expectRecovers();
    expect(await readyz()).toBe(200);
    // The key of the refused create stored nothing: the retry creates the order.
    expect((await rest('POST', '/api/orders', order('ro-rest'), { 'idempotency-key': 'ro-1' })).status).toBe(201);
    await expectWholeOrders(orderNumbersTaken + 2);
  });

  it('a table lock held past lock_timeout is a 503 with Retry-After, and nothing is half-written', async () => {
    await admin(`alter database ${name} set lock_timeout = '300ms'`);
    await terminateGateway();
    const holder = new Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table orders in access exclusive mode');
      expectUnavailable(await rest('POST', '/api/orders', order('locked')), 'rest');
      expectUnavailable(await rest('GET', '/api/orders'), 'rest');
      expectUnavailable(await gqlCreate('locked-gql'), 'graphql');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end().catch(() => undefined);
      await admin(`alter database ${name} reset lock_timeout`);
      await terminateGateway();
    }
    await expectRecovers();
    await expectWholeOrders(orderNumbersTaken + 1);
  });

  it('a connection terminated mid-transaction (pg_terminate_backend) is a 503 and leaves no half order; the retry with its key creates it once', async () => {
    const holder = new Client({ connectionString: databaseUrl });
    await holder.connect();
    let pending: Promise<{ status: number; headers: Record<string, unknown>; text: string; body: Json }>;
    try {
      // The create waits inside its transaction for the items table, and is killed there.
      await holder.query('begin');
      await holder.query('lock table order_items in access exclusive mode');
      pending = rest('POST', '/api/orders', order('killed'), { 'idempotency-key': 'kill-1' });
      const deadline = Date.now() + 5000;
      for (;;) {
        const waiting = await admin<{ pid: number }>(
          `select pid from pg_stat_activity where datname = '${name}' and wait_event_type = 'Lock' and pid <> ${(holder as unknown as { processID: number }).processID}`,
        );
        if (waiting.length > 0) {
          await admin(`select pg_terminate_backend(${waiting[0].pid})`);
          break;
        }
        if (Date.now() > deadline) throw new Error('the create never waited for the lock');
        await sleep(20);
      }
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
    expectUnavailable(await pending, 'rest');
    await expectWholeOrders(orderNumbersTaken);
    const retry = await rest('POST', '/api/orders', order('killed'), { 'idempotency-key': 'kill-1' });
    expect(retry.status, retry.text).toBe(201);
    await expectWholeOrders(orderNumbersTaken + 1);
  });

  // CONNECTION LIMIT does not bind a superuser, which this test's gateway is (the machine's
  // `postgres`); ALLOW_CONNECTIONS false closes the database to every role.
  it('a database closed to new sessions (ALLOW_CONNECTIONS false) is a 503, /readyz follows it, and the gateway comes back alone', async () => {
    await admin(`alter database ${name} allow_connections false`);
    try {
      await terminateGateway();
      expectUnavailable(await rest('POST', '/api/orders', order('full')), 'rest');
      expectUnavailable(await gqlCreate('full-gql'), 'graphql');
      expect(await readyz()).toBe(503);
    } finally {
      await admin(`alter database ${name} allow_connections true`);
    }
    await expectRecovers();
    expect(await readyz()).toBe(200);
    await expectWholeOrders(orderNumbersTaken + 1);
  });

  it('the events relay resumes after every fault: each committed change is published once, none is left behind', async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [row] = await inDatabase<{ pending: number }>('select count(*)::int as pending from order_event_queue');
      if (row.pending === 0) break;
      if (Date.now() > deadline) throw new Error(`${row.pending} event(s) never published after the faults`);
      await sleep(200);
    }
    const events = await inDatabase<{ id: string; order_id: string; sequence: number }>('select id, order_id, sequence from order_events');
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    expect(new Set(events.map((event) => `${event.order_id}/${event.sequence}`)).size).toBe(events.length);
    // The relay published each stored event once: none lost, none twice.
    expect([...published].sort()).toStrictEqual(events.map((event) => event.id).sort());
    await expectWholeOrders(orderNumbersTaken);
  });
});
