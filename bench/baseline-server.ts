/**
 * The benchmark's baseline: POST /api/orders, GET /api/orders/:id and
 * GET /api/orders done by hand with Fastify and `pg`, as fast as plain code
 * can, on the gateway's own tables (start it against a database the gateway
 * has migrated). It imports nothing from `src/`, so nothing the gateway does
 * leaks into the reference it is measured against.
 *
 * It does the same work as the gateway for a create: the Bearer key looked up
 * by its SHA-256 hash together with the workspace's time zone, the contract's
 * validation rules, exact money in integer minor units using the currency's
 * ISO 4217 exponent, the per-workspace daily counter, the order row and the
 * item rows, in one transaction. The counter, order and items are written by
 * one statement using CTEs.
 *
 * BASELINE_MODE picks how the create reaches the database:
 * - `single` (default): the key lookup is folded into the CTE statement too,
 *   so a create is one statement: one round trip and one (implicit)
 *   transaction, holding the workspace's counter row only while that
 *   statement runs and commits. This is the fastest correct shape, so it is
 *   the limit the gateway is measured against. GET by id is one statement as
 *   well; the list is the key lookup plus one statement.
 * - `tx`: BEGIN; key lookup; the CTE statement; COMMIT. Four round trips in
 *   one explicit transaction: the reference shape of stack.md and the issue.
 *   It holds the counter row across the COMMIT round trip, so it is slower.
 *
 * Environment: DATABASE_URL (required), PORT (default 3100), HOST (default
 * 127.0.0.1), POOL_MAX (default 4, the gateway's DB_POOL_MAX default),
 * BASELINE_MODE.
 */
import { createHash, randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Pool, type PoolClient } from 'pg';
import { isSafeNumber, parse as parseLosslessJson } from 'lossless-json';
import currencyCodes from 'currency-codes';
import countries from 'i18n-iso-countries';
import { ulid } from 'ulid';

export type BaselineMode = 'tx' | 'single';

export interface BaselineOptions {
  databaseUrl: string;
  port: number;
  host: string;
  poolMax: number;
  mode: BaselineMode;
}

// ---------------------------------------------------------------------------
// Validation: the contract's rules (orders-api.md §2), hand-coded.

const LIMITS = {
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
} as const;

/** 15 significant digits: every such decimal survives a double round trip. */
const MAX_MINOR = 10n ** 15n - 1n;

interface Currency {
  code: string;
  exponent: number;
}

// Precious metals, bond units and test codes (XAU, XTS, XXX …) are not tender.
const CURRENCIES = new Map<string, Currency>(
  currencyCodes.data
    .filter((c) => !c.countries.every((country) => /^Zz/i.test(country)))
    .map((c) => [c.code, { code: c.code, exponent: c.digits }]),
);
const ALPHA2 = new Set(Object.keys(countries.getAlpha2Codes()));

const ORDER_KEYS = new Set([
  'customer_id',
  'items',
  'total',
  'currency',
  'shipping',
  'tax',
  'shipping_address',
  'billing_address',
  'notes',
  'metadata',
]);
const ITEM_KEYS = new Set(['product_id', 'name', 'quantity', 'price', 'sku']);
/** Request (snake_case) name → stored name (the gateway stores addresses camelCase). */
const ADDRESS_FIELDS: [string, string][] = [
  ['name', 'name'],
  ['company', 'company'],
  ['address', 'address'],
  ['address2', 'address2'],
  ['city', 'city'],
  ['state', 'state'],
  ['postal_code', 'postalCode'],
  ['country', 'country'],
  ['phone', 'phone'],
  ['email', 'email'],
];
const ADDRESS_KEYS = new Set(ADDRESS_FIELDS.map(([key]) => key));

type Path = (string | number)[];
interface FieldError {
  field: string;
  message: string;
}

interface Item {
  productId: string;
  name: string | null;
  quantity: number;
  priceMinor: bigint;
  sku: string | null;
}

interface Draft {
  customerId: string;
  currency: Currency;
  items: Item[];
  shippingMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
  shippingAddress: Record<string, string> | null;
  billingAddress: Record<string, string> | null;
  notes: string | null;
  metadata: Record<string, unknown> | null;
}

type Checked =
  | { ok: true; draft: Draft }
  | { ok: false; status: number; code: string; message: string; details?: FieldError[] };

