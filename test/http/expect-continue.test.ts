/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): a client on a slow link sends the
 * headers alone and waits, so that it uploads the body only when the server
 * will read it. The server said `100 Continue` to every such request, before
 * checking anything, and then refused it (a bad key, a body over the limit):
 * the client had uploaded the body for nothing. Now a request the server
 * refuses on its headers gets its final answer at once, without a 100, and
 * `Connection: close` (its body was never read, so the connection cannot be
 * reused); a request it will read gets the 100, then its answer.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let port: number;
let bearer: string;
beforeAll(async () => {
  t = await createTestApp({ bodyLimit: 4096 });
  bearer = await t.bearer();
  await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.http.server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await t.close();
});

const body = JSON.stringify({ customer_id: 'expect', items: [{ product_id: 'p', quantity: 1, price: 3 }], total: 3 });

/**
 * Sends the headers with `Expect: 100-continue` and waits for the server's first answer
 * (at most 2 s); sends the body only after a `100 Continue`, as a client does.
 */
function expectContinue(
  path: string,
  authorization: string,
  contentLength = Buffer.byteLength(body),
  payload = body,
  expectation = '100-continue',
) {
  return new Promise<{ first: string; all: string; bodySent: boolean }>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let all = '';
    let first: string | undefined;
    let bodySent = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ first: first ?? '', all, bodySent });
    };
    const timer = setTimeout(finish, 5000);
    socket.on('error', () => undefined);
    socket.on('close', finish);
    socket.on('data', (chunk) => {
      all += chunk.toString();
      if (first === undefined) {
        first = all.split('\r\n', 1)[0];
        if (first === 'HTTP/1.1 100 Continue') {
          bodySent = true;
          socket.write(payload);
        }
      }
      // A final answer with its whole body: done.
      const final = /HTTP\/1\.1 [2-5]\d\d [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(all);
      const length = final ? /content-length: (\d+)/i.exec(final[1] ?? '') : null;
      if (final && length && Buffer.byteLength(final[2] ?? '') >= Number(length[1])) finish();
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${contentLength}\r\nExpect: ${expectation}\r\n\r\n`,
    );
  });
}

it('answers a request with a bad key at once with 401 and Connection: close, never asking for its body', async () => {
  for (const path of ['/api/orders', '/graphql']) {
    const answer = await expectContinue(path, 'Bearer ogk_not-a-key');
    expect(answer.first).toBe('HTTP/1.1 401 Unauthorized');
    expect(answer.bodySent).toBe(false);
    expect(answer.all).toMatch(/\r\nconnection: close\r\n/i);
  }
});

it('answers a body over the limit at once with 413, never asking for it', async () => {
  const answer = await expectContinue('/api/orders', bearer, 5000);
  expect(answer.first).toBe('HTTP/1.1 413 Payload Too Large');
  expect(answer.bodySent).toBe(false);
  expect(answer.all).toMatch(/"code":"PAYLOAD_TOO_LARGE"/);
  expect(answer.all).toMatch(/\r\nconnection: close\r\n/i);
});

it('says 100 Continue to a request it will read, and creates the order', async () => {
  const answer = await expectContinue('/api/orders', bearer);
  expect(answer.first).toBe('HTTP/1.1 100 Continue');
  expect(answer.bodySent).toBe(true);
  expect(answer.all).toMatch(/\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
  const [row] = await t.app.db.em
    .fork()
    .execute<{ n: number }[]>("select count(*)::int as n from orders where customer_id = 'expect'");
  expect(row?.n).toBe(1);

  // Written otherwise, and beside another expectation: still a 100-continue (Node reads it so).
  const spelled = await expectContinue('/api/orders', bearer, Buffer.byteLength(body), body, '100-Continue, x-other');
  expect(spelled.first).toBe('HTTP/1.1 100 Continue');
  expect(spelled.all).toMatch(/\r\n\r\nHTTP\/1\.1 201 Created\r\n/);

  const query = JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' });
  const graphql = await expectContinue('/graphql', bearer, Buffer.byteLength(query), query);
  expect(graphql.first).toBe('HTTP/1.1 100 Continue');
  expect(graphql.all).toMatch(/\r\n\r\nHTTP\/1\.1 200 OK\r\n[\s\S]*"totalCount":2/);
});

it('serves a request with an expectation it does not know like any other, with its X-Request-Id and envelope', async () => {
  // RFC 9110 lets a server refuse it with 417 or go on; Node's bare 417 had no request id, envelope or security headers.
  const socket = net.connect(port, '127.0.0.1');
  let all = '';
  socket.on('data', (chunk) => (all += chunk.toString()));
  socket.write(
    `POST /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: x-unknown\r\nConnection: close\r\n\r\n${body}`,
  );
  await new Promise((resolve) => socket.on('close', resolve));
  expect(all.split('\r\n', 1)[0]).toBe('HTTP/1.1 201 Created');
  expect(all).toMatch(/\r\nx-request-id: [^\r]+\r\n/i);
  expect(all).toMatch(/"success":true/);
});
