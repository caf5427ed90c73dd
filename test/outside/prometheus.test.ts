/**
 * `/metrics` as the SRE who runs the gateway sees it, checked with Prometheus's
 * own tools (Debian's `prometheus` package): `promtool check metrics` on the
 * exposition of a busy gateway, the number of series after a scanner and many
 * tenants have been at it, a real Prometheus scraping a live gateway and
 * giving back the numbers the test caused, and the shipped alert rules
 * (`deploy/prometheus/`) linted, unit-tested and using only metrics a live
 * gateway has.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { parse as parseYaml } from 'yaml';
import { parsePrometheusText } from '../support/prometheus';
import { prometheusInstalled, promtool, startPrometheus } from '../support/prometheus-server';

const tools = prometheusInstalled();
const ROOT = path.resolve(__dirname, '../..');
const ALERTS = path.join(ROOT, 'deploy/prometheus/alerts.yml');
const ALERT_TESTS = path.join(ROOT, 'deploy/prometheus/alerts.test.yml');
const SCRAPE_CONFIG = path.join(ROOT, 'deploy/prometheus/prometheus.yml');
const TOKEN = 'prometheus-scrape-token-0123456789';

const REST_ORDER = { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 2, price: '10.00' }], total: '20.00' };
const GRAPHQL_CREATE = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id } userErrors { code } }
}`;
const GRAPHQL_INPUT = { customerId: 'c1', items: [{ productId: 'p1', quantity: 2, price: '10.00' }], total: '20.00' };

/** The metric names a PromQL expression selects (what is left once strings, label matchers, ranges, grouping and functions are gone). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:\\.|[^"\\])*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring']);
  return [...stripped.matchAll(/(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)]
    .map((match) => match[1])
    .filter((name) => !keywords.has(name) && !/^(inf|nan)$/i.test(name));
}

describe.skipIf(!tools.up)(`/metrics under promtool and Prometheus ${tools.reason}`, () => {
  let gateway: TestApp;
  let base = '';
  let auth = '';
  let receiver: http.Server;
  let subscriber: Client;
  let heard = 0;

  const send = (method: string, url: string, body?: unknown, authorization: string | null = auth) =>
    fetch(`${base}${url}`, {
      method,
      headers: {
        ...(authorization === null ? {} : { authorization }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }).then(async (res) => {
      await res.arrayBuffer();
      return res.status;
    });
  const scrape = async () => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return res.text();
  };
  /** Any HTTP method, even those fetch refuses to send (Node's parser takes them all). */
  const raw = (method: string, url: string) =>
    new Promise<number>((resolve) => {
      const { port } = new URL(base);
      const req = http.request({ host: '127.0.0.1', port, method, path: url, headers: { authorization: auth } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });

  beforeAll(async () => {
    gateway = await createTestApp({
      metricsToken: TOKEN,
      webhookAllowPrivateNetworks: true,
      webhookRetrySchedule: [100],
      eventsPollIntervalMs: 100,
      rateLimitPerMinute: 100_000,
      authFailuresPerMinute: 100_000,
    });
    auth = await gateway.bearer('acme');
    base = await gateway.app.http.listen({ port: 0, host: '127.0.0.1' });

    // A busy gateway: a webhook receiver that refuses everything, a subscriber, creates and errors of each kind.
    receiver = http.createServer((_req, res) => res.writeHead(500).end()).listen(0, '127.0.0.1');
    await new Promise((resolve) => receiver.once('listening', resolve));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    expect(await send('POST', '/graphql', { query: `mutation { createWebhookEndpoint(input: {url: "${hook}"}) { userErrors { code } } }` })).toBe(200);
    subscriber = createClient({
      url: `${base.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: auth },
    });
    const subscribed = new Promise<void>((resolve) => {
      subscriber.on('connected', () => setTimeout(resolve, 200));
    });
    subscriber.subscribe({ query: 'subscription Watch { orderCreated { id } }' }, { next: () => heard++, error: () => undefined, complete: () => undefined });
    await subscribed;

    for (let i = 0; i < 5; i++) expect(await send('POST', '/api/orders', REST_ORDER)).toBe(201);
    expect(await send('POST', '/api/orders', { ...REST_ORDER, total: '1.00' })).toBe(422);
    expect(await send('POST', '/api/orders', '{"not json')).toBe(400);
    expect(await send('GET', '/api/orders/order_nope')).toBe(404);
    expect(await send('GET', '/api/orders', undefined, 'Bearer ogk_wrong')).toBe(401);
    expect(await send('PATCH', '/api/orders')).toBe(405);
    expect(await send('GET', '/no/such/page')).toBe(404);
    expect(await send('GET', '/api/orders?sort=updated_at&updated_since=2020-01-01T00:00:00Z')).toBe(200);
    for (let i = 0; i < 2; i++) expect(await send('POST', '/graphql', { query: GRAPHQL_CREATE, variables: { input: GRAPHQL_INPUT } })).toBe(200);
    expect(await send('POST', '/graphql', { query: GRAPHQL_CREATE, variables: { input: { ...GRAPHQL_INPUT, total: '1.00' } } })).toBe(200);
    expect(await send('POST', '/graphql', { query: '{ nope }' })).toBe(400);
    expect(await send('POST', '/graphql', { query: '{ orders(first: 1) { edges { node { id } } } }' }, 'Bearer ogk_wrong')).toBe(401);
    // The webhook's attempts (refused, retried, then failed) and the subscriber's events.
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      if (heard >= 7 && (await scrape()).includes('webhook_attempts_total{result="failed"} 7')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  afterAll(async () => {
    await subscriber?.dispose();
    receiver?.close();
    await gateway?.close();
  });

  it('promtool check metrics finds nothing to say about a busy gateway’s exposition', async () => {
    const text = await scrape();
    expect(text).toContain('webhook_attempts_total{result="failed"} 7');
    expect(heard).toBe(7);
    const lint = promtool(['check', 'metrics'], text);
    expect(lint.output).toBe('');
    expect(lint.status).toBe(0);
  });

  it('has a HELP and a TYPE for every family and no series twice', async () => {
    const text = await scrape();
    const families = parsePrometheusText(text);
    for (const name of families.types.keys()) expect(text).toContain(`# HELP ${name} `);
    const series = families.samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
    expect(series.length).toBe(new Set(series).size);
  });

  it('keeps the series bounded after a scanner, odd GraphQL names and many tenants, and names no tenant', async () => {
    const secrets: string[] = [];
    // Many workspaces, each with its own key, creating and erring.
    for (let i = 0; i < 12; i++) {
      const slug = `tenant-metrics-${i}`;
      const key = await gateway.bearer(slug);
      secrets.push(slug, key.slice('Bearer '.length));
      expect(await send('POST', '/api/orders', REST_ORDER, key)).toBe(201);
      expect(await send('POST', '/api/orders', { ...REST_ORDER, total: `${i}.01` }, key)).toBe(422);
      expect(await send('GET', `/api/orders/order_${slug}`, undefined, key)).toBe(404);
    }
    // Every method Node's parser takes, on known and unknown URLs.
    const paths = ['/api/orders', '/api/orders/order_x', '/graphql', '/readyz', `/scan/${Date.now()}`, '/api/orders/order_x/items'];
    for (const method of http.METHODS.filter((m) => m !== 'CONNECT')) for (const url of paths) await raw(method, url);
    for (let i = 0; i < 300; i++) await send('POST', '/graphql', { query: `query Probe_${i}_${'x'.repeat(i % 7)} { __typename }` });
    expect(await send('POST', '/graphql', { query: `query ${'L'.repeat(150)} { __typename }` })).toBe(200);

    const text = await scrape();
    const { samples } = parsePrometheusText(text);
    const values = (name: string, label: string) => new Set(samples.filter((s) => s.name === name).map((s) => s.labels[label]));
    // Methods: the standard ones and one bucket for the rest (a scanner's PROPFIND, MKCALENDAR…).
    expect([...values('http_request_duration_seconds_count', 'method')].sort()).toEqual(
      expect.arrayContaining(['(other)', 'GET', 'PATCH', 'POST']),
    );
    for (const method of values('http_request_duration_seconds_count', 'method'))
      expect(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', '(other)']).toContain(method);
    // Routes are patterns; no URL a client typed.
    for (const route of values('http_request_duration_seconds_count', 'route')) expect(route).toMatch(/^(\/[a-z.:/_-]*|\(unmatched\))$/);
    expect(text).not.toContain('/scan/');
    // GraphQL operation names: at most 200 of them plus the fixed ones.
    expect(values('graphql_operations_total', 'operation').size).toBeLessThanOrEqual(204);
    expect(text).not.toContain('L'.repeat(101));
    // No workspace, key, id or message in any label.
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('order_');
    // The whole exposition: a few thousand lines, not one per method × route × status a scanner can reach.
    expect(samples.filter((s) => s.name === 'http_request_duration_seconds_count').length).toBeLessThanOrEqual(80);
  });

  it('ships alert rules that promtool checks and unit-tests, using only metrics a live gateway has', async () => {
    const check = promtool(['check', 'rules', ALERTS]);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
    const unit = promtool(['test', 'rules', ALERT_TESTS]);
    expect(unit.output).toContain('SUCCESS');
    expect(unit.status).toBe(0);
    const config = promtool(['check', 'config', '--syntax-only', SCRAPE_CONFIG]);
    expect(config.status, config.output).toBe(0);

    const { groups } = parseYaml(fs.readFileSync(ALERTS, 'utf8')) as { groups: { rules: { record?: string; alert?: string; expr: string }[] }[] };
    const rules = groups.flatMap((group) => group.rules);
    const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
    const alerts = rules.flatMap((rule) => (rule.alert ? [rule.alert] : []));
    // What the on-call needs: the process, the database, readiness, errors, latency, the outbox, the broker, webhooks.
    for (const alert of ['OrderGatewayDown', 'OrderGatewayDatabaseDown', 'OrderGatewayNotReady', 'OrderGatewayHighErrorRatio', 'OrderGatewayHighLatency', 'OrderGatewayOutboxBacklog', 'OrderGatewayOutboxEventsOld', 'OrderGatewayOutboxStuck', 'OrderGatewayEventPublishFailures', 'OrderGatewayWebhookDeliveriesFailed'])
      expect(alerts).toContain(alert);
    // Every alert has a unit test in alerts.test.yml that expects it to fire.
    const tests = fs.readFileSync(ALERT_TESTS, 'utf8');
    for (const alert of alerts) expect(tests).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n`));

    const exposed = new Set(parsePrometheusText(await scrape()).samples.map((sample) => sample.name));
    exposed.add('up'); // Prometheus's own, per target
    const used = new Set(rules.flatMap((rule) => metricNames(rule.expr)).filter((name) => !recorded.has(name)));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exposed, `the rules use ${name}`).toContain(name);
  });

  it('gives a real Prometheus the numbers a client caused, per transport, with the rules loaded', async () => {
    const { host } = new URL(base);
    const prometheus = await startPrometheus([host], TOKEN, [ALERTS]);
    try {
      await prometheus.scrapes(1);
      expect(await prometheus.query('up{job="order-gateway"}')).toMatchObject([{ value: 1 }]);
      const value = async (expr: string) => (await prometheus.query(expr))[0]?.value ?? 0;
      const counts = () =>
        Promise.all([
          value('orders_created_total{transport="rest"}'),
          value('orders_created_total{transport="graphql"}'),
          value('sum(http_request_duration_seconds_count{route="/api/orders", method="POST", status_code="422"})'),
          value('sum(graphql_operations_total{operation="CreateOrder", outcome="user_error"})'),
          value('db_up'),
        ]);
      const before = await counts();
      for (let i = 0; i < 7; i++) expect(await send('POST', '/api/orders', REST_ORDER)).toBe(201);
      for (let i = 0; i < 3; i++) expect(await send('POST', '/api/orders', { ...REST_ORDER, total: '2.00' })).toBe(422);
      for (let i = 0; i < 4; i++) expect(await send('POST', '/graphql', { query: GRAPHQL_CREATE, variables: { input: GRAPHQL_INPUT } })).toBe(200);
      for (let i = 0; i < 2; i++) expect(await send('POST', '/graphql', { query: GRAPHQL_CREATE, variables: { input: { ...GRAPHQL_INPUT, total: '2.00' } } })).toBe(200);
      await prometheus.scrapes(2);
      const after = await counts();
      expect(after.map((n, i) => n - (before[i] ?? 0))).toEqual([7, 4, 3, 2, 0]);
      expect(after[4]).toBe(1);
      // A rate over the window sees them, and the p99 of the creates is a duration, not NaN.
      expect(await value('sum(increase(orders_created_total[1m]))')).toBeGreaterThan(0);
      const p99 = await value('histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{route="/api/orders", method="POST"}[1m])))');
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThanOrEqual(10);
      // The rules evaluate against the live series without an error. The creates above went to the
      // receiver that refuses everything too: the webhook alert fires for them, and nothing else does.
      let states: Record<string, string> = {};
      for (const deadline = Date.now() + 15_000; states.OrderGatewayWebhookDeliveriesFailed !== 'firing'; ) {
        if (Date.now() > deadline) throw new Error(`the webhook alert did not fire: ${JSON.stringify(states)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
        const data = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
          data: { groups: { rules: { name: string; health: string; lastError?: string; state?: string }[] }[] };
        };
        const evaluated = data.data.groups.flatMap((group) => group.rules);
        expect(evaluated.length).toBe(16);
        for (const rule of evaluated) expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({ rule: rule.name, health: 'ok', error: '' });
        states = Object.fromEntries(evaluated.flatMap((rule) => (rule.state && rule.state !== 'inactive' ? [[rule.name, rule.state]] : [])));
      }
      expect(Object.keys(states).filter((name) => !name.startsWith('OrderGatewayWebhook'))).toEqual([]);
      expect(await value('job:order_gateway_orders_created:rate5m{transport="rest"}')).toBeGreaterThan(0);
    } finally {
      await prometheus.stop();
    }
  });
});
