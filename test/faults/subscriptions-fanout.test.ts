/**
 * Subscriptions across processes (issue 14, point 1): two gateway processes
 * on one PostgreSQL and NATS. A subscriber on process A receives, in order,
 * the create and two updates made through process B, and nothing of another
 * workspace. Then the fan-out latency, process B's commit to process A's
 * delivery, over 200 sequential updates (printed and written to
 * test-results/subscription-fanout.json; not asserted).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createServerDatabase } from '../support/database';
import { deleteStream, SHARED_NATS_URL, uniqueStream } from '../support/nats';
import { runCli, startServer, type RunningServer } from '../support/processes';

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
const shared = inject('nats');

describe.skipIf(!shared.up)(`two processes, PostgreSQL and NATS ${shared.reason}`, () => {
  const { stream, subjectPrefix } = uniqueStream();
  let database: { url: string; drop: () => Promise<void> };
  let a: RunningServer;
  let b: RunningServer;
  const keys: Record<string, string> = {};
  let client: Client;

  beforeAll(async () => {
    database = await createServerDatabase();
    const env = { DATABASE_URL: database.url, NATS_URL: SHARED_NATS_URL, NATS_STREAM: stream, NATS_SUBJECT_PREFIX: subjectPrefix };
    a = await startServer(env);
    b = await startServer(env);
    for (const workspace of ['north', 'south']) {
      const created = await runCli(['apikey', 'create', '--workspace', workspace, '--json'], { DATABASE_URL: database.url });
      expect(created.code, created.stderr).toBe(0);
      keys[workspace] = `Bearer ${JSON.parse(created.stdout).key}`;
    }
    client = createClient({
      url: `${a.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: keys.north },
      retryAttempts: 0,
    });
  }, 90_000);

  afterAll(async () => {
    await client?.dispose();
    await a?.stop();
    await b?.stop();
    await database?.drop();
    await deleteStream(SHARED_NATS_URL, stream).catch(() => undefined);
  });

  const send = async (method: 'POST' | 'PUT', url: string, body: unknown, authorization = keys.north) => {
    const res = await fetch(`${b.url}${url}`, {
      method,
      headers: { authorization: authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBeLessThan(300);
    return (await res.json()) as { data: { id: string; updated_at: string } };
  };
  const order = { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 };

  /** Subscribes on process A; resolves once the subscription is running there. */
  async function subscribe(query: string, variables: Record<string, unknown> = {}) {
    const received: { at: number; data: Record<string, { id: string; status: string; trackingNumber: string | null; updatedAt: string }> }[] = [];
    const dispose = client.subscribe(
      { query, variables },
      { next: (value) => received.push({ at: Date.now(), data: value.data as never }), error: () => undefined, complete: () => undefined },
    );
    // The subscribe message has been handled once a change made now arrives; a warm-up order does that.
    return { received, dispose };
  }

  it('a subscriber on A gets the create and two updates made through B, in order, and nothing of another workspace', async () => {
    const created = await subscribe('subscription { orderCreated { id status } }');
    const updated = await subscribe('subscription { orderUpdated { id status trackingNumber updatedAt } }');
    // Until the first create arrives the subscription may still be starting: send creates until one does.
    let first: string | undefined;
    for (let i = 0; i < 50 && created.received.length === 0; i++) {
      first = (await send('POST', '/api/orders', order)).data.id;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(created.received.length).toBeGreaterThan(0);
    const before = created.received.length;
    await send('POST', '/api/orders', order, keys.south);
    const id = (await send('POST', '/api/orders', order)).data.id;
    await send('PUT', `/api/orders/${id}`, { status: 'paid' });
    await send('PUT', `/api/orders/${id}`, { tracking_number: 'TRK-1' });
    await expect.poll(() => updated.received.filter((r) => r.data.orderUpdated?.id === id).length, { timeout: 15_000 }).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(created.received.slice(before).map((r) => r.data.orderCreated)).toStrictEqual([{ id, status: 'PENDING' }]);
    expect(updated.received.map((r) => r.data.orderUpdated).filter((o) => o?.id === id)).toMatchObject([
      { id, status: 'PAID', trackingNumber: null },
      { id, status: 'PAID', trackingNumber: 'TRK-1' },
    ]);
    expect(first).toBeDefined();
    created.dispose();
    updated.dispose();
  }, 60_000);

  it('measures the fan-out latency, B commit to A delivery, over 200 updates', async () => {
    const id = (await send('POST', '/api/orders', order)).data.id;
    const updated = await subscribe('subscription($id: ID) { orderUpdated(id: $id) { id trackingNumber updatedAt } }', { id });
    // Warm up until the subscription delivers.
    for (let i = 0; i < 50 && updated.received.length === 0; i++) {
      await send('PUT', `/api/orders/${id}`, { tracking_number: `warm-${i}` });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(updated.received.length).toBeGreaterThan(0);
    // The commit happens between B receiving the request and B answering it: these bound it from both sides.
    const fromResponse: number[] = [];
    const fromRequest: number[] = [];
    for (let i = 0; i < 200; i++) {
      const count = updated.received.length;
      const sent = Date.now();
      await send('PUT', `/api/orders/${id}`, { tracking_number: `t${i}` });
      const answered = Date.now();
      const deadline = Date.now() + 10_000;
      while (updated.received.length === count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
      const delivery = updated.received.at(-1);
      expect(delivery?.data.orderUpdated?.trackingNumber).toBe(`t${i}`);
      fromResponse.push(Math.max(0, (delivery?.at ?? 0) - answered));
      fromRequest.push((delivery?.at ?? 0) - sent);
    }
    const pct = (values: number[], p: number) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];
    const result = {
      updates: fromRequest.length,
      requestToDeliveryMs: { p50: pct(fromRequest, 50), p99: pct(fromRequest, 99), max: Math.max(...fromRequest) },
      responseToDeliveryMs: { p50: pct(fromResponse, 50), p99: pct(fromResponse, 99), max: Math.max(...fromResponse) },
    };
    console.info(`subscription fan-out (B write → A delivery, PostgreSQL + NATS, 2 processes): ${JSON.stringify(result)}`);
    fs.mkdirSync(path.resolve(__dirname, '../../test-results'), { recursive: true });
    fs.writeFileSync(path.resolve(__dirname, '../../test-results/subscription-fanout.json'), `${JSON.stringify(result, null, 2)}\n`);
    updated.dispose();
  }, 120_000);
});
