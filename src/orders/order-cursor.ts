/**
 * GraphQL's keyset pages: the page size, and opaque cursors. A cursor names
 * a row by its sort key (newest first, ties by id), so it stays valid while
 * rows are added.
 */
import { AppError } from '../errors/app-error';
import { LIST_LIMITS } from './order-filter';

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
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      !Number.isNaN(Date.parse(parsed[0])) &&
      typeof parsed[1] === 'string' &&
      parsed[1].length <= 64
    ) {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through
  }
  throw AppError.validation([{ path: [path], message: 'is not a cursor from this API' }]);
}
