/**
 * A fresh, migrated database for one test file: an in-memory embedded
 * PostgreSQL by default, or a new database on the server named by
 * DATABASE_URL (created here, dropped afterwards), so that no two runs or
 * files ever see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openDatabase, type Database, type DatabaseTarget } from '../../src/db/database';

export const usingRealPostgres = Boolean(process.env.DATABASE_URL);

export interface TestDatabase {
  db: Database;
  target: DatabaseTarget;
  /** Closes the database and, on a server, drops it. */
  destroy(): Promise<void>;
}

/** Runs `run` on a connection of its own to `url`, closed afterwards. */
export async function withClient<T>(url: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** The rows of one statement, on a connection of its own: what a test reads behind the gateway's back. */
export async function queryRows<T extends object>(url: string, sql: string): Promise<T[]> {
  return withClient(url, async (client) => (await client.query(sql)).rows as T[]);
}

const admin = <T>(run: (client: Client) => Promise<T>): Promise<T> => withClient(process.env.DATABASE_URL as string, run);

/** A new empty database on the DATABASE_URL server; returns its URL and a function that drops it. */
export async function createServerDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `og_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(process.env.DATABASE_URL as string);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin((client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

/** `migrateTo`: only the migrations up to this one, for a test of what a later one does to older data. */
export async function createTestDatabase(options: { migrateTo?: string } = {}): Promise<TestDatabase> {
  const migrate = (db: Database) =>
    options.migrateTo ? db.orm.getMigrator().up({ to: options.migrateTo }) : db.migrate();
  if (!usingRealPostgres) {
    const target: DatabaseTarget = { kind: 'embedded', dataDir: null };
    const db = await openDatabase(target);
    await migrate(db);
    return { db, target, destroy: () => db.close() };
  }
  const server = await createServerDatabase();
  const target: DatabaseTarget = { kind: 'postgres', url: server.url, poolMax: 10, connectTimeoutMs: 2000, statementTimeoutMs: 10_000 };
  const db = await openDatabase(target);
  await migrate(db);
  return {
    db,
    target,
    async destroy() {
      await db.close();
      await server.drop();
    },
  };
}

/**
 * Where a gateway process started by a test keeps its data: a new database on the DATABASE_URL
 * server, or else a fresh DATA_DIR folder (`prefix` names it) for its embedded PostgreSQL. `env`
 * goes into the process's environment; `cleanup` drops the database or removes the folder.
 */
export async function createProcessDatabase(prefix: string): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  if (usingRealPostgres) {
    const server = await createServerDatabase();
    return { env: { DATABASE_URL: server.url }, cleanup: server.drop };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { env: { DATA_DIR: dir }, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The rows of one statement on what `createProcessDatabase` made, read after the gateway process
 * has stopped: on the server through a connection of its own, else by opening the process's
 * embedded database (its DATA_DIR lock is free only once the process is gone).
 */
export async function queryProcessDatabase<T extends object>(env: Record<string, string>, sql: string): Promise<T[]> {
  if (env.DATABASE_URL) return queryRows<T>(env.DATABASE_URL, sql);
  const db = await openDatabase({ kind: 'embedded', dataDir: env.DATA_DIR ?? '' });
  try {
    return await db.em.fork().execute<T[]>(sql);
  } finally {
    await db.close();
  }
}
