import { Field, InputType } from 'type-graphql';
import { dropUndefined } from '../orders/drop-undefined';
import { OrderStatus } from './order.type';
import { DecimalScalar } from './scalars';

@InputType({ description: 'Every field narrows the list; they combine with AND.' })
export class OrderFilter {
  @Field(() => String, { nullable: true, description: 'Only this customer’s orders' })
  customerId?: string;
  @Field(() => OrderStatus, { nullable: true, description: 'Only orders in this status' })
  status?: OrderStatus;
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
}

/** GraphQL names → the contract's names; the service validates the values. */
export function toFilterRequest(filter: OrderFilter | null | undefined): Record<string, unknown> {
  if (!filter) return {};
  return dropUndefined({
    customer_id: filter.customerId,
    status: filter.status,
    from: filter.from,
    to: filter.to,
    min_total: filter.minTotal,
    max_total: filter.maxTotal,
    search: filter.search,
  });
}
