/**
 * A company that traces every request with OpenTelemetry (W3C Trace Context),
 * with OpenTelemetry's own SDK on the caller's and the consumer's side: the
 * caller starts a span and injects `traceparent`/`tracestate` with
 * `W3CTraceContextPropagator`; a consumer extracts the CloudEvents
 * Distributed Tracing extension (`traceparent`, `tracestate` attributes)
 * from each webhook delivery and JetStream message the change made, and
 * starts its span from it. The trace must go on: same trace id, the
 * caller's span as parent (the gateway records no spans of its own, so it
 * passes the caller's context on unchanged). The access log line carries
 * `trace_id`/`span_id` for a log pipeline to join on. A header the W3C spec
 * says to ignore (malformed, upper case, version ff, zero ids, two of them,
 * a tracestate over 32 members) never fails a request and is never passed
 * on; what is passed on is what OpenTelemetry's own propagator reads.
 *
 * The JetStream part needs NATS at 127.0.0.1:4222 (NATS_TEST_URL) and skips
 * with the reason printed when none answers (a failure under REQUIRE_SERVICES=1).
 */
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { CloudEvent } from 'cloudevents';
import type { StoredMsg } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { useTestApp, type TestClient } from '../support/app';
import { CREATE_ORDER } from '../support/graphql';
import { eventually, readStream, SHARED_NATS_URL, useTestAppOnOwnStream } from '../support/nats';
import { startEndpointReceiver, type Receiver } from '../support/webhook-receiver';

type Json = Record<string, unknown>;

const propagator = new W3CTraceContextPropagator();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('trace-context.test');
afterAll(() => provider.shutdown());

/** The caller's span, and the headers OpenTelemetry injects for it. */
function callerSpan(name: string, tracestate?: string): { span: Span; headers: Record<string, string> } {
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT });
  const headers: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
  if (tracestate !== undefined) headers.tracestate = tracestate;
  span.end();
  return { span, headers };
}

