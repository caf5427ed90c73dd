/**
 * The relay vacuums the event queue itself after every `queueVacuumEvery`
 * events it took off it (see OutboxStore.vacuumQueue): the real statement,
 * on this test's database, with no warning.
 */
import { expect, it } from 'vitest';
import { OutboxStore } from '../../src/events/outbox.store';
import { EventRelay } from '../../src/events/relay';
import { useTestApp } from '../support/app';
import { createOrdersThroughRest } from '../support/orders';

// This app's own relay stays off, so the one below is the only one taking events.
const t = useTestApp({ eventsRelay: false });

const create = (n: number) => createOrdersThroughRest(t.rest, n);

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
