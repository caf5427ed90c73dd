/**
 * The gateway behind Debian's nginx with the config we ship
 * (deploy/nginx/order-gateway.conf, README "Behind nginx"), as most deployments
 * run it, checked with the clients people use (fetch/undici, graphql-ws on `ws`,
 * curl):
 * - creates and reads over REST and GraphQL, on kept-alive upstream connections;
 * - a subscription over the WebSocket upgrade, idle for longer than
 *   `proxy_read_timeout` (the gateway's pings keep it open), and its close codes;
 * - the client address: a client's own X-Forwarded-For does not escape the
 *   failed-authentication limit (TRUST_PROXY=true, nginx's $proxy_add_x_forwarded_for);
 * - body limits: the gateway's JSON 413, and nginx's own 413 in the same envelope;
 * - a gzip request body, and the gateway's own gzip passed through unchanged;
 * - no gateway: nginx's 502 is a JSON 503 with Retry-After;
 * - `proxy_next_upstream`: a GET is retried on the next gateway, a POST that reached
 *   a gateway is never resent (no double create), and its Idempotency-Key makes the
 *   client's own resend safe.
 * It needs /usr/sbin/nginx (CI installs it) and fails saying so without it.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { freePort } from '../support/nats';
import { startNginx, type RunningNginx } from '../support/nginx';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read as untyped JSON, as a client does
type Json = any;

const order = (customer: string) => ({
  customer_id: customer,
  items: [{ product_id: 'p1', quantity: 2, price: '19.99' }],
  total: '39.98',
  currency: 'USD',
});

let t: TestApp;
let gatewayPort = 0;
let proxy: RunningNginx;
let authorization = '';

beforeAll(async () => {
  t = await createTestApp({ trustProxy: 1, authFailuresPerMinute: 3 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  gatewayPort = (t.app.http.server.address() as AddressInfo).port;
  authorization = await t.bearer('acme-nginx');
  // proxy_read_timeout shortened from 60 s so that the idle subscription below outlives it
  // in a test's time; the gateway pings every 12 s.
  proxy = await startNginx({ upstreams: [`127.0.0.1:${gatewayPort}`], replace: { proxy_read_timeout: '15s' } });
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await t?.close();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${proxy.url}${path}`, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { res, text, json };
}

describe('REST and GraphQL through nginx', () => {
  it('creates, reads and lists over REST, with Location and the request id', async () => {
    const created = await call('POST', '/api/orders', order('cust_nginx_1'), { 'idempotency-key': 'nginx-rest-1' });
    expect(created.res.status, created.text).toBe(201);
    const id = created.json.data.id as string;
    expect(created.res.headers.get('location')).toBe(`/api/orders/${id}`);
    expect(created.res.headers.get('x-request-id')).toBeTruthy();
    const read = await call('GET', `/api/orders/${id}`);
    expect(read.res.status, read.text).toBe(200);
    expect(read.json.data.customer_id).toBe('cust_nginx_1');
    const replay = await call('POST', '/api/orders', order('cust_nginx_1'), { 'idempotency-key': 'nginx-rest-1' });
    expect(replay.res.status, replay.text).toBe(201);
    expect(replay.res.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json.data.id).toBe(id);
  });

  it('creates and reads over GraphQL', async () => {
    const created = await call('POST', '/graphql', {
      query: 'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id customerId } } }',
      variables: { input: { customerId: 'cust_nginx_gql', items: [{ productId: 'p1', quantity: 1, price: '5.00' }], total: '5.00' } },
    });
    expect(created.res.status, created.text).toBe(200);
    expect(created.json.errors, created.text).toBeUndefined();
    const id = created.json.data.createOrder.order.id as string;
    const read = await call('POST', '/graphql', { query: 'query($id: ID!) { order(id: $id) { id customerId } }', variables: { id } });
    expect(read.json.data.order, read.text).toEqual({ id, customerId: 'cust_nginx_gql' });
  });

  it('curl through nginx keeps one client connection for several requests', async () => {
    // Not execFileSync: the gateway runs in this process and must keep answering.
    const { stdout: out } = await promisify(execFile)(
      'curl',
      ['-sS', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{http_code} %{num_connects}\\n', '-H', `authorization: ${authorization}`, `${proxy.url}/api/orders`, `${proxy.url}/api/orders`],
    );
    expect(out.trim().split('\n')).toEqual(['200 1', '200 0']);
  });
});

describe('subscriptions through nginx', () => {
  const subscribe = (client: Client, query: string) => {
    const events: Json[] = [];
    let closed: unknown;
    const done = new Promise<void>((resolve) => {
      client.subscribe(
        { query },
        { next: (value) => void events.push(value), error: (error) => ((closed = error), resolve()), complete: () => resolve() },
      );
    });
    return { events, done, closed: () => closed };
  };
  // Each client connects from an address of its own (127.0.0.0/8 is all loopback), as clients do:
  // the bad key below counts against its address only.
  const wsClient = (key: string, localAddress = '127.0.0.1') =>
    createClient({
      url: `${proxy.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: class extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, { localAddress });
        }
      }, retryAttempts: 0, lazy: false, connectionParams: { authorization: key } });

  it('an idle subscription outlives proxy_read_timeout and still hears a create', async () => {
    const client = wsClient(authorization);
    let closeCode: number | undefined;
    client.on('closed', (event) => (closeCode = (event as { code: number }).code));
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const sub = subscribe(client, 'subscription { orderCreated { customerId } }');
    await connected;
    // Longer than the 15 s proxy_read_timeout of this nginx with nothing sent by the API.
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    expect(closeCode, proxy.output()).toBeUndefined();
    const created = await call('POST', '/api/orders', order('cust_nginx_sub'));
    expect(created.res.status).toBe(201);
    await expect.poll(() => sub.events.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(sub.events[0].data.orderCreated.customerId).toBe('cust_nginx_sub');
    await client.dispose();
  }, 60_000);

  it('a bad key is closed with 4403 through nginx, the code the client acts on', async () => {
    const client = wsClient('Bearer ogk_not_a_key', '127.0.0.7');
    const closed = new Promise<number>((resolve) => client.on('closed', (event) => resolve((event as { code: number }).code)));
    subscribe(client, 'subscription { orderCreated { id } }');
    expect(await closed).toBe(4403);
    await client.dispose();
  });
});

describe('the client address behind nginx (TRUST_PROXY=true)', () => {
  const from = (localAddress: string, key: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      http
        .get(`${proxy.url}/api/orders`, { localAddress, agent: false, headers: { authorization: key, ...headers } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });

  it('a client that writes its own X-Forwarded-For is still limited by its address, and only it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(await from('127.0.0.5', 'Bearer ogk_wrong', { 'x-forwarded-for': `203.0.113.${i}`, 'x-real-ip': `203.0.113.${i}` }));
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Another client behind the same nginx is not limited for it.
    expect(await from('127.0.0.6', authorization)).toBe(200);
    expect(await from('127.0.0.5', authorization)).toBe(429);
  });
});

describe('bodies through nginx', () => {
  it('a body over BODY_LIMIT_BYTES gets the gateway’s JSON 413', async () => {
    const big = { ...order('cust_big'), notes: 'x'.repeat(1_200_000) };
    const answer = await call('POST', '/api/orders', big);
    expect(answer.res.status, `${answer.text}\n${proxy.output().slice(-1500)}`).toBe(413);
    expect(answer.json?.error?.code, answer.text).toBe('PAYLOAD_TOO_LARGE');
  });

  it('every body over BODY_LIMIT_BYTES gets the 413, never nginx’s broken-pipe 502 (503 here)', async () => {
    // The gateway used to close the connection while nginx was still sending the body: about a
    // third of these were nginx's 502 ("writev() failed (32: Broken pipe)").
    const big = JSON.stringify({ ...order('cust_big'), notes: 'x'.repeat(1_200_000) });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${proxy.url}/api/orders`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: big });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses).toEqual(Array(20).fill(413));
  });

  it('a client sending straight to the gateway gets the 413 after its whole body, not a reset', async () => {
    const body = Buffer.alloc(1_200_000, 'x');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(gatewayPort, '127.0.0.1');
      let got = '';
      socket.on('data', (chunk) => (got += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(got));
      socket.write(
        `POST /api/orders HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${authorization}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      // The answer comes before the body is sent; the client sends it anyway, as nginx does.
      socket.once('data', () => socket.end(body));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"PAYLOAD_TOO_LARGE"');
  });

  it('a body over nginx’s own cap gets a 413 in the same JSON envelope', async () => {
    const huge = { ...order('cust_huge'), notes: 'x'.repeat(3_000_000) };
    const answer = await call('POST', '/api/orders', huge);
    expect(answer.res.status).toBe(413);
    expect(answer.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.json?.success, answer.text).toBe(false);
    expect(answer.json?.error?.code, answer.text).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a gzip request body is passed on and created', async () => {
    const res = await fetch(`${proxy.url}/api/orders`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(order('cust_gzip_body'))),
    });
    expect(res.status, await res.clone().text()).toBe(201);
  });

  it('the gateway’s gzip answer reaches the client unchanged, with Vary', async () => {
    for (let i = 0; i < 5; i++) expect((await call('POST', '/api/orders', order(`cust_list_${i}`))).res.status).toBe(201);
    const out = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get(`${proxy.url}/api/orders?limit=50`, { headers: { authorization, 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
    expect(out.headers['content-encoding']).toBe('gzip');
    expect(String(out.headers.vary)).toMatch(/accept-encoding/i);
    expect(JSON.parse(gunzipSync(out.body).toString()).data.length).toBeGreaterThan(5);
  });
});

describe('under a path prefix (location /orders/)', () => {
  let front: RunningNginx;
  beforeAll(async () => {
    front = await startNginx({ upstreams: [`127.0.0.1:${gatewayPort}`], prefix: '/orders/' });
  });
  afterAll(() => front?.stop());

  it('a create’s Location names the order under the prefix, and it reads', async () => {
    const res = await fetch(`${front.url}/orders/api/orders`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(order('cust_prefix')),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    // nginx's proxy_redirect writes the rewritten Location with the host the client asked for.
    const location = new URL(res.headers.get('location') ?? '', front.url);
    expect(location.pathname).toMatch(/^\/orders\/api\/orders\/order_[0-9A-Z]{26}$/);
    const read = await fetch(location, { headers: { authorization } });
    expect(read.status).toBe(200);
  });

  it('the playground page loads its scripts and talks to the GraphQL endpoint under the prefix', async () => {
    const page = new URL('/orders/graphql', front.url);
    const res = await fetch(page, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '').filter((url) => !url.startsWith('data:'));
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) {
      const resolved = new URL(url.replaceAll('&amp;', '&'), page);
      expect(resolved.pathname, url).toMatch(/^\/orders\/graphql\/assets\//);
      const asset = await fetch(resolved);
      expect(asset.status, url).toBe(200);
      await asset.arrayBuffer();
    }
    const config = JSON.parse(/<script type="application\/json" id="playground-config">([^<]*)<\/script>/.exec(html)?.[1] ?? '{}') as { endpoint: string };
    // The page resolves the endpoint against its own URL (new URL(endpoint, location.href)).
    expect(new URL(config.endpoint, page).pathname).toBe('/orders/graphql');
  });
});

describe('no gateway, or a gateway that fails mid-request', () => {
  it('nginx’s 502 for a gateway that is not there is a JSON 503 with Retry-After', async () => {
    const dead = await freePort();
    const front = await startNginx({ upstreams: [`127.0.0.1:${dead}`] });
    try {
      const res = await fetch(`${front.url}/api/orders`, { headers: { authorization } });
      const text = await res.text();
      expect(res.status, text).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(JSON.parse(text).error.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await front.stop();
    }
  });

  it('proxy_next_upstream retries a GET on the next gateway but never resends a POST create', async () => {
    // A gateway that dies while handling a request: it reads the request, then resets the connection.
    let seen = 0;
    const dying = http.createServer((req) => {
      seen++;
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    const dyingPort = (dying.address() as AddressInfo).port;
    // max_fails=0 keeps nginx sending to the dying one, which it would otherwise set aside for
    // fail_timeout after its first failure, so that a POST meets it too.
    const front = await startNginx({ upstreams: [`127.0.0.1:${dyingPort} max_fails=0`, `127.0.0.1:${gatewayPort} max_fails=0`] });
    try {
      const before = (await call('GET', '/api/orders?customer_id=cust_retried&limit=50')).json.data.length as number;
      expect(before).toBe(0);
      // nginx round-robins: send until the dying one has had a GET and a POST.
      for (let i = 0; i < 2; i++) {
        const get = await fetch(`${front.url}/api/orders?limit=1`, { headers: { authorization } });
        expect(get.status).toBe(200);
      }
      const getsSeen = seen;
      expect(getsSeen).toBeGreaterThan(0);
      let posts = 0;
      const answers: number[] = [];
      while (seen === getsSeen && posts < 6) {
        posts++;
        const res = await fetch(`${front.url}/api/orders`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json', 'idempotency-key': `retried-${posts}` },
          body: JSON.stringify(order('cust_retried')),
        });
        answers.push(res.status);
        await res.arrayBuffer();
      }
      // One POST met the dying gateway: nginx answered 503 (its 502) and did not resend it.
      expect(answers).toContain(503);
      const created = answers.filter((status) => status === 201).length;
      const after = (await call('GET', '/api/orders?customer_id=cust_retried&limit=50')).json.data.length;
      expect(after - before).toBe(created);
    } finally {
      await front.stop();
      await new Promise((resolve) => dying.close(resolve));
    }
  });
});
