/**
 * The relay vacuums the event queue itself after every `queueVacuumEvery`
 * events it took off it (see OutboxStore.vacuumQueue): the real statement,
 * on this test's database, with no warning.
 */
import { expect, it } from 'vitest';
import { OutboxStore } from '../../src/events/outbox.store';
import { EventRelay } from '../../src/events/relay';
import { useTestApp } from '../support/app';

// This app's own relay stays off, so the one below is the only one taking events.
const t = useTestApp({ eventsRelay: false });

const create = async (n: number) => {
  for (let i = 0; i < n; i++) {
    const res = await t.rest.post('/api/orders', {
      customer_id: `c${i}`,
      items: [{ product_id: 'p', quantity: 1, price: 2 }],
      total: 2,
    });
    expect(res.statusCode, res.body).toBe(201);
  }
};

it('vacuums the queue once per queueVacuumEvery events published, and the queue ends empty', async () => {
  const store = new OutboxStore(t.app.db.em);
  let vacuums = 0;
  const vacuumQueue = store.vacuumQueue.bind(store);
  store.vacuumQueue = async () => {
    vacuums++;
    await vacuumQueue();
  };
  const warnings: unknown[] = [];
  const relay = new EventRelay({
    store,
    publishers: [],
    log: {
      warn: (...args: unknown[]) => warnings.push(args),
      error: (...args: unknown[]) => warnings.push(args),
    },
    pollIntervalMs: 600_000,
    queueVacuumEvery: 5,
  });
  await create(7);
  expect(await relay.drain()).toBe(7);
  expect(vacuums).toBe(1);
  await create(3);
  expect(await relay.drain()).toBe(3);
  expect(vacuums).toBe(1); // 3 since the last one: not yet
  await create(2);
  expect(await relay.drain()).toBe(2);
  expect(vacuums).toBe(2);
  expect(warnings).toStrictEqual([]);
  expect(await t.db.count('order_event_queue')).toBe(0);
  expect(await t.db.count('order_events')).toBe(12);
});
