/**
 * Badly behaved webhook receivers, played by mockttp (4.6.5): slow, silent, resetting,
 * redirecting (to a public and to a loopback address), 410 Gone, 429 with Retry-After,
 * huge and never-ending bodies, invalid HTTP, a self-signed certificate, and a name that
 * resolves to a private address at delivery time. Checked from the outside, as an operator
 * and their receivers would see it: what arrives (signed on every attempt), when (the
 * schedule, Retry-After, the timeout), what `webhookDeliveries` and `webhookEndpoints` say,
 * and that a bad receiver slows neither the others nor order creation. Timeouts and the
 * schedule are the gateway's own settings, set short so the file ends in seconds.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { generateCACertificate, getLocal, type CompletedRequest, type Mockttp } from 'mockttp';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, createTestApp, type TestApp, type TestClient } from '../support/app';
import { eventually } from '../support/nats';
import type { Lookup } from '../../src/webhooks/network-guard';

const TIMEOUT_MS = 1_500;
const SCHEDULE = [300, 300];

interface Arrival {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: string;
}

interface Attempt {
  attemptedAt: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

interface Delivery {
  id: string;
  eventId: string;
  status: string;
  deliveredAt: string | null;
  nextAttemptAt: string | null;
  attempts: Attempt[];
}

/** A mockttp server that records every request it receives, whatever it then does with it. */
async function receiver(options: Parameters<typeof getLocal>[0] = {}): Promise<{ server: Mockttp; arrivals: Arrival[] }> {
  const server = getLocal(options);
  await server.start();
  const arrivals: Arrival[] = [];
  await server.on('request', (request: CompletedRequest) => {
    void request.body.getText().then((body) =>
      arrivals.push({ at: Date.now(), path: request.path, headers: request.headers as Record<string, string>, body: body ?? '' }),
    );
  });
  return { server, arrivals };
}

/** Never ends: 64 KiB chunks, as fast as they are read. */
function endless(): Readable {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  return new Readable({ read() { this.push(chunk); } });
}

const orderBody = (customer: string) => ({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });

function helpers(t: () => TestClient) {
  async function gqlData(query: string, variables: Record<string, unknown>) {
    const response = await t().gql(query, variables);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().errors, response.body).toBeUndefined();
    return response.json().data;
  }
  async function createEndpoint(url: string): Promise<{ id?: string; secret?: string; userErrors: { message: string }[] }> {
    const { createWebhookEndpoint } = await gqlData(
      'mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } secret userErrors { message } } }',
      { input: { url, events: ['ORDER_CREATED'] } },
    );
    return { id: createWebhookEndpoint.endpoint?.id, secret: createWebhookEndpoint.secret ?? undefined, userErrors: createWebhookEndpoint.userErrors };
  }
  async function deliveries(endpointId: string): Promise<Delivery[]> {
    const { webhookDeliveries } = await gqlData(
      `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 50) {
         edges { node { id eventId status deliveredAt nextAttemptAt attempts { attemptedAt statusCode error durationMs } } } } }`,
      { id: endpointId },
    );
    return webhookDeliveries.edges.map((edge: { node: Delivery }) => edge.node);
  }
  async function enabled(endpointId: string): Promise<boolean> {
    const { webhookEndpoints } = await gqlData('{ webhookEndpoints { id enabled } }', {});
    return (webhookEndpoints as { id: string; enabled: boolean }[]).find((endpoint) => endpoint.id === endpointId)?.enabled ?? false;
  }
  async function settled(endpointId: string, what: string, timeoutMs = 20_000): Promise<Delivery> {
    await eventually(async () => ['DELIVERED', 'FAILED'].includes((await deliveries(endpointId))[0]?.status ?? ''), timeoutMs, what);
    return (await deliveries(endpointId))[0];
  }
  return { gqlData, createEndpoint, deliveries, enabled, settled };
}

function expectSigned(secret: string, arrival: Arrival, eventId: string) {
  expect(arrival.headers['webhook-id']).toBe(eventId);
  expect(() => new Webhook(secret).verify(arrival.body, arrival.headers)).not.toThrow();
}

