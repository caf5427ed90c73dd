/**
 * The service's `Order` in the Cekat REST representation: snake_case names,
 * amounts as JSON numbers, absent optional fields left out.
 */
import type { Address, Order, OrderItem, OrderList, OrderSummary } from '../orders/order.types';
import { ADDRESS_FIELDS } from '../orders/create-order.schema';
import { renameKeys, type SnakeKeys } from '../shared/case';
import { NumberLiteral } from '../shared/exact-json';

/** Each address field in the contract's name and in the service's, in the contract's order. */
const ADDRESS_KEYS = ADDRESS_FIELDS.map(
  (field) => [field, Object.keys(renameKeys({ [field]: '' }, 'camel'))[0] as keyof Address] as const,
);

/**
 * An address in the contract's order of fields (the seed's `name, address, city, state,
 * postal_code, country`), whatever order it was sent or stored in (jsonb keeps its own).
 */
function toRestAddress(address: Address): NonNullable<RestOrder['shipping_address']> {
  const rest: Record<string, string> = {};
  for (const [field, key] of ADDRESS_KEYS) if (address[key] !== undefined) rest[field] = address[key];
  return rest;
}

/**
 * Amounts are capped at 15 significant digits (see `orders/money.ts`), so the
 * decimal string converts to a double that prints back exactly.
 */
const amount = (value: string): number => Number(value);

/**
 * An amount as an HTTP answer writes it: the JSON number spelled with the currency's digits, as
 * the Cekat document writes `"price": 99.00`. The value is the same as `amount`'s; the spelling
 * is what a client that keeps the literal sees (Python's `parse_float=Decimal` gives
 * `Decimal('99.00')`, where `99` would be an `int` without `quantize`). The service's amounts
 * already carry exactly the currency's digits (`formatStoredAmount`).
 */
const spelledAmount = (value: string): NumberLiteral => new NumberLiteral(value);

/**
 * ISO 8601 UTC to the second, as the Cekat API writes it: `2025-03-27T15:00:00Z`.
 * `toISOString` always ends in `.sssZ` (also for years past 9999), so its last five characters go.
 */
export const timestamp = (value: Date): string => `${value.toISOString().slice(0, -5)}Z`;

/** An order's line in the REST representation, with its amounts as `A`. */
type RestItem<A = number> = SnakeKeys<Omit<OrderItem, 'price' | 'subtotal'>> & { price: A; subtotal: A };

/**
 * An order in the REST representation: what `renameKeys(order, 'snake')` gives, with times as
 * text and amounts as numbers (`A = number`, events) or as spelled literals (HTTP answers).
 */
export type RestOrder<A = number> = SnakeKeys<
  Omit<
    Order,
    'items' | 'subtotal' | 'shipping' | 'tax' | 'total' | 'statusHistory' | 'createdAt' | 'updatedAt'
  >
> & {
  items: RestItem<A>[];
  subtotal: A;
  shipping: A;
  tax: A;
  total: A;
  status_history: { status: Order['status']; timestamp: string }[];
  created_at: string;
  updated_at: string;
};

function toRestItem<A>(item: OrderItem, amount: (value: string) => A): RestItem<A> {
  const rest = { product_id: item.productId } as RestItem<A>;
  if (item.name !== undefined) rest.name = item.name;
  rest.quantity = item.quantity;
  rest.price = amount(item.price);
  if (item.sku !== undefined) rest.sku = item.sku;
  rest.subtotal = amount(item.subtotal);
  return rest;
}

/**
 * Written out field by field, in the order of `Order`'s fields (which is the
 * order `JSON.stringify` keeps), and with absent fields left out: every
 * create, read and update presents one, and a create twice (its answer and
 * its event), where the generic renaming of the whole order was the largest
 * cost of the presenter. The addresses, whose keys are the contract's, still
 * are written in the contract's order of fields (see `toRestAddress`); metadata is the caller's and is passed as it is.
 * test/unit/order-presenter.test.ts checks it against the generic renaming.
 */
export function toRestOrder(order: Order): RestOrder {
  return presentOrder(order, amount);
}

/** The order as `GET /api/orders/:id` writes it: `toRestOrder`'s, with amounts spelled with the currency's digits. */
export function toRestOrderAnswer(order: Order): RestOrder<NumberLiteral> {
  return presentOrder(order, spelledAmount);
}

function presentOrder<A>(order: Order, amount: (value: string) => A): RestOrder<A> {
  const rest = {
    id: order.id,
    order_number: order.orderNumber,
    customer_id: order.customerId,
    status: order.status,
    items: order.items.map((item) => toRestItem(item, amount)),
    subtotal: amount(order.subtotal),
    shipping: amount(order.shipping),
    tax: amount(order.tax),
    total: amount(order.total),
    currency: order.currency,
  } as RestOrder<A>;
  if (order.shippingAddress !== undefined) rest.shipping_address = toRestAddress(order.shippingAddress);
  if (order.billingAddress !== undefined) rest.billing_address = toRestAddress(order.billingAddress);
  if (order.notes !== undefined) rest.notes = order.notes;
  if (order.metadata !== undefined) rest.metadata = order.metadata;
  if (order.trackingNumber !== undefined) rest.tracking_number = order.trackingNumber;
  if (order.trackingUrl !== undefined) rest.tracking_url = order.trackingUrl;
  rest.status_history = order.statusHistory.map((change) => ({
    status: change.status,
    timestamp: timestamp(change.timestamp),
  }));
  rest.created_at = timestamp(order.createdAt);
  rest.updated_at = timestamp(order.updatedAt);
  return rest;
}

type RestSummary = SnakeKeys<Omit<OrderSummary, 'total' | 'createdAt' | 'updatedAt'>> & {
  total: NumberLiteral;
  created_at: string;
  updated_at: string;
};

/** Written out field by field: a list maps up to 100 summaries per request, and the generic renaming was its largest cost. */
export function toRestSummary(order: OrderSummary): RestSummary {
  const summary = {
    id: order.id,
    order_number: order.orderNumber,
    customer_id: order.customerId,
    status: order.status,
    items_count: order.itemsCount,
    total: spelledAmount(order.total),
    currency: order.currency,
  } as RestSummary;
  // In the contract's order (§3): tracking_number, when there is one, before the timestamps.
  if (order.trackingNumber !== undefined) summary.tracking_number = order.trackingNumber;
  summary.created_at = timestamp(order.createdAt);
  summary.updated_at = timestamp(order.updatedAt);
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
