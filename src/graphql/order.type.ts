/**
 * GraphQL output types. They are shaped like the service's `Order` values, not
 * like entities: nothing here is stored, and nothing stored is exposed unless
 * a field is declared below.
 */
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import type { JsonObject, OrderStatus as OrderStatusValue } from '../orders/order.types';
import { listCost, MAX_ITEMS, MAX_STATUS_HISTORY } from './cost';
import { DecimalScalar } from './scalars';

// The enum's values are the service's status strings, so service values pass through unchanged.
export enum OrderStatus {
  PENDING = 'pending',
  PAID = 'paid',
  PROCESSING = 'processing',
  SHIPPED = 'shipped',
  DELIVERED = 'delivered',
  CANCELLED = 'cancelled',
  REFUNDED = 'refunded',
}
registerEnumType(OrderStatus, { name: 'OrderStatus', description: 'Where an order is in its life.' });

@ObjectType({ simpleResolvers: true })
export class Address {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => String, { nullable: true }) company?: string;
  @Field(() => String, { nullable: true }) address?: string;
  @Field(() => String, { nullable: true }) address2?: string;
  @Field(() => String, { nullable: true }) city?: string;
  @Field(() => String, { nullable: true }) state?: string;
  @Field(() => String, { nullable: true }) postalCode?: string;
  @Field(() => String, { nullable: true, description: 'ISO 3166-1 alpha-2 code' }) country?: string;
  @Field(() => String, { nullable: true }) phone?: string;
  @Field(() => String, { nullable: true }) email?: string;
}

@ObjectType({ simpleResolvers: true })
export class OrderItem {
  @Field(() => String) productId!: string;
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => Int) quantity!: number;
  @Field(() => DecimalScalar, { description: 'Unit price' }) price!: string;
  @Field(() => String, { nullable: true }) sku?: string;
  @Field(() => DecimalScalar, { description: 'quantity × price' }) subtotal!: string;
}

@ObjectType({ simpleResolvers: true })
export class StatusChange {
  @Field(() => OrderStatus) status!: OrderStatusValue;
  @Field(() => Date) timestamp!: Date;
}

@ObjectType({ simpleResolvers: true })
export class Order {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'ORD-YYYY-MMDD-NNN, unique in the workspace' }) orderNumber!: string;
  @Field(() => String) customerId!: string;
  @Field(() => OrderStatus) status!: OrderStatusValue;
  @Field(() => [OrderItem], { complexity: listCost(MAX_ITEMS) }) items!: OrderItem[];
  @Field(() => DecimalScalar) subtotal!: string;
  @Field(() => DecimalScalar) shipping!: string;
  @Field(() => DecimalScalar) tax!: string;
  @Field(() => DecimalScalar) total!: string;
  @Field(() => String, { description: 'ISO 4217 code' }) currency!: string;
  @Field(() => Address, { nullable: true }) shippingAddress?: Address;
  @Field(() => Address, { nullable: true }) billingAddress?: Address;
  @Field(() => String, { nullable: true }) notes?: string;
  @Field(() => JSONResolver, { nullable: true }) metadata?: JsonObject;
  @Field(() => String, { nullable: true }) trackingNumber?: string;
  @Field(() => String, { nullable: true }) trackingUrl?: string;
  @Field(() => [StatusChange], { complexity: listCost(MAX_STATUS_HISTORY) }) statusHistory!: StatusChange[];
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date) updatedAt!: Date;
}

@ObjectType({ simpleResolvers: true, description: 'An input or business error of a mutation.' })
export class UserError {
  @Field(() => [String], { description: 'Path to the input field, e.g. ["input", "items", "0", "price"]' })
  field!: string[];

  @Field(() => String) message!: string;

  @Field(() => String, { description: 'Stable error code, e.g. VALIDATION_ERROR or TOTAL_MISMATCH' })
  code!: string;
}

@ObjectType({ simpleResolvers: true })
export class CreateOrderPayload {
  @Field(() => Order, { nullable: true }) order!: Order | null;
  @Field(() => Boolean, { description: 'True when an earlier request with the same idempotencyKey created this order' })
  replayed!: boolean;
  @Field(() => [UserError]) userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class UpdateOrderPayload {
  @Field(() => Order, { nullable: true }) order!: Order | null;
  @Field(() => [UserError]) userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class OrderEdge {
  @Field(() => String, { description: 'Opaque; pass it as `after` to get the orders that follow' }) cursor!: string;
  @Field(() => Order) node!: Order;
}

@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => Boolean) hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true }) startCursor!: string | null;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'Orders newest first, as a Relay connection.' })
export class OrderConnection {
  @Field(() => [OrderEdge]) edges!: OrderEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int, { description: 'Orders matching the filter, across all pages' }) totalCount!: number;
}
