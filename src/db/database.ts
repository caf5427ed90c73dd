/**
 * Database selection and lifecycle: the embedded PostgreSQL (PGlite, on disk
 * under DATA_DIR) when no DATABASE_URL is given, a real PostgreSQL otherwise.
 * Both run the same entities and the same migrations.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver, type EntityManager } from '@mikro-orm/postgresql';
import { EmbeddedDriver } from './embedded-driver';
import type { Config } from '../config/config';
import { lockDataDir, type DataDirLock } from './data-dir-lock';
import { SchemaNewerThanCodeError } from './database-errors';
import { entities } from './entities';
import { migrationsList } from './migrations';
import { withoutNamedStatements } from './sql';

export type DatabaseTarget =
  /**
   * `dataDir: null` keeps the embedded database in memory (tests). `connectTimeoutMs`: how long a
   * query waits for the one connection before it fails (a 503); knex's own 60 s when unset.
   */
  | { kind: 'embedded'; dataDir: string | null; connectTimeoutMs?: number }
  | {
      kind: 'postgres';
      url: string;
      poolMax: number;
      connectTimeoutMs: number;
      statementTimeoutMs: number;
      idleInTransactionTimeoutMs?: number;
      /** How `url` reaches the server (DATABASE_POOL_MODE); `direct` when unset. */
      poolMode?: PoolMode;
      /** The same database without a transaction pooler, for LISTEN (DATABASE_DIRECT_URL). */
      directUrl?: string;
    };

/**
 * `direct`: the server itself, every session setting sent at connection start.
 * `session`: a pooler in session mode (PgBouncer refuses startup parameters other than a few), so the
 * settings are SET once on each new connection, which keeps its server connection until it closes.
 * `transaction`: a pooler in transaction mode, where consecutive transactions of one connection run on
 * different server connections: nothing session-wide is sent (a SET would change another client's
 * session and be gone for ours; the timeouts belong on the role, see README), statements are unnamed
 * (PgBouncer 1.18 does not carry a named prepared statement to the next server connection), and
 * LISTEN goes to `directUrl` or nowhere (a notification would arrive on a connection no longer ours).
 */
export type PoolMode = 'direct' | 'session' | 'transaction';

export interface Database {
  readonly kind: DatabaseTarget['kind'];
  /** The server's URL (DATABASE_URL); undefined on the embedded database. */
  readonly url?: string;
  /**
   * Where the relay's LISTEN connection goes: DATABASE_DIRECT_URL, else DATABASE_URL unless that is a
   * transaction pooler; undefined on the embedded database and when no URL can carry a LISTEN.
   */
  readonly listenUrl?: string;
  readonly orm: MikroORM;
  /** The root entity manager; fork it for each unit of work. */
  readonly em: EntityManager;
  /** Applies pending migrations; safe to run from several processes at once. */
  migrate(): Promise<string[]>;
  /** Names of migrations not yet applied (a server started with MIGRATE_ON_START=false is not ready while any are). */
  pendingMigrations(): Promise<string[]>;
  /**
   * Throws SchemaNewerThanCodeError when the database records migrations this version does not
   * have (a later release migrated it): this code would read and write tables it does not know.
   */
  checkSchemaKnown(): Promise<void>;
  /** True when the database answers a trivial query and takes writes (not read-only). */
  ping(): Promise<boolean>;
  /**
   * Where the driver's own warnings go (knex's "Connection Error: …" for a pooled connection the
   * server dropped). Until set, they go to stderr; the server sends them to its JSON log.
   */
  onDriverWarning(log: (message: string) => void): void;
  close(): Promise<void>;
}

/** knex's `log` option: its warnings (which it would print with console.log) go where the sink says. */
function driverLog() {
  const sink = { warn: (message: string) => void process.stderr.write(`${message}\n`) };
  return { sink, log: { warn: (message: string) => sink.warn(message) } };
}

