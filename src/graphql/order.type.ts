/**
 * GraphQL output types. They are shaped like the service's `Order` values, not
 * like entities: nothing here is stored, and nothing stored is exposed unless
 * a field is declared below.
 */
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ORDER_STATUSES, type JsonObject, type OrderStatus as OrderStatusValue } from '../orders/order.types';
import { addressFields } from './address-fields';
import { listCost, MAX_ITEMS, MAX_STATUS_HISTORY } from './cost';
import { Node } from './node.type';
import { DecimalScalar, JsonScalar } from './scalars';

/** The service's statuses, named in upper case; the values are the service's strings, so they pass through unchanged. */
export const OrderStatus = Object.fromEntries(ORDER_STATUSES.map((status) => [status.toUpperCase(), status])) as {
  [S in OrderStatusValue as Uppercase<S>]: S;
};
registerEnumType(OrderStatus, {
  name: 'OrderStatus',
  description: 'Where an order is in its life. Moves follow the status machine of the API contract.',
  valuesConfig: {
    PENDING: { description: 'Created, not yet paid' },
    PAID: { description: 'Payment received' },
    PROCESSING: { description: 'Being prepared' },
    SHIPPED: { description: 'Handed to the carrier' },
    DELIVERED: { description: 'Received by the customer' },
    CANCELLED: { description: 'Cancelled before it shipped' },
    REFUNDED: { description: 'Paid back to the customer' },
  },
});

/** The codes a mutation's `userErrors` carry: the service's codes a client can act on by changing its input. */
export enum UserErrorCode {
  VALIDATION_ERROR = 'VALIDATION_ERROR',
  TOTAL_MISMATCH = 'TOTAL_MISMATCH',
  NOT_FOUND = 'NOT_FOUND',
  INVALID_STATUS_TRANSITION = 'INVALID_STATUS_TRANSITION',
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_REQUEST_IN_PROGRESS = 'IDEMPOTENCY_REQUEST_IN_PROGRESS',
  PRECONDITION_FAILED = 'PRECONDITION_FAILED',
}
registerEnumType(UserErrorCode, {
  name: 'UserErrorCode',
  description: 'Why a mutation refused its input. Stable: branch on it, not on the message.',
  valuesConfig: {
    VALIDATION_ERROR: { description: 'A field is missing, malformed or out of range; `field` names it' },
    TOTAL_MISMATCH: { description: 'total is not Σ(quantity × price) + shipping + tax' },
    NOT_FOUND: { description: 'Nothing with this id in your workspace (an order, a webhook endpoint or delivery); `field` names the id' },
    INVALID_STATUS_TRANSITION: {
      description: 'The status machine does not allow this move; the message lists the allowed ones',
    },
    IDEMPOTENCY_KEY_REUSED: { description: 'The idempotencyKey was used before with a different input' },
    IDEMPOTENCY_REQUEST_IN_PROGRESS: {
      description: 'The first request with this idempotencyKey is still running; retry shortly',
    },
    PRECONDITION_FAILED: {
      description:
        'The order is no longer at the expectedVersion: nothing was changed. Read it again (its version) and retry',
    },
  },
});

@ObjectType({ simpleResolvers: true, description: 'A postal address. Every field is optional.' })
export class Address {}
addressFields(Address, 'output');

@ObjectType({ simpleResolvers: true, description: 'One line of an order.' })
export class OrderItem {
  @Field(() => String, { description: 'Your id of the product' })
  productId!: string;
  @Field(() => String, { nullable: true, description: 'Product name at the time of the order' })
  name?: string;
  @Field(() => Int, { description: 'Units ordered, 1 to 1,000,000' })
  quantity!: number;
  @Field(() => DecimalScalar, { description: 'Unit price in the order currency' })
  price!: string;
  @Field(() => String, { nullable: true, description: 'Stock-keeping unit, when one was given' })
  sku?: string;
  @Field(() => DecimalScalar, { description: 'Quantity × price' })
  subtotal!: string;
}

@ObjectType({ simpleResolvers: true, description: 'One move in an order’s status history.' })
export class StatusChange {
  @Field(() => OrderStatus, { description: 'The status the order moved to' })
  status!: OrderStatusValue;
  @Field(() => Date, { description: 'When it moved' })
  timestamp!: Date;
}

