/**
 * The relay and NATS JetStream (events contract §2–3): every committed change
 * reaches the stream exactly once, each order's events in `sequence` order,
 * with the contract's subject and `Nats-Msg-Id`; a broker outage never fails
 * a create, and what was committed during it arrives afterwards, once.
 *
 * The first part needs NATS with JetStream at 127.0.0.1:4222 (NATS_TEST_URL
 * overrides it; `.ci/run` starts it) and skips with the reason printed when
 * none answers (a failure under REQUIRE_SERVICES=1, as in CI). The outage
 * test starts a `nats-server` of its own.
 */
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NatsPublisher, takesEveryWorkspace } from '../../src/events/nats.publisher';
import { toCloudEvent, type CloudEvent, type StoredEvent } from '../../src/events/order-events';
import { PUBLISHED_DATA_SQL } from '../../src/events/outbox.store';
import { clientFor, createTestApp, useTestApp, type TestApp, type TestClient } from '../support/app';
import {
  deleteStream,
  eventually,
  natsServerInstalled,
  ownNatsServer,
  readStream,
  SHARED_NATS_URL,
  uniqueStream,
  type OwnNatsServer,
} from '../support/nats';

const orderBody = (customer: string) => ({
  customer_id: customer,
  items: [{ product_id: 'p', quantity: 1, price: '4.00' }],
  total: 4,
});

const outbox = (t: TestClient) =>
  t.db.query<StoredEvent & { queued: boolean }>(
    `select e.position::text as position, e.id, e.workspace_id as "workspaceId", e.order_id as "orderId", e.type, e.sequence,
            e.time, (${PUBLISHED_DATA_SQL})::json as data, exists (select 1 from order_event_queue q where q.position = e.position) as queued
     from order_events e join orders o on o.id = e.order_id order by e.position`,
  );

const backlog = (t: TestClient) => t.db.count('order_event_queue');

const bodyOf = (message: StoredMsg) => message.json<CloudEvent>();

const shared = inject('nats');

describe.skipIf(!shared.up)(`with NATS at hand ${shared.reason}`, () => {
  const { stream, subjectPrefix } = uniqueStream();
  const t = useTestApp({
    natsUrl: SHARED_NATS_URL,
    natsStream: stream,
    natsSubjectPrefix: subjectPrefix,
    eventsPollIntervalMs: 200,
  });
  const heard: CloudEvent[] = [];
  beforeAll(() => {
    t.app.events.relay.subscribe((event) => heard.push(event));
  });
  afterAll(() => deleteStream(SHARED_NATS_URL, stream));

  it('every create and update arrives once, each order’s events in sequence order, exactly as the outbox holds them', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await t.rest.post('/api/orders', orderBody(`c${i}`));
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().data.id as string);
    }
    // Changes to different orders interleave; each order's own changes follow one another.
    await Promise.all(
      ids.map(async (id, i) => {
        expect((await t.rest.put(`/api/orders/${id}`, { status: 'paid' })).statusCode).toBe(200);
        expect((await t.rest.put(`/api/orders/${id}`, { tracking_number: `T${i}` })).statusCode).toBe(200);
      }),
    );
    await eventually(async () => (await backlog(t)) === 0, 20_000, 'the outbox to drain');
    const rows = await outbox(t);
    expect(rows).toHaveLength(20 * 4);
    expect(rows.filter((row) => row.queued)).toStrictEqual([]);

    const messages = await readStream(SHARED_NATS_URL, stream);
    expect(messages).toHaveLength(rows.length);
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const message of messages) {
      const event = bodyOf(message);
      const row = byId.get(event.id);
      expect(row, `event ${event.id} is in the outbox`).toBeDefined();
      expect(event).toStrictEqual(JSON.parse(JSON.stringify(toCloudEvent(row as StoredEvent))));
      expect(message.header?.get('Nats-Msg-Id')).toBe(event.id);
      expect(message.subject).toBe(`${subjectPrefix}.${event.workspaceid}.${event.type}`);
    }
    expect(new Set(messages.map((message) => bodyOf(message).id)).size).toBe(rows.length);
    // Per order, the stream holds the events in the order they were written: created, updated, status_changed, updated.
    for (const id of ids) {
      const inStream = messages.map(bodyOf).filter((event) => event.subject === id);
      expect(inStream.map((event) => [event.type, event.sequence])).toStrictEqual([
        ['order.created', 1],
        ['order.updated', 2],
        ['order.status_changed', 2],
        ['order.updated', 3],
      ]);
      expect(inStream.map((event) => event.id)).toStrictEqual(
        rows.filter((row) => row.orderId === id).map((row) => row.id),
      );
    }
    // The in-process hook heard the same events, in the same per-order order.
    expect(heard.map((event) => event.id).sort()).toStrictEqual(rows.map((row) => row.id).sort());
    for (const id of ids) {
      expect(heard.filter((event) => event.subject === id).map((event) => event.id)).toStrictEqual(
        rows.filter((row) => row.orderId === id).map((row) => row.id),
      );
    }
  });

  it('an event published again (a relay that died before marking it) is still in the stream once', async () => {
    const [row] = await outbox(t);
    const before = (await readStream(SHARED_NATS_URL, stream)).length;
    const publisher = new NatsPublisher({ url: SHARED_NATS_URL, stream, subjectPrefix, timeoutMs: 5000 });
    try {
      const event = toCloudEvent(row);
      await publisher.publish(event, new TextEncoder().encode(JSON.stringify(event)));
    } finally {
      await publisher.close();
    }
    expect(await readStream(SHARED_NATS_URL, stream)).toHaveLength(before);
  });
});