export function databaseTarget(config: Config): DatabaseTarget {
  if (config.databaseUrl) {
    return {
      kind: 'postgres',
      url: config.databaseUrl,
      poolMax: config.dbPoolMax,
      connectTimeoutMs: config.dbConnectTimeoutMs,
      statementTimeoutMs: config.dbStatementTimeoutMs,
      idleInTransactionTimeoutMs: config.dbIdleInTransactionTimeoutMs,
      poolMode: config.databasePoolMode,
      directUrl: config.databaseDirectUrl,
    };
  }
  return { kind: 'embedded', dataDir: config.dataDir, connectTimeoutMs: config.dbConnectTimeoutMs };
}

const KNOWN_MIGRATIONS = new Set(migrationsList.map((migration) => migration.name));

// Any fixed 64-bit number; it names the lock that serialises migrations across processes.
const MIGRATION_LOCK_ID = 7_420_116_230_001;

const common: Options = {
  entities,
  extensions: [Migrator],
  migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false, silent: true },
  forceUtcTimezone: true,
  // Every unit of work forks its own EntityManager; touching the global one is a bug.
  allowGlobalContext: false,
  ensureDatabase: false,
  discovery: { warnWhenNoEntities: true },
};

/**
 * MikroORM's migration snapshot: the schema the migrations produce, committed
 * next to them, so that `npm run migration:create` diffs the entities against
 * it without a database. Only the authoring scripts and the drift test use it;
 * a running server never writes into its own package.
 */
export const MIGRATION_SNAPSHOT = { path: path.resolve(__dirname, 'migrations'), snapshotName: '.snapshot-order-gateway' };

export interface OpenOptions {
  /** Read the migration snapshot, and write it after migrations are applied (authoring only). */
  snapshot?: boolean;
}

function withSnapshot(options: OpenOptions): Options {
  return options.snapshot ? { ...common, migrations: { ...common.migrations, snapshot: true, ...MIGRATION_SNAPSHOT } } : common;
}

