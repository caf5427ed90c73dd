/**
 * The order list's filter (contract §3) and its validation. Every field is
 * in the contract's names; GraphQL's `OrderFilter` is mapped to them first.
 */
import Big from 'big.js';
import { AppError, type FieldError } from '../errors/app-error';
import type { OrderSort } from './order-cursor';
import { isOrderNumber } from './order-number';
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
  /** Only orders changed at or after this instant (an RFC 3339 date-time with a zone; inclusive). */
  updatedSince?: string;
  /** Exactly this order number (REST's lookup by number, `?order_number=`). */
  orderNumber?: string;
}

/**
 * `date`: a calendar day in the workspace's time zone (`to` includes the whole day).
 * `instant`: a timestamp with a zone. `local`: a timestamp without one, read in the workspace's time zone.
 *
 * `unit`: the last unit a timestamp is written in, when it has no fraction of a second. As `to`
 * it includes that whole second or minute, as a date includes its whole day: REST writes
 * times to the second, so an order's own `created_at` given back as `to` must include it.
 * A fraction is exact.
 */
export type TimeBound =
  { kind: 'date'; value: string } | { kind: 'instant' | 'local'; value: string; unit?: TimeUnit };
export type TimeUnit = 'minute' | 'second';

/** Also the lengths of the text parameters, which the OpenAPI document states (`rest/schemas.ts`). */
export const LIST_LIMITS = {
  defaultLimit: 50,
  maxLimit: 100,
  search: 200,
  customerId: 128,
  status: 32,
  /** from, to, updated_since */
  time: 64,
  orderNumber: 32,
} as const;

export const FILTER_KEYS = [
  'customer_id',
  'status',
  'from',
  'to',
  'min_total',
  'max_total',
  'search',
  'order_number',
  'updated_since',
] as const;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** A fraction of a second may have any number of digits, as in ISO 8601 and RFC 3339 (Go writes nine). */
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
/** The digits of a fraction PostgreSQL keeps: times are stored to the microsecond. */
const MICROSECOND_DIGITS = 6;
/**
 * A total to compare with: any plain non-negative decimal within the parameter's 32 characters,
 * compared exactly as `numeric`, also with more digits than an amount has (`0.30000000000000004`,
 * as a client's float printing writes 0.1 × 3).
 */
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const DECIMAL = /^\d+(\.\d+)?$/;
/**
 * A non-negative number as JSON (and the Cekat document's `number`) writes it, also with an
 * exponent (`1e2`, `2.5E+3`): what a client that types the bound as a number may send. It is read
 * exactly, as the plain decimal it spells (`100`, `2500`); an exponent has at most two digits, so the
 * plain decimal is never long to write out (and at most 32 characters are taken).
 */
// eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
const NUMBER_TEXT = /^\d+(\.\d+)?(e[+-]?\d{1,2})?$/i;
/** The longest `min_total` / `max_total`, as REST's query text and as a number's plain decimal. */
const TOTAL_BOUND_LENGTH = 32;

/** A finite number (or a number's text) as plain decimal text, without an exponent (`1e-7` → `0.0000001`); -0 is 0. */
function plainDecimal(value: number | string): string {
  return value === 0 ? '0' : new Big(value).toFixed();
}

/** Parses a filter given in the contract's names; unknown keys are errors. */
export function parseOrderFilter(input: Record<string, unknown>): OrderFilter {
  const errors: FieldError[] = [];
  for (const key of Object.keys(input)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key))
      errors.push({ path: [key], message: 'is not a known filter' });
  }
  const filter = readFilter(input, errors);
  if (errors.length > 0) throw AppError.validation(errors);
  return filter;
}