/** What OpenTelemetry's propagator reads from request headers: the traceparent it would continue, or none. */
function otelReads(headers: Record<string, string>): string | undefined {
  const extracted = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  if (!extracted) return undefined;
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpanContext(ROOT_CONTEXT, extracted), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** A consumer's span started from an event's Distributed Tracing extension, as exported. */
function consumerSpanOf(event: Json) {
  const carrier: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate'])
    if (typeof event[name] === 'string') carrier[name] = event[name];
  const parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  const span = tracer.startSpan(`consume ${String(event.type)}`, { kind: SpanKind.CONSUMER }, parent);
  span.end();
  const spanId = span.spanContext().spanId;
  const exported = exporter.getFinishedSpans().find((finished) => finished.spanContext().spanId === spanId);
  if (!exported) throw new Error('the consumer span was not exported');
  return exported;
}

const ORDER = {
  customer_id: 'traced',
  items: [{ product_id: 'p', quantity: 1, price: '5.00' }],
  total: '5.00',
};

async function createOrder(t: TestClient, headers: Record<string, string>): Promise<string> {
  const response = await t.rest.post('/api/orders', ORDER, { headers });
  expect(response.statusCode, response.body).toBe(201);
  expect(
    response.headers.traceparent,
    'a gateway that records no span does not answer with a traceparent',
  ).toBeUndefined();
  expect(response.headers.tracestate).toBeUndefined();
  return response.json().data.id as string;
}

/** Every webhook delivery's CloudEvent for `orderId`, read with the CloudEvents SDK (strict). */
function eventsOf(receiver: Receiver, orderId: string): Json[] {
  return receiver.received
    .map((request) => JSON.parse(request.body) as Json)
    .filter((event) => event.subject === orderId)
    .map((event) => {
      const sdk = new CloudEvent<Json>(event, true);
      expect(sdk.validate()).toBe(true);
      return event;
    });
}

/** The trace headers of the webhook POST that delivered `event`, as an HTTP server's instrumentation sees them. */
function traceHeadersOfDelivery(receiver: Receiver, event: Json): Record<string, string> {
  const request = receiver.received.find((candidate) => (JSON.parse(candidate.body) as Json).id === event.id);
  if (!request) throw new Error(`no delivery of ${String(event.id)}`);
  const carrier: Record<string, string> = {};
  for (const name of ['traceparent', 'tracestate']) {
    const value = request.headers[name];
    if (typeof value === 'string') carrier[name] = value;
  }
  return carrier;
}

/** The span an OpenTelemetry-instrumented HTTP server or NATS consumer starts from a message's headers. */
function serverSpanOf(headers: Record<string, string>) {
  const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  const span = tracer.startSpan('receive', { kind: SpanKind.SERVER }, parent);
  span.end();
  const spanId = span.spanContext().spanId;
  const exported = exporter.getFinishedSpans().find((finished) => finished.spanContext().spanId === spanId);
  if (!exported) throw new Error('the server span was not exported');
  return exported;
}

describe('W3C Trace Context from a request to its events, webhooks and log lines', () => {
  const t = useTestApp({ webhookAllowPrivateNetworks: true, eventsPollIntervalMs: 100 });
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startEndpointReceiver(t, [204]);
  });
  afterAll(async () => {
    await receiver?.close();
  });

  const waitForEvents = async (orderId: string, count: number) => {
    await eventually(
      async () => eventsOf(receiver, orderId).length >= count,
      30_000,
      `${count} webhook(s) of ${orderId}`,
    );
    return eventsOf(receiver, orderId);
  };

  it('a traced REST create and update: every event continues the caller’s trace, with its tracestate', async () => {
    const create = callerSpan('checkout', 'vendor=abc,other=x1');
    const orderId = await createOrder(t, create.headers);
    const [created] = await waitForEvents(orderId, 1);
    expect(created.traceparent).toBe(create.headers.traceparent);
    expect(created.tracestate).toBe('vendor=abc,other=x1');
    const consumer = consumerSpanOf(created);
    expect(consumer.spanContext().traceId).toBe(create.span.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(create.span.spanContext().spanId);
    // The POST carries the same context as W3C headers, for a receiver that reads no body to trace.
    const delivered = traceHeadersOfDelivery(receiver, created);
    expect(delivered).toStrictEqual({ traceparent: create.headers.traceparent, tracestate: 'vendor=abc,other=x1' });
    expect(serverSpanOf(delivered).parentSpanContext?.spanId).toBe(create.span.spanContext().spanId);

    const pay = callerSpan('pay');
    const update = await t.rest.put(`/api/orders/${orderId}`, { status: 'paid' }, { headers: pay.headers });
    expect(update.statusCode, update.body).toBe(200);
    const changed = (await waitForEvents(orderId, 3)).filter((event) => event.type !== 'order.created');
    expect(changed.map((event) => event.type).sort()).toStrictEqual([
      'order.status_changed',
      'order.updated',
    ]);
    for (const event of changed) {
      expect(event.traceparent).toBe(pay.headers.traceparent);
      expect(event).not.toHaveProperty('tracestate');
      expect(consumerSpanOf(event).parentSpanContext?.spanId).toBe(pay.span.spanContext().spanId);
      expect(traceHeadersOfDelivery(receiver, event)).toStrictEqual({ traceparent: pay.headers.traceparent });
    }
  });

  it('a traced GraphQL createOrder: its event continues the trace', async () => {
    const caller = callerSpan('graphql checkout');
    const response = await t.gql(
      CREATE_ORDER,
      {
        input: {
          customerId: 'traced',
          items: [{ productId: 'p', quantity: 1, price: '5.00' }],
          total: '5.00',
        },
      },
      { headers: caller.headers },
    );
    expect(response.headers.traceparent).toBeUndefined();
    const orderId = response.json().data.createOrder.order.id as string;
    const [created] = await waitForEvents(orderId, 1);
    expect(created.traceparent).toBe(caller.headers.traceparent);
    expect(consumerSpanOf(created).spanContext().traceId).toBe(caller.span.spanContext().traceId);
  });

  it('an untraced request makes events without the extension (no trace is invented)', async () => {
    const orderId = await createOrder(t, {});
    const [created] = await waitForEvents(orderId, 1);
    expect(created).not.toHaveProperty('traceparent');
    expect(created).not.toHaveProperty('tracestate');
    expect(traceHeadersOfDelivery(receiver, created), 'no trace headers are invented either').toStrictEqual({});
  });

  it('the access log line of a traced request carries trace_id and span_id; X-Request-Id stays the request id', async () => {
    const caller = callerSpan('logged');
    const response = await t.rest.get('/api/orders?limit=1', {
      headers: { ...caller.headers, 'x-request-id': 'req-traced-1' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-request-id']).toBe('req-traced-1');
    await eventually(
      async () => t.logs.some((line) => line.reqId === 'req-traced-1'),
      10_000,
      'the access line',
    );
    const line = t.logs.find((entry) => entry.reqId === 'req-traced-1' && entry.msg === 'request completed');
    expect(line).toMatchObject({
      trace_id: caller.span.spanContext().traceId,
      span_id: caller.span.spanContext().spanId,
    });

    const ignored = await t.rest.get('/api/orders?limit=1', {
      headers: { traceparent: '00-zz-yy-01', 'x-request-id': 'req-untraced-1' },
    });
    expect(ignored.statusCode).toBe(200);
    await eventually(
      async () => t.logs.some((entry) => entry.reqId === 'req-untraced-1'),
      10_000,
      'the access line',
    );
    const untraced = t.logs.find((entry) => entry.reqId === 'req-untraced-1');
    expect(untraced).not.toHaveProperty('trace_id');
  });

  it('a traced request that fails inside the gateway: its error line carries the trace too, on REST and GraphQL', async () => {
    const orderId = await createOrder(t, {});
    const broken = vi.spyOn(t.app.services.orders, 'getOrder');
    try {
      broken.mockRejectedValue(new Error('the order store broke'));
      const rest = callerSpan('failing rest');
      const restAnswer = await t.rest.get(`/api/orders/${orderId}`, {
        headers: { ...rest.headers, 'x-request-id': 'req-traced-rest-500' },
      });
      expect(restAnswer.statusCode).toBe(500);
      const graphql = callerSpan('failing graphql');
      const graphqlAnswer = await t.gql(
        'query($id: ID!) { order(id: $id) { id } }',
        { id: orderId },
        { headers: { ...graphql.headers, 'x-request-id': 'req-traced-gql-500' } },
      );
      expect(graphqlAnswer.json().errors[0].extensions.code).toBe('INTERNAL_ERROR');
      for (const [reqId, caller] of [
        ['req-traced-rest-500', rest],
        ['req-traced-gql-500', graphql],
      ] as const) {
        await eventually(
          async () => t.logs.some((line) => line.reqId === reqId && line.level === 50),
          10_000,
          `the error line of ${reqId}`,
        );
        const lines = t.logs.filter((line) => line.reqId === reqId);
        expect(lines.length).toBeGreaterThanOrEqual(2);
        for (const line of lines)
          expect({ msg: line.msg, trace_id: line.trace_id }).toStrictEqual({
            msg: line.msg,
            trace_id: caller.span.spanContext().traceId,
          });
      }
    } finally {
      broken.mockRestore();
    }
  });

  it('headers the W3C spec says to ignore never fail a request and are never passed on; valid ones pass as OpenTelemetry reads them', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const valid = `00-${traceId}-${spanId}-01`;
    const tooMany = Array.from({ length: 33 }, (_, i) => `k${i}=v${i}`).join(',');
    const cases: { name: string; headers: Record<string, string>; tracestate?: string }[] = [
      { name: 'malformed', headers: { traceparent: 'not-a-traceparent' } },
      { name: 'too long for version 00', headers: { traceparent: `${valid}-extra` } },
      { name: 'oversized', headers: { traceparent: `00-${traceId}${'a'.repeat(4000)}-${spanId}-01` } },
      { name: 'upper-case hex', headers: { traceparent: valid.toUpperCase() } },
      { name: 'version ff', headers: { traceparent: `ff-${traceId}-${spanId}-01` } },
      { name: 'all-zero trace id', headers: { traceparent: `00-${'0'.repeat(32)}-${spanId}-01` } },
      { name: 'all-zero parent id', headers: { traceparent: `00-${traceId}-${'0'.repeat(16)}-01` } },
      // Node joins a repeated header's lines with ", ", which is what the gateway sees of two traceparents.
      { name: 'two traceparents', headers: { traceparent: `${valid}, 00-${'1'.repeat(32)}-${spanId}-01` } },
      {
        name: 'a future version with more fields',
        headers: { traceparent: `01-${traceId}-${spanId}-01-what-comes-next` },
      },
      { name: 'not sampled', headers: { traceparent: `00-${traceId}-${spanId}-00` } },
      { name: 'tracestate of 33 members', headers: { traceparent: valid, tracestate: tooMany } },
      { name: 'tracestate with a bad member', headers: { traceparent: valid, tracestate: 'ok=1,BAD KEY=2' } },
      {
        name: 'tracestate of 32 members',
        headers: { traceparent: valid, tracestate: tooMany.split(',').slice(0, 32).join(',') },
        tracestate: tooMany.split(',').slice(0, 32).join(','),
      },
      { name: 'tracestate without a traceparent', headers: { tracestate: 'vendor=1' } },
    ];
    const made: { name: string; orderId: string; expected?: string; tracestate?: string }[] = [];
    for (const c of cases)
      made.push({
        name: c.name,
        orderId: await createOrder(t, c.headers),
        expected: otelReads(c.headers),
        tracestate: c.tracestate,
      });
    // Sanity of the table itself: OpenTelemetry continues exactly these.
    expect(made.filter((m) => m.expected).map((m) => m.name)).toStrictEqual([
      'a future version with more fields',
      'not sampled',
      'tracestate of 33 members',
      'tracestate with a bad member',
      'tracestate of 32 members',
    ]);
    for (const m of made) {
      const [created] = await waitForEvents(m.orderId, 1);
      expect({
        case: m.name,
        traceparent: created.traceparent,
        tracestate: created.tracestate,
      }).toStrictEqual({
        case: m.name,
        traceparent: m.expected,
        tracestate: m.tracestate,
      });
    }
  });
});

const shared = inject('nats');

describe('CORS lets a traced browser app send its trace headers', () => {
  const t = useTestApp({ corsOrigins: ['https://shop.example'] });

  it('a preflight asking for traceparent and tracestate is allowed', async () => {
    const response = await t.app.http.inject({
      method: 'OPTIONS',
      url: '/api/orders',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,traceparent,tracestate',
      },
    });
    expect(response.statusCode).toBeLessThan(300);
    const allowed = String(response.headers['access-control-allow-headers'])
      .toLowerCase()
      .split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['traceparent', 'tracestate']));
  });
});

