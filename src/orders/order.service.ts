import { LockMode } from '@mikro-orm/core';
import { type EntityManager, type Knex, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { AppError, collectFieldErrors, ErrorCode, type FieldError } from '../errors/app-error';
import { computeTotals, parseCreateOrderRequest, type OrderDraft } from './create-order.validation';
import { checkIdempotencyKey, claimKey, fingerprint, rememberKey, sweepExpiredKeys } from './idempotency';
import { formatMinor, formatStoredAmount } from './money';
import {
  afterCursor,
  applyOrderFilter,
  checkPageSize,
  decodeCursor,
  encodeCursor,
  type OffsetPage,
  type OrderFilter,
  orderNewestFirst,
  parseListQuery,
  parseOrderFilter,
} from './order-query';
import { assertStatusMove } from './order-status';
import { mergeMetadata, parseUpdateOrderRequest } from './update-order.validation';
import { OrderEntity, OrderItemEntity } from './order.entity';
import { toOrder, type OrderItemRow, type OrderRow } from './order.mapper';
import { queryBuilt } from '../db/sql';
import { isOrderId, newOrderId } from './order-id';
import { insertOrder } from './order-insert';
import { findOrder, findOrdersByIds } from './order-read';
import { isOrderNumber, localDay } from './order-number';
import { dropUndefined } from './drop-undefined';
import type { Order, OrderList, OrderPage, OrderStatus, OrderSummary, RequestContext } from './order.types';

/**
 * Every order rule lives here, whichever transport a request arrives by:
 * validation, exact money, order numbers, status, tenancy. Each public method
 * is one use case with at most one transaction.
 */
export interface OrderSettings {
  /** How long a completed create is remembered under its Idempotency-Key. */
  idempotencyTtlMs: number;
}

export const DEFAULT_ORDER_SETTINGS: OrderSettings = { idempotencyTtlMs: 24 * 60 * 60 * 1000 };

export interface CreatedOrder {
  order: Order;
  /** True when this answers a retry: the order was created by an earlier request with the same key. */
  replayed: boolean;
}

/**
 * Every order rule lives here, whichever transport a request arrives by:
 * validation, exact money, order numbers, status, idempotency, tenancy. Each
 * public method is one use case with at most one transaction.
 */
export class OrderService {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: () => Date = () => new Date(),
    private readonly settings: OrderSettings = DEFAULT_ORDER_SETTINGS,
  ) {}

  /** Creates an order without an idempotency key. See `createOrderExactlyOnce`. */
  async createOrder(ctx: RequestContext, request: unknown): Promise<Order> {
    return (await this.createOrderExactlyOnce(ctx, request, undefined)).order;
  }

  /**
   * Creates an order from a request in the contract's shape (see
   * `create-order.schema.ts`). Validation and the total check run before the
   * transaction, so a rejected request never touches the database; the order
   * number is taken inside it, so a create that fails gives its number back.
   *
   * With an idempotency key, a retry of the same request returns the order
   * the first one created (`replayed: true`) instead of creating another; see
   * `idempotency.ts` for how that holds across processes and crashes.
   */
  async createOrderExactlyOnce(ctx: RequestContext, request: unknown, idempotencyKey: string | undefined): Promise<CreatedOrder> {
    const draft = parseCreateOrderRequest(request);
    const totals = computeTotals(draft);
    assertTotalMatches(draft, totals.total);
    if (idempotencyKey === undefined) {
      // One statement, atomic on its own: no explicit transaction needed.
      return { order: await this.insertOrder(this.em.fork(), ctx, draft, totals), replayed: false };
    }
    checkIdempotencyKey(idempotencyKey);
    const requestFingerprint = fingerprint(draft);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.em.fork().transactional(async (em) => {
          const remembered = await claimKey(em, ctx.workspaceId, idempotencyKey, requestFingerprint);
          if (remembered.kind === 'replay') return { order: remembered.order, replayed: true };
          const order = await this.insertOrder(em, ctx, draft, totals);
          await rememberKey(em, {
            workspaceId: ctx.workspaceId,
            key: idempotencyKey,
            fingerprint: requestFingerprint,
            order,
            now: order.createdAt,
            ttlMs: this.settings.idempotencyTtlMs,
          });
          return { order, replayed: false };
        });
      } catch (error) {
        // Another transaction stored the key between our claim and our insert
        // (it committed just as we took the lock): look again, and replay it.
        if (error instanceof UniqueConstraintViolationException && attempt === 1) continue;
        throw error;
      }
    }
  }

  /** Deletes expired idempotency keys in bounded batches (run periodically by the app). */
  async sweepExpiredIdempotencyKeys(): Promise<number> {
    return sweepExpiredKeys(this.em.fork());
  }

  /** Builds the rows of a new order and writes them (see `order-insert.ts`). */
  private async insertOrder(
    em: EntityManager,
    ctx: RequestContext,
    draft: OrderDraft,
    totals: ReturnType<typeof computeTotals>,
  ): Promise<Order> {
    const now = this.clock();
    const money = (minor: bigint) => formatMinor(minor, draft.currency);
    const order: Omit<OrderRow, 'orderNumber'> = {
      id: newOrderId(now),
      customerId: draft.customerId,
      status: 'pending',
      currency: draft.currency.code,
      subtotal: money(totals.subtotal),
      shipping: money(draft.shippingMinor),
      tax: money(draft.taxMinor),
      total: money(totals.total),
      shippingAddress: draft.shippingAddress ?? null,
      billingAddress: draft.billingAddress ?? null,
      notes: draft.notes ?? null,
      metadata: draft.metadata ?? null,
      trackingNumber: null,
      trackingUrl: null,
      statusHistory: [{ status: 'pending', timestamp: now.toISOString() }],
      createdAt: now,
      updatedAt: now,
    };
    const items: OrderItemRow[] = draft.items.map((item, position) => ({
      position,
      productId: item.productId,
      name: item.name ?? null,
      quantity: item.quantity,
      price: money(item.priceMinor),
      sku: item.sku ?? null,
      subtotal: money(totals.itemSubtotals[position] ?? 0n),
    }));
    const orderNumber = await insertOrder(em, ctx.workspaceId, localDay(now, ctx.timeZone), order, items);
    return toOrder({ ...order, orderNumber }, items);
  }

  /** One order of the caller's workspace. Another workspace's order is NOT_FOUND, exactly like a missing one. */
  async getOrder(ctx: RequestContext, id: string): Promise<Order> {
    assertCouldExist(id, isOrderId);
    const order = await findOrder(this.em.fork(), ctx.workspaceId, { id });
    if (!order) throw AppError.notFound(`Order ${id}`);
    return order;
  }

  async getOrderByNumber(ctx: RequestContext, orderNumber: string): Promise<Order> {
    assertCouldExist(orderNumber, isOrderNumber);
    const order = await findOrder(this.em.fork(), ctx.workspaceId, { orderNumber });
    if (!order) throw AppError.notFound(`Order ${orderNumber}`);
    return order;
  }

  /**
   * The REST list: filters, `limit` and `offset` from the query string (contract §3),
   * newest first. Unknown or malformed parameters are a VALIDATION_ERROR naming them.
   */
  async listOrders(ctx: RequestContext, query: Record<string, unknown>): Promise<OrderList> {
    const { filter, page } = parseListQuery(query);
    const em = this.em.fork();
    const { rows: rowsQuery, count: countQuery } = listQueries(em.getKnex(), ctx, filter, page);
    const [rows, [count]] = await Promise.all([
      queryBuilt<SummaryRow>(em, rowsQuery),
      queryBuilt<{ n: string | number }>(em, countQuery),
    ]);
    const total = Number(count?.n ?? 0);
    return {
      orders: rows.map(toSummary),
      total,
      limit: page.limit,
      offset: page.offset,
      hasMore: page.offset + rows.length < total,
    };
  }

  /**
   * The GraphQL list: a keyset-paginated page after an opaque cursor. New
   * orders sort before the first page, so paging on while orders are being
   * created neither skips nor repeats a row.
   */
  async findOrders(
    ctx: RequestContext,
    filterInput: Record<string, unknown>,
    page: { first?: number; after?: string },
  ): Promise<OrderPage> {
    // Every bad argument is reported at once, not only the first one found.
    const errors: FieldError[] = [];
    const filter = collectFieldErrors(errors, () => parseOrderFilter(filterInput));
    const first = collectFieldErrors(errors, () => checkPageSize(page.first, 'first'));
    // An empty cursor means "from the start", as a null one does: some clients send back what an empty page gave them.
    const cursor = page.after ? collectFieldErrors(errors, () => decodeCursor(page.after as string, 'after')) : undefined;
    if (errors.length > 0 || !filter || first === undefined) throw AppError.validation(errors);
    const em = this.em.fork();
    const matching = applyOrderFilter(em.getKnex()('orders as o'), ctx.workspaceId, ctx.timeZone, filter);
    const pageQuery = orderNewestFirst(matching.clone().select('o.id', 'o.created_at')).limit(first + 1);
    if (cursor) afterCursor(pageQuery, cursor);
    const [rows, [count]] = await Promise.all([
      queryBuilt<{ id: string; created_at: Date | string }>(em, pageQuery),
      queryBuilt<{ n: string | number }>(em, matching.clone().count({ n: '*' })),
    ]);
    const pageRows = rows.slice(0, first);
    const orders = await findOrdersByIds(em, ctx.workspaceId, pageRows.map((row) => row.id));
    const edges = orders.map((order) => ({
      cursor: encodeCursor({ createdAt: order.createdAt.toISOString(), id: order.id }),
      order,
    }));
    return {
      edges,
      totalCount: Number(count?.n ?? 0),
      hasNextPage: rows.length > first,
      hasPreviousPage: cursor !== undefined,
    };
  }

  /**
   * Updates status, tracking, notes, metadata (merged) and the shipping
   * address (replaced). The row is locked (`SELECT … FOR UPDATE`) for the
   * transaction, so concurrent updates of one order queue and none is lost.
   * Setting the current status again is a no-op; other moves follow §4.
   */
  async updateOrder(ctx: RequestContext, id: string, request: unknown): Promise<Order> {
    const changes = parseUpdateOrderRequest(request);
    assertCouldExist(id, isOrderId);
    return this.em.fork().transactional(async (em) => {
      const order = await em.findOne(
        OrderEntity,
        { id, workspace: ctx.workspaceId },
        { lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      if (!order) throw AppError.notFound(`Order ${id}`);
      const now = this.clock();
      let changed = false;
      if (changes.status !== undefined && changes.status !== order.status) {
        assertStatusMove(order.status, changes.status);
        order.status = changes.status;
        order.statusHistory = [...order.statusHistory, { status: changes.status, timestamp: now.toISOString() }];
        changed = true;
      }
      const assign = <K extends 'trackingNumber' | 'trackingUrl' | 'notes' | 'metadata' | 'shippingAddress'>(
        key: K,
        value: OrderEntity[K] | undefined,
      ) => {
        if (value === undefined || JSON.stringify(order[key] ?? null) === JSON.stringify(value)) return;
        order[key] = value;
        changed = true;
      };
      assign('trackingNumber', changes.trackingNumber);
      assign('trackingUrl', changes.trackingUrl);
      assign('notes', changes.notes);
      assign('shippingAddress', changes.shippingAddress);
      if (changes.metadata !== undefined) assign('metadata', mergeMetadata(order.metadata, changes.metadata));
      if (changed) order.updatedAt = now;
      await em.flush();
      const items = await em.find(OrderItemEntity, { order: order.id }, { orderBy: { position: 'asc' } });
      return toOrder(order, items);
    });
  }
}

/** The two queries behind a REST list page: its rows, and the count of every match. */
export function listQueries(knex: Knex, ctx: RequestContext, filter: OrderFilter, page: OffsetPage) {
  const matching = applyOrderFilter(knex('orders as o'), ctx.workspaceId, ctx.timeZone, filter);
  const rows = orderNewestFirst(
    matching
      .clone()
      .select(SUMMARY_COLUMNS)
      .select(knex.raw('(select count(*) from order_items i where i.order_id = o.id)::int as items_count')),
  )
    .limit(page.limit)
    .offset(page.offset);
  return { rows, count: matching.clone().count({ n: '*' }) };
}

const SUMMARY_COLUMNS = [
  'o.id',
  'o.order_number',
  'o.customer_id',
  'o.status',
  'o.total',
  'o.currency',
  'o.tracking_number',
  'o.created_at',
  'o.updated_at',
];

interface SummaryRow {
  id: string;
  order_number: string;
  customer_id: string;
  status: OrderStatus;
  total: string;
  currency: string;
  tracking_number: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  items_count: number;
}

function toSummary(row: SummaryRow): OrderSummary {
  return dropUndefined({
    id: row.id,
    orderNumber: row.order_number,
    customerId: row.customer_id,
    status: row.status,
    itemsCount: Number(row.items_count),
    total: formatStoredAmount(row.total, row.currency),
    currency: row.currency,
    trackingNumber: row.tracking_number ?? undefined,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  });
}

/**
 * An id or number of the wrong shape names no order: NOT_FOUND before any
 * query, and without echoing text that may hold anything (NUL, markup).
 */
function assertCouldExist(value: string, couldExist: (value: string) => boolean): void {
  if (!couldExist(value)) throw AppError.notFound('Order');
}

function assertTotalMatches(draft: OrderDraft, computedTotal: bigint): void {
  if (draft.totalMinor === computedTotal) return;
  const money = (minor: bigint) => formatMinor(minor, draft.currency);
  const subtotal = computedTotal - draft.shippingMinor - draft.taxMinor;
  throw new AppError(
    ErrorCode.TOTAL_MISMATCH,
    `total ${money(draft.totalMinor)} does not match the expected total ${money(computedTotal)} ` +
      `(items ${money(subtotal)} + shipping ${money(draft.shippingMinor)} + tax ${money(draft.taxMinor)})`,
    [{ path: ['total'], message: `must be ${money(computedTotal)}` }],
  );
}
