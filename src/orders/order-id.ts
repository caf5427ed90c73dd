/**
 * Order ids: `order_` + a ULID, sortable by creation time, with 80 random bits.
 *
 * The `ulid` package draws one `crypto.randomBytes(1)` per character by
 * default, 16 system calls an id; this draws from a pooled 4 KiB buffer of
 * the same cryptographic randomness instead. Each id is random on its own
 * (no monotonic increment), so the next id cannot be guessed from the last.
 */
import { AppError } from '../errors/app-error';
import { randomBytes } from 'node:crypto';
import { ulid } from 'ulid';

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/** A uniform float in [0, 1) from one random byte; ULID maps it to one of 32 characters without bias (256 = 8 × 32). */
function randomByteFraction(): number {
  if (offset === POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  return pool[offset++] / 256;
}

export function newOrderId(at: Date): string {
  return `order_${newUlid(at)}`;
}

/** A ULID for `at` from the pooled randomness (order ids, event ids). */
export function newUlid(at: Date): string {
  return ulid(at.getTime(), randomByteFraction);
}

/** `order_` + 26 characters of Crockford's base 32, upper case: the only ids `newOrderId` makes. */
const ORDER_ID = /^order_[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * True when `value` could be an order id. Anything else (a NUL byte, a lone
 * surrogate, another shape) names no order, so it is "not found" without a
 * query: PostgreSQL refuses some such text with a protocol error.
 */
export function isOrderId(value: string): boolean {
  return ORDER_ID.test(value);
}

/**
 * An id or number of the wrong shape names no order: NOT_FOUND before any
 * query, and without echoing text that may hold anything (NUL, markup).
 */
export function assertCouldExist(value: string, couldExist: (value: string) => boolean): void {
  if (!couldExist(value)) throw AppError.notFound('Order');
}
