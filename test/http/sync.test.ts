/**
 * "What changed since" (contract §8, issue 14 points 2 and 3): `updated_since`,
 * `sort=updated_at` and REST cursors; GraphQL's `updatedSince` and
 * `orderBy: UPDATED_AT_ASC`. The never-skip guarantee under concurrent
 * writers is in test/integration/sync-horizon.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();
type Row = { id: string; order_number: string; updated_at: string; created_at: string };
const body = (customer = 'c1') => ({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 });

async function create(customer = 'c1'): Promise<Row> {
  const res = await t.rest.post('/api/orders', body(customer));
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data;
}

async function update(id: string, changes: Record<string, unknown>): Promise<Row> {
  const res = await t.rest.put(`/api/orders/${id}`, changes);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().data;
}

async function list(query: string) {
  // A change becomes listable in updated_at order once the database's clock has passed it (see syncHorizon).
  await sleep(5);
  const res = await t.rest.get(`/api/orders?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ data: Row[]; pagination: { total: number; has_more: boolean; next_cursor: string | null } }>();
}

/** Every page of a REST list, following next_cursor. */
async function allPages(query: string): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  do {
    const page = await list(`${query}${cursor ? `&cursor=${cursor}` : ''}`);
    rows.push(...page.data);
    expect(page.pagination.has_more).toBe(page.pagination.next_cursor !== null);
    cursor = page.pagination.next_cursor;
  } while (cursor);
  return rows;
}

const ids = (rows: { id: string }[]) => rows.map((row) => row.id);
let a: Row, b: Row, c: Row;

beforeAll(async () => {
  a = await create('abc');
  b = await create('abc');
  c = await create('abc');
  await sleep(5);
  // a changes last, so it sorts last by change although it was created first.
  await update(b.id, { notes: 'second' });
  await update(a.id, { status: 'paid' });
});

describe('sort=updated_at', () => {
  it('lists oldest change first, whatever the creation order', async () => {
    expect(ids((await list('customer_id=abc&sort=updated_at')).data)).toStrictEqual([c.id, b.id, a.id]);
    expect(ids((await list('customer_id=abc')).data)).toStrictEqual([c.id, b.id, a.id]);
    expect(ids((await list('customer_id=abc&sort=-created_at')).data)).toStrictEqual([c.id, b.id, a.id]);
  });

  it('stamps every change with a later updated_at, even two within a millisecond', async () => {
    const order = await create();
    const stamps = [new Date((await t.app.services.orders.getOrder(await t.context(), order.id)).updatedAt).getTime()];
    const ctx = await t.context();
    for (const notes of ['1', '2', '3', '4']) {
      stamps.push((await t.app.services.orders.updateOrder(ctx, order.id, { notes })).updatedAt.getTime());
    }
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBeGreaterThan(stamps[i - 1]);
    const history = await t.app.services.orders.updateOrder(ctx, order.id, { status: 'paid' });
    expect(history.statusHistory.at(-1)?.timestamp).toStrictEqual(history.updatedAt);
  });

  it('keeps updated_at for a change that changes nothing', async () => {
    const before = (await list(`order_number=${c.order_number}`)).data[0];
    await update(c.id, { status: 'pending' });
    expect((await list(`order_number=${c.order_number}`)).data[0]).toStrictEqual(before);
  });
});