function fieldName(path: Path): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Length in code points, as JSON Schema counts it; ASCII needs no scan. */
function codePoints(text: string, max: number): number {
  if (text.length <= max) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** PostgreSQL cannot store U+0000, and a lone surrogate cannot be encoded as UTF-8. */
const unstorable = (text: string) => text.includes('\u0000') || !text.isWellFormed();

const DECIMAL_STRING = /^-?\d+(\.\d+)?$/;
const NUMBER_TEXT = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/;

/** An amount (JSON number or decimal string) → integer minor units; `1.5` JPY or `9.999` USD is an error, not a rounding. */
function toMinor(value: number | string, currency: Currency): bigint | string {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'must be a finite number';
    if (value < 0) return 'must be 0 or more';
    // The shortest decimal that reads back as this double: the caller's literal within 15 digits.
    text = String(value);
  } else {
    if (!DECIMAL_STRING.test(value)) return 'must be a decimal number such as "99.00"';
    if (value.startsWith('-') && /[1-9]/.test(value)) return 'must be 0 or more';
    text = value.startsWith('-') ? value.slice(1) : value;
  }
  const match = NUMBER_TEXT.exec(text);
  if (!match) return 'must be a decimal number such as "99.00"';
  const whole = match[1];
  const fraction = match[2] ?? '';
  const shift = currency.exponent - fraction.length + Number(match[3] ?? '0');
  let digits = whole + fraction;
  if (shift >= 0) {
    digits += '0'.repeat(shift);
  } else {
    const cut = digits.length + shift;
    if (/[1-9]/.test(digits.slice(Math.max(cut, 0)))) {
      return currency.exponent === 0
        ? `must be a whole number in ${currency.code}`
        : `must have at most ${currency.exponent} decimal places in ${currency.code}`;
    }
    digits = cut > 0 ? digits.slice(0, cut) : '0';
  }
  const minor = BigInt(digits);
  if (minor > MAX_MINOR) return `must be at most ${formatMinor(MAX_MINOR, currency)}`;
  return minor;
}

function formatMinor(minor: bigint, currency: Currency): string {
  const digits = minor.toString().padStart(currency.exponent + 1, '0');
  if (currency.exponent === 0) return digits;
  return `${digits.slice(0, digits.length - currency.exponent)}.${digits.slice(digits.length - currency.exponent)}`;
}

function checkText(
  value: unknown,
  path: Path,
  errors: FieldError[],
  rule: { max: number; min?: number; required?: boolean },
): string | null {
  if (value === undefined || value === null) {
    if (rule.required) errors.push({ field: fieldName(path), message: 'is required' });
    return null;
  }
  if (typeof value !== 'string') {
    errors.push({ field: fieldName(path), message: 'must be a string' });
    return null;
  }
  const length = codePoints(value, rule.max);
  if (rule.min !== undefined && length < rule.min)
    errors.push({ field: fieldName(path), message: 'must not be empty' });
  else if (length > rule.max)
    errors.push({ field: fieldName(path), message: `must be at most ${rule.max} characters` });
  else if (unstorable(value))
    errors.push({
      field: fieldName(path),
      message: 'must not contain NUL characters or unpaired surrogates',
    });
  return value;
}

function checkAmount(
  value: unknown,
  path: Path,
  errors: FieldError[],
  required: boolean,
): number | string | null {
  if (value === undefined || value === null) {
    if (required) errors.push({ field: fieldName(path), message: 'is required' });
    return null;
  }
  if (typeof value !== 'number' && typeof value !== 'string') {
    errors.push({ field: fieldName(path), message: 'must be a number or a decimal string' });
    return null;
  }
  return value;
}

function checkAddress(value: unknown, path: Path, errors: FieldError[]): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) {
    errors.push({ field: fieldName(path), message: 'must be an object' });
    return null;
  }
  for (const key of Object.keys(value)) {
    if (!ADDRESS_KEYS.has(key))
      errors.push({ field: fieldName([...path, key]), message: 'is not a known field' });
  }
  const stored: Record<string, string> = {};
  for (const [key, storedKey] of ADDRESS_FIELDS) {
    const text = checkText(value[key], [...path, key], errors, { max: LIMITS.addressField });
    if (text === null) continue;
    if (key === 'country') {
      const upper = text.toUpperCase();
      if (!ALPHA2.has(upper)) {
        errors.push({
          field: fieldName([...path, key]),
          message: 'must be an ISO 3166-1 alpha-2 country code such as ID',
        });
      }
      stored[storedKey] = upper;
    } else {
      stored[storedKey] = text;
    }
  }
  return stored;
}

