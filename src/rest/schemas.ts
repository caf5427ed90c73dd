/**
 * JSON schemas of the REST responses. Fastify serialises each response with
 * them (fast-json-stringify), and they document the API.
 */
import { Type } from '@sinclair/typebox';
import { ADDRESS_FIELDS } from '../orders/create-order.schema';
import { DEFAULT_SORT, ORDER_SORTS } from '../orders/order-cursor';
import { ORDER_STATUSES } from '../orders/order.types';
import { LIST_LIMITS } from '../orders/order-filter';
import { ORDER_NUMBER } from '../orders/order-number';
import { ErrorCode } from '../errors/app-error';

/** The request's address as answered: the same fields, each a string when set. */
const Address = Type.Object(
  Object.fromEntries(
    ADDRESS_FIELDS.map((field) => [
      field,
      Type.Optional(field === 'country' ? Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 code' }) : Type.String()),
    ]),
  ),
  { title: 'Address' },
);

const Status = Type.Unsafe<string>({ type: 'string', enum: [...ORDER_STATUSES] });

export const OrderSchema = Type.Object({
  id: Type.String({ examples: ['order_01JQ7Z8X9Y0ABCDEF123456789'] }),
  order_number: Type.String({ examples: ['ORD-2025-0327-001'] }),
  customer_id: Type.String(),
  status: Status,
  items: Type.Array(
    Type.Object(
      {
        product_id: Type.String(),
        name: Type.Optional(Type.String()),
        quantity: Type.Integer(),
        price: Type.Number(),
        sku: Type.Optional(Type.String()),
        subtotal: Type.Number(),
      },
      { title: 'OrderItem' },
    ),
  ),
  subtotal: Type.Number(),
  shipping: Type.Number(),
  tax: Type.Number(),
  total: Type.Number(),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' }),
  shipping_address: Type.Optional(Address),
  billing_address: Type.Optional(Address),
  notes: Type.Optional(Type.String()),
  metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
  tracking_number: Type.Optional(Type.String()),
  tracking_url: Type.Optional(Type.String()),
  status_history: Type.Array(
    Type.Object({ status: Status, timestamp: Type.String({ format: 'date-time' }) }, { title: 'StatusChange' }),
  ),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
}, { title: 'Order' });

export const OrderEnvelope = Type.Object({ success: Type.Literal(true), data: OrderSchema }, { title: 'OrderEnvelope' });

export const OrderSummarySchema = Type.Object({
  id: Type.String(),
  order_number: Type.String(),
  customer_id: Type.String(),
  status: Status,
  items_count: Type.Integer({ description: 'Number of lines in the order' }),
  total: Type.Number(),
  currency: Type.String(),
  tracking_number: Type.Optional(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
}, { title: 'OrderSummary' });

export const OrderListEnvelope = Type.Object({
  success: Type.Literal(true),
  data: Type.Array(OrderSummarySchema),
  pagination: Type.Object({
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    has_more: Type.Boolean(),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as `cursor` for the next page; null on the last page',
    }),
  }, { title: 'Pagination' }),
}, { title: 'OrderListEnvelope' });

/**
 * The list's query parameters, as documented; the service checks them (`orders/order-filter.ts`,
 * `orders/list-parameters.ts`). The lengths and patterns are the service's, so that a value the
 * document allows is never refused (a generated client's validation would let an empty `search` through).
 */
const text = (maxLength: number) => ({ minLength: 1, maxLength });
/**
 * `min_total` / `max_total`: a number in the Cekat document, so a client generated from it sends a
 * number's text, `1e2` as well as `100.00`; both are taken (exactly, `orders/order-filter.ts`).
 */
const TotalBound = (description: string, example: string) =>
  Type.Unsafe<number | string>({
    type: ['number', 'string'],
    minimum: 0,
    pattern: '^\\d+(\\.\\d+)?([eE][+-]?\\d{1,2})?$',
    maxLength: 32,
    description: `${description}; a number's text with an exponent (1e2) is read as the decimal it spells`,
    // Without one, a collection generated from this document sends a value made up from the pattern,
    // `7e93` say, whose 94 digits are more than a bound takes (a 422, one run in a few).
    examples: [example],
  });
export const ListOrdersQuery = Type.Object({
  customer_id: Type.Optional(Type.String(text(LIST_LIMITS.customerId))),
  status: Type.Optional(Status),
  from: Type.Optional(
    Type.String({
      ...text(LIST_LIMITS.time),
      description: 'YYYY-MM-DD (a day in the workspace time zone) or an ISO 8601 date-time (without an offset, in the workspace time zone)',
      // Without examples, a collection generated from this document sends `from=<string>` (a 422).
      examples: ['2025-03-01'],
    }),
  ),
  to: Type.Optional(
    Type.String({
      ...text(LIST_LIMITS.time),
      description:
        'YYYY-MM-DD or an ISO 8601 date-time (without an offset, in the workspace time zone), inclusive: the whole day, minute or second it names (with a fraction, ' +
        'of any number of digits, exact)',
      examples: ['2025-03-31'],
    }),
  ),
  min_total: Type.Optional(TotalBound('Lowest total, inclusive: an exact decimal such as 100.00', '100.00')),
  max_total: Type.Optional(TotalBound('Highest total, inclusive: an exact decimal such as 100.00', '500.00')),
  search: Type.Optional(Type.String({ ...text(LIST_LIMITS.search), description: 'Part of the order number or notes' })),
  order_number: Type.Optional(
    Type.String({
      ...text(LIST_LIMITS.orderNumber),
      pattern: ORDER_NUMBER.source,
      description:
        'Lookup by number: exactly this order number (ORD-YYYY-MMDD-NNN); the list then holds that order or nothing',
      examples: ['ORD-2025-0327-001'],
    }),
  ),
  updated_since: Type.Optional(
    Type.String({
      ...text(LIST_LIMITS.time),
      format: 'date-time',
      description:
        'Only orders changed at or after this RFC 3339 date-time (with a zone). With `sort=updated_at`, the way to sync: ' +
        'changes still being committed are held back, so continuing from the last `updated_at` seen never skips one',
      examples: ['2025-03-01T00:00:00Z'],
    }),
  ),
  sort: Type.Optional(
    Type.Unsafe<string>({
      type: 'string',
      enum: [...ORDER_SORTS],
      default: DEFAULT_SORT,
      description: '`-created_at`: newest first (the default); `updated_at`: oldest change first',
    }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000,
      default: 0,
      description: 'Rows to skip (older callers); not with `cursor`',
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      description:
        '`pagination.next_cursor` of the previous page, with the same filters and sort. Keyset paging: rows added ' +
        'meanwhile are neither repeated nor skipped',
    }),
  ),
});

export const ErrorEnvelope = Type.Object({
  success: Type.Literal(false),
  error: Type.Object({
    code: Type.Unsafe<string>({ type: 'string', enum: Object.values(ErrorCode) }),
    message: Type.String(),
    details: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }, { title: 'FieldError' })),
    ),
    request_id: Type.String(),
  }),
});
