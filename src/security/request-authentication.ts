/**
 * Authenticating an HTTP request, the same way for both transports: the
 * bearer key is looked up by `AuthService`, and a refused key is counted
 * against the client's address in the same step that decides whether that
 * address has now failed too often (then the answer is 429, not 401).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/auth.service';
import { AppError, ErrorCode } from '../errors/app-error';
import type { RequestContext } from '../orders/order.types';

/** Resolves the request's workspace, or throws UNAUTHORIZED (or RATE_LIMITED once the address is past its limit). */
export type AuthenticateRequest = (request: FastifyRequest, reply: FastifyReply) => Promise<RequestContext>;

/**
 * Counts one failed authentication; returns the error to answer with instead of 401 when that was one too many.
 * Without a reply (a WebSocket's upgrade request, which has been answered already) no headers are set.
 */
export type FailedAuthenticationCounter = (request: FastifyRequest, reply?: FastifyReply) => Promise<AppError | undefined>;

/**
 * More than one Authorization field line: Node keeps only the first in `headers.authorization`, so
 * a request with two keys (a proxy that adds its own, a client that sets it twice) would silently
 * run as whichever came first. Authorization is not a list field (RFC 9110 §11.6.2): it is refused.
 */
function hasSeveralAuthorizations(request: FastifyRequest): boolean {
  const raw = request.raw.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}

export function requestAuthenticator(auth: Pick<AuthService, 'authenticate'>, countFailure: FailedAuthenticationCounter): AuthenticateRequest {
  return async (request, reply) => {
    try {
      if (hasSeveralAuthorizations(request)) {
        throw new AppError(ErrorCode.UNAUTHORIZED, 'Send one Authorization header, not several');
      }
      const context = await auth.authenticate(request.headers.authorization);
      // The workspace's context is cached and shared; a traced request gets a copy with its trace.
      const trace = request.telemetry?.trace;
      return trace
        ? { ...context, trace: { traceparent: trace.traceparent, ...(trace.tracestate ? { tracestate: trace.tracestate } : {}) } }
        : context;
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.UNAUTHORIZED) throw (await countFailure(request, reply)) ?? error;
      throw error;
    }
  };
}
