/**
 * The one place where service errors become GraphQL errors.
 *
 * Input and business failures of a mutation are data: they come back in the
 * payload's `userErrors`. Everything else is a top-level error whose
 * `extensions.code` is stable; unexpected errors are masked.
 */
import { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode, printable, type FieldPath } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
// Its own module, not order-feed.ts: the resolvers import this file, and order-feed.ts loads the NATS client.
import { SubscriberTooSlowError } from '../events/subscriber-too-slow';
import { snakeToCamel } from '../shared/case';
import { WWW_AUTHENTICATE } from '../auth/api-key';
import { type UserError, UserErrorCode } from './order.type';

/** Codes a client can act on by changing its input; these are returned as `userErrors`. */
const USER_ERROR_CODES: ReadonlySet<string> = new Set<string>(Object.values(UserErrorCode));

function isUserErrorCode(code: ErrorCode): code is ErrorCode & UserErrorCode {
  return USER_ERROR_CODES.has(code);
}

/**
 * Runs a mutation's service call. A user error becomes the payload's
 * `userErrors` (with `order: null`); anything else is re-thrown to become a
 * top-level error.
 */
export async function withUserErrors<T>(
  /**
   * The input argument the service's field paths lie under (`input`); null when the mutation has
   * none: a path then names an argument itself (`previousSecretValidForSeconds`), and an error
   * with no path is about `idArgument`.
   */
  argument: string | null,
  run: () => Promise<T>,
  /** The argument that names the object, for NOT_FOUND (e.g. `id`). */
  idArgument?: string,
): Promise<{ result: T; userErrors: [] } | { result: null; userErrors: UserError[] }> {
  try {
    return { result: await run(), userErrors: [] };
  } catch (error) {
    if (!(error instanceof AppError) || !isUserErrorCode(error.code)) throw error;
    const code = error.code as UserErrorCode;
    if (error.code === ErrorCode.NOT_FOUND && idArgument) {
      return {
        result: null,
        userErrors: [{ field: [idArgument], message: error.message, code }],
      };
    }
    // The update's condition is an argument of its own (updateOrder's expectedVersion).
    if (error.code === ErrorCode.PRECONDITION_FAILED) {
      return { result: null, userErrors: [{ field: ['expectedVersion'], message: error.message, code }] };
    }
    if (
      error.code === ErrorCode.IDEMPOTENCY_KEY_REUSED ||
      error.code === ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS
    ) {
      return {
        result: null,
        userErrors: [{ field: ['idempotencyKey'], message: error.message, code }],
      };
    }
    const details = error.details.length > 0 ? error.details : [{ path: [], message: error.message }];
    const userErrors = details.map((detail) => ({
      // Without an input argument, an error naming no field is about the id: never name an argument the mutation does not have.
      field:
        argument === null && detail.path.length === 0
          ? [idArgument ?? 'id']
          : toGraphQLPath(argument, detail.path),
      // A single detail of a non-validation error carries the fuller top-level message.
      message:
        error.code === ErrorCode.VALIDATION_ERROR || details.length > 1 ? detail.message : error.message,
      code,
    }));
    return { result: null, userErrors };
  }
}

/**
 * Runs a query's service call: NOT_FOUND is `null`, the GraphQL way to say
 * "there is none"; anything else is passed on.
 */
export async function nullWhenNotFound<T>(find: () => Promise<T>): Promise<T | null> {
  try {
    return await find();
  } catch (error) {
    if (error instanceof AppError && error.code === ErrorCode.NOT_FOUND) return null;
    throw error;
  }
}

/** `['items', 0, 'product_id']` under `input` → `['input', 'items', '0', 'productId']`. */
export function toGraphQLPath(argument: string | null, path: FieldPath): string[] {
  // The key is an argument of its own, not a field of the input.
  if (path[0] === 'idempotency_key') return ['idempotencyKey'];
  const out = argument === null ? [] : [argument];
  let inMetadata = false;
  for (const part of path) {
    if (part === 'body') continue;
    // Metadata keys are the caller's own; they are never renamed.
    out.push(typeof part === 'number' || inMetadata ? String(part) : snakeToCamel(part));
    if (part === 'metadata') inMetadata = true;
  }
  return out;
}

