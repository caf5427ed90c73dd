import type { EntityManager } from '@mikro-orm/postgresql';
import { ulid } from 'ulid';
import { AppError, ErrorCode } from '../errors/app-error';
import { computeTotals, parseCreateOrderRequest, type OrderDraft } from './create-order.validation';
import { formatMinor } from './money';
import { OrderEntity, OrderItemEntity } from './order.entity';
import { toOrder, type OrderItemRow, type OrderRow } from './order.mapper';
import { localDay, nextOrderNumber } from './order-number';
import type { Order, RequestContext } from './order.types';

/**
 * Every order rule lives here, whichever transport a request arrives by:
 * validation, exact money, order numbers, status, tenancy. Each public method
 * is one use case with at most one transaction.
 */
export class OrderService {
  constructor(
    private readonly em: EntityManager,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Creates an order from a request in the contract's shape (see
   * `create-order.schema.ts`). Validation and the total check run before the
   * transaction, so a rejected request never touches the database; the order
   * number is taken inside it, so a create that fails gives its number back.
   */
  async createOrder(ctx: RequestContext, request: unknown): Promise<Order> {
    const draft = parseCreateOrderRequest(request);
    const totals = computeTotals(draft);
    assertTotalMatches(draft, totals.total);

    return this.em.fork().transactional(async (em) => {
      const now = this.clock();
      const orderNumber = await nextOrderNumber(em, ctx.workspaceId, localDay(now, ctx.timeZone));
      const money = (minor: bigint) => formatMinor(minor, draft.currency);
      const order: OrderRow = {
        // ULIDs sort by creation time; their 80 random bits make them unguessable.
        id: `order_${ulid(now.getTime())}`,
        orderNumber,
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
      // Plain inserts: a new order needs no identity map or change-set computation.
      await em.insert(OrderEntity, { ...order, workspace: ctx.workspaceId });
      await em.insertMany(
        OrderItemEntity,
        items.map((item) => ({ ...item, order: order.id })),
      );
      return toOrder(order, items);
    });
  }

  /** One order of the caller's workspace. Another workspace's order is NOT_FOUND, exactly like a missing one. */
  async getOrder(ctx: RequestContext, id: string): Promise<Order> {
    const em = this.em.fork();
    const order = await em.findOne(OrderEntity, { id, workspace: ctx.workspaceId }, { populate: ['items'] });
    if (!order) throw AppError.notFound(`Order ${id}`);
    return toOrder(order, order.items.getItems());
  }
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
