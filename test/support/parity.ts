/**
 * Helpers for comparing the two transports: a REST order (or error) and a
 * GraphQL one put in the same form, so that a test can say "same order,
 * same refusal" with one `toStrictEqual`.
 */
import type { LightMyRequestResponse as Response } from 'fastify';
import { camelToSnake, renameKeys } from '../../src/shared/case';
import { parseExactJson, stringifyJson } from '../../src/shared/exact-json';
import { findCurrency } from '../../src/orders/money';

const ADDRESS_KEYS = ['name', 'company', 'address', 'address2', 'city', 'state', 'postalCode', 'country', 'phone', 'email'];

/** A REST create body in GraphQL's names (metadata keys kept). */
export const toGraphQLInput = (body: Record<string, unknown>): Record<string, unknown> => renameKeys(body, 'camel');

/** A REST amount (a JSON number) as GraphQL's Decimal writes it: the currency's digits. */
function decimal(value: number, currency: string): string {
  const exponent = findCurrency(currency)?.exponent ?? 2;
  return value.toFixed(exponent);
}

/** REST's seconds: a GraphQL DateTime cut to the second, as REST writes it. */
const toSecond = (value: string) => `${value.slice(0, 19)}Z`;

function address(value: Record<string, unknown> | undefined | null): Record<string, unknown> | null {
  if (value == null) return null;
  return Object.fromEntries(ADDRESS_KEYS.map((key) => [key, value[camelToSnake(key)] ?? null]));
}

interface RestItem {
  product_id: string;
  name?: string;
  quantity: number;
  price: number;
  sku?: string;
  subtotal: number;
}

/** An order in REST's representation (`data` of GET /api/orders/:id), as much as the comparison reads. */
export interface RestOrder {
  id: string;
  order_number: string;
  customer_id: string;
  status: string;
  items: RestItem[];
  subtotal: number;
  shipping: number;
  tax: number;
  total: number;
  currency: string;
  shipping_address?: Record<string, unknown>;
  billing_address?: Record<string, unknown>;
  notes?: string;
  metadata?: unknown;
  tracking_number?: string;
  tracking_url?: string;
  status_history: { status: string; timestamp: string }[];
  created_at: string;
  updated_at: string;
}

/** An order as `ORDER_FIELDS` asks for it, as much as the comparison reads. */
export interface GraphQLOrder {
  metadata: unknown;
  statusHistory: { status: string; timestamp: string }[];
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

/**
 * An order as GraphQL's `order(id)` answers it, from REST's `data`: camelCase,
 * amounts as Decimal strings, statuses in upper case, absent fields `null`;
 * times to the second on both sides. Metadata is written with its exact numbers.
 */
export function restOrderAsGraphQL(rest: RestOrder): Record<string, unknown> {
  const currency = rest.currency;
  return {
    id: rest.id,
    orderNumber: rest.order_number,
    customerId: rest.customer_id,
    status: String(rest.status).toUpperCase(),
    items: rest.items.map((item) => ({
      productId: item.product_id,
      name: item.name ?? null,
      quantity: item.quantity,
      price: decimal(item.price, currency),
      sku: item.sku ?? null,
      subtotal: decimal(item.subtotal, currency),
    })),
    subtotal: decimal(rest.subtotal, currency),
    shipping: decimal(rest.shipping, currency),
    tax: decimal(rest.tax, currency),
    total: decimal(rest.total, currency),
    currency,
    shippingAddress: address(rest.shipping_address),
    billingAddress: address(rest.billing_address),
    notes: rest.notes ?? null,
    metadata: rest.metadata === undefined ? null : stringifyJson(rest.metadata),
    trackingNumber: rest.tracking_number ?? null,
    trackingUrl: rest.tracking_url ?? null,
    statusHistory: rest.status_history.map((change) => ({
      status: change.status.toUpperCase(),
      timestamp: change.timestamp,
    })),
    createdAt: rest.created_at,
    updatedAt: rest.updated_at,
  };
}

/** A GraphQL order with its times cut to REST's second and metadata written exactly, for `restOrderAsGraphQL`. */
export function graphQLOrderToSecond(order: GraphQLOrder): Record<string, unknown> {
  return {
    ...order,
    metadata: order.metadata === null ? null : stringifyJson(order.metadata),
    statusHistory: order.statusHistory.map((change) => ({
      status: change.status,
      timestamp: toSecond(change.timestamp),
    })),
    createdAt: toSecond(order.createdAt),
    updatedAt: toSecond(order.updatedAt),
  };
}

/** A response body parsed with metadata's exact numbers kept. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads what it expects from the body, and the assertions check it
export const exactJson = (res: Response): any => parseExactJson(res.body);

/** What a refusal says, transport aside: its code and the fields it names, in GraphQL's names under the input. */
export interface Outcome {
  code: string;
  fields: string[];
}

/** `items[0].postal_code` → `items.0.postalCode`; metadata keys as they are. */
export function restFieldAsGraphQL(field: string): string {
  const parts = field.replace(/\[(\d+)\]/g, '.$1').split('.');
  return parts
    .map((part, i) => (parts.slice(0, i).includes('metadata') ? part : part.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())))
    .join('.');
}

export function restOutcome(res: Response): Outcome | 'created' | 'ok' {
  if (res.statusCode === 201) return 'created';
  if (res.statusCode === 200) return 'ok';
  const { error } = res.json();
  return { code: error.code, fields: (error.details ?? []).map((d: { field: string }) => restFieldAsGraphQL(d.field)) };
}

/** A mutation payload's outcome; `argument` is the input's name, dropped from the fields. */
export function graphQLOutcome(res: Response, mutation: string, success: 'created' | 'ok'): Outcome | 'created' | 'ok' | { topLevel: string } {
  const body = res.json();
  if (body.errors) return { topLevel: body.errors[0].extensions?.code };
  const payload = body.data[mutation];
  if (payload.order) return success;
  const errors = payload.userErrors as { field: string[]; code: string }[];
  return {
    code: errors[0]?.code ?? 'none',
    fields: errors.filter((e) => e.field.length > 1 || e.field[0] !== 'input').map((e) => (e.field[0] === 'input' ? e.field.slice(1) : e.field).join('.')),
  };
}
