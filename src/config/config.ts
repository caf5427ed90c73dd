/**
 * Typed, validated configuration read from the environment.
 *
 * `ENV` is the one declaration of every variable: its type, bounds, default
 * and meaning. Reading checks each value against its entry and stops at the
 * first bad one with a one-line message that names the variable. To add a
 * variable, add its entry to `ENV` and its field to `toConfig`.
 *
 * This module imports nothing else from `src/`: every other layer receives a
 * `Config` value, so tests can build one without touching `process.env`.
 */
import path from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['development', 'production', 'test'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type NodeEnv = (typeof NODE_ENVS)[number];

const int = (minimum: number, maximum: number, fallback: number | undefined, description: string) =>
  fallback === undefined
    ? Type.Optional(Type.Integer({ minimum, maximum, description }))
    : Type.Integer({ minimum, maximum, default: fallback, description });
const bool = (fallback: boolean | undefined, description: string) =>
  fallback === undefined
    ? Type.Optional(Type.Boolean({ description }))
    : Type.Boolean({ default: fallback, description });
const oneOf = <T extends string>(values: readonly T[], fallback: T, description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], default: fallback, description });
const text = (fallback: string, description: string) => Type.String({ default: fallback, description });
/** A URL whose scheme is one of `protocols`; `example` goes into the error message. */
const url = (protocols: string[], example: string, description: string) =>
  Type.Optional(Type.String({ format: 'uri', protocols, example, description }));

/** The default webhook retry schedule: eight attempts over about 28 hours. */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';

