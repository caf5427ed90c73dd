/**
 * Gateway processes whose clocks disagree, as a platform engineer sees them before NTP has
 * synced or after a VM pause: three `order-gateway serve` processes on one PostgreSQL, run
 * under libfaketime (`faketime`'s preload library) at −6 min, 0 and +6 min, and one whose clock
 * jumps back while it runs. The database's clock is the authority for every time the gateway
 * stores or sends; a process's own clock may only measure durations. So orders made one after
 * another on different processes are stamped in that order and never in the future, a sync by
 * `updated_at` sees each at once, idempotency keys live their full TTL, and webhook deliveries
 * carry a `webhook-timestamp` a `standardwebhooks` receiver accepts.
 *
 * Several processes need a PostgreSQL server (the embedded database belongs to one process),
 * so these run in the PostgreSQL pass; without `faketime` they are skipped, saying so, and
 * under REQUIRE_SERVICES=1 they fail instead.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessDatabase, queryRows, usingRealPostgres } from '../support/database';
import { runCli, startServer, type RunningServer } from '../support/processes';
import { toolsInstalled } from '../support/tools';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const tools = toolsInstalled({ faketime: ['--version'] }, 'apt-get install -y faketime');
const TIMEOUT = 120_000;
const MINUTE = 60_000;
/** The offsets of the three processes' clocks, in minutes. */
const OFFSETS = [-6, 0, 6] as const;

