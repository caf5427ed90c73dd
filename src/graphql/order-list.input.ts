import { Field, InputType } from 'type-graphql';
import type { OrderStatus as OrderStatusValue } from '../orders/order.types';
import { renameKeys } from '../shared/case';
import { OrderStatus } from './order.type';
import { DecimalScalar } from './scalars';

@InputType({ description: 'Every field narrows the list; they combine with AND.' })
export class OrderFilter {
  @Field(() => String, { nullable: true, description: 'Only this customer’s orders' })
  customerId?: string;
  @Field(() => OrderStatus, { nullable: true, description: 'Only orders in this status' })
  status?: OrderStatusValue;
  @Field(() => String, {
    nullable: true,
    description: 'YYYY-MM-DD (a day in the workspace time zone) or an ISO 8601 date-time',
  })
  from?: string;
  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD (inclusive) or an ISO 8601 date-time' })
  to?: string;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: 'Only orders whose total is at least this (exact decimal comparison)',
  })
  minTotal?: string;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: 'Only orders whose total is at most this (exact decimal comparison)',
  })
  maxTotal?: string;
  @Field(() => String, {
    nullable: true,
    description: 'Part of the order number or the notes, case-insensitive',
  })
  search?: string;
  @Field(() => String, {
    nullable: true,
    description: 'Exactly this order number, ORD-YYYY-MMDD-NNN (orderByNumber returns the one order itself)',
  })
  orderNumber?: string;
}

/** GraphQL names → the contract's names; the service validates the values. */
export function toFilterRequest(filter: OrderFilter | null | undefined): Record<string, unknown> {
  return filter ? renameKeys({ ...filter }, 'snake') : {};
}
