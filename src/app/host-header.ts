/**
 * An HTTP/1.1 request without `Host` is refused (RFC 9112 §3.2: a server MUST answer it 400).
 * Node refused it itself, before Fastify had a request: an empty 400 with no error envelope, no
 * request id and none of the API's security headers. Node's check is off (`requireHostHeader:
 * false`, app.ts) and this hook refuses such a request instead, after the security headers are set,
 * as the contract's 400 with a message that says what is missing. HTTP/1.0 needs no Host.
 */
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';

export function registerHostRequired(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const { raw } = request;
    if (raw.httpVersionMajor === 1 && raw.httpVersionMinor === 1 && raw.headers.host === undefined) {
      // Nothing after this request on the connection can be trusted to be framed as the client meant.
      void reply.header('connection', 'close');
      return done(new AppError(ErrorCode.INVALID_JSON, 'The request could not be read: an HTTP/1.1 request needs a Host header'));
    }
    done();
  });
}
