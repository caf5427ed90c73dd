/**
 * The README's backup of the embedded database, step by step: stop the server,
 * copy the folder `DATA_DIR` (`cp -a`), start it again; to restore, point
 * `DATA_DIR` at the copy. The copy is opened while the original serves again
 * (as an operator checks a backup): its `gateway.lock` names the running
 * server's pid, which must not block it. On the copy every order reads back
 * exactly, keys replay, the revoked key stays revoked, and numbers go on
 * without a gap. Embedded pass only.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'lossless-json';
import { afterAll, describe, expect, it } from 'vitest';
import { usingRealPostgres } from '../support/database';
import { runCli, startServer, type RunningServer } from '../support/processes';

const body = (i: number) =>
  JSON.stringify({
    customer_id: `cust_${i}`,
    items: [{ product_id: 'p1', quantity: 3, price: 19.99 }],
    total: 59.97,
    currency: 'IDR',
    metadata: { i, big: '__BIG__' },
  }).replace('"__BIG__"', '98765432109876543210');

describe.skipIf(usingRealPostgres)('backing up and restoring DATA_DIR as the README says (embedded pass)', { timeout: 180_000 }, () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'og-backup-'));
  const dataDir = path.join(folder, 'data');
  const copy = path.join(folder, 'data-backup');
  const servers: RunningServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('a copy made while stopped serves the same orders, keys and numbers beside the original', async () => {
    const key = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], { DATA_DIR: dataDir })).stdout).key as string;
    const revoked = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], { DATA_DIR: dataDir })).stdout);
    expect((await runCli(['apikey', 'revoke', revoked.id], { DATA_DIR: dataDir })).code).toBe(0);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    const original = await startServer({ DATA_DIR: dataDir, MAX_EVENT_LOOP_DELAY_MS: '0' });
    servers.push(original);
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await fetch(`${original.url}/api/orders`, { method: 'POST', headers: { ...headers, 'idempotency-key': `k-${i}` }, body: body(i) });
      const text = await created.text();
      expect(created.status, text).toBe(201);
      answers.push(text);
    }
    // Stop, copy, start again.
    expect(await original.stop()).toBe(0);
    servers.pop();
    execFileSync('cp', ['-a', dataDir, copy]);
    const again = await startServer({ DATA_DIR: dataDir, MAX_EVENT_LOOP_DELAY_MS: '0' });
    servers.push(again);

    const restored = await startServer({ DATA_DIR: copy, MAX_EVENT_LOOP_DELAY_MS: '0' });
    servers.push(restored);
    for (const [i, answer] of answers.entries()) {
      const id = (JSON.parse(answer) as { data: { id: string } }).data.id;
      const read = await fetch(`${restored.url}/api/orders/${id}`, { headers });
      expect(parse(await read.text())).toStrictEqual(parse(answer));
      const replay = await fetch(`${restored.url}/api/orders`, { method: 'POST', headers: { ...headers, 'idempotency-key': `k-${i}` }, body: body(i) });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(parse(await replay.text())).toStrictEqual(parse(answer));
    }
    expect((await fetch(`${restored.url}/api/orders`, { headers: { authorization: `Bearer ${revoked.key}` } })).status).toBe(401);
    const last = (JSON.parse(answers[4]) as { data: { order_number: string } }).data.order_number;
    const next = await fetch(`${restored.url}/api/orders`, { method: 'POST', headers, body: body(5) });
    const nextNumber = ((await next.json()) as { data: { order_number: string } }).data.order_number;
    expect(nextNumber).toBe(`${last.slice(0, -3)}${String(Number(last.slice(-3)) + 1).padStart(3, '0')}`);
  });
});