function checkJsonText(value: unknown, path: Path, errors: FieldError[]): void {
  if (typeof value === 'string') {
    if (unstorable(value))
      errors.push({
        field: fieldName(path),
        message: 'must not contain NUL characters or unpaired surrogates',
      });
  } else if (Array.isArray(value)) {
    value.forEach((entry, index) => checkJsonText(entry, [...path, index], errors));
  } else if (isObject(value)) {
    for (const key of Object.keys(value)) {
      if (unstorable(key))
        errors.push({
          field: fieldName(path),
          message: 'has a key with NUL characters or unpaired surrogates',
        });
      checkJsonText(value[key], [...path, key], errors);
    }
  }
}

function checkMetadata(value: unknown, errors: FieldError[]): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) {
    errors.push({ field: 'metadata', message: 'must be an object' });
    return null;
  }
  const keys = Object.keys(value);
  if (keys.length > LIMITS.metadataKeys)
    errors.push({ field: 'metadata', message: `must have at most ${LIMITS.metadataKeys} keys` });
  for (const key of keys) {
    if (key.length === 0 || codePoints(key, LIMITS.metadataKeyLength) > LIMITS.metadataKeyLength) {
      errors.push({
        field: fieldName(['metadata', key]),
        message: `key must be 1 to ${LIMITS.metadataKeyLength} characters`,
      });
    }
  }
  checkJsonText(value, ['metadata'], errors);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > LIMITS.metadataBytes)
    errors.push({ field: 'metadata', message: `must be at most ${LIMITS.metadataBytes} bytes as JSON` });
  return value;
}

const invalid = (details: FieldError[]): Checked => ({
  ok: false,
  status: 422,
  code: 'VALIDATION_ERROR',
  message: 'The request has invalid fields',
  details,
});

/** Checks a create request; the result says every bad field at once, like the gateway. */
export function checkCreateOrder(body: unknown): Checked {
  if (body === INVALID_JSON)
    return { ok: false, status: 400, code: 'INVALID_JSON', message: 'The request body is not valid JSON' };
  if (!isObject(body)) return invalid([{ field: 'body', message: 'must be a JSON object' }]);
  const errors: FieldError[] = [];
  for (const key of Object.keys(body)) {
    if (!ORDER_KEYS.has(key)) errors.push({ field: key, message: 'is not a known field' });
  }
  const customerId = checkText(body.customer_id, ['customer_id'], errors, {
    min: 1,
    max: LIMITS.customerId,
    required: true,
  });

  const rawItems: { price: number | string | null; item: Omit<Item, 'priceMinor'> }[] = [];
  if (!Array.isArray(body.items)) {
    errors.push({ field: 'items', message: body.items === undefined ? 'is required' : 'must be an array' });
  } else if (body.items.length < 1 || body.items.length > LIMITS.items) {
    errors.push({ field: 'items', message: `must have 1 to ${LIMITS.items} items` });
  } else {
    body.items.forEach((entry: unknown, index: number) => {
      const path = ['items', index];
      if (!isObject(entry)) {
        errors.push({ field: fieldName(path), message: 'must be an object' });
        return;
      }
      for (const key of Object.keys(entry)) {
        if (!ITEM_KEYS.has(key))
          errors.push({ field: fieldName([...path, key]), message: 'is not a known field' });
      }
      const productId = checkText(entry.product_id, [...path, 'product_id'], errors, {
        min: 1,
        max: LIMITS.productId,
        required: true,
      });
      const name = checkText(entry.name, [...path, 'name'], errors, { max: LIMITS.itemName });
      const sku = checkText(entry.sku, [...path, 'sku'], errors, { max: LIMITS.sku });
      const quantity = entry.quantity;
      if (quantity === undefined) {
        errors.push({ field: fieldName([...path, 'quantity']), message: 'is required' });
      } else if (typeof quantity !== 'number' || !Number.isInteger(quantity)) {
        errors.push({ field: fieldName([...path, 'quantity']), message: 'must be an integer' });
      } else if (quantity < 1 || quantity > LIMITS.quantity) {
        errors.push({ field: fieldName([...path, 'quantity']), message: `must be 1 to ${LIMITS.quantity}` });
      }
      const price = checkAmount(entry.price, [...path, 'price'], errors, true);
      rawItems.push({ price, item: { productId: productId ?? '', name, quantity: quantity as number, sku } });
    });
  }
  const total = checkAmount(body.total, ['total'], errors, true);
  const shipping = checkAmount(body.shipping, ['shipping'], errors, false);
  const tax = checkAmount(body.tax, ['tax'], errors, false);
  const currencyCode = checkText(body.currency, ['currency'], errors, { max: Number.MAX_SAFE_INTEGER });
  const shippingAddress = checkAddress(body.shipping_address, ['shipping_address'], errors);
  const billingAddress = checkAddress(body.billing_address, ['billing_address'], errors);
  const notes = checkText(body.notes, ['notes'], errors, { max: LIMITS.notes });
  const metadata = checkMetadata(body.metadata, errors);
  if (errors.length > 0) return invalid(errors);

  const currency = CURRENCIES.get((currencyCode ?? 'USD').toUpperCase());
  if (!currency)
    return invalid([{ field: 'currency', message: 'must be an ISO 4217 currency code such as USD' }]);

  const amount = (value: number | string | null, path: Path): bigint => {
    if (value === null) return 0n;
    const minor = toMinor(value, currency);
    if (typeof minor === 'bigint') return minor;
    errors.push({ field: fieldName(path), message: minor });
    return 0n;
  };
  const items = rawItems.map(({ price, item }, index): Item => ({
    ...item,
    priceMinor: amount(price, ['items', index, 'price']),
  }));
  const draft: Draft = {
    customerId: customerId as string,
    currency,
    items,
    shippingMinor: amount(shipping, ['shipping']),
    taxMinor: amount(tax, ['tax']),
    totalMinor: amount(total, ['total']),
    shippingAddress,
    billingAddress,
    notes,
    metadata,
  };
  if (errors.length > 0) return invalid(errors);
  return { ok: true, draft };
}

