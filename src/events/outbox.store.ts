/**
 * The relay's SQL on the outbox (`order_events`), and nothing else.
 *
 * A relay claims a batch of events with a lease (`claimed_until`) in one
 * short statement (`FOR UPDATE SKIP LOCKED`, so relays in several processes
 * never claim the same row), publishes them with no transaction open, then
 * marks them. Holding no lock while publishing matters on the embedded
 * database, whose single connection would otherwise wait for the broker; a
 * relay that dies mid-publish leaves its lease to expire, and another one
 * publishes the event again (the broker drops the repeat by its id).
 *
 * A relay claims orders by their head (the lowest pending position, locked
 * with SKIP LOCKED and leased), together with the rest of each such order's
 * pending events: another relay can take an order only through its head, so
 * the whole chain is this relay's, and it publishes the chain in order.
 */
import { parseExactJson } from '../shared/exact-json';
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, queryAll, queryOne } from '../db/sql';
import type { StoredEvent } from './order-events';

/** A claimed event, with how often publishing it failed before. */
export type ClaimedEvent = StoredEvent & { attempts: number };

const CLAIM = `
with heads as (
  select e.position, e.order_id from order_events e
  where e.published_at is null
    and (e.claimed_until is null or e.claimed_until < clock_timestamp())
    and not exists (
      select 1 from order_events p
      where p.order_id = e.order_id and p.published_at is null and p.position < e.position)
  order by e.position
  limit ?
  for update skip locked
), chains as (
  select e.position from order_events e join heads h on h.order_id = e.order_id
  where e.published_at is null
)
update order_events e set claimed_until = clock_timestamp() + ? * interval '1 millisecond'
from chains c
where e.position = c.position
returning e.position::text as position, e.id, e.workspace_id as "workspaceId", e.order_id as "orderId", e.type,
          e.sequence, e.time, e.data::text as data, e.attempts`;

/**
 * Is anything pending? An ordered index scan of the pending index, so cheap
 * and so chosen by the planner. It matters beyond the answer: each published
 * event leaves a dead entry in the pending indexes until VACUUM, and only a
 * plain index scan marks such entries dead for every later scan to skip. The
 * claim's bitmap scan cannot, and without this probe went through tens of
 * thousands of dead entries on every round (15 ms per claim after 30,000
 * creates), which is where most of the events' cost on creates went.
 */
const ANY_PENDING = `select e.claimed_until from order_events e where e.published_at is null order by e.position limit 1`;

export class OutboxStore {
  constructor(private readonly em: EntityManager) {}

  /** The pending events of up to `limit` orders (the oldest heads first), leased for `leaseMs`, in position order. */
  async claim(limit: number, leaseMs: number): Promise<ClaimedEvent[]> {
    const em = this.em.fork();
    if ((await queryAll(em, ANY_PENDING)).length === 0) return [];
    // `data` as text, parsed here: an order's metadata keeps its exact numbers (shared/exact-json.ts).
    const rows = (await queryAll<ClaimedEvent & { data: string }>(em, CLAIM, [limit, leaseMs])).map(
      (row): ClaimedEvent => ({ ...row, data: parseExactJson(row.data) as object }),
    );
    return rows.sort((a, b) => (BigInt(a.position) < BigInt(b.position) ? -1 : 1));
  }

  /**
   * Marks events published and, in the same statement, makes their webhook
   * deliveries (one per enabled endpoint of the workspace that takes the
   * type), so deliveries run from the outbox. Returns how many it made.
   */
  async markPublished(positions: readonly string[]): Promise<number> {
    if (positions.length === 0) return 0;
    const rows = await queryAll(
      this.em.fork(),
      `with marked as (
         update order_events set published_at = clock_timestamp(), claimed_until = null
         where position in (${positions.map(() => '?').join(', ')})
         returning id, workspace_id, type
       )
       insert into webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
       select 'whdl_' || replace(gen_random_uuid()::text, '-', ''), w.id, m.id, 'pending', 0, clock_timestamp(), clock_timestamp()
       from marked m
       join webhook_endpoints w on w.workspace_id = m.workspace_id and w.enabled
         and (w.events is null or jsonb_exists(w.events, m.type))
       on conflict (endpoint_id, event_id) do nothing
       returning 1 as made`,
      positions,
    );
    return rows.length;
  }

  /** Gives a claimed event back after a failed publish; no relay takes it before `retryInMs`. */
  async release(position: string, error: string, retryInMs: number): Promise<void> {
    await execute(
      this.em.fork(),
      `update order_events set claimed_until = clock_timestamp() + ? * interval '1 millisecond', attempts = attempts + 1, last_error = ?
       where position = ?`,
      [retryInMs, error.slice(0, 1000), position],
    );
  }

  /** Events not yet published. */
  async backlog(): Promise<number> {
    const row = await queryOne<{ n: number }>(
      this.em.fork(),
      'select count(*)::int as n from order_events where published_at is null',
    );
    return row?.n ?? 0;
  }
}
