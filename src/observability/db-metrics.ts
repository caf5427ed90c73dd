/**
 * Database timings and pool figures for the metrics, taken from what MikroORM
 * and knex already know: every statement passes through the ORM logger's
 * `logQuery` with its duration, and the knex pool (tarn) can be asked how many
 * connections it holds.
 */
import type { LogContext } from '@mikro-orm/core';
import type { Database } from '../db/database';
import type { Metrics, PoolStats } from './metrics';

const STATEMENTS = new Set(['select', 'insert', 'update', 'delete', 'begin', 'commit', 'rollback', 'savepoint', 'release', 'with']);

/** `insert into …` → `insert`; anything unusual is `other`, so the label stays a short fixed set. */
export function statementKind(query: string): string {
  const word = /^\s*([a-z]+)/i.exec(query)?.[1]?.toLowerCase() ?? '';
  return STATEMENTS.has(word) ? word : 'other';
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  max: number;
}

function knexPool(db: Database): TarnPool | undefined {
  try {
    const pool = (db.em.getConnection().getKnex().client as { pool?: TarnPool }).pool;
    return pool && typeof pool.numUsed === 'function' ? pool : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts timing the database's statements into `metrics`. Returns the
 * function that stops it. The ORM logger is shared by every connection of this
 * database, and one app owns one database, so wrapping it here is safe.
 */
export function instrumentDatabase(db: Database, metrics: Metrics): () => void {
  const logger = db.orm.config.getLogger();
  const original = logger.logQuery.bind(logger);
  logger.logQuery = (context: LogContext) => {
    if (typeof context.took === 'number' && context.query) {
      metrics.dbQueryDuration.observe({ statement: statementKind(context.query) }, context.took / 1000);
    }
    original(context);
  };
  metrics.watchPool((): PoolStats | undefined => {
    const pool = knexPool(db);
    if (!pool) return undefined;
    return { used: pool.numUsed(), free: pool.numFree(), pendingAcquires: pool.numPendingAcquires(), max: pool.max };
  });
  return () => {
    logger.logQuery = original;
  };
}
