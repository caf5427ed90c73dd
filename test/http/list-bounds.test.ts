/**
 * List filters and cursors that JavaScript would take but PostgreSQL would
 * not: each is a VALIDATION_ERROR naming its parameter (a 422 in REST, a
 * top-level error in GraphQL), never a 500. The edges PostgreSQL does take
 * still work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let auth: string;

beforeAll(async () => {
  t = await createTestApp();
  auth = await t.bearer('acme');
  await t.app.http.inject({
    method: 'POST',
    url: '/api/orders',
    headers: { authorization: auth, 'content-type': 'application/json' },
    payload: { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: '1.00' }], total: '1.00' },
  });
});
afterAll(() => t.close());

const list = (query: string) => t.app.http.inject({ method: 'GET', url: `/api/orders?${query}`, headers: { authorization: auth } });
const gql = (query: string, variables: Record<string, unknown>) =>
  t.app.http.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: auth, 'content-type': 'application/json' },
    payload: JSON.stringify({ query, variables }),
  });
const PAGE = 'query($filter: OrderFilter, $after: String) { orders(filter: $filter, after: $after) { totalCount } }';

/** Dates JavaScript parses and PostgreSQL refuses (year 0, 25:61, an offset past ±15:59), and some near them. */
const BAD_BOUNDS = [
  '0000-01-01',
  '0000-12-31T23:00:00Z',
  '2020-01-01T25:61',
  '2020-01-01T24:00',
  '2020-01-01T23:60',
  '2020-01-01T23:59:60',
  '2020-01-01T10:00-23:59',
  '2020-01-01T10:00+16:00',
  '2020-01-01T10:00+1600',
  '2020-01-01T10:00+15:60',
  '2020-01-01T10:00-99',
];
/** The edges PostgreSQL takes. */
const GOOD_BOUNDS = ['0001-01-01', '9999-12-31', '2020-01-01T23:59:59.999999', '2020-01-01T10:00+15:59', '2020-01-01T10:00-1559', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '9999-12-31T23:59'];

const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const ID = 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV';
const BAD_CURSORS = [
  cursor(['1', 'x']),
  cursor(['1', ID]),
  cursor(['0000-01-01T00:00:00.000Z', ID]),
  cursor(['2020-01-01T25:61:00.000Z', ID]),
  cursor(['2020-01-01T10:00-23:59', ID]),
  cursor(['2020-02-30T00:00:00.000Z', ID]),
  cursor(['+275760-09-13T00:00:00.000Z', ID]),
  cursor(['2020-01-01T00:00:00.000Z', 'a\u0000b']),
  cursor(['2020-01-01T00:00:00.000Z', 'x;y']),
  cursor(['2020-01-01T00:00:00.000Z', 1]),
  cursor(['2020-01-01T00:00:00.000Z', ID, 'extra']),
  'x'.repeat(10_000),
];

describe('REST from / to', () => {
  it.each(BAD_BOUNDS.flatMap((value) => ['from', 'to'].map((key) => [key, value])))('%s=%s is a 422 naming it', async (key, value) => {
    const res = await list(`${key}=${encodeURIComponent(value)}`);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ field: key, message: 'must be a date (YYYY-MM-DD) or an ISO 8601 date-time' }],
    });
  });

  it.each(GOOD_BOUNDS)('from and to = %s, at the edges PostgreSQL takes, are fine', async (value) => {
    const res = await list(`from=${encodeURIComponent(value)}&to=${encodeURIComponent(value)}`);
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('GraphQL filter and cursor', () => {
  it.each(BAD_BOUNDS)('filter from / to %j is a VALIDATION_ERROR naming it', async (value) => {
    for (const key of ['from', 'to']) {
      const res = await gql(PAGE, { filter: { [key]: value } });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.data).toBeNull();
      expect(body.errors[0]).toMatchObject({
        message: `Invalid request: filter.${key} must be a date (YYYY-MM-DD) or an ISO 8601 date-time`,
        extensions: { code: 'VALIDATION_ERROR' },
      });
    }
  });

  it.each(GOOD_BOUNDS)('filter from / to %j at the edges is fine', async (value) => {
    const res = await gql(PAGE, { filter: { from: value, to: value } });
    expect(res.json().errors).toBeUndefined();
  });

  it.each(BAD_CURSORS.map((after) => [Buffer.from(after, 'base64url').toString().slice(0, 60), after]))('a cursor of %j is a VALIDATION_ERROR naming after', async (_decoded, after) => {
    const res = await gql(PAGE, { after });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.data).toBeNull();
    expect(body.errors[0]).toMatchObject({ message: 'Invalid request: after is not a cursor from this API', extensions: { code: 'VALIDATION_ERROR' } });
  });

  it('a cursor this API wrote still pages', async () => {
    const first = await gql('{ orders(first: 1) { edges { cursor } } }', {});
    const after = first.json().data.orders.edges[0].cursor as string;
    const res = await gql(PAGE, { after });
    expect(res.json()).toStrictEqual({ data: { orders: { totalCount: 1 } } });
  });
});

describe("a workspace's time zone, which calendar-day bounds are read in", () => {
  // The runtime's time-zone data still takes US/Pacific-New as an alias of America/Los_Angeles; PostgreSQL's no longer knows it.
  it.each([
    ['US/Pacific-New', 'America/Los_Angeles'],
    ['asia/jakarta', 'Asia/Jakarta'],
    ['Pacific/Kanton', 'Pacific/Kanton'],
  ])('%s is stored as %s, and a day-bounded list works in it', async (zone, stored) => {
    const slug = `tz-${zone.toLowerCase().replace(/[^a-z0-9]/g, '-')}`;
    const key = await t.bearer(slug, zone);
    const created = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: key, 'content-type': 'application/json' },
      payload: { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: '1.00' }], total: '1.00' },
    });
    expect(created.statusCode).toBe(201);
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    const res = await t.app.http.inject({ method: 'GET', url: `/api/orders?from=${day}&to=${day}`, headers: { authorization: key } });
    expect(res.statusCode).toBe(200);
    expect(res.json().pagination.total).toBe(1);
    const [row] = await t.app.db.em.fork().execute('select time_zone from workspaces where slug = ?', [slug]);
    expect(row.time_zone).toBe(stored);
  });
});