/** Reads the filter's keys of `query`, adding a field error for each bad value. Other keys are ignored. */
export function readFilter(query: Record<string, unknown>, errors: FieldError[]): OrderFilter {
  const filter: OrderFilter = {};
  const text = (key: string, max: number): string | undefined => {
    const value = query[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      errors.push({ path: [key], message: Array.isArray(value) ? 'must be given once' : 'must be a string' });
      return undefined;
    }
    // Counted in characters (code points), as create counts them and the OpenAPI document's
    // maxLength says: a customer id of 100 emoji is 200 UTF-16 units, and create took it.
    const unstorable = value.includes('\u0000') || !value.isWellFormed();
    if (value.length === 0 || unstorable || characterCount(value, max) > max) {
      errors.push({ path: [key], message: `must be 1 to ${max} characters` });
      return undefined;
    }
    return value;
  };

  filter.customerId = text('customer_id', LIST_LIMITS.customerId);
  // An empty `?status=` (a form's empty select, a tool's unticked value) is told the statuses there
  // are, not "1 to 32 characters".
  const status = query.status === '' ? '' : text('status', LIST_LIMITS.status);
  if (status !== undefined) {
    if ((ORDER_STATUSES as readonly string[]).includes(status)) filter.status = status as OrderStatus;
    else errors.push({ path: ['status'], message: `must be one of ${ORDER_STATUSES.join(', ')}` });
  }
  for (const key of ['from', 'to'] as const) {
    const value = text(key, LIST_LIMITS.time);
    if (value === undefined) continue;
    const bound = readTimeBound(value, key === 'from' ? 'start' : 'end');
    if (bound) filter[key] = bound;
    else errors.push({ path: [key], message: 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time' });
  }
  const updatedSince = text('updated_since', LIST_LIMITS.time);
  if (updatedSince !== undefined) {
    // The same rules as from/to, but only an instant: a sync position has no time zone of its own.
    const bound = readTimeBound(updatedSince, 'start');
    if (bound?.kind === 'instant') filter.updatedSince = bound.value;
    else
      errors.push({
        path: ['updated_since'],
        message: 'must be an RFC 3339 date-time with a zone, such as 2026-12-01T16:30:00Z',
      });
  }
  for (const [key, field] of [
    ['min_total', 'minTotal'],
    ['max_total', 'maxTotal'],
  ] as const) {
    const raw = query[key];
    // A number (GraphQL's Decimal given as one) is the decimal it spells, as is a number's text
    // with an exponent (REST's `1e-7`, `1.0E7`): both are compared as plain decimals.
    const given =
      typeof raw === 'number' && Number.isFinite(raw) ? plainDecimal(raw) : text(key, TOTAL_BOUND_LENGTH);
    if (given === undefined) continue;
    const value = NUMBER_TEXT.test(given) && !DECIMAL.test(given) ? plainDecimal(given) : given;
    if (value.length > TOTAL_BOUND_LENGTH)
      errors.push({
        path: [key],
        message: `must be at most ${TOTAL_BOUND_LENGTH} characters written as a decimal`,
      });
    else if (DECIMAL.test(value)) filter[field] = value;
    else errors.push({ path: [key], message: 'must be a non-negative decimal number such as 100.50' });
  }
  filter.search = text('search', LIST_LIMITS.search);
  const orderNumber = text('order_number', LIST_LIMITS.orderNumber);
  if (orderNumber !== undefined) {
    // Not echoed: a lookup value may hold anything. A well-formed number that is not there is an empty list.
    if (isOrderNumber(orderNumber)) filter.orderNumber = orderNumber;
    else
      errors.push({ path: ['order_number'], message: 'must be an order number such as ORD-2025-0327-001' });
  }
  for (const key of Object.keys(filter) as (keyof OrderFilter)[])
    if (filter[key] === undefined) delete filter[key];
  return filter;
}

/**
 * `side`: whether the bound is a lower one (`from`, `updated_since`: at or after) or an upper
 * one (`to`: at or before). A fraction finer than the microseconds PostgreSQL keeps (and would
 * round to the nearest) is cut to them for an upper bound and rounded up for a lower one, so
 * that no stored time on the wrong side of the bound as written is let in.
 */
function readTimeBound(value: string, side: 'start' | 'end'): TimeBound | undefined {
  if (DATE.test(value)) return isRealDate(value) ? { kind: 'date', value } : undefined;
  const match = DATE_TIME.exec(value);
  if (!match || !isRealDate(match[1]) || !isClockTime(match[2])) return undefined;
  const zone = match[3];
  const unit = unitOf(match[2]);
  const written = unit ? { unit } : {};
  const [day, time] = toMicroseconds(match[1], match[2], side);
  if (zone)
    return isPostgresOffset(zone) && !Number.isNaN(Date.parse(`${day}T${time}${zone}`))
      ? { kind: 'instant', value: `${day}T${time}${zone}`, ...written }
      : undefined;
  return { kind: 'local', value: `${day}T${time}`, ...written };
}

/** `day` and `time` with at most six fraction digits: the extra ones dropped (`end`), or rounded up (`start`). */
function toMicroseconds(day: string, time: string, side: 'start' | 'end'): [string, string] {
  const point = time.indexOf('.');
  if (point < 0 || time.length - point - 1 <= MICROSECOND_DIGITS) return [day, time];
  const kept = time.slice(0, point + 1 + MICROSECOND_DIGITS);
  if (side === 'end' || /^0*$/.test(time.slice(point + 1 + MICROSECOND_DIGITS))) return [day, kept];
  // One microsecond later, counted on the wall clock (the zone, if any, is the same on both).
  const [hours, minutes, seconds] = kept.split(':').map(Number) as [number, number, number];
  const start = new Date(0);
  start.setUTCFullYear(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)));
  start.setUTCHours(hours, minutes, Math.trunc(seconds));
  const micros = BigInt(start.getTime()) * 1000n + BigInt(kept.slice(point + 1)) + 1n;
  // Floored, not truncated: before 1970 the count is negative.
  const sub = ((micros % 1000n) + 1000n) % 1000n;
  const next = new Date(Number((micros - sub) / 1000n));
  // Past 9999-12-31T23:59:59.999999 there is no year PostgreSQL reads in this form, and no order.
  if (next.getUTCFullYear() > 9999) return [day, kept];
  const pad = (n: number | bigint, width = 2) => String(n).padStart(width, '0');
  return [
    `${pad(next.getUTCFullYear(), 4)}-${pad(next.getUTCMonth() + 1)}-${pad(next.getUTCDate())}`,
    `${pad(next.getUTCHours())}:${pad(next.getUTCMinutes())}:${pad(next.getUTCSeconds())}.` +
      `${pad(next.getUTCMilliseconds(), 3)}${pad(sub, 3)}`,
  ];
}

