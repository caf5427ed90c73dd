/**
 * A platform team that builds every consumer from AsyncAPI: the gateway's
 * document (`asyncapi.yaml`, AsyncAPI 3.0) parsed and validated with
 * `@asyncapi/parser`, its message schemas (as the parser resolves them)
 * compiled with Ajv in strict mode, and every message the gateway really
 * emits, on JetStream (body and headers) and on webhooks (body and
 * headers), validated against them: the create (REST and GraphQL), each kind
 * of update, each status move. A last part fails when the code and the
 * document drift apart: an event type, an order field, an address field, a
 * status or a change the code knows and the document does not, or the
 * other way round.
 *
 * The emitted messages need NATS with JetStream at 127.0.0.1:4222
 * (NATS_TEST_URL overrides it); without one that part skips with the reason
 * printed (a failure under REQUIRE_SERVICES=1, as in CI). The document's
 * own checks need nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Parser, type AsyncAPIDocumentInterface, type ChannelInterface } from '@asyncapi/parser';
import type { StoredMsg } from '@nats-io/jetstream';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toCloudEvent } from '../../src/events/order-events';
import { ADDRESS_FIELDS } from '../../src/orders/create-order.schema';
import { ORDER_EVENT_TYPES } from '../../src/orders/order-events';
import { ORDER_STATUSES } from '../../src/orders/order.types';
import { REST_FIELD_NAMES } from '../../src/orders/update-order.validation';
import { OrderSchema } from '../../src/rest/schemas';
import { CREATE_ORDER, UPDATE_ORDER } from '../support/graphql';
import { appOnSameDatabase } from '../support/more-apps';
import { eventually, readStream, SHARED_NATS_URL, useTestAppOnOwnStream } from '../support/nats';
import { startEndpointReceiver, type Received, type Receiver } from '../support/webhook-receiver';

const DOCUMENT_PATH = path.resolve(__dirname, '../../asyncapi.yaml');

type Json = Record<string, unknown>;
type Outlet = 'jetstream' | 'webhook';

/** The parser's resolved schema without the `x-parser-*` keys it adds (Ajv strict refuses unknown keywords, as it should). */
function plainSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(plainSchema);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key]) => !key.startsWith('x-parser-'))
      .map(([key, value]) => [key, plainSchema(value)]),
  );
}

/** Where a channel's messages go, from the server it is bound to. */
function outletOf(channel: ChannelInterface): Outlet {
  const protocols = new Set(
    channel
      .servers()
      .all()
      .map((server) => server.protocol()),
  );
  expect(protocols.size, `the servers of the channel ${channel.id()}`).toBe(1);
  return protocols.has('nats') ? 'jetstream' : 'webhook';
}

interface Validators {
  payload: ValidateFunction;
  headers: ValidateFunction;
  contentType: string | undefined;
}

/** One Ajv in strict mode, as the platform's consumers use it: every format known, nothing unknown let through. */
function strictAjv(): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

let parsed:
  | Promise<{
      document: AsyncAPIDocumentInterface;
      diagnostics: { severity: number; code: string | number; message: string; path: (string | number)[] }[];
    }>
  | undefined;
/** The document, parsed once for the file. */
function parseDocument() {
  parsed ??= new Parser()
    .parse(fs.readFileSync(DOCUMENT_PATH, 'utf8'), { source: DOCUMENT_PATH })
    .then(({ document, diagnostics }) => {
      if (!document) throw new Error(`asyncapi.yaml does not parse: ${JSON.stringify(diagnostics, null, 2)}`);
      return { document, diagnostics };
    });
  return parsed;
}

/** `validators.get('jetstream').get('order.created')`: the compiled payload and header schemas of each message. */
async function compileValidators(): Promise<Map<Outlet, Map<string, Validators>>> {
  const { document } = await parseDocument();
  const ajv = strictAjv();
  const byOutlet = new Map<Outlet, Map<string, Validators>>([
    ['jetstream', new Map()],
    ['webhook', new Map()],
  ]);
  for (const channel of document.channels().all())
    for (const message of channel.messages().all()) {
      const name = message.name();
      if (!name) throw new Error(`message ${message.id()} has no name (the event type)`);
      const outlet = byOutlet.get(outletOf(channel));
      if (!outlet) throw new Error('unknown outlet');
      expect(outlet.has(name), `two ${name} messages on one outlet`).toBe(false);
      const headers = message.headers()?.json();
      if (!message.payload() || !headers)
        throw new Error(`message ${message.id()} has no payload or no headers`);
      outlet.set(name, {
        payload: ajv.compile(plainSchema(message.payload()?.json()) as object),
        headers: ajv.compile(plainSchema(headers) as object),
        contentType: message.contentType(),
      });
    }
  return byOutlet;
}

