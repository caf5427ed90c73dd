/**
 * Every SQL statement on `orders` and `order_items`, and nothing else.
 *
 * Hand-written SQL where it pays: a create is one statement (the day's
 * counter, the order numbered from it, and its items, so the counter row's
 * lock is held for one round trip), and an order is read with one query (its
 * items aggregated as JSON, amounts as text so they stay exact), skipping the
 * identity map and hydration that dominated the cost of a GET. Columns are
 * selected under the entity's property names, so rows need no renaming.
 * Updates go through the ORM: the entity is loaded under a row lock, changed
 * by the service, and flushed.
 */
import { EntityRepository, type Knex, LockMode } from '@mikro-orm/postgresql';
import { queryAll, queryOne, queryPrepared } from '../db/sql';
import type { OrderEntity } from './order.entity';
import type { Cursor } from './order-cursor';
import type { OrderFilter, TimeBound } from './order-filter';
import { EVENTS_CHANNEL, type NewOrderEvent } from './order-events';
import { ORDER_NUMBER_SQL, orderNumberPrefix } from './order-number';
import {
  type ItemRecord,
  type NewOrder,
  type OrderRecord,
  type SummaryRecord,
  toOrder,
  toSummary,
} from './order.rows';
import type { Order, OrderSummary } from './order.types';
import { parseExactJson, stringifyJson } from '../shared/exact-json';

/** The workspace a query is scoped to, and its time zone (calendar-day filters). */
export interface Scope {
  workspaceId: string;
  timeZone: string;
}

const INSERT_ORDER_CTES = `
with counter as (
  insert into order_number_counters as c (workspace_id, day, last_value) values (?::text, ?::date, 1)
  on conflict (workspace_id, day) do update set last_value = c.last_value + 1
  returning last_value
), new_order as (
  insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                      shipping_address, billing_address, notes, metadata, status_history, created_at, updated_at)
  select ?::text, ?::text, ${ORDER_NUMBER_SQL}, ?::text, ?::text, ?::text, ?::numeric, ?::numeric, ?::numeric, ?::numeric,
         ?::jsonb, ?::jsonb, ?::text, ?::jsonb, ?::jsonb, ?::timestamptz, ?::timestamptz
  from counter
  returning order_number
), new_items as (
  insert into order_items (order_id, position, product_id, name, quantity, price, sku, subtotal)
  select ?::text, item.position, item."productId", item.name, item.quantity, item.price, item.sku, item.subtotal
  from jsonb_to_recordset(?::jsonb)
    as item(position int, "productId" text, name text, quantity int, price numeric, sku text, subtotal numeric)
)`;

/** The create without an event (EVENTS=off, for measuring what the outbox costs). */
const INSERT_ORDER = `${INSERT_ORDER_CTES}
select order_number as "orderNumber" from new_order`;

/**
 * The create with its `order.created` event in the outbox: still one
 * statement. The event's order gets its number from the counter, like the
 * order; `pg_notify` (delivered at commit) wakes the relays of every process.
 */
const INSERT_ORDER_WITH_EVENT = `${INSERT_ORDER_CTES}, new_event as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
  select ?::text, ?::text, ?::text, ?::text, ?::int, ?::timestamptz, jsonb_set(?::jsonb, '{order,order_number}', to_jsonb(new_order.order_number))
  from new_order
)
select order_number as "orderNumber", pg_notify('${EVENTS_CHANNEL}', '') is null as notified from new_order`;

/** Appends a change's events (in array order) and wakes the relays at commit. */
const INSERT_EVENTS = `
with new_events as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
  select e.event->>'id', ?, ?, e.event->>'type', (e.event->>'sequence')::int, (e.event->>'time')::timestamptz, e.event->'data'
  from jsonb_array_elements(?::jsonb) with ordinality as e(event, n)
  order by e.n
)
select pg_notify('${EVENTS_CHANNEL}', '') is null as notified`;

