/**
 * Seat `websocket-subscriptions`: the graphql-ws endpoint on /graphql as a client app and as an
 * attacker use it, with a raw `ws` socket where a stock client would behave (README "Live changes").
 * graphql-ws's own close codes (its PROTOCOL.md), the 64 KiB message limit, and a client that
 * never reads what it is sent: the server must not keep what it cannot deliver.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_UNREAD_BYTES } from '../../src/graphql/subscriptions';
import { useTestApp } from '../support/app';

const t = useTestApp();
let url: string;

beforeAll(async () => {
  const address = await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  url = `${address.replace('http', 'ws')}/graphql`;
});

/** A raw graphql-transport-ws socket, open, with its messages and how it closed. */
async function open() {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString()) as (typeof messages)[number]));
  socket.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
  });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('open', resolve));
  const init = async (authorization = t.auth) => {
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
    await expect.poll(() => messages.some((message) => message.type === 'connection_ack') || closed !== undefined).toBe(true);
  };
  const closedWith = async () => {
    await expect.poll(() => closed, { timeout: 10_000 }).toBeDefined();
    return closed;
  };
  return { socket, messages, init, closedWith };
}

const subscribe = (id: string, query = 'subscription { orderCreated { id } }') =>
  JSON.stringify({ id, type: 'subscribe', payload: { query } });

describe('the graphql-ws protocol errors (graphql-ws PROTOCOL.md)', () => {
  it('closes with 4401 on a subscribe before connection_init', async () => {
    const s = await open();
    s.socket.send(subscribe('1'));
    expect(await s.closedWith()).toMatchObject({ code: 4401 });
  });

  it('closes with 4429 on a second connection_init', async () => {
    const s = await open();
    await s.init();
    s.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: t.auth } }));
    expect(await s.closedWith()).toMatchObject({ code: 4429 });
  });

  it('closes with 4409 on a second subscribe with an id still running', async () => {
    const s = await open();
    await s.init();
    s.socket.send(subscribe('same'));
    s.socket.send(subscribe('same'));
    expect(await s.closedWith()).toMatchObject({ code: 4409 });
  });

  it('closes with 4400 on malformed JSON and on an unknown message type', async () => {
    const malformed = await open();
    malformed.socket.send('{"type": "connection_init"');
    expect(await malformed.closedWith()).toMatchObject({ code: 4400 });
    const unknown = await open();
    unknown.socket.send(JSON.stringify({ type: 'start', id: '1', payload: { query: '{ __typename }' } }));
    expect(await unknown.closedWith()).toMatchObject({ code: 4400 });
  });

  it('closes with 4408 when no connection_init comes in time', async () => {
    const s = await open();
    expect(await s.closedWith()).toMatchObject({ code: 4408 });
  });

  it('closes with 1009 (message too big) on a message over 64 KiB', async () => {
    const s = await open();
    await s.init();
    s.socket.send(subscribe('big', `subscription { orderCreated { id ${'id '.repeat(30_000)} } }`));
    expect(await s.closedWith()).toMatchObject({ code: 1009 });
  });
});

describe('the HTTP API’s document limits', () => {
  // 120 fields on an order's items, each counted at 500 items: about 60,000, over the default 50,000.
  const items = `items { ${'name price productId quantity sku '.repeat(24)}}`;

  it('refuses a subscription over the cost limit with QUERY_LIMIT_EXCEEDED, as HTTP refuses the same selection', async () => {
    const http = (await t.gql(`query { order(id: "order_01J00000000000000000000000") { ${items} } }`)).json<{
      errors: { extensions: Record<string, unknown> }[];
    }>();
    expect(http.errors[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'cost' });
    const s = await open();
    await s.init();
    s.socket.send(subscribe('costly', `subscription { orderCreated { ${items} } }`));
    await expect.poll(() => s.messages.find((message) => message.id === 'costly')).toBeDefined();
    expect(s.messages.find((message) => message.id === 'costly')).toMatchObject({
      type: 'error',
      payload: [{ extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'cost' } }],
    });
    // As over HTTP, where Apollo takes it out: a WebSocket answer has no HTTP status.
    expect(s.messages.find((message) => message.id === 'costly')?.payload).not.toMatchObject([{ extensions: { http: {} } }]);
    // Refused before it runs: the workspace has no subscriber.
    const { workspaceId } = await t.app.services.auth.authenticate(t.auth);
    expect(t.app.feed.listening(workspaceId)).toBe(0);
    s.socket.close();
  });
});

describe('a client that never reads what it is sent', () => {
  it('is cut off once 1 MiB waits for it, rather than the server keeping every pong of its pings', async () => {
    const reader = await open();
    await reader.init();
    const others = new Set(t.app.http.websocketServer.clients);
    const slow = await open();
    await slow.init();
    const [server] = [...t.app.http.websocketServer.clients].filter((client) => !others.has(client));
    if (!server) throw new Error('the server holds no socket of the slow client');
    // From here on the slow client reads nothing: what the server sends it stays in the server's memory.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const ping = JSON.stringify({ type: 'ping', payload: { padding: 'x'.repeat(60_000) } });
    let mostUnread = 0;
    // 400 pings of 60 KB: 24 MB of pongs the server would otherwise hold for a client that never reads them.
    for (let i = 0; i < 400 && slow.socket.readyState === WebSocket.OPEN; i += 1) {
      slow.socket.send(ping);
      if (i % 20 === 19) {
        await sleep(20);
        mostUnread = Math.max(mostUnread, server.bufferedAmount);
      }
    }
    await sleep(500);
    mostUnread = Math.max(mostUnread, server.bufferedAmount);
    // At most the limit and the one message that crossed it.
    expect(mostUnread).toBeLessThanOrEqual(MAX_UNREAD_BYTES + 64 * 1024);
    // The server has let go of the slow socket; the other client is served as before.
    await expect.poll(() => t.app.http.websocketServer.clients.has(server), { timeout: 10_000 }).toBe(false);
    const { workspaceId } = await t.app.services.auth.authenticate(t.auth);
    reader.socket.send(subscribe('created'));
    await expect.poll(() => t.app.feed.listening(workspaceId), { timeout: 10_000 }).toBe(1);
    await t.rest.post('/api/orders', { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 });
    await expect.poll(() => reader.messages.filter((message) => message.type === 'next').length, { timeout: 10_000 }).toBe(1);
    slow.socket.terminate();
    reader.socket.close();
  }, 60_000);
});
