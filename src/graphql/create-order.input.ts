import { Field, InputType, Int } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import type { AddressInput as AddressRequest, CreateOrderRequest } from '../orders/create-order.schema';
import { dropUndefined } from '../orders/drop-undefined';
import type { JsonObject } from '../orders/order.types';
import { DecimalScalar } from './scalars';

@InputType({
  description: 'A postal address. Every field is optional; null means the same as leaving it out.',
})
export class AddressInput {
  @Field(() => String, { nullable: true, description: 'Name of the recipient, at most 500 characters' })
  name?: string;
  @Field(() => String, { nullable: true, description: 'Company of the recipient, at most 500 characters' })
  company?: string;
  @Field(() => String, { nullable: true, description: 'Street address, first line, at most 500 characters' })
  address?: string;
  @Field(() => String, {
    nullable: true,
    description: 'Street address, second line (apartment, suite, unit), at most 500 characters',
  })
  address2?: string;
  @Field(() => String, { nullable: true, description: 'City or town, at most 500 characters' })
  city?: string;
  @Field(() => String, { nullable: true, description: 'State, province or region, at most 500 characters' })
  state?: string;
  @Field(() => String, { nullable: true, description: 'Postal or ZIP code, at most 500 characters' })
  postalCode?: string;
  @Field(() => String, {
    nullable: true,
    description: 'ISO 3166-1 alpha-2 country code, e.g. ID; case-insensitive',
  })
  country?: string;
  @Field(() => String, { nullable: true, description: 'Phone number, as given, at most 500 characters' })
  phone?: string;
  @Field(() => String, { nullable: true, description: 'Email address, as given, at most 500 characters' })
  email?: string;
}

@InputType({ description: 'One line of a new order.' })
export class OrderItemInput {
  @Field(() => String, { description: 'Your id of the product, 1 to 128 characters' })
  productId!: string;
  @Field(() => String, { nullable: true, description: 'Product name, at most 500 characters' })
  name?: string;
  @Field(() => Int, { description: 'Units ordered, 1 to 1,000,000' })
  quantity!: number;
  @Field(() => DecimalScalar, { description: 'Unit price, at most the currency’s minor digits' })
  price!: string;
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
  total!: string;
  @Field(() => String, { nullable: true, description: 'ISO 4217 code, default USD' }) currency?: string;
  @Field(() => DecimalScalar, { nullable: true, description: 'Shipping charged, default 0' })
  shipping?: string;
  @Field(() => DecimalScalar, { nullable: true, description: 'Tax charged, default 0' })
  tax?: string;
  @Field(() => AddressInput, { nullable: true, description: 'Where the order is shipped' })
  shippingAddress?: AddressInput;
  @Field(() => AddressInput, { nullable: true, description: 'Where the order is billed' })
  billingAddress?: AddressInput;
  @Field(() => String, { nullable: true, description: 'Free text, at most 5,000 characters' })
  notes?: string;
  @Field(() => JSONResolver, {
    nullable: true,
    description: 'Your own JSON object: at most 50 keys of 1 to 40 characters, 16 KiB and 32 levels',
  })
  metadata?: JsonObject;
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