/** The preload library the `faketime` command itself uses (its multi-threaded variant: Node runs threads). */
function faketimePreload(): string {
  const run = spawnSync('faketime', ['-m', '-f', '+0', 'sh', '-c', 'printf %s "$LD_PRELOAD"'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

let home: string;
let database: Record<string, string>;
let cleanup: () => Promise<void> = async () => {};
let preload: string;

/**
 * The environment of a process whose wall clock is read from `rcFile` (libfaketime's
 * FAKETIME_TIMESTAMP_FILE, re-read every second, so writing it makes the clock jump). As in
 * production, a step of the wall clock leaves the monotonic clock alone.
 */
function skewed(rcFile: string, offsetMinutes: number): Record<string, string> {
  fs.writeFileSync(rcFile, `${offsetMinutes >= 0 ? '+' : ''}${offsetMinutes}m\n`);
  return {
    LD_PRELOAD: preload,
    FAKETIME_TIMESTAMP_FILE: rcFile,
    FAKETIME_CACHE_DURATION: '1',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  };
}

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  // No load shedding: on a busy machine a 503 would take the place of the answer under test.
  return { ...database, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', MAX_EVENT_LOOP_DELAY_MS: '0', ...extra };
}

/** The process's own clock, as its HTTP `Date` header gives it, minus the test's, in ms. */
async function processSkew(server: RunningServer): Promise<number> {
  const response = await fetch(`${server.url}/healthz`);
  return Date.parse(response.headers.get('date') ?? '') - Date.now();
}

/** Waits until the process's clock is `minutes` off the test's (libfaketime re-reads its file each second). */
async function untilSkewed(server: RunningServer, minutes: number): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (Math.abs((await processSkew(server)) - minutes * MINUTE) < 10_000) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the process's clock never got ${minutes} min off`);
}

async function databaseNow(): Promise<number> {
  const [row] = await queryRows<{ now: Date }>(database.DATABASE_URL, 'select clock_timestamp() as now');
  return (row).now.getTime();
}

const ORDER = {
  customer_id: 'contact_abc123',
  items: [{ product_id: 'prod_001', quantity: 2, price: '99.00' }],
  total: '198.00',
};

async function create(server: RunningServer, key: string, headers: Record<string, string> = {}): Promise<{ id: string; order_number: string }> {
  const response = await fetch(`${server.url}/api/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(ORDER),
  });
  const body = (await response.json()) as { data: { id: string; order_number: string } };
  expect(response.status, JSON.stringify(body)).toBe(201);
  return body.data;
}

async function newKey(workspace: string): Promise<{ key: string; id: string }> {
  const created = await runCli(['apikey', 'create', '--workspace', workspace, '--json'], serverEnv());
  expect(created.code, created.stderr).toBe(0);
  return JSON.parse(created.stdout) as { key: string; id: string };
}

beforeAll(async () => {
  if (!tools.up || !usingRealPostgres) return;
  preload = faketimePreload();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'og-clock-'));
  ({ env: database, cleanup } = await createProcessDatabase('og-clock-'));
}, TIMEOUT);
afterAll(async () => {
  await cleanup();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!tools.up || !usingRealPostgres)('three processes at −6 min, 0 and +6 min on one PostgreSQL (PostgreSQL pass)', () => {
  const servers: RunningServer[] = [];
  let key: string;
  let receiver: Receiver;

  beforeAll(async () => {
    ({ key } = await newKey('clocks'));
    receiver = await startReceiver([200]);
    const hook = await runCli(['webhook', 'create', '--workspace', 'clocks', '--url', receiver.url, '--json'], serverEnv());
    expect(hook.code, hook.stderr).toBe(0);
    receiver.secret = (JSON.parse(hook.stdout) as { secret: string }).secret;
    // Started one after another: the first migrates, the others find the schema.
    for (const offset of OFFSETS) servers.push(await startServer(serverEnv(skewed(path.join(home, `clock${offset}.rc`), offset))));
    for (const [index, offset] of OFFSETS.entries()) await untilSkewed(servers[index], offset);
  }, TIMEOUT);
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await receiver?.close();
  });

  it('orders made one after another on +6, −6 and 0 are stamped by one clock: in that order, none in the future, all seen by a sync at once', async () => {
    const [slow, exact, fast] = servers as [RunningServer, RunningServer, RunningServer];
    const before = await databaseNow();
    const made = [];
    for (const server of [fast, slow, exact]) {
      made.push(await create(server, key));
      // Each create is its own moment: a pause well above what one clock reading may be off by.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const after = await databaseNow();
    const rows = await queryRows<{ id: string; order_number: string; created_at: Date; updated_at: Date; time: Date }>(
      database.DATABASE_URL,
      `select o.id, o.order_number, o.created_at, o.updated_at, e.time
       from orders o join order_events e on e.order_id = o.id and e.type = 'order.created' order by o.order_number`,
    );
    expect(rows.map((row) => row.id)).toStrictEqual(made.map((order) => order.id));
    for (const row of rows) {
      // Within the time the test took, by the database's clock (the skews are six minutes).
      for (const at of [row.created_at, row.updated_at, row.time]) {
        expect(at.getTime(), `${row.order_number}: ${at.toISOString()}`).toBeGreaterThanOrEqual(before - 5_000);
        expect(at.getTime(), `${row.order_number}: ${at.toISOString()}`).toBeLessThanOrEqual(after + 5_000);
      }
    }
    // Numbered in creation order, and created_at agrees with the numbers.
    const byCreated = [...rows].sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
    expect(byCreated.map((row) => row.order_number)).toStrictEqual(rows.map((row) => row.order_number));
    // The default list (newest first) shows them newest first.
    const list = await fetch(`${exact.url}/api/orders?limit=10`, { headers: { authorization: `Bearer ${key}` } });
    const listed = ((await list.json()) as { data: { id: string }[] }).data.map((order) => order.id);
    expect(listed).toStrictEqual(made.map((order) => order.id).reverse());
    // A sync by change sees every one of them now, the fast process's too.
    const since = new Date(before - MINUTE).toISOString();
    const sync = await fetch(`${exact.url}/api/orders?${new URLSearchParams({ sort: 'updated_at', updated_since: since, limit: '100' }).toString()}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const synced = ((await sync.json()) as { data: { id: string }[] }).data.map((order) => order.id);
    expect(synced).toStrictEqual(made.map((order) => order.id));
  }, TIMEOUT);

  it('every webhook delivery, whichever process sends it, carries a webhook-timestamp a standardwebhooks receiver accepts, and its attempt is logged at the database time', async () => {
    const before = await databaseNow();
    const made = [];
    for (const server of servers) made.push(await create(server, key));
    const ids = new Set(made.map((order) => order.id));
    const mine = () => receiver.received.filter((request) => ids.has((JSON.parse(request.body) as { subject: string }).subject));
    for (let tries = 0; tries < 300 && mine().length < made.length; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await databaseNow();
    const received = mine();
    expect(received).toHaveLength(made.length);
    // The receiver's check: within 5 minutes of its own (correct) clock, and the signature.
    expect(
      received.map((request) => ({ timestamp: Number(request.headers['webhook-timestamp']), verified: request.verified })),
    ).toStrictEqual(received.map(() => ({ timestamp: expect.closeTo(Date.now() / 1000, -2) as number, verified: true })));
    const attempts = await queryRows<{ attempted_at: Date; status_code: number }>(
      database.DATABASE_URL,
      `select a.attempted_at, a.status_code from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id
       join order_events e on e.id = d.event_id where e.order_id in (${made.map((order) => `'${order.id}'`).join(', ')})`,
    );
    expect(attempts).toHaveLength(made.length);
    for (const attempt of attempts) {
      expect(attempt.status_code).toBe(200);
      expect(attempt.attempted_at.getTime()).toBeGreaterThanOrEqual(before - 5_000);
      expect(attempt.attempted_at.getTime()).toBeLessThanOrEqual(after + 5_000);
    }
  }, TIMEOUT);

  it("each process's event_publish_latency_seconds measures from the change by the database's clock: no six-minute latencies, none below zero", async () => {
    for (const server of servers) {
      await create(server, key);
      let text = '';
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      // The event goes out just after the create's answer: wait until this process has published one.
      for (let tries = 0; tries < 100 && !(value('event_publish_latency_seconds_count') > 0); tries++) {
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100));
        const response = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer test-metrics-token-0123456789' } });
        text = await response.text();
      }
      const count = value('event_publish_latency_seconds_count');
      expect(count).toBeGreaterThan(0);
      // Every event went out within a minute of its change, and none before it.
      expect(value('event_publish_latency_seconds_bucket\\{le="60"\\}')).toBe(count);
      expect(value('event_publish_latency_seconds_sum')).toBeGreaterThanOrEqual(0);
    }
  }, TIMEOUT);

  it('an idempotency key stored by the slow process is kept its whole TTL by the database clock', async () => {
    const [slow] = servers as [RunningServer];
    const order = await create(slow, key, { 'idempotency-key': 'clock-skew-1' });
    const [row] = await queryRows<{ remaining: number }>(
      database.DATABASE_URL,
      `select extract(epoch from expires_at - clock_timestamp())::float8 as remaining from idempotency_keys where key = 'clock-skew-1'`,
    );
    // 24 hours from now, give or take the seconds the test took (not six minutes less).
    expect(Math.abs((row).remaining - 24 * 3600)).toBeLessThan(60);
    const replay = await create(servers[2], key, { 'idempotency-key': 'clock-skew-1' });
    expect(replay.id).toBe(order.id);
  }, TIMEOUT);
});

