import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { createTestApp, useTestApp } from '../support/app';
import { type Exposition, parsePrometheusText, sampleValue } from '../support/prometheus';


const t = useTestApp();

const REST_ORDER = { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 2, price: '10.00' }], total: '20.00' };
const CREATE = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id } userErrors { code } }
}`;
const GRAPHQL_INPUT = { customerId: 'c1', items: [{ productId: 'p1', quantity: 2, price: '10.00' }], total: '20.00' };

async function scrape(headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await t.rest.get('/metrics', { authorization: null, headers: headers });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(res.body);
}

const ordersCreated = async () => {
  const families = await scrape();
  return {
    rest: sampleValue(families, 'orders_created_total', { transport: 'rest' }),
    graphql: sampleValue(families, 'orders_created_total', { transport: 'graphql' }),
  };
};

const graphql = (input: unknown, authorization = t.auth) =>
  t.gql(CREATE, { input }, { authorization: authorization });

describe('/metrics', () => {
  it('is Prometheus text with the HTTP, GraphQL, order, database and process metrics', async () => {
    await t.rest.post('/api/orders', REST_ORDER);
    const families = await scrape();
    const names = [...families.types.keys()];
    expect(names).toEqual(
      expect.arrayContaining([
        'http_request_duration_seconds',
        'graphql_operations_total',
        'orders_created_total',
        'db_query_duration_seconds',
        'db_pool_connections',
        'process_cpu_user_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
      ]),
    );
    expect(families.types.get('http_request_duration_seconds')).toBe('histogram');
    expect(families.types.get('orders_created_total')).toBe('counter');
    const created = { method: 'POST', route: '/api/orders', status_code: '201' };
    expect(sampleValue(families, 'http_request_duration_seconds_count', created)).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, 'http_request_duration_seconds_bucket', { ...created, le: '+Inf' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, 'db_query_duration_seconds_count', { statement: 'insert' })).toBeGreaterThanOrEqual(1);
  });

  it('counts a REST create exactly once, and not a refused one', async () => {
    const before = await ordersCreated();
    expect((await t.rest.post('/api/orders', REST_ORDER)).statusCode).toBe(201);
    expect(await ordersCreated()).toStrictEqual({ rest: before.rest + 1, graphql: before.graphql });
    expect((await t.rest.post('/api/orders', { ...REST_ORDER, total: '19.99' })).statusCode).toBe(422);
    expect(await ordersCreated()).toStrictEqual({ rest: before.rest + 1, graphql: before.graphql });
  });

  it('does not count a replay under an Idempotency-Key, on either transport', async () => {
    const before = await ordersCreated();
    for (let i = 0; i < 2; i++) {
      const replayable = await t.rest.post('/api/orders', REST_ORDER, { headers: { 'idempotency-key': 'metrics-rest-1' } });
      expect(replayable.statusCode).toBe(201);
      expect(replayable.headers['idempotent-replayed']).toBe(i === 0 ? undefined : 'true');
      const viaGraphql = await t.gql('mutation($input: CreateOrderInput!) { createOrder(input: $input, idempotencyKey: "metrics-gql-1") { order { id } replayed } }', { input: GRAPHQL_INPUT });
      expect(viaGraphql.json().data.createOrder.replayed).toBe(i > 0);
    }
    expect(await ordersCreated()).toStrictEqual({ rest: before.rest + 1, graphql: before.graphql + 1 });
  });

  it('counts a GraphQL create exactly once, and not one that came back with userErrors', async () => {
    const before = await ordersCreated();
    const created = await graphql(GRAPHQL_INPUT);
    expect(created.json().data.createOrder.order.id).toMatch(/^order_/);
    expect(await ordersCreated()).toStrictEqual({ rest: before.rest, graphql: before.graphql + 1 });
    const refused = await graphql({ ...GRAPHQL_INPUT, total: '19.99' });
    expect(refused.json().data.createOrder.userErrors[0].code).toBe('TOTAL_MISMATCH');
    expect(await ordersCreated()).toStrictEqual({ rest: before.rest, graphql: before.graphql + 1 });
  });

  it('counts GraphQL operations by name and outcome', async () => {
    const count = async (operation: string, outcome: string) =>
      sampleValue(await scrape(), 'graphql_operations_total', { operation, outcome });
    const before = {
      success: await count('CreateOrder', 'success'),
      userError: await count('CreateOrder', 'user_error'),
      unauthenticated: await count('(unknown)', 'unauthenticated'),
    };
    await graphql(GRAPHQL_INPUT);
    await graphql({ ...GRAPHQL_INPUT, total: '1.00' });
    await graphql(GRAPHQL_INPUT, 'Bearer nope');
    expect(await count('CreateOrder', 'success')).toBe(before.success + 1);
    expect(await count('CreateOrder', 'user_error')).toBe(before.userError + 1);
    expect(await count('(unknown)', 'unauthenticated')).toBe(before.unauthenticated + 1);
  });
});

describe('counters an alert takes a rate() of', () => {
  it('exist from the start, at 0, so the first publish failure or a relay that never publishes is seen', async () => {
    const fresh = await createTestApp();
    try {
      const res = await fresh.app.http.inject({ method: 'GET', url: '/metrics' });
      const { samples } = parsePrometheusText(res.body);
      const series = (name: string) => samples.filter((s) => s.name === name).map((s) => ({ ...s.labels, value: s.value }));
      expect(series('event_publish_failures_total')).toStrictEqual([{ publisher: 'nats', value: 0 }]);
      expect(series('events_published_total')).toStrictEqual([
        { type: 'order.created', value: 0 },
        { type: 'order.updated', value: 0 },
        { type: 'order.status_changed', value: 0 },
      ]);
    } finally {
      await fresh.close();
    }
  });
});

describe('/metrics while the database is down', () => {
  it('answers at once with db_up 0 and outbox_backlog NaN, and db_up 1 again once it is back', async () => {
    expect(sampleValue(await scrape(), 'db_up')).toBe(1);
    const db = t.app.db as { ping: () => Promise<boolean> };
    const events = t.app.events as { backlog: () => Promise<number>; oldestEventAgeSeconds: () => Promise<number> };
    const [ping, backlog, age] = [db.ping, events.backlog, events.oldestEventAgeSeconds];
    db.ping = async () => false;
    events.backlog = events.oldestEventAgeSeconds = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    };
    try {
      const down = await scrape();
      expect(down.types.get('db_up')).toBe('gauge');
      expect(sampleValue(down, 'db_up')).toBe(0);
      expect(sampleValue(down, 'outbox_backlog')).toBeNaN();
      expect(sampleValue(down, 'outbox_oldest_event_age_seconds')).toBeNaN();
    } finally {
      db.ping = ping;
      events.backlog = backlog;
      events.oldestEventAgeSeconds = age;
    }
    expect(sampleValue(await scrape(), 'db_up')).toBe(1);
  });
});

describe('METRICS_TOKEN and METRICS_PORT', () => {
  const token = 'metrics-token-0123456789';

  it('needs the bearer token when one is configured', async () => {
    const secured = await createTestApp({ metricsToken: token });
    try {
      for (const authorization of [undefined, 'Bearer wrong-token-0123456789', token]) {
        const res = await secured.app.http.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });
        expect(res.statusCode).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
        expect(res.json()).toMatchObject({ success: false, error: { code: 'UNAUTHORIZED' } });
      }
      const ok = await secured.app.http.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('orders_created_total');
    } finally {
      await secured.close();
    }
  });

  it('serves metrics on their own port only, when one is configured', async () => {
    const separate = await createTestApp({ metricsPort: 0, metricsToken: token });
    try {
      expect((await separate.app.http.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      const server = separate.app.metricsServer;
      if (!server) throw new Error('no metrics server');
      const address = await server.listen({ port: 0, host: '127.0.0.1' });
      expect((await fetch(`${address}/metrics`)).status).toBe(401);
      const res = await fetch(`${address}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(parsePrometheusText(await res.text()).types.has('orders_created_total')).toBe(true);
      expect((await fetch(`${address}/api/orders`)).status).toBe(404);
    } finally {
      await separate.close();
    }
  });
});