describe('updated_since', () => {
  it('keeps the orders changed at or after the instant (inclusive)', async () => {
    const ctx = await t.context();
    const exact = (await t.app.services.orders.getOrder(ctx, b.id)).updatedAt;
    const since = (instant: string) => list(`customer_id=abc&sort=updated_at&updated_since=${instant}`);
    expect(ids((await since(exact.toISOString())).data)).toStrictEqual([b.id, a.id]);
    expect(ids((await since(new Date(exact.getTime() + 1).toISOString())).data)).toStrictEqual([a.id]);
    // Any zone, and it combines with the default order.
    expect(ids((await list(`updated_since=${encodeURIComponent('1999-12-31T23:00:00-05:00')}`)).data)).toHaveLength(
      (await list('')).data.length,
    );
    expect((await list(`updated_since=2999-01-01T00:00:00Z`)).data).toStrictEqual([]);
  });

  it.each([
    ['2025-03-01', 'a date alone'],
    ['2025-03-01T10:00:00', 'a date-time without a zone'],
    ['2025-02-29T10:00:00Z', 'a day that does not exist'],
    ['2025-03-01T10:00:00+16:00', 'an offset PostgreSQL refuses'],
    ['1700000000', 'a Unix time'],
  ])('refuses %j (%s) with a 422 naming updated_since', async (value) => {
    const res = await t.rest.get(`/api/orders?updated_since=${encodeURIComponent(value)}`);
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({
      code: 'VALIDATION_ERROR',
      details: [{ field: 'updated_since', message: 'must be an RFC 3339 date-time with a zone, such as 2026-12-01T16:30:00Z' }],
    });
  });
});

