/**
 * The REST list's query string: the filter plus `limit` and `offset`.
 * Unknown parameters are errors, so a misspelt filter is never ignored.
 */
import { AppError, type FieldError } from '../errors/app-error';
import { FILTER_KEYS, LIST_LIMITS, type OrderFilter, readFilter } from './order-filter';

export interface OffsetPage {
  limit: number;
  offset: number;
}

const PAGE_KEYS = ['limit', 'offset'] as const;
const INTEGER = /^\d{1,9}$/;

export function parseListQuery(query: Record<string, unknown>): { filter: OrderFilter; page: OffsetPage } {
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
  const limit = readInteger(query.limit, 'limit', LIST_LIMITS.defaultLimit, 1, LIST_LIMITS.maxLimit, errors);
  const offset = readInteger(query.offset, 'offset', 0, 0, 1_000_000_000, errors);
  if (errors.length > 0) throw AppError.validation(errors);
  return { filter, page: { limit, offset } };
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
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && INTEGER.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    errors.push({ path: [key], message: `must be a whole number from ${min} to ${max}` });
    return fallback;
  }
  return value;
}