function problems(validate: ValidateFunction, value: unknown): string[] {
  return validate(value)
    ? []
    : (validate.errors ?? []).map(
        (error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`,
      );
}

describe('the AsyncAPI document', () => {
  it('parses and validates with @asyncapi/parser: no errors, no warnings', async () => {
    const { document, diagnostics } = await parseDocument();
    expect(document.version()).toBe('3.0.0');
    // Spectral's severities: 0 error, 1 warning, 2 information, 3 hint. The one information left is
    // `asyncapi-latest-version` ("3.1.0 is the latest"): the document is 3.0, which the platform's
    // generators read; it uses nothing 3.1 added.
    const serious = diagnostics.filter((diagnostic) => diagnostic.severity <= 1);
    expect(serious.map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`)).toStrictEqual([]);
    expect(diagnostics.filter((d) => d.severity > 1).map((d) => d.code)).toStrictEqual([
      'asyncapi-latest-version',
    ]);
  });

  it('every message schema compiles with Ajv in strict mode, on both outlets, with the contract’s content types', async () => {
    const validators = await compileValidators();
    for (const outlet of ['jetstream', 'webhook'] as const)
      expect([...(validators.get(outlet)?.keys() ?? [])].sort()).toStrictEqual([...ORDER_EVENT_TYPES].sort());
    // Structured mode on NATS (the CloudEvents NATS binding); the contract's `content-type` on webhooks.
    for (const type of ORDER_EVENT_TYPES) {
      expect(validators.get('jetstream')?.get(type)?.contentType).toBe('application/cloudevents+json');
      expect(validators.get('webhook')?.get(type)?.contentType).toBe('application/json');
    }
  });

  it('the JetStream channels are the contract’s subjects, one per event type, each published by the gateway', async () => {
    const { document } = await parseDocument();
    const subjects = document
      .channels()
      .all()
      .filter((channel) =>
        channel
          .servers()
          .all()
          .some((server) => server.protocol() === 'nats'),
      )
      .map((channel) => channel.address())
      .sort();
    expect(subjects).toStrictEqual(ORDER_EVENT_TYPES.map((type) => `orders.{workspaceId}.${type}`).sort());
    for (const channel of document.channels().all())
      expect(
        channel
          .operations()
          .all()
          .map((operation) => operation.action()),
      ).toStrictEqual(['send']);
  });

  describe('drift between the code and the document', () => {
    const schemas = () =>
      parseDocument().then(({ document }) => {
        const byName = new Map<string, Json>();
        for (const schema of document.components().schemas().all())
          byName.set(schema.id(), schema.json<Json>());
        return byName;
      });
    const properties = (schema: Json | undefined) => Object.keys(schema?.properties ?? {}).sort();

    it('the order in an event has exactly the REST order’s fields, with the same required ones', async () => {
      const order = (await schemas()).get('Order');
      expect(properties(order)).toStrictEqual(Object.keys(OrderSchema.properties).sort());
      expect([...((order?.required ?? []) as string[])].sort()).toStrictEqual(
        [...(OrderSchema.required ?? [])].sort(),
      );
      const item = (await schemas()).get('OrderItem');
      const restItem = (
        OrderSchema.properties.items as unknown as { items: { properties: Json; required: string[] } }
      ).items;
      expect(properties(item)).toStrictEqual(Object.keys(restItem.properties).sort());
      expect([...((item?.required ?? []) as string[])].sort()).toStrictEqual([...restItem.required].sort());
      expect(properties((await schemas()).get('Address'))).toStrictEqual([...ADDRESS_FIELDS].sort());
    });

    it('the statuses, and the fields an update can change, are the service’s', async () => {
      expect(((await schemas()).get('OrderStatus')?.enum as string[]).sort()).toStrictEqual(
        [...ORDER_STATUSES].sort(),
      );
      const changes = (await schemas()).get('Changes') as { items: { enum: string[] } };
      expect([...changes.items.enum].sort()).toStrictEqual(
        ['status', ...Object.values(REST_FIELD_NAMES)].sort(),
      );
    });

    it('the envelope has exactly the attributes the gateway writes, for every event type (the trace attributes only for a traced change)', async () => {
      const stored = {
        position: '1',
        id: 'evt_01JQ7Z8X9Y0ABCDEF123456789',
        workspaceId: 'ws_01JQ7Z8X9Y0ABCDEF123456789',
        orderId: 'order_01JQ7Z8X9Y0ABCDEF123456789',
        type: 'order.created',
        sequence: 1,
        time: new Date(),
        data: {},
      } as const;
      const always = Object.keys(toCloudEvent(stored)).sort();
      const traced = Object.keys(
        toCloudEvent({ ...stored, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=1' }),
      ).sort();
      expect(traced).toStrictEqual([...always, 'traceparent', 'tracestate'].sort());
      const byName = await schemas();
      for (const name of ['OrderCreatedEvent', 'OrderUpdatedEvent', 'OrderStatusChangedEvent']) {
        expect(properties(byName.get(name)), name).toStrictEqual(traced);
        expect([...((byName.get(name)?.required ?? []) as string[])].sort(), name).toStrictEqual(always);
      }
    });

    it('a message with a field the document does not name is refused, in the envelope, the data and the order', async () => {
      const validators = await compileValidators();
      const validate = validators.get('webhook')?.get('order.created')?.payload;
      if (!validate) throw new Error('no order.created schema');
      const order = {
        id: 'order_01JQ7Z8X9Y0ABCDEF123456789',
        order_number: 'ORD-2026-1207-001',
        customer_id: 'c',
        status: 'pending',
        items: [{ product_id: 'p', quantity: 1, price: 1, subtotal: 1 }],
        subtotal: 1,
        shipping: 0,
        tax: 0,
        total: 1,
        currency: 'USD',
        status_history: [{ status: 'pending', timestamp: '2026-12-07T00:00:00Z' }],
        created_at: '2026-12-07T00:00:00Z',
        updated_at: '2026-12-07T00:00:00Z',
      };
      const event = {
        ...toCloudEvent({
          position: '1',
          id: 'evt_01JQ7Z8X9Y0ABCDEF123456789',
          workspaceId: 'ws_01JQ7Z8X9Y0ABCDEF123456789',
          orderId: order.id,
          type: 'order.created',
          sequence: 1,
          time: new Date('2026-12-07T00:00:00Z'),
          data: { order },
        }),
      };
      expect(problems(validate, event)).toStrictEqual([]);
      expect(problems(validate, { ...event, traceparent: 'x' })).not.toStrictEqual([]);
      expect(problems(validate, { ...event, data: { order, changes: ['notes'] } })).not.toStrictEqual([]);
      expect(problems(validate, { ...event, data: { order: { ...order, discount: 0 } } })).not.toStrictEqual(
        [],
      );
    });
  });
});

