/**
 * CORS for browser applications on other origins. Off unless `CORS_ORIGINS`
 * lists origins: the API is called with a bearer key, mostly from servers,
 * and a browser app that holds a key is a decision for the operator to make.
 *
 * Listed origins may send the headers the API reads (Authorization,
 * Idempotency-Key, X-Request-Id, traceparent and tracestate, and the GraphQL preflight headers) and read
 * the headers it answers with. No cookies are involved, so credentials are
 * not allowed. Preflights are answered before the rate limits and the key check.
 */
import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const EXPOSED_HEADERS = [
  'X-Request-Id',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'Idempotent-Replayed',
  'Location',
  'WWW-Authenticate',
  // A 405 names the methods the resource has; a page that got one can read which.
  'Allow',
];

const ALLOWED_METHODS = ['GET', 'POST', 'PUT'];
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'X-Request-Id',
  'Apollo-Require-Preflight',
  'X-Apollo-Operation-Name',
  // Apollo Client sends these with every operation once it is given clientAwareness ({ name, version });
  // without them its preflight failed and every query was a CORS error. Apollo Server reads them as
  // the client's name and version (its usage reporting); nothing else does.
  'Apollographql-Client-Name',
  'Apollographql-Client-Version',
  // W3C Trace Context: OpenTelemetry's fetch and XMLHttpRequest instrumentations add these to calls to
  // the origins they are told to trace (propagateTraceHeaderCorsUrls); without them the preflight failed
  // and every traced call from the page was a CORS error. The gateway reads them (trace-context.ts).
  'traceparent',
  'tracestate',
];
const MAX_AGE_SECONDS = 600;

type ErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;

/**
 * For Fastify's `frameworkErrors` (a malformed URL such as `/api/orders/50%off`): Fastify answers
 * those before any hook runs, @fastify/cors's too, so the 400 went out without
 * Access-Control-Allow-Origin and a page on a listed origin saw only "Failed to fetch" and a CORS
 * error in its console; its preflight, refused the same way, stopped the request before it was
 * sent. The preflight is answered here as @fastify/cors answers any other, and the answer gets the
 * headers the CORS hook gives any other answer.
 */
export function withCorsHeaders(handler: ErrorHandler, origins: readonly string[]): ErrorHandler {
  if (origins.length === 0) return handler;
  return (error, request, reply) => {
    const vary = String(reply.getHeader('vary') ?? '');
    if (!/(^|,)\s*origin\s*(,|$)/i.test(vary)) void reply.header('vary', vary ? `${vary}, Origin` : 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !origins.includes(origin)) return handler(error, request, reply);
    void reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED_HEADERS.join(', '));
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      return void reply
        .status(204)
        .header('access-control-allow-methods', ALLOWED_METHODS.join(', '))
        .header('access-control-allow-headers', ALLOWED_HEADERS.join(', '))
        .header('access-control-max-age', String(MAX_AGE_SECONDS))
        .send();
    }
    handler(error, request, reply);
  };
}

export async function registerCors(app: FastifyInstance, origins: string[]): Promise<void> {
  const options: FastifyCorsOptions = {
    origin: origins,
    methods: ALLOWED_METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: MAX_AGE_SECONDS,
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
