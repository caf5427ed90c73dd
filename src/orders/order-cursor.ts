/**
 * Keyset pages on both transports: the page size, the sorts, and opaque
 * cursors. A cursor names a row by its sort key and id, and the sort it
 * belongs to, so it stays valid while rows are added.
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

/**
 * The list's two orders: newest first by creation (the default), and oldest
 * change first (`updated_at`, for syncing). Ties are broken by id either way.
 */
export const ORDER_SORTS = ['-created_at', 'updated_at'] as const;
export type OrderSort = (typeof ORDER_SORTS)[number];
export const DEFAULT_SORT: OrderSort = '-created_at';

/** A row's position in one sort: its sort key (`created_at` or `updated_at`) and id. */
export interface Cursor {
  sort: OrderSort;
  at: string;
  id: string;
}

/**
 * A cursor names the sort it belongs to. Cursors of the default sort keep the
 * form they had before there was a choice (`[created_at, id]`), so the ones
 * already handed out stay valid.
 */
export function encodeCursor(cursor: Cursor): string {
  const value = cursor.sort === DEFAULT_SORT ? [cursor.at, cursor.id] : [cursor.sort, cursor.at, cursor.id];
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The cursor of `row` in `sort`. */
export function cursorOf(row: { id: string; createdAt: Date; updatedAt: Date }, sort: OrderSort): Cursor {
  return { sort, at: (sort === 'updated_at' ? row.updatedAt : row.createdAt).toISOString(), id: row.id };
}

/**
 * Reads a cursor for a list in `sort`. One of another sort is refused: its
 * position means nothing in this order, and paging on from it would skip or
 * repeat rows.
 */
export function decodeCursor(value: string, path: string, sort: OrderSort = DEFAULT_SORT): Cursor {
  const cursor = readCursor(value);
  if (!cursor) throw AppError.validation([{ path: [path], message: 'is not a cursor from this API' }]);
  if (cursor.sort !== sort) {
    throw AppError.validation([
      {
        path: [path],
        message: `belongs to the sort ${cursor.sort}, not ${sort}; start again without a cursor`,
      },
    ]);
  }
  return cursor;
}

function readCursor(value: string): Cursor | undefined {
  // A cursor of this API is about 100 characters; a longer one is refused unread.
  if (value.length > 200) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const elements: unknown[] = parsed;
  // The default sort's cursors have two elements; the others name their sort first.
  const [sort, at, id] = elements.length === 2 ? [DEFAULT_SORT, ...elements] : elements;
  const named =
    elements.length === 3 && sort !== DEFAULT_SORT && (ORDER_SORTS as readonly unknown[]).includes(sort);
  if (elements.length !== 2 && !named) return undefined;
  if (!isCursorInstant(at) || typeof id !== 'string' || !isOrderId(id)) return undefined;
  return { sort: sort as OrderSort, at, id };
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
