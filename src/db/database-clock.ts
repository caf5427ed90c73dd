/**
 * The database's clock, as this process keeps it: the authority for every time the gateway
 * stores or sends that it does not stamp inside a statement (a new order's id, `created_at`,
 * the day its number counts in and its first status entry, an idempotency key's expiry, a
 * webhook's `webhook-timestamp` and the time of its attempt). Gateway processes whose own
 * clocks disagree (NTP not yet synced, a VM paused and resumed) then agree with each other and
 * with the stamps PostgreSQL writes (`updated_at`, leases, `clock_timestamp()`).
 *
 * `sync` reads `clock_timestamp()` a few times and keeps the reading with the shortest round
 * trip, taken to be the database's time at its middle; `now` is that reading plus the time
 * since on the monotonic clock (`performance.now()`), so a step of the process's wall clock
 * changes nothing, and a step of the database's is followed at the next sync. Until the first
 * sync (and on a process that cannot reach the database) it is the process's own clock.
 * On the embedded database the database's clock is this process's, so the two are one.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { queryOne } from './sql';

/** Readings per sync: the one with the shortest round trip is kept. */
const SAMPLES = 3;

export class DatabaseClock {
  /** The database's time (epoch ms) at `anchorMonotonic`. */
  private anchorMs = Date.now();
  private anchorMonotonic = performance.now();
  private timer?: NodeJS.Timeout;

  constructor(private readonly read: () => Promise<number>) {}

  /** Reads `clock_timestamp()` on `em`'s database. */
  static of(em: EntityManager): DatabaseClock {
    return new DatabaseClock(async () => {
      const row = await queryOne<{ now: string }>(em.fork(), `select (extract(epoch from clock_timestamp()) * 1000)::float8::text as now`);
      return Number(row?.now);
    });
  }

  /** Now, by the database's clock. */
  readonly now = (): Date => new Date(Math.round(this.anchorMs + (performance.now() - this.anchorMonotonic)));

  /** How far this process's wall clock is ahead of the database's, in milliseconds (negative: behind). */
  offsetMs(): number {
    return Date.now() - this.now().getTime();
  }

  /** Reads the database's clock again. Rejects when the database does not answer (the last reading stays). */
  async sync(): Promise<void> {
    let best: { roundTrip: number; at: number; monotonic: number } | undefined;
    for (let sample = 0; sample < SAMPLES; sample++) {
      const sent = performance.now();
      const at = await this.read();
      const received = performance.now();
      if (!Number.isFinite(at)) throw new Error('the database returned no time');
      const roundTrip = received - sent;
      if (!best || roundTrip < best.roundTrip) best = { roundTrip, at, monotonic: sent + roundTrip / 2 };
    }
    if (!best) return;
    this.anchorMs = best.at;
    this.anchorMonotonic = best.monotonic;
  }

  /**
   * Syncs every `intervalMs` until `stop`; `onError` hears a failed sync (the previous reading is
   * kept), `onSync` a successful one.
   */
  start(intervalMs: number, onError: (error: unknown) => void, onSync: () => void = () => undefined): void {
    if (this.timer) return;
    let running = false;
    this.timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sync()
        .then(onSync, onError)
        .finally(() => (running = false));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
