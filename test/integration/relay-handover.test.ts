/**
 * A create made in a process that runs a relay hands its event to that relay
 * (`EventRelay.publishCommitted`): the create leases the event's queue row to
 * this process, so no other relay claims it while the lease lasts, and the
 * relay publishes the event from memory, exactly as the outbox holds it.
 * Whatever goes wrong before it is published leaves the event in the outbox
 * for any relay to take (events contract §2).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderEvents, toCloudEvent, type StoredEvent } from '../../src/events/order-events';
import { OutboxStore, PUBLISHED_DATA_SQL } from '../../src/events/outbox.store';
import { EventRelay } from '../../src/events/relay';
import type { EventPublisher } from '../../src/events/publisher';
import { OrderService } from '../../src/orders/order.service';
import { parseExactJson } from '../../src/shared/exact-json';
import type { RequestContext } from '../../src/orders/order.types';
import { useTestApp } from '../support/app';

// The app's own relay stays off: the relays below are the only ones taking events.
const t = useTestApp({ eventsRelay: false });

const quiet = { warn: () => undefined, error: () => undefined };

/** A publisher that keeps every body it takes, and refuses the first `failures` publishes. */
function capture(failures = 0): EventPublisher & { bodies: string[] } {
  const bodies: string[] = [];
  let refused = 0;
  return {
    name: 'capture',
    bodies,
    async publish(_event, body) {
      if (refused < failures) {
        refused++;
        throw new Error('broker unavailable');
      }
      bodies.push(Buffer.from(body).toString('utf8'));
    },
    close: async () => undefined,
  };
}

const relays: EventRelay[] = [];
function relay(
  publisher: EventPublisher,
  maxRetryDelayMs = 5000,
  pollIntervalMs = 600_000,
  options: { store?: OutboxStore; leaseMs?: number } = {},
): EventRelay {
  const made = new EventRelay({
    store: options.store ?? new OutboxStore(t.app.db.em),
    leaseMs: options.leaseMs,
    publishers: [publisher],
    log: quiet,
    pollIntervalMs,
    batchDelayMs: 0,
    maxRetryDelayMs,
  });
  relays.push(made);
  return made;
}
afterEach(async () => {
  await Promise.all(relays.splice(0).map((made) => made.stop()));
});

const body = (customer: string, extra = '') =>
  `{"customer_id":"${customer}","items":[{"product_id":"p","quantity":2,"price":"1.25"}],"total":2.5${extra}}`;

const queueRow = (orderId: string) =>
  t.db.query<{ leased: boolean; attempts: number }>(
    `select q.claimed_until > clock_timestamp() as leased, q.attempts from order_event_queue q where q.order_id = ?`,
    [orderId],
  );

async function storedEvent(orderId: string): Promise<StoredEvent> {
  const [row] = await t.db.query<StoredEvent & { data: string }>(
    `select e.position::text as position, e.id, e.workspace_id as "workspaceId", e.order_id as "orderId", e.type, e.sequence,
            e.time, (${PUBLISHED_DATA_SQL})::text as data from order_events e join orders o on o.id = e.order_id where e.order_id = ?`,
    [orderId],
  );
  if (!row) throw new Error(`no event for ${orderId}`);
  return { ...row, data: parseExactJson(row.data) as object };
}

const bodiesAbout = (publisher: { bodies: string[] }, orderId: string) =>
  publisher.bodies.filter((text) => (JSON.parse(text) as { subject: string }).subject === orderId);

let ctx: RequestContext;
beforeAll(async () => {
  ctx = await t.context();
});

