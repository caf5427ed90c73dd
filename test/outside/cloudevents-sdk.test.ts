/**
 * An integrator's consumer, with the official CloudEvents SDK (`cloudevents`,
 * strict validation), against every outlet the README offers: the JetStream
 * stream (each stored message's body and headers), webhooks (each request as
 * a receiver gets it, read with `HTTP.toEvent` as the README's recipe does,
 * and verified with `standardwebhooks`), and GraphQL subscriptions (the order
 * each delivers, against the event's REST order). Besides the SDK, each event
 * is checked against the CloudEvents 1.0 JSON format rules by hand (attribute
 * names, URI-reference `source`, RFC 3339 `time`, `data` not `data_base64`),
 * and against the events contract: types, subjects, `sequence`, one id and
 * the very same bytes on NATS and webhooks, each order's events in order.
 *
 * Needs NATS with JetStream at 127.0.0.1:4222 (NATS_TEST_URL overrides it),
 * and skips with the reason printed when none answers (a failure under
 * REQUIRE_SERVICES=1, as in CI).
 */
import type { StoredMsg } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudEvent, HTTP, ValidationError } from 'cloudevents';
import type { Client } from 'graphql-ws';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, readStream, SHARED_NATS_URL, useTestAppOnOwnStream } from '../support/nats';
import { startEndpointReceiver, type Received, type Receiver } from '../support/webhook-receiver';
import { listeningWsClient } from '../support/graphql-ws';

const shared = inject('nats');

const TYPES = ['order.created', 'order.updated', 'order.status_changed'];
/** CloudEvents 1.0 §3.1.1: lower-case a-z and 0-9; at most 20 characters is the recommendation, taken as a rule here. */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;
/** RFC 3339 date-time (§5.6), in UTC as the contract says. */
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** RFC 3986 relative-ref with an absolute path (what `/workspaces/<id>` is), unreserved and sub-delims only. */
const ABSOLUTE_PATH_REFERENCE = /^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)+$/;

interface Json {
  [key: string]: unknown;
}

/** The CloudEvents 1.0 JSON format's rules (json-format.md §2–3) and the events contract's §1, for one event. */
function formatProblems(event: Json): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(event))
    if (name !== 'data' && !ATTRIBUTE_NAME.test(name)) problems.push(`attribute name ${name}`);
  for (const name of [
    'id',
    'source',
    'specversion',
    'type',
    'subject',
    'time',
    'datacontenttype',
    'workspaceid',
  ])
    if (typeof event[name] !== 'string' || event[name] === '')
      problems.push(`${name} is not a non-empty string`);
  if (event.specversion !== '1.0') problems.push('specversion');
  if (!/^evt_[0-9A-HJKMNP-TV-Z]{26}$/.test(String(event.id))) problems.push(`id ${String(event.id)}`);
  if (!ABSOLUTE_PATH_REFERENCE.test(String(event.source))) problems.push(`source ${String(event.source)}`);
  if (event.source !== `/workspaces/${String(event.workspaceid)}`)
    problems.push('source is not /workspaces/<workspaceid>');
  if (!TYPES.includes(String(event.type))) problems.push(`type ${String(event.type)}`);
  if (!RFC3339_UTC.test(String(event.time)) || Number.isNaN(Date.parse(String(event.time))))
    problems.push(`time ${String(event.time)}`);
  if (event.datacontenttype !== 'application/json') problems.push('datacontenttype');
  if (!Number.isInteger(event.sequence) || (event.sequence as number) < 1)
    problems.push(`sequence ${String(event.sequence)}`);
  if ('data_base64' in event) problems.push('data_base64 for JSON data');
  const data = event.data as Json | undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return [...problems, 'data is not an object'];
  const order = data.order as Json | undefined;
  if (order?.id !== event.subject) problems.push('subject is not data.order.id');
  if (event.type === 'order.created' && 'changes' in data) problems.push('changes on order.created');
  if (event.type !== 'order.created' && !Array.isArray(data.changes)) problems.push('no changes');
  if ((event.type === 'order.status_changed') !== 'previous_status' in data) problems.push('previous_status');
  return problems;
}

/** What the SDK makes of a JSON text, strictly validated. */
function sdkEvent(text: string): CloudEvent<Json> {
  const event = new CloudEvent<Json>(JSON.parse(text) as Json, true);
  expect(event.validate()).toBe(true);
  return event;
}

/** The SDK's event as plain attributes, to compare two outlets' events. */
const attributesOf = (event: CloudEvent<Json>) => JSON.parse(event.toString()) as Json;

