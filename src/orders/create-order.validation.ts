/**
 * Turns an untrusted create-order request into a checked draft, or throws one
 * VALIDATION_ERROR that names every bad field at once.
 */
import Ajv, { type ErrorObject } from 'ajv';
import countries from 'i18n-iso-countries';
import { AppError, type FieldError, type FieldPath } from '../errors/app-error';
import { type CreateOrderRequest, CreateOrderRequestSchema, LIMITS, type AddressInput } from './create-order.schema';
import { type Currency, findCurrency, MAX_MINOR_UNITS, formatMinor, parseAmount } from './money';
import { dropUndefined } from './drop-undefined';
import type { Address, JsonObject } from './order.types';

export interface OrderItemDraft {
  productId: string;
  name?: string;
  quantity: number;
  priceMinor: bigint;
  sku?: string;
}

/** A request that passed every shape rule; the total is not checked yet. */
export interface OrderDraft {
  customerId: string;
  currency: Currency;
  items: OrderItemDraft[];
  shippingMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
  shippingAddress?: Address;
  billingAddress?: Address;
  notes?: string;
  metadata?: JsonObject;
}

const DEFAULT_CURRENCY = 'USD';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, coerceTypes: false });
const checkShape = ajv.compile<CreateOrderRequest>(CreateOrderRequestSchema);

/** Validates a create-order request; throws `AppError` VALIDATION_ERROR listing every bad field. */
export function parseCreateOrderRequest(input: unknown): OrderDraft {
  if (!isObject(input)) throw AppError.validation([{ path: ['body'], message: 'must be a JSON object' }]);
  const errors: FieldError[] = [];
  if (!checkShape(input)) {
    for (const error of checkShape.errors ?? []) errors.push(describeSchemaError(error));
  }
  errors.push(...findUnstorableText(input, []));

  // The checks below also run when the shape is wrong, so that one answer names
  // every bad field. Each looks only at values of the right type; the schema
  // has already reported the others.
  const currency = checkCurrency(input.currency, errors);
  const amount = (value: unknown, path: FieldPath): bigint => {
    if (!currency || (typeof value !== 'number' && typeof value !== 'string')) return 0n;
    const parsed = parseAmount(value, currency);
    if (parsed.ok) return parsed.minor;
    errors.push({ path, message: parsed.message });
    return 0n;
  };
  const prices = (Array.isArray(input.items) ? input.items : []).map((item: unknown, index) =>
    isObject(item) ? amount(item.price, ['items', index, 'price']) : 0n,
  );
  const shippingMinor = amount(input.shipping, ['shipping']);
  const taxMinor = amount(input.tax, ['tax']);
  const totalMinor = amount(input.total, ['total']);
  checkCountry(input.shipping_address, ['shipping_address'], errors);
  checkCountry(input.billing_address, ['billing_address'], errors);
  checkMetadata(input.metadata, errors);
  if (errors.length > 0 || !currency) throw AppError.validation(dedupe(errors));

  // From here on the request has the schema's shape.
  const request = input as CreateOrderRequest;
  return {
    customerId: request.customer_id,
    currency,
    items: request.items.map((item, index) => ({
      productId: item.product_id,
      name: item.name ?? undefined,
      quantity: item.quantity,
      priceMinor: prices[index] ?? 0n,
      sku: item.sku ?? undefined,
    })),
    shippingMinor,
    taxMinor,
    totalMinor,
    shippingAddress: toAddress(request.shipping_address),
    billingAddress: toAddress(request.billing_address),
    notes: request.notes ?? undefined,
    metadata: request.metadata ?? undefined,
  };
}

