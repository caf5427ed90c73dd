import { Field, InputType, Int } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { renameKeys } from '../shared/case';
import { addressFields } from './address-fields';
import type { JsonObject } from '../orders/order.types';
import { DecimalScalar } from './scalars';

@InputType()
export class AddressInput {}
addressFields(AddressInput);

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
export function toCreateOrderRequest(input: CreateOrderInput): unknown {
  return renameKeys(input, 'snake');
}
