/**
 * Storage faults on the embedded database, met as an operator meets them with
 * `order-gateway serve` and the CLI: a DATA_DIR that is a file, read-only, or
 * owned by another user; a development key file that cannot be written; a disk
 * that is full at the first start, or fills while orders are being created.
 * Each must end in one line naming DATA_DIR and what to do, an exit code from
 * the CLI's table, the contract's 503 for a request that cannot be stored, and
 * after space is freed, a database that starts again with every 201 in it.
 *
 * The disk tests mount small tmpfs file systems (the kernel's own `mount`),
 * so they need root; they are skipped, saying why, when mounting is not
 * allowed, and fail under REQUIRE_SERVICES=1 (CI runs as root). Every mount is
 * unmounted after its test, whether it passed or not. These tests always use
 * the embedded database, whichever database the rest of the suite runs on.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli, startServer } from '../support/processes';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-storage-'));
  dirs.push(dir);
  return dir;
}

const mounts: string[] = [];
function mountTmpfs(dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
}
function unmountAll(): void {
  for (const dir of mounts.splice(0).reverse()) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      // Still busy (a child the hooks are stopping): detach it now, it goes when the last file closes.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
  }
}
afterEach(unmountAll);
afterAll(() => {
  unmountAll();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Why tmpfs mounts cannot be made here, or undefined when they can. */
