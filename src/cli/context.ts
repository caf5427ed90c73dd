/**
 * What every command gets: output, the configuration, and the database it
 * names. Kept light: the database modules (MikroORM, PGlite) are imported only
 * when a command opens the database, and nothing here touches the HTTP stack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../config/config';
import type { Database } from '../db/database';
import { namingDatabaseErrors, safeUrl } from '../db/database-errors';

export type Print = (line: string) => void;

export interface CliContext {
  /** A line for stdout: the command's result. */
  print: Print;
  /** A line for stderr: notes about what the command is doing (which database, what it created). */
  note: Print;
  /** The configuration, read and checked when a command first asks. */
  config(): Config;
  /**
   * Opens the configured database, migrates it first (unless MIGRATE_ON_START=false, or
   * `autoMigrate: false`), runs `run`, and closes it.
   */
  withDatabase<T>(run: (db: Database) => Promise<T>, options?: { autoMigrate?: boolean }): Promise<T>;
}

/** Thrown when a command has no database to open; the message says where it looked. */
export class NoDatabaseError extends Error {
  override name = 'NoDatabaseError';
}

/** Thrown when MIGRATE_ON_START=false and the database still has migrations to apply. */
export class PendingMigrationsError extends Error {
  override name = 'PendingMigrationsError';
}

/**
 * Which database a command would open, in words; `undefined` for the default
 * (the embedded database in ./data of the current folder), which goes unsaid.
 */
export function describeDatabase(config: Config, cwd = process.cwd()): string | undefined {
  if (config.databaseUrl) return `PostgreSQL at ${safeUrl(config.databaseUrl)} (DATABASE_URL)`;
  if (config.dataDir === path.resolve(cwd, 'data')) return undefined;
  return `the embedded database in ${config.dataDir} (DATA_DIR)`;
}

/**
 * Commands other than `serve` work on an existing database. Without
 * DATABASE_URL or DATA_DIR, and with no ./data here, a command run from the
 * wrong folder would create a new empty database there; it refuses instead.
 */
export function checkDatabaseExists(config: Config, env: NodeJS.ProcessEnv, cwd = process.cwd()): void {
  if (config.databaseUrl || env.DATA_DIR?.trim()) return;
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a path from configuration (DATA_DIR, ENV_FILE), /proc or this package's own files, never from a request
  if (fs.existsSync(config.dataDir)) return;
  throw new NoDatabaseError(
    `no database to open: DATABASE_URL and DATA_DIR are not set, and there is no ${path.join(cwd, 'data')}. ` +
      'Run this in the folder where `order-gateway serve` keeps its data, or set DATA_DIR (the embedded database) or DATABASE_URL (PostgreSQL).',
  );
}

export function createContext(
  print: Print,
  note: Print,
  env: NodeJS.ProcessEnv = process.env,
): CliContext {
  let config: Config | undefined;
  const context: CliContext = {
    print,
    note,
    config() {
      config ??= loadConfig(env);
      return config;
    },
    async withDatabase(run, options = {}) {
      const current = context.config();
      checkDatabaseExists(current, env);
      const where = describeDatabase(current);
      if (where) note(`order-gateway: using ${where}`);
      // MikroORM and PGlite load here, when a command first opens the database.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { databaseTarget, openDatabase } = require('../db/database') as typeof import('../db/database');
      const target = databaseTarget(current);
      const db = await namingDatabaseErrors(target, () => openDatabase(target));
      try {
        const migrate = current.migrateOnStart && options.autoMigrate !== false;
        if (migrate) await namingDatabaseErrors(target, () => db.migrate());
        else if (options.autoMigrate !== false) {
          // MIGRATE_ON_START=false: a database without the latest schema would fail the command
          // with an SQL error (a missing table); name the fix instead.
          await namingDatabaseErrors(target, () => db.checkSchemaKnown());
          const pending = await namingDatabaseErrors(target, () => db.pendingMigrations());
          if (pending.length > 0) {
            throw new PendingMigrationsError(
              `migrations pending: ${pending.join(', ')} (run \`order-gateway migrate\`; MIGRATE_ON_START=false skips it before each command)`,
            );
          }
        }
        return await namingDatabaseErrors(target, () => run(db));
      } finally {
        await db.close();
      }
    },
  };
  return context;
}
