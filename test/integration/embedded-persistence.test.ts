/**
 * The embedded database keeps its data on disk under DATA_DIR, and belongs to
 * one process at a time. These tests always use the embedded database,
 * whichever database the rest of the suite runs on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database';
import { lockDataDir } from '../../src/db/data-dir-lock';
import { migrationsList } from '../../src/db/migrations';
import { loadSeed } from '../support/seed';
import { runCli, startServer } from '../support/processes';

const dirs: string[] = [];
function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-data-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('order-gateway serve on the embedded database', () => {
  it('creates a development key on first start, keeps orders across a restart, and exits 0 on SIGTERM', async () => {
    const dataDir = tempDataDir();
    // The development key is a newcomer's convenience: made and shown in development only.
    const first = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'development' });
    const key = /ogk_[A-Za-z0-9_-]{43}/.exec(first.output())?.[0];
    expect(key).toBeDefined();
    expect(fs.readFileSync(path.join(dataDir, 'development-key'), 'utf8').trim()).toBe(key);
    // One banner in development, with every URL, the key's file and the database; "listening" once.
    const bannerStart = first.output().indexOf('order-gateway is ready (NODE_ENV=development)');
    expect(bannerStart).toBeGreaterThan(-1);
    await expect.poll(() => first.output().slice(bannerStart)).toContain('Database');
    const banner = first.output().slice(bannerStart);
    expect(banner).toContain(`GraphQL      ${first.url}/graphql`);
    expect(banner).toContain(`Playground   ${first.url}/graphql (open it in a browser)`);
    expect(banner).toContain(`API docs     ${first.url}/docs`);
    expect(banner).toContain(`Dev API key  ${path.join(dataDir, 'development-key')}`);
    expect(banner).toContain(`Database     embedded PostgreSQL in ${dataDir}`);
    expect(first.output().match(/listening/g)).toHaveLength(1);

    const created = await fetch(`${first.url}/api/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(loadSeed().request),
    });
    expect(created.status).toBe(201);
    const order = ((await created.json()) as { data: { id: string; order_number: string } }).data;
    expect(await first.stop()).toBe(0);
    // The lock went with the process: the directory can be locked again at once.
    expect(() => lockDataDir(dataDir).release()).not.toThrow();

    const second = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'development' });
    try {
      // No second development key: the workspace exists now.
      expect(second.output()).not.toMatch(/ogk_/);
      const read = await fetch(`${second.url}/api/orders/${order.id}`, { headers: { authorization: `Bearer ${key}` } });
      expect(read.status).toBe(200);
      expect(((await read.json()) as { data: { order_number: string } }).data.order_number).toBe(order.order_number);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});

describe('one process per embedded database', () => {
  it('refuses a second process on the same DATA_DIR with the holder’s pid, and never opens the files', async () => {
    const dataDir = tempDataDir();
    const db = await openDatabase({ kind: 'embedded', dataDir });
    await db.migrate();
    try {
      const result = await runCli(['apikey', 'list', '--workspace', 'default'], { DATA_DIR: dataDir });
      // 75 (EX_TEMPFAIL): the same command works once the holder has stopped.
      expect(result.code).toBe(75);
      expect(result.stderr.trim()).toBe(
        `order-gateway: using the embedded database in ${dataDir} (DATA_DIR)\n` +
        `order-gateway: The embedded database in ${dataDir} is in use by process ${process.pid}. Opening it twice ` +
          'corrupts it: stop that process first, or point DATA_DIR at another folder, or use DATABASE_URL for a ' +
          'database shared by several processes.',
      );
      // The same refusal inside one process.
      await expect(openDatabase({ kind: 'embedded', dataDir })).rejects.toThrow(`in use by process ${process.pid} (this one)`);
    } finally {
      await db.close();
    }
    // Once the holder is gone the directory opens normally.
    const again = await runCli(['migrate'], { DATA_DIR: dataDir });
    expect(again).toMatchObject({ code: 0, stdout: 'The database is up to date.\n' });
  });

  it('takes over the lock of a process that died', async () => {
    const dataDir = tempDataDir();
    fs.writeFileSync(path.join(dataDir, 'gateway.lock'), '999999999\n');
    const result = await runCli(['migrate'], { DATA_DIR: dataDir });
    expect(result.code).toBe(0);
    // Every migration, in order (the list grows; the first four are fixed history).
    expect(result.stdout).toBe(`Applied ${migrationsList.map((m) => m.name).join(', ')}\n`);
    expect(result.stdout).toMatch(/^Applied Migration20261127130000_initial, Migration20261127140000_order_list, /);
  });
});