function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'og-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs is not allowed (${(error as Error).message.split('\n')[0]})`;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}
const noMount = cannotMount();
if (noMount) {
  if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1 but the storage-fault tests cannot run: ${noMount}`);
  console.warn(`storage-faults: disk tests skipped: ${noMount}`);
}

/** Fills the file system under `dir` until at most `leaveBytes` are free; returns the filler's path. */
function fill(dir: string, leaveBytes = 0): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1024 * 1024);
  try {
    for (;;) {
      const { bavail, bsize } = fs.statfsSync(dir);
      const free = bavail * bsize;
      if (free <= leaveBytes) break;
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, free - leaveBytes));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** The last line on stderr, after checking that nothing on it looks like a stack. */
function oneLine(stderr: string): string {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/Aborted\(\)|select table_name/);
  const lines = stderr.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('a DATA_DIR the process cannot use', () => {
  it('a file instead of a folder: exit 78, one line naming DATA_DIR', async () => {
    const file = path.join(tempDir(), 'data');
    fs.writeFileSync(file, 'not a folder');
    const result = await runCli(['migrate'], { DATA_DIR: file });
    expect(result.code).toBe(78);
    expect(oneLine(result.stderr)).toBe(`order-gateway: DATA_DIR (${file}): cannot use it: a file is in the way (${file})`);
  }, 60_000);

  it.skipIf(noMount !== undefined)('on a read-only file system, empty or holding a database: exit 78, one line, nothing changed', async () => {
    const dataDir = tempDir();
    const made = await runCli(['workspace', 'create', 'shop'], { DATA_DIR: dataDir });
    expect(made.code, made.stderr).toBe(0);
    const before = fs.readdirSync(path.join(dataDir, 'pgdata')).sort();
    const readOnly = path.join(tempDir(), 'ro');
    fs.mkdirSync(readOnly);
    execFileSync('mount', ['--bind', '-o', 'ro', dataDir, readOnly], { stdio: 'pipe' });
    mounts.push(readOnly);
    const result = await runCli(['workspace', 'list'], { DATA_DIR: readOnly });
    expect(result.code).toBe(78);
    expect(oneLine(result.stderr)).toMatch(new RegExp(`^order-gateway: DATA_DIR \\(${escape(readOnly)}\\): cannot use it: the file system is read-only`));
    expect(fs.readdirSync(path.join(dataDir, 'pgdata')).sort()).toEqual(before);

    const empty = path.join(tempDir(), 'empty-ro');
    fs.mkdirSync(empty);
    mountTmpfs(empty, 'size=1m,ro');
    const fresh = await runCli(['migrate'], { DATA_DIR: empty });
    expect(fresh.code).toBe(78);
    expect(oneLine(fresh.stderr)).toMatch(new RegExp(`^order-gateway: DATA_DIR \\(${escape(empty)}\\): cannot use it: the file system is read-only`));
  }, 180_000);
});

describe('a first start cut short', () => {
  it('a creation killed midway (its marker left behind) is made again at the next start, whole', async () => {
    const dataDir = tempDir();
    // What a process killed during its first start leaves: the marker, and a pgdata that PGlite
    // would take for a made database (it holds PG_VERSION) but that has nothing else in it.
    fs.mkdirSync(path.join(dataDir, 'pgdata'));
    fs.writeFileSync(path.join(dataDir, 'pgdata', 'PG_VERSION'), '17\n');
    fs.writeFileSync(path.join(dataDir, 'pgdata.creating'), '');
    const made = await runCli(['workspace', 'create', 'shop'], { DATA_DIR: dataDir }, 120_000);
    expect(made.code, made.stderr).toBe(0);
    const listed = await runCli(['workspace', 'list', '--json'], { DATA_DIR: dataDir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('"slug":"shop"');
    expect(fs.readdirSync(dataDir).sort()).toEqual(['gateway.lock', 'pgdata']);
  }, 240_000);

  it('a database without the marker is never made again: its data stays', async () => {
    const dataDir = tempDir();
    expect((await runCli(['workspace', 'create', 'shop'], { DATA_DIR: dataDir }, 120_000)).code).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'pgdata.creating'))).toBe(false);
    const listed = await runCli(['workspace', 'list', '--json'], { DATA_DIR: dataDir });
    expect(listed.stdout).toContain('"slug":"shop"');
  }, 240_000);
});

describe('the development key file cannot be written', () => {
  it('the key is still shown once, with one line saying why it was not saved, and it works', async () => {
    const dataDir = tempDir();
    // Something in the way of the file: root writes through any mode bits, not through a folder.
    fs.mkdirSync(path.join(dataDir, 'development-key'));
    const server = await startServer({ DATA_DIR: dataDir, NODE_ENV: 'development' }, 120_000);
    try {
      const output = server.output();
      const key = /ogk_[A-Za-z0-9_-]{43}/.exec(output)?.[0];
      // Before: the workspace and its key were made, the file write threw, the process exited 1
      // with "EISDIR: illegal operation on a directory", and the key was never shown; the next
      // start found a workspace and made none, so a newcomer had no key at all.
      expect(key, output).toBeDefined();
      expect(output).toContain(
        `could not save it in ${path.join(dataDir, 'development-key')}: a folder is in the way; copy the key now, it is not shown again`,
      );
      expect(output).not.toMatch(/^\s+at /m);
      expect(output).not.toContain(`Dev API key  ${path.join(dataDir, 'development-key')}`);
      const list = await fetch(`${server.url}/api/orders`, { headers: { authorization: `Bearer ${key}` } });
      expect(list.status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 180_000);
});

describe.skipIf(noMount !== undefined)('a full disk', () => {
  it('at the first start: exit 78 with one line; after space is freed the next start makes a whole database', async () => {
    const disk = path.join(tempDir(), 'disk');
    fs.mkdirSync(disk);
    mountTmpfs(disk, 'size=40m');
    // Room for the lock file and part of a new database (about 28 MB), not all of it.
    const filler = fill(disk, 10 * 1024 * 1024);
    const dataDir = path.join(disk, 'data');
    const full = await runCli(['migrate'], { DATA_DIR: dataDir }, 120_000);
    // Before: exit 1 with "Aborted(). Build with -sASSERTIONS for more info.", and a half-made
    // database left in pgdata that every later command refused, even with space to spare.
    expect(full.code, full.stderr).toBe(78);
    expect(oneLine(full.stderr)).toBe(`order-gateway: DATA_DIR (${dataDir}): cannot use it: the disk is full (free some space, then start again)`);
    expect(fs.existsSync(path.join(dataDir, 'pgdata'))).toBe(false);

    fs.rmSync(filler);
    const again = await runCli(['migrate'], { DATA_DIR: dataDir }, 120_000);
    expect(again.code, again.stderr).toBe(0);
    const made = await runCli(['workspace', 'create', 'shop'], { DATA_DIR: dataDir });
    expect(made.code, made.stderr).toBe(0);
    const listed = await runCli(['workspace', 'list', '--json'], { DATA_DIR: dataDir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('"slug":"shop"');
    // Nothing of the failed attempt is left beside the database.
    expect(fs.readdirSync(dataDir).sort()).toEqual(['gateway.lock', 'pgdata']);
  }, 300_000);

  it('while orders are created: 503 with Retry-After, never a 500 or a lost 201; all there after a restart', async () => {
    const disk = path.join(tempDir(), 'disk');
    fs.mkdirSync(disk);
    mountTmpfs(disk, 'size=64m');
    const dataDir = path.join(disk, 'data');
    const env = { DATA_DIR: dataDir, NODE_ENV: 'development' };
    const body = JSON.stringify({ customer_id: 'c1', items: [{ product_id: 'p1', quantity: 1, price: '1.00' }], total: '1.00' });
    const first = await startServer(env, 120_000);
    const key = fs.readFileSync(path.join(dataDir, 'development-key'), 'utf8').trim();
    const create = (url: string, n: number) =>
      fetch(`${url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `order-${n}` },
        body,
        signal: AbortSignal.timeout(20_000),
      });
    const created = new Map<number, string>();
    const refused: number[] = [];
    let filler = '';
    try {
      expect((await create(first.url, 0)).status).toBe(201);
      filler = fill(disk);
      // The first few may still fit in pages PostgreSQL holds; the disk shows soon after.
      for (let n = 1; n <= 200 && refused.length < 3; n++) {
        const response = await create(first.url, n);
        const answer = (await response.json()) as { data?: { id: string }; error?: { code: string } };
        if (response.status === 201) created.set(n, answer.data?.id ?? '');
        else {
          // Before: 500 INTERNAL_ERROR (PostgreSQL's 53100 disk_full was not an outage to the gateway).
          expect({ status: response.status, code: answer.error?.code }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE' });
          expect(response.headers.get('retry-after')).toBe('2');
          refused.push(n);
        }
      }
      expect(refused.length).toBeGreaterThan(0);
      const graphql = await fetch(`${first.url}/graphql`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation { createOrder(input: {customerId: "c1", items: [{productId: "p1", quantity: 1, price: "1.00"}], total: "1.00"}) { order { id } } }',
        }),
      });
      // PostgreSQL frees a little now and then (a recycled WAL segment), so one create may fit: then it
      // is a whole order like any 201; otherwise the same 503 as REST's, never a 500.
      const graphqlText = await graphql.text();
      const answer = JSON.parse(graphqlText) as { data?: { createOrder?: { order?: { id: string } } }; errors?: { extensions: { code: string } }[] };
      if (graphql.status === 200 && answer.data?.createOrder?.order) created.set(-1, answer.data.createOrder.order.id);
      else {
        expect(graphql.status, graphqlText).toBe(503);
        expect(answer.errors?.[0]?.extensions.code).toBe('SERVICE_UNAVAILABLE');
      }

      fs.rmSync(filler);
      // The retries the 503 asked for, with their keys, now store their orders.
      for (const n of refused) {
        const response = await create(first.url, n);
        expect(response.status).toBe(201);
        created.set(n, ((await response.json()) as { data: { id: string } }).data.id);
      }
    } finally {
      if (filler && fs.existsSync(filler)) fs.rmSync(filler);
      expect(await first.stop()).toBe(0);
    }

    const second = await startServer(env, 120_000);
    try {
      const page = await fetch(`${second.url}/api/orders?limit=100`, { headers: { authorization: `Bearer ${key}` } });
      const orders = ((await page.json()) as { data: { id: string; order_number: string }[] }).data;
      const ids = new Set(orders.map((order) => order.id));
      for (const id of created.values()) expect(ids.has(id)).toBe(true);
      // One order per 201 and nothing else; a refused create used up no number.
      expect(orders).toHaveLength(created.size + 1);
      const numbers = orders.map((order) => Number(order.order_number.slice(-3))).sort((a, b) => a - b);
      expect(numbers).toEqual(numbers.map((_, index) => index + 1));
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 300_000);
});
