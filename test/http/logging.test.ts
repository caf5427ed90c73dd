import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let auth: string;
let workspaceId: string;

beforeAll(async () => {
  t = await createTestApp();
  auth = await t.bearer('acme');
  workspaceId = (await t.app.services.auth.findWorkspace('acme'))?.id ?? '';
});
afterAll(() => t.close());

const ORDER = { customer_id: 'c1', items: [{ product_id: 'p1', quantity: 1, price: '5.00' }], total: '5.00' };

function completed(reqId: string) {
  const lines = t.logs.filter((line) => line.reqId === reqId && line.msg === 'request completed');
  expect(lines, `log lines of ${reqId}`).toHaveLength(1);
  return lines[0];
}

describe('access log', () => {
  it('writes one JSON line per REST request with request id, route, status, latency and workspace', async () => {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: auth, 'content-type': 'application/json', 'x-request-id': 'client-trace-0001' },
      payload: JSON.stringify(ORDER),
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-request-id']).toBe('client-trace-0001');
    const line = completed('client-trace-0001');
    expect(line).toMatchObject({ level: 30, method: 'POST', route: '/api/orders', url: '/api/orders', status: 201, workspaceId });
    expect(line.latencyMs).toEqual(expect.any(Number));
    expect(line.latencyMs as number).toBeGreaterThan(0);
  });

  it('names the GraphQL operation, its outcome and the workspace', async () => {
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: auth, 'content-type': 'application/json', 'x-request-id': 'client-trace-0002' },
      payload: JSON.stringify({
        query: 'mutation PlaceOrder($input: CreateOrderInput!) { createOrder(input: $input) { order { id } userErrors { code } } }',
        variables: { input: { customerId: 'c1', items: [{ productId: 'p1', quantity: 1, price: '5.00' }], total: '5.00' } },
      }),
    });
    expect(res.json().data.createOrder.order.id).toMatch(/^order_/);
    expect(completed('client-trace-0002')).toMatchObject({
      route: '/graphql',
      status: 200,
      workspaceId,
      operationName: 'PlaceOrder',
      outcome: 'success',
    });
  });

  it('writes an over-long operation name cut to 100 characters, so one request cannot make a 200 KB line', async () => {
    const name = `Q${'A'.repeat(200_000)}`;
    const res = await t.app.http.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: auth, 'content-type': 'application/json', 'x-request-id': 'long-operation-name' },
      payload: JSON.stringify({ query: `query ${name} { orders(first: 1) { totalCount } }` }),
    });
    expect(res.statusCode).toBe(200);
    const line = completed('long-operation-name');
    expect(line.operationName).toBe(`${name.slice(0, 100)}…`);
    expect(JSON.stringify(line).length).toBeLessThan(1000);
  });

  it("names the error's stable code on the line of an answer that carries one, and none on a success", async () => {
    const send = async (method: 'GET' | 'POST', url: string, payload: unknown, reqId: string, authorization = auth) => {
      await t.app.http.inject({ method, url, headers: { authorization, 'content-type': 'application/json', 'x-request-id': reqId }, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });
      return completed(reqId);
    };
    expect(await send('POST', '/api/orders', { ...ORDER, total: '6.00' }, 'code-total')).toMatchObject({ status: 422, errorCode: 'TOTAL_MISMATCH' });
    expect(await send('POST', '/api/orders', { total: '6.00' }, 'code-invalid')).toMatchObject({ status: 422, errorCode: 'VALIDATION_ERROR' });
    expect(await send('GET', '/api/orders/order_missing', undefined, 'code-missing')).toMatchObject({ status: 404, errorCode: 'NOT_FOUND' });
    expect(await send('POST', '/api/orders/order_missing', {}, 'code-method')).toMatchObject({ status: 405, errorCode: 'METHOD_NOT_ALLOWED' });
    expect(await send('GET', '/api/orders', undefined, 'code-anonymous', '')).toMatchObject({ status: 401, errorCode: 'UNAUTHORIZED' });
    expect(await send('POST', '/graphql', { query: '{ nope }' }, 'code-graphql-invalid')).toMatchObject({ status: 400, errorCode: 'GRAPHQL_VALIDATION_FAILED' });
    expect(await send('POST', '/graphql', { query: '{ __typename }' }, 'code-graphql-anonymous', 'Bearer ogk_nope')).toMatchObject({ status: 401, errorCode: 'UNAUTHENTICATED' });
    expect(await send('POST', '/graphql', 'not an object', 'code-graphql-bad-request')).toMatchObject({ status: 400, errorCode: 'BAD_REQUEST' });
    const ok = await send('GET', '/api/orders?limit=1', undefined, 'code-none');
    expect(ok.status).toBe(200);
    expect(ok).not.toHaveProperty('errorCode');
  });

  it('generates a request id when the incoming one is not a sane token', async () => {
    const res = await t.app.http.inject({ method: 'GET', url: '/api/orders/order_x', headers: { authorization: auth, 'x-request-id': 'has spaces <and> more' } });
    const reqId = res.headers['x-request-id'] as string;
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(completed(reqId)).toMatchObject({ route: '/api/orders/:id', status: 404, workspaceId });
  });

  it('labels an unknown URL as unmatched', async () => {
    const res = await t.app.http.inject({ method: 'GET', url: '/no/such/thing' });
    expect(completed(res.headers['x-request-id'] as string)).toMatchObject({ route: '(unmatched)', status: 404, url: '/no/such/thing' });
  });

  it('labels a known URL under another method (405) with its route, in the log and the metrics', async () => {
    // It was "(unmatched)", as though the URL were unknown: a dashboard by route missed every 405.
    const res = await t.app.http.inject({ method: 'DELETE', url: '/api/orders/order_x', headers: { authorization: auth } });
    expect(res.statusCode).toBe(405);
    expect(completed(res.headers['x-request-id'] as string)).toMatchObject({ route: '/api/orders/:id', status: 405 });
    const graphql = await t.app.http.inject({ method: 'PUT', url: '/graphql', headers: { authorization: auth } });
    expect(graphql.statusCode).toBe(405);
    expect(completed(graphql.headers['x-request-id'] as string)).toMatchObject({ route: '/graphql', status: 405 });
    const metrics = await t.app.http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('http_request_duration_seconds_count{method="DELETE",route="/api/orders/:id",status_code="405"} 1');
  });
});