/** Waits between one attempt's end and the next one's start, from the log. */
function gaps(attempts: Attempt[]): number[] {
  return attempts.slice(1).map((attempt, index) => {
    const before = attempts[index];
    return Date.parse(attempt.attemptedAt) - (Date.parse(before.attemptedAt) + before.durationMs);
  });
}

describe('hostile receivers, private networks allowed (the receivers run on 127.0.0.1)', () => {
  let testApp: TestApp;
  let authorization = '';
  const t = clientFor(() => testApp, () => authorization);
  const { gqlData, createEndpoint, deliveries, enabled, settled } = helpers(() => t);
  const servers: Mockttp[] = [];
  let rawServer: net.Server;
  const receivers: Record<string, { server: Mockttp; arrivals: Arrival[] }> = {};
  const endpoints: Record<string, { id: string; secret: string }> = {};
  let invalidHttpUrl = '';
  let invalidHttpArrivals = 0;
  let createdAt = 0;
  let createdMs = 0;
  let eventId = '';

  beforeAll(async () => {
    testApp = await createTestApp({
      webhookAllowPrivateNetworks: true,
      webhookTimeoutMs: TIMEOUT_MS,
      webhookRetrySchedule: SCHEDULE,
      eventsPollIntervalMs: 100,
    });
    authorization = await testApp.bearer('acme');

    const kinds = ['good', 'slow', 'silent', 'reset', 'redirectLoopback', 'redirectPublic', 'gone', 'tooMany', 'huge', 'endless500'];
    for (const kind of kinds) {
      receivers[kind] = await receiver();
      servers.push((receivers[kind] as { server: Mockttp }).server);
    }
    const rule = (kind: string) => (receivers[kind] as { server: Mockttp }).server.forPost('/hook');
    await rule('good').thenReply(204);
    await rule('slow').delay(TIMEOUT_MS * 3).thenReply(200);
    await rule('silent').thenTimeout();
    await rule('reset').thenResetConnection();
    // A redirect to the receiver's own loopback path that would answer 200 if it were followed.
    await (receivers.redirectLoopback as { server: Mockttp }).server.forPost('/inside').thenReply(200);
    await rule('redirectLoopback').thenReply(307, '', { location: `${(receivers.redirectLoopback as { server: Mockttp }).server.urlFor('/inside')}` });
    // TEST-NET-3: a follower would hang there until the timeout.
    await rule('redirectPublic').thenReply(308, '', { location: 'http://203.0.113.7/hook' });
    await rule('gone').thenReply(410);
    await rule('tooMany').once().thenReply(429, '', { 'retry-after': '2' });
    await rule('tooMany').thenReply(200);
    // A stream is read once: one per request (two orders to `huge`, three attempts of each order to `endless500`).
    for (let request = 0; request < 2; request += 1) await rule('huge').once().thenStream(200, endless(), { 'content-type': 'text/plain' });
    for (let request = 0; request < 2 * (SCHEDULE.length + 1); request += 1)
      await rule('endless500').once().thenStream(500, endless(), { 'content-type': 'text/plain' });

    rawServer = net.createServer((socket) => {
      socket.once('data', () => {
        invalidHttpArrivals += 1;
        socket.end('HTTP/1.1 two hundred OK\r\nthis is not a header\r\n\r\n');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => rawServer.listen(0, '127.0.0.1', resolve));
    invalidHttpUrl = `http://127.0.0.1:${(rawServer.address() as net.AddressInfo).port}/hook`;

    for (const kind of kinds) {
      const made = await createEndpoint((receivers[kind] as { server: Mockttp }).server.urlFor('/hook'));
      expect(made.userErrors).toStrictEqual([]);
      endpoints[kind] = { id: made.id as string, secret: made.secret as string };
    }
    const invalid = await createEndpoint(invalidHttpUrl);
    endpoints.invalid = { id: invalid.id as string, secret: invalid.secret as string };

    createdAt = Date.now();
    const created = await t.rest.post('/api/orders', orderBody('hostile'));
    createdMs = Date.now() - createdAt;
    expect(created.statusCode, created.body).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await testApp?.close();
    await Promise.all(servers.map((server) => server.stop()));
    rawServer?.close();
  });

  it('delivers to a good receiver at once, while the others hang, reset or stream, and order creation is not held up', async () => {
    expect(createdMs).toBeLessThan(1_000);
    const good = await settled(endpoints.good?.id, 'the good delivery', 10_000);
    expect(good.status).toBe('DELIVERED');
    eventId = good.eventId;
    const arrival = receivers.good?.arrivals[0];
    // Before a hanging receiver's first attempt had even timed out.
    await eventually(async () => (await deliveries(endpoints.silent?.id))[0]?.attempts.length === 1, 10_000, 'the silent first attempt');
    const [silentFirst] = (await deliveries(endpoints.silent?.id))[0]?.attempts ?? [];
    expect(arrival.at).toBeLessThan(Date.parse(silentFirst?.attemptedAt ?? '') + (silentFirst?.durationMs ?? 0));
    expectSigned(endpoints.good?.secret, arrival, eventId);
  });

  it.each(['slow', 'silent'])('gives a %s receiver the timeout, retries it on the schedule, then marks the delivery failed', async (kind) => {
    const delivery = await settled(endpoints[kind]?.id, `the ${kind} delivery`);
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts).toHaveLength(SCHEDULE.length + 1);
    for (const attempt of delivery.attempts) {
      expect(attempt.statusCode).toBeNull();
      expect(attempt.error).toBe(`no answer within ${TIMEOUT_MS} ms`);
      expect(attempt.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(attempt.durationMs).toBeLessThan(TIMEOUT_MS + 1_000);
    }
    for (const gap of gaps(delivery.attempts)) expect(gap).toBeGreaterThanOrEqual(0.8 * 300 - 20);
    const arrivals = receivers[kind]?.arrivals ?? [];
    await eventually(async () => arrivals.length === SCHEDULE.length + 1, 5_000, `the ${kind} receiver's requests`);
    for (const arrival of arrivals) expectSigned(endpoints[kind]?.secret, arrival, delivery.eventId);
  });

  it('logs a reset connection as an error with no status, retries it on the schedule, then fails', async () => {
    const delivery = await settled(endpoints.reset?.id, 'the reset delivery');
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([null, null, null]);
    for (const attempt of delivery.attempts) expect(attempt.error).toMatch(/ECONNRESET|socket hang up/);
    for (const gap of gaps(delivery.attempts)) {
      expect(gap).toBeGreaterThanOrEqual(0.8 * 300 - 20);
      expect(gap).toBeLessThan(0.8 * 300 + 2_000);
    }
  });

  it('never follows a redirect: not to the loopback path, not to a public address; the 3xx is logged and retried', async () => {
    for (const [kind, status] of [['redirectLoopback', 307], ['redirectPublic', 308]] as const) {
      const delivery = await settled(endpoints[kind]?.id, `the ${kind} delivery`);
      expect(delivery.status).toBe('FAILED');
      expect(delivery.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([status, status, status]);
      for (const attempt of delivery.attempts) expect(attempt.durationMs).toBeLessThan(TIMEOUT_MS);
      expect(receivers[kind]?.arrivals.map((arrival) => arrival.path)).toStrictEqual(['/hook', '/hook', '/hook']);
    }
  });

  it('disables an endpoint that answered 410 Gone, and sends it nothing more', async () => {
    const endpointId = endpoints.gone?.id;
    await eventually(async () => (await deliveries(endpointId))[0]?.attempts.length === 1, 10_000, 'the 410 attempt');
    await eventually(async () => !(await enabled(endpointId)), 5_000, 'the endpoint disabled');
    const [delivery] = await deliveries(endpointId);
    expect(delivery?.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([410]);
    expect(delivery?.status).not.toBe('DELIVERED');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receivers.gone?.arrivals).toHaveLength(1);
    // The log does not promise an attempt that a disabled endpoint will not get.
    expect((await deliveries(endpointId))[0]?.nextAttemptAt).toBeNull();
    // Nor does a redelivery by hand answer as if it were on its way: it is queued, PENDING with no
    // attempt due, and goes out when the endpoint is enabled, as the endpoint's other pending ones do.
    const { redeliverWebhook } = await gqlData(
      'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { status nextAttemptAt } userErrors { field message } } }',
      { id: delivery?.id },
    );
    expect(redeliverWebhook).toStrictEqual({ delivery: { status: 'PENDING', nextAttemptAt: null }, userErrors: [] });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await deliveries(endpointId))[0]?.attempts).toHaveLength(1);
    expect(receivers.gone?.arrivals).toHaveLength(1);
  });

  it('waits out a 429’s Retry-After (longer than the schedule) before the retry, which is delivered and signed', async () => {
    const delivery = await settled(endpoints.tooMany?.id, 'the 429 delivery');
    expect(delivery.status).toBe('DELIVERED');
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([429, 200]);
    const [gap] = gaps(delivery.attempts);
    expect(gap).toBeGreaterThanOrEqual(2_000 - 20);
    expect(gap).toBeLessThan(2_000 + 2_000);
    const arrivals = receivers.tooMany?.arrivals ?? [];
    expect(arrivals).toHaveLength(2);
    for (const arrival of arrivals) expectSigned(endpoints.tooMany?.secret, arrival, delivery.eventId);
    expect(arrivals[0]?.headers['webhook-timestamp']).not.toBe(arrivals[1]?.headers['webhook-timestamp']);
  });

  it('reads only the status of a huge or never-ending body: a 200 is delivered at once, a 500 retried at once', async () => {
    const huge = await settled(endpoints.huge?.id, 'the huge delivery');
    expect(huge.status).toBe('DELIVERED');
    expect(huge.attempts[0]?.durationMs).toBeLessThan(TIMEOUT_MS);
    const endless500 = await settled(endpoints.endless500?.id, 'the endless 500 delivery');
    expect(endless500.status).toBe('FAILED');
    expect(endless500.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([500, 500, 500]);
    for (const attempt of endless500.attempts) expect(attempt.durationMs).toBeLessThan(TIMEOUT_MS);
  });

  it('logs invalid HTTP as an error with no status, and retries it', async () => {
    const delivery = await settled(endpoints.invalid?.id, 'the invalid-HTTP delivery');
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([null, null, null]);
    for (const attempt of delivery.attempts) {
      expect(attempt.error).toBeTruthy();
      expect(attempt.durationMs).toBeLessThan(TIMEOUT_MS);
    }
    expect(invalidHttpArrivals).toBe(3);
  });

  it('creates and delivers a second order as quickly while the slow and silent receivers hang on it again; the gone endpoint gets nothing', async () => {
    const before = Date.now();
    const second = await t.rest.post('/api/orders', orderBody('hostile-2'));
    expect(second.statusCode).toBe(201);
    expect(Date.now() - before).toBeLessThan(1_000);
    await eventually(async () => (receivers.good?.arrivals.length ?? 0) === 2, 10_000, 'the second good delivery');
    const arrival = receivers.good?.arrivals[1];
    await eventually(async () => (await deliveries(endpoints.silent?.id)).length === 2, 10_000, 'the second silent delivery');
    await eventually(async () => (await deliveries(endpoints.silent?.id)).some((delivery) => delivery.attempts.length === 1 && delivery.status === 'PENDING'), 10_000, 'the second silent attempt');
    const silent = (await deliveries(endpoints.silent?.id)).find((delivery) => delivery.status === 'PENDING');
    const [silentFirst] = silent?.attempts ?? [];
    expect(arrival.at).toBeLessThan(Date.parse(silentFirst?.attemptedAt ?? '') + (silentFirst?.durationMs ?? 0));
    expectSigned(endpoints.good?.secret, arrival, arrival.headers['webhook-id']);
    expect(await deliveries(endpoints.gone?.id)).toHaveLength(1);
    expect(receivers.gone?.arrivals).toHaveLength(1);
  });
});

describe('a receiver with a self-signed certificate', () => {
  let testApp: TestApp;
  let authorization = '';
  const t = clientFor(() => testApp, () => authorization);
  const { createEndpoint, settled } = helpers(() => t);
  let tls: { server: Mockttp; arrivals: Arrival[] };

  beforeAll(async () => {
    testApp = await createTestApp({ webhookAllowPrivateNetworks: true, webhookTimeoutMs: TIMEOUT_MS, webhookRetrySchedule: [200], eventsPollIntervalMs: 100 });
    authorization = await testApp.bearer('acme');
    tls = await receiver({ https: await generateCACertificate({ subject: { commonName: 'hostile receiver CA' } }) });
    await tls.server.forPost('/hook').thenReply(200);
  }, 60_000);
  afterAll(async () => {
    await testApp?.close();
    await tls?.server.stop();
  });

  it('refuses it: the attempt logs the certificate error, and the receiver never gets the body', async () => {
    const made = await createEndpoint(tls.server.urlFor('/hook').replace('http:', 'https:'));
    expect(made.userErrors).toStrictEqual([]);
    expect((await t.rest.post('/api/orders', orderBody('tls'))).statusCode).toBe(201);
    const delivery = await settled(made.id as string, 'the TLS delivery');
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([null, null]);
    for (const attempt of delivery.attempts) expect(attempt.error).toMatch(/certificate/i);
    expect(tls.arrivals).toHaveLength(0);
  });
});

describe('a name that resolves to a private address, private networks refused', () => {
  let testApp: TestApp;
  let authorization = '';
  const t = clientFor(() => testApp, () => authorization);
  const { createEndpoint, settled } = helpers(() => t);
  let inside: { server: Mockttp; arrivals: Arrival[] };
  // Public when the endpoint is registered, the receiver's loopback address when it is delivered to.
  let answer = '93.184.215.14';
  const lookup: Lookup = (hostname, options, callback) => {
    if (hostname !== 'hooks.customer.example') return callback(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }), '', 0);
    if (options.all) return callback(null, [{ address: answer, family: 4 }]);
    callback(null, answer, 4);
  };

  beforeAll(async () => {
    inside = await receiver();
    await inside.server.forPost('/hook').thenReply(200);
    testApp = await createTestApp(
      { webhookAllowPrivateNetworks: false, webhookTimeoutMs: TIMEOUT_MS, webhookRetrySchedule: [200], eventsPollIntervalMs: 100 },
      { webhookLookup: lookup },
    );
    authorization = await testApp.bearer('acme');
  }, 60_000);
  afterAll(async () => {
    await testApp?.close();
    await inside?.server.stop();
  });

  it('refuses a loopback URL or a redirector’s private name at registration', async () => {
    expect((await createEndpoint(inside.server.urlFor('/hook'))).userErrors).not.toStrictEqual([]);
    answer = '127.0.0.1';
    const refused = await createEndpoint(`http://hooks.customer.example:${inside.server.port}/hook`);
    expect(refused.userErrors.map((error) => error.message).join()).toMatch(/hooks\.customer\.example resolves to/);
    expect(refused.userErrors.map((error) => error.message).join()).not.toContain('127.0.0.1');
  });

  it('refuses it at delivery time when the name re-resolves to loopback, names no internal address, and the receiver gets nothing', async () => {
    answer = '93.184.215.14';
    const made = await createEndpoint(`http://hooks.customer.example:${inside.server.port}/hook`);
    expect(made.userErrors).toStrictEqual([]);
    answer = '127.0.0.1';
    expect((await t.rest.post('/api/orders', orderBody('rebinding'))).statusCode).toBe(201);
    const delivery = await settled(made.id as string, 'the rebinding delivery');
    expect(delivery.status).toBe('FAILED');
    expect(delivery.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([null, null]);
    for (const attempt of delivery.attempts) {
      expect(attempt.error).toMatch(/refused: hooks\.customer\.example resolves to/);
      expect(attempt.error).not.toContain('127.0.0.1');
    }
    expect(inside.arrivals).toHaveLength(0);
  });
});