@ObjectType({
  simpleResolvers: true,
  implements: Node,
  description: 'An order of your workspace. Amounts are exact decimals in the order currency.',
})
export class Order implements Node {
  @Field(() => ID, { description: 'Opaque id: order_ followed by a ULID' })
  id!: string;
  @Field(() => String, {
    description: 'ORD-YYYY-MMDD-NNN, unique in the workspace, numbered per day in the workspace time zone',
  })
  orderNumber!: string;
  @Field(() => String, { description: 'Your id of the customer (a contact id)' })
  customerId!: string;
  @Field(() => OrderStatus, { description: 'Where the order is in its life' })
  status!: OrderStatusValue;
  @Field(() => [OrderItem], {
    description: 'The order lines, in the order they were sent',
    complexity: listCost(MAX_ITEMS),
  })
  items!: OrderItem[];
  @Field(() => DecimalScalar, { description: 'Sum of the item subtotals' })
  subtotal!: string;
  @Field(() => DecimalScalar, { description: 'Shipping charged' })
  shipping!: string;
  @Field(() => DecimalScalar, { description: 'Tax charged' })
  tax!: string;
  @Field(() => DecimalScalar, { description: 'Subtotal + shipping + tax, exactly' })
  total!: string;
  @Field(() => String, { description: 'ISO 4217 code of every amount in the order' })
  currency!: string;
  @Field(() => Address, { nullable: true, description: 'Where the order is shipped' })
  shippingAddress?: Address;
  @Field(() => Address, { nullable: true, description: 'Where the order is billed' })
  billingAddress?: Address;
  @Field(() => String, { nullable: true, description: 'Free text from the customer or staff' })
  notes?: string;
  @Field(() => JsonScalar, {
    nullable: true,
    description: 'Your own key-value data. Numbers keep their exact value, also beyond 2^53 or a double’s range',
  })
  metadata?: JsonObject;
  @Field(() => String, { nullable: true, description: 'Carrier tracking number, once shipped' })
  trackingNumber?: string;
  @Field(() => String, { nullable: true, description: 'Carrier tracking page (http or https)' })
  trackingUrl?: string;
  @Field(() => [StatusChange], {
    description: 'Every status the order has had, oldest first',
    complexity: listCost(MAX_STATUS_HISTORY),
  })
  statusHistory!: StatusChange[];
  @Field(() => Date, { description: 'When the order was created' })
  createdAt!: Date;
  @Field(() => Date, { description: 'When the order last changed' })
  updatedAt!: Date;
  @Field(() => Int, {
    description:
      '1 when created, +1 per change (the sequence of its events; REST sends it as the ETag). Pass it as ' +
      'updateOrder\'s expectedVersion to change only the state you read',
  })
  version!: number;
}

@ObjectType({ simpleResolvers: true, description: 'An input or business error of a mutation.' })
export class UserError {
  @Field(() => [String], { description: 'Path to the input field, e.g. ["input", "items", "0", "price"]' })
  field!: string[];

  @Field(() => String, { description: 'What is wrong, for a person to read' })
  message!: string;

  @Field(() => UserErrorCode, { description: 'Stable code to branch on' })
  code!: UserErrorCode;
}

@ObjectType({
  simpleResolvers: true,
  description: 'The result of createOrder: the order, or the reasons it was refused.',
})
export class CreateOrderPayload {
  @Field(() => Order, {
    nullable: true,
    description: 'The created order, or null when userErrors is not empty',
  })
  order!: Order | null;
  @Field(() => Boolean, {
    description: 'True when an earlier request with the same idempotencyKey created this order',
  })
  replayed!: boolean;
  @Field(() => [UserError], { description: 'Input and business errors; empty on success' })
  userErrors!: UserError[];
}

@ObjectType({
  simpleResolvers: true,
  description: 'The result of updateOrder: the order, or the reasons it was refused.',
})
export class UpdateOrderPayload {
  @Field(() => Order, {
    nullable: true,
    description: 'The updated order, or null when userErrors is not empty',
  })
  order!: Order | null;
  @Field(() => [UserError], { description: 'Input and business errors; empty on success' })
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'An order in a page of orders, with its cursor.' })
export class OrderEdge {
  @Field(() => String, { description: 'Opaque; pass it as `after` to get the orders that follow' })
  cursor!: string;
  @Field(() => Order, { description: 'The order' })
  node!: Order;
}

@ObjectType({ simpleResolvers: true, description: 'Relay page information of an order page.' })
export class PageInfo {
  @Field(() => Boolean, {
    description: 'True when more follow endCursor (of a page asked for with last: when it was asked for before a cursor)',
  })
  hasNextPage!: boolean;
  @Field(() => Boolean, {
    description: 'True when the page was asked for after a cursor (of a page asked for with last: when more precede startCursor)',
  })
  hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true, description: 'Cursor of the first edge, or null on an empty page' })
  startCursor!: string | null;
  @Field(() => String, {
    nullable: true,
    description: 'Cursor of the last edge, or null on an empty page; pass it as after for the next page',
  })
  endCursor!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'Orders newest first, as a Relay connection.' })
export class OrderConnection {
  @Field(() => [OrderEdge], { description: 'The orders of this page, newest first' })
  edges!: OrderEdge[];
  @Field(() => PageInfo, { description: 'Where this page is in the list' })
  pageInfo!: PageInfo;
  @Field(() => Int, { description: 'Orders matching the filter, across all pages' }) totalCount!: number;
}
