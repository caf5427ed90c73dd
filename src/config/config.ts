/**
 * Typed, validated configuration read from the environment.
 *
 * This module imports nothing else from `src/`: every other layer receives a
 * `Config` value, so tests can build one without touching `process.env`.
 */
import path from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type NodeEnv = 'development' | 'production' | 'test';

export interface Config {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  /** Where the embedded database lives when `databaseUrl` is not set. */
  dataDir: string;
  /** A real PostgreSQL server; when unset the embedded PGlite database is used. */
  databaseUrl: string | undefined;
  logLevel: LogLevel;
  migrateOnStart: boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Connections kept by the pool on a real PostgreSQL server (at least 2: migrations hold one for their lock). */
  dbPoolMax: number;
  /** How long to wait for a new database connection before answering 503. */
  dbConnectTimeoutMs: number;
  /** Server-side `statement_timeout` for every query. */
  dbStatementTimeoutMs: number;
  /** GraphiQL at `GET /graphql` for browsers: on by default except in production. */
  playground: boolean;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** When set, `/metrics` is served on this port only, not on `port`. */
  metricsPort: number | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const NODE_ENVS: readonly NodeEnv[] = ['development', 'production', 'test'];

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function readDatabaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL must be a URL such as postgres://user@127.0.0.1:5432/orders');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must start with postgres:// or postgresql://, got "${url.protocol}//"`);
  }
  return raw;
}

function readMetricsPort(env: Env, port: number): number | undefined {
  if (env.METRICS_PORT === undefined || env.METRICS_PORT.trim() === '') return undefined;
  const metricsPort = readInt(env, 'METRICS_PORT', 0, 0, 65535);
  if (metricsPort !== 0 && metricsPort === port) throw new ConfigError(`METRICS_PORT must differ from PORT, both are ${port}`);
  return metricsPort;
}

function readToken(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  if (!/^[\x21-\x7e]{16,512}$/.test(raw)) throw new ConfigError(`${name} must be 16 to 512 printable characters without spaces`);
  return raw;
}

/** Reads and checks the configuration; throws a `ConfigError` naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = readEnum(env, 'NODE_ENV', NODE_ENVS, 'development');
  const port = readInt(env, 'PORT', 3000, 0, 65535);
  return {
    nodeEnv,
    port,
    host: env.HOST?.trim() || '127.0.0.1',
    dataDir: path.resolve(env.DATA_DIR?.trim() || './data'),
    databaseUrl: readDatabaseUrl(env),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    migrateOnStart: readBool(env, 'MIGRATE_ON_START', true),
    bodyLimit: readInt(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    dbPoolMax: readInt(env, 'DB_POOL_MAX', 10, 2, 500),
    dbConnectTimeoutMs: readInt(env, 'DB_CONNECT_TIMEOUT_MS', 2000, 100, 600_000),
    dbStatementTimeoutMs: readInt(env, 'DB_STATEMENT_TIMEOUT_MS', 10_000, 100, 3_600_000),
    playground: readBool(env, 'PLAYGROUND', nodeEnv !== 'production'),
    metricsToken: readToken(env, 'METRICS_TOKEN'),
    metricsPort: readMetricsPort(env, port),
  };
}