const TOP_LEVEL_CODES: Partial<Record<ErrorCode, { code: string; status: number }>> = {
  [ErrorCode.UNAUTHORIZED]: { code: 'UNAUTHENTICATED', status: 401 },
  [ErrorCode.RATE_LIMITED]: { code: ErrorCode.RATE_LIMITED, status: 429 },
  [ErrorCode.SERVICE_UNAVAILABLE]: { code: ErrorCode.SERVICE_UNAVAILABLE, status: 503 },
  [ErrorCode.INVALID_JSON]: { code: ErrorCode.INVALID_JSON, status: 400 },
  [ErrorCode.PAYLOAD_TOO_LARGE]: { code: ErrorCode.PAYLOAD_TOO_LARGE, status: 413 },
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: { code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, status: 415 },
  [ErrorCode.INTERNAL_ERROR]: { code: ErrorCode.INTERNAL_ERROR, status: 500 },
  [ErrorCode.METHOD_NOT_ALLOWED]: { code: ErrorCode.METHOD_NOT_ALLOWED, status: 405 },
  [ErrorCode.REQUEST_TIMEOUT]: { code: ErrorCode.REQUEST_TIMEOUT, status: 408 },
};

/**
 * An `AppError` as a top-level GraphQL error, with the HTTP status Apollo
 * should answer with. An unexpected failure before execution (while building
 * the context) is a 500 that names the request id, under which the original
 * error is logged.
 */
export function toGraphQLError(error: AppError, requestId?: string): GraphQLError {
  if (error.code === ErrorCode.INTERNAL_ERROR) {
    return new GraphQLError(error.message, {
      extensions: {
        code: ErrorCode.INTERNAL_ERROR,
        ...(requestId ? { requestId } : {}),
        http: { status: 500 },
      },
    });
  }
  const mapped = TOP_LEVEL_CODES[error.code] ?? { code: error.code, status: 200 };
  const headers = mapped.status === 401 ? new HeaderMap([['www-authenticate', WWW_AUTHENTICATE]]) : undefined;
  return new GraphQLError(error.message, {
    extensions: { code: mapped.code, http: { status: mapped.status, ...(headers ? { headers } : {}) } },
  });
}

/**
 * A whole GraphQL response that is one top-level error, for answers given
 * before Apollo runs (rate limits, the body parser, Fastify's own refusals).
 */
export function topLevelErrorResponse(
  error: AppError,
  requestId?: string,
): { status: number; body: { errors: GraphQLFormattedError[] } } {
  const mapped = TOP_LEVEL_CODES[error.code] ?? { code: error.code, status: 400 };
  const extensions = {
    code: mapped.code,
    ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
    ...(mapped.status >= 500 && requestId ? { requestId } : {}),
  };
  return { status: mapped.status, body: { errors: [{ message: error.message, extensions }] } };
}

/** Duck-typed: Apollo's ES module build and graphql's CommonJS build can hold two `GraphQLError` classes in one process. */
function isGraphQLError(error: unknown): error is GraphQLError {
  return (
    error instanceof GraphQLError ||
    (error instanceof Error && 'extensions' in error && 'originalError' in error && 'locations' in error)
  );
}

/** The error a resolver threw, out of graphql-js's located wrapper. */
function unwrap(raw: unknown): unknown {
  if (isGraphQLError(raw) && raw.path && raw.originalError) return raw.originalError;
  return raw;
}

type Classified =
  /** graphql-js's or Apollo's own request error, or one built on purpose: passed on as it is. */
  | { kind: 'graphql'; code?: string }
  /** A service error with its stable code. */
  | { kind: 'app'; error: AppError }
  /** A failure of our own code with no known code: masked, and logged under the request id. */
  | { kind: 'unexpected'; error: AppError };

/**
 * Sorts an error that reached Apollo. Only our own code paths without a known
 * code are masked: a plain `Error` (also when Apollo wrapped it), or a
 * code-less `GraphQLError` raised while executing a field (a scalar that
 * cannot serialise its value). Code-less errors of the request itself (a
 * subscription this schema has no type for, an APQ hash that does not match
 * its query) are client errors: BAD_REQUEST.
 */
function classify(formatted: GraphQLFormattedError, raw: unknown): Classified {
  const original = unwrap(raw);
  if (original instanceof AppError) return { kind: 'app', error: original };
  if (isGraphQLError(original)) {
    const code = formatted.extensions?.code;
    if (code !== 'INTERNAL_SERVER_ERROR') return { kind: 'graphql' };
    // What our own code throws outside a field (a request hook) reaches here wrapped by Apollo,
    // its message copied: a failure of ours all the same, never the client's.
    const cause = original.originalError;
    if (cause instanceof AppError) return { kind: 'app', error: cause };
    if (original !== raw || original.path || (cause && !isGraphQLError(cause)))
      return { kind: 'unexpected', error: toAppError(cause ?? original) };
    return { kind: 'graphql', code: 'BAD_REQUEST' };
  }
  const error = toAppError(original);
  return error.code === ErrorCode.INTERNAL_ERROR ? { kind: 'unexpected', error } : { kind: 'app', error };
}

