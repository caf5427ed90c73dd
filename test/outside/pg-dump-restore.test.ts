/**
 * The README's backup and restore of a PostgreSQL server, with PostgreSQL's own
 * tools as an operator runs them: `pg_dump -Fc` of a live database while keyed
 * creates are running, `createdb` and `pg_restore --single-transaction
 * --exit-on-error` into a fresh database, `migrate`, a gateway on it. The
 * restored gateway must read back every order the dump holds exactly as the
 * live one answered it, number on from the last of them without a gap or a
 * repeat, replay their keys, and keep the revoked key revoked. The same restore
 * into a database that is not empty must fail and write nothing. PostgreSQL
 * pass only (it needs a server, pg_dump and pg_restore).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, queryRows as query, usingRealPostgres } from '../support/database';
import { runCli, startServer, type RunningServer } from '../support/processes';

const run = promisify(execFile);

const body = (i: number) =>
  JSON.stringify({
    customer_id: `cust_${i}`,
    items: [{ product_id: 'p1', quantity: 3, price: 19.99 }, { product_id: 'p2', quantity: 1, price: 0.1 }],
    total: 60.07,
    currency: 'IDR',
    metadata: { i, big: '__BIG__', dec: 0.1 },
  }).replace('"__BIG__"', '98765432109876543210');

describe.runIf(usingRealPostgres)('pg_dump -Fc of a live gateway, pg_restore into a fresh database (PostgreSQL pass)', { timeout: 180_000 }, () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'og-dump-'));
  const dump = path.join(folder, 'orders.dump');
  const databases: (() => Promise<void>)[] = [];
  let live: RunningServer;
  let restored: RunningServer;
  let liveUrl: string;
  let restoredUrl: string;
  let key: string;
  let revokedKey: string;
  /** When pg_dump returned: an event the live relay had claimed by then is leased until 30 s after its claim at most. */
  let dumpedAt: number;
  /** Every create the live gateway answered 201, by idempotency key. */
  const answers = new Map<string, { id: string; text: string }>();

  beforeAll(async () => {
    const liveDb = await createServerDatabase();
    databases.push(liveDb.drop);
    liveUrl = liveDb.url;
    expect((await runCli(['migrate'], { DATABASE_URL: liveUrl })).code).toBe(0);
    key = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], { DATABASE_URL: liveUrl })).stdout).key;
    const revoked = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], { DATABASE_URL: liveUrl })).stdout);
    expect((await runCli(['apikey', 'revoke', revoked.id], { DATABASE_URL: liveUrl })).code).toBe(0);
    revokedKey = revoked.key;
    live = await startServer({ DATABASE_URL: liveUrl, MIGRATE_ON_START: 'false', MAX_EVENT_LOOP_DELAY_MS: '0' });

    // Creates keep going, four at a time, from before the dump starts until after it ends.
    let dumping = true;
    let next = 0;
    const create = async () => {
      const i = next++;
      const response = await fetch(`${live.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `k-${i}` },
        body: body(i),
      });
      const text = await response.text();
      expect(response.status, text).toBe(201);
      answers.set(`k-${i}`, { id: (JSON.parse(text) as { data: { id: string } }).data.id, text });
    };
    const writers = Array.from({ length: 4 }, async () => {
      do await create();
      while (dumping || next < 40);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await run('pg_dump', ['-Fc', '-f', dump, '-d', liveUrl]);
    dumpedAt = Date.now();
    dumping = false;
    await Promise.all(writers);

    const fresh = await createServerDatabase(); // createdb: an empty database
    databases.push(fresh.drop);
    restoredUrl = fresh.url;
    await run('pg_restore', ['--no-owner', '--single-transaction', '--exit-on-error', '-d', restoredUrl, dump]);
    const migrated = await runCli(['migrate'], { DATABASE_URL: restoredUrl });
    expect(migrated.stdout).toBe('The database is up to date.\n');
    restored = await startServer({ DATABASE_URL: restoredUrl, MIGRATE_ON_START: 'false', MAX_EVENT_LOOP_DELAY_MS: '0' });
  }, 150_000);
  afterAll(async () => {
    await live?.stop();
    await restored?.stop();
    for (const drop of databases) await drop();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

  it('reads back every order the dump holds exactly as the live gateway answered it', async () => {
    const ids = (await query<{ id: string }>(restoredUrl, 'select id from orders')).map((row) => row.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThanOrEqual(answers.size);
    for (const id of ids) {
      const [before, after] = await Promise.all(
        [live, restored].map(async (server) => (await fetch(`${server.url}/api/orders/${id}`, { headers: auth() })).text()),
      );
      expect(parse(after), id).toStrictEqual(parse(before));
    }
  });

  it('numbers on from the last order in the dump: no gap, no repeat', async () => {
    const numbers = (await query<{ n: string }>(restoredUrl, 'select order_number as n from orders order by order_number')).map((row) => row.n);
    const day = numbers[0].slice(0, -3);
    expect(numbers).toStrictEqual(numbers.map((_, i) => `${day}${String(i + 1).padStart(3, '0')}`));
    const created = await fetch(`${restored.url}/api/orders`, { method: 'POST', headers: auth(), body: body(1000) });
    const answer = (await created.json()) as { data: { order_number: string } };
    expect(created.status).toBe(201);
    expect(answer.data.order_number).toBe(`${day}${String(numbers.length + 1).padStart(3, '0')}`);
  });

  it('replays the keys of the orders it holds, keeps the revoked key revoked', async () => {
    const held = new Set((await query<{ key: string }>(restoredUrl, 'select key from idempotency_keys')).map((row) => row.key));
    expect(held.size).toBeGreaterThan(0);
    for (const idempotencyKey of [...held].filter((k) => k.startsWith('k-')).slice(0, 5)) {
      const replay = await fetch(`${restored.url}/api/orders`, {
        method: 'POST',
        headers: { ...auth(), 'idempotency-key': idempotencyKey },
        body: body(Number(idempotencyKey.slice(2))),
      });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(parse(await replay.text())).toStrictEqual(parse(answers.get(idempotencyKey)!.text));
    }
    const refused = await fetch(`${restored.url}/api/orders`, { headers: { authorization: `Bearer ${revokedKey}` } });
    expect(refused.status).toBe(401);
  });

  it('keeps one order.created event for each order it holds, and its relay drains the queue the dump held', async () => {
    const [counts] = await query<{ orders: string; created: string }>(
      restoredUrl,
      `select (select count(*) from orders) as orders, (select count(*) from order_events where type = 'order.created') as created`,
    );
    expect(counts.created).toBe(counts.orders);
    // The dump holds the live relay's leases: an event it had claimed but not yet published waits
    // out the rest of its 30 s lease (README, Operations) before the restored relay takes it.
    const deadline = Math.max(dumpedAt + 30_000, Date.now()) + 20_000;
    let queued = -1;
    while (Date.now() < deadline && queued !== 0) {
      queued = Number((await query<{ n: string }>(restoredUrl, 'select count(*) as n from order_event_queue'))[0].n);
      if (queued !== 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(queued).toBe(0);
  });

  it('the same restore into a database that is not empty fails, and writes nothing', async () => {
    const count = async () => (await query<{ n: string }>(restoredUrl, 'select count(*) as n from orders'))[0].n;
    const before = await count();
    const again = await run('pg_restore', ['--no-owner', '--single-transaction', '--exit-on-error', '-d', restoredUrl, dump]).then(
      () => 'restored',
      (error: { code: number; stderr: string }) => `exit ${error.code}: ${error.stderr}`,
    );
    expect(again).toMatch(/^exit 1: pg_restore: error: .*already exists/);
    expect(await count()).toBe(before);
    expect((await fetch(`${restored.url}/readyz`)).status).toBe(200);
  });
});
