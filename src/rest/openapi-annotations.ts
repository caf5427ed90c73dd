/**
 * What the OpenAPI document says beyond the routes' own schemas, for the
 * document only (the service checks these rules itself): the names of the
 * component schemas, the error-code enum, the patterns and limits of request
 * fields, the examples "Try it out" sends, the response headers, and closed
 * response objects. `openapi.ts` applies them.
 */
import { ErrorCode } from '../errors/app-error';

/**
 * Marks a response header the server always sends with its status. @fastify/swagger copies a
 * header's fields into its `schema`, so `requireHeaders` moves the mark out to the header's own
 * `required: true` in the finished document (a generated client then types it as present).
 */
export const REQUIRED_HEADER = 'x-required';

/** A response header as @fastify/swagger reads it: its schema, with the description beside the type. */
const header = (description: string, schema: object = { type: 'string' }) => ({
  ...schema,
  description,
  [REQUIRED_HEADER]: true,
});

/** Route headers written OpenAPI's way (`{description, schema}`) in @fastify/swagger's (`{type, description}`). */
export function flatHeaders(
  headers: Record<string, { description?: string; schema?: object; required?: boolean }> = {},
) {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      value.schema
        ? {
            ...value.schema,
            description: value.description,
            ...(value.required ? { [REQUIRED_HEADER]: true } : {}),
          }
        : value,
    ]),
  );
}

/** The request id: on every `/api` response. */
const REQUEST_ID = { 'X-Request-Id': header('The request id; quote it when reporting a problem') };
/** The rate limit's headers: on every `/api` response but a 503 of load shedding, which refuses before the limiter counts. */
const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': header('Requests allowed per window for this key', { type: 'integer' }),
  'X-RateLimit-Remaining': header('Requests left in the current window', { type: 'integer' }),
  'X-RateLimit-Reset': header('Seconds until the window resets', { type: 'integer' }),
};
/** Headers every `/api` response carries, for a status (all required, but the rate limit's on a 503). */
export function commonHeaders(status: number): Record<string, object> {
  if (status !== 503) return { ...REQUEST_ID, ...RATE_LIMIT_HEADERS };
  const optional: Record<string, object> = {};
  for (const [name, value] of Object.entries(RATE_LIMIT_HEADERS)) {
    const { [REQUIRED_HEADER]: _required, ...rest } = value;
    optional[name] = rest;
  }
  return { ...REQUEST_ID, ...optional };
}
/** On every 429 and 503, and on the 409 of IDEMPOTENCY_REQUEST_IN_PROGRESS. */
export const RETRY_AFTER = { 'Retry-After': header('Seconds to wait before retrying', { type: 'integer' }) };
/** On every 401. */
/** On a 412 `PRECONDITION_FAILED`: the order's entity tag now (error-handler.ts). */
export const CURRENT_ETAG_HEADER = {
  ETag: header(
    "The order's current entity tag: read it again, or retry your change with `If-Match` set to it",
  ),
};

export const WWW_AUTHENTICATE_HEADER = {
  'WWW-Authenticate': header('The bearer challenge: `Bearer realm="order-gateway"`'),
};

/**
 * Schemas with one of these titles become named components, referenced with
 * `$ref` wherever they occur (see `useComponents`).
 */
export const COMPONENT_TITLES = new Set([
  'Order',
  'OrderItem',
  'StatusChange',
  'Address',
  'OrderEnvelope',
  'OrderSummary',
  'Pagination',
  'OrderListEnvelope',
  'FieldError',
  'CreateOrderRequest',
  'OrderItemInput',
  'AddressInput',
  'UpdateOrderRequest',
]);

/** Every error code of the API; each error status narrows it to the codes it stands for. */
export const ERROR_CODE_SCHEMA = {
  type: 'string',
  enum: Object.values(ErrorCode),
  description: 'The stable code of an error; the HTTP status follows from it',
};

/**
 * "Try it out" in `/docs` sends these, and a test sends every one and expects a 2xx.
 * The path's `{id}` must be an order of your own: create one first.
 */
const EXAMPLE_BODIES: Record<string, object> = {
  createOrder: {
    customer_id: 'contact_abc123',
    items: [
      { product_id: 'prod_001', name: 'Premium Widget', quantity: 2, price: 99.0, sku: 'WGT-PRE' },
      { product_id: 'prod_002', name: 'Widget Accessory', quantity: 1, price: 29.0, sku: 'WGT-ACC' },
    ],
    total: 227.0,
    currency: 'USD',
    shipping_address: {
      name: 'John Doe',
      address: '123 Main St',
      city: 'Jakarta',
      state: 'DKI',
      postal_code: '12345',
      country: 'ID',
    },
    notes: 'Please gift wrap this order',
    metadata: { source: 'docs' },
  },
  updateOrder: { status: 'paid', notes: 'Paid by bank transfer' },
};
const EXAMPLE_ORDER_ID = 'order_01JQ7Z8X9Y0ABCDEF123456789';

