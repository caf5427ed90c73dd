import { ConnectionException } from '@mikro-orm/core';
import { AppError, ErrorCode } from './app-error';

const DATABASE_DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

/**
 * What the drivers say when the server is gone, restarting or out of
 * connections. MikroORM copies the message when it wraps an error (and renames
 * it), so messages are matched, not class names. knex says "Transaction query
 * already complete" when the connection under a transaction died and the
 * transaction's next query finds it already rolled back. pg says "timeout
 * expired" when a new connection got no answer within its connect timeout
 * (DB_CONNECT_TIMEOUT_MS: a hung server, or an address that drops packets).
 * PostgreSQL says a database "is not currently accepting connections" (55000, a
 * code bugs share, so the message is matched) while an operator has closed it
 * (`ALTER DATABASE … ALLOW_CONNECTIONS false`).
 */
const DATABASE_DOWN_MESSAGES =
  /Connection terminated|Connection ended unexpectedly|not queryable|timeout exceeded when trying to connect|Timeout acquiring a connection|terminating connection|the database system is (starting up|shutting down|in recovery mode)|is not currently accepting connections|Unable to acquire a connection|Transaction query already complete|^timeout expired$/i;

/**
 * PostgreSQL's class 08 is about the connection, except 08P01
 * (protocol_violation): the server refusing what a request sent, such as a
 * NUL byte in a text parameter. That is a bug to see, not an outage to wait out.
 */
function isConnectionClass(code: string): boolean {
  return code.startsWith('08') && code !== '08P01';
}

/**
 * PostgreSQL's codes for a database that answers but cannot take this request now:
 * 25006 (read_only_sql_transaction: a hot standby, a primary demoted by a failover, or
 * `default_transaction_read_only = on`), 55P03 (lock_not_available: another session held
 * a lock past `lock_timeout`), 40001 (serialization_failure: a concurrent change under
 * REPEATABLE READ or SERIALIZABLE, e.g. a `default_transaction_isolation` a DBA set) and
 * 40P01 (deadlock_detected: another session took the same locks in the other order). None is
 * the request's fault or a bug of the gateway: PostgreSQL rolled the whole transaction back,
 * and the same request succeeds when sent again. They are not retried inside: a retry there
 * would hold the caller and the pool longer under the very contention that caused them.
 */
const DATABASE_BUSY_CODES = new Set(['25006', '55P03', '40001', '40P01']);

/**
 * True for failures that mean "the database cannot serve us right now", as
 * opposed to a bug: refused or dropped connections, a full pool, PostgreSQL's
 * connection class (08xxx but 08P01), shutdown and cancellation codes (57P01–03, 57014
 * for a statement timeout), too many connections (53300), a read-only database (25006),
 * a lock timeout (55P03), a serialization failure (40001), a deadlock (40P01) and a full disk (53100: the transaction rolled back whole, and the
 * same request stores once space is freed, so the caller is told to retry rather than that
 * the gateway has a bug).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    if (current instanceof ConnectionException) return true;
    const candidate = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    const code = typeof candidate.code === 'string' ? candidate.code : '';
    if (
      DATABASE_DOWN_CODES.has(code) ||
      isConnectionClass(code) ||
      /^57P0[1-3]$/.test(code) ||
      code === '57014' ||
      code === '53300' ||
      code === '53100' ||
      DATABASE_BUSY_CODES.has(code)
    ) {
      return true;
    }
    if (candidate.name === 'KnexTimeoutError') return true;
    if (typeof candidate.message === 'string' && DATABASE_DOWN_MESSAGES.test(candidate.message)) return true;
    current = candidate.cause;
  }
  return false;
}

/** Any thrown value as an `AppError`: typed errors pass through, everything else is a 503 or a 500. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) {
    return new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; retry shortly', [], 2);
  }
  return new AppError(ErrorCode.INTERNAL_ERROR, 'Internal server error');
}
