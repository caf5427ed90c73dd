/**
 * The order list must not scan a workspace's orders: with 100,000 orders in
 * one workspace (and more in another), the newest 50 come from the index.
 * This runs the service's own list query under EXPLAIN ANALYZE. (Slow: 120,000 rows;
 * `npm run test:slow` runs it on both databases.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AuthService } from '../../src/auth/auth.service';
import { listQueries } from '../../src/orders/order.repository';
import type { RequestContext } from '../../src/orders/order.types';
import { createTestDatabase, type TestDatabase } from '../support/database';

let database: TestDatabase;
let ctx: RequestContext;

beforeAll(async () => {
  database = await createTestDatabase();
  const auth = new AuthService(database.db.em);
  const big = await auth.createWorkspace('big');
  const neighbour = await auth.createWorkspace('neighbour');
  ctx = { workspaceId: big.id, timeZone: 'UTC' };
  const em = database.db.em.fork();
  const insert = (workspaceId: string, count: number) =>
    em.execute(
      `insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                           status_history, created_at, updated_at)
       select 'order_' || lpad(g::text, 26, '0') || ?, ?, 'ORD-2025-0101-' || g, 'c' || (g % 500),
              (array['pending','paid','shipped'])[1 + g % 3], 'USD', g % 1000, 0, 0, g % 1000, '[]'::jsonb,
              timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + g * interval '1 minute'
       from generate_series(1, ?) g`,
      [workspaceId.slice(-4), workspaceId, count],
    );
  await insert(big.id, 100_000);
  await insert(neighbour.id, 20_000);
  await em.execute('analyze orders');
}, 180_000);
afterAll(() => database.destroy());

async function explain(filter: Parameters<typeof listQueries>[2], window: Partial<Parameters<typeof listQueries>[3]> = {}) {
  const em = database.db.em.fork();
  const { rows } = listQueries(em.getKnex(), ctx, filter, { sort: '-created_at', limit: 50, offset: 0, ...window });
  const { sql, bindings } = rows.toSQL();
  const result = await em.execute(`explain (analyze, format json) ${sql}`, bindings as unknown[]);
  const plan = (result[0] as Record<string, unknown>)['QUERY PLAN'];
  return (typeof plan === 'string' ? JSON.parse(plan) : plan)[0] as { Plan: PlanNode; 'Execution Time': number };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * The scans of `orders` that choose the page: not the primary-key look-ups that then read the
 * page's rows whole (see `listQueries`). An index-only scan is an index scan for these tests.
 */
function listScans(plan: PlanNode): PlanNode[] {
  return nodes(plan)
    .filter((node) => node['Relation Name'] === 'orders' && node['Index Name'] !== 'orders_pkey')
    .map((node) => ({ ...node, 'Node Type': node['Node Type'].replace('Index Only Scan', 'Index Scan') }));
}

it('lists the newest 50 of 100,000 orders from the index, without scanning the table', async () => {
  const result = await explain({});
  const scans = listScans(result.Plan);
  expect(scans.map((node) => [node['Node Type'], node['Index Name']])).toStrictEqual([
    ['Index Scan', 'orders_workspace_id_created_at_id_index'],
  ]);
  // The figure for the record (machine-dependent, so not asserted).
  console.info(`newest 50 of 100,000: ${result['Execution Time']} ms, ${scans[0]?.['Index Name']}`);
}, 60_000);

it.each([
  [{ customerId: 'c42' }, 'orders_workspace_customer_created_index'],
  [{ status: 'paid' as const }, 'orders_workspace_status_created_index'],
])('uses an index for the filter %j', async (filter, index) => {
  const result = await explain(filter);
  const scans = listScans(result.Plan);
  expect(scans.every((node) => node['Node Type'] !== 'Seq Scan')).toBe(true);
  expect(scans.map((node) => node['Index Name'])).toContain(index);
}, 60_000);

it.each([
  ['to the second', { to: { kind: 'instant' as const, value: '2025-02-01T00:00:00Z', unit: 'second' as const } }, 'orders_workspace_id_created_at_id_index'],
  ['to the minute, local', { to: { kind: 'local' as const, value: '2025-02-01T00:00', unit: 'minute' as const } }, 'orders_workspace_id_created_at_id_index'],
  ['to with milliseconds', { to: { kind: 'instant' as const, value: '2025-02-01T00:00:00.000Z' } }, 'orders_workspace_id_created_at_id_index'],
  ['a customer, from and to the second', {
    customerId: 'c42',
    from: { kind: 'instant' as const, value: '2025-01-20T00:00:00Z', unit: 'second' as const },
    to: { kind: 'instant' as const, value: '2025-02-01T00:00:00Z', unit: 'second' as const },
  }, 'orders_workspace_customer_created_index'],
])('bounds the index scan by created_at for %s (the bound stays sargable)', async (_label, filter, index) => {
  const result = await explain(filter);
  const scans = listScans(result.Plan);
  expect(scans.map((node) => [node['Node Type'], node['Index Name']])).toStrictEqual([['Index Scan', index]]);
  expect(scans[0]?.['Index Cond']).toMatch(/created_at </);
}, 60_000);

it.each([
  ['sort=updated_at', {}, { horizon: '2030-01-01T00:00:00.000Z' }],
  ['sort=updated_at, updated_since and a cursor', { updatedSince: '2025-02-01T00:00:00Z' }, {
    horizon: '2030-01-01T00:00:00.000Z',
    after: { sort: 'updated_at' as const, at: '2025-02-10T00:00:00.000Z', id: 'order_00000000000000000000000000' },
  }],
])('syncs (%s) from the updated_at index, without scanning the table', async (_label, filter, window) => {
  const result = await explain(filter, { sort: 'updated_at', ...window });
  const scans = listScans(result.Plan);
  expect(scans.map((node) => [node['Node Type'], node['Index Name']])).toStrictEqual([
    ['Index Scan', 'orders_workspace_updated_at_id_index'],
  ]);
}, 60_000);