export async function openDatabase(target: DatabaseTarget, open: OpenOptions = {}): Promise<Database> {
  const warnings = driverLog();
  if (target.kind === 'postgres') {
    const poolMode = target.poolMode ?? 'direct';
    const settings = {
      statement_timeout: target.statementTimeoutMs,
      idle_in_transaction_session_timeout: target.idleInTransactionTimeoutMs ?? 30_000,
    };
    const orm = await MikroORM.init({
      ...withSnapshot(open),
      driver: PostgreSqlDriver,
      clientUrl: target.url,
      pool: {
        min: 0,
        max: target.poolMax,
        acquireTimeoutMillis: target.connectTimeoutMs,
        // Once per new connection, not per request (see PoolMode).
        ...(poolMode === 'session' ? { afterCreate: setSessionSettings(settings) } : {}),
      },
      driverOptions: {
        connection: {
          // MikroORM takes only host, port, user, password and database from clientUrl; pg reads the
          // rest of the URL (sslmode, sslrootcert, application_name, options…) from connectionString.
          connectionString: target.url,
          connectionTimeoutMillis: target.connectTimeoutMs,
          ...(poolMode === 'direct' ? settings : {}),
        },
        log: warnings.log,
      },
    });
    // A ping waits for a connection (at most connectTimeoutMs), then for `select 1`: a server that
    // stops answering on a connection already open would hold it until TCP gave up, so it is bounded.
    if (poolMode === 'transaction') withoutNamedStatements(orm.config);
    const listenUrl = target.directUrl ?? (poolMode === 'transaction' ? undefined : target.url);
    return wrap('postgres', orm, warnings.sink, async () => orm.close(true), target.url, target.connectTimeoutMs + PING_QUERY_MS, listenUrl);
  }

  let lock: DataDirLock | undefined;
  let pglite: PGlite;
  // The extensions the migrations create (a server has them from its contrib package).
  const options: PGliteOptions = { extensions: { pg_trgm } };
  if (target.dataDir === null) {
    pglite = new PGlite(options);
  } else {
    lock = lockDataDir(target.dataDir);
    try {
      pglite = await openWhole(target.dataDir, options);
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  const orm = await MikroORM.init({
    ...withSnapshot(open),
    driver: EmbeddedDriver,
    dbName: 'postgres',
    // PGlite has one connection, and everything waits its turn for it: as on a server, a request
    // waits at most DB_CONNECT_TIMEOUT_MS (then a 503), not knex's default minute.
    ...(target.connectTimeoutMs === undefined ? {} : { pool: { acquireTimeoutMillis: target.connectTimeoutMs } }),
    driverOptions: { connection: { pglite: () => pglite }, log: warnings.log },
  });
  const pingTimeoutMs = target.connectTimeoutMs === undefined ? undefined : target.connectTimeoutMs + PING_QUERY_MS;
  return wrap('embedded', orm, warnings.sink, async () => {
    try {
      await orm.close(true);
      // Closing PGlite checkpoints and flushes, leaving the data directory consistent.
      await pglite.close();
    } finally {
      lock?.release();
    }
  }, undefined, pingTimeoutMs);
}

/**
 * Written in DATA_DIR before PGlite makes a new database in `pgdata`, and removed once that
 * database is whole: found at a start, it says that the creation was cut short.
 */
const CREATING = 'pgdata.creating';

/** Below this much free space, a database that could not be created is put down to a full disk. */
const NEARLY_FULL_BYTES = 8 * 1024 * 1024;

/**
 * Opens `DATA_DIR/pgdata`, making it on the first start, all or nothing. PGlite makes a new
 * database (initdb) in the folder it is given, and takes any folder holding `PG_VERSION` for a
 * made one: a creation cut short (a disk that filled, a process killed) left a half-made database
 * that every later start refused with a query error, even with space to spare. So a creation is
 * bracketed by the `pgdata.creating` marker, and a start that finds the marker removes what the
 * creation left and makes the database again. We hold the DATA_DIR lock, so what it left is
 * nobody's. (Making it in a folder of its own and renaming it into place does the same, but opens
 * PGlite twice: a first start took 1.5 s longer.)
 */
async function openWhole(dataDir: string, options: PGliteOptions): Promise<PGlite> {
  const pgdata = path.join(dataDir, 'pgdata');
  const marker = path.join(dataDir, CREATING);
  const removeCreation = () => {
    fs.rmSync(pgdata, { recursive: true, force: true });
    fs.rmSync(marker, { force: true });
  };
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR), never from a request
  if (fs.existsSync(marker)) removeCreation();
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR), never from a request
  const made = fs.existsSync(path.join(pgdata, 'PG_VERSION')) || (fs.existsSync(pgdata) && fs.readdirSync(pgdata).length > 0);
  if (made) {
    // Anything in pgdata but the marker's leftovers stays PGlite's to judge.
    const pglite = new PGlite(pgdata, options);
    await pglite.waitReady;
    return pglite;
  }
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR), never from a request
  fs.writeFileSync(marker, '');
  let pglite: PGlite | undefined;
  try {
    pglite = new PGlite(pgdata, options);
    await pglite.waitReady;
  } catch (error) {
    // PGlite aborts its WebAssembly (`Aborted()`) when a write fails: no errno to read, so the
    // free space says what happened.
    const { bavail, bsize } = fs.statfsSync(dataDir);
    await pglite?.close().catch(() => undefined);
    removeCreation();
    if (bavail * bsize < NEARLY_FULL_BYTES)
      throw Object.assign(new Error('no space left on device while creating the database', { cause: error }), { code: 'ENOSPC' });
    throw error;
  }
  fs.rmSync(marker);
  return pglite;
}

/**
 * Behind a transaction pooler the gateway sets no session timeouts (see PoolMode): they come from
 * the role or the database. A warning to log when either is off (0) there; undefined otherwise.
 */
