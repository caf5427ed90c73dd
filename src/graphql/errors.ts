/**
 * The one place where service errors become GraphQL errors.
 *
 * Input and business failures of a mutation are data: they come back in the
 * payload's `userErrors`. Everything else is a top-level error whose
 * `extensions.code` is stable; unexpected errors are masked.
 */
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode, type FieldPath } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
import type { UserError } from './order.type';

/** Codes a client can act on by changing its input; these are returned as `userErrors`. */
const USER_ERROR_CODES = new Set<string>([
  ErrorCode.VALIDATION_ERROR,
  ErrorCode.TOTAL_MISMATCH,
  ErrorCode.NOT_FOUND,
  ErrorCode.INVALID_STATUS_TRANSITION,
  ErrorCode.IDEMPOTENCY_KEY_REUSED,
  ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS,
]);

/**
 * Runs a mutation's service call. A user error becomes the payload's
 * `userErrors` (with `order: null`); anything else is re-thrown to become a
 * top-level error.
 */
export async function withUserErrors<T>(
  argument: string,
  run: () => Promise<T>,
  /** The argument that names the object, for NOT_FOUND (e.g. `id`). */
  idArgument?: string,
): Promise<{ result: T; userErrors: [] } | { result: null; userErrors: UserError[] }> {
  try {
    return { result: await run(), userErrors: [] };
  } catch (error) {
    if (!(error instanceof AppError) || !USER_ERROR_CODES.has(error.code)) throw error;
    if (error.code === ErrorCode.NOT_FOUND && idArgument) {
      return { result: null, userErrors: [{ field: [idArgument], message: error.message, code: error.code }] };
    }
    if (error.code === ErrorCode.IDEMPOTENCY_KEY_REUSED || error.code === ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS) {
      return { result: null, userErrors: [{ field: ['idempotencyKey'], message: error.message, code: error.code }] };
    }
    const details = error.details.length > 0 ? error.details : [{ path: [], message: error.message }];
    const userErrors = details.map((detail) => ({
      field: toGraphQLPath(argument, detail.path),
      // A single detail of a non-validation error carries the fuller top-level message.
      message: error.code === ErrorCode.VALIDATION_ERROR || details.length > 1 ? detail.message : error.message,
      code: error.code,
    }));
    return { result: null, userErrors };
  }
}

/** `['items', 0, 'product_id']` under `input` → `['input', 'items', '0', 'productId']`. */
export function toGraphQLPath(argument: string, path: FieldPath): string[] {
  // The key is an argument of its own, not a field of the input.
  if (path[0] === 'idempotency_key') return ['idempotencyKey'];
  const out = [argument];
  let inMetadata = false;
  for (const part of path) {
    if (part === 'body') continue;
    // Metadata keys are the caller's own; they are never renamed.
    out.push(typeof part === 'number' || inMetadata ? String(part) : snakeToCamel(part));
    if (part === 'metadata') inMetadata = true;
  }
  return out;
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

const TOP_LEVEL_CODES: Partial<Record<ErrorCode, { code: string; status: number }>> = {
  [ErrorCode.UNAUTHORIZED]: { code: 'UNAUTHENTICATED', status: 401 },
  [ErrorCode.RATE_LIMITED]: { code: ErrorCode.RATE_LIMITED, status: 429 },
  [ErrorCode.SERVICE_UNAVAILABLE]: { code: ErrorCode.SERVICE_UNAVAILABLE, status: 503 },
};

/**
 * A whole GraphQL response that is one top-level error, for answers given
 * before Apollo runs (authentication, the rate limit). `Retry-After` is the
 * caller's to set. An internal error names the request id, under which it is logged.
 */
export function topLevelErrorResponse(error: AppError, requestId?: string): { status: number; body: { errors: GraphQLFormattedError[] } } {
  const mapped = TOP_LEVEL_CODES[error.code] ?? { code: error.code, status: 500 };
  const extensions = {
    code: mapped.code,
    ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
    ...(error.code === ErrorCode.INTERNAL_ERROR && requestId ? { requestId } : {}),
  };
  return { status: mapped.status, body: { errors: [{ message: error.message, extensions }] } };
}

/**
 * Apollo's `formatError`: GraphQL's own errors (syntax, validation, bad
 * variables) pass through; service errors keep their message and stable code;
 * anything unexpected becomes INTERNAL_ERROR with a generic message (the
 * original is logged under the request id by the server).
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, raw: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(raw);
  if (original instanceof GraphQLError && formatted.extensions?.code !== 'INTERNAL_SERVER_ERROR') return formatted;
  const appError = toAppError(original);
  return {
    message: appError.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: TOP_LEVEL_CODES[appError.code]?.code ?? appError.code },
  };
}

/** True when an error reaching Apollo is a bug rather than an expected failure. */
export function isUnexpectedGraphQLError(error: GraphQLError): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof GraphQLError && error.extensions?.code !== 'INTERNAL_SERVER_ERROR') return false;
  return toAppError(original).code === ErrorCode.INTERNAL_ERROR;
}

/**
 * The HTTP status of a response with top-level errors: the status of the
 * first mapped code (503 for an unreachable database, 429 past the rate
 * limit), or undefined to keep Apollo's own.
 */
export function httpStatusForErrors(errors: readonly GraphQLFormattedError[] | undefined): number | undefined {
  for (const error of errors ?? []) {
    const code = error.extensions?.code;
    const mapped = Object.values(TOP_LEVEL_CODES).find((entry) => entry.code === code);
    if (mapped && mapped.status !== 200) return mapped.status;
  }
  return undefined;
}
