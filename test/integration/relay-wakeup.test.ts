/**
 * The relay wakes at a commit instead of waiting for its poll: directly in
 * the committing process, and through LISTEN/NOTIFY in every other process
 * on a PostgreSQL server. The poll here is ten minutes, so only a wake-up can
 * explain an event published within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/events/order-events';
import { useTestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';
import { twoAppsOnServerDatabase, type ServerPair } from '../support/more-apps';
import { eventually } from '../support/nats';

const TEN_MINUTES = 600_000;
const orderBody = { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 };

describe('in one process', () => {
  const t = useTestApp({ eventsPollIntervalMs: TEN_MINUTES });

  it('a create and an update are published at once, not at the next poll', async () => {
    const heard: CloudEvent[] = [];
    t.app.events.relay.subscribe((event) => heard.push(event));
    const created = await t.rest.post('/api/orders', orderBody);
    const id = created.json().data.id as string;
    await eventually(async () => heard.length === 1, 5000, 'order.created');
    await t.rest.put(`/api/orders/${id}`, { status: 'paid' });
    await eventually(async () => heard.length === 3, 5000, 'order.updated and order.status_changed');
    expect(heard.map((event) => [event.type, event.subject])).toStrictEqual([
      ['order.created', id],
      ['order.updated', id],
      ['order.status_changed', id],
    ]);
    expect(await t.db.count('order_event_queue')).toBe(0);
  });
});

// The embedded database belongs to one process, so there is no other process to wake there.
describe.runIf(usingRealPostgres)('across processes on a PostgreSQL server', () => {
  let pair: ServerPair;
  beforeAll(async () => {
    // The first writes and relays nothing; the second relays, woken only by NOTIFY.
    pair = await twoAppsOnServerDatabase({ eventsRelay: false }, { eventsPollIntervalMs: TEN_MINUTES });
  });
  afterAll(() => pair?.close());

  it("another process's commit wakes this relay through LISTEN/NOTIFY", async () => {
    const heard: CloudEvent[] = [];
    pair.second.app.events.relay.subscribe((event) => heard.push(event));
    const writer = pair.first.app;
    await writer.services.auth.createWorkspace('acme', 'UTC');
    const { key } = await writer.services.auth.createApiKey('acme');
    // Let the second process's LISTEN connection come up (its first round runs when it does).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const res = await writer.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify(orderBody),
    });
    expect(res.statusCode).toBe(201);
    await eventually(async () => heard.length === 1, 5000, 'the other process to publish');
    expect(heard[0]?.subject).toBe(res.json().data.id);
  });
});
