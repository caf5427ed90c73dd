/**
 * Turns what the driver or the file system throws while opening a database
 * into one line that names the setting to fix (DATABASE_URL or DATA_DIR).
 * The original error stays as `cause` (printed at LOG_LEVEL=debug).
 */
import type { DatabaseTarget } from './database';

export class DatabaseStartError extends Error {
  override name = 'DatabaseStartError';
}

/**
 * The database was migrated by a later release than this one (a rollback, or a newer backup
 * restored where an older release runs). Nothing is served or written on it.
 */
export class SchemaNewerThanCodeError extends Error {
  override name = 'SchemaNewerThanCodeError';
  constructor(readonly unknownMigrations: readonly string[]) {
    super(
      `the database schema is newer than this order-gateway (applied by a later release, unknown here: ${unknownMigrations.join(', ')}); ` +
        'run the release that applied them (or a later one), or restore a backup taken before they were applied',
    );
  }
}

/** Parameters node-postgres reads a secret from (the password, the client key's passphrase). */
const SECRET_PARAMETERS = ['password', 'sslpassword'];

/** A database URL without its password (in the user part or as a parameter), for messages. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of SECRET_PARAMETERS) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

const POSTGRES_CODES: Record<string, (url: URL) => string> = {
  '3D000': (url) => `database "${decodeURIComponent(url.pathname.slice(1))}" does not exist (create it, or fix the name)`,
  '28000': (url) => `role "${decodeURIComponent(url.username)}" does not exist or may not connect`,
  '28P01': (url) => `password authentication failed for user "${decodeURIComponent(url.username)}"`,
  '57P03': () => 'the server is starting up or shutting down; try again shortly',
  '53300': () => 'the server has no connection slots left (max_connections)',
};

const NETWORK_CODES: Record<string, (url: URL) => string> = {
  ECONNREFUSED: (url) => `connection refused at ${url.hostname}:${url.port || 5432} (is PostgreSQL running there?)`,
  ENOTFOUND: (url) => `host "${url.hostname}" not found`,
  EAI_AGAIN: (url) => `host "${url.hostname}" could not be resolved`,
  ETIMEDOUT: (url) => `connecting to ${url.hostname}:${url.port || 5432} timed out`,
  EHOSTUNREACH: (url) => `host ${url.hostname} is unreachable`,
};

/** Node's codes for a server certificate that TLS refused (sslmode=verify-ca or verify-full). */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const FILE_CODES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file is in the way',
  ENOSPC: 'the disk is full (free some space, then start again)',
  EISDIR: 'a folder is in the way',
};

export function explainDatabaseError(error: unknown, target: DatabaseTarget): string | undefined {
  const e = error as { code?: unknown; message?: unknown; path?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (target.kind === 'postgres') {
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      return undefined;
    }
    const where = `DATABASE_URL (${safeUrl(target.url)})`;
    if (code && POSTGRES_CODES[code]) return `${where}: ${POSTGRES_CODES[code](url)}`;
    // insufficient_privilege: a least-privilege role meeting what a start does (migrations, their table).
    if (code === '42501') {
      const what = message.split(' - ').pop() ?? message;
      return `${where}: role "${decodeURIComponent(url.username)}" may not do what the start needs (${what}); grant it what README's "Behind PgBouncer, and the grants the gateway needs" lists, or migrate with the owner's role and start this one with MIGRATE_ON_START=false`;
    }
    // PgBouncer's answer to the session settings a direct connection sends at its start (see PoolMode).
    const refused = /^unsupported startup parameter: (\S+)/i.exec(message);
    if (refused)
      return `${where}: a connection pooler (PgBouncer?) refused the startup parameter ${refused[1]}; set DATABASE_POOL_MODE=transaction if it pools by transaction (pool_mode = transaction), or DATABASE_POOL_MODE=session if by session (see README, Behind PgBouncer)`;
    if (code && NETWORK_CODES[code]) return `${where}: ${NETWORK_CODES[code](url)}`;
    // sslmode in the URL asks for TLS (see database.ts); these failures name no code of PostgreSQL's.
    if (/server does not support SSL/i.test(message))
      return `${where}: the server does not accept SSL connections, which sslmode=${url.searchParams.get('sslmode') ?? '…'} requires (turn ssl on in the server, or change sslmode)`;
    if (code && CERTIFICATE_CODES.has(code))
      return `${where}: the server's certificate was refused (${code}); give the CA that signed it with sslrootcert=<file> (node-postgres checks it for sslmode=require too; uselibpqcompat=true&sslmode=require encrypts without checking, as libpq does)`;
    if (isPoolTimeout(message)) return `${where}: no connection within DB_CONNECT_TIMEOUT_MS (${target.connectTimeoutMs} ms)`;
    // node-postgres's words for a port where something else listens: it hangs up, or never answers.
    const server = `${url.hostname}:${url.port || 5432}`;
    if (/^Connection terminated unexpectedly$/i.test(message))
      return `${where}: the server at ${server} closed the connection (is it PostgreSQL, on the right port?)`;
    if (/^timeout expired$/i.test(message))
      return `${where}: no answer from ${server} within DB_CONNECT_TIMEOUT_MS (${target.connectTimeoutMs} ms) (is it PostgreSQL, on the right port?)`;
    return undefined;
  }
  if (code && FILE_CODES[code]) {
    const file = typeof e?.path === 'string' ? ` (${e.path})` : '';
    return `DATA_DIR (${target.dataDir ?? 'in memory'}): cannot use it: ${FILE_CODES[code]}${file}`;
  }
  return undefined;
}

/**
 * PostgreSQL's and the network's codes for a failure that may pass by itself: the server is not
 * up yet or is restarting, has no connection slot free, or did not answer in time. The CLI exits
 * 75 ("try again later") for these and 78 ("fix the configuration") for the rest (exit-codes.ts).
 */
const TEMPORARY_CODES = new Set(['57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN']);

export function isTemporaryDatabaseFailure(cause: unknown): boolean {
  const e = cause as { code?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'string' && TEMPORARY_CODES.has(e.code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  // node-postgres's own words for a connection that was not made in time (no code).
  return /^timeout expired$/i.test(message) || isPoolTimeout(message);
}

/** The pool's (or MikroORM's) words for no connection within the connect timeout. */
function isPoolTimeout(message: string): boolean {
  return /timeout/i.test(message) && /connect|acquir/i.test(message);
}

/** Runs `open` (opening and migrating a database); a failure it can name becomes a one-line `DatabaseStartError`. */
export async function namingDatabaseErrors<T>(target: DatabaseTarget, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    const explained = explainDatabaseError(error, target);
    throw explained ? new DatabaseStartError(explained, { cause: error }) : error;
  }
}