describe('REST cursors', () => {
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) await create('paged');
  });

  it.each(['sort=updated_at', 'sort=-created_at'])('pages %s by next_cursor to the end, each row once', async (sort) => {
    const whole = (await list(`${sort}&customer_id=paged&limit=100`)).data;
    expect(whole).toHaveLength(7);
    const paged = await allPages(`${sort}&customer_id=paged&limit=3`);
    expect(ids(paged)).toStrictEqual(ids(whole));
  });

  it('answers next_cursor null on the last page, and keeps the seed shape otherwise', async () => {
    const page = await list('customer_id=paged&limit=7');
    expect(page.pagination).toStrictEqual({ total: 7, limit: 7, offset: 0, has_more: false, next_cursor: null });
    const first = await list('customer_id=paged&limit=6');
    expect(Object.keys(first.pagination)).toStrictEqual(['total', 'limit', 'offset', 'has_more', 'next_cursor']);
    expect(first.pagination.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('neither repeats nor skips a row when orders are created between pages', async () => {
    const before = ids((await list('customer_id=paged&limit=100')).data);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`customer_id=paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...ids(page.data));
      await create('paged');
      cursor = page.pagination.next_cursor;
    } while (cursor);
    expect(seen).toStrictEqual(before);
  });

  it('refuses a cursor of the other sort, naming cursor', async () => {
    const byChange = (await list('sort=updated_at&limit=1')).pagination.next_cursor;
    const newest = (await list('limit=1')).pagination.next_cursor;
    for (const [query, cursorSort, listSort] of [
      [`cursor=${byChange}`, 'updated_at', '-created_at'],
      [`sort=updated_at&cursor=${newest}`, '-created_at', 'updated_at'],
    ]) {
      const res = await t.rest.get(`/api/orders?${query}`);
      expect(res.statusCode).toBe(422);
      expect(res.json().error.details).toStrictEqual([
        { field: 'cursor', message: `belongs to the sort ${cursorSort}, not ${listSort}; start again without a cursor` },
      ]);
    }
  });

  it.each([
    ['cursor=garbage', 'cursor', 'is not a cursor from this API'],
    ['cursor=eyJ4IjoxfQ', 'cursor', 'is not a cursor from this API'],
    ['sort=newest', 'sort', 'must be one of -created_at, updated_at'],
    ['sort=updated_at&sort=-created_at', 'sort', 'must be given once'],
  ])('refuses %s naming %s', async (query, field, message) => {
    const res = await t.rest.get(`/api/orders?${query}`);
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toContainEqual({ field, message });
  });

  it('refuses cursor together with offset, naming offset', async () => {
    const cursor = (await list('limit=1')).pagination.next_cursor;
    const res = await t.rest.get(`/api/orders?limit=1&offset=1&cursor=${cursor}`);
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([
      { field: 'offset', message: 'cannot be combined with cursor: page by one or the other' },
    ]);
  });

  it('shows nothing of another workspace, by any sort or cursor', async () => {
    const foreign = await t.bearer('globex');
    const res = await t.rest.get('/api/orders?sort=updated_at&updated_since=2000-01-01T00:00:00Z', { authorization: foreign });
    expect(res.json()).toMatchObject({ data: [], pagination: { total: 0, next_cursor: null } });
  });
});

describe('GraphQL', () => {
  const query = `query($filter: OrderFilter, $after: String, $orderBy: OrdersOrderBy, $first: Int) {
    orders(filter: $filter, after: $after, orderBy: $orderBy, first: $first) {
      totalCount edges { cursor node { id updatedAt } } pageInfo { hasNextPage endCursor }
    }
  }`;
  const orders = async (variables: Record<string, unknown>) => {
    await sleep(5);
    const res = (await t.gql(query, variables)).json();
    return res;
  };

  it('lists by change with orderBy: UPDATED_AT_ASC and filter.updatedSince, paging by cursor', async () => {
    const ctx = await t.context();
    const since = (await t.app.services.orders.getOrder(ctx, b.id)).updatedAt.toISOString();
    const first = await orders({ orderBy: 'UPDATED_AT_ASC', filter: { customerId: 'abc', updatedSince: since }, first: 1 });
    expect(first.data.orders.edges.map((e: { node: { id: string } }) => e.node.id)).toStrictEqual([b.id]);
    const rest = await orders({
      orderBy: 'UPDATED_AT_ASC',
      filter: { customerId: 'abc', updatedSince: since },
      after: first.data.orders.pageInfo.endCursor,
      first: 100,
    });
    expect(rest.data.orders.edges.map((e: { node: { id: string } }) => e.node.id)).toStrictEqual([a.id]);
    expect(rest.data.orders.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses an after cursor of the other order, and a bad updatedSince, by their GraphQL names', async () => {
    const newest = (await orders({ first: 1 })).data.orders.pageInfo.endCursor;
    const res = await orders({ orderBy: 'UPDATED_AT_ASC', after: newest, filter: { updatedSince: '2025-01-01' } });
    expect(res.errors[0].extensions.code).toBe('VALIDATION_ERROR');
    expect(res.errors[0].extensions.fields.map((f: { path: string[] }) => f.path.join('.')).sort()).toStrictEqual([
      'after',
      'filter.updatedSince',
    ]);
  });

  it('keeps the cursors it gave before the sorts existed', async () => {
    const old = Buffer.from(JSON.stringify([c.created_at.replace('Z', '.000Z'), c.id])).toString('base64url');
    const res = await orders({ after: old, first: 100 });
    expect(res.errors).toBeUndefined();
  });
});

describe('OpenAPI', () => {
  it('documents updated_since, sort and cursor, and next_cursor', async () => {
    const doc = (await t.app.http.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operation = doc.paths['/api/orders'].get;
    const names = operation.parameters.map((p: { name: string }) => p.name);
    expect(names).toEqual(expect.arrayContaining(['updated_since', 'sort', 'cursor', 'offset', 'order_number']));
    const sort = operation.parameters.find((p: { name: string }) => p.name === 'sort');
    expect(sort.schema.enum).toStrictEqual(['-created_at', 'updated_at']);
    // Schemas with a title are components, referenced by $ref.
    const resolve = (schema: { $ref?: string; properties?: Record<string, unknown> }): { properties: Record<string, unknown> } =>
      schema.$ref ? resolve(doc.components.schemas[schema.$ref.split('/').at(-1) as string]) : (schema as { properties: Record<string, unknown> });
    const envelope = resolve(operation.responses['200'].content['application/json'].schema);
    const pagination = resolve(envelope.properties.pagination as { $ref?: string });
    expect(Object.keys(pagination.properties)).toContain('next_cursor');
  });
});
