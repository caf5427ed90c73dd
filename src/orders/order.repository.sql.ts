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

/** `updated_at` as the REST representation writes it (`timestamp()` in rest/order.presenter.ts). */
const REST_TIMESTAMP_SQL = `to_char(new_order.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

const INSERT_ORDER_CTES = `
with counter as (
  insert into order_number_counters as c (workspace_id, day, last_value) values (?::text, ?::date, 1)
  on conflict (workspace_id, day) do update set last_value = c.last_value + 1
  returning last_value
), new_order as (
  insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                      shipping_address, billing_address, notes, metadata, status_history, created_at, updated_at)
  select ?::text, ?::text, ${ORDER_NUMBER_SQL}, ?::text, ?::text, ?::text, ?::numeric, ?::numeric, ?::numeric, ?::numeric,
         ?::jsonb, ?::jsonb, ?::text, ?::jsonb, ?::jsonb, ?::timestamptz, greatest(?::timestamptz, ${CHANGE_TIME_SQL})
  from counter
  returning order_number, updated_at
), new_items as (
  insert into order_items (order_id, position, product_id, name, quantity, price, sku, subtotal)
  select ?::text, item.position, item."productId", item.name, item.quantity, item.price, item.sku, item.subtotal
  from jsonb_to_recordset(?::jsonb)
    as item(position int, "productId" text, name text, quantity int, price numeric, sku text, subtotal numeric)
)`;

/** The create without an event (EVENTS=off, for measuring what the outbox costs). */
export const INSERT_ORDER = `${INSERT_ORDER_CTES}
select order_number as "orderNumber", updated_at as "updatedAt" from new_order`;

/**
 * `pg_notify` (delivered at commit) wakes the relays of every process. Only a
 * process that runs no relay of its own sends it (see `notifyOtherProcesses`
 * in `order.service.ts`): its own relay is woken in-process, and NOTIFY takes
 * one lock across the whole server at every commit.
 */
const NOTIFY = `, pg_notify('${EVENTS_CHANNEL}', '') is null as notified`;

/**
 * The create with its `order.created` event in the outbox (the log row and
 * its queue row): still one statement. The event's order gets its number
 * from the counter, like the order.
 */
const insertOrderWithEvent = (notify: boolean) => `${INSERT_ORDER_CTES}, new_event as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
  select ?::text, ?::text, ?::text, ?::text, ?::int, ?::timestamptz,
         jsonb_set(jsonb_set(?::jsonb, '{order,order_number}', to_jsonb(new_order.order_number)),
                   '{order,updated_at}', to_jsonb(${REST_TIMESTAMP_SQL}))
  from new_order
  returning position, order_id
), queued as (
  insert into order_event_queue (position, order_id) select position, order_id from new_event
)
select order_number as "orderNumber", updated_at as "updatedAt"${notify ? NOTIFY : ''}
from new_order`;
export const INSERT_ORDER_WITH_EVENT = {
  notify: insertOrderWithEvent(true),
  quiet: insertOrderWithEvent(false),
};

/** Appends a change's events (in array order) and queues them, waking the relays at commit with `notify`. */
const insertEvents = (notify: boolean) => `
with new_events as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
  select e.event->>'id', ?, ?, e.event->>'type', (e.event->>'sequence')::int, (e.event->>'time')::timestamptz, e.event->'data'
  from jsonb_array_elements(?::jsonb) with ordinality as e(event, n)
  order by e.n
  returning position, order_id
), queued as (
  insert into order_event_queue (position, order_id) select position, order_id from new_events
)
select 1 as appended${notify ? NOTIFY : ''}`;
export const INSERT_EVENTS = { notify: insertEvents(true), quiet: insertEvents(false) };

export const SELECT_ORDERS = `
select o.id, o.order_number as "orderNumber", o.customer_id as "customerId", o.status, o.currency,
       o.subtotal::text as subtotal, o.shipping::text as shipping, o.tax::text as tax, o.total::text as total,
       o.shipping_address as "shippingAddress", o.billing_address as "billingAddress", o.notes, o.metadata::text as metadata,
       o.tracking_number as "trackingNumber", o.tracking_url as "trackingUrl", o.status_history as "statusHistory",
       o.created_at as "createdAt", o.updated_at as "updatedAt",
       (select coalesce(jsonb_agg(jsonb_build_object(
                 'position', i.position, 'productId', i.product_id, 'name', i.name, 'quantity', i.quantity,
                 'price', i.price::text, 'sku', i.sku, 'subtotal', i.subtotal::text) order by i.position), '[]'::jsonb)
          from order_items i where i.order_id = o.id) as items
from orders o
where o.workspace_id = ?`;

export const SELECT_ORDER_BY_ID = `${SELECT_ORDERS} and o.id = ?`;
export const SELECT_ORDER_BY_NUMBER = `${SELECT_ORDERS} and o.order_number = ?`;
