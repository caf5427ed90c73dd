/**
 * Draining on shutdown (SIGTERM, `app.close()`), as a client on a kept-alive
 * connection sees it.
 *
 * Fastify's own answer to a request that arrives once closing has begun (on
 * a connection already open: new connections are no longer accepted) was a
 * bare `{"error":"Service Unavailable",…}` 503, in no envelope, without the
 * code, `Retry-After`, `X-Request-Id` or the security headers, and never a
 * GraphQL response on `/graphql`. Here that request gets the contract's
 * 503 SERVICE_UNAVAILABLE with `Retry-After` from each transport's error
 * handler, before any other work: it writes nothing, so it is safe to retry
 * (on another process, or this one restarted), with its idempotency key.
 *
 * And a request still running when closing begins is answered in full with
 * `Connection: close`, so that its client opens a new connection for the next
 * request instead of sending it down one that is going away. (Not while
 * another request is queued behind it on the same connection, pipelined: that
 * one's answer would be cut off. It ends the connection itself.)
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';

/** Long enough for a load balancer to notice, short enough for a restart. */
const RETRY_AFTER_SECONDS = 1;

export function registerDraining(app: FastifyInstance): void {
  let closing = false;
  // Requests in progress per connection: more than one means pipelining.
  const inProgress = new WeakMap<Socket, number>();
  const counted = new WeakSet<object>();
  const finished = (request: { raw: { socket: Socket } }) => {
    if (!counted.delete(request)) return; // an aborted request may also end its response
    const socket = request.raw.socket;
    inProgress.set(socket, (inProgress.get(socket) ?? 1) - 1);
  };

  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, _reply, done) => {
    const socket = request.raw.socket;
    counted.add(request);
    inProgress.set(socket, (inProgress.get(socket) ?? 0) + 1);
    if (!closing) return done();
    // Fastify has set `Connection: close` on this response already.
    request.log.info('refused: the server is shutting down');
    // Passed on: each transport's error handler writes it (REST envelope or GraphQL response) with Retry-After.
    done(new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The server is shutting down; retry shortly', [], RETRY_AFTER_SECONDS));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (closing && (inProgress.get(request.raw.socket) ?? 0) <= 1 && request.raw.httpVersionMajor === 1)
      reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (request, _reply, done) => {
    finished(request);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    finished(request);
    done();
  });
}
