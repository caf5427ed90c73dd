import { Field } from 'type-graphql';
import { ADDRESS_FIELDS, type AddressField, LIMITS } from '../orders/create-order.schema';
import { snakeToCamel } from '../shared/case';

/** What each field of the contract's address holds. */
const MEANING: Record<AddressField, string> = {
  name: 'Name of the recipient',
  company: 'Company of the recipient',
  address: 'Street address, first line',
  address2: 'Street address, second line (apartment, suite, unit)',
  city: 'City or town',
  state: 'State, province or region',
  postal_code: 'Postal or ZIP code',
  country: 'ISO 3166-1 alpha-2 country code, e.g. ID',
  phone: 'Phone number, as given',
  email: 'Email address, as given',
};

function describe(field: AddressField, kind: 'input' | 'output'): string {
  if (field === 'country') return `${MEANING.country}${kind === 'input' ? '; case-insensitive' : ' (stored in upper case)'}`;
  return kind === 'input' ? `${MEANING[field]}, at most ${LIMITS.addressField} characters` : MEANING[field];
}

/**
 * Declares the contract's address fields (`create-order.schema.ts`), in
 * GraphQL's names, on an input or object type: every one an optional string.
 */
export function addressFields(type: { prototype: object }, kind: 'input' | 'output'): void {
  for (const field of ADDRESS_FIELDS) {
    Field(() => String, { nullable: true, description: describe(field, kind) })(type.prototype, snakeToCamel(field));
  }
}
