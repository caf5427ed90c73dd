/**
 * The repository's rows, typed from the entities, and how they become the
 * service's plain values. Amounts get exactly the currency's digits; SQL
 * `null` becomes an absent field.
 */
import type { EntityRepositoryType, OptionalProps } from '@mikro-orm/core';
import { formatStoredAmount } from './money';
import type { OrderEntity, OrderItemEntity } from './order.entity';
import type { EventTrace, Order, OrderItem, OrderSummary } from './order.types';

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
  /** The creating request's trace context, for its `order.created` event. */
  trace?: EventTrace;
}

/** An item row as the service's value; a column that is SQL `null` becomes an absent field. */
function toItem(item: ItemRecord, money: (value: string) => string): OrderItem {
  const value = { productId: item.productId } as OrderItem;
  if (item.name != null) value.name = item.name;
  value.quantity = item.quantity;
  value.price = money(item.price);
  if (item.sku != null) value.sku = item.sku;
  value.subtotal = money(item.subtotal);
  return value;
}

/**
 * A stored order as the service's value. Optional fields are added when
 * present rather than deleted when absent (deleting a key makes V8 keep the
 * object as a slow dictionary), in `Order`'s field order.
 */
export function toOrder(record: OrderRecord, items: readonly ItemRecord[]): Order {
  const money = (value: string) => formatStoredAmount(value, record.currency);
  const order = {
    id: record.id,
    orderNumber: record.orderNumber,
    customerId: record.customerId,
    status: record.status,
    items: items.map((item) => toItem(item, money)),
    subtotal: money(record.subtotal),
    shipping: money(record.shipping),
    tax: money(record.tax),
    total: money(record.total),
    currency: record.currency,
  } as Order;
  if (record.shippingAddress != null) order.shippingAddress = record.shippingAddress;
  if (record.billingAddress != null) order.billingAddress = record.billingAddress;
  if (record.notes != null) order.notes = record.notes;
  if (record.metadata != null) order.metadata = record.metadata;
  if (record.trackingNumber != null) order.trackingNumber = record.trackingNumber;
  if (record.trackingUrl != null) order.trackingUrl = record.trackingUrl;
  order.statusHistory = record.statusHistory.map((change) => ({
    status: change.status,
    timestamp: new Date(change.timestamp),
  }));
  // Drivers differ: a server's rows carry Dates, a JSON aggregate carries strings.
  order.createdAt = new Date(record.createdAt);
  order.updatedAt = new Date(record.updatedAt);
  // A row read as text (a JSON aggregate) may carry it as a string.
  order.version = Number(record.version);
  return order;
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
