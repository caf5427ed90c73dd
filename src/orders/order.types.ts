/**
 * What the service returns: plain, transport-neutral values. Entities never
 * leave the service, and these types never reach the database.
 */
import type { CamelKeys } from '../shared/case';
import type { AddressInput } from './create-order.schema';

export const ORDER_STATUSES = [
  'pending',
  'paid',
  'processing',
  'shipped',
  'delivered',
  'cancelled',
  'refunded',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** The contract's address in the service's names; a field with no value is absent. */
export type Address = { [K in keyof CamelKeys<AddressInput>]?: string };

export type JsonObject = { [key: string]: unknown };

export interface OrderItem {
  productId: string;
  name?: string;
  quantity: number;
  /** Decimal string with exactly the currency's digits, e.g. "99.00". */
  price: string;
  sku?: string;
  subtotal: string;
}

export interface StatusChange {
  status: OrderStatus;
  timestamp: Date;
}

export interface Order {
  id: string;
  orderNumber: string;
  customerId: string;
  status: OrderStatus;
  items: OrderItem[];
  subtotal: string;
  shipping: string;
  tax: string;
  total: string;
  currency: string;
  shippingAddress?: Address;
  billingAddress?: Address;
  notes?: string;
  metadata?: JsonObject;
  trackingNumber?: string;
  trackingUrl?: string;
  statusHistory: StatusChange[];
  createdAt: Date;
  updatedAt: Date;
  /**
   * 1 when created, +1 per change that changed something (the `sequence` of its events): what a
   * client names to update only the state it read (REST `ETag` / `If-Match`, GraphQL `expectedVersion`).
   */
  version: number;
}

/**
 * A condition an update holds to (RFC 9110 §13.1.1 `If-Match`, or GraphQL's `expectedVersion`): `*`
 * holds for any order that exists, a list for an order whose version is one of them (an empty list
 * never holds). Checked under the update's row lock, so two writers that read one version cannot both win.
 */
export type UpdateCondition = { ifMatch: '*' } | { ifMatch: readonly number[] };

/** Who is asking: every service call is scoped to one workspace. */
export interface RequestContext {
  workspaceId: string;
  /** IANA time zone of the workspace; order numbers use its calendar date. */
  timeZone: string;
  /**
   * The caller's W3C trace context, passed on unchanged in the events of the
   * change this request makes (the CloudEvents Distributed Tracing extension).
   */
  trace?: EventTrace;
}

/** A W3C trace context as events carry it: a valid `traceparent`, and the `tracestate` that came with it. */
export interface EventTrace {
  traceparent: string;
  tracestate?: string;
}

/** A row of the order list (REST `OrderSummary`). */
export interface OrderSummary {
  id: string;
  orderNumber: string;
  customerId: string;
  status: OrderStatus;
  /** Number of lines (items) in the order. */
  itemsCount: number;
  total: string;
  currency: string;
  trackingNumber?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface OrderList {
  orders: OrderSummary[];
  total: number;
  limit: number;
  offset: number;
  hasMore: boolean;
  /** Where the next page starts (`cursor`), or null on the last page. */
  nextCursor: string | null;
}

/** A page of a cursor-paginated list (GraphQL's Relay connection). */
export interface OrderPage {
  edges: { cursor: string; order: Order }[];
  /** Every match, counted only when asked for (`withTotal`): a count reads every match. */
  totalCount?: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}
