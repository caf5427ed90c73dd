/**
 * The transactional outbox (events contract §1–2): every committed create and
 * update writes its events in its own transaction, exactly once, with the
 * CloudEvents attributes the contract lists; a change that fails writes none.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { toCloudEvent, type StoredEvent } from '../../src/events/order-events';
import { PUBLISHED_DATA_SQL } from '../../src/events/outbox.store';
import { OrderService } from '../../src/orders/order.service';
import { useTestApp } from '../support/app';

// No relay: these tests read the outbox rows as the changes wrote them.
const t = useTestApp({ eventsRelay: false });

const body = (overrides: Record<string, unknown> = {}) => ({
  customer_id: 'c1',
  items: [
    { product_id: 'p1', name: 'Widget', quantity: 2, price: '10.00', sku: 'W-1' },
    { product_id: 'p2', quantity: 1, price: 5 },
  ],
  total: 25,
  currency: 'USD',
  notes: 'first',
  ...overrides,
});

// The events as they are published: a create's row takes its order's number from the order (PUBLISHED_DATA_SQL).
const SELECT_EVENTS = `select e.position::text as position, e.id, e.workspace_id as "workspaceId", e.order_id as "orderId", e.type,
  e.sequence, e.time, (${PUBLISHED_DATA_SQL})::json as data,
  exists (select 1 from order_event_queue q where q.position = e.position) as queued
  from order_events e join orders o on o.id = e.order_id`;

const eventsOf = (orderId: string) =>
  t.db.query<StoredEvent & { queued: boolean }>(`${SELECT_EVENTS} where e.order_id = ? order by e.position`, [orderId]);

const allEvents = () => t.db.query<StoredEvent>(`${SELECT_EVENTS} order by e.position`);

async function createViaRest(overrides: Record<string, unknown> = {}) {
  const res = await t.rest.post('/api/orders', body(overrides));
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data as { id: string; order_number: string };
}

async function restOrder(id: string) {
  const res = await t.rest.get(`/api/orders/${id}`);
  expect(res.statusCode).toBe(200);
  return res.json().data as Record<string, unknown>;
}

const ADDRESS = { name: 'John Doe', address: '123 Main St', city: 'Jakarta', state: 'DKI', postal_code: '12345', country: 'ID' };

let workspaceId: string;
beforeAll(async () => {
  workspaceId = (await t.context()).workspaceId;
});

describe('a create', () => {
  it('writes one order.created event: a CloudEvent whose data is the order as GET returns it', async () => {
    const created = await createViaRest();
    const events = await eventsOf(created.id);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event?.queued).toBe(true);
    const cloudEvent = toCloudEvent(event);
    const order = await restOrder(created.id);
    expect(cloudEvent).toStrictEqual({
      specversion: '1.0',
      id: expect.stringMatching(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/),
      source: `/workspaces/${workspaceId}`,
      type: 'order.created',
      subject: created.id,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      datacontenttype: 'application/json',
      workspaceid: workspaceId,
      sequence: 1,
      data: { order },
    });
    // The order number comes from the same statement's counter.
    expect((cloudEvent.data as { order: { order_number: string } }).order.order_number).toBe(created.order_number);
    // `time` is when the create committed: the order's updated_at, to the millisecond.
    expect(`${new Date(cloudEvent.time).toISOString().slice(0, 19)}Z`).toBe(order.updated_at);
    expect(new Date(cloudEvent.time).getTime()).toBeGreaterThanOrEqual(Date.parse(String(order.created_at)));
  });

  it('through GraphQL writes one as well', async () => {
    const res = await t.gql(
      'mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { code } } }',
      { input: { customerId: 'g', items: [{ productId: 'p', quantity: 1, price: '3.50' }], total: '3.50' } },
    );
    const id = res.json().data.createOrder.order.id as string;
    const events = await eventsOf(id);
    expect(events.map((event) => [event.type, event.sequence])).toStrictEqual([['order.created', 1]]);
    expect((events[0]?.data as { order: unknown }).order).toStrictEqual(await restOrder(id));
  });

  it('replayed under its idempotency key writes no second event', async () => {
    const headers = { 'idempotency-key': 'outbox-replay' };
    const first = await t.rest.post('/api/orders', body({ customer_id: 'replay' }), { headers });
    const again = await t.rest.post('/api/orders', body({ customer_id: 'replay' }), { headers });
    expect([first.statusCode, again.statusCode]).toStrictEqual([201, 201]);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await eventsOf(first.json().data.id)).toHaveLength(1);
  });

  it.each([
    ['a validation error', body({ customer_id: '' }), 422],
    ['a total mismatch', body({ total: 26 }), 422],
    ['an unknown currency', body({ currency: 'XXX' }), 422],
  ])('rejected by %s writes nothing', async (_name, request, status) => {
    const before = await allEvents();
    const res = await t.rest.post('/api/orders', request);
    expect(res.statusCode, res.body).toBe(status);
    expect(await allEvents()).toStrictEqual(before);
  });

  it('a reused idempotency key (422) writes nothing', async () => {
    const headers = { 'idempotency-key': 'outbox-reused' };
    expect((await t.rest.post('/api/orders', body({ customer_id: 'k1' }), { headers })).statusCode).toBe(201);
    const before = await allEvents();
    const res = await t.rest.post('/api/orders', body({ customer_id: 'k2' }), { headers });
    expect(res.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await allEvents()).toStrictEqual(before);
  });
});

describe('an update', () => {
  it('writes one order.updated event with the next sequence and the changed fields', async () => {
    const created = await createViaRest();
    const res = await t.rest.put(`/api/orders/${created.id}`, { tracking_number: 'TRK-1', notes: 'first', metadata: { a: 1 } });
    expect(res.statusCode, res.body).toBe(200);
    const events = await eventsOf(created.id);
    expect(events.map((event) => [event.type, event.sequence])).toStrictEqual([
      ['order.created', 1],
      ['order.updated', 2],
    ]);
    // `notes` was set to what it already was: not a change.
    expect(events[1]?.data).toStrictEqual({ order: await restOrder(created.id), changes: ['tracking_number', 'metadata'] });
    expect(toCloudEvent(events[1] as StoredEvent)).toMatchObject({ subject: created.id, type: 'order.updated', sequence: 2 });
  });

  it('that moves the status writes order.updated, then order.status_changed with the previous status, both at one sequence', async () => {
    const created = await createViaRest();
    await t.rest.put(`/api/orders/${created.id}`, { notes: 'second' });
    const res = await t.gql(
      'mutation($id: ID!, $input: UpdateOrderInput!) { updateOrder(id: $id, input: $input) { userErrors { code } } }',
      { id: created.id, input: { status: 'PAID', trackingNumber: 'T' } },
    );
    expect(res.json().data.updateOrder.userErrors).toStrictEqual([]);
    const events = await eventsOf(created.id);
    const order = await restOrder(created.id);
    expect(events.map((event) => [event.type, event.sequence, event.data])).toStrictEqual([
      ['order.created', 1, expect.anything()],
      ['order.updated', 2, expect.anything()],
      ['order.updated', 3, { order, changes: ['status', 'tracking_number'] }],
      ['order.status_changed', 3, { order, changes: ['status', 'tracking_number'], previous_status: 'pending' }],
    ]);
    expect(new Set(events.map((event) => event.id)).size).toBe(4);
  });

  it('that moves the status gives order.status_changed an id that sorts after its order.updated', async () => {
    // Ids are time-sortable, and the two events of one move share a millisecond: a consumer that
    // orders what it stored by id must still find the order.updated first, as it was published.
    for (let i = 0; i < 12; i++) {
      const created = await createViaRest();
      expect((await t.rest.put(`/api/orders/${created.id}`, { status: 'paid' })).statusCode).toBe(200);
      const events = await eventsOf(created.id);
      const ids = events.map((event) => event.id);
      expect(events.map((event) => event.type)).toStrictEqual(['order.created', 'order.updated', 'order.status_changed']);
      expect([...ids].sort()).toStrictEqual(ids);
    }
  });

  it.each([
    ['an empty update', {}],
    ['setting what is already set', { status: 'pending', notes: 'first' }],
    ['a null status', { status: null }],
  ])('%s writes nothing and keeps the version', async (_name, request) => {
    const created = await createViaRest();
    const res = await t.rest.put(`/api/orders/${created.id}`, request);
    expect(res.statusCode, res.body).toBe(200);
    expect(await eventsOf(created.id)).toHaveLength(1);
    expect(await t.db.query('select version from orders where id = ?', [created.id])).toStrictEqual([{ version: 1 }]);
  });

  // jsonb gives objects back with their keys in its own order, and exact numbers in its own spelling.
  it.each([
    ['the same shipping address again', { shipping_address: ADDRESS }, { shipping_address: ADDRESS }],
    ['metadata whose nested keys come in another order', { metadata: { x: { p: 1, q: 2 } } }, { metadata: { x: { q: 2, p: 1 } } }],
    [
      'metadata with the same exact numbers spelled another way',
      '{"metadata":{"n":12345678901234567890,"e":1e21}}',
      '{"metadata":{"e":1000000000000000000000,"n":12345678901234567890.0}}',
    ],
  ])('%s is no change: no event, and the version and updated_at stay', async (_name, first, again) => {
    const order = await createViaRest();
    const changed = await t.rest.put(`/api/orders/${order.id}`, first);
    expect(changed.statusCode, changed.body).toBe(200);
    const before = await t.db.query('select version, updated_at from orders where id = ?', [order.id]);
    const repeated = await t.rest.put(`/api/orders/${order.id}`, again);
    expect(repeated.statusCode, repeated.body).toBe(200);
    expect(repeated.body).toBe(changed.body);
    expect(await t.db.query('select version, updated_at from orders where id = ?', [order.id])).toStrictEqual(before);
    expect((await eventsOf(order.id)).map((event) => [event.type, event.sequence])).toStrictEqual([
      ['order.created', 1],
      ['order.updated', 2],
    ]);
  });

  it('a metadata value that turns from an exact number into the same digits as a string is a change', async () => {
    const order = await createViaRest();
    await t.rest.put(`/api/orders/${order.id}`, '{"metadata":{"n":12345678901234567890}}');
    const res = await t.rest.put(`/api/orders/${order.id}`, { metadata: { n: '12345678901234567890' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data.metadata).toStrictEqual({ n: '12345678901234567890' });
    const events = await eventsOf(order.id);
    expect(events.map((event) => [event.sequence, (event.data as { changes?: string[] }).changes])).toStrictEqual([
      [1, undefined],
      [2, ['metadata']],
      [3, ['metadata']],
    ]);
  });

  it('with a null status keeps the status and lists only what else changed', async () => {
    const created = await createViaRest();
    const res = await t.rest.put(`/api/orders/${created.id}`, { status: null, notes: 'second' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ status: 'pending', notes: 'second' });
    const events = await eventsOf(created.id);
    expect(events.map((event) => [event.type, event.sequence, event.data])).toStrictEqual([
      ['order.created', 1, expect.anything()],
      ['order.updated', 2, { order: await restOrder(created.id), changes: ['notes'] }],
    ]);
  });

  it.each([
    ['a validation error', { tracking_url: 'ftp://x' }, 422],
    ['an invalid status move', { status: 'delivered' }, 409],
  ])('rejected by %s writes nothing', async (_name, request, status) => {
    const created = await createViaRest();
    const res = await t.rest.put(`/api/orders/${created.id}`, request);
    expect(res.statusCode, res.body).toBe(status);
    expect(await eventsOf(created.id)).toHaveLength(1);
  });

  it('of another workspace’s order (404) writes nothing', async () => {
    const created = await createViaRest();
    const res = await t.rest.put(`/api/orders/${created.id}`, { notes: 'x' }, { authorization: await t.bearer('globex') });
    expect(res.statusCode).toBe(404);
    expect(await eventsOf(created.id)).toHaveLength(1);
  });

  it('running concurrently on one order gives each change its own sequence, in commit order', async () => {
    const created = await createViaRest();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.rest.put(`/api/orders/${created.id}`, { metadata: { [`k${i}`]: i } })),
    );
    expect(results.map((res) => res.statusCode)).toStrictEqual(Array(8).fill(200));
    const events = await eventsOf(created.id);
    expect(events.map((event) => event.sequence)).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Each event's order carries the metadata of every change before it.
    events.slice(1).forEach((event, index) => {
      expect(Object.keys((event.data as { order: { metadata: object } }).order.metadata)).toHaveLength(index + 1);
    });
    expect(await t.db.query('select version from orders where id = ?', [created.id])).toStrictEqual([{ version: 9 }]);
  });
});

describe('an order whose event would not fit one NATS message', () => {
  // 500 items whose names are control characters, which JSON writes as \u0001 (six bytes each): a body
  // under the 1 MiB limit, whose event (the REST order: every item with its subtotal) is a little larger.
  const EVENT_LIMIT = 1024 * 1024 - 8 * 1024;
  const items = (nameLength: number) =>
    Array.from({ length: 500 }, (_, i) => ({ product_id: `p${i}`, name: '\u0001'.repeat(nameLength), quantity: 1, price: '1.00' }));
  const bigBody = (customer: string, nameLength: number) => body({ customer_id: customer, items: items(nameLength), total: '500.00' });
  /** The event's data as JSON, in bytes (PostgreSQL's json keeps the text as written). */
  const dataBytes = async (orderId: string) =>
    (await t.db.query<{ bytes: number }>('select octet_length(data::text) as bytes from order_events where order_id = ? order by position desc limit 1', [orderId]))[0]?.bytes;

  it('is refused on create with 413 PAYLOAD_TOO_LARGE, REST and GraphQL alike, and nothing is written', async () => {
    const request = bigBody('event-too-large', 338);
    expect(JSON.stringify(request).length).toBeLessThan(1024 * 1024); // under the body limit
    const before = await allEvents();
    const key = { 'idempotency-key': 'event-too-large-1' };
    const res = await t.rest.post('/api/orders', request, { headers: key });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(413);
    expect(res.json()).toMatchObject({
      success: false,
      error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/^The order is too large to send as an event: \d+ bytes, at most 1040384/) },
    });
    const graphql = await t.gql('mutation($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { code } } }', {
      input: {
        customerId: 'event-too-large',
        items: request.items.map((item) => ({ productId: item.product_id, name: item.name, quantity: 1, price: '1.00' })),
        total: '500.00',
      },
    });
    expect(graphql.json()).toMatchObject({ errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
    expect(await t.db.count('orders', `customer_id = 'event-too-large'`)).toBe(0);
    expect(await allEvents()).toStrictEqual(before);
    // The key is free again (the refusal comes before the create's statement, which takes the number).
    const smaller = await t.rest.post('/api/orders', bigBody('event-too-large', 300), { headers: key });
    expect(smaller.statusCode).toBe(201);
    expect(await dataBytes(smaller.json().data.id)).toBeLessThanOrEqual(EVENT_LIMIT);
  });

  it('is refused on an update that would make it so, and the order stays as it was', async () => {
    const created = await createViaRest({ customer_id: 'event-grows', items: items(330), total: '500.00' });
    const bytes = await dataBytes(created.id);
    expect(bytes).toBeLessThanOrEqual(EVENT_LIMIT);
    expect(bytes).toBeGreaterThan(EVENT_LIMIT - 30_000);
    const before = await restOrder(created.id);
    const res = await t.rest.put(`/api/orders/${created.id}`, { notes: '\u0001'.repeat(5000), status: 'paid' });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await restOrder(created.id)).toStrictEqual(before);
    expect(await eventsOf(created.id)).toHaveLength(1);
  });
});

