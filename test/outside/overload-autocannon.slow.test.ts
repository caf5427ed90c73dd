/**
 * Past saturation, as a capacity engineer drives it with autocannon: a real
 * `order-gateway serve` (its own database: a new one on the DATABASE_URL
 * server, or an embedded DATA_DIR) on 127.0.0.1, two workspaces, REST and
 * GraphQL creates and list reads from 200 connections, far more than the
 * few a second the process saturates at (README, "Performance"). The run is
 * a bounded number of requests; nothing is timed.
 *
 * What an overloaded gateway must do: answer every request with either a
 * success or the documented refusal (503 SERVICE_UNAVAILABLE with
 * Retry-After), never a 500 nor a dropped connection; keep /healthz and
 * /metrics answering during the overload, and /readyz answering 200 or 503;
 * serve normally once the load stops; and have written nothing by halves:
 * every 201 is an order, order numbers stay gap-free per workspace, every
 * order has exactly one `order.created` event.
 */
import autocannon from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessDatabase, queryProcessDatabase } from '../support/database';
import { runCli, startServer, type RunningServer } from '../support/processes';

const CONNECTIONS = 200;
const REQUESTS = 4_000;
const METRICS = { authorization: 'Bearer test-metrics-token-0123456789' };

const REST_ORDER = JSON.stringify({
  customer_id: 'c1',
  items: [
    { product_id: 'p1', name: 'Widget', quantity: 2, price: '99.00' },
    { product_id: 'p2', quantity: 1, price: '29.00' },
  ],
  total: '227.00',
});
const GRAPHQL_CREATE = JSON.stringify({
  query:
    'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id orderNumber } userErrors { code } } }',
  variables: {
    input: { customerId: 'c1', items: [{ productId: 'p1', quantity: 2, price: '99.00' }], total: '198.00' },
  },
});

let env: Record<string, string> = {};
let cleanup: () => Promise<void> = async () => {};
let server: RunningServer | undefined;
const keys: string[] = [];

beforeAll(async () => {
  ({ env, cleanup } = await createProcessDatabase('og-overload-'));
  // Keys first: an embedded database belongs to one process, the server's once it runs.
  for (const workspace of ['w1', 'w2']) {
    const made = await runCli(['apikey', 'create', '--workspace', workspace, '--json'], env, 60_000);
    expect(made.code, made.stderr).toBe(0);
    keys.push((JSON.parse(made.stdout) as { key: string }).key);
  }
  server = await startServer({ ...env, NODE_ENV: 'production' }, 60_000);
}, 180_000);

afterAll(async () => {
  if (server) await server.stop();
  await cleanup();
});

interface Tally {
  statuses: Record<string, number>;
  /** Ids of orders whose create was answered with success. */
  created: string[];
  /** Refusals that were not 503 SERVICE_UNAVAILABLE with Retry-After. */
  badRefusals: string[];
}

async function overload(base: string): Promise<{ result: autocannon.Result; tally: Tally }> {
  const tally: Tally = { statuses: {}, created: [], badRefusals: [] };
  let next = 0;
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    amount: REQUESTS,
    // A request the gateway left unanswered this long counts as a timeout (asserted to be none).
    timeout: 30,
    requests: [
      {
        setupRequest: (request) => {
          const n = next++;
          const headers = { authorization: `Bearer ${keys[n % 2]}`, 'content-type': 'application/json' };
          const kind = n % 3;
          if (kind === 0)
            return { ...request, method: 'POST', path: '/api/orders', headers, body: REST_ORDER };
          if (kind === 1)
            return { ...request, method: 'POST', path: '/graphql', headers, body: GRAPHQL_CREATE };
          return { ...request, method: 'GET', path: '/api/orders?limit=20', headers };
        },
        onResponse: (status, body, _context, headers) => {
          tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
          if (status === 201) {
            tally.created.push((JSON.parse(body) as { data: { id: string } }).data.id);
          } else if (status === 200 && body.includes('"createOrder"')) {
            const answer = JSON.parse(body) as { data?: { createOrder?: { order?: { id: string } } } };
            if (answer.data?.createOrder?.order) tally.created.push(answer.data.createOrder.order.id);
            else tally.badRefusals.push(`200 ${body.slice(0, 200)}`);
          } else if (status !== 200) {
            const retryAfter = Number(headers['retry-after']);
            const refused = status === 503 && retryAfter > 0 && body.includes('"SERVICE_UNAVAILABLE"');
            if (!refused) tally.badRefusals.push(`${status} ${body.slice(0, 200)}`);
          }
        },
      },
    ],
  });
  return { result, tally };
}

