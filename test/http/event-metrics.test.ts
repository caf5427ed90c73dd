/** /metrics for events (issue 13.5): outbox backlog, publish latency, webhook attempts by result. */
import { afterAll, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { eventually } from '../support/nats';
import { parsePrometheusText, sampleValue } from '../support/prometheus';
import { startReceiver } from '../support/webhook-receiver';

// The relay starts by hand below, so the backlog can be seen first.
const t = useTestApp({ eventsRelay: false, webhookAllowPrivateNetworks: true, webhookRetrySchedule: [50], eventsPollIntervalMs: 100 });
const receivers: { close(): Promise<void> }[] = [];
afterAll(() => Promise.all(receivers.map((receiver) => receiver.close())));

const scrape = async () => {
  const res = await t.rest.get('/metrics', { authorization: null });
  expect(res.statusCode).toBe(200);
  return parsePrometheusText(res.body);
};

it('shows the backlog, then what was published and how long it took, and webhook attempts by result', async () => {
  const receiver = await startReceiver([500, 200]);
  receivers.push(receiver);
  const endpoint = await t.app.services.webhooks.createEndpoint(await t.context(), { url: receiver.url, events: ['order.created'] });
  receiver.secret = endpoint.secret;
  const order = { customer_id: 'm', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 };
  expect((await t.rest.post('/api/orders', order)).statusCode).toBe(201);
  const created = await t.rest.post('/api/orders', order);
  await t.rest.put(`/api/orders/${created.json().data.id}`, { status: 'paid' });

  let families = await scrape();
  expect(families.types.get('outbox_backlog')).toBe('gauge');
  expect(sampleValue(families, 'outbox_backlog', {})).toBe(4);
  // How long the oldest of them has waited: what an alert on a stuck relay needs, whatever the traffic.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  families = await scrape();
  expect(families.types.get('outbox_oldest_event_age_seconds')).toBe('gauge');
  const age = sampleValue(families, 'outbox_oldest_event_age_seconds', {});
  expect(age).toBeGreaterThanOrEqual(1);
  expect(age).toBeLessThan(60);
  expect(sampleValue(families, 'events_published_total', { type: 'order.created' }) ?? 0).toBe(0);
  expect(sampleValue(families, 'webhook_attempts_total', { result: 'delivered' })).toBe(0);

  t.app.events.relay.start();
  t.app.events.webhooks.start();
  await eventually(async () => receiver.received.length === 3, 10_000, 'two deliveries, one retried');
  // The receiver answers before the dispatcher records the attempt: wait for the count, not the request.
  await eventually(async () => sampleValue(await scrape(), 'webhook_attempts_total', { result: 'delivered' }) === 2, 10_000, 'the attempts to be counted');

  families = await scrape();
  expect(sampleValue(families, 'outbox_backlog', {})).toBe(0);
  expect(sampleValue(families, 'outbox_oldest_event_age_seconds', {})).toBe(0);
  expect(sampleValue(families, 'events_published_total', { type: 'order.created' })).toBe(2);
  expect(sampleValue(families, 'events_published_total', { type: 'order.updated' })).toBe(1);
  expect(sampleValue(families, 'events_published_total', { type: 'order.status_changed' })).toBe(1);
  expect(families.types.get('event_publish_latency_seconds')).toBe('histogram');
  expect(sampleValue(families, 'event_publish_latency_seconds_count', {})).toBe(4);
  expect(sampleValue(families, 'event_publish_latency_seconds_sum', {})).toBeGreaterThan(0);
  expect(sampleValue(families, 'webhook_attempts_total', { result: 'delivered' })).toBe(2);
  expect(sampleValue(families, 'webhook_attempts_total', { result: 'retry' })).toBe(1);
  expect(sampleValue(families, 'webhook_attempts_total', { result: 'failed' })).toBe(0);
});
