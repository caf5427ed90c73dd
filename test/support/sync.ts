/**
 * A sync client as the README describes one, and a way to hold a real
 * gateway transaction open after it has stamped its change (PostgreSQL only).
 */
import { Client } from 'pg';
import type { TestClient } from './app';

export interface SyncedRow {
  id: string;
  status: string;
  tracking_number?: string;
  updated_at: string;
}

/**
 * Pages `sort=updated_at&updated_since=<position>` by `next_cursor` to the
 * end, keeping the latest state of every order, and moves its position to
 * the last `updated_at` it saw after each page (what a real client would
 * persist). `restart()` forgets everything but that position.
 */
export class SyncClient {
  readonly orders = new Map<string, SyncedRow>();
  position = '1970-01-01T00:00:00Z';
  pages = 0;
  rowsSeen = 0;
  /** Rows that were new or differed from what was stored (re-reads of the position's second are not). */
  changes = 0;
  private cursor: string | null = null;

  constructor(
    private readonly t: TestClient,
    private readonly authorization: string,
  ) {}

  /** One page; false once the last page has been read (the next call starts a new pass from the position). */
  async page(limit = 50): Promise<boolean> {
    const query = new URLSearchParams({ sort: 'updated_at', updated_since: this.position, limit: String(limit) });
    if (this.cursor) query.set('cursor', this.cursor);
    const res = await this.t.rest.get(`/api/orders?${query.toString()}`, { authorization: this.authorization });
    if (res.statusCode !== 200) throw new Error(`sync page: ${res.statusCode} ${res.body}`);
    const body = res.json<{ data: SyncedRow[]; pagination: { next_cursor: string | null } }>();
    this.pages += 1;
    for (const row of body.data) {
      this.rowsSeen += 1;
      const state = { id: row.id, status: row.status, tracking_number: row.tracking_number, updated_at: row.updated_at };
      if (JSON.stringify(this.orders.get(row.id)) !== JSON.stringify(state)) this.changes += 1;
      this.orders.set(row.id, state);
    }
    const last = body.data.at(-1);
    // Inclusive and to the second: the next pass re-reads that second, which is harmless.
    if (last) this.position = last.updated_at;
    this.cursor = body.pagination.next_cursor;
    return this.cursor !== null;
  }

  /**
   * Reads pages until the end of the list. A cursor that never reaches the end is a failure
   * that names it, not a loop that runs until the test's process runs out of memory.
   */
  async pass(limit = 50, maxPages = 2_000): Promise<void> {
    for (let pages = 1; await this.page(limit); pages++) {
      if (pages >= maxPages) throw new Error(`sync pass: no end after ${maxPages} pages; position ${this.position}, cursor ${this.cursor}`);
    }
  }

  /** A crash and a restart: only the persisted position survives (and what was already stored). */
  restart(): void {
    this.cursor = null;
  }
}

/** Every order of the workspace as the database holds it now, in the REST names the list uses. */
export async function finalState(t: TestClient, authorization: string): Promise<Map<string, SyncedRow>> {
  const rows = new Map<string, SyncedRow>();
  let offset = 0;
  for (;;) {
    const res = await t.rest.get(`/api/orders?limit=100&offset=${offset}`, { authorization });
    const page = res.json<{ data: SyncedRow[] }>().data;
    for (const row of page)
      rows.set(row.id, { id: row.id, status: row.status, tracking_number: row.tracking_number, updated_at: row.updated_at });
    if (page.length < 100) return rows;
    offset += 100;
  }
}

/**
 * Holds gateway writes open after they have stamped `updated_at`: a trigger
 * on `orders` waits, for a row whose notes start with `hold:`, on an advisory
 * lock that this helper's own connection takes first. The gateway's real
 * transaction then sits between its stamp and its commit for as long as the
 * test wants: the slow writer of issue 14, point 4.
 */
export class Holder {
  private constructor(private readonly client: Client) {}

  static async install(url: string): Promise<Holder> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query(`
      create or replace function og_test_hold() returns trigger language plpgsql as $$
      begin
        if new.notes like 'hold:%' then perform pg_advisory_xact_lock_shared(hashtext(new.notes)); end if;
        return new;
      end $$;
      create trigger og_test_hold after insert or update on orders for each row execute function og_test_hold();
    `);
    return new Holder(client);
  }

  /** Until `release(key)`, a gateway write that sets `notes: 'hold:<key>'` waits just before its commit. */
  async hold(key: string): Promise<void> {
    await this.client.query('select pg_advisory_lock(hashtext($1))', [`hold:${key}`]);
  }

  async release(key: string): Promise<void> {
    await this.client.query('select pg_advisory_unlock(hashtext($1))', [`hold:${key}`]);
  }

  /** How many gateway transactions are waiting on a hold now. */
  async waiting(): Promise<number> {
    const { rows } = await this.client.query<{ n: number }>(
      `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database =
         (select oid from pg_database where datname = current_database())`,
    );
    return rows[0]?.n ?? 0;
  }

  async close(): Promise<void> {
    await this.client.query('select pg_advisory_unlock_all()');
    await this.client.end();
  }
}