interface Totals {
  itemSubtotals: bigint[];
  subtotal: bigint;
  total: bigint;
}

function checkTotals(draft: Draft): Totals | Checked {
  const itemSubtotals = draft.items.map((item) => item.priceMinor * BigInt(item.quantity));
  let subtotal = 0n;
  const tooLarge: FieldError[] = [];
  itemSubtotals.forEach((value, index) => {
    subtotal += value;
    if (value > MAX_MINOR)
      tooLarge.push({
        field: `items[${index}]`,
        message: 'quantity × price exceeds the largest supported amount',
      });
  });
  const total = subtotal + draft.shippingMinor + draft.taxMinor;
  if (tooLarge.length === 0 && total > MAX_MINOR)
    tooLarge.push({ field: 'total', message: 'exceeds the largest supported amount' });
  if (tooLarge.length > 0) return invalid(tooLarge);
  if (total !== draft.totalMinor) {
    const expected = formatMinor(total, draft.currency);
    return {
      ok: false,
      status: 422,
      code: 'TOTAL_MISMATCH',
      message: `total ${formatMinor(draft.totalMinor, draft.currency)} does not match the expected total ${expected}`,
      details: [{ field: 'total', message: `must be ${expected}` }],
    };
  }
  return { itemSubtotals, subtotal, total };
}

// ---------------------------------------------------------------------------
// SQL

const AUTH_SQL = `select k.workspace_id, w.time_zone from api_keys k join workspaces w on w.id = k.workspace_id
  where k.secret_hash = $1 and k.revoked_at is null`;

/** The order and its items, from the counter CTE `c` (workspace_id, day, last_value); parameters from $n on. */
function writeOrderSql(n: number): string {
  const p = (offset: number) => `$${n + offset}`;
  return `o as (
    insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                        shipping_address, billing_address, notes, metadata, status_history, created_at, updated_at)
    select ${p(0)}::varchar, c.workspace_id,
           'ORD-' || to_char(c.day, 'YYYY-MMDD') || '-' || lpad(c.last_value::text, greatest(3, length(c.last_value::text)), '0'),
           ${p(1)}::varchar, 'pending', ${p(2)}::varchar, ${p(3)}::numeric, ${p(4)}::numeric, ${p(5)}::numeric, ${p(6)}::numeric,
           ${p(7)}::jsonb, ${p(8)}::jsonb, ${p(9)}::text, ${p(10)}::jsonb, ${p(11)}::jsonb, $2::timestamptz, $2::timestamptz
    from c
    returning id, order_number
  ), i as (
    insert into order_items (order_id, position, product_id, name, quantity, price, sku, subtotal)
    select o.id, x.position, x.product_id, x.name, x.quantity, x.price, x.sku, x.subtotal
    from o cross join unnest(${p(12)}::int[], ${p(13)}::varchar[], ${p(14)}::text[], ${p(15)}::int[], ${p(16)}::numeric[],
                             ${p(17)}::varchar[], ${p(18)}::numeric[])
           as x(position, product_id, name, quantity, price, sku, subtotal)
  )
  select o.order_number from o`;
}

