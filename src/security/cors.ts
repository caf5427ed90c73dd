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
import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export async function registerCors(app: FastifyInstance, origins: string[]): Promise<void> {
  const options: FastifyCorsOptions = {
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
  };
  // An OPTIONS without Origin or Access-Control-Request-Method is not a preflight (curl -X OPTIONS,
  // a monitoring probe): CORS stays out of it, and the not-found handler answers it with `Allow`
  // as RFC 9110 §9.3.7 has it, instead of @fastify/cors's text/plain "Invalid Preflight Request".
  await app.register(fastifyCors, {
    delegator: (request, callback) => {
      const preflight =
        request.method !== 'OPTIONS' ||
        (request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined);
      callback(null, preflight ? options : { origin: false });
    },
  });
}
