/**
 * A DBA's review of the hot paths (outside review, seat "query-plans"), with PostgreSQL's own
 * instruments: a private PostgreSQL 15 cluster with `pg_stat_statements` and `auto_explain`
 * (every statement's plan, analysed, as JSON, nested statements included) loaded at start, one
 * big workspace (30,000 orders with two items each, their events, idempotency keys and webhook
 * deliveries, loaded with generate_series) and three small ones, and the gateway built on it.
 *
 * It drives every hot path (REST and GraphQL create, get by id, by number, the list with filters
 * and pages, a status move, an idempotent replay, the sync "changed since", the outbox relay and
 * the webhook queue), then asserts:
 * - statements per request, from `pg_stat_statements` (top-level statements, which are round
 *   trips; the API-key look-up, cached for a second, is left out), with the relay off so nothing
 *   runs in the background while a path is counted;
 * - from every `auto_explain` plan of a small workspace's requests, that no scan node read more
 *   rows than the workspace has (a plan that reads another workspace's rows), and no sequential
 *   scan of a big table anywhere.
 * The counts are printed (README "Performance", "Statements per request").
 *
 * It runs on its own cluster whichever database the suite uses (DATABASE_URL or the embedded
 * one), and stops it afterwards. Without the PostgreSQL 15 server binaries (Debian's
 * `postgresql-15`) it skips, saying why; under REQUIRE_SERVICES=1 (CI) it fails instead.
 */
import fs from 'node:fs';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app/app';
import { openDatabase, type Database } from '../../src/db/database';
import { testConfig } from '../support/app';
import { createPgCluster, type PgCluster } from '../support/pg-cluster';
import type { Availability } from '../support/services';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_LIB = '/usr/lib/postgresql/15/lib';

