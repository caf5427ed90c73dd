/**
 * The relay's SQL on the outbox, and nothing else: events are read from the
 * log (`order_events`), work from the queue (`order_event_queue`, one narrow
 * row per event still to publish; see `order-event.entity.ts`).
 *
 * A relay claims a batch of queued events with a lease (`claimed_until`) in
 * one short statement (`FOR UPDATE SKIP LOCKED`, so relays in several
 * processes never claim the same row), publishes them with no transaction
 * open, then deletes their queue rows. Holding no lock while publishing
 * matters on the embedded database, whose single connection would otherwise
 * wait for the broker; a relay that dies mid-publish leaves its lease to
 * expire, and another one publishes the event again (the broker drops the
 * repeat by its id).
 *
 * A relay claims orders by their head (the lowest queued position, locked
 * with SKIP LOCKED and leased), together with the rest of each such order's
 * queued events: another relay can take an order only through its head, so
 * the whole chain is this relay's, and it publishes the chain in order.
 *
 * All of these run many times a second, so they are named prepared
 * statements (see `queryPrepared`), each with a text that never changes.
 */
import { parseExactJson } from '../shared/exact-json';
import type { EntityManager } from '@mikro-orm/postgresql';
import { execute, queryOne, queryPrepared } from '../db/sql';
import type { StoredEvent } from './order-events';

/** A claimed event, with how often publishing it failed before. */
export type ClaimedEvent = StoredEvent & { attempts: number };

/** How `storedCreatedData` text starts (before the id), goes on (after it) and ends. */
const CREATED_HEAD = '{"order":{"id":"';
const CREATED_NUMBER = '","order_number":null';
const CREATED_TAIL = '"updated_at":null}}';

/**
 * An event's `data` as it is published (text), from its `order_events` row
 * `e` and its order `o` (`join orders o on o.id = e.order_id`). A create
 * writes its event before it takes the order's number, to keep the counter
 * row's lock short (see INSERT_ORDER_WITH_EVENT in
 * orders/order.repository.sql.ts), so an `order.created` row's order has no
 * number: it is taken from the order, where it never changes. Its
 * `updated_at` is the event's `time`, as the REST representation writes a
 * time. Every other field is as the change wrote it.
 *
 * The create writes both as `null` (`storedCreatedData`), the number as the
 * order's second key (after an id of fixed length) and `updated_at` as its
 * last, and they are written into the text there, so every key stays where
 * the create put it, as `GET /api/orders/:id` writes them (the contract's
 * "exactly"): `jsonb` would sort them, and costs several times as much. Rows
 * written by older versions (`"order_number":""`) still take `jsonb_set`.
 */
export const PUBLISHED_DATA_SQL = `case
  when e.type <> 'order.created' then e.data::text
  when starts_with(e.data::text, '${CREATED_HEAD}' || o.id || '${CREATED_NUMBER}')
   and right(e.data::text, ${CREATED_TAIL.length}) = '${CREATED_TAIL}'
  then '${CREATED_HEAD}' || o.id || '","order_number":' || to_json(o.order_number)::text
    || substr(e.data::text, ${CREATED_HEAD.length} + length(o.id) + ${CREATED_NUMBER.length} + 1,
              length(e.data::text) - ${CREATED_HEAD.length} - length(o.id) - ${CREATED_NUMBER.length} - ${CREATED_TAIL.length})
    || '"updated_at":"' || to_char(e.time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '"}}'
  else jsonb_set(jsonb_set(e.data::jsonb, '{order,order_number}', to_jsonb(o.order_number)),
                 '{order,updated_at}', to_jsonb(to_char(e.time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))::text
  end`;

// Every step reaches rows through an index, whatever the planner thinks of
// the queue's size (its statistics lag a table that empties many times a
// second): the heads by an ordered scan of the primary key, which also marks
// the index entries of deleted rows dead for later scans to skip; their
// chains and the events by `= any(array(...))` lookups.
const CLAIM = `
with heads as (
  select q.order_id from order_event_queue q
  where (q.claimed_until is null or q.claimed_until < clock_timestamp())
    and not exists (
      select 1 from order_event_queue p where p.order_id = q.order_id and p.position < q.position)
  order by q.position
  limit ?::int
  for update skip locked
), claimed as (
  update order_event_queue q set claimed_until = clock_timestamp() + ?::int * interval '1 millisecond'
  where q.order_id = any(array(select order_id from heads))
  returning q.position, q.attempts
)
select e.position::text as position, e.id, e.workspace_id as "workspaceId", e.order_id as "orderId", e.type,
       e.sequence, e.time, (${PUBLISHED_DATA_SQL})::text as data, e.traceparent, e.tracestate, c.attempts
from order_events e join claimed c on c.position = e.position join orders o on o.id = e.order_id
where e.position = any(array(select position from claimed))
order by e.position`;

