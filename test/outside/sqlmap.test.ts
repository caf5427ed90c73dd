/**
 * SQL injection, as an API security tester looks for it (OWASP API Security Top 10, API8:2023):
 * sqlmap, pointed at every REST query parameter, path parameter, JSON body field and the
 * `Idempotency-Key` header of /api/orders, and at the GraphQL variables of every query and
 * mutation that reaches the database (list filters, ids, order numbers, cursors, create, update,
 * webhook endpoints and deliveries). Each injection point is marked with `*` in a request file, as
 * sqlmap's documentation has it. Bounded so that each target takes seconds: level 1, risk 1, the
 * boolean-blind, error-based and UNION techniques. The test fails when sqlmap reports an injectable
 * point, and when the server answered any of sqlmap's requests with a 500 (a malformed value that
 * reached PostgreSQL unchecked).
 */
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { spawnTracked } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const tools = toolsInstalled({ sqlmap: ['--version'] }, 'apt-get install -y sqlmap');
const TIMEOUT = 180_000;

let t: TestApp;
let home: string;
let host = '';
let keyA = '';
let orderId = '';
let orderNumber = '';
let endpointId = '';
let deliveryId = '';

interface Scan {
  output: string;
  /** The injection points sqlmap says it tested. */
  tested: number;
}

