/** Entity → the service's plain `Order`. Amounts get exactly the currency's digits. */
import { dropUndefined } from './drop-undefined';
import { formatStoredAmount } from './money';
import type { OrderEntity, OrderItemEntity } from './order.entity';
import type { Order, OrderItem } from './order.types';

/** The columns of an order, whether just inserted or loaded. */
export type OrderRow = Omit<OrderEntity, 'workspace' | 'items'>;
export type OrderItemRow = Omit<OrderItemEntity, 'order'>;

export function toOrder(entity: OrderRow, items: readonly OrderItemRow[]): Order {
  const money = (value: string) => formatStoredAmount(value, entity.currency);
  return dropUndefined({
    id: entity.id,
    orderNumber: entity.orderNumber,
    customerId: entity.customerId,
    status: entity.status,
    items: items.map(
      (item): OrderItem =>
        dropUndefined({
          productId: item.productId,
          name: item.name ?? undefined,
          quantity: item.quantity,
          price: money(item.price),
          sku: item.sku ?? undefined,
          subtotal: money(item.subtotal),
        }),
    ),
    subtotal: money(entity.subtotal),
    shipping: money(entity.shipping),
    tax: money(entity.tax),
    total: money(entity.total),
    currency: entity.currency,
    shippingAddress: entity.shippingAddress ?? undefined,
    billingAddress: entity.billingAddress ?? undefined,
    notes: entity.notes ?? undefined,
    metadata: entity.metadata ?? undefined,
    trackingNumber: entity.trackingNumber ?? undefined,
    trackingUrl: entity.trackingUrl ?? undefined,
    statusHistory: entity.statusHistory.map((change) => ({ status: change.status, timestamp: new Date(change.timestamp) })),
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
  });
}