async function probe(base: string, path: string): Promise<number> {
  const res = await fetch(`${base}${path}`, { headers: METRICS, signal: AbortSignal.timeout(30_000) });
  await res.arrayBuffer();
  return res.status;
}

describe('autocannon past saturation', () => {
  it('refuses what it cannot take with 503 and Retry-After, keeps its probes, recovers, and writes nothing by halves', async () => {
    const base = (server as RunningServer).url;
    const probes: Record<string, number[]> = { '/healthz': [], '/readyz': [], '/metrics': [] };
    let loading = true;
    const prober = (async () => {
      while (loading) {
        for (const path of Object.keys(probes)) probes[path]?.push(await probe(base, path));
      }
    })();
    const { result, tally } = await overload(base);
    loading = false;
    await prober;

    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(tally.badRefusals).toStrictEqual([]);
    expect(Object.keys(tally.statuses).filter((s) => !['200', '201', '503'].includes(s))).toStrictEqual([]);
    expect(tally.created.length).toBeGreaterThan(0);

    expect(probes['/healthz']?.length).toBeGreaterThan(0);
    expect(new Set(probes['/healthz'])).toStrictEqual(new Set([200]));
    expect(new Set(probes['/metrics'])).toStrictEqual(new Set([200]));
    expect(probes['/readyz']?.every((status) => status === 200 || status === 503)).toBe(true);

    // Once the load stops it serves: the shedding clears at the next samples (a bounded wait).
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 201; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      const res = await fetch(`${base}/api/orders`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${keys[0]}`,
          'content-type': 'application/json',
          'idempotency-key': 'after-load',
        },
        body: REST_ORDER,
      });
      status = res.status;
      const body = (await res.json()) as { data?: { id: string } };
      if (status === 201 && body.data) tally.created.push(body.data.id);
    }
    expect(status).toBe(201);
    expect(await probe(base, '/readyz')).toBe(200);

    // Nothing by halves. Requests autocannon abandoned at the end may have committed too: the
    // database may hold more orders than answers said, never fewer.
    type Row = { id: string; workspace_id: string; order_number: string; events: number };
    const sql = `select o.id, o.workspace_id, o.order_number,
        (select count(*)::int from order_events e where e.order_id = o.id and e.type = 'order.created') as events
      from orders o`;
    expect(await (server as RunningServer).stop()).toBe(0);
    server = undefined;
    const rows = await queryProcessDatabase<Row>(env, sql);
    const ids = new Set(rows.map((row) => row.id));
    expect(tally.created.filter((id) => !ids.has(id))).toStrictEqual([]);
    expect(rows.filter((row) => row.events !== 1)).toStrictEqual([]);
    const byDay = new Map<string, number[]>();
    for (const row of rows) {
      const [, day, n] = /^(ORD-\d{4}-\d{4})-(\d+)$/.exec(row.order_number) ?? [];
      const group = `${row.workspace_id} ${day}`;
      byDay.set(group, [...(byDay.get(group) ?? []), Number(n)]);
    }
    for (const numbers of byDay.values()) {
      numbers.sort((a, b) => a - b);
      expect(numbers).toStrictEqual(numbers.map((_, index) => index + 1));
    }
  }, 300_000);
});
