/**
 * The gateway behind PgBouncer (Debian's `pgbouncer`, run on a free port with a
 * config of our own), as a DBA who pools every service's connections runs it.
 *
 * Transaction pooling (`pool_mode = transaction`, PgBouncer 1.18: no prepared
 * statements, no startup parameters but a few, no session state between
 * transactions, so no LISTEN): with `DATABASE_POOL_MODE=transaction` and a
 * `DATABASE_DIRECT_URL` for the relay's LISTEN, two gateway processes migrate,
 * create, read, list and update on REST and GraphQL, replay a key, number their
 * orders without a gap or a repeat, report ready, and every commit of one
 * process wakes the other's relay, which publishes the event and delivers its
 * webhook. Without `DATABASE_POOL_MODE=transaction` the start fails with one
 * line that says to set it. Session pooling works as a direct connection does.
 * PostgreSQL pass only (it needs a server to put PgBouncer in front of).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, queryRows, usingRealPostgres } from '../support/database';
import { pgbouncerInstalled, startPgbouncer, type RunningPgbouncer } from '../support/pgbouncer';
import { runCli, startServer, type RunningServer } from '../support/processes';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const pgbouncer = usingRealPostgres ? pgbouncerInstalled() : { up: false, reason: 'PostgreSQL pass only' };

const order = (i: number) => ({
  customer_id: `cust_${i}`,
  items: [{ product_id: 'p1', quantity: 2, price: '19.99' }],
  total: '39.98',
  currency: 'USD',
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answers are read as untyped JSON, as a caller's script does
type Json = any;

async function call(server: RunningServer, key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Json };
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.runIf(pgbouncer.up)('behind PgBouncer in transaction pooling (PostgreSQL pass)', { timeout: 240_000 }, () => {
  let bouncer: RunningPgbouncer;
  let receiver: Receiver;
  let direct: string;
  let pooled: string;
  let drop: () => Promise<void>;
  let writer: RunningServer;
  let relay: RunningServer;
  let key: string;

  beforeAll(async () => {
    const database = await createServerDatabase();
    drop = database.drop;
    direct = database.url;
    bouncer = await startPgbouncer(direct, 'transaction');
    pooled = bouncer.url(direct);
    receiver = await startReceiver([200]);
    const env = { DATABASE_URL: pooled, DATABASE_POOL_MODE: 'transaction', DATABASE_DIRECT_URL: direct };
    // Migrations through the pooler, by the first start; the CLI makes a key and an endpoint through it too.
    writer = await startServer({ ...env, MAX_EVENT_LOOP_DELAY_MS: '0', EVENTS_RELAY: 'false' });
    key = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], env)).stdout).key;
    const endpoint = await runCli(['webhook', 'create', '--workspace', 'acme', '--url', receiver.url, '--json'], {
      ...env,
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    });
    expect(endpoint.code, endpoint.stderr).toBe(0);
    receiver.secret = JSON.parse(endpoint.stdout).secret;
    // The only relay: it polls once in ten minutes, so only the LISTEN on the direct URL can wake it in time.
    relay = await startServer({
      ...env,
      MAX_EVENT_LOOP_DELAY_MS: '0',
      EVENTS_POLL_INTERVAL_MS: '600000',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    });
  });

  afterAll(async () => {
    await writer?.stop();
    await relay?.stop();
    await receiver?.close();
    await bouncer?.stop();
    await drop?.();
  });

  it('serves REST and GraphQL from two processes: create, get, list, update, a replayed key, gap-free numbers', async () => {
    for (const server of [writer, relay]) expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    // The role has no timeouts of its own, and the gateway cannot SET them through the pooler: it says what to grant.
    expect(writer.output()).toContain(`ALTER ROLE \\"postgres\\" SET statement_timeout = '10000ms';`);

    const created = await call(writer, key, 'POST', '/api/orders', order(0), { 'idempotency-key': 'k-0' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const replay = await call(relay, key, 'POST', '/api/orders', order(0), { 'idempotency-key': 'k-0' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.data.id).toBe(created.body.data.id);

    // Both processes at once, many times over: every statement of each goes through the pooler.
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => call(i % 2 ? relay : writer, key, 'POST', '/api/orders', order(i + 1))),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 201));
    const numbers = [created, ...answers].map((answer) => Number(/(\d+)$/.exec(answer.body.data.order_number)?.[1]));
    expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));

    for (const server of [writer, relay]) {
      const read = await call(server, key, 'GET', `/api/orders/${created.body.data.id}`);
      expect(read.status).toBe(200);
      expect(read.body.data.total).toBe(39.98);
      const page = await call(server, key, 'GET', '/api/orders?limit=100');
      expect(page.status).toBe(200);
      expect(page.body.pagination.total).toBe(41);
      const filtered = await call(server, key, 'GET', '/api/orders?status=pending&customer_id=cust_3');
      expect(filtered.body.data.map((row: { id: string }) => row.id)).toEqual([answers[2]?.body.data.id]);
    }
    const updated = await call(relay, key, 'PUT', `/api/orders/${created.body.data.id}`, { status: 'paid' });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.data.status).toBe('paid');

    const graphql = async (server: RunningServer, query: string, variables: Record<string, unknown>) =>
      (await call(server, key, 'POST', '/graphql', { query, variables })).body;
    const gqlCreated = await graphql(
      writer,
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id orderNumber total } userErrors { code } } }',
      { input: { customerId: 'gql', items: [{ productId: 'p', quantity: 1, price: '5.00' }], total: '5.00' } },
    );
    expect(gqlCreated.data.createOrder.userErrors).toEqual([]);
    expect(gqlCreated.data.createOrder.order.orderNumber).toMatch(/-042$/);
    const gqlRead = await graphql(relay, 'query($id: ID!) { order(id: $id) { total status } orders(first: 50) { totalCount edges { node { id } } } }', {
      id: gqlCreated.data.createOrder.order.id,
    });
    expect(gqlRead.errors).toBeUndefined();
    expect(gqlRead.data.order).toEqual({ total: '5.00', status: 'PENDING' });
    expect(gqlRead.data.orders.totalCount).toBe(42);
  });

  it("wakes the other process's relay at every commit: each event is published and its webhook delivered", async () => {
    // Every order the writer committed (42 creates, 1 update) reaches the relay only by its LISTEN.
    await until(
      async () => (await queryRows<{ n: string }>(direct, 'select count(*) as n from order_event_queue'))[0]?.n === '0',
      'every event published',
    );
    // 42 creates, and the update's events (a status change and an update).
    const events = Number((await queryRows<{ n: string }>(direct, 'select count(*) as n from order_events'))[0]?.n);
    expect(events).toBeGreaterThanOrEqual(43);
    await until(async () => receiver.received.length >= events, 'a webhook for every event');
    expect(new Set(receiver.received.map((delivery) => delivery.headers['webhook-id'])).size).toBe(events);
    expect(receiver.received.every((delivery) => delivery.verified)).toBe(true);
  });

  it('without DATABASE_DIRECT_URL, the relay says at start that other processes\' changes wait for the poll', async () => {
    const undirected = await startServer({ DATABASE_URL: pooled, DATABASE_POOL_MODE: 'transaction', MAX_EVENT_LOOP_DELAY_MS: '0' });
    try {
      expect((await fetch(`${undirected.url}/readyz`)).status).toBe(200);
      expect(undirected.output()).toMatch(/event relay: no LISTEN connection \(DATABASE_POOL_MODE=transaction without DATABASE_DIRECT_URL\)/);
    } finally {
      await undirected.stop();
    }
    // With it, no such line.
    expect(relay.output()).not.toContain('no LISTEN connection');
  });

  it('refuses to start through a transaction pooler without DATABASE_POOL_MODE=transaction, saying so', async () => {
    const failed = await runCli(['migrate'], { DATABASE_URL: pooled });
    expect(failed.code).toBe(78); // fix the configuration first (src/cli/exit-codes.ts)
    expect(failed.stderr).toMatch(/DATABASE_POOL_MODE=transaction/);
    expect(failed.stderr).not.toMatch(/\n\s+at /); // one line, no stack
  });
});

describe.runIf(pgbouncer.up)('behind PgBouncer in session pooling (PostgreSQL pass)', { timeout: 120_000 }, () => {
  it('works as on a direct connection, LISTEN included', async () => {
    const database = await createServerDatabase();
    const bouncer = await startPgbouncer(database.url, 'session');
    const servers: RunningServer[] = [];
    try {
      const env = { DATABASE_URL: bouncer.url(database.url), DATABASE_POOL_MODE: 'session' };
      servers.push(await startServer({ ...env, EVENTS_RELAY: 'false' }));
      servers.push(await startServer({ ...env, EVENTS_POLL_INTERVAL_MS: '600000' }));
      const key = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], env)).stdout).key;
      for (let i = 0; i < 6; i++) {
        const created = await call(servers[i % 2], key, 'POST', '/api/orders', order(i));
        expect(created.status).toBe(201);
        expect((await call(servers[(i + 1) % 2], key, 'GET', `/api/orders/${created.body.data.id}`)).status).toBe(200);
      }
      await until(
        async () => (await queryRows<{ n: string }>(database.url, 'select count(*) as n from order_event_queue'))[0]?.n === '0',
        'every event published',
      );
      expect((await queryRows<{ n: string }>(database.url, 'select count(*) as n from order_events'))[0]?.n).toBe('6');
    } finally {
      for (const server of servers) await server.stop();
      await bouncer.stop();
      await database.drop();
    }
  });
});