/** `HH:MM` is to the minute, `HH:MM:SS` to the second; with a fraction there is no whole unit to take. */
function unitOf(time: string): TimeUnit | undefined {
  if (time.includes('.')) return undefined;
  return time.length === 5 ? 'minute' : 'second';
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
  // eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored, and each optional group starts with a character the part before it cannot match
  const match = /^[+-](\d{2}):?(\d{2})?$/.exec(zone);
  return match !== null && Number(match[1]) <= 15 && Number(match[2] ?? '0') <= 59;
}

/**
 * A list read for syncing (in `updated_at` order, or since an `updated_at`)
 * stops at the sync horizon, so that no change can later appear behind a
 * position the client has already passed. See `OrderRepository.syncHorizon`.
 */
export function needsSyncHorizon(filter: OrderFilter, sort: OrderSort): boolean {
  return sort === 'updated_at' || filter.updatedSince !== undefined;
}

/** The number of code points in `text`, counted no further than `max + 1`. */
function characterCount(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let count = 0;
  for (const _ of text) if (++count > max) break;
  return count;
}

/**
 * The forms of a `search` text that the list looks for: as typed, composed
 * (NFC) and decomposed (NFD). Notes are stored as sent, and "Zoë" typed on one
 * system is `o` + `ë` (NFC) and on another `o` + `e` + U+0308 (NFD); the same
 * name must find the same orders whichever way either was written.
 */
export function searchForms(search: string): string[] {
  return [...new Set([search, search.normalize('NFC'), search.normalize('NFD')])];
}
