/**
 * A rolling restart behind a real load balancer (HAProxy, Debian's package), as an operator
 * runs one: three gateways on one PostgreSQL and NATS, HAProxy routing by `GET /readyz` as the
 * README's Production section says, a steady load of creates from a client that follows the
 * documented retry rules (an Idempotency-Key on every create; a 503 retried after its
 * Retry-After; a dropped connection retried), and a graphql-ws subscriber through the proxy.
 * Each gateway in turn gets SIGTERM, exits, starts again on its port and is routed to again.
 *
 * What must hold: every create the client sent ends in a 201 within its retries, no key made
 * two orders, order numbers stay consecutive, each change is in JetStream once, and the
 * subscriber, reconnecting by itself and catching up by the documented sync when it does, has
 * every order.
 */
import http from 'node:http';
import { Client as PgClient } from 'pg';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { createServerDatabase } from '../support/database';
import { haproxyInstalled, startHaproxy, type RunningHaproxy } from '../support/haproxy';
import { deleteStream, freePort, readStream, SHARED_NATS_URL, uniqueStream } from '../support/nats';
import { runCli, startServer, type RunningServer } from '../support/processes';

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
const shared = inject('nats');
const haproxy = haproxyInstalled();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

interface Outcome {
  index: number;
  key: string;
  /** Every answer the client saw, in order ('dropped' for a connection that failed). */
  seen: (number | 'dropped')[];
  final?: number | 'dropped';
  id?: string;
}

/** The documented client: a key on every create, 503 retried after Retry-After, a dropped connection retried. */
async function createOrder(base: string, bearer: string, index: number, attempts = 30): Promise<Outcome> {
  const outcome: Outcome = { index, key: `roll-${index}`, seen: [] };
  const body = JSON.stringify({ customer_id: `c${index}`, items: [{ product_id: 'p', quantity: 1, price: 2 }], total: 2 });
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const res = await fetch(`${base}/api/orders`, {
        method: 'POST',
        headers: { authorization: bearer, 'content-type': 'application/json', 'idempotency-key': outcome.key },
        body,
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      outcome.seen.push(res.status);
      outcome.final = res.status;
      if (res.status === 201) {
        outcome.id = (JSON.parse(text) as { data: { id: string } }).data.id;
        return outcome;
      }
      const retryAfter = Number(res.headers.get('retry-after'));
      const inProgress = res.status === 409 && text.includes('IDEMPOTENCY_REQUEST_IN_PROGRESS');
      if (res.status !== 503 && !inProgress) return outcome;
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 200);
    } catch {
      outcome.seen.push('dropped');
      outcome.final = 'dropped';
      await sleep(200);
    }
  }
  return outcome;
}

/** A GET from a loopback address of the caller's choice (127.0.0.2 is "another machine" to TRUST_PROXY=127.0.0.1). */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { localAddress, headers, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on('error', reject);
  });
}

