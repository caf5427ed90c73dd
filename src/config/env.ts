/**
 * `ENV`: the one declaration of every environment variable the gateway reads,
 * with its type, bounds, default and meaning. `config.ts` reads and checks
 * them and turns them into a `Config`; `serve --help` lists them.
 */
import { type Static, Type } from '@sinclair/typebox';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const NODE_ENVS = ['development', 'production', 'test'] as const;

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
/**
 * A URL whose scheme is one of `protocols`; `example` goes into the error message. `needs` is
 * the part without which it names nothing (a host, or a database in its path).
 */
const url = (
  protocols: string[],
  example: string,
  needs: 'host' | 'database',
  description: string,
  shape: { pattern?: string; message?: string; queryValues?: Record<string, readonly string[]> } = {},
) => Type.Optional(Type.String({ format: 'uri', protocols, example, needs, description, ...shape }));

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
    'database',
    'use this PostgreSQL server instead of the embedded one',
    // The values node-postgres knows; it reads any other (libpq's `allow`, a typo) as "use TLS".
    { queryValues: { sslmode: ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] } },
  ),
  DATABASE_POOL_MODE: oneOf(
    ['direct', 'session', 'transaction'] as const,
    'direct',
    "how `DATABASE_URL` reaches PostgreSQL: `direct`; `session`, a pooler in session mode (PgBouncer's `pool_mode = session`); `transaction`, a pooler in transaction mode (no named prepared statements, no session settings; LISTEN needs `DATABASE_DIRECT_URL`); see README, Behind PgBouncer",
  ),
  DATABASE_DIRECT_URL: url(
    ['postgres:', 'postgresql:'],
    'postgres://user@db.internal:5432/orders',
    'database',
    "the same database as `DATABASE_URL`, reached without a transaction pooler: the relay's LISTEN connection (default: `DATABASE_URL`, except with `DATABASE_POOL_MODE=transaction`)",
    { queryValues: { sslmode: ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'] } },
  ),
  MIGRATE_ON_START: bool(true, 'apply pending migrations on `serve` and before each CLI command'),
  BODY_LIMIT_BYTES: int(
    1024,
    64 * 1024 * 1024,
    1024 * 1024,
    'larger request bodies get `413 PAYLOAD_TOO_LARGE`',
  ),
  DB_POOL_MAX: int(
    2,
    500,
    4,
    'pool size on a server (at least 2: migrations hold one for their lock); see README, Sizing',
  ),
  DB_CONNECT_TIMEOUT_MS: int(100, 600_000, 2000, 'waiting longer than this for a connection is a 503'),
  CREATES_PER_WORKSPACE: int(
    1,
    100,
    2,
    "creates of one workspace at the database at a time, per process (they queue on the workspace's order-number counter; the rest wait in the process, at most `DB_CONNECT_TIMEOUT_MS`, then a 503)",
  ),
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
  HEAP_GROWING_PERCENT: int(
    0,
    400,
    50,
    "how far V8 lets the heap grow past what survived its last full collection before collecting again, in percent (V8's `--heap-growing-percent`, set by `serve`; `0`: V8's own rule, which on a large machine lets garbage fill three to four times the live heap)",
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
    'host',
    'share the rate-limit counters between processes',
    {
      pattern: '^rediss?://[^/?#]*(/\\d*)?([?#].*)?$',
      message: 'must have a database number as its path (redis://127.0.0.1:6379/2), or no path',
    },
  ),
  RATE_LIMIT_REDIS_PREFIX: text('order-gateway:ratelimit:', "prefix of the counters' Redis keys"),
  TRUST_PROXY: text(
    'false',
    '`true` (the one proxy in front: the client is the address it adds to `X-Forwarded-For`), or proxy addresses/CIDRs whose `X-Forwarded-For` gives the client address',
  ),
  CORS_ORIGINS: text(
    '',
    'browser origins (comma-separated, e.g. `https://shop.example.com`) allowed to call the API cross-origin',
  ),
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
  GRAPHQL_MAX_COST: int(
    1,
    100_000_000,
    50_000,
    'cost of a GraphQL request, counting `first` and item lists (variables included)',
  ),
  GRAPHQL_MAX_RESPONSE_BYTES: int(
    1024,
    1024 * 1024 * 1024,
    4 * 1024 * 1024,
    'a GraphQL answer larger than this is refused (`QUERY_LIMIT_EXCEEDED`, limit `responseSize`)',
  ),
  GRAPHQL_TRUSTED_DOCUMENTS: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'a persisted query manifest (Apollo format, `npx generate-persisted-query-manifest`): `/graphql` then runs only its documents, over HTTP and WebSocket (`PERSISTED_QUERY_NOT_IN_LIST` for any other); unset: every document',
    }),
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
  SUBSCRIPTION_INIT_TIMEOUT_MS: int(
    100,
    60_000,
    3000,
    'a WebSocket must send connection_init within this, or it is closed with 4408 (graphql-ws)',
  ),
  SUBSCRIPTION_WAITING_PER_ADDRESS: int(
    1,
    100_000,
    100,
    'WebSockets one client address may hold open before their connection_init; one more is closed with 4432',
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
  NATS_URL: url(['nats:', 'tls:'], 'nats://127.0.0.1:4222', 'host', 'publish events to this NATS server (JetStream)'),
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
