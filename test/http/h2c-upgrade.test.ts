/**
 * Java's java.net.http.HttpClient, with its default settings, asks every plain-http request to
 * switch to HTTP/2: `Connection: Upgrade, HTTP2-Settings`, `Upgrade: h2c`, `HTTP2-Settings: …`.
 * A server that does not speak h2c answers it over HTTP/1.1 as if the header were not there
 * (RFC 9110 §7.8). Because `/graphql` also takes WebSocket upgrades, every such request went to the
 * WebSocket path instead: a GET was a plain-text `400 Invalid Upgrade header`, a POST lost its body
 * (`400 INVALID_JSON`, "The request could not be read") and its connection was closed. Now only an
 * upgrade to `websocket` is one; any other `Upgrade` is ignored and the request served, on a
 * connection that stays open for the next request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let port: number;
let bearer: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
beforeAll(async () => {
  t = await createTestApp();
  bearer = await t.bearer('h2c');
  await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.http.server.address() as AddressInfo).port;
});
afterAll(async () => {
  agent.destroy();
  await t.close();
});

/** Java's HttpClient's headers on a plain-http request (HTTP/2 is its default version). */
const H2C = { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': 'AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA' };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}
function send(method: string, path: string, body?: string, headers: Record<string, string> = {}, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { Authorization: bearer, ...H2C, ...headers } });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text, reusedSocket: request.reusedSocket }));
    });
    if (body !== undefined) {
      if (!chunked) request.setHeader('Content-Length', Buffer.byteLength(body));
      request.write(body);
    }
    request.end();
  });
}

const order = JSON.stringify({ customer_id: 'java', items: [{ product_id: 'p', quantity: 2, price: 1.5 }], total: 3 });

it('serves REST and GraphQL requests that ask for h2c over HTTP/1.1, body and all, on one kept-alive connection', async () => {
  const list = await send('GET', '/api/orders?limit=1');
  expect(list.status, list.body).toBe(200);
  expect(JSON.parse(list.body)).toMatchObject({ success: true, data: [] });

  const created = await send('POST', '/api/orders', order, { 'Content-Type': 'application/json', 'Idempotency-Key': 'java-1' });
  expect(created.status, created.body).toBe(201);
  const id = JSON.parse(created.body).data.id as string;
  expect(created.headers.location).toBe(`/api/orders/${id}`);
  expect(created.headers.upgrade).toBeUndefined();
  expect(created.headers.connection).toBe('keep-alive');
  expect(created.reusedSocket).toBe(true);

  // A body of unknown length (BodyPublishers.ofInputStream) goes chunked.
  const chunked = await send('POST', '/api/orders', order, { 'Content-Type': 'application/json', 'Idempotency-Key': 'java-2' }, true);
  expect(chunked.status, chunked.body).toBe(201);

  const updated = await send('PUT', `/api/orders/${id}`, JSON.stringify({ status: 'paid' }), { 'Content-Type': 'application/json' });
  expect(updated.status, updated.body).toBe(200);
  expect(JSON.parse(updated.body).data.status).toBe('paid');

  const read = await send('GET', `/api/orders/${id}`);
  expect(read.status, read.body).toBe(200);
  expect(JSON.parse(read.body).data.status_history.map((entry: { status: string }) => entry.status)).toStrictEqual(['pending', 'paid']);

  const gql = await send('POST', '/graphql', JSON.stringify({ query: `{ order(id: "${id}") { id status total } }` }), { 'Content-Type': 'application/json' });
  expect(gql.status, gql.body).toBe(200);
  expect(JSON.parse(gql.body)).toStrictEqual({ data: { order: { id, status: 'PAID', total: '3.00' } } });

  const gqlGet = await send('GET', `/graphql?query=${encodeURIComponent('{ orders(first: 5) { totalCount } }')}`);
  expect(gqlGet.status, gqlGet.body).toBe(200);
  expect(JSON.parse(gqlGet.body)).toStrictEqual({ data: { orders: { totalCount: 2 } } });
  expect(gqlGet.reusedSocket).toBe(true);

  // Refusals keep their envelope too.
  const unauthorized = await send('GET', '/api/orders', undefined, { Authorization: 'Bearer ogk_nope' });
  expect(unauthorized.status).toBe(401);
  expect(JSON.parse(unauthorized.body).error.code).toBe('UNAUTHORIZED');
});

it('still takes a WebSocket upgrade of /graphql for subscriptions', async () => {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, 'graphql-transport-ws');
  const first = new Promise<string>((resolve, reject) => {
    socket.on('message', (data: Buffer) => resolve(data.toString()));
    socket.on('error', reject);
  });
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: bearer } })));
  expect(JSON.parse(await first)).toStrictEqual({ type: 'connection_ack' });
  socket.close(1000);
});
