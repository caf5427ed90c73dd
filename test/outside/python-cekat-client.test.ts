/**
 * An older REST integration, in Python, against the live shim: test/fixtures/python/cekat_client.py
 * is written with Python 3's standard library (urllib.request, json, decimal, datetime) the way a
 * team wrote it years ago from the Cekat "Create Order" document, whose example it sends as it is
 * (test/fixtures/cekat-create-order.json). It reads every answer as Python does (json's floats, and
 * `parse_float=Decimal` for the books), every timestamp with `datetime.fromisoformat`, pages with
 * `limit`/`offset`, retries a create whose answer it lost with the same Idempotency-Key, and reads
 * each documented error from the envelope. It prints what it saw; this file says what that must be.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { spawnTracked } from '../support/processes';
import { toolsInstalled } from '../support/tools';

const CLIENT = path.join(__dirname, '..', 'fixtures', 'python', 'cekat_client.py');
const tools = toolsInstalled({ python3: ['--version'] }, 'apt-get install -y python3');
const TIMEOUT = 120_000;

interface Seen {
  type: string;
  text: string;
}
type Report = Record<string, Record<string, unknown>> & {
  amounts: Record<'decimal' | 'float' | 'seed_decimal' | 'seed_float', Record<string, Seen>>;
};

let t: TestApp;
let report: Report;
let base = '';
let key = '';

/** Runs Python (the client, or a program given as text) against `base` (asynchronously: the gateway answers from this process). */
async function runPython(args: string[]): Promise<string> {
  const child = spawnTracked('python3', args, {
    env: { PATH: process.env.PATH ?? '', ORDERS_BASE: base, ORDERS_KEY: key, PYTHONIOENCODING: 'utf-8' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`python3 exited ${code}:\n${stderr}`);
  return stdout;
}

beforeAll(async () => {
  if (!tools.up) return;
  t = await createTestApp({ rateLimitPerMinute: 1_000_000 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.http.server.address() as AddressInfo;
  key = (await t.bearer('python-shop')).slice('Bearer '.length);
  base = `http://127.0.0.1:${port}`;
  report = JSON.parse(await runPython([CLIENT])) as Report;
}, TIMEOUT);
afterAll(() => t?.close());

describe.skipIf(!tools.up)(`a Python integration written from the Cekat document ${tools.reason}`, { timeout: TIMEOUT }, () => {
  it("creates the document's example: 201, a Location to read it at, JSON in UTF-8, the seed's keys in the seed's order", () => {
    const create = report.create;
    const seed = report.seed_response as { keys: string[]; item_keys: string[][] };
    expect(create.status).toBe(201);
    expect(create.location).toMatch(/^\/api\/orders\/order_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(create.content_type).toBe('application/json; charset=utf-8');
    // The seed's keys, in its order, with the contract's additions where it puts them.
    expect((create.keys as string[]).filter((key) => key !== 'status_history')).toStrictEqual(seed.keys);
    expect(create.item_keys).toStrictEqual(seed.item_keys.map((keys) => [...keys.slice(0, 4), 'sku', 'subtotal']));
    expect(report.read_same_as_create).toBe(true);
  });

  it('every timestamp reads with datetime.fromisoformat as UTC', () => {
    const all = [
      ...Object.values((report.create as { timestamps: object }).timestamps),
      ...Object.values((report.update as { timestamps: object }).timestamps),
      ...(report.list as { timestamps: string[] }).timestamps,
    ];
    expect(all.length).toBeGreaterThan(5);
    expect(new Set(all)).toStrictEqual(new Set(['utc']));
  });

  it("amounts are spelled with the currency's digits, as the document writes them: Decimal('99.00') with parse_float=Decimal, a float by default", () => {
    const { decimal, float, seed_decimal: seedDecimal, seed_float: seedFloat } = report.amounts;
    // The document writes prices, subtotals and the total as 99.00; its zero shipping and tax as 0,
    // which the gateway writes 0.00 like every other amount: the same value, and a Decimal like the rest.
    const zeroes = { shipping: { type: 'Decimal', text: '0.00' }, tax: { type: 'Decimal', text: '0.00' } };
    expect(decimal).toStrictEqual({ ...seedDecimal, ...zeroes });
    expect(float).toStrictEqual({ ...seedFloat, shipping: { type: 'float', text: '0.0' }, tax: { type: 'float', text: '0.0' } });
    // What the integration's books then do works: Decimal arithmetic, and an invoice line as the document shows it.
    expect(report.books).toStrictEqual({ total_quantized: '227.00', lines_add_up: true, invoice_line: '99.00 USD' });
  });

  it('optional fields sent as None are left out of the answer, as if not sent', () => {
    expect(report.nulls).toStrictEqual({
      status: 201,
      keys: ['id', 'order_number', 'customer_id', 'status', 'items', 'subtotal', 'shipping', 'tax', 'total', 'currency', 'shipping_address', 'notes', 'status_history', 'created_at', 'updated_at'],
      item_keys: ['product_id', 'name', 'quantity', 'price', 'subtotal'],
      address_keys: ['name', 'address', 'city', 'postal_code', 'country'],
    });
  });

  it('a create retried with its Idempotency-Key after the answer was lost gives the same order, once', () => {
    expect(report.retry).toStrictEqual({ status: 201, replayed: 'true', orders_of_customer: 1, same_order: true });
  });

  it('the list pages with limit and offset to the end, every order once, in the documented envelope', () => {
    const list = report.list;
    expect(list.envelope_keys).toStrictEqual(['success', 'data', 'pagination']);
    expect(list.pagination_keys).toStrictEqual(['total', 'limit', 'offset', 'has_more', 'next_cursor']);
    expect(list.summary_keys).toStrictEqual(['id', 'order_number', 'customer_id', 'status', 'items_count', 'total', 'currency', 'created_at', 'updated_at']);
    expect(list.total).toBe(3);
    expect({ seen: list.seen, distinct: list.distinct }).toStrictEqual({ seen: 3, distinct: 3 });
    // `from` given as Python's isoformat() (microseconds, +00:00), urlencoded: the pending orders of the last hour.
    expect(report.list_from_isoformat).toBe(3);
  });

  it('an update moves the status and appends it to the history', () => {
    expect(report.update).toMatchObject({ status: 'paid', history: ['pending', 'paid'] });
  });

  it('each documented error has its status and code, a message, the request id of X-Request-Id, and details where fields are wrong', () => {
    const errors = report.errors as Record<string, Record<string, unknown>>;
    const plain = { message_is_text: true, request_id_matches_header: true, details: null, keys: ['code', 'message', 'request_id'] };
    const withDetails = (details: unknown) => ({ message_is_text: true, request_id_matches_header: true, details, keys: ['code', 'details', 'message', 'request_id'] });
    expect(errors.unauthorized).toMatchObject({ status: 401, code: 'UNAUTHORIZED', www_authenticate: 'Bearer realm="order-gateway"', ...plain });
    expect(errors.not_found).toMatchObject({ status: 404, code: 'NOT_FOUND', ...plain });
    expect(errors.total_mismatch).toMatchObject({ status: 422, code: 'TOTAL_MISMATCH', ...withDetails([{ field: 'total', message: 'must be 227.00' }]) });
    expect(errors.unknown_field).toMatchObject({ status: 422, code: 'VALIDATION_ERROR', ...withDetails([{ field: 'discount', message: 'is not a known field' }]) });
    expect(errors.too_many_decimals).toMatchObject({ status: 422, code: 'VALIDATION_ERROR', ...withDetails([{ field: 'items[0].price', message: 'must have at most 2 decimal places in USD' }]) });
    expect(errors.missing_fields).toMatchObject({
      status: 422,
      code: 'VALIDATION_ERROR',
      ...withDetails([
        { field: 'customer_id', message: 'is required' },
        { field: 'total', message: 'is required' },
        { field: 'items', message: 'must have at least 1 item' },
      ]),
    });
    expect(errors.invalid_transition).toMatchObject({ status: 409, code: 'INVALID_STATUS_TRANSITION', message_is_text: true, request_id_matches_header: true });
    expect(errors.invalid_json).toMatchObject({ status: 400, code: 'INVALID_JSON', ...plain });
    expect(errors.bad_limit).toMatchObject({ status: 422, code: 'VALIDATION_ERROR', ...withDetails([{ field: 'limit', message: 'must be a whole number from 1 to 100' }]) });
    expect(errors.method_not_allowed).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'GET, HEAD, PUT', ...plain });
  });

  it("the README's Python example runs as written: 201 with the total as Decimal('198.00'), then a page of the list", async () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const example = /^```python\n([\s\S]*?)^```$/m.exec(readme)?.[1];
    expect(example, 'the README has a ```python block').toBeDefined();
    const program = [
      'import os',
      'KEY = os.environ["ORDERS_KEY"]',
      (example ?? '').replaceAll('http://127.0.0.1:3000', base),
      'print(status, sorted(page["pagination"]))',
    ].join('\n');
    expect(await runPython(['-c', program])).toBe(
      "201 198.00\n200 ['has_more', 'limit', 'next_cursor', 'offset', 'total']\n",
    );
  });
});
