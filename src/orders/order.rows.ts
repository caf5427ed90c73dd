/**
 * The repository's rows, typed from the entities, and how they become the
 * service's plain values. Amounts get exactly the currency's digits; SQL
 * `null` becomes an absent field.
 */
import type { EntityRepositoryType, OptionalProps } from '@mikro-orm/core';
import { dropUndefined } from '../shared/drop-undefined';
import { formatStoredAmount } from './money';
import type { OrderEntity, OrderItemEntity } from './order.entity';
import type { Order, OrderItem, OrderSummary } from './order.types';

/** An order's columns under its entity's property names, as written or read back. */
export type OrderRecord = Omit<
  OrderEntity,
  'workspace' | 'items' | typeof EntityRepositoryType | typeof OptionalProps
>;
/** An item's columns under its entity's property names. */
export type ItemRecord = Omit<OrderItemEntity, 'order'>;
/** A row of the list: the summary columns and the number of lines. */
export type SummaryRecord = Pick<
  OrderRecord,
  | 'id'
  | 'orderNumber'
  | 'customerId'
  | 'status'
  | 'total'
  | 'currency'
  | 'trackingNumber'
  | 'createdAt'
  | 'updatedAt'
> & {
  itemsCount: number | string;
};

/** What the repository needs to write a new order; the number comes from the workspace's counter for `day`. */
export interface NewOrder {
  workspaceId: string;
  /** The workspace-local calendar date, `YYYY-MM-DD`. */
  day: string;
  order: Omit<OrderRecord, 'orderNumber'>;
  items: ItemRecord[];
}

export function toOrder(record: OrderRecord, items: readonly ItemRecord[]): Order {
  const money = (value: string) => formatStoredAmount(value, record.currency);
  return dropUndefined({
    id: record.id,
    orderNumber: record.orderNumber,
    customerId: record.customerId,
    status: record.status,
    items: items.map((item): OrderItem =>
      dropUndefined({
        productId: item.productId,
        name: item.name ?? undefined,
        quantity: item.quantity,
        price: money(item.price),
        sku: item.sku ?? undefined,
        subtotal: money(item.subtotal),
      }),
    ),
    subtotal: money(record.subtotal),
    shipping: money(record.shipping),
    tax: money(record.tax),
    total: money(record.total),
    currency: record.currency,
    shippingAddress: record.shippingAddress ?? undefined,
    billingAddress: record.billingAddress ?? undefined,
    notes: record.notes ?? undefined,
    metadata: record.metadata ?? undefined,
    trackingNumber: record.trackingNumber ?? undefined,
    trackingUrl: record.trackingUrl ?? undefined,
    statusHistory: record.statusHistory.map((change) => ({
      status: change.status,
      timestamp: new Date(change.timestamp),
    })),
    // Drivers differ: a server's rows carry Dates, a JSON aggregate carries strings.
    createdAt: new Date(record.createdAt),
    updatedAt: new Date(record.updatedAt),
  });
}

export function toSummary(record: SummaryRecord): OrderSummary {
  // A list maps up to 100 of these per request: the one optional field is added, not deleted, which keeps the object fast.
  const summary: OrderSummary = {
    id: record.id,
    orderNumber: record.orderNumber,
    customerId: record.customerId,
    status: record.status,
    itemsCount: Number(record.itemsCount),
    total: formatStoredAmount(record.total, record.currency),
    currency: record.currency,
    createdAt: new Date(record.createdAt),
    updatedAt: new Date(record.updatedAt),
  };
  if (record.trackingNumber != null) summary.trackingNumber = record.trackingNumber;
  return summary;
}
