/**
 * Webhooks (events contract §4): deliveries made from the outbox, signed so
 * that a Standard Webhooks receiver verifies them, retried on the schedule,
 * every attempt logged, failed after the last, redeliverable by hand, and
 * never crossing workspaces.
 */
import type dns from 'node:dns';
import http from 'node:http';
import type net from 'node:net';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/events/order-events';
import type { RequestContext } from '../../src/orders/order.types';
import type { Lookup } from '../../src/webhooks/network-guard';
import { isPrivateAddress } from '../../src/webhooks/network-guard';
import { Webhook } from 'standardwebhooks';
import { clientFor, createTestApp, useTestApp, type TestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';
import { eventually, freePort } from '../support/nats';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const orderBody = (customer = 'c') => ({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });

describe('deliveries', () => {
  const t = useTestApp({ webhookAllowPrivateNetworks: true, webhookRetrySchedule: [300, 300], eventsPollIntervalMs: 100 });
  let ctx: RequestContext;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    ctx = await t.context();
  });
  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  async function endpointFor(receiver: Receiver, events?: string[], scope: RequestContext = ctx) {
    const endpoint = await t.app.services.webhooks.createEndpoint(scope, { url: receiver.url, events });
    receiver.secret = endpoint.secret;
    return endpoint;
  }

  const deliveriesOf = async (endpointId: string) =>
    (await t.app.services.webhooks.listDeliveries(ctx, endpointId, { first: 100 })).edges.map((edge) => edge.delivery);

  it('a receiver that answers 500 twice, then 200, gets the event three times with one webhook-id, verified, and it is delivered once', async () => {
    const receiver = await startReceiver([500, 500, 200]);
    receivers.push(receiver);
    const endpoint = await endpointFor(receiver);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const created = await t.rest.post('/api/orders', orderBody('retry'));
    expect(created.statusCode).toBe(201);
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered', 10_000, 'the delivery');

    expect(receiver.received.map((request) => [request.status, request.verified])).toStrictEqual([
      [500, true],
      [500, true],
      [200, true],
    ]);
    const ids = new Set(receiver.received.map((request) => request.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const event = JSON.parse(receiver.received[2]?.body ?? '{}') as CloudEvent;
    expect(ids).toStrictEqual(new Set([event.id]));
    expect(event).toMatchObject({ specversion: '1.0', type: 'order.created', subject: created.json().data.id, sequence: 1 });
    expect(receiver.received[0]?.headers['content-type']).toBe('application/json');
    expect(receiver.received[0]?.headers['webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(receiver.received[0]?.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);

    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery).toMatchObject({ eventId: event.id, eventType: 'order.created', status: 'delivered' });
    expect(delivery?.attempts.map((attempt) => attempt.statusCode)).toStrictEqual([500, 500, 200]);
    expect(delivery?.deliveredAt).toBeInstanceOf(Date);
    await t.app.services.webhooks.deleteEndpoint(ctx, endpoint.id);
  });

  it.runIf(usingRealPostgres)('an endpoint deleted while its event is being published: the workspace’s other endpoints get it at once, and the relay does not fail', async () => {
    const scope = await t.context(await t.bearer('hooli'));
    const staying = await startReceiver([200]);
    receivers.push(staying);
    const kept = await endpointFor(staying, undefined, scope);
    const going = await t.app.services.webhooks.createEndpoint(scope, { url: staying.url });
    // Another process deletes the second endpoint; its statement is still running (it holds the row).
    const deleter = new Client({ connectionString: t.app.db.orm.config.get('clientUrl') });
    await deleter.connect();
    try {
      await deleter.query('begin');
      await deleter.query('delete from webhook_endpoints where id = $1', [going.id]);
      const authorization = `Bearer ${(await t.app.services.auth.createApiKey('hooli')).key}`;
      expect((await t.rest.post('/api/orders', orderBody('deleted-while-published'), { authorization })).statusCode).toBe(201);
      // The relay is making the event's deliveries, and waits on the endpoint being deleted.
      await eventually(
        async () =>
          (await t.db.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database() and query like '%insert into webhook_deliveries%'",
          ))[0]?.n === 1,
        5000,
        'the relay waiting on the deleted endpoint',
      );
      await deleter.query('commit');
    } finally {
      await deleter.end();
    }
    await eventually(async () => (await t.app.services.webhooks.listDeliveries(scope, kept.id, { first: 10 })).edges[0]?.delivery.status === 'delivered', 5000, 'the delivery to the endpoint that stayed');
    expect(staying.received).toHaveLength(1);
    expect(await t.db.count('order_event_queue')).toBe(0);
    // No batch failed on the deleted endpoint's foreign key (it did: the relay logged it and published the whole batch again,
    // and a batch it had claimed from the outbox waited out the 30 s lease first).
    expect(t.logs.filter((line) => line.component === 'event-relay' && (line.level as number) >= 40).map((line) => line.msg)).toStrictEqual([]);
    await t.app.services.webhooks.deleteEndpoint(scope, kept.id);
  });

  // The CloudEvents webhook spec and Standard Webhooks senders (Svix) honour a receiver's Retry-After on 429 and 503.
  it.each([
    ['429, Retry-After in seconds', 429, () => '2'],
    ['503, Retry-After as an HTTP date', 503, () => new Date(Date.now() + 3000).toUTCString()],
  ])('a receiver that answers %s is not tried again before then, though the schedule says 300 ms', async (_, status, retryAfter) => {
    const receiver = await startReceiver([[status, { 'retry-after': retryAfter() }], 200]);
    receivers.push(receiver);
    const endpoint = await endpointFor(receiver);
    expect((await t.rest.post('/api/orders', orderBody('retry-after'))).statusCode).toBe(201);
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered', 10_000, 'the delivery');
    const [first, second] = receiver.received;
    // An HTTP date is to the second: at least the whole seconds it names, less the part of the first already gone.
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1900);
    expect(receiver.received.map((request) => request.status)).toStrictEqual([status, 200]);
    await t.app.services.webhooks.deleteEndpoint(ctx, endpoint.id);
  });

  it('a Retry-After of a day waits an hour at most, and one that is not a number or a date changes nothing', async () => {
    const patient = await startReceiver([[429, { 'retry-after': '86400' }]]);
    const garbled = await startReceiver([[503, { 'retry-after': 'soon' }], 200]);
    receivers.push(patient, garbled);
    const slow = await endpointFor(patient);
    const quick = await endpointFor(garbled);
    const before = Date.now();
    expect((await t.rest.post('/api/orders', orderBody('retry-after-cap'))).statusCode).toBe(201);
    await eventually(async () => (await deliveriesOf(quick.id))[0]?.status === 'delivered', 10_000, 'the garbled one delivered on the schedule');
    await eventually(async () => (await deliveriesOf(slow.id))[0]?.attempts.length === 1, 10_000, 'the first attempt');
    const [waiting] = await deliveriesOf(slow.id);
    const wait = (waiting?.nextAttemptAt?.getTime() ?? 0) - before;
    expect(wait).toBeGreaterThan(3_590_000);
    expect(wait).toBeLessThan(3_620_000);
    await t.app.services.webhooks.deleteEndpoint(ctx, slow.id);
    await t.app.services.webhooks.deleteEndpoint(ctx, quick.id);
  });

  it('a receiver down past the schedule leaves a failed delivery, which redeliverWebhook then delivers', async () => {
    const port = await freePort();
    const down = { url: `http://127.0.0.1:${port}/hooks`, secret: undefined } as Receiver;
    const endpoint = await endpointFor(down);
    await t.rest.post('/api/orders', orderBody('down'));
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'failed', 10_000, 'the delivery to fail');
    const [failed] = await deliveriesOf(endpoint.id);
    // The first attempt and one per entry of the schedule (two), each with its error.
    expect(failed?.attempts).toHaveLength(3);
    expect(failed?.attempts.every((attempt) => attempt.statusCode === undefined && /ECONNREFUSED/.test(attempt.error ?? ''))).toBe(true);

    const receiver = await startReceiver([200], port);
    receiver.secret = down.secret;
    receivers.push(receiver);
    const redelivered = await t.app.services.webhooks.redeliver(ctx, failed?.id);
    expect(redelivered.status).toBe('pending');
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered', 10_000, 'the redelivery');
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.verified).toBe(true);
    expect(receiver.received[0]?.headers['webhook-id']).toBe(failed?.eventId);
    expect((await deliveriesOf(endpoint.id))[0]?.attempts).toHaveLength(4);
    await t.app.services.webhooks.deleteEndpoint(ctx, endpoint.id);
  });

  it('a delivery carries the order exactly as GET /api/orders/:id writes it at that moment, key for key', async () => {
    const receiver = await startReceiver([200]);
    receivers.push(receiver);
    const endpoint = await endpointFor(receiver);
    const created = await t.rest.post('/api/orders', {
      ...orderBody('key-order'),
      items: [{ product_id: 'p', name: 'Widget', quantity: 1, price: 1, sku: 'W-1' }],
      shipping_address: { country: 'ID', name: 'Jo', address: '1 Jalan', city: 'Jakarta', postal_code: '12345' },
      metadata: { b: 1, a: 2 },
    });
    const id = created.json().data.id as string;
    const afterCreate = (await t.rest.get(`/api/orders/${id}`)).json().data as object;
    await eventually(async () => receiver.received.length === 1, 10_000, 'the order.created delivery');
    await t.rest.put(`/api/orders/${id}`, { tracking_number: 'TRK-1' });
    const afterUpdate = (await t.rest.get(`/api/orders/${id}`)).json().data as object;
    await eventually(async () => receiver.received.length === 2, 10_000, 'the order.updated delivery');

    // The contract's "exactly as GET would return it": the same keys in the same order, not a
    // re-sorted copy (a consumer that hashes or diffs the text sees the difference).
    const orders = receiver.received.map((request) => JSON.stringify((JSON.parse(request.body) as { data: { order: object } }).data.order));
    expect(orders).toStrictEqual([JSON.stringify(afterCreate), JSON.stringify(afterUpdate)]);
    await t.app.services.webhooks.deleteEndpoint(ctx, endpoint.id);
  });

  it('an endpoint gets only the types it asked for, and never another workspace’s events', async () => {
    const statusOnly = await startReceiver([200]);
    const everything = await startReceiver([200]);
    const foreign = await startReceiver([200]);
    receivers.push(statusOnly, everything, foreign);
    await endpointFor(statusOnly, ['order.status_changed']);
    await endpointFor(everything);
    const otherCtx = await t.context(await t.bearer('globex'));
    await endpointFor(foreign, undefined, otherCtx);

    const created = await t.rest.post('/api/orders', orderBody('filters'));
    const id = created.json().data.id as string;
    await t.rest.put(`/api/orders/${id}`, { status: 'paid' });
    await eventually(async () => everything.received.length === 3 && statusOnly.received.length === 1, 10_000, 'the deliveries');
    const types = (receiver: Receiver) => receiver.received.map((request) => (JSON.parse(request.body) as CloudEvent).type);
    expect(types(everything).sort()).toStrictEqual(['order.created', 'order.status_changed', 'order.updated']);
    expect(types(statusOnly)).toStrictEqual(['order.status_changed']);
    // The other workspace's endpoint heard nothing of acme's orders; its own order reaches it alone.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(foreign.received).toStrictEqual([]);
    const own = await t.rest.post('/api/orders', orderBody('own'), { authorization: await t.bearer('globex') });
    await eventually(async () => foreign.received.length === 1, 10_000, 'globex’s own event');
    expect((JSON.parse(foreign.received[0]?.body ?? '{}') as CloudEvent).subject).toBe(own.json().data.id);
    expect(everything.received).toHaveLength(3);
  });

  it('another workspace’s endpoint and delivery are NOT_FOUND, and listing is per workspace', async () => {
    const receiver = await startReceiver([200]);
    receivers.push(receiver);
    const endpoint = await endpointFor(receiver);
    await t.rest.post('/api/orders', orderBody('scoped'));
    await eventually(async () => (await deliveriesOf(endpoint.id)).length === 1, 10_000, 'the delivery');
    const [delivery] = await deliveriesOf(endpoint.id);
    const otherCtx = await t.context(await t.bearer('initech'));
    const service = t.app.services.webhooks;
    await expect(service.listDeliveries(otherCtx, endpoint.id, {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.redeliver(otherCtx, delivery?.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.deleteEndpoint(otherCtx, endpoint.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await service.listEndpoints(otherCtx)).toStrictEqual([]);
    expect((await service.listEndpoints(ctx)).map((listed) => listed.id)).toContain(endpoint.id);
  });

  it.each([
    ['ftp://example.com/hook', ['url'], 'must be an http or https URL'],
    ['not a url', ['url'], 'must be an absolute http or https URL'],
    ['https://user:pw@example.com/hook', ['url'], 'must not carry credentials'],
  ])('refuses the URL %s', async (url, path, message) => {
    await expect(t.app.services.webhooks.createEndpoint(ctx, { url })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path, message }],
    });
  });

  it('keeps a workspace at 50 endpoints when the last places are taken by concurrent creates', async () => {
    const crowded = await t.context(await t.bearer('crowded'));
    const service = t.app.services.webhooks;
    for (let i = 0; i < 45; i++) await service.createEndpoint(crowded, { url: `http://127.0.0.1:9/hook${i}` });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => service.createEndpoint(crowded, { url: `http://127.0.0.1:9/race${i}` })),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
    for (const result of results.filter((result) => result.status === 'rejected')) {
      expect(result.reason).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ path: ['url'], message: 'a workspace has at most 50 endpoints' }] });
    }
    expect(await service.listEndpoints(crowded)).toHaveLength(50);
  });

  it('refuses unknown event types and an empty list', async () => {
    const url = 'http://127.0.0.1:9/hook';
    await expect(t.app.services.webhooks.createEndpoint(ctx, { url, events: ['order.created', 'order.deleted'] })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: ['events', 1] }],
    });
    await expect(t.app.services.webhooks.createEndpoint(ctx, { url, events: [] })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: ['events'] }],
    });
  });
});

