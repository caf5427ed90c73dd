/**
 * A DBA's view of one big workspace: 50,000 orders with two items each (and a small neighbour),
 * loaded with generate_series, and the plans of the statements the gateway sends for its read
 * paths, read with PostgreSQL's own EXPLAIN (ANALYZE, FORMAT JSON). Each test asserts what a plan
 * reads (node types, index names, how many times a node ran), never a time: times are noted in
 * the README ("Performance", "One big workspace"), measured on 2,000,000 orders.
 *
 * Runs on both databases: the embedded one is PostgreSQL too (PGlite), with the same planner.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { buildApp, type App } from '../../src/app/app';
import { AuthService } from '../../src/auth/auth.service';
import { listQueries } from '../../src/orders/order.repository';
import type { RequestContext } from '../../src/orders/order.types';
import { testConfig } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const ORDERS = 50_000;
let database: TestDatabase;
let ctx: RequestContext;
let app: App;
let authorization: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const auth = new AuthService(database.db.em);
  const big = await auth.createWorkspace('big-tenant');
  const neighbour = await auth.createWorkspace('neighbour');
  ctx = { workspaceId: big.id, timeZone: 'UTC' };
  const em = database.db.em.fork();
  // In steps of 10,000, each with its items: one statement stays well inside the statement timeout
  // on a busy machine.
  const insert = async (workspaceId: string, count: number) => {
    for (let first = 1; first <= count; first += 10_000) {
      const last = Math.min(count, first + 9_999);
      await em.execute(
        `insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                             notes, status_history, created_at, updated_at)
         select 'order_' || lpad(g::text, 22, '0') || ?, ?, 'ORD-2025-0101-' || lpad(g::text, 6, '0'), 'cust_' || (g % 500),
                (array['pending','paid','shipped'])[1 + g % 3], 'USD', g % 1000, 0, 0, g % 1000,
                case when g % 10 = 0 then 'gift wrap ' || g end, '[]'::jsonb,
                timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute'
         from generate_series(?::int, ?::int) g`,
        [workspaceId.slice(-4), workspaceId, first, last],
      );
      await em.execute(
        `insert into order_items (order_id, position, product_id, name, quantity, price, subtotal)
         select 'order_' || lpad(g::text, 22, '0') || ?, p, 'prod_' || p, 'Item', 1, 10, 10
         from generate_series(?::int, ?::int) g cross join generate_series(0, 1) p`,
        [workspaceId.slice(-4), first, last],
      );
    }
  };
  await insert(big.id, ORDERS);
  await insert(neighbour.id, 500);
  await em.execute('vacuum analyze orders');
  await em.execute('vacuum analyze order_items');
  app = await buildApp({ config: testConfig({ logLevel: 'silent' }), db: database.db });
  authorization = `Bearer ${(await app.services.auth.createApiKey('big-tenant')).key}`;
}, 300_000);
afterAll(async () => {
  await app?.close();
  await database.destroy();
});

/** The SQL text of every statement the gateway sends while `run` runs (MikroORM's query log). */
async function statementsOf(run: () => Promise<unknown>): Promise<string[]> {
  const logQuery = vi.spyOn(database.db.em.config.getLogger(), 'logQuery');
  try {
    await run();
    return logQuery.mock.calls.map(([entry]) => entry.query ?? '');
  } finally {
    logQuery.mockRestore();
  }
}

async function graphql(query: string) {
  const response = await app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization, 'content-type': 'application/json' },
    payload: { query },
  });
  expect(response.statusCode).toBe(200);
  const body = response.json<{ data?: { orders: { totalCount?: number; edges: unknown[] } }; errors?: unknown }>();
  expect(body.errors).toBeUndefined();
  return body.data!.orders;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Loops'?: number;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

async function explain(query: { toSQL(): { sql: string; bindings: readonly unknown[] } }): Promise<PlanNode[]> {
  const em = database.db.em.fork();
  const { sql, bindings } = query.toSQL();
  const result = await em.execute(`explain (analyze, format json) ${sql}`, bindings as unknown[]);
  const plan = (result[0] as Record<string, unknown>)['QUERY PLAN'];
  return nodes((typeof plan === 'string' ? JSON.parse(plan) : plan)[0].Plan as PlanNode);
}

const on = (relation: string) => (node: PlanNode) => node['Relation Name'] === relation;

it('reads a deep offset page (offset 45,000) without counting the items of the orders it skips', async () => {
  const em = database.db.em.fork();
  const { rows } = listQueries(em.getKnex(), ctx, {}, { sort: '-created_at', limit: 51, offset: 45_000 });
  const plan = await explain(rows);
  const items = plan.filter(on('order_items'));
  expect(items.length).toBeGreaterThan(0);
  // One look-up per order of the page, not one per order skipped.
  for (const node of items) expect((node['Actual Loops'] ?? 0) * Math.max(1, node['Actual Rows'] ?? 0)).toBeLessThanOrEqual(51 * 2);
  expect(plan.filter(on('orders')).map((node) => node['Node Type'])).not.toContain('Seq Scan');
}, 60_000);

it('pages the GraphQL connection without counting the workspace when totalCount is not asked for', async () => {
  const pageOnly = await statementsOf(() => graphql('{ orders(first: 50) { edges { cursor node { id } } } }'));
  const lists = pageOnly.filter((sql) => /from "?orders"? as "?o"?/.test(sql));
  expect(lists.length).toBeGreaterThan(0);
  // A count over the workspace's 50,000 orders (all 2,000,000 of a big one) for a number nobody reads.
  for (const sql of lists) expect(sql).not.toMatch(/count\(\*\)/i);

  // Asked for (also through a fragment), it is there, and exact.
  const counted = await graphql('{ orders(first: 5) { ...total edges { node { id } } } } fragment total on OrderConnection { totalCount }');
  expect(counted.totalCount).toBe(ORDERS);
}, 60_000);
