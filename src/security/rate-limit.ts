/**
 * Rate limits for `/api/*` and `/graphql`, with @fastify/rate-limit's
 * counters (in memory, or in Redis so that every process shares them).
 *
 * Two limits apply:
 * - **per API key**: `perMinute` requests a minute for each key. The bucket
 *   is named after the SHA-256 hash of the bearer token (the same hash the
 *   key is looked up by, so keying costs no query and the raw key is never a
 *   store key); a request without a well-formed key is counted against its
 *   client address instead.
 * - **failed authentication per client address**: at most
 *   `authFailuresPerMinute` requests from one address are answered 401 in a
 *   window. Each refused key increments the address's counter, and the
 *   incremented count decides in the same atomic step whether this attempt
 *   still gets its 401 or is already one too many (429): concurrent attempts
 *   cannot all read "under the limit" first. Once the count is reached,
 *   every request from the address is refused with 429 until the window
 *   ends, before any database lookup.
 *
 * Every guarded response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
 * and `X-RateLimit-Reset` (seconds); a 429 also carries `Retry-After`. The 429
 * is thrown, so each transport's error handler writes it: the REST envelope,
 * or a GraphQL response with `extensions.code = "RATE_LIMITED"`.
 */
import fastifyRateLimit, { type FastifyRateLimitStoreCtor, normalizeIP } from '@fastify/rate-limit';
import RedisStore from '@fastify/rate-limit/store/RedisStore';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Redis from 'ioredis';
import { bearerToken, hashApiKey, looksLikeApiKey } from '../auth/api-key';
import { ConfigError } from '../config/config';
import { AppError, ErrorCode } from '../errors/app-error';
import type { FailedAuthenticationCounter } from './request-authentication';
import { routeUrl } from '../app/route-url';

export interface RateLimitOptions {
  /** Requests per key (or per address without a key) per window. */
  perMinute: number;
  /** 401 answers per client address per window before the address is refused. */
  authFailuresPerMinute: number;
  /** One minute in production; tests shorten it. */
  windowMs: number;
  /** Shared counters in Redis; in process memory when unset. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key, so that deployments (or test runs) sharing a Redis stay apart. */
  keyPrefix: string;
  /** The GraphQL endpoint; everything under `/api` is guarded too. */
  graphqlPath: string;
}

/** Counters kept in memory: enough that a flood of made-up keys cannot evict the real ones quickly. */
const LOCAL_CACHE_ENTRIES = 100_000;

type Scope = 'api' | 'graphql';

function scopeOf(request: FastifyRequest, graphqlPath: string): Scope | undefined {
  const route = routeUrl(request);
  if (route === graphqlPath) return 'graphql';
  // Unmatched URLs under /api (404s) are counted too: probing costs like any request.
  const path = route ?? request.url.split('?', 1)[0] ?? '';
  if (path === '/api' || path.startsWith('/api/')) return 'api';
  return undefined;
}

function clientAddress(request: FastifyRequest): string {
  return normalizeIP(request.ip);
}

/** The bucket of a request: its key's hash, or its address when it has no well-formed key. */
export function rateLimitKey(request: FastifyRequest): string {
  const token = bearerToken(request.headers.authorization);
  return token && looksLikeApiKey(token) ? `key:${hashApiKey(token)}` : `addr:${clientAddress(request)}`;
}

/** Connects before the server takes requests, so a wrong REDIS_URL stops the start instead of failing open later. */
async function connectRedis(url: string, app: FastifyInstance): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    // While Redis is unreachable a command fails at once (and the request is let through) instead of queueing.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 1000,
  });
  let connected = false;
  let lastError: Error | undefined;
  let lastLoggedAt = 0;
  redis.on('error', (error: Error) => {
    lastError = error;
    // ioredis retries on its own; one line every ten seconds is enough to notice.
    if (!connected || Date.now() - lastLoggedAt < 10_000) return;
    lastLoggedAt = Date.now();
    app.log.warn({ err: error }, 'rate-limit store (Redis) unavailable; requests are not being counted');
  });
  try {
    await redis.connect();
    connected = true;
  } catch (error) {
    redis.disconnect();
    // The URL may hold a password: name only the host and port.
    const { hostname, port } = new URL(url);
    const reason = (lastError ?? (error as Error)).message;
    throw new ConfigError(`REDIS_URL: cannot connect to Redis at ${hostname}:${port || 6379} (${reason})`, { cause: error });
  }
  return redis;
}

