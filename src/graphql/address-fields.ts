import { Field } from 'type-graphql';
import { ADDRESS_FIELDS, COUNTRY_DESCRIPTION } from '../orders/create-order.schema';
import { snakeToCamel } from '../shared/case';

/**
 * Declares the contract's address fields (`create-order.schema.ts`), in
 * GraphQL's names, on an input or object type: every one an optional string.
 */
export function addressFields(type: { prototype: object }): void {
  for (const field of ADDRESS_FIELDS) {
    const description = field === 'country' ? COUNTRY_DESCRIPTION : undefined;
    Field(() => String, { nullable: true, description })(type.prototype, snakeToCamel(field));
  }
}