/**
 * Apollo's `formatError`: GraphQL's own errors (syntax, validation, bad
 * variables, operation resolution) pass through with their codes; service
 * errors keep their message and stable code; anything unexpected becomes
 * INTERNAL_ERROR with a generic message (the original is logged under the
 * request id by the server).
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, raw: unknown): GraphQLFormattedError {
  const classified = classify(formatted, raw);
  if (classified.kind === 'graphql') {
    // graphql-js quotes what the caller sent (a variable's value, an unknown field's name) as is:
    // its control characters are escaped, as REST's are, so the message is safe to show.
    const safe = { ...formatted, message: printable(formatted.message) };
    return classified.code
      ? { ...safe, extensions: { ...formatted.extensions, code: classified.code } }
      : safe;
  }
  const { error } = classified;
  return {
    message: error.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: {
      code: TOP_LEVEL_CODES[error.code]?.code ?? error.code,
      // When to try again, as the service said (REST sends the same number as Retry-After).
      ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      ...(error.details.length > 0
        ? {
            fields: error.details.map((detail) => ({
              path: detail.path.map(String),
              message: detail.message,
            })),
          }
        : {}),
    },
  };
}

/**
 * A subscription's error as the client gets it over WebSocket: the codes and masking of the
 * HTTP API (`formatGraphQLError`), and SUBSCRIBER_TOO_SLOW for a subscriber that fell too far
 * behind, so that it learns why its subscription ended, with a code to act on. A test that runs
 * a subscription with graphql-js's `subscribe` passes its errors here to see what a client sees.
 */
export function formatSubscriptionError(error: GraphQLError): GraphQLFormattedError {
  if (error.originalError instanceof SubscriberTooSlowError)
    return { message: error.message, extensions: { code: error.originalError.code } };
  const formatted = formatGraphQLError(error.toJSON(), error);
  // `extensions.http` is the status an error gets over HTTP, which Apollo takes out of the answer;
  // a WebSocket has no status, and the limit errors (QUERY_LIMIT_EXCEEDED) carried it to the client.
  if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
  const { http: _status, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}

/** True when an error reaching Apollo is a bug rather than an expected failure: it is masked and must be logged. */
export function isUnexpectedGraphQLError(error: GraphQLError): boolean {
  // As Apollo will format it: an error without a code gets INTERNAL_SERVER_ERROR.
  const code = error.extensions.code ?? 'INTERNAL_SERVER_ERROR';
  const formatted = { message: error.message, extensions: { ...error.extensions, code } };
  return classify(formatted, error).kind === 'unexpected';
}

/**
 * The HTTP status of a response with top-level errors: the status of the
 * first mapped code (503 for an unreachable database, 429 past the rate
 * limit), 400 for a request error that left no data, or undefined to keep
 * Apollo's own.
 */
export function httpStatusForErrors(
  errors: readonly GraphQLFormattedError[] | undefined,
  data?: Record<string, unknown> | null,
): number | undefined {
  for (const error of errors ?? []) {
    const code = error.extensions?.code;
    const mapped = Object.values(TOP_LEVEL_CODES).find((entry) => entry.code === code);
    if (mapped && mapped.status !== 200 && mapped.status !== 500) return mapped.status;
    if (code === 'BAD_REQUEST' && !error.path && data == null) return 400;
  }
  return undefined;
}

/** The `Retry-After` of a response with top-level errors: the first error's `retryAfterSeconds`, if any. */
export function retryAfterForErrors(
  errors: readonly GraphQLFormattedError[] | undefined,
): number | undefined {
  for (const error of errors ?? []) {
    const seconds = error.extensions?.retryAfterSeconds;
    if (typeof seconds === 'number') return seconds;
  }
  return undefined;
}

/**
 * Service validation errors of a query's arguments, named by their GraphQL
 * paths (`filter.minTotal`, not the contract's `min_total`), every field
 * listed in the message and in `extensions.fields`.
 */
export async function withArgumentErrors<T>(
  run: () => Promise<T>,
  toPath: (path: FieldPath) => string[],
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== ErrorCode.VALIDATION_ERROR) throw error;
    const fields = error.details.map((detail) => ({ path: toPath(detail.path), message: detail.message }));
    const summary = fields.map((field) => `${field.path.join('.')} ${field.message}`).join('; ');
    throw new GraphQLError(`Invalid request: ${summary}`, {
      extensions: { code: ErrorCode.VALIDATION_ERROR, fields },
    });
  }
}
