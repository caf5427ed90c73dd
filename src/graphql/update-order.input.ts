import { Field, InputType } from 'type-graphql';
import type { JsonObject } from '../orders/order.types';
import type { OrderStatus as OrderStatusValue } from '../orders/order.types';
import { renameKeys } from '../shared/case';
import { AddressInput } from './create-order.input';
import { OrderStatus } from './order.type';
import { JsonScalar } from './scalars';

@InputType({
  description: 'Leave a field out to keep it; set it to null to clear it (status: null keeps the status).',
})
export class UpdateOrderInput {
  @Field(() => OrderStatus, {
    nullable: true,
    description: 'Moves follow the status machine; null or the current status leaves it as it is',
  })
  status?: OrderStatusValue | null;
  @Field(() => String, { nullable: true, description: 'Carrier tracking number; null clears it' })
  trackingNumber?: string | null;
  @Field(() => String, { nullable: true, description: 'An http or https URL' }) trackingUrl?: string | null;
  @Field(() => String, { nullable: true, description: 'Free text, at most 5,000 characters; null clears it' })
  notes?: string | null;
  @Field(() => JsonScalar, {
    nullable: true,
    description: 'Merged key by key; a key set to null is removed',
  })
  metadata?: JsonObject | null;
  @Field(() => AddressInput, { nullable: true, description: 'Replaces the stored address whole' })
  shippingAddress?: AddressInput | null;
}

/**
 * GraphQL names → the contract's names. Absent fields stay absent and
 * explicit nulls stay null: the difference means "keep" versus "clear".
 */
export function toUpdateOrderRequest(input: UpdateOrderInput): unknown {
  return renameKeys(input, 'snake');
}