describe('a database error', () => {
  // A trigger that refuses the outbox row of one marked change: the change and its event commit together or not at all.
  beforeAll(async () => {
    await t.db.query(`create function refuse_marked_event() returns trigger language plpgsql as $$
      begin
        if new.data->'order'->>'notes' = 'refuse-event' then raise exception 'refused by test trigger'; end if;
        return new;
      end $$`);
    await t.db.query('create trigger refuse_marked_event before insert on order_events for each row execute function refuse_marked_event()');
  });

  it('in a create stores neither the order nor its event', async () => {
    const before = await allEvents();
    const res = await t.rest.post('/api/orders', body({ customer_id: 'db-error', notes: 'refuse-event' }));
    expect(res.statusCode).toBe(500);
    expect(await t.db.count('orders', `customer_id = 'db-error'`)).toBe(0);
    expect(await allEvents()).toStrictEqual(before);
  });

  it('in an update keeps the order as it was and writes no event', async () => {
    const created = await createViaRest();
    const before = await restOrder(created.id);
    const res = await t.rest.put(`/api/orders/${created.id}`, { notes: 'refuse-event', status: 'paid' });
    expect(res.statusCode).toBe(500);
    expect(await restOrder(created.id)).toStrictEqual(before);
    expect(await eventsOf(created.id)).toHaveLength(1);
    expect(await t.db.query('select version from orders where id = ?', [created.id])).toStrictEqual([{ version: 1 }]);
  });
});

it('a service without an event builder (EVENTS_OUTBOX=false) writes no events', async () => {
  const ctx = await t.context();
  const quiet = new OrderService(t.app.db.em);
  const { order } = await quiet.createOrderExactlyOnce(ctx, body({ customer_id: 'quiet' }));
  await quiet.updateOrder(ctx, order.id, { status: 'paid' });
  expect(await eventsOf(order.id)).toStrictEqual([]);
  expect(await t.db.query('select version from orders where id = ?', [order.id])).toStrictEqual([{ version: 2 }]);
});