describe('the database driver', () => {
  it('writes its own warnings as JSON lines of the log, not plain text on stdout', async () => {
    // knex warns "Connection Error: …" for each pooled connection the server dropped (an outage,
    // a failover) and printed it with console.log, a line a JSON log shipper cannot parse.
    const knexClient = t.app.db.em.getConnection().getKnex().client as { logger: { warn(message: string): void } };
    const printed: unknown[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void printed.push(args);
    try {
      knexClient.logger.warn('Connection Error: Error: Connection terminated unexpectedly');
    } finally {
      console.log = log;
    }
    expect(printed).toStrictEqual([]);
    expect(t.logs).toContainEqual(
      expect.objectContaining({ level: 40, component: 'database', msg: 'Connection Error: Error: Connection terminated unexpectedly' }),
    );
  });
});

describe('keys stay out of the log', () => {
  it('never writes an API key, whatever happens to the request', async () => {
    const key = auth.slice('Bearer '.length);
    const other = (await t.bearer('globex')).slice('Bearer '.length);
    // Whichever create method the transports call fails unexpectedly, so errors are logged too.
    const orders = t.app.services.orders as unknown as Record<string, unknown>;
    const stubbed = ['createOrder', 'createOrderExactlyOnce'].filter((name) => typeof orders[name] === 'function');
    const originals = stubbed.map((name) => orders[name]);
    for (const name of stubbed) {
      orders[name] = async () => {
        throw new Error('boom');
      };
    }
    try {
      for (const authorization of [auth, `Bearer ${other}`, `Bearer ${key}x`, key]) {
        await t.app.http.inject({ method: 'POST', url: '/api/orders', headers: { authorization, 'content-type': 'application/json' }, payload: JSON.stringify(ORDER) });
        await t.app.http.inject({
          method: 'POST',
          url: '/graphql',
          headers: { authorization, 'content-type': 'application/json' },
          payload: JSON.stringify({
            query: 'mutation { createOrder(input: {customerId: "c", items: [{productId: "p", quantity: 1, price: "1.00"}], total: "1.00"}) { order { id } } }',
          }),
        });
      }
    } finally {
      stubbed.forEach((name, index) => {
        orders[name] = originals[index];
      });
    }
    // The failures above were logged (with their stacks), just not the keys.
    expect(t.logs.some((line) => line.level === 50)).toBe(true);
    const everything = JSON.stringify(t.logs);
    expect(everything).not.toContain(key);
    expect(everything).not.toContain(other);
  });
});

describe('query strings stay out of the log', () => {
  it('logs a query string with every value redacted, so a key put in the URL by mistake is not written', async () => {
    const key = auth.slice('Bearer '.length);
    const res = await t.app.http.inject({
      method: 'GET',
      url: `/api/orders?api_key=${key}&status=pending&customer_id=jane%40example.com`,
      headers: { authorization: auth, 'x-request-id': 'query-in-url' },
    });
    expect(res.statusCode).toBe(422); // api_key is not a list parameter
    expect(completed('query-in-url').url).toBe('/api/orders?api_key=[redacted]&status=[redacted]&customer_id=[redacted]');
    expect(JSON.stringify(t.logs)).not.toContain(key);
    expect(JSON.stringify(t.logs)).not.toContain('jane');
  });

  it('never takes an API key sent as X-Request-Id for the request id (it would be in every line of the request)', async () => {
    const key = auth.slice('Bearer '.length);
    const res = await t.app.http.inject({ method: 'GET', url: '/api/orders/order_x', headers: { authorization: auth, 'x-request-id': key } });
    const reqId = res.headers['x-request-id'] as string;
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(completed(reqId)).toMatchObject({ route: '/api/orders/:id', status: 404 });
    expect(JSON.stringify(t.logs)).not.toContain(key);
  });

  it('redacts a key written into the path, and in a logged error message', async () => {
    const key = auth.slice('Bearer '.length);
    const res = await t.app.http.inject({ method: 'GET', url: `/api/orders/${key}`, headers: { authorization: auth, 'x-request-id': 'key-in-path' } });
    expect(res.statusCode).toBe(404);
    expect(completed('key-in-path').url).toBe('/api/orders/ogk_[redacted]');

    const orders = t.app.services.orders;
    const original = orders.listOrders;
    orders.listOrders = async () => {
      throw new Error(`something quoted ${key}`);
    };
    try {
      const failed = await t.app.http.inject({ method: 'GET', url: '/api/orders', headers: { authorization: auth, 'x-request-id': 'key-in-error' } });
      expect(failed.statusCode).toBe(500);
    } finally {
      orders.listOrders = original;
    }
    const logged = t.logs.find((line) => line.reqId === 'key-in-error' && line.level === 50) as { err: { message: string; stack: string } };
    expect(logged.err.message).toBe('something quoted ogk_[redacted]');
    expect(JSON.stringify(t.logs)).not.toContain(key);
  });

  it('logs a failed statement without the values written into it (an update’s notes and address stay out of the log)', async () => {
    // MikroORM writes the values into the statement's text, and the driver's error message begins
    // with that text: a database failure logged the customer's address and notes whole.
    const created = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: auth, 'content-type': 'application/json' },
      payload: JSON.stringify(ORDER),
    });
    const id = created.json<{ data: { id: string } }>().data.id;
    const connection = t.app.db.em.fork().getConnection();
    await connection.execute(
      "create function refuse_order_update() returns trigger language plpgsql as $$ begin raise exception 'order updates are refused'; end $$",
    );
    await connection.execute('create trigger refuse_order_update before update on orders for each row execute function refuse_order_update()');
    try {
      const failed = await t.app.http.inject({
        method: 'PUT',
        url: `/api/orders/${id}`,
        headers: { authorization: auth, 'content-type': 'application/json', 'x-request-id': 'statement-failed' },
        payload: JSON.stringify({
          notes: 'Leave it with Mrs Secretname, +62 811 555',
          shipping_address: { name: 'Jane Secretname', address: '1 Hidden Street', city: 'Jakarta', postal_code: '12345', country: 'ID' },
        }),
      });
      expect(failed.statusCode).toBe(500);
    } finally {
      await connection.execute('drop trigger refuse_order_update on orders');
      await connection.execute('drop function refuse_order_update()');
    }
    const logged = t.logs.find((line) => line.reqId === 'statement-failed' && line.level === 50) as { err: { message: string; stack: string } };
    // What failed stays readable: the statement's start, and PostgreSQL's reason.
    expect(logged.err.message).toMatch(/^update "orders" set .*\[values not logged\].* - order updates are refused$/);
    expect(logged.err.stack).toContain('order updates are refused');
    expect(JSON.stringify(t.logs)).not.toMatch(/Secretname|Hidden Street|811 555/);
  });
});
