/**
 * Fastify's own request errors (body parser, body limit, router) as
 * `AppError`s, for both transports' error handlers: REST writes them as its
 * envelope, GraphQL as a GraphQL response.
 */
import type { FastifyError } from 'fastify';
import { AppError, ErrorCode } from './app-error';
import { toAppError } from './to-app-error';

const FASTIFY_CODES: Record<string, AppError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: new AppError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    'The request body is larger than the limit',
  ),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: new AppError(
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    'Send the request body as application/json',
  ),
  // @fastify/compress decodes gzip, deflate and br request bodies; any other Content-Encoding is
  // its 415, which the generic 4xx rule below would turn into a 400 "could not be read".
  FST_CP_ERR_INVALID_CONTENT_ENCODING: new AppError(
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    'Send the request body uncompressed, or with Content-Encoding gzip, deflate or br',
  ),
  // A path parameter too long for the router: no such id can exist.
  FST_ERR_MAX_PARAM_LENGTH: new AppError(ErrorCode.NOT_FOUND, 'Not found'),
};

export function classifyRequestError(error: FastifyError): AppError {
  if (error instanceof AppError) return error;
  const known = FASTIFY_CODES[error.code];
  if (known) return known;
  // No route has Fastify validate its input (the orders routes' schemas only document: the service
  // validates, for both transports), so there is no schema-validation error to map here.
  // A malformed request Fastify refused before it reached a route (bad content length, bad URL …).
  // Its own message may echo the request, so it is not passed on.
  const status = error.statusCode ?? 500;
  if (status === 400 || (status > 400 && status < 500 && error.code?.startsWith('FST_'))) {
    return new AppError(ErrorCode.INVALID_JSON, 'The request could not be read');
  }
  return toAppError(error);
}

/**
 * Whether a request error gets an error log with its stack: a failure (a 500,
 * or the database found down), not a 503 the server chose to send (load
 * shedding, the schema gate), whose request line records it.
 */
export function isRequestFailure(error: unknown, appError: AppError): boolean {
  if (appError.code === ErrorCode.INTERNAL_ERROR) return true;
  return appError.code === ErrorCode.SERVICE_UNAVAILABLE && !(error instanceof AppError);
}
