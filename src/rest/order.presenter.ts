/**
 * The service's `Order` in the Cekat REST representation: snake_case names,
 * amounts as JSON numbers, absent optional fields left out.
 */
import type { Order, OrderList, OrderSummary } from '../orders/order.types';
import { renameKeys, type SnakeKeys } from '../shared/case';

/**
 * Amounts are capped at 15 significant digits (see `orders/money.ts`), so the
 * decimal string converts to a double that prints back exactly.
 */
const amount = (value: string): number => Number(value);

/** ISO 8601 UTC to the second, as the Cekat API writes it: `2025-03-27T15:00:00Z`. */
export const timestamp = (value: Date): string => value.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function toRestOrder(order: Order) {
  return renameKeys(
    {
      ...order,
      items: order.items.map((item) => ({ ...item, price: amount(item.price), subtotal: amount(item.subtotal) })),
      subtotal: amount(order.subtotal),
      shipping: amount(order.shipping),
      tax: amount(order.tax),
      total: amount(order.total),
      statusHistory: order.statusHistory.map((change) => ({ status: change.status, timestamp: timestamp(change.timestamp) })),
      createdAt: timestamp(order.createdAt),
      updatedAt: timestamp(order.updatedAt),
    },
    'snake',
  );
}

type RestSummary = SnakeKeys<Omit<OrderSummary, 'total' | 'createdAt' | 'updatedAt'>> & {
  total: number;
  created_at: string;
  updated_at: string;
};

/** Written out field by field: a list maps up to 100 summaries per request, and the generic renaming was its largest cost. */
export function toRestSummary(order: OrderSummary): RestSummary {
  const summary: RestSummary = {
    id: order.id,
    order_number: order.orderNumber,
    customer_id: order.customerId,
    status: order.status,
    items_count: order.itemsCount,
    total: amount(order.total),
    currency: order.currency,
    created_at: timestamp(order.createdAt),
    updated_at: timestamp(order.updatedAt),
  };
  if (order.trackingNumber !== undefined) summary.tracking_number = order.trackingNumber;
  return summary;
}

export function toRestList(list: OrderList) {
  return {
    success: true as const,
    data: list.orders.map(toRestSummary),
    pagination: {
      total: list.total,
      limit: list.limit,
      offset: list.offset,
      has_more: list.hasMore,
      next_cursor: list.nextCursor,
    },
  };
}
