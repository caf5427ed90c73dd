import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkServeConfig, ConfigError, ENV, loadConfig, PUBLISHED_METRICS_TOKEN } from '../../src/config/config';

function configError(env: Record<string, string>): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

describe('loadConfig defaults', () => {
  it('fills every setting from an empty environment', () => {
    expect(loadConfig({})).toEqual({
      nodeEnv: 'development',
      port: 3000,
      host: '127.0.0.1',
      dataDir: path.join(process.cwd(), 'data'),
      databaseUrl: undefined,
      databasePoolMode: 'direct',
      databaseDirectUrl: undefined,
      logLevel: 'info',
      migrateOnStart: true,
      bodyLimit: 1024 * 1024,
      dbPoolMax: 4,
      dbConnectTimeoutMs: 2000,
      createsPerWorkspace: 2,
      dbStatementTimeoutMs: 10_000,
      dbIdleInTransactionTimeoutMs: 30_000,
      idempotencyTtlMs: 24 * 60 * 60 * 1000,
      idempotencySweepIntervalMs: 10 * 60 * 1000,
      shutdownGraceMs: 10_000,
      heapGrowingPercent: 50,
      playground: true,
      metricsToken: undefined,
      metricsPort: undefined,
      introspection: true,
      rateLimitPerMinute: 300,
      authFailuresPerMinute: 30,
      rateLimitWindowMs: 60_000,
      redisUrl: undefined,
      rateLimitRedisPrefix: 'order-gateway:ratelimit:',
      trustProxy: false,
      corsOrigins: [],
      apiKeyCacheTtlMs: 500,
      graphqlMaxDepth: 8,
      graphqlMaxAliases: 15,
      graphqlMaxDirectives: 50,
      graphqlMaxTokens: 2000,
      graphqlMaxCost: 50_000,
      graphqlMaxResponseBytes: 4 * 1024 * 1024,
      subscriptionsPerConnection: 20,
      subscriptionConnectionsPerKey: 50,
      subscriptionInitTimeoutMs: 3000,
      subscriptionWaitingPerAddress: 100,
      maxEventLoopDelayMs: 200,
      loadSampleIntervalMs: 1000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5000,
      eventsOutbox: true,
      eventsRelay: true,
      eventsPollIntervalMs: 1000,
      natsUrl: undefined,
      natsStream: 'ORDERS',
      natsSubjectPrefix: 'orders',
      natsPublishTimeoutMs: 5000,
      webhookRetrySchedule: [5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
      webhookTimeoutMs: 10_000,
      webhookAllowPrivateNetworks: true,
    });
  });

  it('turns the playground off in production unless PLAYGROUND says otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).playground).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', PLAYGROUND: 'true' }).playground).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).playground).toBe(true);
    expect(loadConfig({ PLAYGROUND: 'false' }).playground).toBe(false);
  });

  it('treats empty strings as unset', () => {
    expect(
      loadConfig({
        PORT: '',
        HOST: '',
        DATA_DIR: '',
        DATABASE_URL: '',
        LOG_LEVEL: '',
        MIGRATE_ON_START: '',
        DB_POOL_MAX: '',
      }),
    ).toEqual(loadConfig({}));
  });

  it('resolves DATA_DIR to an absolute path', () => {
    expect(loadConfig({ DATA_DIR: 'var/orders' }).dataDir).toBe(path.join(process.cwd(), 'var', 'orders'));
    expect(loadConfig({ DATA_DIR: '/srv/orders' }).dataDir).toBe('/srv/orders');
  });
});