describe.skipIf(!shared.up)(`a gateway that has published nothing yet ${shared.reason}`, () => {
  const { stream, subjectPrefix } = uniqueStream();
  useTestApp({ natsUrl: SHARED_NATS_URL, natsStream: stream, natsSubjectPrefix: subjectPrefix });
  afterAll(() => deleteStream(SHARED_NATS_URL, stream));

  it('has made the stream at start, so a consumer can be added before the first order', async () => {
    const info = async () => {
      const nc = await connect({ servers: SHARED_NATS_URL });
      try {
        return await (await jetstreamManager(nc)).streams.info(stream);
      } catch {
        return undefined;
      } finally {
        await nc.close();
      }
    };
    await eventually(async () => (await info()) !== undefined, 10_000, `the stream ${stream} to exist`);
    const config = (await info())?.config;
    expect(config?.subjects).toStrictEqual([`${subjectPrefix}.>`]);
    expect(config?.storage).toBe('file');
    expect(config?.duplicate_window).toBe(120_000_000_000);
  });
});

describe.skipIf(!shared.up)(
  `a stream of that name that does not take the gateway's subjects ${shared.reason}`,
  () => {
    const { stream, subjectPrefix } = uniqueStream();
    let testApp: TestApp;
    beforeAll(async () => {
      const nc = await connect({ servers: SHARED_NATS_URL });
      try {
        // Made by someone else, for other subjects, and for this prefix's creates only.
        await (
          await jetstreamManager(nc)
        ).streams.add({
          name: stream,
          subjects: [`${subjectPrefix}_other.>`, `${subjectPrefix}.*.order.created`],
        });
      } finally {
        await nc.close();
      }
      testApp = await createTestApp({
        natsUrl: SHARED_NATS_URL,
        natsStream: stream,
        natsSubjectPrefix: subjectPrefix,
        eventsPollIntervalMs: 200,
      });
    });
    afterAll(async () => {
      await testApp?.close();
      await deleteStream(SHARED_NATS_URL, stream);
    });

    it('is named in the relay’s warning, with the subjects it lacks, and nothing is published to it', async () => {
      const t = clientFor(
        () => testApp,
        () => '',
      );
      const auth = await testApp.bearer('acme');
      const created = await t.rest.post('/api/orders', orderBody('c'), { authorization: auth });
      expect(created.statusCode).toBe(201);
      expect(
        (await t.rest.put(`/api/orders/${created.json().data.id}`, { notes: 'n' }, { authorization: auth }))
          .statusCode,
      ).toBe(200);
      const warning = () =>
        testApp.logs.find((line) => line.msg === 'event relay: publish failed; will retry') as
          { err?: { message?: string } } | undefined;
      await eventually(async () => warning() !== undefined, 10_000, 'the relay’s warning');
      expect(warning()?.err?.message).toBe(
        `the JetStream stream ${stream} does not take the subjects ${subjectPrefix}.<workspace_id>.order.updated and ` +
          `${subjectPrefix}.<workspace_id>.order.status_changed (it takes ${subjectPrefix}_other.>, ${subjectPrefix}.*.order.created): ` +
          `add ${subjectPrefix}.> to it, or set NATS_STREAM or NATS_SUBJECT_PREFIX`,
      );
      expect(await readStream(SHARED_NATS_URL, stream)).toHaveLength(0);
      expect(await backlog(t)).toBe(2);
    });
  },
);

