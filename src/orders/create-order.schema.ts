/**
 * The shape of a create-order request, in the contract's own (snake_case)
 * names: the Cekat orders API that the REST shim must stay compatible with.
 *
 * This schema is the single source for shape rules. The service validates
 * every request against it, whichever transport it came through, and the REST
 * layer publishes the same object as its documented body schema. Rules that a
 * JSON schema cannot express (exact money, known currencies and countries,
 * metadata size) live in `create-order.validation.ts`.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

export const LIMITS = {
  customerId: 128,
  items: 500,
  productId: 128,
  itemName: 500,
  quantity: 1_000_000,
  sku: 128,
  notes: 5000,
  addressField: 500,
  metadataKeys: 50,
  metadataKeyLength: 40,
  metadataBytes: 16 * 1024,
  /** Objects and arrays inside metadata; deep nesting buys nothing and strains jsonb. */
  metadataDepth: 32,
} as const;

/**
 * A required id must hold something besides whitespace: `"  "` names no customer or product,
 * and is refused like `""` ("must not be blank"). An id is otherwise kept exactly as sent.
 */
export const NOT_BLANK = '\\S';

/** An optional field may be left out or sent as `null`; both mean "not given". */
export function nullable<T extends TSchema>(schema: T) {
  const types = ([] as string[]).concat(schema.type as string | string[]);
  return Type.Optional(Type.Unsafe<Static<T> | null>({ ...schema, type: [...types, 'null'] }));
}

/** A money amount: a JSON number, or a decimal string for callers that want to send it exactly. */
const Amount = Type.Unsafe<number | string>({
  type: ['number', 'string'],
  description: 'Non-negative amount with at most the currency’s minor-unit digits, e.g. 99.00 or "99.00"',
});

const text = (maxLength: number, description?: string) => Type.String({ maxLength, description });

export const COUNTRY_DESCRIPTION = 'ISO 3166-1 alpha-2 code';

export const AddressSchema = Type.Object(
  {
    name: nullable(text(LIMITS.addressField)),
    company: nullable(text(LIMITS.addressField)),
    address: nullable(text(LIMITS.addressField)),
    address2: nullable(text(LIMITS.addressField)),
    city: nullable(text(LIMITS.addressField)),
    state: nullable(text(LIMITS.addressField)),
    postal_code: nullable(text(LIMITS.addressField)),
    country: nullable(text(LIMITS.addressField, `${COUNTRY_DESCRIPTION}, e.g. ID`)),
    phone: nullable(text(LIMITS.addressField)),
    email: nullable(text(LIMITS.addressField)),
  },
  { additionalProperties: false },
);

export const OrderItemInputSchema = Type.Object(
  {
    product_id: Type.String({ minLength: 1, maxLength: LIMITS.productId, pattern: NOT_BLANK }),
    name: nullable(text(LIMITS.itemName)),
    quantity: Type.Integer({ minimum: 1, maximum: LIMITS.quantity }),
    price: Amount,
    sku: nullable(text(LIMITS.sku)),
  },
  { additionalProperties: false },
);

export const CreateOrderRequestSchema = Type.Object(
  {
    customer_id: Type.String({
      minLength: 1,
      maxLength: LIMITS.customerId,
      pattern: NOT_BLANK,
      description: 'Contact id of the customer',
    }),
    items: Type.Array(OrderItemInputSchema, { minItems: 1, maxItems: LIMITS.items }),
    total: Amount,
    currency: nullable(Type.String({ description: 'ISO 4217 code, default USD, case-insensitive' })),
    shipping: nullable(Amount),
    tax: nullable(Amount),
    shipping_address: nullable(AddressSchema),
    billing_address: nullable(AddressSchema),
    notes: nullable(text(LIMITS.notes)),
    metadata: nullable(Type.Object({}, { additionalProperties: true, maxProperties: LIMITS.metadataKeys })),
  },
  { additionalProperties: false },
);

export type AddressInput = Static<typeof AddressSchema>;
export type AddressField = keyof AddressInput;
/** The address's fields in the contract's names; every other declaration of an address is derived from it. */
export const ADDRESS_FIELDS = Object.keys(AddressSchema.properties) as AddressField[];
export type CreateOrderRequest = Static<typeof CreateOrderRequestSchema>;
