/**
 * A create still running when the gateway shuts down (its client went away,
 * so the HTTP server no longer waits for it) commits an event leased to this
 * process's relay. The shutdown waits for it before stopping the relay
 * (`OrderService.settle` in `app.close`), and a relay already stopped gives
 * such a lease up at once (`EventRelay.publishCommitted`): either way no event
 * waits 30 s for its lease to run out before any relay may publish it.
 */
import { expect, it, vi } from 'vitest';
import { OutboxStore } from '../../src/events/outbox.store';
import { EventRelay } from '../../src/events/relay';
import { useTestApp } from '../support/app';
import { appOnSameDatabase } from '../support/more-apps';
import { createOrdersThroughRest } from '../support/orders';

// This app owns the database and runs no relay; the gateways below share its database.
const t = useTestApp({ eventsRelay: false });

const leased = () => t.db.count('order_event_queue', 'claimed_until > now()');

it('close waits for a create in flight, whose event is then published or free for any relay, not leased', async () => {
  const gateway = await appOnSameDatabase(t.app.db, { eventsRelay: true });
  const send = () =>
    gateway.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: t.auth, 'content-type': 'application/json' },
      payload: { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 2 }], total: 2 },
    });
  // The first create makes the workspace's counter row for today.
  expect((await send()).statusCode).toBe(201);
  await vi.waitFor(async () => expect(await t.db.count('order_event_queue')).toBe(0), { timeout: 10_000 });

  // Hold the counter row (on the embedded database, its one connection): the next create waits at the database.
  let release!: () => void;
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holding = t.app.db.em.fork().transactional(async (em) => {
    await em.execute('select 1 from order_number_counters for update');
    locked();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await isLocked;

  // inject() has no socket: to the HTTP server it is a request whose client is gone.
  let answered = false;
  const create = send().then((res) => {
    answered = true;
    return res;
  });
  await vi.waitFor(() => expect(gateway.app.services.orders.changesInFlight).toBe(1));
  let closed = false;
  const closing = gateway.close().then(() => (closed = true));
  // Long enough for a close that does not wait to stop the relay and finish.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(closed).toBe(false);

  release();
  await holding;
  expect((await create).statusCode).toBe(201);
  await closing;
  expect(answered).toBe(true);

  expect(await t.db.count('order_events')).toBe(2);
  expect(await leased()).toBe(0);
  expect(gateway.logs.filter((line) => (line.level as number) >= 40)).toStrictEqual([]);
});

it('a relay handed an event after it stopped gives the lease up at once', async () => {
  await createOrdersThroughRest(t.rest, 1);
  const queued = await t.db.count('order_event_queue');
  const store = new OutboxStore(t.app.db.em);
  // Leased to "this process", as a create with a relay leases its event.
  const [event] = await store.claim(1, 30_000);
  expect(event).toBeDefined();
  expect(await leased()).toBe(1);

  const warnings: unknown[] = [];
  const relay = new EventRelay({
    store,
    publishers: [],
    log: { warn: (...args: unknown[]) => warnings.push(args), error: (...args: unknown[]) => warnings.push(args) },
    pollIntervalMs: 600_000,
  });
  relay.start();
  await relay.stop();
  relay.publishCommitted(event);

  await vi.waitFor(async () => expect(await leased()).toBe(0), { timeout: 5000 });
  // Given up, not published: it waits for the next relay's claim.
  expect(await t.db.count('order_event_queue')).toBe(queued);
  expect(warnings).toStrictEqual([]);
});
