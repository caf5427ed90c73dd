import { Field, InputType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import type { JsonObject } from '../orders/order.types';
import type { UpdateOrderRequest } from '../orders/update-order.schema';
import { AddressInput, toAddressRequest } from './create-order.input';
import { OrderStatus } from './order.type';

@InputType({ description: 'Leave a field out to keep it; set it to null to clear it.' })
export class UpdateOrderInput {
  @Field(() => OrderStatus, {
    nullable: true,
    description: 'Moves follow the status machine; the current status is a no-op',
  })
  status?: OrderStatus;
  @Field(() => String, { nullable: true, description: 'Carrier tracking number; null clears it' })
  trackingNumber?: string | null;
  @Field(() => String, { nullable: true, description: 'An http or https URL' }) trackingUrl?: string | null;
  @Field(() => String, { nullable: true, description: 'Free text, at most 5,000 characters; null clears it' })
  notes?: string | null;
  @Field(() => JSONResolver, {
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
export function toUpdateOrderRequest(input: UpdateOrderInput): UpdateOrderRequest {
  const request: Record<string, unknown> = {};
  if (input.status !== undefined) request.status = input.status;
  if (input.trackingNumber !== undefined) request.tracking_number = input.trackingNumber;
  if (input.trackingUrl !== undefined) request.tracking_url = input.trackingUrl;
  if (input.notes !== undefined) request.notes = input.notes;
  if (input.metadata !== undefined) request.metadata = input.metadata;
  if (input.shippingAddress !== undefined) request.shipping_address = toAddressRequest(input.shippingAddress);
  return request as UpdateOrderRequest;
}
