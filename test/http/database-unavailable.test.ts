/**
 * What a client sees while the database cannot be reached (the real outage is
 * in test/faults/database-faults.test.ts; this pins the answers down quickly).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database';
import { ErrorCode } from '../../src/errors/app-error';
import { toAppError } from '../../src/errors/to-app-error';
import { useTestApp } from '../support/app';
import { createServerDatabase, queryRows, usingRealPostgres } from '../support/database';


const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

const t = useTestApp();

describe('while the database is unreachable', () => {
  it('REST answers 503 SERVICE_UNAVAILABLE with Retry-After, and says nothing about the cause', async () => {
    const orders = t.app.services.orders;
    const original = orders.getOrder;
    orders.getOrder = async () => {
      throw refused();
    };
    try {
      const res = await t.rest.get('/api/orders/order_x');
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json().error).toStrictEqual({
        code: 'SERVICE_UNAVAILABLE',
        message: 'The database is unavailable; retry shortly',
        request_id: res.headers['x-request-id'],
      });
      expect(res.body).not.toContain('5432');
    } finally {
      orders.getOrder = original;
    }
  });

  it('GraphQL answers HTTP 503 with extensions.code SERVICE_UNAVAILABLE and Retry-After', async () => {
    const orders = t.app.services.orders;
    const original = orders.getOrder;
    orders.getOrder = async () => {
      throw refused();
    };
    try {
      const res = await t.rest.post('/graphql', { query: '{ order(id: "order_x") { id } }' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json().errors[0]).toMatchObject({
        message: 'The database is unavailable; retry shortly',
        extensions: { code: 'SERVICE_UNAVAILABLE' },
      });
    } finally {
      orders.getOrder = original;
    }
  });

  it('/readyz answers 503 while /healthz stays 200', async () => {
    const db = t.app.db as { ping: () => Promise<boolean> };
    const original = db.ping;
    db.ping = async () => false;
    try {
      expect((await t.rest.get('/readyz', { authorization: null })).statusCode).toBe(503);
      expect((await t.rest.get('/healthz', { authorization: null })).statusCode).toBe(200);
    } finally {
      db.ping = original;
    }
    expect((await t.rest.get('/readyz', { authorization: null })).statusCode).toBe(200);
  });
});

describe('a database server that accepts connections and never answers (hung, or a black-holed address)', () => {
  let server: net.Server;
  let db: Database;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    db = await openDatabase({ kind: 'postgres', url: `postgres://gateway@127.0.0.1:${port}/orders`, poolMax: 2, connectTimeoutMs: 300, statementTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await db?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a query that cannot get a connection within DB_CONNECT_TIMEOUT_MS is a 503, not a 500', async () => {
    const error = await db.em.fork().execute('select 1').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeDefined();
    expect(toAppError(error).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
  });
});

// The server stops answering on connections already open (SIGSTOP, a frozen VM, a network partition
// without resets): only the client's own timer can end the wait. A server is needed to open them.
describe.skipIf(!usingRealPostgres)('a database server that stops answering on open connections', () => {
  let proxy: net.Server;
  let db: Database;
  let frozen = false;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    const upstream = new URL(process.env.DATABASE_URL as string);
    proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port || 5432), upstream.hostname);
      for (const socket of [client, server]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
      }
      client.on('data', (chunk) => frozen || server.write(chunk));
      server.on('data', (chunk) => frozen || client.write(chunk));
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const via = new URL(upstream);
    via.hostname = '127.0.0.1';
    via.port = String((proxy.address() as net.AddressInfo).port);
    db = await openDatabase({ kind: 'postgres', url: via.toString(), poolMax: 2, connectTimeoutMs: 300, statementTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await db?.close();
    await new Promise((resolve) => proxy.close(resolve));
  });

  it('ping (so /readyz) answers false within DB_CONNECT_TIMEOUT_MS and 1 s, not when TCP gives up', async () => {
    expect(await db.ping()).toBe(true);
    frozen = true;
    const started = Date.now();
    const answer = await Promise.race([db.ping(), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5000))]);
    expect(answer).toBe(false);
    expect(Date.now() - started).toBeLessThan(300 + 1000 + 500);
  });
});

// An operator closes the database to new connections (`ALTER DATABASE … ALLOW_CONNECTIONS false`, as
// before a maintenance step) and ends the sessions: every new connection is refused with 55000
// "database … is not currently accepting connections". That is an outage to wait out, not a bug.
describe.skipIf(!usingRealPostgres)('a database closed to new connections', () => {
  let db: Database;
  let url: string;
  let name: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ url, drop } = await createServerDatabase());
    name = decodeURIComponent(new URL(url).pathname.slice(1));
    db = await openDatabase({ kind: 'postgres', url, poolMax: 2, connectTimeoutMs: 1000, statementTimeoutMs: 5000 });
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('a query is a 503 SERVICE_UNAVAILABLE, and works again once it is open', async () => {
    expect(await db.em.fork().execute('select 1 as one')).toStrictEqual([{ one: 1 }]);
    const admin = process.env.DATABASE_URL as string;
    await queryRows(admin, `alter database ${name} allow_connections false`);
    await queryRows(admin, `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
    const error = await db.em.fork().execute('select 1').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(String((error as Error)?.message)).toMatch(/is not currently accepting connections/);
    expect(toAppError(error).code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    await queryRows(admin, `alter database ${name} allow_connections true`);
    expect(await db.em.fork().execute('select 1 as one')).toStrictEqual([{ one: 1 }]);
  });
});