describe('changing an endpoint (updateEndpoint, rotateSecret)', () => {
  // One retry, 1.2–1.8 s after the first attempt: time enough to disable the endpoint in between.
  const t = useTestApp({ webhookAllowPrivateNetworks: true, webhookRetrySchedule: [1500], eventsPollIntervalMs: 100 });
  let ctx: RequestContext;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    ctx = await t.context();
  });
  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });
  const deliveriesOf = async (endpointId: string) =>
    (await t.app.services.webhooks.listDeliveries(ctx, endpointId, { first: 100 })).edges.map((edge) => edge.delivery);
  const subjects = (receiver: Receiver) => receiver.received.map((request) => (JSON.parse(request.body) as CloudEvent).subject);

  it('a disabled endpoint receives nothing: its pending retry waits, an event meanwhile makes no delivery, and enabling it sends the retry', async () => {
    const receiver = await startReceiver([500, 200]);
    receivers.push(receiver);
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: receiver.url, events: ['order.created'] });
    receiver.secret = endpoint.secret;
    const first = (await t.rest.post('/api/orders', orderBody('before'))).json().data.id as string;
    await eventually(async () => receiver.received.length === 1, 10_000, 'the first attempt');

    expect(await service.updateEndpoint(ctx, endpoint.id, { enabled: false })).toMatchObject({ id: endpoint.id, enabled: false });
    const during = (await t.rest.post('/api/orders', orderBody('during'))).json().data.id as string;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(receiver.received).toHaveLength(1);
    const waiting = await deliveriesOf(endpoint.id);
    expect(waiting.map((delivery) => [delivery.status, delivery.attempts.length])).toStrictEqual([['pending', 1]]);

    expect((await service.updateEndpoint(ctx, endpoint.id, { enabled: true })).enabled).toBe(true);
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered', 10_000, 'the retry after enabling');
    const after = (await t.rest.post('/api/orders', orderBody('after'))).json().data.id as string;
    await eventually(async () => receiver.received.length === 3, 10_000, 'the event after enabling');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(subjects(receiver)).toStrictEqual([first, first, after]);
    expect(subjects(receiver)).not.toContain(during);
    expect(receiver.received.every((request) => request.verified)).toBe(true);
    expect((await service.listEndpoints(ctx)).find((listed) => listed.id === endpoint.id)?.enabled).toBe(true);
  });

  it('a receiver that answers 410 Gone has its endpoint disabled (Standard Webhooks): no retry, no new delivery, until it is enabled again', async () => {
    const receiver = await startReceiver([410, 200]);
    receivers.push(receiver);
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: receiver.url, events: ['order.created'] });
    receiver.secret = endpoint.secret;
    const first = (await t.rest.post('/api/orders', orderBody('gone'))).json().data.id as string;
    await eventually(async () => receiver.received.length === 1, 10_000, 'the first attempt');
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.attempts.length === 1, 10_000, 'the attempt to be recorded');
    expect((await service.listEndpoints(ctx)).find((listed) => listed.id === endpoint.id)?.enabled).toBe(false);

    // Past the retry (1.2–1.8 s), and an event meanwhile: the receiver hears nothing more.
    const during = (await t.rest.post('/api/orders', orderBody('gone-during'))).json().data.id as string;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(receiver.received).toHaveLength(1);
    const waiting = await deliveriesOf(endpoint.id);
    expect(waiting.map((delivery) => [delivery.status, delivery.attempts.map((attempt) => attempt.statusCode)])).toStrictEqual([['pending', [410]]]);

    // Enabled again (the receiver is back), the delivery that got the 410 goes out.
    await service.updateEndpoint(ctx, endpoint.id, { enabled: true });
    await eventually(async () => (await deliveriesOf(endpoint.id))[0]?.status === 'delivered', 10_000, 'the retry after enabling');
    expect(subjects(receiver)).toStrictEqual([first, first]);
    expect(subjects(receiver)).not.toContain(during);
    await service.deleteEndpoint(ctx, endpoint.id);
  });

  it('a new URL and event types apply from then on, the secret stays, and a field left out keeps its value', async () => {
    const before = await startReceiver([200]);
    const moved = await startReceiver([200]);
    receivers.push(before, moved);
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: before.url });
    before.secret = endpoint.secret;
    moved.secret = endpoint.secret;
    const updated = await service.updateEndpoint(ctx, endpoint.id, { url: moved.url, events: ['order.status_changed'] });
    const { secret: _secret, ...made } = endpoint;
    expect(updated).toStrictEqual({ ...made, url: moved.url, events: ['order.status_changed'] });
    expect(await service.updateEndpoint(ctx, endpoint.id, {})).toStrictEqual(updated);

    const id = (await t.rest.post('/api/orders', orderBody('moved'))).json().data.id as string;
    await t.rest.put(`/api/orders/${id}`, { status: 'paid' });
    await eventually(async () => moved.received.length === 1, 10_000, 'the status change at the new URL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(before.received).toStrictEqual([]);
    expect(moved.received.map((request) => [(JSON.parse(request.body) as CloudEvent).type, request.verified])).toStrictEqual([
      ['order.status_changed', true],
    ]);
    await service.deleteEndpoint(ctx, endpoint.id);
  });

  it('a type taken off the list is not sent again: its retries waiting are failed, with their attempts kept', async () => {
    const receiver = await startReceiver([500, 500, 500, 200]);
    receivers.push(receiver);
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: receiver.url });
    receiver.secret = endpoint.secret;
    const id = (await t.rest.post('/api/orders', orderBody('narrowed'))).json().data.id as string;
    await t.rest.put(`/api/orders/${id}`, { status: 'paid' });
    await eventually(
      async () => (await deliveriesOf(endpoint.id)).filter((delivery) => delivery.attempts.length === 1).length === 3,
      10_000,
      'a failed first attempt of each of the three events',
    );
    await service.updateEndpoint(ctx, endpoint.id, { events: ['order.created'] });

    await eventually(async () => receiver.received.length === 4, 10_000, 'the retry of order.created');
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const types = receiver.received.map((request) => (JSON.parse(request.body) as CloudEvent).type);
    expect(types.slice(3)).toStrictEqual(['order.created']);
    const byType = Object.fromEntries((await deliveriesOf(endpoint.id)).map((delivery) => [delivery.eventType, [delivery.status, delivery.attempts.length]]));
    expect(byType).toStrictEqual({ 'order.created': ['delivered', 2], 'order.updated': ['failed', 1], 'order.status_changed': ['failed', 1] });
    await service.deleteEndpoint(ctx, endpoint.id);
  });

  it('rotateSecret: the old secret signs beside the new one for the grace period; with 0 it stops at once', async () => {
    const receiver = await startReceiver([200]);
    receivers.push(receiver);
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: receiver.url, events: ['order.created'] });
    const rotated = await service.rotateSecret(ctx, endpoint.id);
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    const graceEnds = rotated.previousSecretExpiresAt?.getTime() ?? 0;
    expect(Math.abs(graceEnds - Date.now() - 24 * 3600_000)).toBeLessThan(60_000);
    expect((await service.listEndpoints(ctx)).find((listed) => listed.id === endpoint.id)?.previousSecretExpiresAt).toStrictEqual(rotated.previousSecretExpiresAt);

    // A receiver still on the old secret, and one already on the new, both verify the same delivery.
    receiver.secret = endpoint.secret;
    await t.rest.post('/api/orders', orderBody('rotating'));
    await eventually(async () => receiver.received.length === 1, 10_000, 'the delivery during the grace period');
    const during = receiver.received[0];
    expect(during?.verified).toBe(true);
    expect(String(during?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(() => new Webhook(rotated.secret).verify(during?.body ?? '', during?.headers as Record<string, string>)).not.toThrow();

    const again = await service.rotateSecret(ctx, endpoint.id, 0);
    expect(again.previousSecretExpiresAt).toBeUndefined();
    receiver.secret = rotated.secret;
    await t.rest.post('/api/orders', orderBody('rotated'));
    await eventually(async () => receiver.received.length === 2, 10_000, 'the delivery after the grace period');
    const after = receiver.received[1];
    expect(after?.verified).toBe(false);
    expect(String(after?.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new Webhook(again.secret).verify(after?.body ?? '', after?.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(after?.body ?? '', after?.headers as Record<string, string>)).toThrow();
    await service.deleteEndpoint(ctx, endpoint.id);
  });

  it.each([-1, 1.5, 7 * 24 * 3600 + 1])('rotateSecret refuses a grace period of %s seconds, changing nothing', async (seconds) => {
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: 'http://127.0.0.1:9/hook' });
    await expect(service.rotateSecret(ctx, endpoint.id, seconds)).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: ['previous_secret_valid_for_seconds'], message: 'must be a whole number of seconds from 0 to 604800' }],
    });
    const other = await t.context(await t.bearer('globex'));
    await expect(service.rotateSecret(other, endpoint.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await t.db.query('select secret, previous_secret from webhook_endpoints where id = ?', [endpoint.id])).toStrictEqual([
      { secret: endpoint.secret, previous_secret: null },
    ]);
    await service.deleteEndpoint(ctx, endpoint.id);
  });

  it('refuses a bad URL or event type, changing nothing, and another workspace’s endpoint is NOT_FOUND', async () => {
    const service = t.app.services.webhooks;
    const endpoint = await service.createEndpoint(ctx, { url: 'http://127.0.0.1:9/hook', events: ['order.created'] });
    await expect(service.updateEndpoint(ctx, endpoint.id, { url: 'ftp://example.com/x', events: ['order.gone'], enabled: false })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [
        { path: ['url'], message: 'must be an http or https URL' },
        { path: ['events', 0] },
      ],
    });
    await expect(service.updateEndpoint(ctx, endpoint.id, { events: [] })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: [{ path: ['events'] }] });
    const other = await t.context(await t.bearer('globex'));
    await expect(service.updateEndpoint(other, endpoint.id, { enabled: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(service.updateEndpoint(ctx, 'whep_\u0000', { enabled: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const [unchanged] = (await service.listEndpoints(ctx)).filter((listed) => listed.id === endpoint.id);
    expect(unchanged).toMatchObject({ url: 'http://127.0.0.1:9/hook', events: ['order.created'], enabled: true });
    await service.deleteEndpoint(ctx, endpoint.id);
  });
});

describe('a receiver that hangs', () => {
  // The default timeout (10 s): long enough that a delivery held up behind a hanging attempt shows.
  const t = useTestApp({ webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100 });

  /** Accepts every request and never answers; counts the requests it holds open. */
  async function startHangingReceiver() {
    const held = new Set<http.ServerResponse>();
    let mostHeld = 0;
    const server = http.createServer((request, response) => {
      request.resume();
      held.add(response);
      mostHeld = Math.max(mostHeld, held.size);
      response.on('close', () => held.delete(response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hooks`,
      held: () => held.size,
      mostHeld: () => mostHeld,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }

  it('holds up no other endpoint’s deliveries, and gets at most five attempts at once', async () => {
    const hanging = await startHangingReceiver();
    const healthy = await startReceiver([200]);
    try {
      const acme = await t.context();
      const globex = await t.context(await t.bearer('globex'));
      const stuck = await t.app.services.webhooks.createEndpoint(acme, { url: hanging.url });
      healthy.secret = (await t.app.services.webhooks.createEndpoint(globex, { url: healthy.url })).secret;
      for (let i = 0; i < 8; i++) expect((await t.rest.post('/api/orders', orderBody(`hang${i}`))).statusCode).toBe(201);
      await eventually(async () => hanging.held() === 5, 10_000, 'five attempts held by the hanging receiver');

      // Another workspace's event goes out while those five are still waiting for their answer.
      const own = await t.rest.post('/api/orders', orderBody('healthy'), { authorization: await t.bearer('globex') });
      await eventually(async () => healthy.received.length === 1, 8000, 'the healthy endpoint’s delivery');
      expect(healthy.received[0]?.verified).toBe(true);
      expect((JSON.parse(healthy.received[0]?.body ?? '{}') as CloudEvent).subject).toBe(own.json().data.id);
      const attemptsOfStuck = await t.db.count(
        'webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id',
        'd.endpoint_id = ?',
        [stuck.id],
      );
      expect(attemptsOfStuck).toBe(0);
      // The other three of its eight wait for a place: never more than five at once.
      expect(hanging.mostHeld()).toBe(5);
      expect(await t.db.count('webhook_deliveries', "endpoint_id = ? and status = 'pending'", [stuck.id])).toBe(8);
    } finally {
      await hanging.close();
      await healthy.close();
    }
  });

  it('holds up no other workspace’s deliveries when one workspace has many hanging endpoints', async () => {
    const hanging = await startHangingReceiver();
    const healthy = await startReceiver([200]);
    try {
      const hogAuth = await t.bearer('hog');
      const hog = await t.context(hogAuth);
      const victimAuth = await t.bearer('victim');
      const victim = await t.context(victimAuth);
      // Ten endpoints of one workspace, five attempts each, used to take every place of the process (50).
      for (let i = 0; i < 10; i++) await t.app.services.webhooks.createEndpoint(hog, { url: `${hanging.url}?n=${i}` });
      healthy.secret = (await t.app.services.webhooks.createEndpoint(victim, { url: healthy.url })).secret;
      for (let i = 0; i < 6; i++) expect((await t.rest.post('/api/orders', orderBody(`hog${i}`), { authorization: hogAuth })).statusCode).toBe(201);
      await eventually(async () => hanging.held() >= 20, 10_000, 'the hanging endpoints to hold their attempts');
      await new Promise((resolve) => setTimeout(resolve, 300));

      // The other workspace's event goes out while the hanging ones still wait for their answers (10 s).
      const own = await t.rest.post('/api/orders', orderBody('victim'), { authorization: victimAuth });
      await eventually(async () => healthy.received.length === 1, 3000, 'the other workspace’s delivery');
      expect((JSON.parse(healthy.received[0]?.body ?? '{}') as CloudEvent).subject).toBe(own.json().data.id);
      expect(hanging.mostHeld()).toBe(25);
    } finally {
      await hanging.close();
      await healthy.close();
    }
  });

  it('redeliverWebhook on a delivery whose attempt is still in flight starts no second attempt beside it', async () => {
    const hanging = await startHangingReceiver();
    try {
      const authorization = await t.bearer('initech');
      const ctx = await t.context(authorization);
      const endpoint = await t.app.services.webhooks.createEndpoint(ctx, { url: hanging.url });
      expect((await t.rest.post('/api/orders', orderBody('in-flight'), { authorization })).statusCode).toBe(201);
      await eventually(async () => hanging.held() === 1, 10_000, 'the first attempt, held by the hanging receiver');
      const [edge] = (await t.app.services.webhooks.listDeliveries(ctx, endpoint.id, {})).edges;
      for (let i = 0; i < 6; i++) {
        expect((await t.app.services.webhooks.redeliver(ctx, edge?.delivery.id ?? '')).status).toBe('pending');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      // One delivery, one attempt at a time: the one under way is the redelivery.
      expect(hanging.mostHeld()).toBe(1);
    } finally {
      await hanging.close();
    }
  });

  it('an endpoint deleted while an attempt is under way: the attempt ends quietly, and nothing is tried again', async () => {
    const hanging = await startHangingReceiver();
    const authorization = await t.bearer('umbrella');
    const ctx = await t.context(authorization);
    const endpoint = await t.app.services.webhooks.createEndpoint(ctx, { url: hanging.url });
    try {
      expect((await t.rest.post('/api/orders', orderBody('deleted-mid-attempt'), { authorization })).statusCode).toBe(201);
      await eventually(async () => hanging.held() === 1, 10_000, 'the attempt, held by the hanging receiver');
      await t.app.services.webhooks.deleteEndpoint(ctx, endpoint.id);
    } finally {
      // The attempt ends (the connection drops) after its endpoint and delivery are gone.
      await hanging.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Deleting an endpoint is an ordinary act, not a fault: no warning about an attempt that could
    // not be recorded (a foreign-key violation on the deleted delivery), none about the attempt
    // that failed (other endpoints' failed attempts in this file are warnings of their own), and no
    // row left behind.
    const warnings = t.logs.filter(
      (line) => line.component === 'webhooks' && (line.level as number) >= 40 && (line.endpointId === undefined || line.endpointId === endpoint.id),
    );
    expect(warnings.map((line) => line.msg)).toStrictEqual([]);
    expect(await t.db.count('webhook_deliveries', 'endpoint_id = ?', [endpoint.id])).toBe(0);
  });
});

describe('the private-network guard', () => {
  // Names this test's resolver knows: one public name that resolves privately, one that resolves publicly.
  let answers: Record<string, string> = {};
  const lookup: Lookup = (hostname, _options, callback) => {
    const address = answers[hostname];
    if (!address) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
    callback(null, [{ address, family: address.includes(':') ? 6 : 4 } satisfies dns.LookupAddress]);
  };
  let testApp: TestApp;
  let authorization = '';
  const t = clientFor(
    () => testApp,
    () => authorization,
  );
  beforeAll(async () => {
    testApp = await createTestApp(
      { webhookAllowPrivateNetworks: false, webhookRetrySchedule: [100], eventsPollIntervalMs: 100 },
      { webhookLookup: lookup },
    );
    authorization = await testApp.bearer('acme');
  });
  afterAll(() => testApp?.close());

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://10.1.2.3/hook',
    'http://192.168.0.10/hook',
    'http://172.16.5.5/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/hook',
    'http://[fe80::1]/hook',
    'http://[fd00::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0.0.0.0/hook',
    'http://100.64.0.1/hook',
  ])('refuses %s when registering', async (url) => {
    await expect(t.app.services.webhooks.createEndpoint(await t.context(), { url })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: ['url'], message: expect.stringContaining('must reach a public address') }],
    });
  });

  it('refuses a new URL that reaches a private address when an endpoint is changed, keeping the old one', async () => {
    answers = { 'hooks.example.com': '93.184.216.34', 'moved.example.com': '10.0.0.8' };
    const ctx = await t.context();
    const endpoint = await t.app.services.webhooks.createEndpoint(ctx, { url: 'https://hooks.example.com/in' });
    await expect(t.app.services.webhooks.updateEndpoint(ctx, endpoint.id, { url: 'https://moved.example.com/in' })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: ['url'], message: 'must reach a public address (moved.example.com resolves to a private, loopback, link-local or reserved address)' }],
    });
    expect((await t.app.services.webhooks.listEndpoints(ctx)).find((listed) => listed.id === endpoint.id)?.url).toBe('https://hooks.example.com/in');
    await t.app.services.webhooks.deleteEndpoint(ctx, endpoint.id);
  });

  it('refuses a public name that resolves to a private address', async () => {
    answers = { 'hooks.example.com': '10.0.0.7' };
    await expect(t.app.services.webhooks.createEndpoint(await t.context(), { url: 'https://hooks.example.com/in' })).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ path: ['url'], message: 'must reach a public address (hooks.example.com resolves to a private, loopback, link-local or reserved address)' }],
    });
  });

  it('checks again at delivery: a name that now resolves privately is refused without connecting, and the delivery fails', async () => {
    answers = { 'shop.example.com': '93.184.216.34' };
    const ctx = await t.context();
    const endpoint = await t.app.services.webhooks.createEndpoint(ctx, { url: 'http://shop.example.com/hook' });
    answers = { 'shop.example.com': '127.0.0.1' };
    await t.rest.post('/api/orders', orderBody('rebind'));
    await eventually(
      async () => (await t.app.services.webhooks.listDeliveries(ctx, endpoint.id, {})).edges[0]?.delivery.status === 'failed',
      10_000,
      'the delivery to fail',
    );
    const delivery = (await t.app.services.webhooks.listDeliveries(ctx, endpoint.id, {})).edges[0]?.delivery;
    // The tenant's attempt log names the host it gave, never the internal address it resolved to.
    expect(delivery?.attempts.map((attempt) => attempt.error)).toStrictEqual([
      expect.stringContaining('refused: shop.example.com resolves to a private, loopback, link-local or reserved address'),
      expect.stringContaining('refused: shop.example.com resolves to a private, loopback, link-local or reserved address'),
    ]);
    expect(JSON.stringify(delivery)).not.toContain('127.0.0.1');
  });

  it('tells public addresses from the rest', () => {
    expect(['93.184.216.34', '8.8.8.8', '2606:4700::1111'].map(isPrivateAddress)).toStrictEqual([false, false, false]);
    const refused = ['127.0.0.2', '10.0.0.1', '::1', '::ffff:10.0.0.1', '224.0.0.1', 'not-an-ip'];
    // IPv4-compatible IPv6 (::a.b.c.d, deprecated): a host with automatic tunnels sends it to the IPv4 address.
    refused.push('::7f00:1', '::127.0.0.1', '::a00:1', '::c0a8:101');
    expect(refused.filter((address) => !isPrivateAddress(address))).toStrictEqual([]);
  });
});