const COUNTER_UPSERT = `on conflict (workspace_id, day) do update set last_value = n.last_value + 1
    returning n.workspace_id, n.day, n.last_value`;

/** tx mode: $1 workspace id, $2 created_at, $3 time zone, then the order's values. */
const CREATE_SQL = `with c as (
    insert into order_number_counters as n (workspace_id, day, last_value)
    values ($1::varchar, ($2::timestamptz at time zone $3::text)::date, 1)
    ${COUNTER_UPSERT}
  ), ${writeOrderSql(4)}`;

/** single mode: $1 key hash, $2 created_at, then the order's values; no row back means the key is unknown. */
const CREATE_FUSED_SQL = `with k as (
    select k.workspace_id, w.time_zone from api_keys k join workspaces w on w.id = k.workspace_id
    where k.secret_hash = $1::varchar and k.revoked_at is null
  ), c as (
    insert into order_number_counters as n (workspace_id, day, last_value)
    select k.workspace_id, ($2::timestamptz at time zone k.time_zone)::date, 1 from k
    ${COUNTER_UPSERT}
  ), ${writeOrderSql(3)}`;

const ORDER_COLUMNS = `o.id, o.order_number, o.customer_id, o.status, o.currency, o.subtotal, o.shipping, o.tax, o.total,
  o.shipping_address, o.billing_address, o.notes, o.metadata, o.tracking_number, o.tracking_url, o.status_history,
  o.created_at, o.updated_at, i.product_id, i.name, i.quantity, i.price, i.sku, i.subtotal as item_subtotal`;

const GET_SQL = `select ${ORDER_COLUMNS} from orders o left join order_items i on i.order_id = o.id
  where o.id = $1 and o.workspace_id = $2 order by i.position`;

const GET_FUSED_SQL = `select ${ORDER_COLUMNS} from orders o left join order_items i on i.order_id = o.id
  where o.id = $1 and o.workspace_id = (select workspace_id from api_keys where secret_hash = $2 and revoked_at is null)
  order by i.position`;

const LIST_SQL = `select o.id, o.order_number, o.customer_id, o.status,
    (select count(*)::int from order_items i where i.order_id = o.id) as items_count,
    o.total, o.currency, o.tracking_number, o.created_at, o.updated_at,
    (select count(*)::int from orders t where t.workspace_id = $1) as total_count
  from orders o where o.workspace_id = $1 order by o.created_at desc, o.id desc limit $2 offset $3`;

const COUNT_SQL = `select count(*)::int as total_count from orders where workspace_id = $1`;

// ---------------------------------------------------------------------------
// Representation

interface OrderRow {
  id: string;
  order_number: string;
  customer_id: string;
  status: string;
  currency: string;
  subtotal: string;
  shipping: string;
  tax: string;
  total: string;
  shipping_address: Record<string, string> | null;
  billing_address: Record<string, string> | null;
  notes: string | null;
  metadata: Record<string, unknown> | null;
  tracking_number: string | null;
  tracking_url: string | null;
  status_history: { status: string; timestamp: string }[];
  created_at: Date;
  updated_at: Date;
  product_id: string | null;
  name: string | null;
  quantity: number | null;
  price: string | null;
  sku: string | null;
  item_subtotal: string | null;
}

/** ISO 8601 UTC to the second, as the Cekat API writes it. */
const timestamp = (value: Date | string) =>
  (typeof value === 'string' ? new Date(value) : value).toISOString().replace(/\.\d{3}Z$/, 'Z');

