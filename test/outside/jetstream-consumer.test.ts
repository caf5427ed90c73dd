/**
 * A downstream team reading the gateway's events from NATS JetStream the way the README tells it
 * ("Consuming from NATS JetStream"), with the official client's consumer API
 * (`@nats-io/jetstream`): durable pull consumers with explicit acks, an ack wait and a
 * max deliver, one filtered to a workspace (`orders.<workspace_id>.>`) and one to a type
 * (`orders.*.order.status_changed`), a nak with a delay, the consumer process restarted, and the
 * broker restarted with and without its store.
 *
 * What it holds the gateway to (events contract §1 and §3): every event of the filter arrives,
 * none twice once deduplicated by `Nats-Msg-Id`, each order's events in `sequence` order in the
 * stream, the header `Nats-Msg-Id` is the body's `id`, the body is the structured event, and the
 * last event's order is what `GET /api/orders/:id` answers. After a broker that lost its store
 * comes back, the stream is back without waiting for an order change, so a consumer process that
 * restarts then can add its consumer again.
 *
 * Starts a `nats-server` of its own on a free port with a temporary store; skipped, saying why,
 * without `nats-server` on PATH (a failure under REQUIRE_SERVICES=1, as in CI).
 */
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/events/order-events';
import { clientFor, createTestApp, type TestApp } from '../support/app';
import { eventually, natsServerInstalled, ownNatsServer, type OwnNatsServer } from '../support/nats';

const installed = natsServerInstalled();

const orderBody = (customer: string) => ({
  customer_id: customer,
  items: [{ product_id: 'p', quantity: 1, price: '4.00' }],
  total: '4.00',
});

/** One message as the team's handler saw it. */
interface Handled {
  streamSeq: number;
  subject: string;
  msgId: string;
  contentType: string;
  redelivered: boolean;
  event: CloudEvent;
}

/**
 * The team's consumer process: a connection, its durable consumers added as the README shows
 * (again on every start), and a handler that acks what it took and drops a repeat by its id.
 */
class Downstream {
  readonly handled: Handled[] = [];
  /** Fetches that failed (the broker was away), retried. */
  readonly fetchErrors: string[] = [];
  private readonly seen = new Set<string>();
  private constructor(
    readonly nc: NatsConnection,
    private readonly consumer: Consumer,
  ) {}

  static async start(
    url: string,
    config: Partial<ConsumerConfig> & { durable_name: string },
  ): Promise<Downstream> {
    const nc = await connect({ servers: url });
    await (await jetstreamManager(nc)).consumers.add('ORDERS', config);
    return new Downstream(nc, await jetstream(nc).consumers.get('ORDERS', config.durable_name));
  }

  /**
   * Fetches until `count` distinct events were handled. `nakFirst` picks messages to nak (with a
   * delay) on their first delivery, as a handler does when a dependency is briefly away.
   */
  async take(count: number, nakFirst: (event: CloudEvent) => boolean = () => false): Promise<Handled[]> {
    const from = this.handled.length;
    const deadline = Date.now() + 30_000;
    while (this.handled.length - from < count) {
      if (Date.now() > deadline)
        throw new Error(`heard ${this.handled.length - from} of ${count} events: ${this.describe(from)}`);
      try {
        const batch = await this.consumer.fetch({ max_messages: 50, expires: 1000 });
        for await (const message of batch) this.handle(message, nakFirst);
      } catch (error) {
        // A fetch that was waiting while the broker went away ends with "heartbeats missed"; a
        // consumer loop fetches again once the client has reconnected.
        this.fetchErrors.push(error instanceof Error ? error.message : String(error));
        await sleep(200);
      }
    }
    return this.handled.slice(from);
  }

  /** Whatever arrives within one fetch's wait (nothing, when the filter's events were all taken). */
  async leftOver(): Promise<CloudEvent[]> {
    const left: CloudEvent[] = [];
    const batch = await this.consumer.fetch({ max_messages: 50, expires: 1500 });
    for await (const message of batch) {
      left.push(message.json<CloudEvent>());
      message.ack();
    }
    return left;
  }

  async info() {
    return this.consumer.info();
  }

  close(): Promise<void> {
    return this.nc.close();
  }

  private handle(message: JsMsg, nakFirst: (event: CloudEvent) => boolean): void {
    const event = message.json<CloudEvent>();
    if (!message.redelivered && nakFirst(event)) {
      message.nak(300);
      return;
    }
    message.ack();
    if (this.seen.has(event.id)) return;
    this.seen.add(event.id);
    this.handled.push({
      streamSeq: message.seq,
      subject: message.subject,
      msgId: message.headers?.get('Nats-Msg-Id') ?? '',
      contentType: message.headers?.get('Content-Type') ?? '',
      redelivered: message.redelivered,
      event,
    });
  }

  private describe(from: number): string {
    return this.handled
      .slice(from)
      .map(({ event }) => `${event.type}#${event.sequence}`)
      .join(', ');
  }
}