/** Every environment variable the gateway reads. */
export const ENV = Type.Object({
  NODE_ENV: oneOf(
    NODE_ENVS,
    'development',
    '`production` turns GraphQL introspection and the playground off',
  ),
  PORT: int(0, 65535, 3000, 'HTTP port'),
  HOST: text('127.0.0.1', 'interface to listen on (`0.0.0.0` for all)'),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info', 'pino level, or `silent`'),
  DATA_DIR: text('./data', 'where the embedded database lives (when `DATABASE_URL` is unset)'),
  DATABASE_URL: url(
    ['postgres:', 'postgresql:'],
    'postgres://user@127.0.0.1:5432/orders',
    'use this PostgreSQL server instead of the embedded one',
  ),
  MIGRATE_ON_START: bool(true, 'apply pending migrations on `serve` and before each CLI command'),
  BODY_LIMIT_BYTES: int(
    1024,
    64 * 1024 * 1024,
    1024 * 1024,
    'larger request bodies get `413 PAYLOAD_TOO_LARGE`',
  ),
  DB_POOL_MAX: int(2, 500, 10, 'pool size on a server (at least 2: migrations hold one for their lock)'),
  DB_CONNECT_TIMEOUT_MS: int(100, 600_000, 2000, 'waiting longer than this for a connection is a 503'),
  DB_STATEMENT_TIMEOUT_MS: int(100, 3_600_000, 10_000, 'PostgreSQL `statement_timeout`'),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(
    100,
    3_600_000,
    30_000,
    'PostgreSQL ends a session idle inside a transaction this long',
  ),
  IDEMPOTENCY_TTL_HOURS: int(1, 24 * 365, 24, 'how long a completed create is remembered under its key'),
  IDEMPOTENCY_SWEEP_INTERVAL_MS: int(
    0,
    24 * 60 * 60 * 1000,
    10 * 60 * 1000,
    'how often expired keys are deleted (`0`: never)',
  ),
  SHUTDOWN_GRACE_MS: int(
    0,
    600_000,
    10_000,
    'on SIGTERM/SIGINT, how long requests in flight may take to finish',
  ),
  PLAYGROUND: bool(undefined, 'GraphiQL at `GET /graphql` for browsers; on except in production'),
  METRICS_TOKEN: Type.Optional(
    Type.String({
      pattern: '^[\\x21-\\x7e]{16,512}$',
      message: 'must be 16 to 512 printable characters without spaces',
      description: '`/metrics` needs `Authorization: Bearer <token>`',
    }),
  ),
  METRICS_PORT: int(0, 65535, undefined, 'serve `/metrics` on this port instead of on `PORT`'),
  INTROSPECTION: bool(undefined, 'GraphQL introspection; on except in production'),
  RATE_LIMIT_PER_MINUTE: int(
    1,
    1_000_000,
    300,
    'requests a minute per API key (per client address without a key)',
  ),
  AUTH_FAILURES_PER_MINUTE: int(1, 1_000_000, 30, '401 answers a minute per client address before 429'),
  REDIS_URL: url(
    ['redis:', 'rediss:'],
    'redis://127.0.0.1:6379',
    'share the rate-limit counters between processes',
  ),
  RATE_LIMIT_REDIS_PREFIX: text('order-gateway:ratelimit:', "prefix of the counters' Redis keys"),
  TRUST_PROXY: text(
    'false',
    '`true`, or proxy addresses/CIDRs whose `X-Forwarded-For` gives the client address',
  ),
  CORS_ORIGINS: text('', 'browser origins (comma-separated, e.g. `https://shop.example.com`) allowed to call the API cross-origin'),
  API_KEY_CACHE_TTL_MS: int(
    0,
    1000,
    500,
    'how long a successful key lookup is reused (a revoked key stops working within this)',
  ),
  GRAPHQL_MAX_DEPTH: int(1, 1000, 8, 'deepest field nesting in a GraphQL document'),
  GRAPHQL_MAX_ALIASES: int(0, 10_000, 15, 'aliases in a GraphQL document'),
  GRAPHQL_MAX_DIRECTIVES: int(0, 10_000, 50, 'directives in a GraphQL document'),
  GRAPHQL_MAX_TOKENS: int(100, 1_000_000, 2000, 'lexical tokens in a GraphQL document'),
  GRAPHQL_MAX_COST: int(1, 100_000_000, 50_000, 'cost of a GraphQL request, counting `first` and item lists (variables included)'),
  GRAPHQL_MAX_RESPONSE_BYTES: int(
    1024,
    1024 * 1024 * 1024,
    4 * 1024 * 1024,
    'a GraphQL answer larger than this is refused (`QUERY_LIMIT_EXCEEDED`, limit `responseSize`)',
  ),
  SUBSCRIPTIONS_PER_CONNECTION: int(
    1,
    10_000,
    20,
    'GraphQL subscriptions one WebSocket may run at once; one more closes it with 4430',
  ),
  SUBSCRIPTION_CONNECTIONS_PER_KEY: int(
    1,
    100_000,
    50,
    'WebSockets one API key may hold open in one process; one more is closed with 4431',
  ),
  MAX_EVENT_LOOP_DELAY_MS: int(
    0,
    60_000,
    200,
    'past this mean event-loop delay, `/api` and `/graphql` answer 503 with `Retry-After` (`0`: never)',
  ),
  HEADERS_TIMEOUT_MS: int(
    1000,
    3_600_000,
    10_000,
    "a request's headers must arrive within this (at most `REQUEST_TIMEOUT_MS`)",
  ),
  REQUEST_TIMEOUT_MS: int(1000, 3_600_000, 30_000, 'the whole request must arrive within this'),
  KEEP_ALIVE_TIMEOUT_MS: int(1000, 600_000, 5000, 'an idle keep-alive connection is closed after this'),
  EVENTS_OUTBOX: bool(
    true,
    'write an event for every order change into the outbox (`false` only to measure what events cost: nothing is emitted)',
  ),
  EVENTS_RELAY: bool(true, 'run the outbox relay in this process (every gateway normally does)'),
  EVENTS_POLL_INTERVAL_MS: int(
    10,
    600_000,
    1000,
    'how often the relay looks for events without being woken (it is woken at each commit)',
  ),
  NATS_URL: url(['nats:', 'tls:'], 'nats://127.0.0.1:4222', 'publish events to this NATS server (JetStream)'),
  NATS_STREAM: Type.String({
    default: 'ORDERS',
    pattern: '^[A-Za-z0-9_-]{1,64}$',
    message: 'must be 1 to 64 letters, digits, dashes or underscores',
    description: 'the JetStream stream, created when missing',
  }),
  NATS_SUBJECT_PREFIX: Type.String({
    default: 'orders',
    pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
    message: 'must be dot-separated tokens of letters, digits, dashes or underscores',
    description: 'first token(s) of every subject: `<prefix>.<workspace_id>.<type>`',
  }),
  NATS_PUBLISH_TIMEOUT_MS: int(100, 60_000, 5000, "how long a publish waits for JetStream's acknowledgement"),
  WEBHOOK_RETRY_SCHEDULE: text(
    DEFAULT_RETRY_SCHEDULE,
    'waits before each webhook retry (ms, s, m, h, d), ±20 % jitter; then the delivery is `failed`',
  ),
  WEBHOOK_TIMEOUT_MS: int(100, 60_000, 10_000, 'a webhook receiver must answer 2xx within this'),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: bool(
    undefined,
    'let webhooks reach private, loopback and link-local addresses; on only in development',
  ),
});

