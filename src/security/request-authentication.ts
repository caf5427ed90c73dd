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

export function requestAuthenticator(auth: Pick<AuthService, 'authenticate'>, countFailure: FailedAuthenticationCounter): AuthenticateRequest {
  return async (request, reply) => {
    try {
      return await auth.authenticate(request.headers.authorization);
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.UNAUTHORIZED) throw (await countFailure(request, reply)) ?? error;
      throw error;
    }
  };
}
