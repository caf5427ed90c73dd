/**
 * Typed, validated configuration read from the environment.
 *
 * `ENV` (env.ts) is the one declaration of every variable: its type, bounds,
 * default and meaning. Reading checks each value against its entry and stops at the
 * first bad one with a one-line message that names the variable. To add a
 * variable, add its entry to `ENV` and its field to `toConfig`.
 *
 * This folder imports nothing else from `src/`: every other layer receives a
 * `Config` value, so tests can build one without touching `process.env`.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { ENV, type Env } from './env';

export { ENV, type Env } from './env';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `WEBHOOK_RETRY_SCHEDULE`: comma-separated durations such as `5s,5m,2h`, as milliseconds. */
export function parseRetrySchedule(raw: string): number[] {
  const waits = raw.split(',').map((entry) => {
    const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(entry.trim());
    if (!match)
      throw new ConfigError(
        `WEBHOOK_RETRY_SCHEDULE: "${entry.trim()}" is not a duration such as 500ms, 5s, 5m, 2h or 1d`,
      );
    return Number(match[1]) * DURATION_UNITS[match[2]];
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
  needs?: 'host' | 'database';
  /** Query parameters of a URL that take only these values. */
  queryValues?: Record<string, readonly string[]>;
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
    // Without it the URL names nothing, and each client fell back on its own default or its own words.
    if (schema.needs === 'host' && parsed.hostname === '')
      throw new ConfigError(`${name} must name a host, such as ${schema.example}`);
    if (schema.needs === 'database' && parsed.pathname.replace(/^\//, '') === '')
      throw new ConfigError(`${name} must name a database, such as ${schema.example}`);
    // The drivers percent-decode these parts: a bare % would stop them later with "URI malformed",
    // naming no variable. The message never repeats the value (it may hold a password).
    try {
      for (const part of [parsed.username, parsed.password, parsed.pathname]) decodeURIComponent(part);
    } catch {
      throw new ConfigError(`${name}: its user name, password or path has a % not followed by two hex digits (write % as %25)`);
    }
    for (const [param, allowed] of Object.entries(schema.queryValues ?? {})) {
      const given = parsed.searchParams.get(param);
      if (given !== null && !allowed.includes(given))
        throw new ConfigError(`${name}: ${param} must be one of ${allowed.join(', ')}, got "${given}"`);
    }
  }
  // eslint-disable-next-line security/detect-non-literal-regexp -- the pattern is ENV's own declaration (env.ts), not a value from outside
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

/**
 * One `TRUST_PROXY` entry: an IPv4 or IPv6 address, optionally with a prefix length that fits
 * it, or one of proxy-addr's names. Checked here so that a typo stops the start naming the
 * variable, not with proxy-addr's own "invalid IP address" later.
 */
function isProxyAddress(entry: string): boolean {
  if (/^(loopback|linklocal|uniquelocal)$/i.test(entry)) return true;
  // eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
  const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
  const version = match ? isIP(match[1]) : 0;
  if (version === 0) return false;
  return match?.[2] === undefined || Number(match[2]) <= (version === 4 ? 32 : 128);
}

/**
 * `false`; `true`, the one proxy that alone can reach the process (as Fastify's hop count, 1: the
 * client is the address that proxy added to `X-Forwarded-For`, the last one, never an address the
 * client wrote there itself, which HAProxy's `option forwardfor` and nginx's
 * `$proxy_add_x_forwarded_for` keep in front of it); or a list of proxy addresses/CIDRs to believe.
 */
function trustProxy(raw: string): false | 1 | string[] {
  if (/^(true|yes|1)$/i.test(raw)) return 1;
  if (/^(false|no|0)$/i.test(raw)) return false;
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (!isProxyAddress(entry)) {
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
      throw new ConfigError(
        `CORS_ORIGINS: "${origin}" is not an origin such as https://shop.example.com (no path, no trailing slash)`,
      );
    }
    return origin;
  });
}

/** The sample METRICS_TOKEN in `.env.example`: published with the package, so never a secret. */
export const PUBLISHED_METRICS_TOKEN = 'change-me-to-a-long-random-string';

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
  // `.env.example` ships a sample token; copied into `.env` unchanged it would guard /metrics with a
  // value anyone can read in the package, so it is refused in every environment.
  if (v.METRICS_TOKEN === PUBLISHED_METRICS_TOKEN) {
    throw new ConfigError('METRICS_TOKEN is the sample from .env.example, which is public: set a random one (openssl rand -hex 24)');
  }
  if (v.DATABASE_DIRECT_URL !== undefined && v.DATABASE_URL === undefined) {
    throw new ConfigError('DATABASE_DIRECT_URL is set without DATABASE_URL: it is a second way to the server DATABASE_URL names');
  }
  return {
    nodeEnv: v.NODE_ENV,
    port: v.PORT,
    host: v.HOST,
    dataDir: path.resolve(v.DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    databasePoolMode: v.DATABASE_POOL_MODE,
    databaseDirectUrl: v.DATABASE_DIRECT_URL,
    logLevel: v.LOG_LEVEL,
    migrateOnStart: v.MIGRATE_ON_START,
    bodyLimit: v.BODY_LIMIT_BYTES,
    dbPoolMax: v.DB_POOL_MAX,
    dbConnectTimeoutMs: v.DB_CONNECT_TIMEOUT_MS,
    createsPerWorkspace: v.CREATES_PER_WORKSPACE,
    dbStatementTimeoutMs: v.DB_STATEMENT_TIMEOUT_MS,
    dbIdleInTransactionTimeoutMs: v.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    idempotencyTtlMs: v.IDEMPOTENCY_TTL_HOURS * 60 * 60 * 1000,
    idempotencySweepIntervalMs: v.IDEMPOTENCY_SWEEP_INTERVAL_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    heapGrowingPercent: v.HEAP_GROWING_PERCENT,
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
    /** A persisted query manifest's path: only its documents run (graphql/trusted-documents.ts). */
    graphqlTrustedDocuments: v.GRAPHQL_TRUSTED_DOCUMENTS,
    subscriptionsPerConnection: v.SUBSCRIPTIONS_PER_CONNECTION,
    subscriptionConnectionsPerKey: v.SUBSCRIPTION_CONNECTIONS_PER_KEY,
    subscriptionInitTimeoutMs: v.SUBSCRIPTION_INIT_TIMEOUT_MS,
    subscriptionWaitingPerAddress: v.SUBSCRIPTION_WAITING_PER_ADDRESS,
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
      const fallback =
        schema.default === undefined
          ? ''
          : ` (default: ${String(schema.default) === '' ? 'empty' : String(schema.default)})`;
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
  if (
    config.nodeEnv !== 'development' &&
    config.metricsToken === undefined &&
    config.metricsPort === undefined
  ) {
    throw new ConfigError(
      `NODE_ENV=${config.nodeEnv} needs METRICS_TOKEN (16+ characters, required by /metrics as a bearer token) ` +
        "or METRICS_PORT (serves /metrics on a port of its own): /metrics shows every workspace's traffic",
    );
  }
}