export async function missingPoolerTimeouts(db: Database, target: DatabaseTarget): Promise<string | undefined> {
  if (target.kind !== 'postgres' || target.poolMode !== 'transaction') return undefined;
  const [row] = await db.em
    .fork()
    .execute<{ user: string; statement: string; idle: string }[]>(
      "select current_user as user, current_setting('statement_timeout') as statement, current_setting('idle_in_transaction_session_timeout') as idle",
    );
  const off = [
    row?.statement === '0' ? `statement_timeout = '${target.statementTimeoutMs}ms'` : undefined,
    row?.idle === '0' ? `idle_in_transaction_session_timeout = '${target.idleInTransactionTimeoutMs ?? 30_000}ms'` : undefined,
  ].filter((setting) => setting !== undefined);
  if (off.length === 0) return undefined;
  return `DATABASE_POOL_MODE=transaction: the server applies no ${off.map((setting) => setting.split(' ')[0]).join(' and no ')} to the gateway's sessions, and through a transaction pooler the gateway cannot set them itself; set them on its role: ${off.map((setting) => `ALTER ROLE "${row?.user}" SET ${setting};`).join(' ')}`;
}

/** knex's `afterCreate`: SETs the session's timeouts on a new connection before the pool hands it out. */
function setSessionSettings(settings: Record<string, number>) {
  const text = Object.entries(settings)
    .map(([name, value]) => `set ${name} = ${Math.trunc(value)}`)
    .join('; ');
  return (connection: { query(text: string, done: (error?: Error) => void): void }, done: (error: Error | undefined, connection: unknown) => void) =>
    connection.query(text, (error) => done(error ?? undefined, connection));
}

/** How long `select 1` may take, on top of waiting for a connection, before a ping says the database does not answer. */
const PING_QUERY_MS = 1000;

function wrap(
  kind: DatabaseTarget['kind'],
  orm: MikroORM,
  warnings: { warn: (message: string) => void },
  close: () => Promise<void>,
  url?: string,
  pingTimeoutMs?: number,
  listenUrl?: string,
): Database {
  const em = orm.em as EntityManager;
  let closed = false;
  async function checkSchemaKnown(): Promise<void> {
    // Before the first migration the table does not exist yet: nothing is unknown then.
    const executed = await orm.getMigrator().getExecutedMigrations();
    const unknown = executed.map((migration) => migration.name).filter((name) => !KNOWN_MIGRATIONS.has(name));
    if (unknown.length > 0) throw new SchemaNewerThanCodeError(unknown);
  }
  return {
    kind,
    url,
    listenUrl,
    orm,
    em,
    async migrate() {
      const migrator = orm.getMigrator();
      const up = async () => {
        await checkSchemaKnown();
        return (await migrator.up()).map((migration) => migration.name);
      };
      // One embedded database has one process (see data-dir-lock.ts), so there is nobody to race.
      if (kind === 'embedded') return up();
      // Several gateways may start together on one server: the first to take this lock
      // migrates, the rest wait and then find nothing pending. The lock is held by a
      // transaction on one pooled connection while the migrator works on another.
      return em.fork().transactional(async (tx) => {
        await tx.execute(`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`);
        return up();
      });
    },
    checkSchemaKnown,
    async pendingMigrations() {
      return (await orm.getMigrator().getPendingMigrations()).map((migration) => migration.name);
    },
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      try {
        // A database that answers but is read-only (a hot standby, a demoted primary,
        // default_transaction_read_only) takes no order and lets the relay mark nothing sent.
        const query = em.fork().execute<{ read_only: string }[]>("select current_setting('transaction_read_only') as read_only");
        let rows: { read_only: string }[];
        if (pingTimeoutMs === undefined) rows = await query;
        else {
          query.catch(() => undefined); // it may still fail after the ping has given up
          const timedOut = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('ping timed out')), pingTimeoutMs);
          });
          rows = await Promise.race([query, timedOut]);
        }
        return rows[0]?.read_only !== 'on';
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
    onDriverWarning(log) {
      warnings.warn = log;
    },
    async close() {
      if (closed) return;
      closed = true;
      await close();
    },
  };
}
