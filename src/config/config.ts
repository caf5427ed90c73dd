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
  /**
   * PostgreSQL ends a session left idle inside a transaction this long. That
   * frees the idempotency claim of a request that hung mid-create.
   */
  dbIdleInTransactionTimeoutMs: number;
  /** How long a completed create is remembered under its Idempotency-Key. */
  idempotencyTtlMs: number;
  /** How often expired idempotency keys are deleted (0: never, for tests). */
  idempotencySweepIntervalMs: number;
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish. */
  shutdownGraceMs: number;
  /** GraphiQL at `GET /graphql` for browsers: on by default except in production. */
  playground: boolean;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** When set, `/metrics` is served on this port only, not on `port`. */
  metricsPort: number | undefined;
  /** GraphQL introspection: on by default except in production. */
  introspection: boolean;
  /** Requests a minute per API key (per client address for requests without a key). */
  rateLimitPerMinute: number;
  /** 401 answers a minute per client address before the address gets 429 for the rest of the minute. */
  authFailuresPerMinute: number;
  /** The rate-limit window. Not an environment variable (the limits are per minute); tests shorten it. */
  rateLimitWindowMs: number;
  /** Redis for rate-limit counters shared by every process; in process memory when unset. */
  redisUrl: string | undefined;
  /** Prefix of the rate-limit keys in Redis. */
  rateLimitRedisPrefix: string;
  /** Fastify's `trustProxy`: whose X-Forwarded-For to believe for the client address. */
  trustProxy: boolean | string[];
  /** Browser origins allowed to call the API cross-origin (CORS); none when empty. */
  corsOrigins: string[];
  /** How long a successful API key lookup is reused (at most 1000 ms: revocation takes effect within a second). */
  apiKeyCacheTtlMs: number;
  graphqlMaxDepth: number;
  graphqlMaxAliases: number;
  graphqlMaxDirectives: number;
  graphqlMaxTokens: number;
  graphqlMaxCost: number;
  /** A GraphQL answer larger than this is refused (QUERY_LIMIT_EXCEEDED, limit `responseSize`) instead of sent. */
  graphqlMaxResponseBytes: number;
  /**
   * Past this mean event-loop delay (over a sample interval), `/api` and `/graphql`
   * requests are refused with 503 and Retry-After until the process catches up. 0: never.
   */
  maxEventLoopDelayMs: number;
  /** How often the event-loop delay is sampled. Not an environment variable; tests shorten it. */
  loadSampleIntervalMs: number;
  /** Time allowed for a request's headers to arrive. */
  headersTimeoutMs: number;
  /** Time allowed for a whole request (headers and body) to arrive. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
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

function readRedisUrl(env: Env): string | undefined {
  const raw = env.REDIS_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL must be a URL such as redis://127.0.0.1:6379');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${url.protocol}//"`);
  }
  return raw;
}

/** `false` (the default), `true` (believe any proxy), or a list of proxy addresses/CIDRs to believe. */
/** `CORS_ORIGINS`: comma-separated origins such as `https://shop.example.com`; each must be scheme, host and port only. */
function readCorsOrigins(env: Env): string[] {
  const raw = env.CORS_ORIGINS?.trim();
  if (!raw) return [];
  return raw.split(',').map((entry) => {
    const origin = entry.trim();
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin such as https://shop.example.com`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin such as https://shop.example.com (no path, no trailing slash)`);
    }
    return origin;
  });
}

function readTrustProxy(env: Env): boolean | string[] {
  const raw = env.TRUST_PROXY?.trim();
  if (!raw) return false;
  if (/^(true|false|yes|no|1|0)$/i.test(raw)) return readBool(env, 'TRUST_PROXY', false);
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (!/^([0-9a-f:.]+(\/\d{1,3})?|loopback|linklocal|uniquelocal)$/i.test(entry)) {
      throw new ConfigError(`TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "${entry}"`);
    }
  }
  return entries;
}

function readServerTimeouts(env: Env): Pick<Config, 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs'> {
  const requestTimeoutMs = readInt(env, 'REQUEST_TIMEOUT_MS', 30_000, 1000, 3_600_000);
  const headersTimeoutMs = readInt(env, 'HEADERS_TIMEOUT_MS', 10_000, 1000, 3_600_000);
  // Node.js refuses a headers timeout longer than the request timeout.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  return { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs: readInt(env, 'KEEP_ALIVE_TIMEOUT_MS', 5000, 1000, 600_000) };
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
    dbIdleInTransactionTimeoutMs: readInt(env, 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 30_000, 100, 3_600_000),
    idempotencyTtlMs: readInt(env, 'IDEMPOTENCY_TTL_HOURS', 24, 1, 24 * 365) * 60 * 60 * 1000,
    idempotencySweepIntervalMs: readInt(env, 'IDEMPOTENCY_SWEEP_INTERVAL_MS', 10 * 60 * 1000, 0, 24 * 60 * 60 * 1000),
    shutdownGraceMs: readInt(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    playground: readBool(env, 'PLAYGROUND', nodeEnv !== 'production'),
    metricsToken: readToken(env, 'METRICS_TOKEN'),
    metricsPort: readMetricsPort(env, port),
    introspection: readBool(env, 'INTROSPECTION', nodeEnv !== 'production'),
    rateLimitPerMinute: readInt(env, 'RATE_LIMIT_PER_MINUTE', 300, 1, 1_000_000),
    authFailuresPerMinute: readInt(env, 'AUTH_FAILURES_PER_MINUTE', 30, 1, 1_000_000),
    rateLimitWindowMs: 60_000,
    redisUrl: readRedisUrl(env),
    rateLimitRedisPrefix: env.RATE_LIMIT_REDIS_PREFIX?.trim() || 'order-gateway:ratelimit:',
    trustProxy: readTrustProxy(env),
    corsOrigins: readCorsOrigins(env),
    apiKeyCacheTtlMs: readInt(env, 'API_KEY_CACHE_TTL_MS', 500, 0, 1000),
    graphqlMaxDepth: readInt(env, 'GRAPHQL_MAX_DEPTH', 8, 1, 1000),
    graphqlMaxAliases: readInt(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 10_000),
    graphqlMaxDirectives: readInt(env, 'GRAPHQL_MAX_DIRECTIVES', 50, 0, 10_000),
    graphqlMaxTokens: readInt(env, 'GRAPHQL_MAX_TOKENS', 2000, 100, 1_000_000),
    graphqlMaxCost: readInt(env, 'GRAPHQL_MAX_COST', 50_000, 1, 100_000_000),
    graphqlMaxResponseBytes: readInt(env, 'GRAPHQL_MAX_RESPONSE_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxEventLoopDelayMs: readInt(env, 'MAX_EVENT_LOOP_DELAY_MS', 200, 0, 60_000),
    loadSampleIntervalMs: 1000,
    ...readServerTimeouts(env),
  };
}

/**
 * What `serve` needs beyond a valid configuration. Outside development,
 * `/metrics` (every workspace's operation names and traffic) must not be open
 * on the API's own port: it needs METRICS_TOKEN, or METRICS_PORT to serve it
 * on a port of its own that only monitoring reaches.
 */
export function checkServeConfig(config: Config): void {
  if (config.nodeEnv !== 'development' && config.metricsToken === undefined && config.metricsPort === undefined) {
    throw new ConfigError(
      `NODE_ENV=${config.nodeEnv} needs METRICS_TOKEN (16+ characters, required by /metrics as a bearer token) ` +
        'or METRICS_PORT (serves /metrics on a port of its own): /metrics shows every workspace\'s traffic',
    );
  }
}
