/**
 * Records when each API key was last used, without a write on every request.
 *
 * A key's `last_used_at` is for people (which keys are still in use?), so
 * minute precision is plenty: each process writes it at most once per key per
 * interval, and the UPDATE's own condition skips the write when another
 * process has already done it. Writes are fire-and-forget: a failure is
 * logged and never fails the request that triggered it.
 */
import { InFlight } from '../shared/in-flight';

export interface UsageLogger {
  warn(details: object, message: string): void;
}

/** Sets `last_used_at = at` unless it is already at or after `notBefore`. */
export type UsageWriter = (keyId: string, at: Date, notBefore: Date) => Promise<void>;

export const KEY_USAGE_INTERVAL_MS = 60_000;
/** Above this many remembered keys, the ones not written within the interval are forgotten. */
const PRUNE_ABOVE = 10_000;

export class KeyUsageRecorder {
  private readonly lastWritten = new Map<string, number>();
  private readonly writes = new InFlight();

  constructor(
    private readonly write: UsageWriter,
    private readonly log: UsageLogger,
    private readonly intervalMs = KEY_USAGE_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Notes one use of a key. `storedLastUsedAt` is the value the lookup just
   * read, when there was a lookup; it saves a write right after a restart.
   */
  record(keyId: string, storedLastUsedAt?: Date | null): void {
    const now = this.now();
    const last = this.lastWritten.get(keyId) ?? storedLastUsedAt?.getTime();
    if (last !== undefined && now - last < this.intervalMs) {
      if (!this.lastWritten.has(keyId)) this.lastWritten.set(keyId, last);
      return;
    }
    this.lastWritten.set(keyId, now);
    if (this.lastWritten.size > PRUNE_ABOVE) this.prune(now);
    void this.writes.track(
      this.write(keyId, new Date(now), new Date(now - this.intervalMs)).catch((error: unknown) =>
        this.log.warn({ err: error, keyId }, 'could not record the use of an API key'),
      ),
    );
  }

  /** Waits for the writes already started (before the database closes). */
  async settle(): Promise<void> {
    await this.writes.settle();
  }

  private prune(now: number): void {
    for (const [keyId, at] of this.lastWritten) if (now - at >= this.intervalMs) this.lastWritten.delete(keyId);
  }
}