export type Env = Static<typeof ENV>;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `WEBHOOK_RETRY_SCHEDULE`: comma-separated durations such as `5s,5m,2h`, as milliseconds. */
export function parseRetrySchedule(raw: string): number[] {
  const waits = raw.split(',').map((entry) => {
    const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(entry.trim());
    if (!match) throw new ConfigError(`WEBHOOK_RETRY_SCHEDULE: "${entry.trim()}" is not a duration such as 500ms, 5s, 5m, 2h or 1d`);
    return Number(match[1]) * (DURATION_UNITS[match[2]]);
  });
  if (waits.length > 50) throw new ConfigError('WEBHOOK_RETRY_SCHEDULE has more than 50 entries');
  return waits;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Schema = TSchema & {
  enum?: string[];
  protocols?: string[];
  example?: string;
  pattern?: string;
  message?: string;
};

/** One variable's value, checked against its entry; `undefined` when unset and without a default. */
function readVariable(name: string, schema: Schema, raw: string | undefined): unknown {
  const value = raw?.trim();
  if (value === undefined || value === '') return schema.default as unknown;
  if (schema.type === 'integer') {
    if (!/^\d+$/.test(value)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
    const number = Number(value);
    if (number < (schema.minimum as number) || number > (schema.maximum as number)) {
      throw new ConfigError(`${name} must be between ${schema.minimum} and ${schema.maximum}, got ${number}`);
    }
    return number;
  }
  if (schema.type === 'boolean') {
    const word = value.toLowerCase();
    if (['true', '1', 'yes'].includes(word)) return true;
    if (['false', '0', 'no'].includes(word)) return false;
    throw new ConfigError(`${name} must be true or false, got "${raw}"`);
  }
  if (schema.enum && !schema.enum.includes(value))
    throw new ConfigError(`${name} must be one of ${schema.enum.join(', ')}, got "${value}"`);
  if (schema.protocols) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(`${name} must be a URL such as ${schema.example}`);
    }
    if (!schema.protocols.includes(parsed.protocol)) {
      throw new ConfigError(
        `${name} must start with ${schema.protocols.map((p) => `${p}//`).join(' or ')}, got "${parsed.protocol}//"`,
      );
    }
  }
  if (schema.pattern && !new RegExp(schema.pattern).test(value))
    throw new ConfigError(`${name} ${schema.message}`);
  return value;
}

/** Reads every variable of `ENV` from the environment. */
export function readEnv(env: Record<string, string | undefined>): Env {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(ENV.properties))
    values[name] = readVariable(name, schema, env[name]);
  return values as Env;
}

/** `false`, `true` (believe any proxy), or a list of proxy addresses/CIDRs to believe. */
function trustProxy(raw: string): boolean | string[] {
  if (/^(true|yes|1)$/i.test(raw)) return true;
  if (/^(false|no|0)$/i.test(raw)) return false;
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (!/^([0-9a-f:.]+(\/\d{1,3})?|loopback|linklocal|uniquelocal)$/i.test(entry)) {
      throw new ConfigError(
        `TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "${entry}"`,
      );
    }
  }
  return entries;
}

