/**
 * A backlog larger than one batch (after a broker outage, or written by
 * processes without a relay) drains without waiting for the poll: a round
 * that claimed a full batch claims again at once (relay.ts).
 */
import { expect, it, vi } from 'vitest';
import { OutboxStore } from '../../src/events/outbox.store';
import { EventRelay } from '../../src/events/relay';
import type { EventPublisher } from '../../src/events/publisher';
import { useTestApp } from '../support/app';
import { createOrdersThroughRest } from '../support/orders';

// The app's own relay stays off: the one below is the only one taking events.
const t = useTestApp({ eventsRelay: false });

const createOrders = (n: number) => createOrdersThroughRest(t.rest, n);

it('drains a backlog of several batches after one wake, with no poll in between', async () => {
  await createOrders(23);
  expect(await t.db.count('order_event_queue')).toBe(23);

  const ids: string[] = [];
  const publisher: EventPublisher = {
    name: 'capture',
    publish: async (event) => void ids.push(event.id),
    close: async () => undefined,
  };
  const warnings: unknown[] = [];
  const relay = new EventRelay({
    store: new OutboxStore(t.app.db.em),
    publishers: [publisher],
    log: {
      warn: (...args: unknown[]) => warnings.push(args),
      error: (...args: unknown[]) => warnings.push(args),
    },
    // The poll never comes during the test: only the start's wake and the relay's own "more" may drive it.
    pollIntervalMs: 600_000,
    batchSize: 5,
  });
  relay.start();
  try {
    // Five batches (5 + 5 + 5 + 5 + 3); stopping after the first would leave 18 until the poll.
    await vi.waitFor(() => expect(ids).toHaveLength(23), { timeout: 10_000, interval: 20 });
  } finally {
    await relay.stop();
  }
  expect(new Set(ids).size).toBe(23);
  expect(await t.db.count('order_event_queue')).toBe(0);
  expect(warnings).toStrictEqual([]);
});

it('claims no further batch while every publish fails: the backlog waits for the poll', async () => {
  await createOrders(12);
  let attempts = 0;
  const relay = new EventRelay({
    store: new OutboxStore(t.app.db.em),
    publishers: [
      {
        name: 'down',
        publish: async () => {
          attempts++;
          throw new Error('broker unavailable');
        },
        close: async () => undefined,
      },
    ],
    log: { warn: () => undefined, error: () => undefined },
    pollIntervalMs: 600_000,
    batchSize: 5,
  });
  relay.start();
  try {
    await vi.waitFor(() => expect(attempts).toBe(5), { timeout: 10_000, interval: 20 });
    // Long enough for several more rounds, had the relay gone on claiming.
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    await relay.stop();
  }
  expect(attempts).toBe(5);
  expect(await t.db.count('order_event_queue')).toBe(12);
});