/** Item subtotal and order total, with the largest-amount rule applied to what the server computes. */
export function computeTotals(draft: OrderDraft): { itemSubtotals: bigint[]; subtotal: bigint; total: bigint } {
  const itemSubtotals = draft.items.map((item) => item.priceMinor * BigInt(item.quantity));
  const subtotal = itemSubtotals.reduce((sum, value) => sum + value, 0n);
  const total = subtotal + draft.shippingMinor + draft.taxMinor;
  const tooLarge: FieldError[] = [];
  const limit = `the largest supported amount, ${formatMinor(MAX_MINOR_UNITS, draft.currency)}`;
  itemSubtotals.forEach((value, index) => {
    if (value > MAX_MINOR_UNITS) tooLarge.push({ path: ['items', index], message: `quantity × price exceeds ${limit}` });
  });
  if (tooLarge.length === 0 && total > MAX_MINOR_UNITS) tooLarge.push({ path: ['total'], message: `exceeds ${limit}` });
  if (tooLarge.length > 0) throw AppError.validation(tooLarge);
  return { itemSubtotals, subtotal, total };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CURRENCY_CODE = /^[A-Za-z]{3}$/;

function checkCurrency(value: unknown, errors: FieldError[]): Currency | undefined {
  if (value === undefined || value === null) return findCurrency(DEFAULT_CURRENCY);
  if (typeof value !== 'string') return undefined;
  // ASCII only: toUpperCase() would turn "uſd" (long s) into "USD".
  const currency = CURRENCY_CODE.test(value) ? findCurrency(value) : undefined;
  if (!currency) errors.push({ path: ['currency'], message: 'must be an ISO 4217 currency code such as USD' });
  return currency;
}

const COUNTRY_CODE = /^[A-Za-z]{2}$/;

function checkCountry(address: unknown, path: FieldPath, errors: FieldError[]): void {
  if (!isObject(address) || typeof address.country !== 'string') return;
  // i18n-iso-countries also accepts alpha-3 and numeric codes; the contract wants alpha-2.
  if (!COUNTRY_CODE.test(address.country) || !countries.isValid(address.country)) {
    errors.push({ path: [...path, 'country'], message: 'must be an ISO 3166-1 alpha-2 country code such as ID' });
  }
}

/** An address with no field set is no address at all. */
function toAddress(input: AddressInput | null | undefined): Address | undefined {
  if (input === undefined || input === null) return undefined;
  const address = dropUndefined({
    name: input.name ?? undefined,
    company: input.company ?? undefined,
    address: input.address ?? undefined,
    address2: input.address2 ?? undefined,
    city: input.city ?? undefined,
    state: input.state ?? undefined,
    postalCode: input.postal_code ?? undefined,
    country: input.country?.toUpperCase() ?? undefined,
    phone: input.phone ?? undefined,
    email: input.email ?? undefined,
  });
  return Object.keys(address).length > 0 ? address : undefined;
}

function checkMetadata(metadata: unknown, errors: FieldError[]): void {
  if (!isObject(metadata)) return;
  for (const key of Object.keys(metadata)) {
    if (key.length === 0) errors.push({ path: ['metadata'], message: 'must not have an empty key' });
    else if ([...key].length > LIMITS.metadataKeyLength) {
      errors.push({ path: ['metadata', key], message: `key must be 1 to ${LIMITS.metadataKeyLength} characters` });
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > LIMITS.metadataBytes) {
    errors.push({ path: ['metadata'], message: `must be at most ${LIMITS.metadataBytes} bytes as JSON, got ${bytes}` });
  }
}

/**
 * PostgreSQL cannot store U+0000 in text or jsonb, and a lone UTF-16
 * surrogate cannot be encoded as UTF-8 at all. Reject both up front rather
 * than fail (or silently alter the text) at insert time.
 */
function findUnstorableText(value: unknown, path: (string | number)[], found: FieldError[] = []): FieldError[] {
  const bad = (text: string) => text.includes('\u0000') || !text.isWellFormed();
  if (typeof value === 'string') {
    if (bad(value)) found.push({ path, message: 'must not contain NUL characters or unpaired surrogates' });
  } else if (Array.isArray(value)) {
    value.forEach((entry, index) => findUnstorableText(entry, [...path, index], found));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, entry] of Object.entries(value)) {
      if (bad(key)) found.push({ path, message: 'has a key with NUL characters or unpaired surrogates' });
      findUnstorableText(entry, [...path, key], found);
    }
  }
  return found;
}

function describeSchemaError(error: ErrorObject): FieldError {
  const path = pointerToPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'is required' };
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: 'is not a known field' };
    case 'type':
      return { path, message: `must be ${describeType(params.type)}` };
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters` };
    case 'maxLength':
      return { path, message: `must be at most ${params.limit} characters` };
    case 'minItems':
      return { path, message: `must have at least ${params.limit} item${params.limit === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path, message: `must have at most ${params.limit} items` };
    case 'maxProperties':
      return { path, message: `must have at most ${params.limit} keys` };
    case 'minimum':
      return { path, message: `must be at least ${params.limit}` };
    case 'maximum':
      return { path, message: `must be at most ${params.limit}` };
    default:
      return { path, message: error.message ?? 'is invalid' };
  }
}

function describeType(type: unknown): string {
  const names: Record<string, string> = {
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    object: 'an object',
    array: 'an array',
    null: 'null',
  };
  const list = (Array.isArray(type) ? type : [type]).map(String).filter((name) => name !== 'null');
  if (list.includes('number') && list.includes('string')) return 'a number or a decimal string';
  return list.map((name) => names[name] ?? name).join(' or ');
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** One entry per field: the first problem found with it (the schema's, when it has one). */
function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = JSON.stringify(error.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