function restAddress(stored: Record<string, string> | null): Record<string, string> | undefined {
  if (!stored) return undefined;
  const out: Record<string, string> = {};
  for (const [key, storedKey] of ADDRESS_FIELDS) {
    const value = stored[storedKey];
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

function restOrder(rows: OrderRow[]) {
  const head = rows[0];
  return {
    id: head.id,
    order_number: head.order_number,
    customer_id: head.customer_id,
    status: head.status,
    items: rows
      .filter((row) => row.product_id !== null)
      .map((row) => ({
        product_id: row.product_id as string,
        name: row.name ?? undefined,
        quantity: row.quantity as number,
        price: Number(row.price),
        sku: row.sku ?? undefined,
        subtotal: Number(row.item_subtotal),
      })),
    subtotal: Number(head.subtotal),
    shipping: Number(head.shipping),
    tax: Number(head.tax),
    total: Number(head.total),
    currency: head.currency,
    shipping_address: restAddress(head.shipping_address),
    billing_address: restAddress(head.billing_address),
    notes: head.notes ?? undefined,
    metadata: head.metadata ?? undefined,
    tracking_number: head.tracking_number ?? undefined,
    tracking_url: head.tracking_url ?? undefined,
    status_history: head.status_history.map((change) => ({
      status: change.status,
      timestamp: timestamp(change.timestamp),
    })),
    created_at: timestamp(head.created_at),
    updated_at: timestamp(head.updated_at),
  };
}

const str = { type: 'string' } as const;
const num = { type: 'number' } as const;
const ADDRESS_SCHEMA = {
  type: 'object',
  properties: Object.fromEntries(ADDRESS_FIELDS.map(([key]) => [key, str])),
} as const;
const ORDER_SCHEMA = {
  type: 'object',
  properties: {
    id: str,
    order_number: str,
    customer_id: str,
    status: str,
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          product_id: str,
          name: str,
          quantity: { type: 'integer' },
          price: num,
          sku: str,
          subtotal: num,
        },
      },
    },
    subtotal: num,
    shipping: num,
    tax: num,
    total: num,
    currency: str,
    shipping_address: ADDRESS_SCHEMA,
    billing_address: ADDRESS_SCHEMA,
    notes: str,
    metadata: { type: 'object', additionalProperties: true },
    tracking_number: str,
    tracking_url: str,
    status_history: { type: 'array', items: { type: 'object', properties: { status: str, timestamp: str } } },
    created_at: str,
    updated_at: str,
  },
} as const;
const ORDER_ENVELOPE = {
  type: 'object',
  properties: { success: { type: 'boolean' }, data: ORDER_SCHEMA },
} as const;
const LIST_ENVELOPE = {
  type: 'object',
  properties: {
    success: { type: 'boolean' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: str,
          order_number: str,
          customer_id: str,
          status: str,
          items_count: { type: 'integer' },
          total: num,
          currency: str,
          tracking_number: str,
          created_at: str,
          updated_at: str,
        },
      },
    },
    pagination: {
      type: 'object',
      properties: {
        total: { type: 'integer' },
        limit: { type: 'integer' },
        offset: { type: 'integer' },
        has_more: { type: 'boolean' },
      },
    },
  },
} as const;

// ---------------------------------------------------------------------------
// HTTP

const INVALID_JSON = Symbol('invalid JSON');
const BEARER = /^Bearer[ ]+(\S+)\s*$/i;
const API_KEY = /^ogk_[A-Za-z0-9_-]{43}$/;
/** Any number literal of 16 or more digits might not survive JSON.parse; those bodies are parsed losslessly. */
const LONG_DIGITS = /\d{16}/;

const parseNumber = (literal: string): number | string => (isSafeNumber(literal) ? Number(literal) : literal);

function parseBody(text: string): unknown {
  try {
    return LONG_DIGITS.test(text) ? parseLosslessJson(text, null, parseNumber) : JSON.parse(text);
  } catch {
    return INVALID_JSON;
  }
}

/** The key's hash, or undefined when the header is missing or malformed (401 without a query). */
function keyHash(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const token = BEARER.exec(authorization)?.[1];
  if (!token || !API_KEY.test(token)) return undefined;
  return createHash('sha256').update(token).digest('hex');
}

function fail(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: FieldError[],
) {
  return reply
    .code(status)
    .header('x-request-id', request.id)
    .send({
      success: false,
      error: { code, message, ...(details ? { details } : {}), request_id: request.id },
    });
}

const unauthorized = (request: FastifyRequest, reply: FastifyReply) =>
  fail(request, reply, 401, 'UNAUTHORIZED', 'A valid API key is required: send Authorization: Bearer <key>');

