/**
 * The one place where errors become REST responses: the Cekat error envelope
 * with the status of its code. Anything unexpected is a 500 with a generic
 * message; its stack goes to the log under the request id, never to the client.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ErrorCode, formatPath } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  VALIDATION_ERROR: 422,
  TOTAL_MISMATCH: 422,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  INVALID_STATUS_TRANSITION: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_REQUEST_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

/** Fastify's own request errors, by their code. */
const FASTIFY_CODES: Record<string, AppError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: new AppError(ErrorCode.PAYLOAD_TOO_LARGE, 'The request body is larger than the limit'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: new AppError(
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    'Send the request body as application/json',
  ),
  // A path parameter too long for the router: no such id can exist.
  FST_ERR_MAX_PARAM_LENGTH: new AppError(ErrorCode.NOT_FOUND, 'Not found'),
};

export function errorBody(error: AppError, requestId: string) {
  return {
    success: false as const,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details.length > 0
        ? { details: error.details.map((detail) => ({ field: formatPath(detail.path), message: detail.message })) }
        : {}),
      request_id: requestId,
    },
  };
}

function classify(error: FastifyError): AppError {
  const known = FASTIFY_CODES[error.code];
  if (known) return known;
  if (error.validation) {
    return AppError.validation(
      error.validation.map((issue) => ({
        path: [error.validationContext ?? 'request', ...issue.instancePath.split('/').filter(Boolean)],
        message: issue.message ?? 'is invalid',
      })),
    );
  }
  // A malformed request Fastify refused before it reached a route (bad content length, bad URL …).
  // Its own message may echo the request, so it is not passed on.
  const status = error.statusCode ?? 500;
  if (status === 400 || (status > 400 && status < 500 && error.code?.startsWith('FST_'))) {
    return new AppError(ErrorCode.INVALID_JSON, 'The request could not be read');
  }
  return toAppError(error);
}

export function restErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = classify(error);
  const status = HTTP_STATUS[appError.code];
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  if (appError.retryAfterSeconds !== undefined) reply.header('retry-after', String(appError.retryAfterSeconds));
  void reply.status(status).send(errorBody(appError, request.id));
}

/** An unknown route. The message never echoes the path: it may hold anything the caller typed (markup, a key). */
export function restNotFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(404).send(errorBody(new AppError(ErrorCode.NOT_FOUND, 'No such route: check the method and the path'), request.id));
}
