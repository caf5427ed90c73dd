/**
 * Issue 10, point 15, for events: an order's metadata numbers beyond a double
 * leave the gateway in its events as the numbers they are, like REST answers
 * them (the event's order is what GET answers, events contract).
 */
import { expect, it } from 'vitest';
import { OutboxStore } from '../../src/events/outbox.store';
import { EventRelay } from '../../src/events/relay';
import type { EventPublisher } from '../../src/events/publisher';
import { useTestApp } from '../support/app';

// This app's own relay stays off, so the one below is the only one taking events.
const t = useTestApp({ eventsRelay: false });

it('publishes 12345678901234567890 and 1e21 in metadata as those numbers', async () => {
  const bodies: string[] = [];
  const capture: EventPublisher = {
    name: 'capture',
    publish: async (_event, body) => {
      bodies.push(Buffer.from(body).toString('utf8'));
    },
    close: async () => undefined,
  };
  const created = await t.rest.post(
    '/api/orders',
    '{"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":1}],"total":1,"metadata":{"big":12345678901234567890,"e21":1e21}}',
  );
  expect(created.statusCode).toBe(201);
  const id = created.json<{ data: { id: string } }>().data.id;
  const relay = new EventRelay({
    store: new OutboxStore(t.app.db.em),
    publishers: [capture],
    log: { warn: () => undefined, error: () => undefined },
    pollIntervalMs: 600_000,
  });
  await relay.drain();
  const mine = bodies.filter((body) => body.includes(id));
  expect(mine).toHaveLength(1);
  expect(mine[0]).toContain('"big":12345678901234567890');
  expect(mine[0]).toContain('"e21":1000000000000000000000');
  // And in the REST answer, the same text.
  const got = await t.rest.get(`/api/orders/${id}`);
  expect(got.body).toContain('"big":12345678901234567890');
});