export async function buildBaseline(options: BaselineOptions): Promise<{ app: FastifyInstance; pool: Pool }> {
  const pool = new Pool({ connectionString: options.databaseUrl, max: options.poolMax });
  const fused = options.mode === 'single';

  const lookupKey = async (hash: string, client: Pool | PoolClient = pool) => {
    const result = await client.query<{ workspace_id: string; time_zone: string }>({
      name: 'auth',
      text: AUTH_SQL,
      values: [hash],
    });
    return result.rows[0];
  };

  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, parseBody(body as string)),
  );
  app.setErrorHandler((error: { statusCode?: number; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return fail(request, reply, 413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than the limit');
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return fail(request, reply, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the request body as application/json');
    }
    if (error.statusCode === 400)
      return fail(request, reply, 400, 'INVALID_JSON', 'The request could not be read');
    process.stderr.write(`baseline: ${error instanceof Error ? (error.stack ?? error.message) : 'unknown error'}\n`);
    return fail(request, reply, 500, 'INTERNAL_ERROR', 'Something went wrong');
  });
  app.setNotFoundHandler((request, reply) => fail(request, reply, 404, 'NOT_FOUND', 'No such route'));

  app.post('/api/orders', { schema: { response: { 201: ORDER_ENVELOPE } } }, async (request, reply) => {
    const hash = keyHash(request.headers.authorization);
    if (!hash) return unauthorized(request, reply);
    const checked = checkCreateOrder(request.body);
    const totals = checked.ok ? checkTotals(checked.draft) : checked;
    if (!checked.ok || 'ok' in totals) {
      // Authentication answers before validation, as in the gateway.
      if (!(await lookupKey(hash))) return unauthorized(request, reply);
      const error = (checked.ok ? totals : checked) as Extract<Checked, { ok: false }>;
      return fail(request, reply, error.status, error.code, error.message, error.details);
    }
    const draft = checked.draft;
    const now = new Date();
    const createdAt = now.toISOString();
    const id = `order_${ulid(now.getTime())}`;
    const money = (minor: bigint) => formatMinor(minor, draft.currency);
    const statusHistory = [{ status: 'pending', timestamp: createdAt }];
    const orderValues = [
      id,
      draft.customerId,
      draft.currency.code,
      money(totals.subtotal),
      money(draft.shippingMinor),
      money(draft.taxMinor),
      money(totals.total),
      draft.shippingAddress && JSON.stringify(draft.shippingAddress),
      draft.billingAddress && JSON.stringify(draft.billingAddress),
      draft.notes,
      draft.metadata && JSON.stringify(draft.metadata),
      JSON.stringify(statusHistory),
      draft.items.map((_, position) => position),
      draft.items.map((item) => item.productId),
      draft.items.map((item) => item.name),
      draft.items.map((item) => item.quantity),
      draft.items.map((item) => money(item.priceMinor)),
      draft.items.map((item) => item.sku),
      totals.itemSubtotals.map(money),
    ];

    let orderNumber: string | undefined;
    if (fused) {
      const result = await pool.query<{ order_number: string }>({
        name: 'create_fused',
        text: CREATE_FUSED_SQL,
        values: [hash, createdAt, ...orderValues],
      });
      orderNumber = result.rows[0]?.order_number;
      if (!orderNumber) return unauthorized(request, reply);
    } else {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('begin');
        const key = await lookupKey(hash, client);
        if (key) {
          const result = await client.query<{ order_number: string }>({
            name: 'create',
            text: CREATE_SQL,
            values: [key.workspace_id, createdAt, key.time_zone, ...orderValues],
          });
          orderNumber = result.rows[0]?.order_number;
          await client.query('commit');
        } else {
          await client.query('rollback');
        }
      } catch (error) {
        broken = true;
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release(broken);
      }
      if (!orderNumber) return unauthorized(request, reply);
    }

    const order = {
      id,
      order_number: orderNumber,
      customer_id: draft.customerId,
      status: 'pending',
      items: draft.items.map((item, index) => ({
        product_id: item.productId,
        name: item.name ?? undefined,
        quantity: item.quantity,
        price: Number(money(item.priceMinor)),
        sku: item.sku ?? undefined,
        subtotal: Number(money(totals.itemSubtotals[index])),
      })),
      subtotal: Number(money(totals.subtotal)),
      shipping: Number(money(draft.shippingMinor)),
      tax: Number(money(draft.taxMinor)),
      total: Number(money(totals.total)),
      currency: draft.currency.code,
      shipping_address: restAddress(draft.shippingAddress),
      billing_address: restAddress(draft.billingAddress),
      notes: draft.notes ?? undefined,
      metadata: draft.metadata ?? undefined,
      status_history: [{ status: 'pending', timestamp: timestamp(now) }],
      created_at: timestamp(now),
      updated_at: timestamp(now),
    };
    return reply.code(201).header('x-request-id', request.id).send({ success: true, data: order });
  });

  app.get('/api/orders/:id', { schema: { response: { 200: ORDER_ENVELOPE } } }, async (request, reply) => {
    const hash = keyHash(request.headers.authorization);
    if (!hash) return unauthorized(request, reply);
    const { id } = request.params as { id: string };
    let rows: OrderRow[];
    if (fused) {
      rows = (await pool.query<OrderRow>({ name: 'get_fused', text: GET_FUSED_SQL, values: [id, hash] }))
        .rows;
      if (rows.length === 0 && !(await lookupKey(hash))) return unauthorized(request, reply);
    } else {
      const key = await lookupKey(hash);
      if (!key) return unauthorized(request, reply);
      rows = (await pool.query<OrderRow>({ name: 'get', text: GET_SQL, values: [id, key.workspace_id] }))
        .rows;
    }
    if (rows.length === 0) return fail(request, reply, 404, 'NOT_FOUND', `Order ${id} was not found`);
    return reply.header('x-request-id', request.id).send({ success: true, data: restOrder(rows) });
  });

  /** The default list (newest first) with limit and offset; the filters of §3 are not part of the benchmark. */
  app.get('/api/orders', { schema: { response: { 200: LIST_ENVELOPE } } }, async (request, reply) => {
    const hash = keyHash(request.headers.authorization);
    if (!hash) return unauthorized(request, reply);
    const key = await lookupKey(hash);
    if (!key) return unauthorized(request, reply);
    const query = request.query as Record<string, string | string[] | undefined>;
    const errors: FieldError[] = [];
    const integer = (name: string, fallback: number, min: number, max: number) => {
      const raw = query[name];
      if (raw === undefined) return fallback;
      if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
        errors.push({ field: name, message: `must be an integer from ${min} to ${max}` });
        return fallback;
      }
      return Number(raw);
    };
    const limit = integer('limit', 50, 1, 100);
    const offset = integer('offset', 0, 0, Number.MAX_SAFE_INTEGER);
    for (const name of Object.keys(query)) {
      if (name !== 'limit' && name !== 'offset')
        errors.push({ field: name, message: 'is not supported by the baseline' });
    }
    if (errors.length > 0)
      return fail(request, reply, 422, 'VALIDATION_ERROR', 'The query has invalid fields', errors);
    const rows = (
      await pool.query<{
        id: string;
        order_number: string;
        customer_id: string;
        status: string;
        items_count: number;
        total: string;
        currency: string;
        tracking_number: string | null;
        created_at: Date;
        updated_at: Date;
        total_count: number;
      }>({ name: 'list', text: LIST_SQL, values: [key.workspace_id, limit, offset] })
    ).rows;
    const total =
      rows[0]?.total_count ??
      (
        await pool.query<{ total_count: number }>({
          name: 'count',
          text: COUNT_SQL,
          values: [key.workspace_id],
        })
      ).rows[0]?.total_count ??
      0;
    return reply.header('x-request-id', request.id).send({
      success: true,
      data: rows.map((row) => ({
        id: row.id,
        order_number: row.order_number,
        customer_id: row.customer_id,
        status: row.status,
        items_count: row.items_count,
        total: Number(row.total),
        currency: row.currency,
        tracking_number: row.tracking_number ?? undefined,
        created_at: timestamp(row.created_at),
        updated_at: timestamp(row.updated_at),
      })),
      pagination: { total, limit, offset, has_more: offset + rows.length < total },
    });
  });

  app.addHook('onClose', async () => {
    await pool.end();
  });
  return { app, pool };
}

function readOptions(env: NodeJS.ProcessEnv): BaselineOptions {
  const databaseUrl = env.DATABASE_URL?.trim();
  if (!databaseUrl)
    throw new Error('DATABASE_URL is required: the baseline runs on a real PostgreSQL server');
  const mode = (env.BASELINE_MODE?.trim() || 'single') as BaselineMode;
  if (mode !== 'tx' && mode !== 'single')
    throw new Error(`BASELINE_MODE must be tx or single, got "${String(mode)}"`);
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name]?.trim();
    const value = raw ? Number(raw) : fallback;
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`${name} must be a whole number from ${min} to ${max}`);
    return value;
  };
  return {
    databaseUrl,
    port: int('PORT', 3100, 0, 65535),
    host: env.HOST?.trim() || '127.0.0.1',
    poolMax: int('POOL_MAX', 4, 1, 500),
    mode,
  };
}

async function main(): Promise<void> {
  const options = readOptions(process.env);
  const { app } = await buildBaseline(options);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const address = await app.listen({ port: options.port, host: options.host });
  process.stdout.write(`baseline (${options.mode}) listening on ${address}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `baseline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
