/**
 * The subscriptions' feed from NATS (`feedFromNats`, events contract §5):
 * every process hears every event, and reads only those of workspaces that
 * someone in the process subscribes to. An event of any other workspace is
 * dropped by its subject, before its body is read; here, a body that is not
 * an event shows whether it was read (reading it logs a warning).
 *
 * Needs NATS at 127.0.0.1:4222 (NATS_TEST_URL overrides it; `.ci/run` starts
 * it) and skips with the reason printed when none answers.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { feedFromNats, OrderFeed, SubscriberTooSlowError } from '../../src/events/order-feed';
import type { CloudEvent } from '../../src/events/order-events';
import { SHARED_NATS_URL, uniqueStream } from '../support/nats';

const shared = inject('nats');

const restOrder = (id: string) => ({
  id,
  order_number: 'ORD-2026-1202-001',
  customer_id: 'contact_1',
  status: 'pending',
  currency: 'USD',
  items: [{ product_id: 'p1', name: 'Widget', quantity: 2, price: 4.5, subtotal: 9 }],
  subtotal: 9,
  shipping: 0,
  tax: 0,
  total: 9,
  status_history: [{ status: 'pending', timestamp: '2026-12-02T10:00:00.000Z' }],
  created_at: '2026-12-02T10:00:00.000Z',
  updated_at: '2026-12-02T10:00:00.000Z',
});

const event = (workspaceId: string, orderId: string): CloudEvent => ({
  specversion: '1.0',
  id: `evt_${orderId}`,
  source: `/workspaces/${workspaceId}`,
  type: 'order.created',
  subject: orderId,
  time: '2026-12-02T10:00:00.000Z',
  datacontenttype: 'application/json',
  workspaceid: workspaceId,
  sequence: 1,
  data: { order: restOrder(orderId) },
});

describe.skipIf(!shared.up)(`the feed from NATS ${shared.reason}`, () => {
  const { subjectPrefix } = uniqueStream();
  const log = { warn: vi.fn() };
  const feed = new OrderFeed(log);
  let stopFeed: () => Promise<void>;
  let publisher: NatsConnection;

  beforeAll(async () => {
    stopFeed = feedFromNats(feed, { url: SHARED_NATS_URL, subjectPrefix }, log);
    publisher = await connect({ servers: SHARED_NATS_URL });
  });
  afterAll(async () => {
    await publisher?.drain();
    await stopFeed?.();
  });

  const publish = (workspaceId: string, body: string) =>
    publisher.publish(`${subjectPrefix}.${workspaceId}.order.created`, body);

  it('reads the events of subscribed workspaces only', async () => {
    const north = feed.iterate('ws_north', () => true);
    try {
      // The feed connects in the background: publish until it hears one.
      let first: IteratorResult<unknown> | undefined;
      const heard = north.next().then((result) => (first = result));
      for (let n = 0; first === undefined && n < 100; n++) {
        publish('ws_north', JSON.stringify(event('ws_north', `order_ready${n}`)));
        await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 50))]);
      }
      expect(first?.done).toBe(false);
      log.warn.mockClear();

      publish('ws_nobody', 'not an event');
      publish('ws_north', 'not an event either');
      publish('ws_nobody', JSON.stringify(event('ws_nobody', 'order_elsewhere')));
      publish('ws_north', JSON.stringify(event('ws_north', 'order_last')));
      // One connection's messages arrive in order, so every one before it was handled when the last arrives.
      let last: IteratorResult<{ id: string }>;
      do last = (await north.next()) as IteratorResult<{ id: string }>;
      while (!last.done && last.value.id !== 'order_last');

      expect(last.value).toMatchObject({ id: 'order_last', total: '9.00', currency: 'USD' });
      // Only the body on the subscribed workspace's subject was read.
      expect(log.warn.mock.calls.map(([, message]) => message)).toStrictEqual([
        'order feed: a NATS message is not an event',
      ]);
    } finally {
      await north.return?.();
    }
  });

  it('takes an event as the workspace its subject names: a body on one workspace’s subject that claims another never reaches the other', async () => {
    // NATS permissions are per subject: a tenant's user allowed `<prefix>.<its workspace>.>` only
    // must not reach another workspace's subscribers by writing that workspace's id in the body.
    const victim = feed.iterate('ws_victim', () => true);
    const intruder = feed.iterate('ws_intruder', () => true);
    try {
      const victimGot: string[] = [];
      const intruderGot: string[] = [];
      void (async () => {
        for await (const order of victim) victimGot.push(order.id);
      })();
      void (async () => {
        for await (const order of intruder) intruderGot.push(order.id);
      })();
      log.warn.mockClear();
      publish('ws_intruder', JSON.stringify(event('ws_victim', 'order_forged')));
      publish('ws_intruder', JSON.stringify(event('ws_intruder', 'order_own')));
      publish('ws_victim', JSON.stringify(event('ws_victim', 'order_real')));
      await vi.waitFor(() => expect(victimGot).toContain('order_real'), { timeout: 5_000 });
      await vi.waitFor(() => expect(intruderGot).toContain('order_own'), { timeout: 5_000 });
      expect(victimGot).toStrictEqual(['order_real']);
      expect(intruderGot).toStrictEqual(['order_own']);
      expect(log.warn.mock.calls.map(([, message]) => message)).toStrictEqual([
        'order feed: a NATS message names another workspace than its subject',
      ]);
    } finally {
      await victim.return?.();
      await intruder.return?.();
    }
  });
});

describe('a subscriber that does not read', () => {
  it('gets what was queued, then an error saying it fell behind, never a quiet end', async () => {
    const feed = new OrderFeed({ warn: vi.fn() });
    const slow = feed.iterate('ws_slow', () => true);
    for (let n = 0; n < 1001; n++) feed.receive(event('ws_slow', `order_${String(n).padStart(4, '0')}`));
    expect(feed.listensTo('ws_slow')).toBe(false); // it stopped listening: nothing more is kept for it
    const ids: string[] = [];
    let failure: unknown;
    try {
      for (;;) {
        const next = await slow.next();
        if (next.done) break;
        ids.push(next.value.id);
      }
    } catch (error) {
      failure = error;
    }
    expect(ids).toHaveLength(1000);
    expect(ids.at(-1)).toBe('order_0999');
    expect(failure).toBeInstanceOf(SubscriberTooSlowError);
    expect((failure as Error).message).toMatch(/fell 1000 events behind/);
    expect(await slow.next()).toStrictEqual({ value: undefined, done: true });
  });
});

describe('a long-lived subscriber', () => {
  const updated = (orderId: string, sequence: number): CloudEvent => ({
    ...event('ws_long', orderId),
    type: 'order.updated',
    id: `evt_${orderId}_${sequence}`,
    sequence,
  });

  it('remembers the versions of the most recent orders only, so that its memory stays bounded', async () => {
    const feed = new OrderFeed({ warn: vi.fn() }, { rememberedOrders: 3 });
    const long = feed.iterate('ws_long', () => true);
    const received: string[] = [];
    const take = async (count: number) => {
      for (let n = 0; n < count; n++) {
        const next = await Promise.race([
          long.next(),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`nothing after ${received.join(', ')}`)), 2000),
          ),
        ]);
        received.push(`${(next.value as { id: string }).id}`);
      }
    };
    for (const id of ['order_a', 'order_b', 'order_c', 'order_d']) feed.receive(updated(id, 2));
    await take(4);
    // A repeat of a recent order is still dropped ...
    feed.receive(updated('order_d', 2));
    feed.receive(updated('order_c', 1));
    // ... while the first order, four orders ago, is forgotten: its repeat goes out again.
    feed.receive(updated('order_a', 2));
    await take(1);
    expect(received).toStrictEqual(['order_a', 'order_b', 'order_c', 'order_d', 'order_a']);
    await long.return?.();
  });
});

describe('NATS unreachable', () => {
  it('stopping the feed does not wait for a connection that never comes (a shutdown would hang)', async () => {
    // A port nobody listens on: the client keeps trying to make its first connection.
    const server = (await import('node:net')).createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const log = { warn: vi.fn() };
    const stop = feedFromNats(new OrderFeed(log), { url: `nats://127.0.0.1:${port}`, subjectPrefix: 'unreachable' }, log);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answer = await Promise.race([stop().then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3000))]);
    expect(answer).toBe('stopped');
    // Said once, not at every attempt.
    expect(log.warn).toHaveBeenCalledTimes(1);
  });
});
