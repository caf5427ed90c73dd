/**
 * GraphQL subscriptions over graphql-ws on /graphql (events contract §5):
 * a subscriber gets the create and two updates in order and nothing of
 * another workspace; a bad key closes with 4403; one subscription too many
 * closes with 4430, one connection too many for a key with 4431.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { AppError, ErrorCode } from '../../src/errors/app-error';
import type { CloudEvent } from '../../src/events/order-events';
import { createTestApp, useTestApp } from '../support/app';
import { listeningWsClient } from '../support/graphql-ws';

const t = useTestApp({ subscriptionsPerConnection: 2, subscriptionConnectionsPerKey: 2 });
let url: string;
const clients: Client[] = [];
const body = { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 };

beforeAll(async () => {
  const address = await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  url = `${address.replace('http', 'ws')}/graphql`;
});
afterAll(async () => {
  await Promise.all(clients.map(async (client) => client.dispose()));
});

/** A graphql-ws client that reports how its socket closed. */
function connect(authorization: string | undefined) {
  let closed: { code: number; reason: string } | undefined;
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: authorization === undefined ? {} : { authorization },
    on: {
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        closed ??= { code, reason: String(reason) };
      },
    },
    onNonLazyError: () => undefined,
  });
  clients.push(client);
  return { client, closed: () => closed };
}

/** Collects what a subscription delivers. */
function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const received: Record<string, unknown>[] = [];
  const errors: unknown[] = [];
  /** Errors inside a result (`next`), as a subscription refused when it starts answers them. */
  const resultErrors: unknown[] = [];
  let completed = false;
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) resultErrors.push(...value.errors);
        else received.push(value.data as Record<string, unknown>);
      },
      error: (error) => errors.push(error),
      complete: () => {
        completed = true;
      },
    },
  );
  return { received, errors, resultErrors, dispose, completed: () => completed };
}

/**
 * Waits until the server holds `count` subscriptions of the workspace of `authorization`: a
 * subscription starts some time after the client sends it, and a fixed wait lost the first
 * events on a loaded machine.
 */
async function subscribedIn(authorization: string, count: number) {
  const { workspaceId } = await t.app.services.auth.authenticate(authorization);
  await expect.poll(() => t.app.feed.listening(workspaceId), { timeout: 10_000 }).toBe(count);
}