/** Request fields the service checks beyond the JSON schema, stated for the document only. */
const AMOUNT = {
  pattern: '^\\d{1,15}(\\.\\d{1,4})?$',
  minimum: 0,
  description:
    'Non-negative amount with at most the currency’s minor-unit digits: a JSON number (99.00) or a decimal string ("99.00")',
};
const CURRENCY = {
  pattern: '^[A-Za-z]{3}$',
  description: 'ISO 4217 code, default USD, case-insensitive (stored upper-case)',
};
const COUNTRY = {
  pattern: '^[A-Za-z]{2}$',
  description: 'ISO 3166-1 alpha-2 code, e.g. ID (stored upper-case)',
};
const METADATA_LIMITS = {
  maxProperties: 50,
  propertyNames: { minLength: 1, maxLength: 40 },
  description:
    'Your own JSON object: at most 50 keys of 1 to 40 characters, 16 KiB serialised (numbers written out) and 32 levels deep. ' +
    'Numbers come back as the same JSON numbers, also beyond 2^53.',
};
const TITLES: Record<string, string> = {
  createOrder: 'CreateOrderRequest',
  updateOrder: 'UpdateOrderRequest',
};

export type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
};

/** A copy of a request body schema with the service's own rules written in, for the document only. */
export function documentBody(body: object, operationId: string | undefined): JsonSchema {
  const copy = JSON.parse(JSON.stringify(body)) as JsonSchema;
  const annotate = (schema: JsonSchema | undefined, title?: string) => {
    if (!schema?.properties) return;
    if (title) schema.title = title;
    for (const [name, property] of Object.entries(schema.properties)) {
      if (['price', 'total', 'shipping', 'tax'].includes(name)) Object.assign(property, AMOUNT);
      else if (name === 'currency') Object.assign(property, CURRENCY);
      else if (name === 'metadata') Object.assign(property, METADATA_LIMITS);
      else if (name === 'items') annotate(property.items, 'OrderItemInput');
      else if (name === 'shipping_address' || name === 'billing_address') annotate(property, 'AddressInput');
      else if (name === 'country') Object.assign(property, COUNTRY);
    }
  };
  annotate(copy, operationId ? TITLES[operationId] : undefined);
  const example = operationId ? EXAMPLE_BODIES[operationId] : undefined;
  if (example) copy.examples = [example];
  return copy;
}

/**
 * A copy of a response schema whose objects allow no other properties, as
 * the serialiser makes true (it writes only the schema's properties), so a
 * client generator types them exactly. Metadata says `additionalProperties: true`
 * and stays open.
 */
export function closeObjects<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(closeObjects) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closeObjects(value)]));
  if (copy.type === 'object' && copy.properties && copy.additionalProperties === undefined)
    copy.additionalProperties = false;
  return copy as T;
}

/** The `{id}` parameter, with an example of its form. */
export function documentParams(params: object): JsonSchema {
  const copy = JSON.parse(JSON.stringify(params)) as JsonSchema;
  const id = copy.properties?.id;
  if (id) {
    id.description = 'The order’s id, as returned by createOrder or listOrders';
    id.examples = [EXAMPLE_ORDER_ID];
  }
  return copy;
}

/**
 * The finished document's response headers marked `REQUIRED_HEADER` get `required: true` (and
 * lose the mark); the others stay optional, as OpenAPI's default.
 */
export function requireHeaders<T extends { paths?: unknown }>(document: T): T {
  const paths = (document.paths ?? {}) as Record<
    string,
    Record<
      string,
      {
        responses?: Record<
          string,
          { headers?: Record<string, { required?: boolean; schema?: Record<string, unknown> }> }
        >;
      }
    >
  >;
  for (const item of Object.values(paths)) {
    for (const operation of Object.values(item)) {
      for (const response of Object.values(operation.responses ?? {})) {
        for (const value of Object.values(response.headers ?? {})) {
          if (!value.schema || !(REQUIRED_HEADER in value.schema)) continue;
          const { [REQUIRED_HEADER]: mark, ...schema } = value.schema;
          value.schema = schema;
          if (mark === true) value.required = true;
        }
      }
    }
  }
  return document;
}
