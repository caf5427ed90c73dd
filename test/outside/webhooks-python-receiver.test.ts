/**
 * A webhook receiver written in Python with the standard library only
 * (test/fixtures/webhooks/receiver.py: http.server, hmac, hashlib, base64, json), verifying
 * Standard Webhooks by hand from the README and the events contract, as a team without a Node
 * SDK would. The gateway delivers to it for real; the test reads back what Python made of each
 * request (signature, timestamp, content type, the parsed body) and compares it with what
 * `webhookDeliveries` reports. Skipped without python3 unless REQUIRE_SERVICES=1.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { eventually } from '../support/nats';
import { spawnTracked, stopChild } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const python = toolsInstalled({ python3: ['--version'] }, 'apt-get install -y python3');
const RECEIVER = path.resolve(__dirname, '../fixtures/webhooks/receiver.py');

interface Received {
  name: string;
  at: number;
  headers: Record<string, string>;
  header_counts: Record<string, number>;
  content_type: string;
  charset: string | null;
  body_bytes: number;
  matched: number[];
  reason: string | null;
  status: number;
  body_b64: string;
  event?: { id: string; type: string; subject: string; sequence: { number: string }; data: { order: Record<string, unknown> } };
  parse_error?: string;
}

interface Step {
  status?: number;
  body?: string;
  delay?: number;
  location?: string;
  /** The status for a type instead (`{"order.created": 503}`). */
  status_by_type?: Record<string, number>;
}

let child: ChildProcess | undefined;
let base = '';