/**
 * The plugin's own Redis store, with one namespace for both limiters. The
 * plugin gives each limiter made by `createRateLimit(options)` a child
 * namespace named after its route, which such a limiter does not have (the
 * keys would read `…undefinedundefined-…`); the limiters' own key prefixes
 * (`key:`, `addr:`, `authfail:`) already keep them apart.
 */
function sharedRedisStore(redis: Redis, prefix: string): FastifyRateLimitStoreCtor {
  return class SharedRedisStore {
    private readonly inner = new RedisStore(false, false, redis, prefix);
    incr: RedisStore['incr'] = (...args) => this.inner.incr(...args);
    read: RedisStore['read'] = (...args) => this.inner.read(...args);
    child() {
      return this;
    }
  };
}

interface Refusal {
  limit: number;
  retryAfterSeconds: number;
  message: string;
}

/** Throws the 429; each transport's error handler writes it (REST envelope or GraphQL response) with Retry-After. */
function refuse(reply: FastifyReply, refusal: Refusal): never {
  reply.header('x-ratelimit-limit', refusal.limit).header('x-ratelimit-remaining', 0).header('x-ratelimit-reset', refusal.retryAfterSeconds);
  throw new AppError(ErrorCode.RATE_LIMITED, refusal.message, [], refusal.retryAfterSeconds);
}

export interface RateLimits {
  /** Call when a request's key is refused: counts it, and returns the 429 to answer instead once the address is past its limit. */
  countFailedAuthentication: FailedAuthenticationCounter;
  /**
   * Counts one more request of the key in `authorization` (a WebSocket's `subscribe` message, which
   * no HTTP hook sees) in the key's bucket; returns the refusal once the key is past its limit.
   */
  countKeyRequest(request: FastifyRequest, authorization: string | undefined): Promise<AppError | undefined>;
  /**
   * Counts `more` requests of the request's key beyond the one its arrival counted (a GraphQL
   * document's further mutations, see graphql/root-mutations.ts), all or none: when fewer remain,
   * nothing more is counted and the refusal is returned, so the document runs none of them.
   */
  countMoreRequests(request: FastifyRequest, reply: FastifyReply, more: number): Promise<AppError | undefined>;
}

/**
 * The addresses that failed authentication in this process, each with the
 * time until which its failures may still refuse it (its last failure plus
 * one window: the counter's own window started at or before its first
 * failure, so it ends no later). It only serves the in-memory counters, which
 * are this process's own: an address not in here has no failures counted,
 * and reading its counter (5 of the 33 promises a REST create made) can be
 * skipped. With Redis, another process may have counted an
 * address's failures, so every request reads its counter.
 *
 * It holds at most `capacity` addresses. When a failure finds it full of
 * addresses still in their window, it stops answering "none" (every request
 * reads its counter again) until a whole window has passed with no failure,
 * so that no address's failures are ever overlooked, and a flood of failing
 * addresses costs no more than one pass over it.
 */
export class RecentFailures {
  private readonly until = new Map<string, number>();
  private readAllUntil = 0;

  constructor(
    private readonly capacity: number,
    private readonly windowMs: number,
  ) {}

  /** Records a failure of `address` at `now` (ms). */
  add(address: string, now: number): void {
    // Every counter is read until a window after the last failure nobody recorded.
    if (now < this.readAllUntil) {
      this.readAllUntil = now + this.windowMs;
      return;
    }
    if (!this.until.has(address) && this.until.size >= this.capacity) {
      // At most once per filling up: after a window of reading everything, every entry has ended.
      for (const [known, until] of this.until) if (until <= now) this.until.delete(known);
      if (this.until.size >= this.capacity) {
        this.readAllUntil = now + this.windowMs;
        return;
      }
    }
    this.until.set(address, now + this.windowMs);
  }

  /** Whether `address` may have failures counted at `now`: false only when it certainly has none. */
  mayHaveFailed(address: string, now: number): boolean {
    if (now < this.readAllUntil) return true;
    const until = this.until.get(address);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(address);
    return false;
  }
}

