/**
 * The one place where errors become REST responses: the Cekat error envelope
 * with the status of its code. Anything unexpected is a 500 with a generic
 * message; its stack goes to the log under the request id, never to the client.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ErrorCode, formatPath } from '../errors/app-error';
import { classifyRequestError, isRequestFailure } from '../errors/http-errors';
import { WWW_AUTHENTICATE } from '../auth/api-key';
import { entityTag } from './entity-tag';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  VALIDATION_ERROR: 422,
  TOTAL_MISMATCH: 422,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  INVALID_STATUS_TRANSITION: 409,
  PRECONDITION_FAILED: 412,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_REQUEST_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

export function errorBody(error: AppError, requestId: string) {
  return {
    success: false as const,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details.length > 0
        ? {
            details: error.details.map((detail) => ({
              field: formatPath(detail.path),
              message: detail.message,
            })),
          }
        : {}),
      request_id: requestId,
    },
  };
}

export function restErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = classifyRequestError(error);
  const status = HTTP_STATUS[appError.code];
  if (status >= 500 && isRequestFailure(error, appError)) request.log.error({ err: error }, 'request failed');
  if (appError.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(appError.retryAfterSeconds));
  // A failed condition names the order's current entity tag, to read it again or retry with it.
  if (appError.currentVersion !== undefined) reply.header('etag', entityTag(appError.currentVersion));
  // A route with its own challenge (/metrics names its realm) keeps it.
  if (status === 401 && !reply.hasHeader('www-authenticate'))
    reply.header('www-authenticate', WWW_AUTHENTICATE);
  sendError(request, reply, status, appError);
}

/** Sends the envelope, and notes its code for the access line. */
function sendError(request: FastifyRequest, reply: FastifyReply, status: number, error: AppError): void {
  // A refusal before the telemetry hook ran (Fastify's own, on a malformed URL) has none yet.
  if (request.telemetry) request.telemetry.errorCode = error.code;
  void reply.status(status).send(errorBody(error, request.id));
}

/** Unknown URLs, or (with `allowed`) a known URL under a method it does not have: 405 with `Allow`. */
export function restNotFoundHandler(
  request: FastifyRequest,
  reply: FastifyReply,
  allowed: string[] = [],
): void {
  // Neither message echoes the path: it may hold anything the caller typed (markup, a key).
  if (allowed.length > 0) {
    void reply.header('allow', allowed.join(', '));
    const error = new AppError(
      ErrorCode.METHOD_NOT_ALLOWED,
      `${request.method} is not allowed on this route; use ${allowed.join(', ')}`,
    );
    sendError(request, reply, 405, error);
    return;
  }
  sendError(
    request,
    reply,
    404,
    new AppError(ErrorCode.NOT_FOUND, 'No such route: check the method and the path'),
  );
}
