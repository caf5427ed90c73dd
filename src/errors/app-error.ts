/**
 * The one error type the service layer throws for expected failures.
 *
 * Each code is stable and public (see the API contract, §5). Errors say what
 * went wrong, never which transport they travel over: REST turns a code into
 * an HTTP status in `rest/error-handler.ts`, GraphQL turns it into
 * `userErrors` or `extensions.code` in `graphql/errors.ts`.
 */
export const ErrorCode = {
  INVALID_JSON: 'INVALID_JSON',
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  TOTAL_MISMATCH: 'TOTAL_MISMATCH',
  UNAUTHORIZED: 'UNAUTHORIZED',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  INVALID_STATUS_TRANSITION: 'INVALID_STATUS_TRANSITION',
  /** A condition of the request (`If-Match`) does not hold: nothing was changed. */
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_REQUEST_IN_PROGRESS: 'IDEMPOTENCY_REQUEST_IN_PROGRESS',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** Node's own refusals, before any route: the request took too long, or its headers are too large. */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HEADERS_TOO_LARGE: 'HEADERS_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A location in the request, e.g. `['items', 0, 'price']`. Names are the contract's (snake_case). */
export type FieldPath = readonly (string | number)[];

export interface FieldError {
  path: FieldPath;
  message: string;
}

export class AppError extends Error {
  override name = 'AppError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: readonly FieldError[] = [],
    /** Seconds a client should wait before retrying (RATE_LIMITED, SERVICE_UNAVAILABLE, IDEMPOTENCY_REQUEST_IN_PROGRESS). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  static validation(details: readonly FieldError[]): AppError {
    const first = details[0];
    const summary =
      details.length === 1 && first
        ? `${formatPath(first.path)} ${first.message}`
        : `${details.length} fields are invalid`;
    return new AppError(ErrorCode.VALIDATION_ERROR, `Invalid request: ${summary}`, details);
  }

  /**
   * A condition of an update (`If-Match`, `expectedVersion`) does not hold; `currentVersion` is the
   * order's version now, which REST sends back as its `ETag`.
   */
  static preconditionFailed(message: string, currentVersion: number): AppError {
    const error = new AppError(ErrorCode.PRECONDITION_FAILED, message);
    error.currentVersion = currentVersion;
    return error;
  }

  /** PRECONDITION_FAILED: the version of the object now. */
  currentVersion?: number;

  static notFound(what: string): AppError {
    return new AppError(ErrorCode.NOT_FOUND, `${what} not found`);
  }
}

/**
 * `['items', 0, 'price']` → `items[0].price`, the form the REST contract uses.
 * A name the caller sent (an unknown field, a metadata key) is shown with its
 * invisible controls escaped (`printable`), so a message stays safe to show.
 */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? printable(part) : `.${printable(part)}`;
  }
  return out;
}

/**
 * Control characters (C0, DEL, C1), line and paragraph separators and the
 * bidirectional embeddings, overrides and isolates: written as `\u001b`, so an
 * echoed name can neither drive a terminal nor reorder or break the text
 * around it where the message is shown.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function printable(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Runs one check; a validation error it throws is added to `errors` (and
 * `undefined` returned) so that several checks report every field at once.
 */
export function collectFieldErrors<T>(errors: FieldError[], check: () => T): T | undefined {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== ErrorCode.VALIDATION_ERROR) throw error;
    errors.push(...error.details);
    return undefined;
  }
}