function postgres15Installed(): Availability {
  const missing = [`${PG_BIN}/initdb`, `${PG_BIN}/pg_ctl`, `${PG_LIB}/pg_stat_statements.so`, `${PG_LIB}/auto_explain.so`].filter(
    (file) => !fs.existsSync(file),
  );
  if (missing.length === 0) return { up: true, reason: '' };
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but ${missing.join(', ')} is missing`);
  const reason = `skipped: no ${missing.join(', ')} (apt-get install postgresql-15; CI runs these)`;
  process.stderr.write(`\n  ${reason}\n`);
  return { up: false, reason };
}

const postgres15 = postgres15Installed();

const BIG_ORDERS = 30_000;
/** Tables that grow with the workspaces' history: a sequential scan of one is a defect on a hot path. */
const BIG_TABLES = ['orders', 'order_items', 'order_events', 'idempotency_keys', 'webhook_deliveries', 'webhook_attempts'];

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}
interface LoggedPlan {
  query: string;
  nodes: PlanNode[];
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)];
/** Rows a scan node looked at: what it returned and what its filters threw away, over all its loops. */
const rowsRead = (node: PlanNode) =>
  ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
  (node['Actual Loops'] ?? 1);

describe.skipIf(!postgres15.up)(`query plans on a private PostgreSQL 15 with pg_stat_statements and auto_explain ${postgres15.reason}`, { timeout: 180_000 }, () => {
  let cluster: PgCluster;
  let admin: Client;
  let db: Database;
  let app: App;
  let receiver: Receiver;
  let small = '';
  let big = '';
  let logOffset = 0;
  const perRequest: Record<string, number> = {};

  beforeAll(async () => {
    cluster = await createPgCluster({
      shared_preload_libraries: 'pg_stat_statements,auto_explain',
      'pg_stat_statements.track': 'top',
      'auto_explain.log_min_duration': '0',
      'auto_explain.log_analyze': 'on',
      'auto_explain.log_format': 'json',
      'auto_explain.log_nested_statements': 'on',
    });
    const url = cluster.url('gateway');
    admin = new Client({ connectionString: url });
    await admin.connect();
    await admin.query('create extension pg_stat_statements');
    db = await openDatabase({ kind: 'postgres', url, poolMax: 4, connectTimeoutMs: 5000, statementTimeoutMs: 60_000 });
    await db.migrate();
    // The relay off while statements are counted: nothing runs in the background (see the last test).
    app = await buildApp({ config: testConfig({ logLevel: 'silent', eventsRelay: false, webhookAllowPrivateNetworks: true }), db });
    const auth = app.services.auth;
    const bigWorkspace = await auth.createWorkspace('big');
    for (const slug of ['small-a', 'small-b', 'small-c']) await auth.createWorkspace(slug);
    big = `Bearer ${(await auth.createApiKey('big')).key}`;
    small = `Bearer ${(await auth.createApiKey('small-a')).key}`;

    // The seed's own statements are not plans under review.
    await admin.query('set auto_explain.log_min_duration = -1');
    const ws = bigWorkspace.id;
    const id = (g: string) => `'order_' || lpad(${g}::text, 26, '0')`;
    await admin.query(
      `insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                           notes, status_history, created_at, updated_at, version)
       select ${id('g')}, $1, 'ORD-2025-0101-' || lpad(g::text, 6, '0'), 'cust_' || (g % 500),
              (array['pending','paid','shipped'])[1 + g % 3], 'USD', 20, 0, 0, 20,
              case when g % 10 = 0 then 'gift wrap ' || g end, '[]'::jsonb,
              timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute', 1
       from generate_series(1, $2::int) g`,
      [ws, BIG_ORDERS],
    );
    await admin.query(
      `insert into order_items (order_id, position, product_id, name, quantity, price, subtotal)
       select ${id('g')}, p, 'prod_' || p, 'Item', 1, 10, 10 from generate_series(1, $1::int) g cross join generate_series(0, 1) p`,
      [BIG_ORDERS],
    );
    await admin.query(
      `insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
       select 'evt_' || lpad(g::text, 26, '0'), $1, ${id('g')}, 'order.created', 1, timestamptz '2025-01-01' + g * interval '1 minute', '{"order":{}}'::json
       from generate_series(1, $2::int) g`,
      [ws, BIG_ORDERS],
    );
    await admin.query(
      `insert into idempotency_keys (workspace_id, key, fingerprint, order_id, response, created_at, expires_at)
       select $1, 'key-' || g, 'f', ${id('g')},
              '{"statusHistory": [], "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z"}'::jsonb, now(), now() + interval '1 day' from generate_series(1, $2::int) g`,
      [ws, BIG_ORDERS],
    );
    await admin.query(
      `insert into webhook_endpoints (id, workspace_id, url, secret, enabled, created_at) values ('whep_big', $1, 'http://127.0.0.1:9/', 'whsec_x', true, now())`,
      [ws],
    );
    await admin.query(
      `insert into webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, delivered_at, created_at)
       select 'whd_' || g, 'whep_big', 'evt_' || lpad(g::text, 26, '0'), 'delivered', 1, now(), now(), now() - g * interval '1 second'
       from generate_series(1, $1::int) g`,
      [BIG_ORDERS],
    );
    await admin.query(
      `insert into webhook_attempts (delivery_id, attempted_at, status_code, duration_ms) select 'whd_' || g, now(), 200, 5 from generate_series(1, $1::int) g`,
      [BIG_ORDERS],
    );
    await admin.query('vacuum analyze');
    receiver = await startReceiver([200]);
    const smallScope = await auth.authenticate(small);
    receiver.secret = (await app.services.webhooks.createEndpoint(smallScope, { url: receiver.url })).secret;
  }, 170_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await admin?.end();
    await receiver?.close();
    cluster?.destroy();
    if (Object.keys(perRequest).length > 0) process.stdout.write(`\nstatements per request:\n${JSON.stringify(perRequest, null, 2)}\n`);
  });

  const inject = (auth: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    app.http.inject({
      method,
      url,
      headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      payload: payload === undefined ? undefined : JSON.stringify(payload),
    });
  const gql = async (auth: string, query: string, variables: Record<string, unknown> = {}) => {
    const body = (await inject(auth, 'POST', '/graphql', { query, variables })).json();
    expect(body.errors).toBeUndefined();
    return body.data;
  };

  /** The plans auto_explain wrote since the last call. */
  function newPlans(): LoggedPlan[] {
    const text = fs.readFileSync(cluster.logFile, 'utf8');
    const fresh = text.slice(logOffset);
    logOffset = text.length;
    const plans: LoggedPlan[] = [];
    for (const [, body] of fresh.matchAll(/duration: [\d.]+ ms {2}plan:\n([\s\S]*?)(?=\n\d{4}-\d\d-\d\d |\s*$)/g)) {
      const plan = JSON.parse(body.replace(/^\t/gm, '')) as { 'Query Text': string; Plan: PlanNode };
      plans.push({ query: plan['Query Text'].replace(/\s+/g, ' '), nodes: flatten(plan.Plan) });
    }
    return plans;
  }

  /** Runs `request` `times` times; the top-level statements each sent on average (API-key look-ups aside), and the plans. */
  async function measure(name: string, times: number, request: (i: number) => Promise<unknown>) {
    await request(-1); // warms the key cache and each connection's prepared statements
    await admin.query('select pg_stat_statements_reset()');
    newPlans();
    for (let i = 0; i < times; i++) await request(i);
    const { rows } = await admin.query<{ calls: string; query: string }>(
      `select calls, query from pg_stat_statements s join pg_database d on d.oid = s.dbid
       where d.datname = current_database() and s.toplevel and query !~* 'pg_stat_statements|api_keys'`,
    );
    perRequest[name] = rows.reduce((sum, row) => sum + Number(row.calls), 0) / times;
    return newPlans().filter((plan) => !/pg_stat_statements|api_keys/.test(plan.query));
  }

  /** Scan nodes on big tables that read more than `limit` rows, or read one sequentially. */
  function heavyScans(plans: LoggedPlan[], limit: number) {
    return plans.flatMap((plan) =>
      plan.nodes
        .filter((node) => BIG_TABLES.includes(node['Relation Name'] ?? ''))
        .filter((node) => node['Node Type'] === 'Seq Scan' || rowsRead(node) > limit)
        .map((node) => `${node['Node Type']} on ${node['Relation Name']} read ${rowsRead(node)} rows: ${plan.query.slice(0, 160)}`),
    );
  }

  const orderBody = (i: number) => ({
    customer_id: `cust_${i % 3}`,
    items: [{ product_id: 'p1', quantity: 2, price: '19.99' }, { product_id: 'p2', quantity: 1, price: '1.00' }],
    total: '40.98',
    notes: `small order ${i}`,
  });
  const created: { id: string; number: string }[] = [];

  it('a small workspace: each hot path in few statements, and no plan reads another workspace\'s rows', async () => {
    const plans: LoggedPlan[] = [];
    const run = async (name: string, request: (i: number) => Promise<unknown>, times = 5) =>
      plans.push(...(await measure(name, times, request)));

    await run('REST create', async () => {
      const response = await inject(small, 'POST', '/api/orders', orderBody(created.length));
      expect(response.statusCode).toBe(201);
      created.push({ id: response.json().data.id, number: response.json().data.order_number });
    });
    await run('GraphQL create', async (i) => {
      const data = await gql(small, 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } } }', {
        input: { customerId: 'c', items: [{ productId: 'p', quantity: 1, price: '1.00' }], total: '1.00', notes: `g${i}` },
      });
      expect(data.createOrder.order.id).toMatch(/^order_/);
    });
    await run('REST create with Idempotency-Key', async (i) => {
      const response = await inject(small, 'POST', '/api/orders', orderBody(i), { 'idempotency-key': `new-${i}` });
      expect(response.statusCode).toBe(201);
    });
    await run('REST idempotent replay', async () => {
      const response = await inject(small, 'POST', '/api/orders', orderBody(0), { 'idempotency-key': 'replayed' });
      expect(response.statusCode).toBe(201);
    });
    await run('REST get by id', async (i) => {
      expect((await inject(small, 'GET', `/api/orders/${created.at(i)!.id}`)).statusCode).toBe(200);
    });
    await run('GraphQL order(id)', async (i) => {
      expect((await gql(small, `{ order(id: "${created.at(i)!.id}") { id items { sku } } }`)).order.id).toBe(created.at(i)!.id);
    });
    await run('GraphQL orderByNumber', async (i) => {
      expect((await gql(small, `{ orderByNumber(orderNumber: "${created.at(i)!.number}") { id } }`)).orderByNumber.id).toBe(created.at(i)!.id);
    });
    await run('REST list by order_number', async (i) => {
      expect((await inject(small, 'GET', `/api/orders?order_number=${created.at(i)!.number}`)).json().data).toHaveLength(1);
    });
    await run('REST list by an order_number that does not exist', async () => {
      const body = (await inject(small, 'GET', '/api/orders?order_number=ORD-2020-0101-999')).json();
      expect(body.data).toEqual([]);
      expect(body.pagination.total).toBe(0);
    });
    await run('GraphQL orders with totalCount, nothing matching', async () => {
      expect((await gql(small, '{ orders(first: 5, filter: {customerId: "nobody"}) { totalCount edges { node { id } } } }')).orders.totalCount).toBe(0);
    });
    await run('REST list, filters', async () => {
      const response = await inject(small, 'GET', '/api/orders?status=pending&customer_id=cust_1&min_total=1&max_total=100&limit=5');
      expect(response.json().pagination.total).toBeGreaterThan(0);
    });
    await run('REST list, search', async () => {
      expect((await inject(small, 'GET', '/api/orders?search=gift')).json().pagination.total).toBe(0);
    });
    await run('REST list, second page by cursor', async () => {
      const first = (await inject(small, 'GET', '/api/orders?limit=2')).json();
      const next = await inject(small, 'GET', `/api/orders?limit=2&cursor=${encodeURIComponent(first.pagination.next_cursor)}`);
      expect(next.json().data).toHaveLength(2);
    });
    await run('REST status move', async (i) => {
      expect((await inject(small, 'PUT', `/api/orders/${created.at(i)!.id}`, { status: 'paid' })).statusCode).toBe(200);
    });
    await run('REST sync: updated_since, sort=updated_at', async () => {
      const response = await inject(small, 'GET', '/api/orders?sort=updated_at&updated_since=2020-01-01T00:00:00Z&limit=10');
      expect(response.json().data.length).toBeGreaterThan(0);
    });
    await run('GraphQL sync: UPDATED_AT_ASC, updatedSince', async () => {
      const data = await gql(small, '{ orders(first: 10, orderBy: UPDATED_AT_ASC, filter: {updatedSince: "2020-01-01T00:00:00Z"}) { edges { node { id } } } }');
      expect(data.orders.edges.length).toBeGreaterThan(0);
    });
    await run('GraphQL webhookDeliveries', async () => {
      const { webhookEndpoints } = await gql(small, '{ webhookEndpoints { id } }');
      await gql(small, `{ webhookDeliveries(endpointId: "${webhookEndpoints[0].id}", first: 10) { edges { node { id status } } } }`);
    });

    // The small workspace has a few dozen orders: a node that read more rows than that read the big one's.
    expect(heavyScans(plans, 200)).toEqual([]);
    // One statement for a miss, as for a hit: the page's own statement says nothing matches (it was two).
    expect(perRequest['REST list by an order_number that does not exist']).toBe(1);
    expect(perRequest['GraphQL orders with totalCount, nothing matching']).toBe(1);
    expect(perRequest['REST get by id']).toBe(1);
    expect(perRequest['REST list by order_number']).toBe(1);
    expect(perRequest['REST create']).toBe(1);
  });

  it('the big workspace: its reads by id, number, customer and cursor come from indexes', async () => {
    const plans = [
      ...(await measure('big: REST get by id', 5, async (i) => {
        expect((await inject(big, 'GET', `/api/orders/order_${String(100 + i + 1).padStart(26, '0')}`)).statusCode).toBe(200);
      })),
      ...(await measure('big: GraphQL orderByNumber', 5, async (i) => {
        const number = `ORD-2025-0101-${String(200 + i + 1).padStart(6, '0')}`;
        expect((await gql(big, `{ orderByNumber(orderNumber: "${number}") { id } }`)).orderByNumber).not.toBeNull();
      })),
      ...(await measure('big: REST list by customer, by cursor', 3, async () => {
        const first = (await inject(big, 'GET', '/api/orders?customer_id=cust_7&limit=20')).json();
        expect(first.pagination.total).toBe(BIG_ORDERS / 500);
        await inject(big, 'GET', `/api/orders?customer_id=cust_7&limit=20&cursor=${encodeURIComponent(first.pagination.next_cursor)}`);
      })),
      ...(await measure('big: GraphQL orders(first: 20) without totalCount', 3, async () => {
        expect((await gql(big, '{ orders(first: 20) { edges { node { id } } } }')).orders.edges).toHaveLength(20);
      })),
      ...(await measure('big: REST idempotent replay of a stored key', 3, async () => {
        const response = await inject(big, 'POST', '/api/orders', orderBody(0), { 'idempotency-key': 'key-77' });
        expect(response.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      })),
    ];
    // A page of 20 reads at most a page's worth of index entries (with the one past it), and each order's items.
    expect(heavyScans(plans, 2 * (BIG_ORDERS / 500) + 1)).toEqual([]);
  });

  it('the outbox relay and the webhook queue claim and deliver without a sequential scan of the history', async () => {
    const relayApp = await buildApp({
      config: testConfig({ logLevel: 'silent', webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100 }),
      db,
    });
    try {
      newPlans();
      const before = receiver.received.length;
      for (let i = 0; i < 5; i++) expect((await inject(small, 'PUT', `/api/orders/${created.at(i)!.id}`, { status: 'processing' })).statusCode).toBe(200);
      // Every event written so far goes out: the creates' and status moves' of the tests before.
      const deadline = Date.now() + 60_000;
      while (Number((await admin.query('select count(*) from order_event_queue')).rows[0].count) > 0 || receiver.received.length === before)
        if (Date.now() > deadline) throw new Error('the relay did not drain the outbox');
        else await new Promise((resolve) => setTimeout(resolve, 100));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const plans = newPlans().filter((plan) => /order_event_queue|webhook_deliveries/.test(plan.query));
      expect(plans.length).toBeGreaterThan(0);
      expect(heavyScans(plans, 500)).toEqual([]);
    } finally {
      await relayApp.close();
    }
  });
});
