/**
 * Turns an untrusted create-order request into a checked draft, or throws one
 * VALIDATION_ERROR that names every bad field at once.
 */
import { AppError, type FieldError, type FieldPath } from '../errors/app-error';
import { type CreateOrderRequest, CreateOrderRequestSchema } from './create-order.schema';
import {
  type Currency,
  findCurrency,
  refusedCurrencyMessage,
  MAX_MINOR_UNITS,
  formatMinor,
  parseAmount,
} from './money';
import type { Address, JsonObject } from './order.types';
import {
  checkCountry,
  checkMetadata,
  dedupe,
  isObject,
  prepareExactNumbers,
  shapeChecker,
  toAddress,
} from './validation';

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

const checkShape = shapeChecker(CreateOrderRequestSchema);

/** Validates a create-order request; throws `AppError` VALIDATION_ERROR listing every bad field. */
export function parseCreateOrderRequest(body: unknown): OrderDraft {
  if (!isObject(body)) throw AppError.validation([{ path: ['body'], message: 'must be a JSON object' }]);
  const input = prepareExactNumbers(body);
  const errors: FieldError[] = checkShape(input);

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
  const metadata = checkMetadata(input.metadata, errors);
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
    metadata,
  };
}

/** Item subtotal and order total, with the largest-amount rule applied to what the server computes. */
export function computeTotals(draft: OrderDraft): {
  itemSubtotals: bigint[];
  subtotal: bigint;
  total: bigint;
} {
  const itemSubtotals = draft.items.map((item) => item.priceMinor * BigInt(item.quantity));
  const subtotal = itemSubtotals.reduce((sum, value) => sum + value, 0n);
  const total = subtotal + draft.shippingMinor + draft.taxMinor;
  const tooLarge: FieldError[] = [];
  const limit = `the largest supported amount, ${formatMinor(MAX_MINOR_UNITS, draft.currency)} ${draft.currency.code}`;
  itemSubtotals.forEach((value, index) => {
    if (value > MAX_MINOR_UNITS)
      tooLarge.push({ path: ['items', index], message: `quantity × price exceeds ${limit}` });
  });
  if (tooLarge.length === 0 && total > MAX_MINOR_UNITS)
    tooLarge.push({ path: ['total'], message: `exceeds ${limit}` });
  if (tooLarge.length > 0) throw AppError.validation(tooLarge);
  return { itemSubtotals, subtotal, total };
}

const CURRENCY_CODE = /^[A-Za-z]{3}$/;

function checkCurrency(value: unknown, errors: FieldError[]): Currency | undefined {
  if (value === undefined || value === null) return findCurrency(DEFAULT_CURRENCY);
  if (typeof value !== 'string') return undefined;
  // ASCII only: toUpperCase() would turn "uſd" (long s) into "USD".
  const currency = CURRENCY_CODE.test(value) ? findCurrency(value) : undefined;
  if (!currency)
    errors.push({
      path: ['currency'],
      message:
        (CURRENCY_CODE.test(value) && refusedCurrencyMessage(value)) ||
        'must be an ISO 4217 currency code such as USD',
    });
  return currency;
}
