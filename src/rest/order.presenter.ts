/**
 * The service's `Order` in the Cekat REST representation: snake_case names,
 * amounts as JSON numbers, absent optional fields left out.
 */
import { dropUndefined } from '../orders/drop-undefined';
import type { Address, Order, OrderList, OrderSummary } from '../orders/order.types';

/**
 * Amounts are capped at 15 significant digits (see `orders/money.ts`), so the
 * decimal string converts to a double that prints back exactly.
 */
const amount = (value: string): number => Number(value);

/** ISO 8601 UTC to the second, as the Cekat API writes it: `2025-03-27T15:00:00Z`. */
export const timestamp = (value: Date): string => value.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function toRestOrder(order: Order) {
  return dropUndefined({
    id: order.id,
    order_number: order.orderNumber,
    customer_id: order.customerId,
    status: order.status,
    items: order.items.map((item) =>
      dropUndefined({
        product_id: item.productId,
        name: item.name,
        quantity: item.quantity,
        price: amount(item.price),
        sku: item.sku,
        subtotal: amount(item.subtotal),
      }),
    ),
    subtotal: amount(order.subtotal),
    shipping: amount(order.shipping),
    tax: amount(order.tax),
    total: amount(order.total),
    currency: order.currency,
    shipping_address: toRestAddress(order.shippingAddress),
    billing_address: toRestAddress(order.billingAddress),
    notes: order.notes,
    metadata: order.metadata,
    tracking_number: order.trackingNumber,
    tracking_url: order.trackingUrl,
    status_history: order.statusHistory.map((change) => ({
      status: change.status,
      timestamp: timestamp(change.timestamp),
    })),
    created_at: timestamp(order.createdAt),
    updated_at: timestamp(order.updatedAt),
  });
}

function toRestAddress(address: Address | undefined) {
  if (!address) return undefined;
  return dropUndefined({
    name: address.name,
    company: address.company,
    address: address.address,
    address2: address.address2,
    city: address.city,
    state: address.state,
    postal_code: address.postalCode,
    country: address.country,
    phone: address.phone,
    email: address.email,
  });
}

export function toRestSummary(order: OrderSummary) {
  return dropUndefined({
    id: order.id,
    order_number: order.orderNumber,
    customer_id: order.customerId,
    status: order.status,
    items_count: order.itemsCount,
    total: amount(order.total),
    currency: order.currency,
    tracking_number: order.trackingNumber,
    created_at: timestamp(order.createdAt),
    updated_at: timestamp(order.updatedAt),
  });
}

export function toRestList(list: OrderList) {
  return {
    success: true as const,
    data: list.orders.map(toRestSummary),
    pagination: { total: list.total, limit: list.limit, offset: list.offset, has_more: list.hasMore },
  };
}