const SELECT_ORDERS = `
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

type OrderWithItems = OrderRecord & { items: ItemRecord[] };

const SELECT_ORDER_BY_ID = `${SELECT_ORDERS} and o.id = ?`;
const SELECT_ORDER_BY_NUMBER = `${SELECT_ORDERS} and o.order_number = ?`;

const json = (value: unknown) => (value === null || value === undefined ? null : stringifyJson(value));

/** Metadata is selected as text and parsed here, so its numbers stay exact (see `shared/exact-json.ts`). */
type SelectedOrder = Omit<OrderWithItems, 'metadata'> & { metadata: string | null };
const withMetadata = (record: SelectedOrder): OrderWithItems => ({
  ...record,
  metadata: record.metadata === null ? null : (parseExactJson(record.metadata) as OrderWithItems['metadata']),
});

export class OrderRepository extends EntityRepository<OrderEntity> {
  /**
   * Inserts the order and its items in one statement, numbering it from the
   * workspace's counter for `day`; with `event`, its `order.created` event
   * goes into the outbox in the same statement.
   */
  async insertNumbered(
    { workspaceId, day, order, items }: NewOrder,
    event?: (order: Order) => NewOrderEvent,
  ): Promise<Order> {
    const whole = toOrder({ ...order, orderNumber: '' }, items);
    const params = [
      workspaceId,
      day,
      order.id,
      workspaceId,
      orderNumberPrefix(day),
      order.customerId,
      order.status,
      order.currency,
      order.subtotal,
      order.shipping,
      order.tax,
      order.total,
      json(order.shippingAddress),
      json(order.billingAddress),
      order.notes ?? null,
      json(order.metadata),
      json(order.statusHistory),
      order.createdAt,
      order.updatedAt,
      order.id,
      JSON.stringify(items),
    ];
    const created = event?.(whole);
    // Named prepared statements: the create is the hottest statement there is (see queryPrepared).
    const [row] = created
      ? await queryPrepared<{ orderNumber: string }>(
          this.em,
          'order_insert_with_event',
          INSERT_ORDER_WITH_EVENT,
          [
            ...params,
            created.id,
            workspaceId,
            order.id,
            created.type,
            created.sequence,
            created.time,
            stringifyJson(created.data),
          ],
        )
      : await queryPrepared<{ orderNumber: string }>(this.em, 'order_insert', INSERT_ORDER, params);
    if (!row) throw new Error('The order insert returned no row');
    return { ...whole, orderNumber: row.orderNumber };
  }

  /** Writes a change's events into the outbox; call inside the change's transaction. */
  async appendEvents(workspaceId: string, orderId: string, events: readonly NewOrderEvent[]): Promise<void> {
    if (events.length === 0) return;
    // stringifyJson: an event's order keeps metadata's exact numbers (shared/exact-json.ts).
    await queryOne(this.em, INSERT_EVENTS, [workspaceId, orderId, stringifyJson(events)]);
  }

  /** One order of the workspace by id or by number, or undefined. */
  async findWhole(
    workspaceId: string,
    by: { id: string } | { orderNumber: string },
  ): Promise<Order | undefined> {
    // Prepared, like the create: a GET by id is one statement, and parsing a new text each time was most of its cost.
    const [name, sql, value] =
      'id' in by
        ? ['order_by_id', SELECT_ORDER_BY_ID, by.id]
        : ['order_by_number', SELECT_ORDER_BY_NUMBER, by.orderNumber];
    const [selected] = await queryPrepared<SelectedOrder>(this.em, name, sql, [workspaceId, value]);
    const record = selected && withMetadata(selected);
    return record ? toOrder(record, record.items) : undefined;
  }

  /** The workspace's orders with these ids, in the order of `ids`. */
  async findWholeByIds(workspaceId: string, ids: readonly string[]): Promise<Order[]> {
    if (ids.length === 0) return [];
    const records = (
      await queryAll<SelectedOrder>(this.em, `${SELECT_ORDERS} and o.id in (?)`, [workspaceId, ids])
    ).map(withMetadata);
    const byId = new Map(records.map((record) => [record.id, toOrder(record, record.items)]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  /** The order's entity, locked (`SELECT … FOR UPDATE`) until the transaction ends; call inside one. */
  async findForUpdate(workspaceId: string, id: string): Promise<OrderEntity | null> {
    return this.findOne({ id, workspace: workspaceId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  }

  /** A REST page: the summaries at `offset`, and how many orders match in all. */
  async listPage(
    scope: Scope,
    filter: OrderFilter,
    page: { limit: number; offset: number },
  ): Promise<{ orders: OrderSummary[]; total: number }> {
    const { rows, count } = listQueries(this.getKnex(), scope, filter, page);
    const [records, [counted]] = await Promise.all([
      queryAll<SummaryRecord>(this.em, rows),
      queryAll<{ n: string | number }>(this.em, count),
    ]);
    return { orders: records.map(toSummary), total: Number(counted?.n ?? 0) };
  }

  /**
   * A keyset page: up to `first` whole orders strictly after the cursor,
   * whether more follow, and how many orders match in all.
   */
  async findPage(
    scope: Scope,
    filter: OrderFilter,
    first: number,
    after?: Cursor,
  ): Promise<{ orders: Order[]; total: number; hasMore: boolean }> {
    const matching = whereFilter(this.getKnex()('orders as o'), scope, filter);
    const pageQuery = newestFirst(matching.clone().select('o.id')).limit(first + 1);
    if (after)
      pageQuery.andWhereRaw('(o.created_at, o.id) < (?::timestamptz, ?)', [after.createdAt, after.id]);
    const [rows, [counted]] = await Promise.all([
      queryAll<{ id: string }>(this.em, pageQuery),
      queryAll<{ n: string | number }>(this.em, matching.clone().count({ n: '*' })),
    ]);
    const orders = await this.findWholeByIds(
      scope.workspaceId,
      rows.slice(0, first).map((row) => row.id),
    );
    return { orders, total: Number(counted?.n ?? 0), hasMore: rows.length > first };
  }
}

/** The two queries behind a REST list page: its rows, and the count of every match. Exported for the index test. */
export function listQueries(
  knex: Knex,
  scope: Scope,
  filter: OrderFilter,
  page: { limit: number; offset: number },
) {
  const matching = whereFilter(knex('orders as o'), scope, filter);
  const rows = newestFirst(
    matching
      .clone()
      .select(
        'o.id',
        { orderNumber: 'o.order_number', customerId: 'o.customer_id' },
        'o.status',
        'o.total',
        'o.currency',
        { trackingNumber: 'o.tracking_number', createdAt: 'o.created_at', updatedAt: 'o.updated_at' },
      )
      .select(knex.raw('(select count(*) from order_items i where i.order_id = o.id)::int as "itemsCount"')),
  )
    .limit(page.limit)
    .offset(page.offset);
  return { rows, count: matching.clone().count({ n: '*' }) };
}

/** The workspace scope and every filter, on `orders as o`. Each filter has an index (see the entity). */
function whereFilter(qb: Knex.QueryBuilder, scope: Scope, filter: OrderFilter): Knex.QueryBuilder {
  qb.where('o.workspace_id', scope.workspaceId);
  if (filter.customerId !== undefined) qb.andWhere('o.customer_id', filter.customerId);
  if (filter.status !== undefined) qb.andWhere('o.status', filter.status);
  // The unique (workspace, order number) key serves this lookup.
  if (filter.orderNumber !== undefined) qb.andWhere('o.order_number', filter.orderNumber);
  if (filter.from)
    qb.andWhereRaw(
      `o.created_at >= ${boundSql(filter.from, 'start')}`,
      boundParams(filter.from, scope.timeZone),
    );
  if (filter.to) {
    const op = filter.to.kind === 'date' ? '<' : '<=';
    qb.andWhereRaw(
      `o.created_at ${op} ${boundSql(filter.to, 'end')}`,
      boundParams(filter.to, scope.timeZone),
    );
  }
  if (filter.minTotal !== undefined) qb.andWhereRaw('o.total >= ?::numeric', [filter.minTotal]);
  if (filter.maxTotal !== undefined) qb.andWhereRaw('o.total <= ?::numeric', [filter.maxTotal]);
  if (filter.search !== undefined) {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    qb.andWhere((inner) => {
      void inner
        .whereRaw(`o.order_number ilike ? escape '\\'`, [pattern])
        .orWhereRaw(`o.notes ilike ? escape '\\'`, [pattern]);
    });
  }
  return qb;
}

function boundSql(bound: TimeBound, side: 'start' | 'end'): string {
  switch (bound.kind) {
    case 'instant':
      return '?::timestamptz';
    case 'local':
      return '(?::timestamp at time zone ?)';
    case 'date':
      // A day runs from its local midnight to the next one; `to` includes the whole day.
      return side === 'start'
        ? '(?::date::timestamp at time zone ?)'
        : '((?::date + 1)::timestamp at time zone ?)';
  }
}

function boundParams(bound: TimeBound, timeZone: string): string[] {
  return bound.kind === 'instant' ? [bound.value] : [bound.value, timeZone];
}

/** Newest first, ties by id: the order of the list index. */
function newestFirst(qb: Knex.QueryBuilder): Knex.QueryBuilder {
  return qb.orderBy([
    { column: 'o.created_at', order: 'desc' },
    { column: 'o.id', order: 'desc' },
  ]);
}