/**
 * Takes a batch off the queue (positions as one array value) and, in the same
 * statement, makes its webhook deliveries: one per enabled endpoint of the
 * event's workspace that takes its type. `created_at` is to the millisecond,
 * as the deliveries' page cursors are (`webhookDeliveries` pages by
 * `(created_at, id)`; a batch's deliveries share a millisecond).
 * `for key share of w` takes, as the select reads it, the lock the foreign
 * key takes anyway: an endpoint another process is deleting is waited for
 * and then left out, instead of failing the whole batch on the foreign key.
 */
const MARK_PUBLISHED = `
with published as (
  delete from order_event_queue where position = any(?::bigint[]) returning position
)
insert into webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, created_at)
select 'whdl_' || replace(gen_random_uuid()::text, '-', ''), w.id, e.id, 'pending', 0, clock_timestamp(),
       date_trunc('milliseconds', clock_timestamp())
from order_events e
join webhook_endpoints w on w.workspace_id = e.workspace_id and w.enabled
  and (w.events is null or jsonb_exists(w.events, e.type))
where e.position = any(array(select position from published))
for key share of w
on conflict (endpoint_id, event_id) do nothing
returning 1 as made`;

const RELEASE = `
update order_event_queue
set claimed_until = clock_timestamp() + ?::int * interval '1 millisecond', attempts = attempts + 1, last_error = ?::text
where position = ?::bigint`;

const UNLEASE = `update order_event_queue set claimed_until = null where position = any(?::bigint[])`;

export class OutboxStore {
  constructor(private readonly em: EntityManager) {}

  /** The pending events of up to `limit` orders (the oldest heads first), leased for `leaseMs`, in position order. */
  async claim(limit: number, leaseMs: number): Promise<ClaimedEvent[]> {
    const rows = await queryPrepared<ClaimedEvent & { data: string }>(this.em.fork(), 'outbox_claim', CLAIM, [
      limit,
      leaseMs,
    ]);
    // `data` as text, parsed here: an order's metadata keeps its exact numbers (shared/exact-json.ts).
    return rows.map((row): ClaimedEvent => ({ ...row, data: parseExactJson(row.data) as object }));
  }

  /**
   * Takes published events off the queue and, in the same statement, makes
   * their webhook deliveries, so deliveries run from the outbox. Returns how
   * many deliveries it made.
   */
  async markPublished(positions: readonly string[]): Promise<number> {
    if (positions.length === 0) return 0;
    const rows = await queryPrepared(this.em.fork(), 'outbox_mark', MARK_PUBLISHED, [
      `{${positions.join(',')}}`,
    ]);
    return rows.length;
  }

  /** Gives a claimed event back after a failed publish; no relay takes it before `retryInMs`. */
  async release(position: string, error: string, retryInMs: number): Promise<void> {
    await queryPrepared(this.em.fork(), 'outbox_release', RELEASE, [
      retryInMs,
      error.slice(0, 1000),
      position,
    ]);
  }

  /** Gives up this relay's leases on these events (it stops before publishing them), so any relay may claim them. */
  async unlease(positions: readonly string[]): Promise<void> {
    if (positions.length === 0) return;
    await queryPrepared(this.em.fork(), 'outbox_unlease', UNLEASE, [`{${positions.join(',')}}`]);
  }

  /**
   * Clears the queue of the rows publishing deleted (`VACUUM`, skipped when
   * another process is at it). Every event inserts and deletes one queue row,
   * and autovacuum visits a database at most once a minute by default; until
   * it does, every claim walks the dead rows, and a claim took 4 ms instead of
   * 0.6 after 20,000 creates. On a table of a few live rows this takes
   * milliseconds.
   */
  async vacuumQueue(): Promise<void> {
    await execute(this.em.fork(), 'vacuum (skip_locked) order_event_queue');
  }

  /** Seconds since the change of the oldest event not yet published was committed; 0 when none waits. */
  async oldestAgeSeconds(): Promise<number> {
    const row = await queryOne<{ age: number }>(
      this.em.fork(),
      `select greatest(0, extract(epoch from now() - e."time"))::float8 as age
         from order_event_queue q join order_events e on e."position" = q."position"
        order by q."position" limit 1`,
    );
    return row?.age ?? 0;
  }

  /** Events not yet published. */
  async backlog(): Promise<number> {
    const row = await queryOne<{ n: number }>(
      this.em.fork(),
      'select count(*)::int as n from order_event_queue',
    );
    return row?.n ?? 0;
  }
}
