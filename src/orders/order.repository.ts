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
import type { Cursor, OrderSort } from './order-cursor';
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

/**
 * When a change is written: the database's clock, read inside the writing
 * transaction, to the millisecond (what a cursor and a JavaScript Date hold).
 * Never the application's clock, and never the transaction's start time:
 * `syncHorizon` relies on every change being stamped after its transaction
 * became visible in pg_stat_activity (see there).
 */
const CHANGE_TIME_SQL = `date_trunc('milliseconds', clock_timestamp())`;

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
const INSERT_ORDER = `${INSERT_ORDER_CTES}
select order_number as "orderNumber", updated_at as "updatedAt" from new_order`;

/**
 * `pg_notify` (delivered at commit) wakes the relays of every process. Only a
 * process that runs no relay of its own sends it (see `notifyOtherProcesses`
 * in `order.service.ts`): its own relay is woken in-process, and NOTIFY takes
 * one lock across the whole server at every commit.
 */
const NOTIFY = `, pg_notify('${EVENTS_CHANNEL}', '') is null as notified`;

/**
 * The create with its `order.created` event in the outbox: still one
 * statement. The event's order gets its number from the counter, like the
 * order.
 */
const insertOrderWithEvent = (notify: boolean) => `${INSERT_ORDER_CTES}, new_event as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
  select ?::text, ?::text, ?::text, ?::text, ?::int, ?::timestamptz,
         jsonb_set(jsonb_set(?::jsonb, '{order,order_number}', to_jsonb(new_order.order_number)),
                   '{order,updated_at}', to_jsonb(${REST_TIMESTAMP_SQL}))
  from new_order
)
select order_number as "orderNumber", updated_at as "updatedAt"${notify ? NOTIFY : ''}
from new_order`;
const INSERT_ORDER_WITH_EVENT = { notify: insertOrderWithEvent(true), quiet: insertOrderWithEvent(false) };

