import { Field, InputType, registerEnumType } from 'type-graphql';
import type { OrderStatus as OrderStatusValue } from '../orders/order.types';
import { renameKeys } from '../shared/case';
import { OrderStatus } from './order.type';
import { type DecimalInput, DecimalScalar } from './scalars';

@InputType({ description: 'Every field narrows the list; they combine with AND.' })
export class OrderFilter {
  @Field(() => String, { nullable: true, description: 'Only this customer’s orders' })
  customerId?: string;
  @Field(() => OrderStatus, { nullable: true, description: 'Only orders in this status' })
  status?: OrderStatusValue;
  @Field(() => String, {
    nullable: true,
    description: 'YYYY-MM-DD (a day in the workspace time zone) or an ISO 8601 date-time (without an offset, in the workspace time zone)',
  })
  from?: string;
  @Field(() => String, {
    nullable: true,
    description:
      'YYYY-MM-DD or an ISO 8601 date-time (without an offset, in the workspace time zone), inclusive: the whole day, minute or second it names (with a fraction, exact)',
  })
  to?: string;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: 'Only orders whose total is at least this (exact decimal comparison)',
  })
  minTotal?: DecimalInput;
  @Field(() => DecimalScalar, {
    nullable: true,
    description: 'Only orders whose total is at most this (exact decimal comparison)',
  })
  maxTotal?: DecimalInput;
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
  @Field(() => String, {
    nullable: true,
    description:
      'Only orders changed at or after this RFC 3339 date-time with a zone (inclusive). With orderBy: UPDATED_AT_ASC, ' +
      'the way to sync: changes still being committed are held back, so continuing never skips one',
  })
  updatedSince?: string;
}

/** The list's order; the values are the service's sort names. */
export enum OrdersOrderBy {
  CREATED_AT_DESC = '-created_at',
  UPDATED_AT_ASC = 'updated_at',
}
registerEnumType(OrdersOrderBy, {
  name: 'OrdersOrderBy',
  description: 'The order of orders(); ties are broken by id. A cursor belongs to the order it came from.',
  valuesConfig: {
    CREATED_AT_DESC: { description: 'Newest first by creation (the default)' },
    UPDATED_AT_ASC: { description: 'Oldest change first: for syncing, with filter.updatedSince' },
  },
});

/** GraphQL names → the contract's names; the service validates the values. */
export function toFilterRequest(filter: OrderFilter | null | undefined): Record<string, unknown> {
  return filter ? renameKeys({ ...filter }, 'snake') : {};
}