describe('loadConfig values', () => {
  it('reads each variable', () => {
    expect(
      loadConfig({
        NODE_ENV: 'production',
        PORT: '8080',
        HOST: '0.0.0.0',
        DATABASE_URL: 'postgres://orders@127.0.0.1:5432/orders',
        LOG_LEVEL: 'debug',
        MIGRATE_ON_START: 'false',
        BODY_LIMIT_BYTES: '2048',
        DB_POOL_MAX: '2',
        DB_CONNECT_TIMEOUT_MS: '100',
        DB_STATEMENT_TIMEOUT_MS: '3600000',
        METRICS_TOKEN: 'a-long-enough-metrics-token',
        METRICS_PORT: '9464',
      }),
    ).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: 'postgres://orders@127.0.0.1:5432/orders',
      logLevel: 'debug',
      migrateOnStart: false,
      bodyLimit: 2048,
      dbPoolMax: 2,
      dbConnectTimeoutMs: 100,
      dbStatementTimeoutMs: 3_600_000,
      metricsToken: 'a-long-enough-metrics-token',
      metricsPort: 9464,
    });
  });

  it.each(['0', '65535'])('accepts PORT=%s', (port) => {
    expect(loadConfig({ PORT: port }).port).toBe(Number(port));
  });

  it('accepts a postgresql:// URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p@db/orders' }).databaseUrl).toBe(
      'postgresql://u:p@db/orders',
    );
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['TRUE', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['No', false],
  ])('reads MIGRATE_ON_START=%s as %s', (raw, expected) => {
    expect(loadConfig({ MIGRATE_ON_START: raw }).migrateOnStart).toBe(expected);
  });
});

