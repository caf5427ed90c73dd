/**
 * The one writer of refusals on the GraphQL endpoint that happen before Apollo
 * runs, and Fastify's error handler for that endpoint. They are GraphQL
 * responses (`topLevelErrorResponse` in `errors.ts`), in the media type the
 * client accepts.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import type { AppError } from '../errors/app-error';
import { classifyRequestError, isRequestFailure } from '../errors/http-errors';
import { WWW_AUTHENTICATE } from '../auth/api-key';
import { topLevelErrorResponse } from './errors';
import { NOT_IN_LIST_MESSAGE, PERSISTED_QUERY_NOT_IN_LIST } from './trusted-documents';

const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
const APPLICATION_JSON = 'application/json; charset=utf-8';

/**
 * The media type of a GraphQL response, chosen from `Accept` the way Apollo
 * chooses it, so that a refusal written here and an answer written by Apollo
 * look the same to a client.
 */
export function graphqlResponseType(accept: string | undefined): string {
  if (!accept) return APPLICATION_JSON;
  const preferred = new Negotiator({ headers: { accept } }).mediaType([
    APPLICATION_JSON,
    GRAPHQL_RESPONSE_JSON,
  ]);
  return preferred === GRAPHQL_RESPONSE_JSON ? GRAPHQL_RESPONSE_JSON : APPLICATION_JSON;
}

/**
 * The one writer of refusals on the GraphQL endpoint that happen before
 * Apollo runs: the rate limits, the body parser (400, 413, 415) and Fastify's
 * own request errors. They are GraphQL responses, in the media type the
 * client accepts, so GraphQL clients can read the code and retry time.
 */
export function sendGraphQLRefusal(
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError,
): FastifyReply {
  const { status, body } = topLevelErrorResponse(error, request.id);
  if (request.telemetry) request.telemetry.errorCode = body.errors[0]?.extensions?.code as string | undefined;
  if (error.retryAfterSeconds !== undefined)
    void reply.header('retry-after', String(error.retryAfterSeconds));
  if (status === 401) void reply.header('www-authenticate', WWW_AUTHENTICATE);
  return reply.code(status).type(graphqlResponseType(request.headers.accept)).send(JSON.stringify(body));
}

/**
 * A request GraphQL over HTTP cannot run as sent, refused before Apollo with Apollo's own code for
 * such requests (`BAD_REQUEST`, HTTP 400), so that it reads like Apollo's other refusals.
 */
export function sendBadGraphQLRequest(request: FastifyRequest, reply: FastifyReply, message: string): FastifyReply {
  return sendRequestError(request, reply, message, 'BAD_REQUEST');
}

/**
 * A document that is not on the list of trusted documents (GRAPHQL_TRUSTED_DOCUMENTS), refused
 * before Apollo parses it: HTTP 400 with PERSISTED_QUERY_NOT_IN_LIST, as the other request errors.
 */
export function sendUntrustedDocument(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendRequestError(request, reply, NOT_IN_LIST_MESSAGE, PERSISTED_QUERY_NOT_IN_LIST);
}

/** A request error (nothing ran, no `data`): 400, as graphql-response+json asks and Apollo does for both media types. */
function sendRequestError(request: FastifyRequest, reply: FastifyReply, message: string, code: string): FastifyReply {
  const body = { errors: [{ message, extensions: { code } }] };
  if (request.telemetry) request.telemetry.errorCode = code;
  return reply.code(400).type(graphqlResponseType(request.headers.accept)).send(JSON.stringify(body));
}

/**
 * Fastify's error handler for the GraphQL endpoint: a refusal before Apollo
 * (rate limit, body parser, body limit) or a failure of a hook, written as a
 * GraphQL response. Unexpected failures are logged under the request id.
 */
export function graphqlErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = classifyRequestError(error);
  if (isRequestFailure(error, appError)) {
    request.log.error({ err: error }, 'request failed');
  }
  void sendGraphQLRefusal(request, reply, appError);
}