describe('a webhook delivery of a traced change that fails', () => {
  const t = useTestApp({
    webhookAllowPrivateNetworks: true,
    eventsPollIntervalMs: 100,
    webhookRetrySchedule: [100, 100],
  });
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startEndpointReceiver(t, [500]);
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('logs its failed attempts with the trace id of the request that made the change', async () => {
    const caller = callerSpan('checkout, receiver down');
    const orderId = await createOrder(t, caller.headers);
    const failures = () =>
      t.logs.filter(
        (line) =>
          String(line.msg).startsWith('webhooks: a') && line.orderId === orderId && Number(line.level) >= 40,
      );
    await eventually(async () => failures().length >= 3, 30_000, 'three failed attempts logged');
    for (const line of failures()) expect(line.trace_id).toBe(caller.span.spanContext().traceId);
    expect(failures().at(-1)?.msg).toBe('webhooks: a delivery failed: it used up its retry schedule');
  });
});

describe.skipIf(!shared.up)(`the trace on JetStream ${shared.reason}`, () => {
  const { t, stream } = useTestAppOnOwnStream({ eventsPollIntervalMs: 100 });

  it('the stream’s order.created carries the caller’s traceparent', async () => {
    const caller = callerSpan('checkout via nats');
    const orderId = await createOrder(t, caller.headers);
    let event: Json | undefined;
    let header: StoredMsg['header'] | undefined;
    await eventually(
      async () => {
        // The relay makes the stream with its first publish: until then there is none to read.
        const messages = await readStream(SHARED_NATS_URL, stream).catch(() => []);
        const message = messages.find((candidate) => candidate.json<Json>().subject === orderId);
        event = message?.json<Json>();
        header = message?.header;
        return event !== undefined;
      },
      30_000,
      'the event on the stream',
    );
    expect(event?.traceparent).toBe(caller.headers.traceparent);
    expect(consumerSpanOf(event as Json).parentSpanContext?.spanId).toBe(caller.span.spanContext().spanId);
    // And as a message header, where OpenTelemetry's NATS instrumentations look for it.
    expect(header?.get('traceparent')).toBe(caller.headers.traceparent);
    expect(header?.has('tracestate')).toBe(false);
    expect(serverSpanOf({ traceparent: header?.get('traceparent') ?? '' }).parentSpanContext?.spanId).toBe(
      caller.span.spanContext().spanId,
    );
  });
});
