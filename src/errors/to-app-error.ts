import { AppError, ErrorCode } from './app-error';

const DATABASE_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True for failures that mean "the database cannot be reached right now",
 * as opposed to a bug: refused or dropped connections, a full pool, and
 * PostgreSQL's own connection-class (08xxx) and shutdown (57P0x) errors.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const candidate = current as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    const code = typeof candidate.code === 'string' ? candidate.code : '';
    if (DATABASE_DOWN_CODES.has(code) || code.startsWith('08') || /^57P0[1-3]$/.test(code)) return true;
    if (candidate.name === 'KnexTimeoutError') return true;
    if (typeof candidate.message === 'string' && /Connection terminated|timeout exceeded when trying to connect/i.test(candidate.message)) {
      return true;
    }
    current = candidate.cause;
  }
  return false;
}

/** Any thrown value as an `AppError`: typed errors pass through, everything else is a 503 or a 500. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) {
    return new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; retry shortly', [], 2);
  }
  return new AppError(ErrorCode.INTERNAL_ERROR, 'Internal server error');
}