describe.skipIf(!tools.up || !usingRealPostgres)('a process whose clock jumps back 5 min while it runs (PostgreSQL pass)', () => {
  let server: RunningServer;
  let rcFile: string;

  beforeAll(async () => {
    rcFile = path.join(home, 'jumping.rc');
    server = await startServer(serverEnv(skewed(rcFile, 0)));
    await untilSkewed(server, 0);
  }, TIMEOUT);
  afterAll(async () => {
    await server?.stop();
  });

  it('a key revoked after the jump is refused within API_KEY_CACHE_TTL_MS, not 5 minutes later', async () => {
    const { key, id } = await newKey('jumping');
    const read = () => fetch(`${server.url}/api/orders?limit=1`, { headers: { authorization: `Bearer ${key}` } });
    expect((await read()).status).toBe(200); // the key's lookup is cached for 500 ms
    fs.writeFileSync(rcFile, '-5m\n');
    await untilSkewed(server, -5);
    const revoked = await runCli(['apikey', 'revoke', id], serverEnv());
    expect(revoked.code, revoked.stderr).toBe(0);
    // Well past the cache's 500 ms, by any clock that measures time passing.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await read()).status).toBe(401);
  }, TIMEOUT);

  it('orders made across the jump keep their order in time', async () => {
    const { key } = await newKey('jumping-orders');
    fs.writeFileSync(rcFile, '+0\n');
    await untilSkewed(server, 0);
    const first = await create(server, key);
    fs.writeFileSync(rcFile, '-5m\n');
    await untilSkewed(server, -5);
    const second = await create(server, key);
    const rows = await queryRows<{ id: string; created_at: Date }>(
      database.DATABASE_URL,
      `select id, created_at from orders where id in ('${first.id}', '${second.id}') order by created_at`,
    );
    expect(rows.map((row) => row.id)).toStrictEqual([first.id, second.id]);
  }, TIMEOUT);
});