describe.skipIf(!shared.up)(`the CloudEvents SDK on every outlet ${shared.reason}`, () => {
  const { t, stream, subjectPrefix } = useTestAppOnOwnStream({ webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100 });
  let receiver: Receiver;
  let client: Client;
  const created: Json[] = [];
  const updated: Json[] = [];
  const subscriptionErrors: unknown[] = [];
  const probes = new Set<string>();

  beforeAll(async () => {
    receiver = await startEndpointReceiver(t, [204]);
    client = await listeningWsClient(t.app.http, t.auth);
    const fields =
      'id orderNumber customerId status items { productId sku quantity price subtotal } subtotal shipping tax total currency notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt';
    for (const [query, into] of [
      [`subscription { orderCreated { ${fields} } }`, created],
      [`subscription { orderUpdated { ${fields} } }`, updated],
    ] as const)
      client.subscribe(
        { query },
        {
          next: ({ data, errors }) =>
            errors ? subscriptionErrors.push(...errors) : into.push(Object.values(data ?? {})[0] as Json),
          error: (error) => subscriptionErrors.push(error),
          complete: () => undefined,
        },
      );
    // Subscribed, and the feed's NATS subscription taken, once a create is heard. These probes' events are left out below.
    await eventually(
      async () => {
        const probe = await t.rest.post('/api/orders', {
          customer_id: 'probe',
          items: [{ product_id: 'p', quantity: 1, price: 1 }],
          total: 1,
        });
        probes.add(probe.json().data.id as string);
        await sleep(200);
        return created.length > 0;
      },
      15_000,
      'the subscription to hear a create',
    );
  });
  afterAll(async () => {
    await client?.dispose();
    await receiver?.close();
  });

  let messages: StoredMsg[] = [];
  let deliveries: Received[] = [];
  const orderIds: string[] = [];

  it('a REST create, a GraphQL create and their changes reach the stream and the webhook, one request per event', async () => {
    // Raw JSON text, so that metadata holds a number no double holds.
    const rest = await t.rest.post(
      '/api/orders',
      `{"customer_id": "cust-rest", "items": [{"product_id": "p-1", "sku": "SKU-1", "quantity": 2, "price": "4.50"}],
        "total": 9, "notes": "leave at the door \\"please\\" – ünïcode",
        "metadata": {"channel": "web", "exact": 12345678901234567890123, "nested": {"list": [1, 2.5]}}}`,
    );
    expect(rest.statusCode, rest.body).toBe(201);
    orderIds.push(rest.json().data.id as string);
    const graphql = await t.gql(
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { message } } }',
      {
        input: {
          customerId: 'cust-gql',
          items: [{ productId: 'p-2', quantity: 1, price: '10.00' }],
          total: '10.00',
        },
      },
    );
    expect(graphql.json().data.createOrder.userErrors).toStrictEqual([]);
    orderIds.push(graphql.json().data.createOrder.order.id as string);
    for (const id of orderIds) {
      expect(
        (await t.rest.put(`/api/orders/${id}`, { tracking_number: `TRK-${id.slice(-4)}` })).statusCode,
      ).toBe(200);
      expect((await t.rest.put(`/api/orders/${id}`, { status: 'paid' })).statusCode).toBe(200);
      expect((await t.rest.put(`/api/orders/${id}`, { status: 'shipped' })).statusCode).toBe(200);
    }
    // Per order: created, updated (tracking), updated + status_changed (paid), updated + status_changed (shipped).
    const expected = orderIds.length * 6;
    await eventually(
      async () => (await t.db.count('order_event_queue')) === 0,
      20_000,
      'the outbox to drain',
    );
    await eventually(async () => receiver.received.length >= expected + probes.size, 20_000, 'every webhook');
    await eventually(async () => updated.length >= orderIds.length * 3, 10_000, 'every orderUpdated');
    const notProbe = (body: string) => !probes.has((JSON.parse(body) as Json).subject as string);
    messages = (await readStream(SHARED_NATS_URL, stream)).filter((message) => notProbe(message.string()));
    deliveries = receiver.received.filter((request) => notProbe(request.body));
    expect(messages).toHaveLength(expected);
    expect(deliveries).toHaveLength(expected);
  });

  it('every JetStream message is a structured CloudEvent that the SDK validates strictly, with the contract’s subject and Nats-Msg-Id, and marked as structured', () => {
    expect(messages.length).toBeGreaterThan(0);
    for (const message of messages) {
      const body = message.string();
      const raw = JSON.parse(body) as Json;
      expect(formatProblems(raw), body).toStrictEqual([]);
      const event = sdkEvent(body);
      expect(message.subject).toBe(`${subjectPrefix}.${event.workspaceid as string}.${event.type}`);
      expect(message.header?.get('Nats-Msg-Id')).toBe(event.id);
      // The NATS binding (1.0.3): on a server with headers, a message is structured only under a CloudEvents
      // content type; without one a reader takes it for binary mode, and finds no ce-* headers.
      expect(message.header?.get('Content-Type')).toBe('application/cloudevents+json');
      expect(event.data).toStrictEqual(raw.data);
    }
  });

  it('every webhook request verifies with Standard Webhooks and reads with the SDK as the README says; the bare request is not one the SDK detects', () => {
    for (const request of deliveries) {
      expect(request.verified).toBe(true);
      expect(request.headers['content-type']).toBe('application/json');
      // The README's recipe: the body is the structured event.
      const event = HTTP.toEvent({
        headers: { 'content-type': 'application/cloudevents+json' },
        body: request.body,
      }) as CloudEvent<Json>;
      expect(event.validate()).toBe(true);
      expect(formatProblems(JSON.parse(request.body) as Json)).toStrictEqual([]);
      expect(request.headers['webhook-id']).toBe(event.id);
      expect(attributesOf(event)).toStrictEqual(attributesOf(sdkEvent(request.body)));
      const verified = new Webhook(receiver.secret ?? '').verify(
        request.body,
        request.headers as Record<string, string>,
      );
      expect(verified).toStrictEqual(JSON.parse(request.body));
      // As it arrives (`content-type: application/json`, the contract's header, and no ce-* headers),
      // the HTTP binding reads neither mode.
      expect(() => HTTP.toEvent({ headers: request.headers, body: request.body })).toThrow(ValidationError);
    }
  });

  it('one change is one event with one id and the same bytes on the stream and on the webhook', () => {
    const fromNats = new Map(
      messages.map((message) => [(JSON.parse(message.string()) as Json).id as string, message.string()]),
    );
    const fromWebhook = new Map(
      deliveries.map((request) => [request.headers['webhook-id'] as string, request.body]),
    );
    expect(fromNats.size).toBe(messages.length);
    expect(fromWebhook.size).toBe(deliveries.length);
    expect([...fromWebhook.keys()].sort()).toStrictEqual([...fromNats.keys()].sort());
    for (const [id, body] of fromNats) expect(fromWebhook.get(id), id).toBe(body);
    // Metadata's number beyond a double leaves as the number it is, on both.
    const [first] = orderIds;
    for (const body of fromNats.values())
      if ((JSON.parse(body) as Json).subject === first)
        expect(body).toContain('"exact":12345678901234567890123');
  });

  it('each order’s events: the contract’s types, subject and sequence, in order on the stream, ids sorting as published', () => {
    const events = messages.map((message) => JSON.parse(message.string()) as Json);
    for (const id of orderIds) {
      const mine = events.filter((event) => event.subject === id);
      expect(mine.map((event) => [event.type, event.sequence])).toStrictEqual([
        ['order.created', 1],
        ['order.updated', 2],
        ['order.updated', 3],
        ['order.status_changed', 3],
        ['order.updated', 4],
        ['order.status_changed', 4],
      ]);
      expect(mine.map((event) => event.id)).toStrictEqual(mine.map((event) => event.id as string).sort());
      const times = mine.map((event) => Date.parse(event.time as string));
      expect(times).toStrictEqual([...times].sort((a, b) => a - b));
      const data = mine.map((event) => event.data as Json);
      expect(data.map((entry) => entry.changes)).toStrictEqual([
        undefined,
        ['tracking_number'],
        ['status'],
        ['status'],
        ['status'],
        ['status'],
      ]);
      expect(data.map((entry) => entry.previous_status)).toStrictEqual([
        undefined,
        undefined,
        undefined,
        'pending',
        undefined,
        'paid',
      ]);
      expect(data.map((entry) => (entry.order as Json).status)).toStrictEqual([
        'pending',
        'pending',
        'paid',
        'paid',
        'shipped',
        'shipped',
      ]);
    }
  });

  it('the last event’s order is what GET /api/orders/:id answers', async () => {
    for (const id of orderIds) {
      const last = messages
        .map((message) => JSON.parse(message.string()) as Json)
        .filter((event) => event.subject === id && event.type === 'order.updated')
        .at(-1);
      const current = await t.rest.get(`/api/orders/${id}`);
      expect(JSON.stringify((last?.data as Json).order)).toBe(JSON.stringify(current.json().data));
    }
  });

  it('subscriptions deliver, per event, the order of the event’s data, with the event’s time as updatedAt', () => {
    expect(subscriptionErrors).toStrictEqual([]);
    const events = messages.map((message) => JSON.parse(message.string()) as Json);
    const asDelivered = (event: Json) => {
      const order = (event.data as Json).order as Json;
      return {
        id: order.id,
        orderNumber: order.order_number,
        customerId: order.customer_id,
        status: String(order.status).toUpperCase(),
        total: Number(order.total).toFixed(2),
        currency: order.currency,
        notes: order.notes ?? null,
        trackingNumber: order.tracking_number ?? null,
        statusHistory: (order.status_history as Json[]).map((change) => String(change.status).toUpperCase()),
        updatedAt: event.time,
      };
    };
    const shape = (order: Json) => ({
      id: order.id,
      orderNumber: order.orderNumber,
      customerId: order.customerId,
      status: order.status,
      total: order.total,
      currency: order.currency,
      notes: order.notes,
      trackingNumber: order.trackingNumber,
      statusHistory: (order.statusHistory as Json[]).map((change) => change.status),
      updatedAt: order.updatedAt,
    });
    expect(created.filter((order) => !probes.has(order.id as string)).map(shape)).toStrictEqual(
      events.filter((event) => event.type === 'order.created').map(asDelivered),
    );
    for (const id of orderIds)
      expect(updated.filter((order) => order.id === id).map(shape)).toStrictEqual(
        events.filter((event) => event.subject === id && event.type === 'order.updated').map(asDelivered),
      );
  });
});