/** `CORS_ORIGINS`: comma-separated origins such as `https://shop.example.com`; each must be scheme, host and port only. */
function corsOrigins(raw: string): string[] {
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

/** The application's settings, from checked variables; rules that involve two variables live here. */
function toConfig(v: Env) {
  if (v.METRICS_PORT !== undefined && v.METRICS_PORT !== 0 && v.METRICS_PORT === v.PORT) {
    throw new ConfigError(`METRICS_PORT must differ from PORT, both are ${v.PORT}`);
  }
  // Node.js refuses a headers timeout longer than the request timeout.
  if (v.HEADERS_TIMEOUT_MS > v.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      `HEADERS_TIMEOUT_MS (${v.HEADERS_TIMEOUT_MS}) must not exceed REQUEST_TIMEOUT_MS (${v.REQUEST_TIMEOUT_MS})`,
    );
  }
  return {
    nodeEnv: v.NODE_ENV,
    port: v.PORT,
    host: v.HOST,
    dataDir: path.resolve(v.DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    logLevel: v.LOG_LEVEL,
    migrateOnStart: v.MIGRATE_ON_START,
    bodyLimit: v.BODY_LIMIT_BYTES,
    dbPoolMax: v.DB_POOL_MAX,
    dbConnectTimeoutMs: v.DB_CONNECT_TIMEOUT_MS,
    dbStatementTimeoutMs: v.DB_STATEMENT_TIMEOUT_MS,
    dbIdleInTransactionTimeoutMs: v.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    idempotencyTtlMs: v.IDEMPOTENCY_TTL_HOURS * 60 * 60 * 1000,
    idempotencySweepIntervalMs: v.IDEMPOTENCY_SWEEP_INTERVAL_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    playground: v.PLAYGROUND ?? v.NODE_ENV !== 'production',
    metricsToken: v.METRICS_TOKEN,
    metricsPort: v.METRICS_PORT,
    introspection: v.INTROSPECTION ?? v.NODE_ENV !== 'production',
    rateLimitPerMinute: v.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: v.AUTH_FAILURES_PER_MINUTE,
    /** Not a variable (the limits are per minute); tests shorten it. */
    rateLimitWindowMs: 60_000,
    redisUrl: v.REDIS_URL,
    rateLimitRedisPrefix: v.RATE_LIMIT_REDIS_PREFIX,
    trustProxy: trustProxy(v.TRUST_PROXY),
    /** Browser origins allowed to call the API cross-origin (CORS); none when empty. */
    corsOrigins: corsOrigins(v.CORS_ORIGINS),
    apiKeyCacheTtlMs: v.API_KEY_CACHE_TTL_MS,
    graphqlMaxDepth: v.GRAPHQL_MAX_DEPTH,
    graphqlMaxAliases: v.GRAPHQL_MAX_ALIASES,
    graphqlMaxDirectives: v.GRAPHQL_MAX_DIRECTIVES,
    graphqlMaxTokens: v.GRAPHQL_MAX_TOKENS,
    graphqlMaxCost: v.GRAPHQL_MAX_COST,
    graphqlMaxResponseBytes: v.GRAPHQL_MAX_RESPONSE_BYTES,
    subscriptionsPerConnection: v.SUBSCRIPTIONS_PER_CONNECTION,
    subscriptionConnectionsPerKey: v.SUBSCRIPTION_CONNECTIONS_PER_KEY,
    maxEventLoopDelayMs: v.MAX_EVENT_LOOP_DELAY_MS,
    /** How often the event-loop delay is sampled. Not a variable; tests shorten it. */
    loadSampleIntervalMs: 1000,
    headersTimeoutMs: v.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: v.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: v.KEEP_ALIVE_TIMEOUT_MS,
    eventsOutbox: v.EVENTS_OUTBOX,
    eventsRelay: v.EVENTS_RELAY,
    eventsPollIntervalMs: v.EVENTS_POLL_INTERVAL_MS,
    natsUrl: v.NATS_URL,
    natsStream: v.NATS_STREAM,
    natsSubjectPrefix: v.NATS_SUBJECT_PREFIX,
    natsPublishTimeoutMs: v.NATS_PUBLISH_TIMEOUT_MS,
    /** Milliseconds before each retry. */
    webhookRetrySchedule: parseRetrySchedule(v.WEBHOOK_RETRY_SCHEDULE),
    webhookTimeoutMs: v.WEBHOOK_TIMEOUT_MS,
    webhookAllowPrivateNetworks: v.WEBHOOK_ALLOW_PRIVATE_NETWORKS ?? v.NODE_ENV === 'development',
  };
}

export type Config = ReturnType<typeof toConfig>;

/** Every variable with its default and meaning, one per line (for `serve --help`). */
export function environmentHelp(): string {
  const entries = Object.entries(ENV.properties) as [string, Schema][];
  const width = Math.max(...entries.map(([name]) => name.length));
  return entries
    .map(([name, schema]) => {
      const fallback = schema.default === undefined ? '' : ` (default: ${String(schema.default) === '' ? 'empty' : String(schema.default)})`;
      const choices = schema.enum ? ` [${schema.enum.join(' | ')}]` : '';
      return `  ${name.padEnd(width)}  ${String(schema.description ?? '').replace(/`/g, '')}${choices}${fallback}`;
    })
    .join('\n');
}

/** Reads and checks the configuration; throws a `ConfigError` naming the bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return toConfig(readEnv(env));
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
        "or METRICS_PORT (serves /metrics on a port of its own): /metrics shows every workspace's traffic",
    );
  }
}
