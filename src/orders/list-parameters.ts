/**
 * The REST list's query string: the filter, the sort, and a page by `limit`
 * with `offset` (older callers) or `cursor` (keyset, as GraphQL's).
 * Unknown parameters are errors, so a misspelt filter is never ignored.
 */
import { AppError, collectFieldErrors, type FieldError } from '../errors/app-error';
import { type Cursor, decodeCursor, DEFAULT_SORT, ORDER_SORTS, type OrderSort } from './order-cursor';
import { FILTER_KEYS, LIST_LIMITS, type OrderFilter, readFilter } from './order-filter';

export interface ListPage {
  limit: number;
  /** Rows skipped before the page; 0 when a cursor is given. */
  offset: number;
  /** The page starts after this row. */
  after?: Cursor;
}

const PAGE_KEYS = ['limit', 'offset', 'cursor', 'sort'] as const;
/** Up to ten digits: offset's maximum, 1000000000, has ten (the range is checked after). */
const INTEGER = /^\d{1,10}$/;

export function parseListQuery(query: Record<string, unknown>): {
  filter: OrderFilter;
  sort: OrderSort;
  page: ListPage;
} {
  const errors: FieldError[] = [];
  for (const key of Object.keys(query)) {
    if (
      !(FILTER_KEYS as readonly string[]).includes(key) &&
      !(PAGE_KEYS as readonly string[]).includes(key)
    ) {
      errors.push({ path: [key], message: 'is not a known parameter' });
    }
  }
  const filter = readFilter(query, errors);
  const sort = readSort(query.sort, errors);
  const limit = readInteger(query.limit, 'limit', LIST_LIMITS.defaultLimit, 1, LIST_LIMITS.maxLimit, errors);
  const offset = readInteger(query.offset, 'offset', 0, 0, 1_000_000_000, errors);
  const page: ListPage = { limit, offset };
  if (query.cursor !== undefined && query.cursor !== '') {
    if (typeof query.cursor !== 'string') errors.push({ path: ['cursor'], message: 'must be given once' });
    else if (query.offset !== undefined)
      errors.push({ path: ['offset'], message: 'cannot be combined with cursor: page by one or the other' });
    // A cursor of another sort is refused here, naming `cursor`.
    else if (sort !== undefined)
      page.after = collectFieldErrors(errors, () => decodeCursor(query.cursor as string, 'cursor', sort));
  }
  if (errors.length > 0 || sort === undefined) throw AppError.validation(errors);
  return { filter, sort, page };
}

function readSort(raw: unknown, errors: FieldError[]): OrderSort | undefined {
  if (raw === undefined) return DEFAULT_SORT;
  if (typeof raw === 'string' && (ORDER_SORTS as readonly string[]).includes(raw)) return raw as OrderSort;
  errors.push({
    path: ['sort'],
    message: Array.isArray(raw) ? 'must be given once' : `must be one of ${ORDER_SORTS.join(', ')}`,
  });
  return undefined;
}

function readInteger(
  raw: unknown,
  key: string,
  fallback: number,
  min: number,
  max: number,
  errors: FieldError[],
): number {
  if (raw === undefined) return fallback;
  if (Array.isArray(raw)) {
    errors.push({ path: [key], message: 'must be given once' });
    return fallback;
  }
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && INTEGER.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    errors.push({ path: [key], message: `must be a whole number from ${min} to ${max}` });
    return fallback;
  }
  return value;
}