describe.skipIf(!shared.up || !haproxy.up)(`three gateways behind HAProxy ${shared.reason}${haproxy.reason}`, () => {
  const { stream, subjectPrefix } = uniqueStream();
  let database: { url: string; drop: () => Promise<void> };
  let proxy: RunningHaproxy;
  const ports: Record<string, number> = {};
  const servers: Record<string, RunningServer> = {};
  let env: Record<string, string>;
  let bearer: string;

  const start = (name: string) => startServer({ ...env, PORT: String(ports[name]) }, 120_000);

  beforeAll(async () => {
    database = await createServerDatabase();
    env = {
      DATABASE_URL: database.url,
      NATS_URL: SHARED_NATS_URL,
      NATS_STREAM: stream,
      NATS_SUBJECT_PREFIX: subjectPrefix,
      TRUST_PROXY: '127.0.0.1',
      SHUTDOWN_GRACE_MS: '5000',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    };
    expect((await runCli(['migrate'], { DATABASE_URL: database.url }, 120_000)).code).toBe(0);
    const created = await runCli(['apikey', 'create', '--workspace', 'rolling', '--json'], { DATABASE_URL: database.url }, 120_000);
    expect(created.code, created.stderr).toBe(0);
    bearer = `Bearer ${(JSON.parse(created.stdout) as { key: string }).key}`;
    for (const name of ['g1', 'g2', 'g3']) ports[name] = await freePort();
    env.MIGRATE_ON_START = 'false';
    for (const [name, server] of await Promise.all(['g1', 'g2', 'g3'].map(async (name) => [name, await start(name)] as const))) servers[name] = server;
    proxy = await startHaproxy(ports);
    await waitFor(async () => Object.values(await proxy.states()).join() === 'UP,UP,UP', 20_000, 'HAProxy to route to all three');
  }, 180_000);

  afterAll(async () => {
    await proxy?.stop();
    for (const server of Object.values(servers)) await server.stop();
    await database?.drop();
    await deleteStream(SHARED_NATS_URL, stream).catch(() => undefined);
  });

  // First: the processes the rolling restart starts again belong to its test, and stop after it.
  it('passes X-Request-Id both ways and rate-limits the client X-Forwarded-For names, never a spoofed one', async () => {
    // The proxy's own id reaches the gateway, which answers with it: the access logs meet.
    const named = await getFrom('127.0.0.2', `${proxy.url}/api/orders?limit=1`, { authorization: bearer });
    expect(named.status).toBe(200);
    expect(named.headers['x-proxy-unique-id']).toMatch(/^7F000002:/);
    expect(named.headers['x-request-id']).toBe(named.headers['x-proxy-unique-id']);
    // A client's own id goes through untouched.
    const own = await getFrom('127.0.0.2', `${proxy.url}/api/orders?limit=1`, { authorization: bearer, 'x-request-id': 'client-42' });
    expect(own.headers['x-request-id']).toBe('client-42');

    // 127.0.0.2 fails to authenticate through the proxy, claiming another address each time:
    // the gateways count the address HAProxy saw, so it is limited (30 a minute per process).
    const statuses: number[] = [];
    for (let i = 0; i < 3 * 30 + 3 && !statuses.includes(429); i++) {
      statuses.push((await getFrom('127.0.0.2', `${proxy.url}/api/orders`, { authorization: 'Bearer ogk_wrong', 'x-forwarded-for': `203.0.113.${i}` })).status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(new Set(statuses.slice(0, -1))).toStrictEqual(new Set([401]));
    // Another client behind the same proxy is not: the limit is the client's, not the proxy's.
    expect((await getFrom('127.0.0.3', `${proxy.url}/api/orders`, { authorization: 'Bearer ogk_wrong' })).status).toBe(401);

    // Straight to a gateway from outside the proxy, X-Forwarded-For is not believed at all.
    const direct = `http://127.0.0.1:${ports.g1}/api/orders`;
    const directStatuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      directStatuses.push((await getFrom('127.0.0.4', direct, { authorization: 'Bearer ogk_wrong', 'x-forwarded-for': `198.51.100.${i}` })).status);
    }
    expect(directStatuses.slice(0, 30)).toStrictEqual(Array(30).fill(401));
    expect(directStatuses[30]).toBe(429);

    // TRUST_PROXY=true, "if only the proxy can reach the process": HAProxy adds the address it saw
    // after the one the client wrote, and that one is the client's, whatever the client claims.
    const lonePort = await freePort();
    const lone = await startServer({ ...env, TRUST_PROXY: 'true', PORT: String(lonePort) }, 120_000);
    const single = await startHaproxy({ lone: lonePort });
    try {
      await waitFor(async () => (await single.states()).lone === 'UP', 20_000, 'HAProxy to route to the lone gateway');
      const spoofed: number[] = [];
      for (let i = 0; i < 31; i++) {
        spoofed.push((await getFrom('127.0.0.2', `${single.url}/api/orders`, { authorization: 'Bearer ogk_wrong', 'x-forwarded-for': `203.0.113.${i}` })).status);
      }
      expect(spoofed.slice(0, 30)).toStrictEqual(Array(30).fill(401));
      expect(spoofed[30]).toBe(429);
      expect((await getFrom('127.0.0.3', `${single.url}/api/orders`, { authorization: 'Bearer ogk_wrong' })).status).toBe(401);
    } finally {
      await single.stop();
      await lone.stop();
    }
  });

  it('loses, fails and duplicates nothing through a rolling restart under load', { timeout: 240_000 }, async () => {
    // The subscriber: graphql-ws through the proxy, retrying as graphql-ws does; on every reconnect
    // it catches up with the README's sync (sort=updated_at, updated_since = the last change it saw).
    const heard = new Set<string>();
    let lastSeen = '1970-01-01T00:00:00Z';
    let sinceAtClose = lastSeen;
    let reconnects = 0;
    const sync = async (since: string) => {
      let cursor: string | null = null;
      do {
        const query = new URLSearchParams({ sort: 'updated_at', updated_since: since, limit: '100' });
        if (cursor) query.set('cursor', cursor);
        const res = await fetch(`${proxy.url}/api/orders?${query.toString()}`, { headers: { authorization: bearer } });
        if (res.status !== 200) throw new Error(`sync answered ${res.status}`);
        const page = (await res.json()) as { data: { id: string; updated_at: string }[]; pagination: { next_cursor: string | null } };
        for (const order of page.data) heard.add(order.id);
        cursor = page.pagination.next_cursor;
      } while (cursor);
    };
    const syncs: Promise<void>[] = [];
    let connections = 0;
    const client: Client = createClient({
      url: `${proxy.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: bearer },
      retryAttempts: 50,
      retryWait: async () => {
        await sleep(300);
      },
      shouldRetry: () => true,
      on: {
        closed: () => {
          sinceAtClose = lastSeen;
        },
        connected: () => {
          if (connections++ === 0) return;
          reconnects++;
          // graphql-ws subscribes again right after the ack: sync once that has been handled.
          // From 30 s before the last change it heard, as the README says: the relays of several
          // processes publish independently, so changes of different orders arrive out of updated_at order.
          syncs.push(sleep(500).then(() => sync(new Date(Date.parse(sinceAtClose) - 30_000).toISOString())));
        },
      },
    });
    const subscriptionErrors: unknown[] = [];
    const dispose = client.subscribe<{ orderCreated: { id: string; updatedAt: string } }>(
      { query: 'subscription { orderCreated { id updatedAt } }' },
      {
        next: ({ data }) => {
          if (!data) return;
          heard.add(data.orderCreated.id);
          if (data.orderCreated.updatedAt > lastSeen) lastSeen = data.orderCreated.updatedAt;
        },
        error: (error) => subscriptionErrors.push(error),
        complete: () => undefined,
      },
    );

    // Steady load through the proxy until the restart is over.
    const outcomes: Outcome[] = [];
    let next = 0;
    let loading = true;
    const worker = async () => {
      while (loading) outcomes.push(await createOrder(proxy.url, bearer, next++));
    };
    const workers = Array.from({ length: 6 }, worker);
    await sleep(2000);

    const restarts: { name: string; exitCode: number | null; readyzWhileDraining: string[] }[] = [];
    for (const name of ['g1', 'g2', 'g3']) {
      const server = servers[name];
      const readyzWhileDraining: string[] = [];
      const exited = server.stop();
      let gone = false;
      void exited.then(() => (gone = true));
      // From the moment it has taken the signal until it exits, it is not ready.
      await waitFor(async () => gone || server.output().includes('shutting down'), 5000, 'the SIGTERM to be taken');
      while (!gone) {
        readyzWhileDraining.push(
          await fetch(`http://127.0.0.1:${ports[name]}/readyz`, { signal: AbortSignal.timeout(2000) }).then(async (res) => `${res.status} ${await res.text()}`, () => 'refused' as const),
        );
        await sleep(100);
      }
      restarts.push({ name, exitCode: await exited, readyzWhileDraining });
      servers[name] = await start(name);
      await expect.poll(async () => (await proxy.states())[name], { timeout: 20_000 }).toBe('UP');
      await sleep(1000);
    }
    await sleep(2000);
    loading = false;
    await Promise.all(workers);

    // What the client saw.
    const failed = outcomes.filter((outcome) => outcome.final !== 201);
    const summary = {
      creates: outcomes.length,
      retried: outcomes.filter((outcome) => outcome.seen.length > 1).length,
      answers: outcomes.flatMap((outcome) => outcome.seen).reduce<Record<string, number>>((count, seen) => ({ ...count, [seen]: (count[seen] ?? 0) + 1 }), {}),
      reconnects,
      restarts,
    };
    console.info('rolling restart', JSON.stringify(summary));
    expect(failed.map((outcome) => outcome.seen)).toStrictEqual([]);
    for (const restart of restarts) {
      expect(restart.exitCode).toBe(0);
      expect(restart.readyzWhileDraining.filter((answer) => answer.startsWith('200'))).toStrictEqual([]);
    }
    expect(outcomes.length).toBeGreaterThan(100);

    // The rows: one order per key, consecutive numbers.
    const pg = new PgClient({ connectionString: database.url });
    await pg.connect();
    try {
      const orders = (await pg.query<{ id: string; customer_id: string; n: number }>(
        `select id, customer_id, split_part(order_number, '-', 4)::int as n from orders order by n`,
      )).rows;
      expect(orders).toHaveLength(outcomes.length);
      expect(new Set(orders.map((order) => order.customer_id)).size).toBe(outcomes.length);
      expect(orders.map((order) => order.n)).toStrictEqual(orders.map((_, i) => i + 1));
      expect(new Set(orders.map((order) => order.id))).toStrictEqual(new Set(outcomes.map((outcome) => outcome.id)));

      // Each change once in JetStream, once the queue has drained.
      await expect.poll(async () => (await pg.query('select count(*)::int as n from order_event_queue')).rows[0].n, { timeout: 30_000 }).toBe(0);
      const events = (await pg.query<{ id: string }>('select id from order_events')).rows;
      expect(events).toHaveLength(outcomes.length);
      await expect.poll(async () => (await readStream(SHARED_NATS_URL, stream)).length, { timeout: 30_000 }).toBe(events.length);
      const messages = await readStream(SHARED_NATS_URL, stream);
      expect(new Set(messages.map((message) => message.header?.get('Nats-Msg-Id')))).toStrictEqual(new Set(events.map((event) => event.id)));
    } finally {
      await pg.end();
    }

    // The subscriber reconnected by itself and, with its syncs, has every order.
    await Promise.all(syncs);
    await expect.poll(() => outcomes.filter((outcome) => outcome.id && !heard.has(outcome.id)).length, { timeout: 10_000 }).toBe(0);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(subscriptionErrors).toStrictEqual([]);
    dispose();
    await client.dispose();
  });
});