/** Appends a change's events (in array order), waking the relays at commit with `notify`. */
const insertEvents = (notify: boolean) => `
with new_events as (
  insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
  select e.event->>'id', ?, ?, e.event->>'type', (e.event->>'sequence')::int, (e.event->>'time')::timestamptz, e.event->'data'
  from jsonb_array_elements(?::jsonb) with ordinality as e(event, n)
  order by e.n
)
select 1 as appended${notify ? NOTIFY : ''}`;
const INSERT_EVENTS = { notify: insertEvents(true), quiet: insertEvents(false) };

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
type InsertedRow = { orderNumber: string; updatedAt: Date | string };

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
   * goes into the outbox in the same statement. `updated_at` is the
   * database's clock (see `CHANGE_TIME_SQL`), never before `created_at`.
   */
  async insertNumbered(
    { workspaceId, day, order, items }: NewOrder,
    event?: (order: Order) => NewOrderEvent,
    notify = true,
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
      ? await queryPrepared<InsertedRow>(
          this.em,
          notify ? 'order_insert_with_event' : 'order_insert_with_event_quiet',
          notify ? INSERT_ORDER_WITH_EVENT.notify : INSERT_ORDER_WITH_EVENT.quiet,
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
      : await queryPrepared<InsertedRow>(this.em, 'order_insert', INSERT_ORDER, params);
    if (!row) throw new Error('The order insert returned no row');
    return { ...whole, orderNumber: row.orderNumber, updatedAt: new Date(row.updatedAt) };
  }

  /**
   * The time to stamp a change of an order whose last change was at
   * `previous`: the database's clock, and always later than `previous`, so
   * each version of an order has its own position in `updated_at` order (two
   * changes within one millisecond would otherwise share one, and a client
   * past the first would never see the second). Call it inside the update's
   * transaction, after the row lock.
   */
  async changeTime(previous: Date): Promise<Date> {
    const row = await queryOne<{ now: Date | string }>(
      this.em,
      `select greatest(${CHANGE_TIME_SQL}, ?::timestamptz + interval '1 millisecond') as now`,
      [previous.toISOString()],
    );
    if (!row) throw new Error('The clock query returned no row');
    return new Date(row.now);
  }

  /**
   * The sync horizon: lists in `updated_at` order, or since an `updated_at`,
   * only show changes stamped before this instant, so that a client that
   * continues from the last position it saw never skips a change.
   *
   * The danger is a change stamped at t that commits after a reader has
   * already returned a change stamped after t (a slow transaction and a fast
   * one). The horizon is the start of the oldest transaction still open on
   * this database (any client backend but our own; it may not have written
   * yet), and never later than now. Run in its own statement before the
   * list's query, so the list's snapshot is taken after it; then every change
   * stamped before the horizon is visible to the list:
   * - its transaction was open when pg_stat_activity was read: then its
   *   start, and so its stamps (taken inside it, see `CHANGE_TIME_SQL`), are
   *   not before the horizon;
   * - it had ended: it committed before the list's snapshot, or rolled back;
   * - it had not begun: its stamps come from the clock after this statement
   *   began, so not before the horizon either.
   * Truncating both sides to the millisecond keeps every inequality. A long
   * open transaction on the database (even a read-only one) holds the horizon
   * back, which delays a sync but never breaks it. On the embedded database
   * there is only ever one transaction at a time, so the horizon is now.
   */
  async syncHorizon(): Promise<string> {
    const row = await queryOne<{ horizon: Date | string }>(
      this.em,
      `select date_trunc('milliseconds', least(statement_timestamp(), (
         select min(a.xact_start) from pg_stat_activity a
         where a.datname = current_database() and a.backend_type = 'client backend' and a.pid <> pg_backend_pid()
       ))) as horizon`,
    );
    if (!row) throw new Error('The horizon query returned no row');
    return new Date(row.horizon).toISOString();
  }

  /** Writes a change's events into the outbox; call inside the change's transaction. */
  async appendEvents(
    workspaceId: string,
    orderId: string,
    events: readonly NewOrderEvent[],
    notify = true,
  ): Promise<void> {
    if (events.length === 0) return;
    // stringifyJson: an event's order keeps metadata's exact numbers (shared/exact-json.ts).
    await queryOne(this.em, notify ? INSERT_EVENTS.notify : INSERT_EVENTS.quiet, [
      workspaceId,
      orderId,
      stringifyJson(events),
    ]);
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

  /**
   * A REST page: up to `limit` summaries in `sort`, after the cursor or at
   * `offset`, whether more follow, and how many orders match in all.
   */
  async listPage(
    scope: Scope,
    filter: OrderFilter,
    page: ListWindow,
  ): Promise<{ orders: OrderSummary[]; total: number; hasMore: boolean }> {
    const { rows, count } = listQueries(this.getKnex(), scope, filter, { ...page, limit: page.limit + 1 });
    const [records, [counted]] = await Promise.all([
      queryAll<SummaryRecord>(this.em, rows),
      queryAll<{ n: string | number }>(this.em, count),
    ]);
    return {
      orders: records.slice(0, page.limit).map(toSummary),
      total: Number(counted?.n ?? 0),
      hasMore: records.length > page.limit,
    };
  }

  /**
   * A keyset page: up to `first` whole orders in `sort` strictly after the
   * cursor, whether more follow, and how many orders match in all.
   */
  async findPage(
    scope: Scope,
    filter: OrderFilter,
    page: Omit<ListWindow, 'offset'>,
  ): Promise<{ orders: Order[]; total: number; hasMore: boolean }> {
    const matching = whereWindow(whereFilter(this.getKnex()('orders as o'), scope, filter), page);
    const pageQuery = inOrder(whereAfter(matching.clone().select('o.id'), page), page.sort).limit(
      page.limit + 1,
    );
    const [rows, [counted]] = await Promise.all([
      queryAll<{ id: string }>(this.em, pageQuery),
      queryAll<{ n: string | number }>(this.em, matching.clone().count({ n: '*' })),
    ]);
    const orders = await this.findWholeByIds(
      scope.workspaceId,
      rows.slice(0, page.limit).map((row) => row.id),
    );
    return { orders, total: Number(counted?.n ?? 0), hasMore: rows.length > page.limit };
  }
}

/** Which rows of the filtered list a page reads, and in what order. */
export interface ListWindow {
  sort: OrderSort;
  limit: number;
  /** Rows to skip (REST's offset paging); 0 with a cursor. */
  offset?: number;
  /** The page starts strictly after this row of `sort`. */
  after?: Cursor;
  /** Only rows changed before this instant (see `syncHorizon`). */
  horizon?: string;
}

/** The two queries behind a REST list page: its rows, and the count of every match. Exported for the index test. */
export function listQueries(knex: Knex, scope: Scope, filter: OrderFilter, page: ListWindow) {
  const matching = whereWindow(whereFilter(knex('orders as o'), scope, filter), page);
  const rows = inOrder(
    whereAfter(
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
        .select(
          knex.raw('(select count(*) from order_items i where i.order_id = o.id)::int as "itemsCount"'),
        ),
      page,
    ),
    page.sort,
  )
    .limit(page.limit)
    .offset(page.offset ?? 0);
  return { rows, count: matching.clone().count({ n: '*' }) };
}

/** The horizon, which applies to the count as well as the rows. */
function whereWindow(qb: Knex.QueryBuilder, page: Pick<ListWindow, 'horizon'>): Knex.QueryBuilder {
  if (page.horizon !== undefined) qb.andWhereRaw('o.updated_at < ?::timestamptz', [page.horizon]);
  return qb;
}

/** Strictly after the cursor's row, in the cursor's sort. */
function whereAfter(qb: Knex.QueryBuilder, page: Pick<ListWindow, 'after'>): Knex.QueryBuilder {
  const { after } = page;
  if (after?.sort === 'updated_at')
    qb.andWhereRaw('(o.updated_at, o.id) > (?::timestamptz, ?)', [after.at, after.id]);
  else if (after) qb.andWhereRaw('(o.created_at, o.id) < (?::timestamptz, ?)', [after.at, after.id]);
  return qb;
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
  if (filter.updatedSince !== undefined)
    qb.andWhereRaw('o.updated_at >= ?::timestamptz', [filter.updatedSince]);
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

/** Newest first, or oldest change first; ties by id. Each is the order of a list index (see the entity). */
function inOrder(qb: Knex.QueryBuilder, sort: OrderSort): Knex.QueryBuilder {
  return sort === 'updated_at'
    ? qb.orderBy([
        { column: 'o.updated_at', order: 'asc' },
        { column: 'o.id', order: 'asc' },
      ])
    : qb.orderBy([
        { column: 'o.created_at', order: 'desc' },
        { column: 'o.id', order: 'desc' },
      ]);
}