describe('loadConfig errors name the variable', () => {
  it.each([
    [{ PORT: 'abc' }, 'PORT must be a whole number, got "abc"'],
    [{ PORT: '-1' }, 'PORT must be a whole number, got "-1"'],
    [{ PORT: '80.5' }, 'PORT must be a whole number, got "80.5"'],
    [{ PORT: '70000' }, 'PORT must be between 0 and 65535, got 70000'],
    [{ PORT: '65536' }, 'PORT must be between 0 and 65535, got 65536'],
    [{ MIGRATE_ON_START: 'maybe' }, 'MIGRATE_ON_START must be true or false, got "maybe"'],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV must be one of development, production, test, got "staging"'],
    [
      { DATABASE_URL: 'mysql://x' },
      'DATABASE_URL must start with postgres:// or postgresql://, got "mysql://"',
    ],
    [
      { DATABASE_URL: 'not a url' },
      'DATABASE_URL must be a URL such as postgres://user@127.0.0.1:5432/orders',
    ],
    [
      // The driver decodes the password; a bare % stopped the start with "URI malformed", naming nothing.
      { DATABASE_URL: 'postgres://app:50%off@db/orders' },
      'DATABASE_URL: its user name, password or path has a % not followed by two hex digits (write % as %25)',
    ],
    // A URL without its host or database started anyway: NATS warned "Invalid URL" for ever, Redis
    // quietly went to 127.0.0.1:6379, PostgreSQL stopped with MikroORM's words, naming no variable.
    [{ NATS_URL: 'nats://' }, 'NATS_URL must name a host, such as nats://127.0.0.1:4222'],
    [{ REDIS_URL: 'redis://' }, 'REDIS_URL must name a host, such as redis://127.0.0.1:6379'],
    // ioredis sent SELECT NaN, and the refusal crashed the start with redis-parser's stack.
    [{ REDIS_URL: 'redis://127.0.0.1:6379/abc' }, 'REDIS_URL must have a database number as its path (redis://127.0.0.1:6379/2), or no path'],
    [{ DATABASE_URL: 'postgres://' }, 'DATABASE_URL must name a database, such as postgres://user@127.0.0.1:5432/orders'],
    [{ DATABASE_URL: 'postgres://db.internal:5432/' }, 'DATABASE_URL must name a database, such as postgres://user@127.0.0.1:5432/orders'],
    // node-postgres reads an sslmode it does not know as "use TLS": the start then failed saying the
    // server refused the SSL that "sslmode=bogus requires".
    ...['bogus', 'allow', 'REQUIRE', ''].map((mode) => [
      { DATABASE_URL: `postgres://db.internal:5432/orders?sslmode=${mode}` },
      `DATABASE_URL: sslmode must be one of disable, prefer, require, verify-ca, verify-full, no-verify, got "${mode}"`,
    ] as [Record<string, string>, string]),
    [{ DB_POOL_MAX: '1' }, 'DB_POOL_MAX must be between 2 and 500, got 1'],
    [{ DB_POOL_MAX: '501' }, 'DB_POOL_MAX must be between 2 and 500, got 501'],
    [{ BODY_LIMIT_BYTES: '1023' }, 'BODY_LIMIT_BYTES must be between 1024 and 67108864, got 1023'],
    [{ DB_CONNECT_TIMEOUT_MS: '99' }, 'DB_CONNECT_TIMEOUT_MS must be between 100 and 600000, got 99'],
    [
      { DB_STATEMENT_TIMEOUT_MS: '3600001' },
      'DB_STATEMENT_TIMEOUT_MS must be between 100 and 3600000, got 3600001',
    ],
    [{ PLAYGROUND: 'sometimes' }, 'PLAYGROUND must be true or false, got "sometimes"'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be 16 to 512 printable characters without spaces'],
    [{ METRICS_TOKEN: 'has a space in the middle' }, 'METRICS_TOKEN must be 16 to 512 printable characters without spaces'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT must be between 0 and 65535, got 70000'],
    [{ METRICS_PORT: '3000' }, 'METRICS_PORT must differ from PORT, both are 3000'],
  ])('rejects %o', (env, message) => {
    const error = configError(env);
    expect(error.message).toBe(message);
    expect(error.name).toBe('ConfigError');
    expect(error.message.startsWith(Object.keys(env)[0] ?? '<none>')).toBe(true);
  });
});

describe('security and limit settings', () => {
  it('turns introspection off in production unless INTROSPECTION says otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }).introspection).toBe(true);
    expect(loadConfig({ INTROSPECTION: 'false' }).introspection).toBe(false);
  });

  it('reads the limits, Redis and the proxies to trust', () => {
    expect(
      loadConfig({
        RATE_LIMIT_PER_MINUTE: '1000',
        AUTH_FAILURES_PER_MINUTE: '5',
        REDIS_URL: 'redis://127.0.0.1:6379/2',
        RATE_LIMIT_REDIS_PREFIX: 'gw1:',
        TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
        API_KEY_CACHE_TTL_MS: '0',
        GRAPHQL_MAX_DEPTH: '10',
        GRAPHQL_MAX_ALIASES: '5',
        GRAPHQL_MAX_DIRECTIVES: '10',
        GRAPHQL_MAX_TOKENS: '500',
        GRAPHQL_MAX_COST: '1000',
        GRAPHQL_MAX_RESPONSE_BYTES: '65536',
        MAX_EVENT_LOOP_DELAY_MS: '0',
        HEADERS_TIMEOUT_MS: '5000',
        REQUEST_TIMEOUT_MS: '20000',
        KEEP_ALIVE_TIMEOUT_MS: '3000',
      }),
    ).toMatchObject({
      rateLimitPerMinute: 1000,
      authFailuresPerMinute: 5,
      redisUrl: 'redis://127.0.0.1:6379/2',
      rateLimitRedisPrefix: 'gw1:',
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
      apiKeyCacheTtlMs: 0,
      graphqlMaxDepth: 10,
      graphqlMaxAliases: 5,
      graphqlMaxDirectives: 10,
      graphqlMaxTokens: 500,
      graphqlMaxCost: 1000,
      graphqlMaxResponseBytes: 65_536,
      maxEventLoopDelayMs: 0,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 20_000,
      keepAliveTimeoutMs: 3000,
    });
    // One hop: the address the proxy added, not one the client put in X-Forwarded-For before it.
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(1);
    expect(loadConfig({ REDIS_URL: 'rediss://:secret@cache.internal:6380/' }).redisUrl).toBe('rediss://:secret@cache.internal:6380/');
    expect(loadConfig({ REDIS_URL: 'redis://cache?family=6' }).redisUrl).toBe('redis://cache?family=6');
    expect(loadConfig({ TRUST_PROXY: '::1, fd00::/8, loopback, 192.168.0.1/32' }).trustProxy).toEqual([
      '::1',
      'fd00::/8',
      'loopback',
      '192.168.0.1/32',
    ]);
  });

  it.each([
    [{ RATE_LIMIT_PER_MINUTE: '0' }, 'RATE_LIMIT_PER_MINUTE must be between 1 and 1000000, got 0'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL must start with redis:// or rediss://, got "http://"'],
    [{ API_KEY_CACHE_TTL_MS: '1001' }, 'API_KEY_CACHE_TTL_MS must be between 0 and 1000, got 1001'],
    [{ TRUST_PROXY: 'my-proxy' }, 'TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "my-proxy"'],
    // Hex letters, dots and colons passed the shape check, then proxy-addr stopped the start with
    // "invalid IP address: cafe", naming no variable.
    [{ TRUST_PROXY: 'cafe' }, 'TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "cafe"'],
    [{ TRUST_PROXY: '10.0.0.0/8,1.2.3' }, 'TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "1.2.3"'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "10.0.0.0/33"'],
    [{ TRUST_PROXY: '::1/129' }, 'TRUST_PROXY must be true, false or a comma-separated list of proxy addresses, got "::1/129"'],
    [{ HEADERS_TIMEOUT_MS: '40000' }, 'HEADERS_TIMEOUT_MS (40000) must not exceed REQUEST_TIMEOUT_MS (30000)'],
    [{ INTROSPECTION: 'maybe' }, 'INTROSPECTION must be true or false, got "maybe"'],
    [{ DATABASE_POOL_MODE: 'statement' }, 'DATABASE_POOL_MODE must be one of direct, session, transaction, got "statement"'],
    [
      { DATABASE_DIRECT_URL: 'postgres://app@db/orders' },
      'DATABASE_DIRECT_URL is set without DATABASE_URL: it is a second way to the server DATABASE_URL names',
    ],
  ])('rejects %o', (env, message) => {
    expect(configError(env).message).toBe(message);
  });
});

describe('the variables are documented', () => {
  const readme = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
  it.each(Object.entries(ENV.properties))('%s has a description and a row in the README', (name, schema) => {
    expect((schema as { description?: string }).description).toBeTruthy();
    expect(readme).toContain(`| \`${name}\` |`);
  });

  const example = fs.readFileSync(path.join(__dirname, '../../.env.example'), 'utf8');
  it.each(Object.keys(ENV.properties))('%s is in .env.example (set, or commented out)', (name) => {
    expect(example).toMatch(new RegExp(`^(# )?${name}=`, 'm'));
  });
});

describe('checkServeConfig', () => {
  it.each(['production', 'test'])('refuses NODE_ENV=%s with /metrics open on the API port', (nodeEnv) => {
    expect(() => checkServeConfig(loadConfig({ NODE_ENV: nodeEnv }))).toThrow(ConfigError);
    expect(() => checkServeConfig(loadConfig({ NODE_ENV: nodeEnv }))).toThrow(/needs METRICS_TOKEN .* or METRICS_PORT/);
  });

  it.each(['production', 'development'])('refuses, with NODE_ENV=%s, the sample METRICS_TOKEN that .env.example publishes', (nodeEnv) => {
    expect(configError({ NODE_ENV: nodeEnv, METRICS_TOKEN: PUBLISHED_METRICS_TOKEN }).message).toMatch(/^METRICS_TOKEN is the sample from \.env\.example/);
    expect(fs.readFileSync(path.join(__dirname, '../../.env.example'), 'utf8')).toContain(`# METRICS_TOKEN=${PUBLISHED_METRICS_TOKEN}\n`);
  });

  it.each([
    { NODE_ENV: 'production', METRICS_TOKEN: 'a-long-metrics-token-123' },
    { NODE_ENV: 'production', METRICS_PORT: '9464' },
    { NODE_ENV: 'development' },
    {},
  ])('accepts %j', (env) => {
    expect(() => checkServeConfig(loadConfig(env))).not.toThrow();
  });
});
