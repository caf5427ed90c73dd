/**
 * CORS for browser applications on other origins. Off unless `CORS_ORIGINS`
 * lists origins: the API is called with a bearer key, mostly from servers,
 * and a browser app that holds a key is a decision for the operator to make.
 *
 * Listed origins may send the headers the API reads (Authorization,
 * Idempotency-Key, X-Request-Id and the GraphQL preflight headers) and read
 * the headers it answers with. No cookies are involved, so credentials are
 * not allowed. Preflights are answered before the rate limits and the key check.
 */
import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export async function registerCors(app: FastifyInstance, origins: string[]): Promise<void> {
  await app.register(fastifyCors, {
    origin: origins,
    methods: ['GET', 'POST', 'PUT'],
    allowedHeaders: [
      'Authorization',
      'Content-Type',
      'Idempotency-Key',
      'X-Request-Id',
      'Apollo-Require-Preflight',
      'X-Apollo-Operation-Name',
    ],
    exposedHeaders: [
      'X-Request-Id',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
      'Retry-After',
      'Idempotent-Replayed',
      'Location',
      'WWW-Authenticate',
    ],
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  });
}
