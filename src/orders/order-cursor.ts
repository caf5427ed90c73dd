/**
 * GraphQL's keyset pages: the page size, and opaque cursors. A cursor names
 * a row by its sort key (newest first, ties by id), so it stays valid while
 * rows are added.
 */
import { AppError } from '../errors/app-error';
import { isRealDate, LIST_LIMITS } from './order-filter';
import { isOrderId } from './order-id';

export function checkPageSize(first: number | undefined, path: string): number {
  if (first === undefined) return LIST_LIMITS.defaultLimit;
  if (!Number.isInteger(first) || first < 1 || first > LIST_LIMITS.maxLimit) {
    throw AppError.validation([{ path: [path], message: `must be between 1 and ${LIST_LIMITS.maxLimit}` }]);
  }
  return first;
}

export interface Cursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCursor(value: string, path: string): Cursor {
  // A cursor of this API is about 100 characters; a longer one is refused unread.
  if (value.length <= 200) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
      if (
        Array.isArray(parsed) &&
        parsed.length === 2 &&
        isCursorInstant(parsed[0]) &&
        typeof parsed[1] === 'string' &&
        isOrderId(parsed[1])
      ) {
        return { createdAt: parsed[0], id: parsed[1] };
      }
    } catch {
      // fall through
    }
  }
  throw AppError.validation([{ path: [path], message: 'is not a cursor from this API' }]);
}

/**
 * Exactly what `encodeCursor` writes, `Date#toISOString()` of a stored
 * timestamp, and nothing PostgreSQL would refuse: `"1"` parses in
 * JavaScript (as the year 2001) but not as a timestamptz.
 */
export function isCursorInstant(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString() === value && isRealDate(value.slice(0, 10));
}
