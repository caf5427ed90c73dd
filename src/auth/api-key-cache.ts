/**
 * A short-lived, in-process cache of successful API key lookups.
 *
 * Most requests come from a few busy keys, so caching a lookup for a moment
 * takes the authentication query off nearly every request. The TTL is what
 * bounds revocation: a key revoked by another process (or the CLI) stops
 * working here once its entry expires, so the TTL is capped at one second.
 * An entry's TTL counts from when its lookup was sent, not from when the
 * answer arrived, so a slow answer read before a revocation is not kept
 * longer than the TTL after it.
 * A revocation made through this process's own AuthService removes the entry
 * at once.
 */
import type { RequestContext } from '../orders/order.types';

/** Revocation must take effect within a second on every process. */
export const MAX_API_KEY_CACHE_TTL_MS = 1000;

export interface CachedApiKey {
  keyId: string;
  context: RequestContext;
}

interface Entry extends CachedApiKey {
  expiresAt: number;
}

export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    /** Bounds memory whatever the number of keys; the oldest entry goes first. */
    private readonly maxEntries = 10_000,
    /**
     * The cache's clock, in ms; `set` takes its reading from before the lookup. The monotonic
     * clock: a step of the wall clock (NTP, a VM resumed) must not keep a revoked key's entry
     * alive (a step 5 minutes back kept it for 5 minutes).
     */
    readonly now: () => number = () => performance.now(),
  ) {
    if (ttlMs < 0 || ttlMs > MAX_API_KEY_CACHE_TTL_MS) {
      throw new RangeError(`The API key cache TTL must be between 0 and ${MAX_API_KEY_CACHE_TTL_MS} ms, got ${ttlMs}`);
    }
  }

  /** The cached lookup for a key hash, or undefined when there is none or it has expired. */
  get(hash: string): CachedApiKey | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry;
  }

  /**
   * Caches a lookup until `TTL` after `askedAt`, the cache's `now()` read before the lookup was
   * sent: its answer may predate a revocation that commits while it travels back, and the TTL is
   * what bounds how long that revocation goes unseen.
   */
  set(hash: string, value: CachedApiKey, askedAt: number = this.now()): void {
    const expiresAt = askedAt + this.ttlMs;
    if (this.ttlMs === 0 || expiresAt <= this.now()) return;
    this.entries.delete(hash); // re-inserting moves it to the young end
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(hash, { ...value, expiresAt });
  }

  /** Drops every entry of a key, by its id (used on revocation). */
  deleteKey(keyId: string): void {
    for (const [hash, entry] of this.entries) if (entry.keyId === keyId) this.entries.delete(hash);
  }

  get size(): number {
    return this.entries.size;
  }
}
