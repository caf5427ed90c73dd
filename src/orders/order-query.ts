/**
 * Listing orders: the filter (contract §3), its validation, the SQL it
 * becomes, and opaque keyset cursors for GraphQL.
 *
 * Every list is one workspace's, newest first, ties broken by id; the index
 * `orders (workspace_id, created_at desc, id desc)` serves that order, and
 * each filter has an index of its own (see the migrations).
 */
import type { Knex } from '@mikro-orm/postgresql';
import { AppError, type FieldError } from '../errors/app-error';
import { isOrderId } from './order-id';
import { ORDER_STATUSES, type OrderStatus } from './order.types';

export interface OrderFilter {
  customerId?: string;
  status?: OrderStatus;
  from?: TimeBound;
  to?: TimeBound;
  /** Exact decimal strings, compared as numeric in SQL. */
  minTotal?: string;
  maxTotal?: string;
  search?: string;
}

/**
 * `date`: a calendar day in the workspace's time zone (`to` includes the whole day).
 * `instant`: a timestamp with a zone. `local`: a timestamp without one, read in the workspace's time zone.
 */
export type TimeBound = { kind: 'date' | 'instant' | 'local'; value: string };

export const LIST_LIMITS = { defaultLimit: 50, maxLimit: 100, search: 200 } as const;

export interface OffsetPage {
  limit: number;
  offset: number;
}

const FILTER_KEYS = ['customer_id', 'status', 'from', 'to', 'min_total', 'max_total', 'search'] as const;
const PAGE_KEYS = ['limit', 'offset'] as const;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
/** A total to compare with: up to 15 integer digits and the 4 fraction digits an amount can have. */
const DECIMAL = /^\d{1,15}(\.\d{1,4})?$/;
const INTEGER = /^\d{1,9}$/;

/** Parses the REST list query: the filter plus `limit` and `offset`. Unknown parameters are errors. */
export function parseListQuery(query: Record<string, unknown>): { filter: OrderFilter; page: OffsetPage } {
  const errors: FieldError[] = [];
  for (const key of Object.keys(query)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key) && !(PAGE_KEYS as readonly string[]).includes(key)) {
      errors.push({ path: [key], message: 'is not a known parameter' });
    }
  }
  const filter = readFilter(query, errors);
  const limit = readInteger(query.limit, 'limit', LIST_LIMITS.defaultLimit, 1, LIST_LIMITS.maxLimit, errors);
  const offset = readInteger(query.offset, 'offset', 0, 0, 1_000_000_000, errors);
  if (errors.length > 0) throw AppError.validation(errors);
  return { filter, page: { limit, offset } };
}

/** Parses a filter given in the contract's names (GraphQL's `OrderFilter` is mapped to them). */
export function parseOrderFilter(input: Record<string, unknown>): OrderFilter {
  const errors: FieldError[] = [];
  for (const key of Object.keys(input)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key)) errors.push({ path: [key], message: 'is not a known filter' });
  }
  const filter = readFilter(input, errors);
  if (errors.length > 0) throw AppError.validation(errors);
  return filter;
}

export function checkPageSize(first: number | undefined, path: string): number {
  if (first === undefined) return LIST_LIMITS.defaultLimit;
  if (!Number.isInteger(first) || first < 1 || first > LIST_LIMITS.maxLimit) {
    throw AppError.validation([{ path: [path], message: `must be between 1 and ${LIST_LIMITS.maxLimit}` }]);
  }
  return first;
}

