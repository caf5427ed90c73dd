/** API key format and hashing. */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Recognisable by secret scanners: `ogk_` then 43 base64url characters (256 random bits). */
export const API_KEY_PREFIX = 'ogk_';
const API_KEY_PATTERN = /^ogk_[A-Za-z0-9_-]{43}$/;
/** How much of a key a listing shows. */
const DISPLAY_PREFIX_LENGTH = 12;

export interface GeneratedKey {
  secret: string;
  prefix: string;
  hash: string;
}

export function generateApiKey(): GeneratedKey {
  const secret = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { secret, prefix: secret.slice(0, DISPLAY_PREFIX_LENGTH), hash: hashApiKey(secret) };
}

/**
 * SHA-256 is enough for keys with 256 bits of randomness: there is nothing to
 * brute-force, so a slow password hash would only slow every request down.
 * A rate-limited request hashes its key twice (the limit's bucket, then
 * authentication), so this is Node's one-shot `hash`, without a `Hash` object.
 */
export function hashApiKey(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/**
 * Compares two hex SHA-256 hashes in constant time. The lookup by hash has
 * already found the row; comparing again without an early exit means no
 * timing difference depends on how much of a guessed hash matched.
 */
export function sameHash(expectedHex: string, actualHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'hex');
  const actual = Buffer.from(actualHex, 'hex');
  return expected.length === 32 && actual.length === 32 && timingSafeEqual(expected, actual);
}

export function looksLikeApiKey(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

/** The key from an `Authorization: Bearer <key>` header, or `undefined` when the header is missing or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** RFC 6750: a 401 names the scheme to authenticate with; both transports send it. */
export const WWW_AUTHENTICATE = 'Bearer realm="order-gateway"';