/** Per order, the [type, sequence] of its events in stream order. */
function perOrder(handled: Handled[]): Record<string, [string, number][]> {
  const chains: Record<string, [string, number][]> = {};
  for (const { event } of [...handled].sort((a, b) => a.streamSeq - b.streamSeq))
    (chains[event.subject] ??= []).push([event.type, event.sequence]);
  return chains;
}

describe.skipIf(!installed.up)(`a downstream team's durable pull consumers ${installed.reason}`, () => {
  let nats: OwnNatsServer;
  let testApp: TestApp;
  let acme = '';
  let globex = '';
  let acmeId = '';
  const t = clientFor(
    () => testApp,
    () => acme,
  );
  const downstreams: Downstream[] = [];
  const start = async (config: Partial<ConsumerConfig> & { durable_name: string }) => {
    const downstream = await Downstream.start(nats.url, config);
    downstreams.push(downstream);
    return downstream;
  };
  const forAcme = (): Partial<ConsumerConfig> & { durable_name: string } => ({
    durable_name: 'fulfilment-acme',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: `orders.${acmeId}.>`,
    ack_wait: nanos(5000),
    max_deliver: 5,
  });
  const backlog = () => t.db.count('order_event_queue');
  const streamExists = async () => {
    const nc = await connect({ servers: nats.url });
    try {
      await (await jetstreamManager(nc)).streams.info('ORDERS');
      return true;
    } catch {
      return false;
    } finally {
      await nc.close();
    }
  };

  beforeAll(async () => {
    nats = await ownNatsServer();
    testApp = await createTestApp({
      natsUrl: nats.url,
      eventsPollIntervalMs: 100,
      natsPublishTimeoutMs: 1000,
    });
    acme = await testApp.bearer('acme');
    globex = await testApp.bearer('globex');
    acmeId = (await t.context()).workspaceId;
    await eventually(streamExists, 15_000, 'the gateway to make the stream ORDERS');
  });
  afterAll(async () => {
    await Promise.all(downstreams.map((downstream) => downstream.close().catch(() => undefined)));
    await testApp?.close();
    await nats?.destroy();
  });

  it('a workspace filter gets that workspace’s events only, once each, in per-order order, with the contract’s headers; a type filter gets that type of every workspace', async () => {
    const acmeTeam = await start(forAcme());
    const statusTeam = await start({
      durable_name: 'status-watch',
      ack_policy: AckPolicy.Explicit,
      filter_subject: 'orders.*.order.status_changed',
    });

    const ids: string[] = [];
    for (const [customer, authorization] of [
      ['a1', acme],
      ['a2', acme],
      ['g1', globex],
    ] as const) {
      const res = await t.rest.post('/api/orders', orderBody(customer), { authorization });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().data.id as string);
    }
    const [a1, a2, g1] = ids as [string, string, string];
    for (const [id, authorization] of [
      [a1, acme],
      [a2, acme],
      [g1, globex],
    ] as const) {
      expect((await t.rest.put(`/api/orders/${id}`, { status: 'paid' }, { authorization })).statusCode).toBe(
        200,
      );
      expect(
        (await t.rest.put(`/api/orders/${id}`, { notes: `n-${id}` }, { authorization })).statusCode,
      ).toBe(200);
    }
    await eventually(async () => (await backlog()) === 0, 20_000, 'the outbox to drain');

    // acme: 2 orders × (created, updated + status_changed, updated); a status change is nak'd once.
    const handled = await acmeTeam.take(8, (event) => event.type === 'order.status_changed');
    expect(handled.every(({ event }) => event.workspaceid === acmeId)).toBe(true);
    expect(new Set(handled.map(({ event }) => event.id)).size).toBe(8);
    expect(handled.filter(({ redelivered }) => redelivered).map(({ event }) => event.type)).toStrictEqual([
      'order.status_changed',
      'order.status_changed',
    ]);
    expect(perOrder(handled)).toStrictEqual({
      [a1]: [
        ['order.created', 1],
        ['order.updated', 2],
        ['order.status_changed', 2],
        ['order.updated', 3],
      ],
      [a2]: [
        ['order.created', 1],
        ['order.updated', 2],
        ['order.status_changed', 2],
        ['order.updated', 3],
      ],
    });
    for (const { subject, msgId, contentType, event } of handled) {
      expect(subject).toBe(`orders.${acmeId}.${event.type}`);
      expect(msgId).toBe(event.id);
      expect(contentType).toBe('application/cloudevents+json');
    }
    // The order of its last event in the stream is the order as the API answers it now.
    const last = handled
      .filter(({ event }) => event.subject === a1)
      .sort((a, b) => a.streamSeq - b.streamSeq)
      .at(-1)?.event.data as { order: unknown };
    expect(last.order).toStrictEqual((await t.rest.get(`/api/orders/${a1}`)).json().data);
    expect(await acmeTeam.leftOver()).toStrictEqual([]);
    const acmeInfo = await acmeTeam.info();
    expect([acmeInfo.num_pending, acmeInfo.num_ack_pending]).toStrictEqual([0, 0]);

    const statuses = await statusTeam.take(3);
    expect(
      statuses.map(({ event }) => [
        event.subject,
        event.type,
        (event.data as { previous_status: string }).previous_status,
      ]),
    ).toStrictEqual([
      [a1, 'order.status_changed', 'pending'],
      [a2, 'order.status_changed', 'pending'],
      [g1, 'order.status_changed', 'pending'],
    ]);
  });

  it('the stream the gateway made keeps every event for a consumer that lags: no maximum age, count or size', async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const { config } = await (await jetstreamManager(nc)).streams.info('ORDERS');
      expect({
        retention: config.retention,
        max_age: config.max_age,
        max_msgs: config.max_msgs,
        max_bytes: config.max_bytes,
        max_msgs_per_subject: config.max_msgs_per_subject,
        storage: config.storage,
        duplicate_window: config.duplicate_window,
      }).toStrictEqual({
        retention: 'limits',
        max_age: 0,
        max_msgs: -1,
        max_bytes: -1,
        max_msgs_per_subject: -1,
        storage: 'file',
        duplicate_window: nanos(120_000),
      });
    } finally {
      await nc.close();
    }
  });

  it('a restarted consumer process adds its consumer again and goes on where it stopped, without what it acknowledged', async () => {
    const before = await start(forAcme());
    expect(await before.leftOver()).toStrictEqual([]);
    await before.close();

    const created = await t.rest.post('/api/orders', orderBody('after-restart'));
    expect(created.statusCode).toBe(201);
    const after = await start(forAcme());
    const handled = await after.take(1);
    expect(handled.map(({ event }) => [event.subject, event.type, event.sequence])).toStrictEqual([
      [created.json().data.id, 'order.created', 1],
    ]);
    expect(await after.leftOver()).toStrictEqual([]);
  });

  it('changes committed while the broker is down reach the consumer once each, in order, after it restarts with its store', async () => {
    const team = await start(forAcme());
    expect(await team.leftOver()).toStrictEqual([]);
    const created = await t.rest.post('/api/orders', orderBody('outage'));
    const id = created.json().data.id as string;
    await eventually(async () => (await backlog()) === 0, 20_000, 'the create to be published');

    await nats.stop();
    for (const change of [{ status: 'paid' }, { tracking_number: 'T1' }, { status: 'shipped' }])
      expect((await t.rest.put(`/api/orders/${id}`, change)).statusCode).toBe(200);
    expect(await backlog()).toBe(5);
    await nats.start();

    const handled = await team.take(6);
    expect(perOrder(handled)).toStrictEqual({
      [id]: [
        ['order.created', 1],
        ['order.updated', 2],
        ['order.status_changed', 2],
        ['order.updated', 3],
        ['order.updated', 4],
        ['order.status_changed', 4],
      ],
    });
    await eventually(async () => (await backlog()) === 0, 20_000, 'the outbox to drain');
    expect(await team.leftOver()).toStrictEqual([]);
  });

  it('after the broker comes back without its store, the stream is back with no order change, so a restarted consumer can add itself', async () => {
    await nats.stop();
    nats.wipe();
    await nats.start();
    // No order changes meanwhile: the gateway makes the stream again once it is connected.
    await eventually(streamExists, 15_000, 'the stream ORDERS to be made again');
    const team = await start({ ...forAcme(), durable_name: 'fulfilment-acme-2' });
    const created = await t.rest.post('/api/orders', orderBody('after-wipe'));
    expect(created.statusCode).toBe(201);
    const handled = await team.take(1);
    expect(handled.map(({ event }) => [event.subject, event.type])).toStrictEqual([
      [created.json().data.id, 'order.created'],
    ]);
  });
});

describe.skipIf(!installed.up)(`a gateway started while its broker is down ${installed.reason}`, () => {
  let nats: OwnNatsServer;
  let testApp: TestApp | undefined;
  beforeAll(async () => {
    nats = await ownNatsServer();
    await nats.stop();
  });
  afterAll(async () => {
    await testApp?.close();
    await nats?.destroy();
  });

  it('makes the stream once the broker is up, with no order change, so a consumer can be added before the first order', async () => {
    testApp = await createTestApp({ natsUrl: nats.url, natsPublishTimeoutMs: 1000 });
    await nats.start();
    await eventually(
      async () => {
        const nc = await connect({ servers: nats.url });
        try {
          await (
            await jetstreamManager(nc)
          ).consumers.add('ORDERS', {
            durable_name: 'early',
            ack_policy: AckPolicy.Explicit,
            filter_subject: 'orders.*.order.created',
          });
          return true;
        } catch {
          return false;
        } finally {
          await nc.close();
        }
      },
      20_000,
      'a consumer to be added on the stream ORDERS',
    );
    expect(await testApp.app.events.backlog()).toBe(0);
  });
});
