/**
 * The hand-written statements of \`OrderRepository\` (order.repository.ts), which
 * runs them: the one-statement create (with its outbox event), the appended
 * events of an update, and the one-query read of whole orders.
 */
import { EVENTS_CHANNEL } from './order-events';
import { ORDER_NUMBER_SQL } from './order-number';

/**
 * When a change is written: the database's clock, read inside the writing
 * transaction, to the millisecond (what a cursor and a JavaScript Date hold).
 * Never the application's clock, and never the transaction's start time:
 * `syncHorizon` relies on every change being stamped after its transaction
 * became visible in pg_stat_activity (see there).
 */
export const CHANGE_TIME_SQL = `date_trunc('milliseconds', clock_timestamp())`;

/**
 * The create's rows, written by one statement. Every create of a workspace
 * waits for the previous one's lock on the day's counter row until it
 * commits, so the statement writes everything that does not need the number
 * (the items, and the event when there is one) before it takes the counter:
 * its main query reads them in a filter that is constant, which PostgreSQL
 * evaluates before it reads the order (a "One-Time Filter"). That order only
 * makes the lock's hold short; the rows are the same whichever runs first,
 * and foreign keys are checked at the end of the statement.
 */
const INSERT_ORDER_CTES = `
with stamp as (
  select greatest(?::timestamptz, ${CHANGE_TIME_SQL}) as at
), new_items as (
  insert into order_items (order_id, position, product_id, name, quantity, price, sku, subtotal)
  select ?::text, item.position, item."productId", item.name, item.quantity, item.price, item.sku, item.subtotal
  from jsonb_to_recordset(?::jsonb)
    as item(position int, "productId" text, name text, quantity int, price numeric, sku text, subtotal numeric)
  returning 1 as written
), counter as (
  insert into order_number_counters as c (workspace_id, day, last_value) values (?::text, ?::date, 1)
  on conflict (workspace_id, day) do update set last_value = c.last_value + 1
  returning last_value
), new_order as (
  insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                      shipping_address, billing_address, notes, metadata, status_history, created_at, updated_at)
  select ?::text, ?::text, ${ORDER_NUMBER_SQL}, ?::text, ?::text, ?::text, ?::numeric, ?::numeric, ?::numeric, ?::numeric,
         ?::jsonb, ?::jsonb, ?::text, ?::jsonb, ?::jsonb, ?::timestamptz, stamp.at
  from counter, stamp
  returning order_number, updated_at
)`;

/** The create without an event (EVENTS=off, for measuring what the outbox costs). */
export const INSERT_ORDER = `${INSERT_ORDER_CTES}
select order_number as "orderNumber", updated_at as "updatedAt" from new_order
where (select count(*) from new_items) >= 0`;

/**
 * `pg_notify` (delivered at commit) wakes the relays of every process. Only a
 * process that runs no relay of its own sends it (see `relay` in
 * `order.service.ts`): its own relay is woken in-process, and NOTIFY takes
 * one lock across the whole server at every commit.
 */
const NOTIFY = `, pg_notify('${EVENTS_CHANNEL}', '') is null as notified`;

/**
 * The create with its `order.created` event in the outbox (the log row and
 * its queue row): still one statement, which returns the event's `position`.
 * The event is written before the order is numbered (see above), so its
 * row's `data` holds the order without its number, which readers take from
 * the order (`PUBLISHED_DATA_SQL` in events/outbox.store.ts). Its `time` is
 * the order's `updated_at`, from the same `stamp`, and readers write it into
 * the order too: `data` goes in as the text the gateway made (a `json`
 * column), with no function run over it.
 *
 * `leased`: the queue row is born claimed by this process (its last
 * parameter is the lease in milliseconds), which publishes the event from
 * memory after the commit (`EventRelay.publishCommitted`): no other relay
 * claims it unless the lease runs out, and this one skips the claim's update
 * and read-back. `notify`: a process without a relay of its own leaves the
 * row unclaimed and wakes the others.
 */
const insertOrderWithEvent = (delivery: 'notify' | 'leased') => `${INSERT_ORDER_CTES}, new_event as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data, traceparent, tracestate)
  select ?::text, ?::text, ?::text, ?::text, ?::int, stamp.at, ?::json, ?::text, ?::text
  from stamp
  returning position, order_id
), queued as (
  insert into order_event_queue (position, order_id${delivery === 'leased' ? ', claimed_until' : ''})
  select position, order_id${delivery === 'leased' ? ", clock_timestamp() + ?::int * interval '1 millisecond'" : ''}
  from new_event
  returning 1 as written
)
select order_number as "orderNumber", updated_at as "updatedAt",
       (select position::text from new_event) as "eventPosition"${delivery === 'notify' ? NOTIFY : ''}
from new_order
where (select count(*) from new_items) + (select count(*) from queued) >= 0`;
export const INSERT_ORDER_WITH_EVENT = {
  notify: insertOrderWithEvent('notify'),
  leased: insertOrderWithEvent('leased'),
};

/** Appends a change's events (in array order) and queues them, waking the relays at commit with `notify`. */
const insertEvents = (notify: boolean) => `
with new_events as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data, traceparent, tracestate)
  select e.event->>'id', ?, ?, e.event->>'type', (e.event->>'sequence')::int, (e.event->>'time')::timestamptz, e.event->'data',
         e.event->>'traceparent', e.event->>'tracestate'
  from json_array_elements(?::json) with ordinality as e(event, n)
  order by e.n
  returning position, order_id
), queued as (
  insert into order_event_queue (position, order_id) select position, order_id from new_events
)
select 1 as appended${notify ? NOTIFY : ''}`;
export const INSERT_EVENTS = { notify: insertEvents(true), quiet: insertEvents(false) };

/** The columns of a whole order `o` (see `SELECT_ORDERS`), its items aggregated. */
export const ORDER_COLUMNS = `
       o.id, o.order_number as "orderNumber", o.customer_id as "customerId", o.status, o.currency,
       o.subtotal::text as subtotal, o.shipping::text as shipping, o.tax::text as tax, o.total::text as total,
       o.shipping_address as "shippingAddress", o.billing_address as "billingAddress", o.notes, o.metadata::text as metadata,
       o.tracking_number as "trackingNumber", o.tracking_url as "trackingUrl", o.status_history as "statusHistory",
       o.created_at as "createdAt", o.updated_at as "updatedAt", o.version,
       (select coalesce(jsonb_agg(jsonb_build_object(
                 'position', i.position, 'productId', i.product_id, 'name', i.name, 'quantity', i.quantity,
                 'price', i.price::text, 'sku', i.sku, 'subtotal', i.subtotal::text) order by i.position), '[]'::jsonb)
          from order_items i where i.order_id = o.id) as items`;

export const SELECT_ORDERS = `
select ${ORDER_COLUMNS}
from orders o
where o.workspace_id = ?`;

export const SELECT_ORDER_BY_ID = `${SELECT_ORDERS} and o.id = ?`;
export const SELECT_ORDER_BY_NUMBER = `${SELECT_ORDERS} and o.order_number = ?`;
