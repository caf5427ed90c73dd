/**
 * The embedded data directory's lock is the operating system's: it goes when
 * its process goes, however that happens, and no pid in the lock file ever
 * decides anything. (Eight simultaneous starts: data-dir-lock.slow.test.ts.)
 */
import { spawnTracked } from '../support/processes';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from '../../src/db/data-dir-lock';

const ROOT = path.resolve(__dirname, '../..');
const dirs: string[] = [];
function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-lock-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('a lock file left behind', () => {
  it.each([
    ['pid 1 (a container’s init, or the restarted server itself)', 1],
    ['a live unrelated process (this test’s parent)', process.ppid],
    ['this very process', process.pid],
    ['a process that is gone', 999_999_999],
  ])('naming %s does not block a start', async (_name, pid) => {
    const dataDir = tempDataDir();
    fs.writeFileSync(path.join(dataDir, LOCK_FILE), `${pid}\n`);
    const db = await openDatabase({ kind: 'embedded', dataDir });
    try {
      await db.migrate();
      expect(await db.ping()).toBe(true);
      expect(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    } finally {
      await db.close();
    }
  });
});

describe('a server of a version before the OS lock (pid file only)', () => {
  it('still running on the directory, is not opened under', async () => {
    // What such a server leaves while it runs: the lock file written with its pid and no OS lock,
    // and the database's files open. Opening the directory beside it corrupts the database.
    const dataDir = tempDataDir();
    fs.mkdirSync(path.join(dataDir, 'pgdata'));
    fs.writeFileSync(path.join(dataDir, 'pgdata', 'PG_VERSION'), '17\n');
    const holder = spawnTracked(
      process.execPath,
      [
        '-e',
        `require('fs').openSync(${JSON.stringify(path.join(dataDir, 'pgdata', 'PG_VERSION'))}, 'r+'); console.log('open'); setInterval(() => {}, 60000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('open') && resolve());
        holder.once('exit', (code) => reject(new Error(`the holder exited with ${code} before opening`)));
      });
      fs.writeFileSync(path.join(dataDir, LOCK_FILE), `${holder.pid}\n`, { flag: 'wx' });
      expect(() => lockDataDir(dataDir)).toThrow(`in use by process ${holder.pid}`);
      expect(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(`${holder.pid}\n`);
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
    // Once it is gone, the directory is free.
    expect(() => lockDataDir(dataDir).release()).not.toThrow();
  });
});

describe('a live holder', () => {
  it('refuses a second lock in the same process, and frees the directory on release', () => {
    const dataDir = tempDataDir();
    const lock = lockDataDir(dataDir);
    expect(() => lockDataDir(dataDir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dataDir)).toThrow(`in use by process ${process.pid} (this one)`);
    lock.release();
    expect(() => lockDataDir(dataDir).release()).not.toThrow();
  });

  it('killed with SIGKILL, leaves no lock behind', async () => {
    const dataDir = tempDataDir();
    const holder = spawnTracked(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        '-e',
        `require('./src/db/data-dir-lock.ts').lockDataDir(${JSON.stringify(dataDir)}); console.log('locked'); setInterval(() => {}, 60000);`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
        holder.once('exit', (code) => reject(new Error(`the holder exited with ${code} before locking`)));
      });
      expect(() => lockDataDir(dataDir)).toThrow(`in use by process ${holder.pid}.`);
    } finally {
      holder.kill('SIGKILL');
      await exited;
    }
    // The lock file still names the dead holder; it does not matter.
    expect(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(`${holder.pid}\n`);
    expect(() => lockDataDir(dataDir).release()).not.toThrow();
  });
});
