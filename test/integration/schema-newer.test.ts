/**
 * A database whose schema is newer than the code: migrated by a later release
 * and then served by an earlier one (a rollback, or a backup of the new
 * release restored where the old one runs). Every migration this version has
 * is applied, so it used to find nothing pending, say "The database is up to
 * date." and serve tables it has never heard of. Now `migrate`, every command
 * and `serve` refuse, name the migrations this version does not know and say
 * what to run instead, and write nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseTarget } from '../../src/db/database';
import { execute, queryAll } from '../../src/db/sql';
import { createServerDatabase, usingRealPostgres } from '../support/database';
import { runCli, startServer } from '../support/processes';

const FUTURE = 'Migration20991231000000_from_a_later_release';
const REFUSAL = new RegExp(
  `^order-gateway: the database schema is newer than this order-gateway \\(applied by a later release, unknown here: ${FUTURE}\\); ` +
    'run the release that applied them \\(or a later one\\), or restore a backup taken before they were applied\\n$',
);

let env: Record<string, string>;
let target: DatabaseTarget;
let cleanup: () => Promise<void>;

/** Runs `sql` on the test's database, from this process (no gateway has it open then). */
async function onDatabase<T>(run: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const db = await openDatabase(target);
  try {
    return await run(db);
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  if (usingRealPostgres) {
    const server = await createServerDatabase();
    env = { DATABASE_URL: server.url };
    target = { kind: 'postgres', url: server.url, poolMax: 2, connectTimeoutMs: 2000, statementTimeoutMs: 10_000 };
    cleanup = server.drop;
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'og-newer-'));
    env = { DATA_DIR: dir };
    target = { kind: 'embedded', dataDir: dir };
    cleanup = async () => fs.rmSync(dir, { recursive: true, force: true });
  }
  await onDatabase(async (db) => {
    await db.migrate();
    // What a later release's `migrate` leaves behind: one more row, this version knows nothing of it.
    await execute(db.em.fork(), 'insert into mikro_orm_migrations (name) values (?)', [FUTURE]);
  });
}, 60_000);
afterAll(() => cleanup());

const stderrAfterNote = (stderr: string) => stderr.replace(/^order-gateway: using .*\n/, '');

describe('a database migrated by a later release', { timeout: 60_000 }, () => {
  it('migrate refuses, names the unknown migrations and what to run, and writes nothing', async () => {
    const migrated = await runCli(['migrate'], env);
    expect(migrated.code, migrated.stdout).toBe(78);
    expect(stderrAfterNote(migrated.stderr)).toMatch(REFUSAL);
    const rows = await onDatabase((db) => queryAll<{ name: string }>(db.em.fork(), 'select name from mikro_orm_migrations order by id'));
    expect(rows.at(-1)?.name).toBe(FUTURE);
  });

  it('every other command refuses too, with or without MIGRATE_ON_START', async () => {
    for (const migrateOnStart of ['true', 'false']) {
      const listed = await runCli(['workspace', 'create', 'shop'], { ...env, MIGRATE_ON_START: migrateOnStart });
      expect(listed.code, listed.stdout).toBe(78);
      expect(stderrAfterNote(listed.stderr)).toMatch(REFUSAL);
    }
    const workspaces = await onDatabase((db) => queryAll(db.em.fork(), 'select 1 from workspaces'));
    expect(workspaces).toHaveLength(0);
  });

  it('serve refuses to start on it, with or without MIGRATE_ON_START', async () => {
    for (const migrateOnStart of ['true', 'false']) {
      const outcome = await startServer({ ...env, MIGRATE_ON_START: migrateOnStart, NODE_ENV: 'production' }).then(
        async (server) => `served at ${server.url} (exit ${await server.stop()})`,
        (failure: Error) => failure.message,
      );
      expect(outcome).toMatch(/^server exited with 78 before listening/);
      expect(outcome).toContain(`unknown here: ${FUTURE}`);
      expect(outcome).toContain('run the release that applied them');
    }
  });
});
