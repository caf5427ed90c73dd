/**
 * Crash consistency (outside review, seat "crash-consistency"): nothing is
 * half-written when the process dies at a bad moment.
 *
 * fast-check picks the workloads and the kill points: each round starts the
 * real `order-gateway serve` on the same data (a DATA_DIR for the embedded
 * PostgreSQL, or a throwaway PostgreSQL 15 cluster when DATABASE_URL says a
 * server is at hand), drives creates with Idempotency-Keys (some sent twice at
 * once), status moves and notes while a webhook receiver and a JetStream
 * broker of the test's own listen, and SIGKILLs the gateway at the chosen
 * moment. On a server, one round also SIGKILLs the cluster's postmaster. After
 * every crash the gateway restarts on the same data and every key is retried:
 * a key whose create was answered replays that order, one whose answer was
 * lost gets its one order (or makes it, if the first never committed), never a
 * second. At the end, with the outbox drained, the rows are read behind the
 * gateway's back: every order has exactly its events (sequence 1..version, a
 * status_changed per status move), no event without its order, numbers
 * unique and gap-free per day, JetStream holds every event once under its
 * `Nats-Msg-Id`, each webhook delivery is made once per event and reached
 * the receiver; and PostgreSQL's own amcheck (pg_amcheck on a server, the
 * amcheck extension on the embedded one) finds nothing wrong.
 *
 * In the faults tier (vitest.faults.config.mts): it kills processes and waits
 * out a 30 s lease.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { amcheck } from '@electric-sql/pglite/contrib/amcheck';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import fc from 'fast-check';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/events/order-events';
import { eventually, natsServerInstalled, ownNatsServer, readStream, type OwnNatsServer } from '../support/nats';
import { createPgCluster, type PgCluster } from '../support/pg-cluster';
import { runCli, startServer, type RunningServer } from '../support/processes';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const onServer = Boolean(process.env.DATABASE_URL);
const PG_BIN = '/usr/lib/postgresql/15/bin';
const nats = natsServerInstalled();
const METRICS_TOKEN = 'test-metrics-token-0123456789';
const STATUS_PATH = ['paid', 'processing', 'shipped', 'delivered'] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Round {
  creates: number;
  /** Keys sent twice at once. */
  doubled: number;
  updates: number;
  killAfterMs: number;
}

const roundArbitrary: fc.Arbitrary<Round> = fc.record({
  creates: fc.integer({ min: 5, max: 40 }),
  doubled: fc.integer({ min: 0, max: 5 }),
  updates: fc.integer({ min: 0, max: 30 }),
  killAfterMs: fc.integer({ min: 0, max: 1500 }),
});

interface KeyOutcome {
  key: string;
  body: object;
  /** The order id of a 201 the client got before the crash. */
  answered?: string;
  /** Statuses that came back (a number), or that the answer was lost. */
  statuses: (number | 'lost')[];
}

const orderBody = (key: string, index: number) => ({
  customer_id: key,
  items: [{ product_id: `p${index % 3}`, quantity: 1 + (index % 4), price: '2.50' }],
  total: (2.5 * (1 + (index % 4))).toFixed(2),
  notes: `round order ${index}`,
});

