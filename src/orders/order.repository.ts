/**
 * Every SQL statement on `orders` and `order_items`, and nothing else (its
 * hand-written statements are in `order.repository.sql.ts`, its list queries
 * in `order.repository.list.ts`).
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
import { EntityRepository, LockMode } from '@mikro-orm/postgresql';
import { queryOne, queryPrepared } from '../db/sql';
import type { OrderEntity } from './order.entity';
import type { OrderFilter } from './order-filter';
import { checkEventSize, MAX_EVENT_DATA_BYTES, storedCreatedData, type CommittedOrderEvent, type NewOrderEvent, type OrderEventBuilder } from './order-events';
import { orderNumberPrefix } from './order-number';
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
import {
  CHANGE_TIME_SQL,
  INSERT_ORDER,
  INSERT_ORDER_WITH_EVENT,
  INSERT_EVENTS,
  ORDER_COLUMNS,
  SELECT_ORDER_BY_ID,
  SELECT_ORDER_BY_NUMBER,
} from './order.repository.sql';
import {
  type ListWindow,
  inOrder,
  listQueries,
  pageWithTotal,
  whereAfter,
  whereFilter,
  whereWindow,
} from './order.repository.list';

/** The workspace a query is scoped to, and its time zone (calendar-day filters). */
export interface Scope {
  workspaceId: string;
  timeZone: string;
}
type OrderWithItems = OrderRecord & { items: ItemRecord[] };
type InsertedRow = { orderNumber: string; updatedAt: Date | string };

const json = (value: unknown) => (value === null || value === undefined ? null : stringifyJson(value));

/** Metadata is selected as text and parsed here, so its numbers stay exact (see `shared/exact-json.ts`). */
type SelectedOrder = Omit<OrderWithItems, 'metadata'> & { metadata: string | null };
const withMetadata = (record: SelectedOrder): OrderWithItems => ({
  ...record,
  metadata: record.metadata === null ? null : (parseExactJson(record.metadata) as OrderWithItems['metadata']),
});

/** The new order as an `Order`, still without its number, and the create statement's parameters. */
function insertParameters({ workspaceId, day, order, items }: NewOrder): { whole: Order; params: unknown[] } {
  const whole = toOrder({ ...order, orderNumber: '' }, items);
  // In the order of the statement's placeholders (see INSERT_ORDER_CTES).
  // Times as ISO text: what pg would write for a Date, without its local-time formatting.
  const params = [
    order.updatedAt.toISOString(),
    order.id,
    JSON.stringify(items),
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
    order.createdAt.toISOString(),
  ];
  return { whole, params };
}

/** The new order with what the create statement returned: its number and `updated_at`. */
function numbered(whole: Order, row: InsertedRow | undefined): Order {
  if (!row) throw new Error('The order insert returned no row');
  return { ...whole, orderNumber: row.orderNumber, updatedAt: new Date(row.updatedAt) };
}

export class OrderRepository extends EntityRepository<OrderEntity> {
  /**
   * Inserts the order and its items in one statement, numbering it from the
   * workspace's counter for `day`. `updated_at` is the database's clock (see
   * `CHANGE_TIME_SQL`), never before `created_at`.
   */
  async insertNumbered(newOrder: NewOrder): Promise<Order> {
    const { whole, params } = insertParameters(newOrder);
    // Named prepared statements: the create is the hottest statement there is (see queryPrepared).
    const [row] = await queryPrepared<InsertedRow>(this.em, 'order_insert', INSERT_ORDER, params);
    return numbered(whole, row);
  }

  /**
   * `insertNumbered`, with the order's `order.created` event (from `events`)
   * in the outbox, in the same statement. With `leaseMs` (this process runs a
   * relay) the event's queue row is leased to this process, and the event is
   * returned as committed, for the relay to publish from memory after the
   * commit (see `INSERT_ORDER_WITH_EVENT`); without it, the commit wakes the
   * relays of other processes.
   */
  async insertNumberedWithEvent(
    newOrder: NewOrder,
    events: Pick<OrderEventBuilder, 'created' | 'numbered'>,
    leaseMs?: number,
  ): Promise<{ order: Order; event?: CommittedOrderEvent }> {
    const { whole, params } = insertParameters(newOrder);
    const created = { ...events.created(whole), ...newOrder.trace };
    const data = storedCreatedData(created.data as { order: object });
    checkEventSize(data);
    const leased = leaseMs !== undefined;
    const [row] = await queryPrepared<InsertedRow & { eventPosition: string }>(
      this.em,
      leased ? 'order_insert_with_event_leased' : 'order_insert_with_event',
      leased ? INSERT_ORDER_WITH_EVENT.leased : INSERT_ORDER_WITH_EVENT.notify,
      [
        ...params,
        created.id,
        newOrder.workspaceId,
        whole.id,
        created.type,
        created.sequence,
        data,
        created.traceparent ?? null,
        created.tracestate ?? null,
        ...(leased ? [leaseMs] : []),
      ],
    );
    const order = numbered(whole, row);
    if (!leased || !row) return { order };
    // The event as it is published: with the number and `updated_at` the statement gave the order.
    const event = {
      ...events.numbered(created, order),
      position: row.eventPosition,
      workspaceId: newOrder.workspaceId,
      orderId: order.id,
    };
    return { order, event };
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
    const text = stringifyJson(events);
    // Each event holds the whole order: only a large change needs each one's data measured.
    if (text.length * 3 > MAX_EVENT_DATA_BYTES) for (const event of events) checkEventSize(stringifyJson(event.data));
    await queryOne(this.em, notify ? INSERT_EVENTS.notify : INSERT_EVENTS.quiet, [workspaceId, orderId, text]);
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
    const { records, total } = await pageWithTotal<SummaryRecord>(this.em, 'order_list', filter, rows, count, page);
    return {
      orders: records.slice(0, page.limit).map(toSummary),
      total,
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
    withTotal = true,
  ): Promise<{ orders: Order[]; total?: number; hasMore: boolean }> {
    const knex = this.getKnex();
    const matching = whereWindow(whereFilter(knex('orders as o'), scope, filter), page);
    // `last`: the rows nearest the end of the window, read backwards, then put back in the list's order.
    const reversed = page.fromEnd === true;
    const pageIds = inOrder(whereAfter(matching.clone().select('o.id'), page), page.sort, reversed).limit(
      page.limit + 1,
    );
    // The page's orders are read whole by the statement that chooses them, in its snapshot: read by a
    // later one, an order changed in between came with an updatedAt (and a cursor) past the changes
    // it skipped, and past the sync horizon.
    const pageQuery = inOrder(
      knex.with('page', pageIds).from('page').join('orders as o', 'o.id', 'page.id').select(knex.raw(ORDER_COLUMNS)),
      page.sort,
      reversed,
    );
    const { records, total } = await pageWithTotal<SelectedOrder>(
      this.em,
      'order_page',
      filter,
      pageQuery,
      withTotal ? matching.clone().count({ n: '*' }) : undefined,
      page,
    );
    const orders = records
      .slice(0, page.limit)
      .map(withMetadata)
      .map((record) => toOrder(record, record.items));
    if (reversed) orders.reverse();
    // hasMore: rows beyond the page in the direction it was read (before it, for `last`).
    return { orders, total, hasMore: records.length > page.limit };
  }
}

export { type ListWindow, listQueries };