/** Runs sqlmap on one request file (asynchronously: the gateway answers from this process). */
async function sqlmap(name: string, request: string): Promise<Scan> {
  const file = path.join(home, `${name}.req`);
  fs.writeFileSync(file, request);
  const child = spawnTracked(
    'sqlmap',
    [
      '-r',
      file,
      '--batch',
      // Under vitest stdin is not a terminal, and sqlmap would read it as a list of targets.
      '--ignore-stdin',
      '--level=1',
      '--risk=1',
      '--technique=BEU',
      '--dbms=PostgreSQL',
      '--flush-session',
      '--disable-coloring',
      `--output-dir=${path.join(home, 'output')}`,
    ],
    { env: { PATH: process.env.PATH ?? '', HOME: home } },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  expect(code, output).toBe(0);
  // Counted, not collected by name: sqlmap names a marker in the path and one in the body alike ('JSON #1*').
  return { output, tested: [...output.matchAll(/testing for SQL injection on /g)].length };
}

function rest(method: string, target: string, body?: unknown, headers: Record<string, string> = {}): string {
  const lines = [
    `${method} ${target} HTTP/1.1`,
    `Host: ${host}`,
    `Authorization: ${keyA}`,
    'Accept: application/json',
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body === undefined) return `${lines.join('\r\n')}\r\n\r\n`;
  lines.push('Content-Type: application/json');
  return `${lines.join('\r\n')}\r\n\r\n${typeof body === 'string' ? body : JSON.stringify(body)}`;
}

const graphql = (query: string, variables: Record<string, unknown>) =>
  rest('POST', '/graphql', { query, variables });

/** What every scan must show: each marked point tested, none injectable, no 500. */
function expectClean(scan: Scan, points: number): void {
  expect(scan.output).not.toMatch(
    /sqlmap identified the following injection point|is vulnerable|appears to be '.*' injectable/,
  );
  expect(scan.output).toMatch(/all tested parameters do not appear to be injectable/);
  expect(scan.tested, scan.output.slice(-4000)).toBe(points);
  // sqlmap lists the error statuses it met: a 500 is a value that reached the database unchecked.
  expect(scan.output).not.toMatch(/500 \(Internal Server Error\)/);
}

beforeAll(async () => {
  if (!tools.up) return;
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'og-sqlmap-'));
  // A receiver on a closed port: deliveries exist (to attack by id) and fail quietly.
  t = await createTestApp({ rateLimitPerMinute: 1_000_000, webhookAllowPrivateNetworks: true });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  host = `127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  keyA = await t.bearer('sqlmap-a');
  const auth = { authorization: keyA, 'content-type': 'application/json' };
  const created = await t.app.http.inject({
    method: 'POST',
    url: '/api/orders',
    headers: auth,
    payload: {
      customer_id: 'c1',
      items: [{ product_id: 'p1', quantity: 2, price: '9.50' }],
      total: '19.00',
      notes: 'gift wrap',
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  ({ id: orderId, order_number: orderNumber } = created.json<{
    data: { id: string; order_number: string };
  }>().data);
  const endpoint = await t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: auth,
    payload: {
      query:
        'mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:1/hook"}) { endpoint { id } } }',
    },
  });
  endpointId = endpoint.json<{ data: { createWebhookEndpoint: { endpoint: { id: string } } } }>().data
    .createWebhookEndpoint.endpoint.id;
  await t.app.http.inject({
    method: 'PUT',
    url: `/api/orders/${orderId}`,
    headers: auth,
    payload: { notes: 'after hook' },
  });
  for (let attempt = 0; attempt < 100 && !deliveryId; attempt++) {
    const deliveries = await t.app.http.inject({
      method: 'POST',
      url: '/graphql',
      headers: auth,
      payload: { query: `{ webhookDeliveries(endpointId: "${endpointId}") { edges { node { id } } } }` },
    });
    deliveryId =
      deliveries.json<{ data: { webhookDeliveries: { edges: { node: { id: string } }[] } } }>().data
        .webhookDeliveries.edges[0]?.node.id ?? '';
    if (!deliveryId) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(deliveryId).toMatch(/^whdl_/);
}, TIMEOUT);
afterAll(async () => {
  await t?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!tools.up)(
  `sqlmap against every input of REST and GraphQL ${tools.reason}`,
  { timeout: TIMEOUT },
  () => {
    it('REST list: every filter, the search, the sort and the page parameters', async () => {
      const query = [
        'customer_id=c1*',
        'status=pending*',
        'from=2020-01-01*',
        'to=2099-12-31*',
        'min_total=1*',
        'max_total=100*',
        'search=gift*',
        `order_number=${orderNumber}*`,
        'updated_since=2020-01-01T00:00:00Z*',
        'limit=10*',
        'offset=0*',
      ].join('&');
      expectClean(await sqlmap('list', rest('GET', `/api/orders?${query}`)), 11);
      expectClean(
        await sqlmap('list-sorted', rest('GET', '/api/orders?sort=updated_at*&cursor=*&limit=5')),
        2,
      );
    });

    it('REST read and update: the id in the path, every field of the update', async () => {
      expectClean(await sqlmap('get', rest('GET', `/api/orders/${orderId}*`)), 1);
      const update = JSON.stringify({
        status: 'pending*',
        tracking_number: 'TRK1*',
        tracking_url: 'https://track.example/1*',
        notes: 'note*',
        metadata: { 'k*': 'v*' },
        shipping_address: { name: 'n*', city: 'c*', country: 'ID*' },
      });
      expectClean(await sqlmap('put', rest('PUT', `/api/orders/${orderId}*`, update)), 10);
    });

    it('REST create: every field of the body, and the Idempotency-Key header', async () => {
      const body = JSON.stringify({
        customer_id: 'c1*',
        items: [{ product_id: 'p1*', name: 'Widget*', quantity: 1, price: '5.00', sku: 'W-1*' }],
        total: '5.00',
        currency: 'USD*',
        shipping_address: {
          name: 'n*',
          address: 'a*',
          city: 'c*',
          postal_code: '1*',
          country: 'ID*',
          email: 'e@x.example*',
        },
        notes: 'n*',
        metadata: { 'k*': 'v*' },
      });
      expectClean(
        await sqlmap('post', rest('POST', '/api/orders', body, { 'Idempotency-Key': 'sqlmap-key-1*' })),
        15,
      );
    });

    it('GraphQL queries: the list filter, cursor and sort, order by id and by number, webhook deliveries', async () => {
      expectClean(
        await sqlmap(
          'gql-orders',
          graphql(
            'query($f: OrderFilter, $after: String) { orders(filter: $f, first: 10, after: $after) { totalCount edges { node { id } } } }',
            {
              f: {
                customerId: 'c1*',
                search: 'gift*',
                orderNumber: `${orderNumber}*`,
                from: '2020-01-01*',
                to: '2099-12-31*',
                minTotal: '1*',
                maxTotal: '100*',
                updatedSince: '2020-01-01T00:00:00Z*',
              },
              after: '*',
            },
          ),
        ),
        9,
      );
      expectClean(
        await sqlmap(
          'gql-order',
          graphql(
            'query($id: ID!, $n: String!) { order(id: $id) { id } orderByNumber(orderNumber: $n) { id } }',
            {
              id: `${orderId}*`,
              n: `${orderNumber}*`,
            },
          ),
        ),
        2,
      );
      expectClean(
        await sqlmap(
          'gql-deliveries',
          graphql(
            'query($e: ID!, $after: String) { webhookDeliveries(endpointId: $e, after: $after) { edges { node { id } } } }',
            {
              e: `${endpointId}*`,
              after: '*',
            },
          ),
        ),
        2,
      );
    });

    it('GraphQL mutations: createOrder with its idempotency key, updateOrder, webhook endpoints and redelivery', async () => {
      expectClean(
        await sqlmap(
          'gql-create',
          graphql(
            'mutation($input: CreateOrderInput!, $k: String) { createOrder(input: $input, idempotencyKey: $k) { order { id } userErrors { code } } }',
            {
              k: 'gql-key-1*',
              input: {
                customerId: 'c1*',
                items: [{ productId: 'p1*', name: 'n*', sku: 's*', quantity: 1, price: '5.00' }],
                total: '5.00',
                currency: 'USD*',
                notes: 'n*',
              },
            },
          ),
        ),
        7,
      );
      expectClean(
        await sqlmap(
          'gql-update',
          graphql(
            'mutation($id: ID!, $input: UpdateOrderInput!) { updateOrder(id: $id, input: $input) { order { id } userErrors { code } } }',
            {
              id: `${orderId}*`,
              input: { trackingNumber: 't*', trackingUrl: 'https://track.example/t*', notes: 'n*' },
            },
          ),
        ),
        4,
      );
      expectClean(
        await sqlmap(
          'gql-webhooks',
          graphql(
            'mutation($id: ID!, $d: ID!) { updateWebhookEndpoint(id: $id, input: {enabled: true}) { userErrors { code } } redeliverWebhook(deliveryId: $d) { userErrors { code } } }',
            { id: `${endpointId}*`, d: `${deliveryId}*` },
          ),
        ),
        2,
      );
    });
  },
);