describe('a create in a process with a relay', () => {
  it('leases its event to that relay, which publishes it exactly as stored while another relay claims nothing', async () => {
    const mine = capture();
    const own = relay(mine);
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const { order } = await service.createOrderExactlyOnce(ctx, JSON.parse(body('handover')));
    expect(await queueRow(order.id)).toStrictEqual([{ leased: true, attempts: 0 }]);

    const other = capture();
    await relay(other).drain();
    expect(bodiesAbout(other, order.id)).toStrictEqual([]);

    own.start();
    await expect.poll(() => bodiesAbout(mine, order.id).length).toBe(1);
    await expect.poll(() => queueRow(order.id)).toStrictEqual([]);
    const [published] = bodiesAbout(mine, order.id);
    expect(JSON.parse(published ?? '')).toStrictEqual(
      JSON.parse(JSON.stringify(toCloudEvent(await storedEvent(order.id)))),
    );
    // The number and updated_at the statement gave the order are in the event, as GET answers them.
    const got = await t.rest.get(`/api/orders/${order.id}`);
    expect(JSON.parse(published ?? '').data.order).toStrictEqual(got.json().data);
  });

  it('keeps metadata numbers beyond a double exact in the event it publishes from memory', async () => {
    const mine = capture();
    const own = relay(mine);
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const { order } = await service.createOrderExactlyOnce(
      ctx,
      parseExactJson(body('handover-numbers', ',"metadata":{"big":12345678901234567890,"e21":1e21}')),
    );
    own.start();
    await expect.poll(() => bodiesAbout(mine, order.id).length).toBe(1);
    const [published] = bodiesAbout(mine, order.id);
    expect(published).toContain('"big":12345678901234567890');
    expect(published).toContain('"e21":1000000000000000000000');
  });

  it('with an idempotency key hands over one event, and its replay none', async () => {
    const mine = capture();
    const own = relay(mine);
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const request = JSON.parse(body('handover-key'));
    const first = await service.createOrderExactlyOnce(ctx, request, 'handover-key-1');
    const again = await service.createOrderExactlyOnce(ctx, request, 'handover-key-1');
    expect(again).toMatchObject({ replayed: true, order: { id: first.order.id } });
    own.start();
    await expect.poll(() => queueRow(first.order.id)).toStrictEqual([]);
    expect(bodiesAbout(mine, first.order.id)).toHaveLength(1);
  });

  it('whose publish fails gives the event back to the outbox, where a later claim publishes it once', async () => {
    const flaky = capture(1);
    const own = relay(flaky, 50);
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const { order } = await service.createOrderExactlyOnce(ctx, JSON.parse(body('handover-retry')));
    await own.drain();
    // Released with its failure counted; the retry comes from the queue, not from memory.
    expect((await queueRow(order.id))[0]?.attempts ?? 1).toBe(1);
    await expect
      .poll(async () => {
        await own.drain();
        return bodiesAbout(flaky, order.id).length;
      })
      .toBe(1);
    expect(await queueRow(order.id)).toStrictEqual([]);
  });

  it('whose relay stops before publishing gives its lease up, and another relay publishes the event', async () => {
    const own = relay(capture());
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const { order } = await service.createOrderExactlyOnce(ctx, JSON.parse(body('handover-stop')));
    expect(await queueRow(order.id)).toStrictEqual([{ leased: true, attempts: 0 }]);
    await own.stop();
    expect(await queueRow(order.id)).toStrictEqual([{ leased: null, attempts: 0 }]);
    const other = capture();
    await relay(other).drain();
    expect(bodiesAbout(other, order.id)).toHaveLength(1);
  });

  it('does not stop its relay from claiming on its poll what other processes committed', async () => {
    const mine = capture();
    const own = relay(mine, 5000, 200);
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    // A process without a relay: its event is queued unleased, and no wake reaches this relay.
    const elsewhere = new OrderService(t.app.db.em, { events: orderEvents });
    own.start();
    const foreign = await elsewhere.createOrderExactlyOnce(ctx, JSON.parse(body('handover-foreign')));
    // Hand-overs keep the relay busy with rounds that need no claim.
    for (let i = 0; i < 10; i++)
      await service.createOrderExactlyOnce(ctx, JSON.parse(body(`handover-busy-${i}`)));
    await expect.poll(() => bodiesAbout(mine, foreign.order.id).length, { timeout: 5000 }).toBe(1);
    await expect.poll(() => mine.bodies.filter((text) => text.includes('handover-busy-')).length).toBe(10);
  });

  it('that fails in the database hands nothing over and leaves nothing in the outbox', async () => {
    const mine = capture();
    const own = relay(mine);
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const before = await t.db.count('order_events');
    // A workspace id no counter row can take: the statement fails inside the database.
    await expect(
      service.createOrderExactlyOnce(
        { ...ctx, workspaceId: 'x'.repeat(5000) },
        JSON.parse(body('handover-fail')),
      ),
    ).rejects.toThrow();
    own.start();
    await own.drain();
    expect(mine.bodies.filter((text) => text.includes('handover-fail'))).toStrictEqual([]);
    expect(await t.db.count('order_events')).toBe(before);
  });
});

/** The outbox, whose `markPublished` fails `failures` times first (the database went away after the publish). */
class MarkFailingStore extends OutboxStore {
  constructor(private failures: number) {
    super(t.app.db.em);
  }

  override async markPublished(positions: readonly string[]): Promise<number> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('the database is unavailable');
    }
    return super.markPublished(positions);
  }
}

describe('events published while the database cannot take them off the queue', () => {
  it('go to the broker once: the relay retries marking them, not publishing them again, which the broker keeps as new past its duplicate window', async () => {
    const mine = capture();
    const heard: string[] = [];
    // A short lease: a claimed event's lease runs out while the database is away, as in an outage of minutes.
    const own = relay(mine, 5000, 600_000, { store: new MarkFailingStore(3), leaseMs: 50 });
    own.subscribe((event) => heard.push(event.subject));
    const service = new OrderService(t.app.db.em, { events: orderEvents, relay: own });
    const elsewhere = new OrderService(t.app.db.em, { events: orderEvents });
    // One handed over by a create in this process, one committed by another process and claimed.
    const handed = await service.createOrderExactlyOnce(ctx, JSON.parse(body('mark-fails-handed')));
    const claimed = await elsewhere.createOrderExactlyOnce(ctx, JSON.parse(body('mark-fails-claimed')));
    for (let round = 0; round < 3; round++) {
      await expect(own.drain()).rejects.toThrow('the database is unavailable');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await own.drain();
    expect(bodiesAbout(mine, handed.order.id)).toHaveLength(1);
    expect(bodiesAbout(mine, claimed.order.id)).toHaveLength(1);
    expect(await queueRow(handed.order.id)).toStrictEqual([]);
    expect(await queueRow(claimed.order.id)).toStrictEqual([]);
    // Subscribers hear each once, after it is marked.
    expect(heard.filter((id) => id === handed.order.id || id === claimed.order.id).sort()).toStrictEqual(
      [handed.order.id, claimed.order.id].sort(),
    );
  });
});
