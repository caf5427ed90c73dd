/** The Redis store inside @fastify/rate-limit (its Lua scripts); the package's types do not declare it. */
declare module '@fastify/rate-limit/store/RedisStore' {
  import type Redis from 'ioredis';

  type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

  class RedisStore {
    constructor(continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key?: string);
    incr(key: string, callback: Callback, timeWindow: number, max: number): void;
    read(key: string, callback: Callback, timeWindow: number, max: number): void;
  }
  export = RedisStore;
}
