import { Field, InputType, Int } from 'type-graphql';
import { renameKeys } from '../shared/case';
import { addressFields } from './address-fields';
import type { JsonObject } from '../orders/order.types';
import { type DecimalInput, DecimalScalar, JsonScalar } from './scalars';

@InputType({
  description: 'A postal address. Every field is optional; null means the same as leaving it out.',
})
export class AddressInput {}
addressFields(AddressInput, 'input');

@InputType({ description: 'One line of a new order.' })
export class OrderItemInput {
  @Field(() => String, { description: 'Your id of the product, 1 to 128 characters' })
  productId!: string;
  @Field(() => String, { nullable: true, description: 'Product name, at most 500 characters' })
  name?: string;
  @Field(() => Int, { description: 'Units ordered, 1 to 1,000,000' })
  quantity!: number;
  @Field(() => DecimalScalar, { description: 'Unit price, at most the currency’s minor digits' })
  price!: DecimalInput;
  @Field(() => String, { nullable: true, description: 'Stock-keeping unit, at most 128 characters' })
  sku?: string;
}

@InputType({ description: 'A new order. Amounts are exact decimals: send strings such as "99.00".' })
export class CreateOrderInput {
  @Field(() => String, { description: 'Your id of the customer (a contact id), 1 to 128 characters' })
  customerId!: string;
  @Field(() => [OrderItemInput], { description: 'The order lines, 1 to 500' })
  items!: OrderItemInput[];
  @Field(() => DecimalScalar, { description: 'Must equal Σ(quantity × price) + shipping + tax exactly' })
  total!: DecimalInput;
  @Field(() => String, { nullable: true, description: 'ISO 4217 code, default USD' }) currency?: string;
  @Field(() => DecimalScalar, { nullable: true, description: 'Shipping charged, default 0' })
  shipping?: DecimalInput;
  @Field(() => DecimalScalar, { nullable: true, description: 'Tax charged, default 0' })
  tax?: DecimalInput;
  @Field(() => AddressInput, { nullable: true, description: 'Where the order is shipped' })
  shippingAddress?: AddressInput;
  @Field(() => AddressInput, { nullable: true, description: 'Where the order is billed' })
  billingAddress?: AddressInput;
  @Field(() => String, { nullable: true, description: 'Free text, at most 5,000 characters' })
  notes?: string;
  @Field(() => JsonScalar, {
    nullable: true,
    description: 'Your own JSON object: at most 50 keys of 1 to 40 characters, 16 KiB and 32 levels',
  })
  metadata?: JsonObject;
}

/** GraphQL names → the contract's names. The service validates the result like any REST body. */
export function toCreateOrderRequest(input: CreateOrderInput): unknown {
  return renameKeys(input, 'snake');
}