export async function registerRateLimits(app: FastifyInstance, options: RateLimitOptions): Promise<RateLimits> {
  const redis = options.redisUrl ? await connectRedis(options.redisUrl, app) : undefined;
  if (redis) app.addHook('onClose', async () => void (await redis.quit().catch(() => redis.disconnect())));

  await app.register(fastifyRateLimit, {
    // Applied by the hook below rather than per route, so that one hook decides the order of the checks.
    global: false,
    ...(redis ? { store: sharedRedisStore(redis, options.keyPrefix) } : {}),
    // A Redis outage must not take the API down with it: requests pass uncounted (and it is logged above).
    skipOnError: true,
  });

  const common = { timeWindow: options.windowMs, cache: LOCAL_CACHE_ENTRIES, skipOnError: true };
  const perKey = app.createRateLimit({ ...common, max: options.perMinute, keyGenerator: rateLimitKey });
  const authFailures = app.createRateLimit({
    ...common,
    max: options.authFailuresPerMinute,
    keyGenerator: (request) => `authfail:${clientAddress(request)}`,
  });

  // In memory, the failure counters are this process's own (see RecentFailures).
  const recentFailures = redis ? undefined : new RecentFailures(LOCAL_CACHE_ENTRIES, options.windowMs);

  app.addHook('onRequest', async (request, reply) => {
    const scope = scopeOf(request, options.graphqlPath);
    if (!scope) return;

    // An address that keeps failing authentication is refused before its key is looked up.
    if (!recentFailures || recentFailures.mayHaveFailed(clientAddress(request), performance.now())) {
      const failures = await authFailures(request, { increment: false });
      if (!failures.isAllowed && failures.remaining === 0 && failures.ttl > 0) {
        return refuse(reply, {
          limit: failures.max,
          retryAfterSeconds: failures.ttlInSeconds,
          message: `Too many failed authentication attempts from this address; retry in ${failures.ttlInSeconds} s`,
        });
      }
    }

    const limit = await perKey(request);
    if (limit.isAllowed) return;
    if (limit.isExceeded) {
      return refuse(reply, {
        limit: limit.max,
        retryAfterSeconds: limit.ttlInSeconds,
        message: `Rate limit of ${limit.max} requests a minute exceeded; retry in ${limit.ttlInSeconds} s`,
      });
    }
    reply.header('x-ratelimit-limit', limit.max).header('x-ratelimit-remaining', limit.remaining).header('x-ratelimit-reset', limit.ttlInSeconds);
  });

  return {
    async countKeyRequest(request, authorization) {
      // The upgrade request, seen with the key of connection_init, so that it lands in the key's bucket.
      const asKey = Object.create(request, { headers: { value: { ...request.headers, authorization } } }) as FastifyRequest;
      const limit = await perKey(asKey);
      if (limit.isAllowed || !limit.isExceeded) return undefined;
      return new AppError(
        ErrorCode.RATE_LIMITED,
        `Rate limit of ${limit.max} requests a minute exceeded; retry in ${limit.ttlInSeconds} s`,
        [],
        limit.ttlInSeconds,
      );
    },
    async countMoreRequests(request, reply, more) {
      const refusal = (max: number, remaining: number, ttlInSeconds: number) => {
        reply.header('x-ratelimit-remaining', remaining);
        return new AppError(
          ErrorCode.RATE_LIMITED,
          `Rate limit of ${max} requests a minute exceeded: each mutation of a document counts as a request, ` +
            `this one has ${more + 1} and ${remaining + 1} remained; nothing was run. Retry in ${ttlInSeconds} s`,
          [],
          ttlInSeconds,
        );
      };
      const now = await perKey(request, { increment: false });
      if (now.isAllowed) return undefined; // an allow-listed request is not counted
      if (now.remaining < more) return refusal(now.max, now.remaining, now.ttlInSeconds);
      let remaining = now.remaining;
      for (let counted = 0; counted < more; counted++) {
        const last = await perKey(request);
        if (last.isAllowed) return undefined;
        // Another request of the key took the last ones meanwhile.
        if (last.isExceeded) return refusal(last.max, 0, last.ttlInSeconds);
        remaining = last.remaining;
      }
      reply.header('x-ratelimit-remaining', remaining);
      return undefined;
    },
    async countFailedAuthentication(request, reply) {
      recentFailures?.add(clientAddress(request), performance.now()); // monotonic, as mayHaveFailed's
      // One increment, whose result is the check: the store counts atomically (in Redis too).
      const failures = await authFailures(request);
      if (failures.isAllowed || !failures.isExceeded) return undefined;
      reply
        ?.header('x-ratelimit-limit', failures.max)
        .header('x-ratelimit-remaining', 0)
        .header('x-ratelimit-reset', failures.ttlInSeconds);
      return new AppError(
        ErrorCode.RATE_LIMITED,
        `Too many failed authentication attempts from this address; retry in ${failures.ttlInSeconds} s`,
        [],
        failures.ttlInSeconds,
      );
    },
  };
}