const shared = inject('nats');

describe.skipIf(!shared.up)(
  `every message the gateway emits matches the AsyncAPI document ${shared.reason}`,
  () => {
    const { t, stream, subjectPrefix } = useTestAppOnOwnStream({ webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100 });
    let receiver: Receiver;
    let validators: Map<Outlet, Map<string, Validators>>;
    let messages: StoredMsg[] = [];
    let deliveries: Received[] = [];
    /** Every event expected: the create, then one per update, and a second one for each status move. */
    let expected = 0;

    beforeAll(async () => {
      validators = await compileValidators();
      receiver = await startEndpointReceiver(t, [204]);
    });
    afterAll(async () => {
      await receiver?.close();
    });

    /** One request per event: a loaded machine may make the gateway try a delivery again (the same `webhook-id`). */
    const firstAttempts = () => [
      ...new Map(
        receiver.received.map((request) => [String(request.headers['webhook-id']), request]),
      ).values(),
    ];

    async function update(id: string, body: Json): Promise<void> {
      const answer = await t.rest.put(`/api/orders/${id}`, body);
      expect(answer.statusCode, answer.body).toBe(200);
      expected += 'status' in body ? 2 : 1;
    }

    it('creates (REST with every field, GraphQL with the fewest, another currency), every kind of update and every status move', async () => {
      const full = await t.rest.post(
        '/api/orders',
        `{"customer_id": "contact_abc123",
        "items": [{"product_id": "prod_001", "name": "Premium Widget", "quantity": 2, "price": 99.00, "sku": "WGT-PRE"},
                  {"product_id": "prod_002", "quantity": 1, "price": "29.00"}],
        "shipping": 5, "tax": "1.50", "total": 233.50, "currency": "usd",
        "shipping_address": {"name": "John Doe", "company": "ACME", "address": "123 Main St", "address2": "Floor 2", "city": "Jakarta",
                             "state": "DKI", "postal_code": "12345", "country": "ID", "phone": "+62 21 555", "email": "j@example.com"},
        "billing_address": {"name": "John Doe", "country": "ID"},
        "notes": "Please gift wrap this order",
        "metadata": {"channel": "web", "exact": 12345678901234567890123, "nested": {"list": [1, 2.5, null, true]}}}`,
        // A traced caller: its create's event carries the trace attributes the document describes.
        { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=opaque' } },
      );
      expect(full.statusCode, full.body).toBe(201);
      expected += 1;
      const a = full.json().data.id as string;
      await update(a, { tracking_number: 'TRK-1' });
      await update(a, { tracking_url: 'https://track.example.com/TRK-1?x=1' });
      await update(a, { notes: 'Ring twice' });
      await update(a, { metadata: { channel: null, gift: true } });
      await update(a, { shipping_address: { city: 'Bandung', country: 'ID' } });
      await update(a, { tracking_url: null, tracking_number: 'TRK-2' });
      await update(a, { status: 'paid', notes: 'paid by card' });
      await update(a, { status: 'processing' });
      await update(a, { status: 'shipped' });
      await update(a, { status: 'delivered' });
      await update(a, { status: 'refunded' });

      const minimal = await t.gql(
        CREATE_ORDER,
        {
          input: {
            customerId: 'cust-gql',
            items: [{ productId: 'p-2', quantity: 1, price: '0' }],
            total: '0',
          },
        },
      );
      expect(minimal.json().data.createOrder.userErrors).toStrictEqual([]);
      expected += 1;
      const b = minimal.json().data.createOrder.order.id as string;
      await update(b, { status: 'cancelled' });

      const yen = await t.rest.post('/api/orders', {
        customer_id: 'cust-jp',
        items: [{ product_id: 'p-3', quantity: 3, price: 1000 }],
        total: 3000,
        currency: 'JPY',
      });
      expect(yen.statusCode, yen.body).toBe(201);
      expected += 1;
      const c = yen.json().data.id as string;
      const gql = await t.gql(
        UPDATE_ORDER,
        { id: c, input: { status: 'PAID' } },
      );
      expect(gql.json().data.updateOrder.userErrors).toStrictEqual([]);
      expected += 2;
      await update(c, { status: 'shipped' });
      await update(c, { status: 'refunded' });

      // A process without a relay (EVENTS_RELAY=false) writes its events to the outbox only; this app's relay
      // claims them from the database, and the create's number and updated_at are written into its stored text.
      const quiet = await appOnSameDatabase(t.app.db, { eventsRelay: false });
      try {
        const send = (method: 'POST' | 'PUT', url: string, body: object) =>
          quiet.app.http.inject({
            method,
            url,
            headers: { authorization: t.auth, 'content-type': 'application/json' },
            payload: body,
          });
        const claimed = await send('POST', '/api/orders', {
          customer_id: 'cust-claimed',
          items: [{ product_id: 'p-4', name: 'Kettle "deluxe"', quantity: 2, price: '2.470', sku: 'K-1' }],
          total: '4.940',
          currency: 'KWD',
          billing_address: { name: 'Ahmad', country: 'KW' },
          notes: '}}"updated_at":null}}',
        });
        expect(claimed.statusCode, claimed.body).toBe(201);
        expected += 1;
        const moved = await send('PUT', `/api/orders/${claimed.json().data.id as string}`, {
          status: 'processing',
          tracking_number: 'KW-1',
        });
        expect(moved.statusCode, moved.body).toBe(200);
        expected += 2;
      } finally {
        await quiet.close();
      }
    });

    it('a tracking URL that is no URI (RFC 3986), which the document’s `format: uri` refuses, is refused by the update on both transports, and makes no event', async () => {
      const created = await t.rest.post('/api/orders', {
        customer_id: 'cust-url',
        items: [{ product_id: 'p', quantity: 1, price: 1 }],
        total: 1,
      });
      expect(created.statusCode, created.body).toBe(201);
      expected += 1;
      const id = created.json().data.id as string;
      // Each is taken by a browser's URL parser, which quietly percent-encodes or rewrites it; no URI reader takes it as written.
      for (const url of [
        'https://track.example.com/päckchen/1',
        'https://bücher.example/track/1',
        'https://track.example.com/?q={1}',
        'https://track.example.com/a|b',
        'https://track.example.com/a^b',
        'https://track.example.com/<1>',
        'https://track.example.com/"1"',
        'https://track.example.com/a`b',
        'https://track.example.com/%zz',
        'https://track.example.com/1#a#b',
      ]) {
        const rest = await t.rest.put(`/api/orders/${id}`, { tracking_url: url });
        expect(rest.statusCode, url).toBe(422);
        expect(rest.json().error.details, url).toStrictEqual([
          { field: 'tracking_url', message: expect.stringContaining('RFC 3986') },
        ]);
        const gql = await t.gql(
          'mutation($id: ID!, $input: UpdateOrderInput!) { updateOrder(id: $id, input: $input) { order { id } userErrors { field code } } }',
          { id, input: { trackingUrl: url } },
        );
        expect(gql.json().data.updateOrder, url).toStrictEqual({
          order: null,
          userErrors: [{ field: ['input', 'trackingUrl'], code: 'VALIDATION_ERROR' }],
        });
      }
      // The same, written as a URI, is taken.
      await update(id, { tracking_url: 'https://xn--bcher-kva.example/track/p%C3%A4ckchen?q=%7B1%7D#top' });
      expect((await t.rest.get(`/api/orders/${id}`)).json().data.tracking_url).toBe(
        'https://xn--bcher-kva.example/track/p%C3%A4ckchen?q=%7B1%7D#top',
      );
    });

    it('every event reached the stream and the webhook', async () => {
      await eventually(
        async () => (await t.db.count('order_event_queue')) === 0,
        30_000,
        'the outbox to drain',
      );
      await eventually(async () => firstAttempts().length >= expected, 30_000, `${expected} webhooks`);
      await eventually(
        async () => (await readStream(SHARED_NATS_URL, stream)).length >= expected,
        30_000,
        `${expected} messages`,
      );
      messages = await readStream(SHARED_NATS_URL, stream);
      deliveries = firstAttempts();
      expect(messages).toHaveLength(expected);
      expect(deliveries).toHaveLength(expected);
    });

    it('every JetStream message: its body and headers match its type’s message on the JetStream channel, and its subject the channel’s address', () => {
      expect(messages.length).toBeGreaterThan(0);
      for (const message of messages) {
        const body = JSON.parse(message.string()) as Json;
        const schema = validators.get('jetstream')?.get(String(body.type));
        if (!schema)
          throw new Error(`no message in the document for the type ${String(body.type)} on JetStream`);
        expect(problems(schema.payload, body), message.string()).toStrictEqual([]);
        const headers = Object.fromEntries(
          (message.header?.keys() ?? []).map((key) => [key, message.header?.get(key)]),
        );
        expect(problems(schema.headers, headers), JSON.stringify(headers)).toStrictEqual([]);
        expect(headers['Content-Type']).toBe(schema.contentType);
        expect(message.subject).toBe(`${subjectPrefix}.${String(body.workspaceid)}.${String(body.type)}`);
      }
    });

    it('every webhook delivery: its body and headers match its type’s message on the webhook channel, and it verifies with standardwebhooks', () => {
      expect(deliveries.length).toBeGreaterThan(0);
      for (const delivery of deliveries) {
        const body = JSON.parse(delivery.body) as Json;
        const schema = validators.get('webhook')?.get(String(body.type));
        if (!schema)
          throw new Error(`no message in the document for the type ${String(body.type)} on webhooks`);
        expect(problems(schema.payload, body), delivery.body).toStrictEqual([]);
        expect(problems(schema.headers, delivery.headers), JSON.stringify(delivery.headers)).toStrictEqual(
          [],
        );
        expect(delivery.headers['content-type']).toBe(schema.contentType);
        expect(delivery.verified).toBe(true);
        expect(delivery.headers['webhook-id']).toBe(body.id);
      }
    });

    it('what was validated covers every event type, every field an update changes and every status move made', () => {
      const events = messages.map((message) => JSON.parse(message.string()) as Json);
      expect(new Set(events.map((event) => event.type))).toStrictEqual(new Set(ORDER_EVENT_TYPES));
      const changed = new Set(events.flatMap((event) => ((event.data as Json).changes ?? []) as string[]));
      expect(changed).toStrictEqual(new Set(['status', ...Object.values(REST_FIELD_NAMES)]));
      const moves = new Set(
        events
          .filter((event) => event.type === 'order.status_changed')
          .map(
            (event) =>
              `${String((event.data as Json).previous_status)}→${String(((event.data as Json).order as Json).status)}`,
          ),
      );
      expect(moves).toStrictEqual(
        new Set([
          'pending→paid',
          'pending→processing',
          'paid→processing',
          'processing→shipped',
          'shipped→delivered',
          'delivered→refunded',
          'pending→cancelled',
          'paid→shipped',
          'shipped→refunded',
        ]),
      );
    });
  },
);
