/**
 * What a client on a kept-alive connection sees while the server shuts down
 * (SIGTERM): the request it had in flight is answered in full, and told that
 * the connection ends there (`Connection: close`), so the client opens a new
 * one instead of reusing a dying one; a request that still arrives on the
 * connection is refused like any other 503 of the contract (the error
 * envelope or a GraphQL response, `SERVICE_UNAVAILABLE`, `Retry-After`,
 * `X-Request-Id`), and writes nothing, so the client retries it elsewhere
 * with its idempotency key.
 */
import net from 'node:net';
import { expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The HTTP/1.1 responses in what a socket received, in order (each with a Content-Length). */
function parseResponses(raw: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyBytes = Buffer.from(rest.slice(end + 4)).subarray(0, length);
    responses.push({ status: Number(statusLine.split(' ')[1]), headers, body: bodyBytes.toString() });
    rest = Buffer.from(rest.slice(end + 4)).subarray(length).toString();
  }
  return responses;
}

const order = (customer: string) =>
  JSON.stringify({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 3 }], total: 3 });

function post(path: string, bearer: string, body: string, key: string): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer}\r\nContent-Type: application/json\r\n` +
    `Idempotency-Key: ${key}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

interface Connection {
  socket: net.Socket;
  /** Everything received until the server closed the connection (or 10 s passed). */
  received: Promise<string>;
  /** Whether the server closed the connection (not the 10 s limit). */
  closedByServer: () => boolean;
}

async function connect(port: number): Promise<Connection> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let text = '';
  let closedByServer = false;
  socket.on('data', (chunk) => (text += chunk.toString()));
  socket.on('end', () => (closedByServer = true));
  const received = new Promise<string>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, 10_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', () => undefined);
  });
  return { socket, received, closedByServer: () => closedByServer };
}

/** Starts the app's server, sends `first` but its last bytes, and begins the shutdown once the server has that request. */
async function shutdownDuring(t: TestApp, first: string): Promise<{ connection: Connection; closed: Promise<void> }> {
  await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.http.server.address() as net.AddressInfo;
  const connection = await connect(port);
  const arrived = new Promise((resolve) => t.app.http.server.once('request', resolve));
  connection.socket.write(first.slice(0, -5));
  await arrived;
  const closed = t.app.http.close();
  // Shutdown has begun (no new connections) before the client sends anything more.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { connection, closed };
}

it('answers a request in flight when shutdown begins in full, with Connection: close, and then closes the connection', async () => {
  const t = await createTestApp();
  try {
    const bearer = await t.bearer();
    const first = post('/api/orders', bearer, order('drain-inflight'), 'drain-inflight');
    const { connection, closed } = await shutdownDuring(t, first);
    connection.socket.write(first.slice(-5));
    const responses = parseResponses(await connection.received);
    await closed;
    expect(responses).toHaveLength(1);
    expect(responses[0]?.status).toBe(201);
    expect(responses[0]?.headers.connection).toBe('close');
    expect(JSON.parse(responses[0]?.body ?? '{}').data.customer_id).toBe('drain-inflight');
    expect(connection.closedByServer()).toBe(true);
  } finally {
    await t.close();
  }
});

it.each([
  ['REST', '/api/orders'],
  ['GraphQL', '/graphql'],
])(
  'refuses a %s request that arrives on an open connection after shutdown began with 503 SERVICE_UNAVAILABLE and Retry-After, writing nothing',
  async (_transport, path) => {
    const t = await createTestApp();
    try {
      const bearer = await t.bearer();
      const first = post('/api/orders', bearer, order('drain-first'), 'drain-first');
      const late =
        path === '/graphql'
          ? post(
              path,
              bearer,
              JSON.stringify({
                query: 'mutation($input: CreateOrderInput!) { createOrder(input: $input, idempotencyKey: "drain-late") { order { id } } }',
                variables: { input: { customerId: 'drain-late', items: [{ productId: 'p', quantity: 1, price: '3' }], total: '3' } },
              }),
              'unused',
            )
          : post(path, bearer, order('drain-late'), 'drain-late');
      const { connection, closed } = await shutdownDuring(t, first);
      // The rest of the first request, and the next one right behind it on the same connection.
      connection.socket.write(first.slice(-5) + late);
      const responses = parseResponses(await connection.received);
      await closed;
      expect(responses.map((response) => response.status)).toStrictEqual([201, 503]);
      const refused = responses[1];
      expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(refused.headers['x-request-id']).toEqual(expect.any(String));
      expect(refused.headers.connection).toBe('close');
      expect(refused.headers['content-type']).toMatch(/^application\/(json|graphql-response\+json)/);
      const body = JSON.parse(refused.body);
      if (path === '/graphql') {
        expect(body).toStrictEqual({
          errors: [{ message: expect.any(String), extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }) }],
        });
      } else {
        expect(body).toStrictEqual({
          success: false,
          error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String), request_id: refused.headers['x-request-id'] },
        });
      }
      const [row] = await t.app.db.em
        .fork()
        .execute<{ n: number }[]>("select count(*)::int as n from orders where customer_id = 'drain-late'");
      expect(row?.n).toBe(0);
    } finally {
      await t.close();
    }
  },
);