describe.skipIf(!nats.up)('crash consistency: SIGKILL at random moments', () => {
  let dataDir: string | undefined;
  let cluster: PgCluster | undefined;
  let broker: OwnNatsServer;
  let receiver: Receiver;
  let server: RunningServer | undefined;
  let env: Record<string, string>;
  let bearer: string;

  beforeAll(async () => {
    if (onServer) {
      cluster = await createPgCluster();
      env = { DATABASE_URL: cluster.url('gateway'), DB_CONNECT_TIMEOUT_MS: '1000' };
    } else {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-crash-'));
      env = { DATA_DIR: dataDir };
    }
    broker = await ownNatsServer();
    receiver = await startReceiver([200]);
    const key = await runCli(['apikey', 'create', '--workspace', 'crash', '--json'], env, 120_000);
    expect(key.code, key.stderr).toBe(0);
    bearer = `Bearer ${JSON.parse(key.stdout).key}`;
    const hook = await runCli(['webhook', 'create', '--workspace', 'crash', '--url', receiver.url, '--json'], { ...env, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }, 120_000);
    expect(hook.code, hook.stderr).toBe(0);
    receiver.secret = JSON.parse(hook.stdout).secret;
    env = {
      ...env,
      NATS_URL: broker.url,
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
      EVENTS_POLL_INTERVAL_MS: '200',
      MAX_EVENT_LOOP_DELAY_MS: '0',
    };
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    await broker?.destroy();
    cluster?.destroy();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    server = await startServer(env, 120_000);
    return server;
  };

  async function call(url: string, method: string, pathName: string, body?: object, headers: Record<string, string> = {}) {
    const res = await fetch(`${url}${pathName}`, {
      method,
      headers: { authorization: bearer, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(60_000),
    });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', body: (await res.json()) as { success: boolean; data: { id: string; status: string } } };
  }

  /** Retries through 503s of a gateway that is still warming up or waiting for its database. */
  async function callSteadily(url: string, method: string, pathName: string, body?: object, headers: Record<string, string> = {}) {
    for (let attempt = 0; ; attempt++) {
      const answer = await call(url, method, pathName, body, headers).catch(() => undefined);
      if (answer && (answer.status !== 503 || attempt >= 100)) return answer;
      await sleep(200);
    }
  }

  const kill = async (running: RunningServer) => {
    const exited = new Promise((resolve) => running.child.once('exit', resolve));
    running.child.kill('SIGKILL');
    await exited;
  };

  /** SIGKILL of the cluster's postmaster (no shutdown of any kind), then a start on the same data. */
  async function killPostmaster(): Promise<void> {
    const pidFile = cluster!.dataDir + '/postmaster.pid';
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    // Its backends notice that it is gone and exit; until they have, a new postmaster refuses to start.
    for (let attempt = 0; ; attempt++) {
      try {
        cluster!.start();
        return;
      } catch (error) {
        if (attempt > 50) throw error;
        await sleep(200);
      }
    }
  }

  const orders: string[] = [];
  const outcomes: KeyOutcome[] = [];
  const statusOf = new Map<string, number>();

  it('every key has one order, every order exactly its events, once in JetStream and at the receiver; amcheck is clean', { timeout: 600_000 }, async () => {
    const rounds = fc.sample(fc.array(roundArbitrary, { minLength: 4, maxLength: 4 }), { numRuns: 1, seed: Number(process.env.CRASH_SEED ?? Date.now() % 100_000) })[0];
    process.stderr.write(`\n  crash-consistency rounds: ${JSON.stringify(rounds)}\n`);
    for (const [roundIndex, round] of rounds.entries()) {
      const running = await start();
      const roundOutcomes: KeyOutcome[] = [];
      const inFlight: Promise<unknown>[] = [];
      for (let index = 0; index < round.creates; index++) {
        const key = `r${roundIndex}-k${index}`;
        const outcome: KeyOutcome = { key, body: orderBody(key, index), statuses: [] };
        roundOutcomes.push(outcome);
        const sends = index < round.doubled ? 2 : 1;
        for (let send = 0; send < sends; send++)
          inFlight.push(
            call(running.url, 'POST', '/api/orders', outcome.body, { 'idempotency-key': key }).then(
              (answer) => {
                outcome.statuses.push(answer.status);
                if (answer.status === 201) {
                  if (outcome.answered !== undefined) expect(answer.body.data.id).toBe(outcome.answered);
                  outcome.answered = answer.body.data.id;
                }
              },
              () => outcome.statuses.push('lost'),
            ),
          );
      }
      // Status moves and notes on orders of earlier rounds, side by side with the creates.
      for (let index = 0; index < round.updates && orders.length > 0; index++) {
        const id = orders[(index * 7 + roundIndex) % orders.length];
        const step = statusOf.get(id) ?? 0;
        const change = index % 3 === 2 || step >= STATUS_PATH.length ? { notes: `note ${roundIndex}.${index}` } : { status: STATUS_PATH[step] };
        if ('status' in change) statusOf.set(id, step + 1);
        inFlight.push(call(running.url, 'PUT', `/api/orders/${id}`, change).catch(() => undefined));
      }
      await sleep(round.killAfterMs);
      await kill(running);
      await Promise.allSettled(inFlight);
      // One round also crashes the database itself, on a server: the postmaster, with SIGKILL.
      if (cluster && roundIndex === 1) await killPostmaster();

      const again = await start();
      for (const outcome of roundOutcomes) {
        const retry = await callSteadily(again.url, 'POST', '/api/orders', outcome.body, { 'idempotency-key': outcome.key });
        expect(retry.status, `${outcome.key}: ${JSON.stringify(retry.body)}`).toBe(201);
        if (outcome.answered !== undefined) {
          expect(retry.replayed, outcome.key).toBe(true);
          expect(retry.body.data.id, outcome.key).toBe(outcome.answered);
        }
        // And once more: now it is committed whatever happened before.
        const replay = await callSteadily(again.url, 'POST', '/api/orders', outcome.body, { 'idempotency-key': outcome.key });
        expect([replay.status, replay.replayed, replay.body.data.id]).toStrictEqual([201, true, retry.body.data.id]);
        outcome.answered = retry.body.data.id;
        orders.push(retry.body.data.id);
      }
      outcomes.push(...roundOutcomes);
      // Where each status move really got to: a move whose answer was lost may or may not have committed.
      for (const id of new Set(orders)) {
        const order = await callSteadily(again.url, 'GET', `/api/orders/${id}`);
        expect(order.status).toBe(200);
        statusOf.set(id, STATUS_PATH.indexOf(order.body.data.status as (typeof STATUS_PATH)[number]) + 1);
      }
      await kill(again);
    }

    // A last start drains what the killed processes left leased (their leases run out after 30 s).
    const last = await start();
    const backlog = async () => {
      const res = await fetch(`${last.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      const line = (await res.text()).split('\n').find((entry) => entry.startsWith('outbox_backlog '));
      return Number(line?.split(' ')[1]);
    };
    await eventually(async () => (await backlog()) === 0, 120_000, 'the outbox to drain');
    // Every event in the stream (all of them, once the outbox is empty) reaches the receiver.
    const streamIds = async () => (await readStream(broker.url, 'ORDERS')).map((message) => message.json<CloudEvent>().id);
    const verifiedIds = () => new Set(receiver.received.filter((entry) => entry.verified).map((entry) => entry.headers['webhook-id']));
    await eventually(async () => (await streamIds()).every((id) => verifiedIds().has(id)), 120_000, 'every event to reach the webhook receiver');
    await last.stop();
    server = undefined;

    const rows = await readBehindTheGateway(async (query) => ({
      orders: await query<{ id: string; customer_id: string; order_number: string; status: string; version: number; history: number }>(
        `select id, customer_id, order_number, status, version, jsonb_array_length(status_history::jsonb) as history from orders`,
      ),
      events: await query<{ id: string; order_id: string; type: string; sequence: number }>(
        'select id, order_id, type, sequence from order_events order by position',
      ),
      queue: await query<{ n: number }>('select count(*)::int as n from order_event_queue'),
      keys: await query<{ key: string; order_id: string | null }>('select key, order_id from idempotency_keys'),
      deliveries: await query<{ event_id: string; status: string; n: number }>(
        'select event_id, status, count(*)::int as n from webhook_deliveries group by event_id, status',
      ),
      amcheck: await amcheckProblems(query),
    }));

    // Every key: one order, the one its retries answered.
    const byCustomer = new Map<string, string[]>();
    for (const order of rows.orders) byCustomer.set(order.customer_id, [...(byCustomer.get(order.customer_id) ?? []), order.id]);
    for (const outcome of outcomes) expect(byCustomer.get(outcome.key), outcome.key).toStrictEqual([outcome.answered]);
    expect(rows.orders).toHaveLength(outcomes.length);

    // Numbers: unique and, per day, 001..N with no gap.
    const byDay = new Map<string, number[]>();
    for (const order of rows.orders) {
      const [, day, n] = /^ORD-(\d{4}-\d{4})-(\d+)$/.exec(order.order_number)!;
      byDay.set(day, [...(byDay.get(day) ?? []), Number(n)]);
    }
    for (const numbers of byDay.values()) expect(numbers.sort((a, b) => a - b)).toStrictEqual(numbers.map((_, index) => index + 1));

    // Events: no event without its order; each order's are 1..version, a status_changed per status move.
    const known = new Set(rows.orders.map((order) => order.id));
    expect(rows.events.filter((event) => !known.has(event.order_id))).toStrictEqual([]);
    for (const order of rows.orders) {
      const own = rows.events.filter((event) => event.order_id === order.id);
      const updates = own.filter((event) => event.type !== 'order.status_changed').map((event) => `${event.type}@${event.sequence}`);
      expect(updates, order.id).toStrictEqual(
        Array.from({ length: order.version }, (_, index) => (index === 0 ? 'order.created@1' : `order.updated@${index + 1}`)),
      );
      expect(own.filter((event) => event.type === 'order.status_changed'), order.id).toHaveLength(order.history - 1);
    }
    expect(rows.queue[0]?.n).toBe(0);

    // JetStream: every event once, under its id.
    const messages = await readStream(broker.url, 'ORDERS');
    const ids = messages.map((message) => message.header?.get('Nats-Msg-Id'));
    expect(ids).toStrictEqual(messages.map((message) => message.json<CloudEvent>().id));
    expect(ids.length - new Set(ids).size, 'duplicates in the stream').toBe(0);
    expect(new Set(ids)).toStrictEqual(new Set(rows.events.map((event) => event.id)));

    // Webhooks: one delivery per event, delivered, and each event reached the receiver, verified.
    expect(rows.deliveries.filter((delivery) => delivery.n !== 1)).toStrictEqual([]);
    expect(new Set(rows.deliveries.map((delivery) => delivery.event_id))).toStrictEqual(new Set(rows.events.map((event) => event.id)));
    const received = verifiedIds();
    expect(rows.events.filter((event) => !received.has(event.id)).map((event) => event.id)).toStrictEqual([]);

    expect(rows.amcheck).toStrictEqual([]);
  });

  type Query = <T>(sql: string) => Promise<T[]>;

  async function readBehindTheGateway<T>(read: (query: Query) => Promise<T>): Promise<T> {
    if (cluster) {
      const client = new Client({ connectionString: cluster.url('gateway') });
      await client.connect();
      try {
        return await read(async <R>(sql: string) => (await client.query(sql)).rows as R[]);
      } finally {
        await client.end();
      }
    }
    const pglite = new PGlite(path.join(dataDir!, 'pgdata'), { extensions: { pg_trgm, amcheck } });
    try {
      return await read(async <R>(sql: string) => (await pglite.query<R>(sql)).rows);
    } finally {
      await pglite.close();
    }
  }

  /** pg_amcheck on a server; on the embedded database, what it runs: the amcheck functions on every table and B-tree index. */
  async function amcheckProblems(query: Query): Promise<string[]> {
    if (cluster) {
      try {
        execFileSync(`${PG_BIN}/pg_amcheck`, ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '--install-missing', '--heapallindexed', '--parent-check', 'gateway'], {
          stdio: 'pipe',
          timeout: 120_000,
        });
        return [];
      } catch (error) {
        const failed = error as { stdout?: Buffer; stderr?: Buffer; status?: number };
        return [`pg_amcheck exited ${failed.status}: ${failed.stdout?.toString()}${failed.stderr?.toString()}`];
      }
    }
    await query('create extension if not exists amcheck');
    const heap = await query<{ relname: string; msg: string }>(
      `select c.relname, v.msg from pg_class c join pg_namespace n on n.oid = c.relnamespace,
         lateral verify_heapam(c.oid) v
       where c.relkind in ('r', 'm', 't') and n.nspname = 'public'`,
    );
    const indexes = await query<{ relname: string }>(
      `select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
         join pg_namespace n on n.oid = c.relnamespace
       where a.amname = 'btree' and n.nspname = 'public'`,
    );
    const problems = heap.map((row) => `${row.relname}: ${row.msg}`);
    for (const index of indexes) {
      try {
        await query(`select bt_index_parent_check('public.${index.relname}'::regclass, true)`);
      } catch (error) {
        problems.push(`${index.relname}: ${(error as Error).message}`);
      }
    }
    if (indexes.length === 0) problems.push('no index was checked');
    return problems;
  }
});