describe('subscriptions', () => {
  it('delivers the create and two updates in order, and nothing of another workspace', async () => {
    const { client } = connect(t.auth);
    const created = subscribe(client, 'subscription { orderCreated { id status orderNumber total } }');
    const updated = subscribe(client, 'subscription { orderUpdated { id status trackingNumber updatedAt } }');
    await subscribedIn(t.auth, 2);
    // Operators see them too: this process holds two open subscriptions.
    expect(await t.app.metrics.render()).toMatch(/^graphql_subscriptions 2$/m);
    const foreign = await t.bearer('globex');
    await t.rest.post('/api/orders', body, { authorization: foreign });
    const order = (await t.rest.post('/api/orders', body)).json<{ data: { id: string; order_number: string } }>().data;
    await t.rest.put(`/api/orders/${order.id}`, { status: 'paid' });
    await t.rest.put(`/api/orders/${order.id}`, { tracking_number: 'TRK-1' });
    await expect.poll(() => updated.received.length, { timeout: 10_000 }).toBe(2);
    expect(created.received).toStrictEqual([
      { orderCreated: { id: order.id, status: 'PENDING', orderNumber: order.order_number, total: '5.00' } },
    ]);
    expect(updated.received.map((data) => (data.orderUpdated as { status: string; trackingNumber: string | null }))).toMatchObject([
      { id: order.id, status: 'PAID', trackingNumber: null },
      { id: order.id, status: 'PAID', trackingNumber: 'TRK-1' },
    ]);
    created.dispose();
    updated.dispose();
  }, 20_000);

  it('delivers updatedAt to the millisecond, as order(id) and the mutation answer it, for a create and an update', async () => {
    const auth = await t.bearer('acme'); // a key of its own: this file allows 2 connections a key
    const { client } = connect(auth);
    await subscribedIn(auth, 0); // the last test's, ended
    const created = subscribe(client, 'subscription { orderCreated { id updatedAt } }');
    await subscribedIn(auth, 1);
    const id = (await t.rest.post('/api/orders', body)).json<{ data: { id: string } }>().data.id;
    await expect.poll(() => created.received.length, { timeout: 10_000 }).toBe(1);
    const first = await t.gql('query($id: ID!) { order(id: $id) { id updatedAt } }', { id });
    expect(created.received).toStrictEqual([{ orderCreated: first.json<{ data: { order: unknown } }>().data.order }]);
    created.dispose();
    await subscribedIn(auth, 0);
    const updated = subscribe(client, 'subscription($id: ID) { orderUpdated(id: $id) { id updatedAt } }', { id });
    await subscribedIn(auth, 1);
    const answer = await t.gql('mutation($id: ID!) { updateOrder(id: $id, input: { notes: "ms" }) { order { updatedAt } } }', { id });
    const updatedAt = answer.json<{ data: { updateOrder: { order: { updatedAt: string } } } }>().data.updateOrder.order.updatedAt;
    await expect.poll(() => updated.received.length, { timeout: 10_000 }).toBe(1);
    expect(updated.received).toStrictEqual([{ orderUpdated: { id, updatedAt } }]);
    const read = await t.gql('query($id: ID!) { order(id: $id) { updatedAt } }', { id });
    expect(read.json<{ data: { order: { updatedAt: string } } }>().data.order.updatedAt).toBe(updatedAt);
    updated.dispose();
  }, 20_000);

  it('delivers metadata numbers beyond a double as the JSON numbers they are, as order(id) does', async () => {
    // A raw socket, to see the text graphql-ws writes (a client's JSON.parse would round the number).
    const authorization = await t.bearer('exact-numbers');
    const socket = new WebSocket(url, 'graphql-transport-ws');
    const frames: string[] = [];
    socket.on('message', (data: Buffer) => frames.push(data.toString()));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
    await expect.poll(() => frames.some((frame) => frame.includes('connection_ack'))).toBe(true);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { orderCreated { metadata } }' } }));
    await subscribedIn(authorization, 1);
    const created = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization, 'content-type': 'application/json' },
      payload: '{"customer_id":"c","items":[{"product_id":"p","quantity":1,"price":5}],"total":5,"metadata":{"big":12345678901234567890,"small":1}}',
    });
    expect(created.statusCode).toBe(201);
    await expect.poll(() => frames.filter((frame) => frame.includes('"next"')).length, { timeout: 10_000 }).toBe(1);
    const next = frames.find((frame) => frame.includes('"next"'))!;
    expect(next).toContain('"metadata":{"big":12345678901234567890,"small":1}');
    socket.close();
  }, 20_000);

  it('orderUpdated(id) follows one order only', async () => {
    const { client } = connect(t.auth);
    const a = (await t.rest.post('/api/orders', body)).json<{ data: { id: string } }>().data.id;
    const b = (await t.rest.post('/api/orders', body)).json<{ data: { id: string } }>().data.id;
    await subscribedIn(t.auth, 0);
    const one = subscribe(client, 'subscription($id: ID) { orderUpdated(id: $id) { id notes } }', { id: a });
    await subscribedIn(t.auth, 1);
    await t.rest.put(`/api/orders/${b}`, { notes: 'b' });
    await t.rest.put(`/api/orders/${a}`, { notes: 'a' });
    await expect.poll(() => one.received.length, { timeout: 10_000 }).toBe(1);
    await sleep(300);
    expect(one.received).toStrictEqual([{ orderUpdated: { id: a, notes: 'a' } }]);
    one.dispose();
  }, 20_000);

  it('refuses orderUpdated(id) of an order that is not the workspace’s with NOT_FOUND, instead of never delivering', async () => {
    // A workspace of its own, so that its key's two connections are this test's alone.
    const auth = await t.bearer('follower');
    const { client, closed } = connect(auth);
    const foreign = (await t.rest.post('/api/orders', body)).json<{ data: { id: string } }>().data.id;
    const missing = `order_${'0'.repeat(26)}`;
    for (const id of [foreign, missing, 'not-an-order-id']) {
      const refused = subscribe(client, 'subscription($id: ID) { orderUpdated(id: $id) { id } }', { id });
      await expect.poll(() => refused.completed(), { timeout: 5_000 }).toBe(true);
      expect(refused.resultErrors).toStrictEqual([
        expect.objectContaining({ path: ['orderUpdated'], extensions: { code: 'NOT_FOUND' } }),
      ]);
      // Named when it could be an id; text of another shape is not echoed (as order(id) and REST do).
      expect((refused.resultErrors[0] as { message: string }).message).toBe(
        id.startsWith('order_') ? `Order ${id} not found` : 'Order not found',
      );
      expect(refused.received).toStrictEqual([]);
    }
    // The refusals left the connection usable, and were not counted against its two subscriptions.
    const own = (await t.rest.post('/api/orders', body, { authorization: auth })).json<{ data: { id: string } }>().data.id;
    const followed = subscribe(client, 'subscription($id: ID) { orderUpdated(id: $id) { id notes } }', { id: own });
    const all = subscribe(client, 'subscription { orderUpdated { id } }');
    await subscribedIn(auth, 2);
    await t.rest.put(`/api/orders/${own}`, { notes: 'seen' }, { authorization: auth });
    await expect.poll(() => followed.received, { timeout: 10_000 }).toStrictEqual([{ orderUpdated: { id: own, notes: 'seen' } }]);
    await expect.poll(() => all.received, { timeout: 10_000 }).toStrictEqual([{ orderUpdated: { id: own } }]);
    expect(closed()).toBeUndefined();
    followed.dispose();
    all.dispose();
  }, 20_000);

  it('takes the key as Authorization too (GraphiQL sends its Headers tab as the payload)', async () => {
    let closed: number | undefined;
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { Authorization: await t.bearer('graphiql') },
      on: { closed: (event) => (closed = (event as { code: number }).code), connected: () => undefined },
      onNonLazyError: () => undefined,
    });
    clients.push(client);
    const created = subscribe(client, 'subscription { orderCreated { customerId } }');
    await subscribedIn(await t.bearer('graphiql'), 1);
    await t.rest.post('/api/orders', body, { authorization: await t.bearer('graphiql') });
    await expect.poll(() => created.received.length, { timeout: 5_000 }).toBe(1);
    expect(closed).toBeUndefined();
  });

  it.each([
    ['a bad key', 'Bearer ogk_not-a-real-key'],
    ['no key', undefined],
  ])('closes with 4403 for %s in connection_init', async (_label, authorization) => {
    const { closed } = connect(authorization);
    await expect.poll(() => closed()?.code, { timeout: 5_000 }).toBe(4403);
  });

  it('closes with 4403 and delivers nothing more once its key is revoked', async () => {
    const auth = await t.bearer('revoked');
    const { client, closed } = connect(auth);
    const created = subscribe(client, 'subscription { orderCreated { id } }');
    await subscribedIn(auth, 1);
    await t.rest.post('/api/orders', body, { authorization: auth });
    await expect.poll(() => created.received.length, { timeout: 5_000 }).toBe(1);
    const [key] = await t.app.services.auth.listApiKeys('revoked');
    await t.app.services.auth.revokeApiKey(key?.id);
    await sleep(600); // its connections check it again twice a second
    // Another key of the same workspace goes on creating orders.
    await t.rest.post('/api/orders', body, { authorization: await t.bearer('revoked') });
    await expect.poll(() => closed()?.code, { timeout: 5_000 }).toBe(4403);
    expect(created.received).toHaveLength(1);
  });

  it('a stock graphql-ws client retries a 4403 (graphql-ws deems Forbidden one that may pass later) unless told not to', async () => {
    const closes: number[] = [];
    const tries = (shouldRetry?: () => boolean) =>
      new Promise<void>((resolve) => {
        const client = createClient({
          url,
          webSocketImpl: WebSocket,
          lazy: false,
          retryAttempts: 2,
          retryWait: async () => undefined,
          ...(shouldRetry ? { shouldRetry } : {}),
          connectionParams: { authorization: 'Bearer ogk_not-a-real-key' },
          on: { closed: (event) => void closes.push((event as { code: number }).code) },
          onNonLazyError: () => resolve(),
        });
        clients.push(client);
      });
    await tries();
    expect(closes).toStrictEqual([4403, 4403, 4403]);
    closes.length = 0;
    await tries(() => false);
    expect(closes).toStrictEqual([4403]);
  });

  it('closes an idle connection with 4403 within a few seconds of its key being revoked, with no event to trigger it', async () => {
    const auth = await t.bearer('revoked-idle');
    const { client, closed } = connect(auth);
    const created = subscribe(client, 'subscription { orderCreated { id } }');
    await subscribedIn(auth, 1);
    const [key] = await t.app.services.auth.listApiKeys('revoked-idle');
    await t.app.services.auth.revokeApiKey(key?.id);
    // Nothing happens in the workspace: the subscription used to stay open for good on a revoked key.
    await expect.poll(() => closed(), { timeout: 4_000, interval: 100 }).toStrictEqual({
      code: 4403,
      reason: 'Forbidden: the API key has been revoked',
    });
    expect(created.received).toStrictEqual([]);
  });

  it('ends a subscription that fell 1,000 events behind with SUBSCRIBER_TOO_SLOW, not a quiet complete', async () => {
    const auth = await t.bearer('burst');
    const { client, closed } = connect(auth);
    const created = subscribe(client, 'subscription { orderCreated { id } }');
    await subscribedIn(auth, 1);
    const published: CloudEvent[] = [];
    const stop = t.app.events.relay.subscribe((event) => published.push(event));
    await t.rest.post('/api/orders', body, { authorization: auth });
    await expect.poll(() => created.received.length, { timeout: 5_000 }).toBe(1);
    stop();
    // More events at once than the subscriber can have queued: the one after them cuts it off.
    const [template] = published as [CloudEvent];
    const notify = (t.app.events.relay as unknown as { notify(event: CloudEvent): void }).notify.bind(t.app.events.relay);
    for (let n = 0; n < 1002; n++) {
      const id = `order_burst${String(n).padStart(21, '0')}`;
      const data = template.data as { order: Record<string, unknown> };
      notify({ ...template, id: `evt_burst${n}`, subject: id, data: { ...data, order: { ...data.order, id } } });
    }
    await expect.poll(() => created.errors.length, { timeout: 10_000 }).toBe(1);
    expect(created.received).toHaveLength(1 + 1001);
    expect(created.errors[0]).toMatchObject([{ extensions: { code: 'SUBSCRIBER_TOO_SLOW' } }]);
    expect(created.completed()).toBe(false);
    expect(closed()).toBeUndefined();
  });

  it('closes with 1013 (try again later), not 4403, when the key cannot be checked because the database is down', async () => {
    const auth = await t.bearer('outage');
    const down = vi
      .spyOn(t.app.services.auth, 'authenticate')
      .mockRejectedValue(new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable'));
    try {
      const { closed } = connect(auth);
      await expect.poll(() => closed()?.code, { timeout: 5_000 }).toBe(1013);
      expect(closed()?.reason).toMatch(/try again/i);
    } finally {
      down.mockRestore();
    }
  });

  it('closes with 4430 on one subscription too many', async () => {
    const { client, closed } = connect(await t.bearer('acme'));
    subscribe(client, 'subscription { orderCreated { id } }');
    subscribe(client, 'subscription { orderUpdated { id } }');
    await sleep(200);
    expect(closed()).toBeUndefined();
    subscribe(client, 'subscription { orderCreated { id } }');
    await expect.poll(() => closed()?.code, { timeout: 5_000 }).toBe(4430);
    expect(closed()?.reason).toMatch(/too many subscriptions/i);
  });

  it('closes with 4430 when the subscriptions come all at once, too', async () => {
    const auth = await t.bearer('acme');
    const socket = new WebSocket(url, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const acked = new Promise((resolve) => socket.once('message', resolve));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
    await acked;
    for (const id of ['1', '2', '3'])
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { orderCreated { id } }' } }));
    const code = await Promise.race([closed, sleep(2000).then(() => 'still open')]);
    socket.terminate();
    expect(code).toBe(4430);
  });

  it('does not count a refused subscription against the limit', async () => {
    const { client, closed } = connect(await t.bearer('acme'));
    const refused = [1, 2, 3].map(() => subscribe(client, 'subscription { orderCreated { nope } }'));
    await expect.poll(() => refused.every((r) => r.errors.length === 1), { timeout: 5_000 }).toBe(true);
    subscribe(client, 'subscription { orderCreated { id } }');
    subscribe(client, 'subscription { orderUpdated { id } }');
    await sleep(300);
    expect(closed()).toBeUndefined();
  });

  it('closes with 4431 on one connection too many for a key', async () => {
    const auth = await t.bearer('limited');
    const first = connect(auth);
    const second = connect(auth);
    subscribe(first.client, 'subscription { orderCreated { id } }');
    subscribe(second.client, 'subscription { orderCreated { id } }');
    await sleep(300);
    const third = connect(auth);
    await expect.poll(() => third.closed()?.code, { timeout: 5_000 }).toBe(4431);
    expect(first.closed()).toBeUndefined();
  });

  it('counts one key as one, however its Authorization is spelled (scheme case, spaces)', async () => {
    const auth = await t.bearer('respelled');
    const token = auth.slice('Bearer '.length);
    const first = connect(auth);
    const second = connect(`bearer ${token}`);
    subscribe(first.client, 'subscription { orderCreated { id } }');
    subscribe(second.client, 'subscription { orderCreated { id } }');
    await sleep(300);
    // Each spelling used to be a key of its own, so a client opened 50 connections per spelling.
    const respelled = [`BEARER ${token}`, `Bearer  ${token}`, `Bearer ${token} `].map((authorization) => connect(authorization));
    for (const third of respelled) await expect.poll(() => third.closed()?.code, { timeout: 5_000 }).toBe(4431);
    expect([first.closed(), second.closed()]).toStrictEqual([undefined, undefined]);
  });

  it('does not count a connection that closed while its key was being checked', async () => {
    const auth = await t.bearer('dropped');
    // A slow key lookup (a busy database): each client below is gone before it ends.
    const service = t.app.services.auth;
    const authenticate = service.authenticate.bind(service);
    const slow = vi.spyOn(service, 'authenticate').mockImplementation(async (value) => {
      await sleep(150);
      return authenticate(value);
    });
    try {
      for (let i = 0; i < 3; i++) {
        const socket = new WebSocket(url, 'graphql-transport-ws');
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
        await sleep(20);
        socket.terminate();
      }
      await sleep(300);
    } finally {
      slow.mockRestore();
    }
    const fresh = connect(auth);
    const created = subscribe(fresh.client, 'subscription { orderCreated { id } }');
    await sleep(300);
    await t.rest.post('/api/orders', body, { authorization: auth });
    await expect.poll(() => created.received.length, { timeout: 5_000 }).toBe(1);
    expect(fresh.closed()).toBeUndefined();
  });

  it('applies the HTTP API’s document limits (aliases, tokens) to subscriptions too', async () => {
    const { client } = connect(await t.bearer('acme'));
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: id`).join(' ');
    const tooMany = subscribe(client, `subscription { orderCreated { ${aliases} } }`);
    await expect.poll(() => tooMany.errors.length, { timeout: 5_000 }).toBe(1);
    expect(JSON.stringify(tooMany.errors[0])).toMatch(/alias/i);
    const huge = subscribe(client, `subscription { orderCreated { ${'id '.repeat(3000)} } }`);
    await expect.poll(() => huge.errors.length, { timeout: 5_000 }).toBe(1);
    expect(JSON.stringify(huge.errors[0])).toMatch(/2000 tokens/);
  });

  it('runs only subscriptions: a query over the socket is an error, and plain HTTP still works', async () => {
    const { client } = connect(await t.bearer('acme'));
    const query = subscribe(client, '{ orders { totalCount } }');
    await expect.poll(() => query.errors.length, { timeout: 5_000 }).toBe(1);
    expect(query.errors[0]).toMatchObject([{ message: 'Only subscriptions run over WebSocket; send queries and mutations over HTTP' }]);
    const res = await t.gql('{ orders { totalCount } }');
    expect(res.statusCode).toBe(200);
  });
});

describe('a subscription document that does not validate', () => {
  it('gets the codes it gets over HTTP: GRAPHQL_PARSE_FAILED for a syntax error, GRAPHQL_VALIDATION_FAILED for an unknown field', async () => {
    const { client } = connect(await t.bearer('acme'));
    const cases = [
      ['subscription { orderCreated { id }', 'GRAPHQL_PARSE_FAILED'],
      ['subscription { orderCreated { nope } }', 'GRAPHQL_VALIDATION_FAILED'],
    ] as const;
    for (const [query, code] of cases) {
      const socket = subscribe(client, query);
      await expect.poll(() => socket.errors.length, { timeout: 5_000 }).toBe(1);
      const http = await t.gql(query);
      expect(http.statusCode).toBe(400);
      expect(http.json().errors[0].extensions.code).toBe(code);
      expect(socket.errors[0]).toMatchObject([{ message: http.json().errors[0].message, extensions: { code } }]);
    }
  });

  it('names no schema field it was not asked for when introspection is off, as over HTTP', async () => {
    // Over HTTP the suggestions are stripped (README: shown only while introspection is on); the
    // socket answered "Did you mean "orderCreated" or "orderUpdated"?" in production.
    const own = await createTestApp({ introspection: false });
    try {
      const auth = await own.bearer('acme');
      const client = await listeningWsClient(own.app.http, auth);
      const typo = subscribe(client, 'subscription { orderCreatd { id } }');
      await expect.poll(() => typo.errors.length, { timeout: 5_000 }).toBe(1);
      expect(typo.errors[0]).toMatchObject([{ message: 'Cannot query field "orderCreatd" on type "Subscription".' }]);
      const http = await own.app.http.inject({
        method: 'POST',
        url: '/graphql',
        headers: { authorization: auth, 'content-type': 'application/json' },
        payload: { query: 'subscription { orderCreatd { id } }' },
      });
      expect(http.json()).toMatchObject({ errors: [{ message: 'Cannot query field "orderCreatd" on type "Subscription".' }] });
      await client.dispose();
    } finally {
      await own.close();
    }
  });
});

describe('a server that shuts down', () => {
  it('closes its subscribers with 1001 Going Away, which graphql-ws clients retry', async () => {
    const own = await createTestApp();
    const auth = await own.bearer('acme');
    const address = await own.app.http.listen({ port: 0, host: '127.0.0.1' });
    const socket = new WebSocket(`${address.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    const acked = new Promise((resolve) => socket.once('message', resolve));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
    await acked;
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { orderCreated { id } }' } }));
    await own.close();
    expect(await closed).toStrictEqual({ code: 1001, reason: 'The server is shutting down' });
  });
});

describe('failed authentication over the socket', () => {
  it('counts a refused key in connection_init against the address, as a refused key over HTTP is', async () => {
    // AUTH_FAILURES_PER_MINUTE bounds the keys one address may try; a connection_init is one more way to try them.
    const own = await createTestApp({ authFailuresPerMinute: 3 });
    try {
      const address = await own.app.http.listen({ port: 0, host: '127.0.0.1' });
      const wrong = `Bearer ogk_${'W'.repeat(43)}`;
      const attempt = async () => {
        const socket = new WebSocket(`${address.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
        const outcome = new Promise<string>((resolve) => {
          socket.once('close', (code) => resolve(`closed ${code}`));
          socket.once('unexpected-response', (_request, response) => {
            resolve(`refused ${response.statusCode}`);
            socket.terminate();
          });
          socket.once('error', () => undefined);
        });
        socket.once('open', () =>
          socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: wrong } })),
        );
        return outcome;
      };
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) outcomes.push(await attempt());
      expect(outcomes).toStrictEqual(['closed 4403', 'closed 4403', 'closed 4403', 'refused 429', 'refused 429']);
      // The address is refused over HTTP too, before any key is looked up.
      const res = await fetch(`${address}/api/orders`, { headers: { authorization: wrong } });
      expect(res.status).toBe(429);
    } finally {
      await own.close();
    }
  });
});

describe('a refused upgrade', () => {
  it('closes its socket once answered: a 429 before the WebSocket plugin saw the request kept it open for good', async () => {
    const own = await createTestApp({ rateLimitPerMinute: 1 });
    try {
      const address = await own.app.http.listen({ port: 0, host: '127.0.0.1' });
      const port = Number(new URL(address).port);
      const openSockets = () => new Promise<number>((resolve) => own.app.http.server.getConnections((_e, n) => resolve(n)));
      const upgrade = async (path: string) => {
        const socket = net.connect(port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n',
        );
        const status = await new Promise<string>((resolve) => socket.once('data', (data) => resolve(data.toString().split('\r\n')[0] ?? '')));
        socket.end(); // the client is done; the server must close its side
        return status;
      };
      expect(await upgrade('/graphql')).toBe('HTTP/1.1 101 Switching Protocols');
      await expect.poll(openSockets, { timeout: 5_000 }).toBe(0);
      const refused = [];
      for (const path of ['/graphql', '/graphql', '/api/orders']) refused.push(await upgrade(path));
      expect(refused).toStrictEqual(Array(3).fill('HTTP/1.1 429 Too Many Requests'));
      await expect.poll(openSockets, { timeout: 5_000 }).toBe(0);
    } finally {
      await own.close();
    }
  });
});

describe('the rate limit over the socket', () => {
  it('counts each subscribe message against its key, with its HTTP requests', async () => {
    // Each subscribe is parsed and validated; refused ones (and subscribe, complete, subscribe…) hold
    // no place under SUBSCRIPTIONS_PER_CONNECTION, so only the key's rate limit can bound them.
    const own = await createTestApp({ rateLimitPerMinute: 3 });
    try {
      const auth = await own.bearer('acme');
      const address = await own.app.http.listen({ port: 0, host: '127.0.0.1' });
      const socket = new WebSocket(`${address.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      const acked = new Promise((resolve) => socket.once('message', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: auth } }));
      await acked;
      const codes: unknown[] = [];
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as { type: string; payload?: { extensions?: { code?: string } }[] };
        if (message.type === 'error') codes.push(message.payload?.[0]?.extensions?.code ?? 'no code');
      });
      for (let i = 0; i < 5; i++) {
        socket.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: 'subscription { orderCreated { nope } }' } }));
        await expect.poll(() => codes.length, { timeout: 5_000 }).toBe(i + 1);
      }
      // A validation error has the code it has over HTTP.
      expect(codes).toStrictEqual([...Array(3).fill('GRAPHQL_VALIDATION_FAILED'), 'RATE_LIMITED', 'RATE_LIMITED']);
      socket.terminate();
      // The same bucket as the key's HTTP requests.
      expect((await own.app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: auth } })).statusCode).toBe(429);
    } finally {
      await own.close();
    }
  });
});