async function control(pathname: string, body: unknown): Promise<void> {
  const response = await fetch(`${base}${pathname}`, { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(204);
}
const script = (name: string, steps: Step[]) => control(`/_control/script/${name}`, steps);
const useSecrets = (secrets: string[]) => control('/_control/secrets', secrets);
async function copies(): Promise<Record<string, { sequence: string; status: string; tracking_number: string | null }>> {
  return (await (await fetch(`${base}/_control/orders`)).json()) as Record<string, { sequence: string; status: string; tracking_number: string | null }>;
}
async function received(name?: string): Promise<Received[]> {
  const all = (await (await fetch(`${base}/_control/received`)).json()) as Received[];
  return name === undefined ? all : all.filter((entry) => entry.name === name);
}

const t = useTestApp({ webhookAllowPrivateNetworks: true, webhookRetrySchedule: [300, 600, 300], webhookTimeoutMs: 1500, eventsPollIntervalMs: 100, rateLimitPerMinute: 100_000 });

beforeAll(async () => {
  if (!python.up) return;
  child = spawnTracked('python3', [RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next().then((next) => [next.value as string]);
  base = `http://127.0.0.1:${(JSON.parse(line ?? '{}') as { port: number }).port}`;
});
afterAll(async () => {
  if (child) await stopChild(child);
});

async function gqlData(query: string, variables: Record<string, unknown>) {
  const response = await t.gql(query, variables);
  expect(response.statusCode, response.body).toBe(200);
  expect(response.json().errors, response.body).toBeUndefined();
  return response.json().data;
}

async function createEndpoint(name: string, events?: string[]): Promise<{ id: string; secret: string }> {
  const { createWebhookEndpoint } = await gqlData(
    'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { message } } }',
    { input: { url: `${base}/hooks/${name}`, ...(events ? { events } : {}) } },
  );
  expect(createWebhookEndpoint.userErrors).toStrictEqual([]);
  return { id: createWebhookEndpoint.endpoint.id, secret: createWebhookEndpoint.secret };
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: { attemptedAt: string; statusCode: number | null; error: string | null }[];
}
async function deliveries(endpointId: string): Promise<Delivery[]> {
  const { webhookDeliveries } = await gqlData(
    `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 50) {
       edges { node { id eventId eventType status attempts { attemptedAt statusCode error } } } } }`,
    { id: endpointId },
  );
  return webhookDeliveries.edges.map((edge: { node: Delivery }) => edge.node);
}

const orderBody = (customer: string, extra: Record<string, unknown> = {}) => ({
  customer_id: customer,
  items: [{ product_id: 'p', quantity: 1, price: 1 }],
  total: 1,
  ...extra,
});

describe.skipIf(!python.up)('a Python receiver verifying Standard Webhooks by hand', () => {
  it('verifies the signature over the raw bytes: exact metadata numbers, non-ASCII text, application/json, one of each header', async () => {
    const endpoint = await createEndpoint('plain', ['ORDER_CREATED']);
    // whsec_ + standard base64 (with padding) of 24 to 64 bytes, which Python's strict decoder takes.
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    const key = Buffer.from(endpoint.secret.slice('whsec_'.length), 'base64');
    expect(key.length).toBeGreaterThanOrEqual(24);
    expect(key.length).toBeLessThanOrEqual(64);
    await useSecrets([endpoint.secret]);
    const created = await t.rest.post(
      '/api/orders',
      '{"customer_id": "zoë-🍰", "items": [{"product_id": "p", "name": "Café ☕ «crème»", "quantity": 1, "price": 1}], "total": 1,' +
        ' "metadata": {"big": 12345678901234567890, "dec": 12345678901234567890.50, "small": 0.1, "text": "日本語\\u2028"}}',
    );
    expect(created.statusCode, created.body).toBe(201);
    await eventually(async () => (await received('plain')).length === 1, 10_000, 'the delivery');
    const [arrival] = await received('plain');
    expect(arrival?.reason).toBeNull();
    expect(arrival?.matched).toStrictEqual([0]);
    expect(arrival?.status).toBe(204);
    expect(arrival?.content_type).toBe('application/json');
    expect(arrival?.charset).toBeNull(); // JSON is UTF-8 (RFC 8259): Python decodes it as such
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-type']) expect(arrival?.header_counts[name]).toBe(1);
    expect(arrival?.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(arrival?.headers['webhook-id']).toBe(arrival?.event?.id);
    expect(Math.abs(Number(arrival?.headers['webhook-timestamp']) - (arrival?.at ?? 0))).toBeLessThan(5);
    expect(Number(arrival?.headers['content-length'])).toBe(Buffer.from(arrival?.body_b64 ?? '', 'base64').length);
    const order = arrival?.event?.data.order as { id: string; customer_id: string; items: { name: string }[]; metadata: Record<string, unknown> };
    expect(order.id).toBe(created.json().data.id);
    expect(order.customer_id).toBe('zoë-🍰');
    expect(order.items[0]?.name).toBe('Café ☕ «crème»');
    // Python's json with parse_float=Decimal reads the numbers exactly as they were sent.
    expect(order.metadata).toStrictEqual({ big: { number: '12345678901234567890' }, dec: { number: '12345678901234567890.50' }, small: { number: '0.1' }, text: '日本語\u2028' });
  });

  it('retries a 5xx, a redirect and a timeout on the schedule, each signed afresh with one webhook-id, and takes a 2xx with a body', async () => {
    const endpoint = await createEndpoint('retry', ['ORDER_CREATED']);
    await useSecrets([endpoint.secret]);
    await script('retry', [{ status: 503 }, { status: 302, location: '/elsewhere' }, { status: 204, delay: 3 }, { status: 200, body: 'thanks, got it' }]);
    await t.rest.post('/api/orders', orderBody('py-retry'));
    await eventually(async () => (await deliveries(endpoint.id))[0]?.status === 'DELIVERED', 20_000, 'the delivery');
    const arrivals = await received('retry');
    const [delivery] = await deliveries(endpoint.id);
    expect(arrivals.map((arrival) => arrival.reason)).toStrictEqual([null, null, null, null]);
    expect(new Set(arrivals.map((arrival) => arrival.headers['webhook-id']))).toStrictEqual(new Set([delivery?.eventId]));
    expect(delivery?.attempts.map((attempt) => attempt.statusCode ?? attempt.error)).toStrictEqual([503, 302, 'no answer within 1500 ms', 200]);
    // Each attempt carries the second it was made at, so a retry is never "too old" for the receiver.
    delivery?.attempts.forEach((attempt, index) =>
      expect(Number(arrivals[index]?.headers['webhook-timestamp'])).toBe(Math.floor(Date.parse(attempt.attemptedAt) / 1000)),
    );
  });

  it('a 410 Gone disables the endpoint after one attempt; a refused connection is retried until the schedule is used up', async () => {
    const gone = await createEndpoint('gone', ['ORDER_CREATED']);
    await script('gone', [{ status: 410 }]);
    const { createWebhookEndpoint: refused } = await gqlData(
      'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } userErrors { message } } }',
      { input: { url: 'http://127.0.0.1:9/hooks/refused', events: ['ORDER_CREATED'] } },
    );
    await useSecrets([gone.secret]);
    await t.rest.post('/api/orders', orderBody('py-gone'));
    await eventually(async () => (await deliveries(refused.endpoint.id))[0]?.status === 'FAILED', 20_000, 'the refused delivery to fail');
    const [failed] = await deliveries(refused.endpoint.id);
    expect(failed?.attempts.map((attempt) => attempt.error)).toStrictEqual(Array(4).fill('connect ECONNREFUSED 127.0.0.1:9'));
    const [waiting] = await deliveries(gone.id);
    expect(waiting?.status).toBe('PENDING');
    expect(waiting?.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([410]);
    expect((await received('gone')).map((arrival) => arrival.reason)).toStrictEqual([null]);
    const { webhookEndpoints } = await gqlData('{ webhookEndpoints { id enabled } }', {});
    expect(webhookEndpoints.find((endpoint: { id: string }) => endpoint.id === gone.id)?.enabled).toBe(false);
  });

  it('during a rotation the two v1 signatures verify with either secret; after a rotation with no grace only the new one does', async () => {
    const endpoint = await createEndpoint('rotation', ['ORDER_CREATED']);
    const rotate = async (seconds?: number) =>
      (
        await gqlData('mutation($id: ID!, $s: Int) { rotateWebhookSecret(id: $id, previousSecretValidForSeconds: $s) { secret userErrors { message } } }', {
          id: endpoint.id,
          s: seconds ?? null,
        })
      ).rotateWebhookSecret.secret as string;
    const second = await rotate();
    await useSecrets([endpoint.secret, second]);
    await t.rest.post('/api/orders', orderBody('py-rotation-1'));
    await eventually(async () => (await received('rotation')).length === 1, 10_000, 'the delivery during the rotation');
    const third = await rotate(0);
    await useSecrets([endpoint.secret, second, third]);
    await t.rest.post('/api/orders', orderBody('py-rotation-2'));
    await eventually(async () => (await received('rotation')).length === 2, 10_000, 'the delivery after the rotation');
    const [during, after] = await received('rotation');
    expect(during?.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(during?.matched).toStrictEqual([0, 1]);
    expect(after?.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(after?.matched).toStrictEqual([2]);
  });
  it('keeps a copy of the order that ends as GET answers it, though the create arrives after the updates, and drops a repeat by its webhook-id', async () => {
    const endpoint = await createEndpoint('copy');
    await useSecrets([endpoint.secret]);
    // The create is refused until the updates are in; then it is redelivered by hand.
    await script('copy', [{ status: 204, status_by_type: { 'order.created': 503 } }]);
    const created = await t.rest.post('/api/orders', orderBody('py-copy'));
    const id = created.json().data.id as string;
    expect((await t.rest.put(`/api/orders/${id}`, { status: 'processing' })).statusCode).toBe(200);
    expect((await t.rest.put(`/api/orders/${id}`, { status: 'shipped', tracking_number: 'TRK-1' })).statusCode).toBe(200);
    await eventually(
      async () => {
        const list = await deliveries(endpoint.id);
        return list.length === 5 && list.every((delivery) => delivery.status === (delivery.eventType === 'ORDER_CREATED' ? 'FAILED' : 'DELIVERED'));
      },
      20_000,
      'the updates delivered and the create failed',
    );
    await script('copy', [{ status: 204 }]);
    const list = await deliveries(endpoint.id);
    const redeliver = (deliveryId: string) => gqlData('mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { id } userErrors { message } } }', { id: deliveryId });
    const createDelivery = list.find((delivery) => delivery.eventType === 'ORDER_CREATED') as Delivery;
    await redeliver(createDelivery.id);
    await eventually(async () => (await deliveries(endpoint.id)).every((delivery) => delivery.status === 'DELIVERED'), 10_000, 'the create redelivered');
    const got = (await t.rest.get(`/api/orders/${id}`)).json().data;
    expect((await copies())[id]).toStrictEqual({ sequence: '3', status: got.status, tracking_number: got.tracking_number });
    // A repeat (here by hand; after a lost 2xx it is a retry) has the webhook-id it had, and changes nothing.
    const firstUpdate = list.find((delivery) => delivery.eventType === 'ORDER_UPDATED' && delivery.attempts.length === 1 && delivery.id !== createDelivery.id);
    const seen = (await received('copy')).length;
    await redeliver(firstUpdate?.id as string);
    await eventually(async () => (await received('copy')).length === seen + 1, 10_000, 'the repeat');
    expect((await received('copy')).filter((arrival) => arrival.headers['webhook-id'] === firstUpdate?.eventId)).toHaveLength(2);
    expect((await copies())[id]).toStrictEqual({ sequence: '3', status: 'shipped', tracking_number: 'TRK-1' });
  });

  it("the README's stdlib verify() takes a real delivery and refuses it changed, re-serialised, stale, unsigned or under another secret", async () => {
    const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('**Without a library**'));
    const block = /```python\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toContain('def verify(secret: str, headers, body: bytes) -> bool:');
    const endpoint = await createEndpoint('readme', ['ORDER_CREATED']);
    await useSecrets([endpoint.secret]);
    await t.rest.post('/api/orders', orderBody('py-readme', { notes: 'Grüße, 東京', metadata: { n: '1' } }));
    await eventually(async () => (await received('readme')).length === 1, 10_000, 'the delivery');
    const [arrival] = await received('readme');
    const other = (await createEndpoint('readme-other', ['ORDER_UPDATED'])).secret;
    const driver = `
import json, sys, time
case = json.load(sys.stdin)
headers = case["headers"]
body = base64.b64decode(case["body_b64"])
secret = case["secret"]
old = str(int(headers["webhook-timestamp"]) - 6 * 60)
without = {k: v for k, v in headers.items() if k != "webhook-signature"}
print(json.dumps({
    "as received": verify(secret, headers, body),
    "rotation": verify(secret, {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}, body),
    "body changed": verify(secret, headers, body.replace(b"py-readme", b"py-readmf")),
    "re-serialised": verify(secret, headers, json.dumps(json.loads(body)).encode()),
    "stale": verify(secret, {**headers, "webhook-timestamp": old}, body),
    "unsigned": verify(secret, without, body),
    "other secret": verify(case["other"], headers, body),
    "v2 only": verify(secret, {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")}, body),
}))
`;
    const run = spawnSync('python3', ['-c', `${block}\n${driver}`], {
      input: JSON.stringify({ headers: arrival?.headers, body_b64: arrival?.body_b64, secret: endpoint.secret, other }),
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toStrictEqual({
      'as received': true,
      rotation: true,
      'body changed': false,
      're-serialised': false,
      stale: false,
      unsigned: false,
      'other secret': false,
      'v2 only': false,
    });
  });
});
