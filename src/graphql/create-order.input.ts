import { Field, InputType, Int } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import type { AddressInput as AddressRequest, CreateOrderRequest } from '../orders/create-order.schema';
import { dropUndefined } from '../orders/drop-undefined';
import type { JsonObject } from '../orders/order.types';
import { DecimalScalar } from './scalars';

@InputType()
export class AddressInput {
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

@InputType()
export class OrderItemInput {
  @Field(() => String) productId!: string;
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => Int) quantity!: number;
  @Field(() => DecimalScalar, { description: 'Unit price, at most the currency’s minor digits' }) price!: string;
  @Field(() => String, { nullable: true }) sku?: string;
}

@InputType()
export class CreateOrderInput {
  @Field(() => String) customerId!: string;
  @Field(() => [OrderItemInput]) items!: OrderItemInput[];
  @Field(() => DecimalScalar, { description: 'Must equal Σ(quantity × price) + shipping + tax exactly' }) total!: string;
  @Field(() => String, { nullable: true, description: 'ISO 4217 code, default USD' }) currency?: string;
  @Field(() => DecimalScalar, { nullable: true }) shipping?: string;
  @Field(() => DecimalScalar, { nullable: true }) tax?: string;
  @Field(() => AddressInput, { nullable: true }) shippingAddress?: AddressInput;
  @Field(() => AddressInput, { nullable: true }) billingAddress?: AddressInput;
  @Field(() => String, { nullable: true }) notes?: string;
  @Field(() => JSONResolver, { nullable: true }) metadata?: JsonObject;
}

/** GraphQL names → the contract's names. The service validates the result like any REST body. */
export function toCreateOrderRequest(input: CreateOrderInput): CreateOrderRequest {
  return dropUndefined({
    customer_id: input.customerId,
    items: input.items.map((item) =>
      dropUndefined({
        product_id: item.productId,
        name: item.name,
        quantity: item.quantity,
        price: item.price,
        sku: item.sku,
      }),
    ),
    total: input.total,
    currency: input.currency,
    shipping: input.shipping,
    tax: input.tax,
    shipping_address: toAddressRequest(input.shippingAddress),
    billing_address: toAddressRequest(input.billingAddress),
    notes: input.notes,
    metadata: input.metadata,
  });
}

export function toAddressRequest(input: AddressInput | null | undefined): AddressRequest | null | undefined {
  if (input === undefined || input === null) return input;
  return dropUndefined({
    name: input.name,
    company: input.company,
    address: input.address,
    address2: input.address2,
    city: input.city,
    state: input.state,
    postal_code: input.postalCode,
    country: input.country,
    phone: input.phone,
    email: input.email,
  });
}
