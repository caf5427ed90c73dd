/**
 * Idempotency keys (contract §6).
 *
 * How a keyed create is made exactly-once, across any number of processes:
 * 1. The request is validated first: a rejected request stores nothing.
 * 2. In the order's transaction, `pg_try_advisory_xact_lock` on the
 *    (workspace, key) pair claims the key. If another transaction holds it,
 *    that request is still running: IDEMPOTENCY_REQUEST_IN_PROGRESS, at once.
 * 3. Holding the claim, a stored row under the key is a finished request:
 *    replay it if the fingerprint matches, IDEMPOTENCY_KEY_REUSED if not.
 * 4. Otherwise the order and the key row are written and commit together. The
 *    key's primary key (workspace_id, key) is the last word: two creates can
 *    never both store one key.
 * The claim lives exactly as long as the transaction, so a request that
 * crashes or loses its connection leaves nothing behind. A request that hangs
 * inside its transaction is cut off by PostgreSQL's
 * `idle_in_transaction_session_timeout` (DB_IDLE_IN_TRANSACTION_TIMEOUT_MS),
 * after which the key can be taken over.
 */
import { containsExactNumber, isExactNumber } from '../shared/exact-json';
import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { AppError, ErrorCode } from '../errors/app-error';
import type { IdempotencyKeyRepository } from './idempotency-key.repository';
import type { Order } from './order.types';

/** 1–255 visible ASCII characters (contract §6). */
export const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function checkIdempotencyKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw AppError.validation([
      { path: ['idempotency_key'], message: 'must be 1 to 255 visible ASCII characters' },
    ]);
  }
}

/** SHA-256 of a canonical form: the same request always gives the same fingerprint, whatever its key order. */
export function fingerprint(value: unknown): string {
  const canonical = stringify(tagExactNumbers(value), (_key, entry: unknown) =>
    typeof entry === 'bigint' ? entry.toString() : entry,
  );
  return createHash('sha256')
    .update(canonical ?? '')
    .digest('hex');
}

/**
 * The fingerprint that versions before 2611ab1 stored for the same request, or
 * undefined when the request holds no exact number (then it is `fingerprint`'s).
 * Their body parser kept a number literal a double cannot hold as the string of
 * the literal (`1e21` as "1e21"), so the request is read that way here, as they
 * read it; without this, a create retried across the upgrade was
 * IDEMPOTENCY_KEY_REUSED. `claimKey` takes it only for a key stored before the
 * upgrade (`storedBeforeUpgrade`).
 */
export function legacyFingerprint(
  request: unknown,
  parse: (request: unknown) => unknown,
): string | undefined {
  if (!containsExactNumber(request)) return undefined;
  try {
    return fingerprint(parse(mapExactNumbers(request, (exact) => exact.toString())));
  } catch {
    return undefined; // a request those versions refused has no key of theirs to match
  }
}

/**
 * An `ExactNumber` would be written as its literal string, the same as the
 * string itself; tagged, the number 12345678901234567890 and the string
 * "12345678901234567890" are different requests. The tag's key holds NUL,
 * which no stored key can (see `findUnstorableText`).
 */
function tagExactNumbers(value: unknown): unknown {
  return mapExactNumbers(value, (exact) => ({ '\u0000exact': exact.toString() }));
}

function mapExactNumbers(value: unknown, map: (exact: { toString(): string }) => unknown): unknown {
  if (isExactNumber(value)) return map(value);
  if (Array.isArray(value)) return value.map((entry) => mapExactNumbers(entry, map));
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, mapExactNumbers(entry, map)]));
}

/** A signed 64-bit advisory-lock id for a workspace's key. */
export function idempotencyLockId(workspaceId: string, key: string): string {
  return createHash('sha256')
    .update(`idempotency\0${workspaceId}\0${key}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/**
 * The `Retry-After` of IDEMPOTENCY_REQUEST_IN_PROGRESS: the first request holds the key only while its
 * create runs (milliseconds, or until PostgreSQL ends a hung session), so a second later the retry
 * usually gets the replay.
 */
const IN_PROGRESS_RETRY_AFTER_SECONDS = 1;

export type Remembered = { kind: 'new' } | { kind: 'replay'; order: Order };

/**
 * Claims the key for this transaction and says whether the request is new or
 * a replay. Throws IN_PROGRESS or KEY_REUSED. `keys` must be bound to the
 * transaction that will create the order.
 */
export async function claimKey(
  keys: IdempotencyKeyRepository,
  workspaceId: string,
  key: string,
  requestFingerprint: string,
  /** `legacyFingerprint` of the request: a key an older version stored may carry it instead. */
  legacy?: string,
): Promise<Remembered> {
  if (!(await keys.tryLock(idempotencyLockId(workspaceId, key)))) {
    throw new AppError(
      ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS,
      'A request with this idempotency key is still being processed; retry after it finishes',
      [],
      IN_PROGRESS_RETRY_AFTER_SECONDS,
    );
  }
  const stored = await keys.findStored(workspaceId, key);
  if (!stored) return { kind: 'new' };
  if (!stored.live) {
    // Expired but not swept yet: the key is free again.
    await keys.forget(workspaceId, key);
    return { kind: 'new' };
  }
  if (stored.fingerprint !== requestFingerprint) {
    if (
      legacy !== undefined &&
      stored.fingerprint === legacy &&
      (await keys.storedBeforeUpgrade(workspaceId, key))
    )
      return { kind: 'replay', order: stored.order };
    throw new AppError(
      ErrorCode.IDEMPOTENCY_KEY_REUSED,
      'This idempotency key was already used for a different request; use a new key for a new order',
    );
  }
  return { kind: 'replay', order: stored.order };
}