function readFilter(query: Record<string, unknown>, errors: FieldError[]): OrderFilter {
  const filter: OrderFilter = {};
  const text = (key: string, max: number): string | undefined => {
    const value = query[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      errors.push({ path: [key], message: Array.isArray(value) ? 'must be given once' : 'must be a string' });
      return undefined;
    }
    if (value.length === 0 || value.length > max || value.includes('\u0000') || !value.isWellFormed()) {
      errors.push({ path: [key], message: `must be 1 to ${max} characters` });
      return undefined;
    }
    return value;
  };

  filter.customerId = text('customer_id', 128);
  const status = text('status', 32);
  if (status !== undefined) {
    if ((ORDER_STATUSES as readonly string[]).includes(status)) filter.status = status as OrderStatus;
    else errors.push({ path: ['status'], message: `must be one of ${ORDER_STATUSES.join(', ')}` });
  }
  for (const key of ['from', 'to'] as const) {
    const value = text(key, 64);
    if (value === undefined) continue;
    const bound = readTimeBound(value);
    if (bound) filter[key] = bound;
    else errors.push({ path: [key], message: 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time' });
  }
  for (const [key, field] of [
    ['min_total', 'minTotal'],
    ['max_total', 'maxTotal'],
  ] as const) {
    const raw = query[key];
    const value = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : text(key, 32);
    if (value === undefined) continue;
    if (DECIMAL.test(value)) filter[field] = value;
    else errors.push({ path: [key], message: 'must be a non-negative decimal number such as 100.50' });
  }
  filter.search = text('search', LIST_LIMITS.search);
  for (const key of Object.keys(filter) as (keyof OrderFilter)[]) if (filter[key] === undefined) delete filter[key];
  return filter;
}

function readTimeBound(value: string): TimeBound | undefined {
  if (DATE.test(value)) return isRealDate(value) ? { kind: 'date', value } : undefined;
  const match = DATE_TIME.exec(value);
  if (!match || !isRealDate(match[1] as string) || !isClockTime(match[2] as string)) return undefined;
  const zone = match[3];
  if (zone) return isPostgresOffset(zone) && !Number.isNaN(Date.parse(value)) ? { kind: 'instant', value } : undefined;
  return { kind: 'local', value: `${match[1]}T${match[2]}` };
}

/**
 * A calendar day from 0001-01-01 to 9999-12-31. JavaScript also takes year
 * 0000, which PostgreSQL refuses (there was no year 0).
 */
export function isRealDate(day: string): boolean {
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(day) && !day.startsWith('0000');
}

/** `HH:MM[:SS[.ffffff]]` from 00:00 to 23:59:59.999999 (PostgreSQL would roll 24:00 and :60 over; JavaScript refuses :60). */
export function isClockTime(time: string): boolean {
  const [hours, minutes, seconds = '0'] = time.split(':');
  return Number(hours) <= 23 && Number(minutes) <= 59 && Number(seconds) < 60;
}

/** `Z`, `±HH`, `±HHMM` or `±HH:MM` within ±15:59, the widest offset PostgreSQL takes (JavaScript takes ±23:59). */
export function isPostgresOffset(zone: string): boolean {
  if (/^z$/i.test(zone)) return true;
  const match = /^[+-](\d{2}):?(\d{2})?$/.exec(zone);
  return match !== null && Number(match[1]) <= 15 && Number(match[2] ?? '0') <= 59;
}

function readInteger(raw: unknown, key: string, fallback: number, min: number, max: number, errors: FieldError[]): number {
  if (raw === undefined) return fallback;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && INTEGER.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    errors.push({ path: [key], message: `must be a whole number from ${min} to ${max}` });
    return fallback;
  }
  return value;
}

/** Adds the workspace scope and every filter to a query on `orders as o`. */
export function applyOrderFilter(qb: Knex.QueryBuilder, workspaceId: string, timeZone: string, filter: OrderFilter): Knex.QueryBuilder {
  qb.where('o.workspace_id', workspaceId);
  if (filter.customerId !== undefined) qb.andWhere('o.customer_id', filter.customerId);
  if (filter.status !== undefined) qb.andWhere('o.status', filter.status);
  if (filter.from) qb.andWhereRaw(`o.created_at >= ${boundSql(filter.from, 'start')}`, boundParams(filter.from, timeZone));
  if (filter.to) {
    const op = filter.to.kind === 'date' ? '<' : '<=';
    qb.andWhereRaw(`o.created_at ${op} ${boundSql(filter.to, 'end')}`, boundParams(filter.to, timeZone));
  }
  if (filter.minTotal !== undefined) qb.andWhereRaw('o.total >= ?::numeric', [filter.minTotal]);
  if (filter.maxTotal !== undefined) qb.andWhereRaw('o.total <= ?::numeric', [filter.maxTotal]);
  if (filter.search !== undefined) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    qb.andWhere((inner) => {
      void inner.whereRaw(`o.order_number ilike ? escape '\\'`, [pattern]).orWhereRaw(`o.notes ilike ? escape '\\'`, [pattern]);
    });
  }
  return qb;
}

function boundSql(bound: TimeBound, side: 'start' | 'end'): string {
  switch (bound.kind) {
    case 'instant':
      return '?::timestamptz';
    case 'local':
      return '(?::timestamp at time zone ?)';
    case 'date':
      // A day runs from its local midnight to the next one; `to` includes the whole day.
      return side === 'start' ? '(?::date::timestamp at time zone ?)' : '((?::date + 1)::timestamp at time zone ?)';
  }
}

function boundParams(bound: TimeBound, timeZone: string): string[] {
  return bound.kind === 'instant' ? [bound.value] : [bound.value, timeZone];
}

/** Newest first, ties by id: the order of the list index. */
export function orderNewestFirst(qb: Knex.QueryBuilder): Knex.QueryBuilder {
  return qb.orderBy([
    { column: 'o.created_at', order: 'desc' },
    { column: 'o.id', order: 'desc' },
  ]);
}

/** A cursor names a row by its sort key. It is opaque to clients, and stays valid while rows are added. */
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
      if (Array.isArray(parsed) && parsed.length === 2 && isCursorInstant(parsed[0]) && typeof parsed[1] === 'string' && isOrderId(parsed[1])) {
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

/** Rows strictly after the cursor, in newest-first order. */
export function afterCursor(qb: Knex.QueryBuilder, cursor: Cursor): Knex.QueryBuilder {
  return qb.andWhereRaw('(o.created_at, o.id) < (?::timestamptz, ?)', [cursor.createdAt, cursor.id]);
}