const ownServer = natsServerInstalled();
const NATS_LOST = 'event relay: lost its NATS connection; events wait in the outbox while it reconnects';
const NATS_BACK = 'event relay: NATS connection back; publishing the outbox';

describe.skipIf(!ownServer.up)(`while NATS is down ${ownServer.reason}`, () => {
  let nats: OwnNatsServer;
  let testApp: TestApp;
  let authorization = '';
  const t = clientFor(
    () => testApp,
    () => authorization,
  );
  beforeAll(async () => {
    nats = await ownNatsServer();
    // The contract's own stream and subjects: this server is the test's alone.
    testApp = await createTestApp({
      natsUrl: nats.url,
      natsPublishTimeoutMs: 500,
      eventsPollIntervalMs: 100,
      rateLimitPerMinute: 1_000_000,
    });
    authorization = await testApp.bearer('acme');
  });
  afterAll(async () => {
    await testApp?.close();
    await nats?.destroy();
  });

  it(
    'creates still answer 201, and after it returns every event arrives, none twice',
    { timeout: 180_000 },
    async () => {
      const first = await t.rest.post('/api/orders', orderBody('before'));
      expect(first.statusCode).toBe(201);
      await eventually(async () => (await backlog(t)) === 0, 20_000, 'the first event to be published');
      const workspaceId = (await t.context()).workspaceId;

      const logged = (msg: string) => testApp.logs.filter((line) => line.msg === msg);
      await nats.stop();
      // An operator learns of the outage from the log at once, not from the first publish that fails.
      await eventually(async () => logged(NATS_LOST).length > 0, 20_000, 'the lost connection to be logged');
      expect(logged(NATS_LOST)).toHaveLength(1);
      expect(logged(NATS_LOST)[0]).toMatchObject({ level: 40, server: expect.stringContaining('127.0.0.1') });
      const statuses: number[] = [];
      for (let batch = 0; batch < 20; batch++) {
        const answers = await Promise.all(
          Array.from({ length: 25 }, (_, i) => t.rest.post('/api/orders', orderBody(`outage-${batch}-${i}`))),
        );
        statuses.push(...answers.map((res) => res.statusCode));
      }
      expect(statuses.filter((status) => status !== 201)).toStrictEqual([]);
      expect(statuses).toHaveLength(500);
      expect((await t.rest.get('/readyz', { authorization: null })).statusCode).toBe(200);
      expect(await backlog(t)).toBeGreaterThan(0);

      await nats.start();
      await eventually(
        async () => (await backlog(t)) === 0,
        120_000,
        'the backlog to drain after NATS returned',
      );
      // Logged once each way, however many reconnect attempts the outage took.
      expect(logged(NATS_LOST)).toHaveLength(1);
      expect(logged(NATS_BACK)).toHaveLength(1);
      expect(logged(NATS_BACK)[0]).toMatchObject({ level: 30 });
      const messages = await readStream(nats.url, 'ORDERS');
      const ids = messages.map((message) => bodyOf(message).id);
      expect(ids).toHaveLength(501);
      expect(new Set(ids).size).toBe(501);
      expect(new Set(ids)).toStrictEqual(new Set((await outbox(t)).map((row) => row.id)));
      expect(new Set(messages.map((message) => message.subject))).toStrictEqual(
        new Set([`orders.${workspaceId}.order.created`]),
      );
    },
  );
});

describe('which stream subjects take every workspace’s events', () => {
  it.each([
    ['orders.>', true],
    ['>', true],
    ['orders.*.>', true],
    ['orders.*.order.*', true],
    ['orders.*.*.updated', true],
    ['orders.ws_1.>', false],
    ['orders.*.order', false],
    ['orders.*.order.created', false],
    ['orders', false],
    ['other.>', false],
  ])('%s: %s for order.updated', (pattern, takes) => {
    expect(takesEveryWorkspace(pattern, 'orders', 'order.updated')).toBe(takes);
  });

  it('reads a prefix of several tokens', () => {
    expect(takesEveryWorkspace('acme.orders.>', 'acme.orders', 'order.created')).toBe(true);
    expect(takesEveryWorkspace('acme.>', 'acme.orders', 'order.created')).toBe(true);
    expect(takesEveryWorkspace('acme.*.order.created', 'acme.orders', 'order.created')).toBe(false);
  });
});
