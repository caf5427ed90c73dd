/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1). A client that sends it waits for
 * `100 Continue` before uploading the body. Node answered 100 to every such
 * request before the gateway saw it, so a request refused on its headers
 * alone (a bad key, the rate limit, load shedding, shutdown, a body declared
 * over the limit) made its client upload the body for nothing.
 *
 * Now Node hands the request on without a 100; the 100 goes out only once
 * every `onRequest` check has passed (authentication among them), just
 * before the body is read, and not when the declared body is over the limit
 * (the parser refuses it unread). A request answered without its 100 gets
 * `Connection: close`: its body was never read, so nothing after it on the
 * connection could be told apart from it.
 *
 * An expectation other than 100-continue is ignored (RFC 9110 §10.1.1 allows
 * it): the request is served like any other.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const CONTINUED = Symbol('continued');
const EXPECTS = Symbol('expectsContinue');
type Marked = FastifyRequest & { [CONTINUED]?: boolean };

/** True for a request Node would have answered 100 itself (its own reading of `Expect`, HTTP/1.1 only). */
function expectsContinue(request: FastifyRequest): boolean {
  return (request.raw as IncomingMessage & { [EXPECTS]?: boolean })[EXPECTS] === true;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function registerExpectContinue(app: FastifyInstance, options: { bodyLimit: number }): void {
  // With a listener, Node emits `checkContinue` instead of answering 100 itself.
  app.server.on('checkContinue', (request: IncomingMessage & { [EXPECTS]?: boolean }, response) => {
    request[EXPECTS] = true;
    app.server.emit('request', request, response);
  });
  // Any other expectation: RFC 9110 lets a server go on as if it were absent, which it does, instead
  // of Node's bare 417 (no request id, envelope or security headers).
  app.server.on('checkExpectation', (request: IncomingMessage, response) => app.server.emit('request', request, response));
  // After every onRequest hook, before the body is read.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (expectsContinue(request) && hasBody(request)) {
      const declared = Number(request.headers['content-length']);
      if (!(declared > options.bodyLimit)) {
        reply.raw.writeContinue();
        (request as Marked)[CONTINUED] = true;
      }
    }
    done(null, payload);
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (expectsContinue(request) && hasBody(request) && !(request as Marked)[CONTINUED]) reply.header('connection', 'close');
    done(null, payload);
  });
}
