import { beforeAll, describe, expect, it } from 'vitest';
import { OrderService } from '../../src/orders/order.service';
import type { Order, RequestContext } from '../../src/orders/order.types';
import { useTestApp } from '../support/app';
import { createOrder } from '../support/orders';

const t = useTestApp();
let ctx: RequestContext;
/** Four orders at known times in workspace "acme" (UTC). */
const o: Record<1 | 2 | 3 | 4, Order> = {} as never;
let foreign: Order;
let otherCtx: RequestContext;

async function createAt(context: RequestContext, at: string, body: Record<string, unknown>): Promise<Order> {
  return createOrder(new OrderService(t.app.db.em, { clock: () => new Date(at) }), context, {
    items: [{ product_id: 'p', quantity: 1, price: body.total }],
    ...body,
  });
}

beforeAll(async () => {
  ctx = await t.context();
  o[1] = await createAt(ctx, '2025-03-01T10:00:00Z', { customer_id: 'c1', total: '10.00', notes: 'Gift wrap, 100% please' });
  o[2] = await createAt(ctx, '2025-03-02T10:00:00Z', { customer_id: 'c1', total: '250.50' });
  o[3] = await createAt(ctx, '2025-03-03T23:30:00Z', { customer_id: 'c2', total: '99.99', notes: 'URGENT delivery' });
  o[4] = await createAt(ctx, '2025-03-05T00:00:00Z', { customer_id: 'c3', total: '1000.00', items: [
    { product_id: 'a', quantity: 1, price: '600.00' },
    { product_id: 'b', quantity: 2, price: '200.00' },
  ] });
  await t.app.services.orders.updateOrder(ctx, o[2].id, { status: 'paid' });
  await t.app.services.orders.updateOrder(ctx, o[4].id, { status: 'cancelled' });
  otherCtx = await t.app.services.auth.authenticate(await t.bearer('globex'));
  foreign = await createAt(otherCtx, '2025-03-02T12:00:00Z', { customer_id: 'c1', total: '10.00', notes: 'gift' });
});

const numbersOf = async (query: string) => {
  const res = await t.rest.get(`/api/orders${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json().data as { order_number: string }[]).map((row) => row.order_number);
};
const n = (...which: (1 | 2 | 3 | 4)[]) => which.map((index) => o[index].orderNumber);

describe('GET /api/orders', () => {
  it('lists the workspace’s orders newest first, as summaries with pagination', async () => {
    const res = await t.rest.get('/api/orders');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.pagination).toStrictEqual({ total: 4, limit: 50, offset: 0, has_more: false, next_cursor: null });
    expect(body.data.map((row: { order_number: string }) => row.order_number)).toStrictEqual(n(4, 3, 2, 1));
    expect(body.data[0]).toStrictEqual({
      id: o[4].id,
      order_number: 'ORD-2025-0305-001',
      customer_id: 'c3',
      status: 'cancelled',
      items_count: 2,
      total: 1000,
      currency: 'USD',
      created_at: '2025-03-05T00:00:00Z',
      updated_at: expect.stringMatching(/Z$/),
    });
  });

  it.each([
    ['customer_id=c1', [2, 1]],
    ['status=paid', [2]],
    ['status=pending', [3, 1]],
    ['from=2025-03-02', [4, 3, 2]],
    ['to=2025-03-03', [3, 2, 1]],
    ['from=2025-03-02T10:00:00Z', [4, 3, 2]],
    ['to=2025-03-02T09:59:59Z', [1]],
    ['from=2025-03-02T11:00:00%2B01:00', [4, 3, 2]],
    ['min_total=99.99', [4, 3, 2]],
    ['max_total=99.99', [3, 1]],
    ['min_total=250.5&max_total=250.50', [2]],
    ['min_total=250.501', [4]],
    // A number as a client's float printing writes it (0.1 * 3 in JavaScript), compared exactly.
    ['min_total=0.30000000000000004', [4, 3, 2, 1]],
    ['min_total=250.50000000000001', [4]],
    ['max_total=250.500000000000000001', [3, 2, 1]],
    ['min_total=1000.00000&max_total=1000.000000', [4]],
    ['search=gift', [1]],
    ['search=urgent', [3]],
    ['search=ORD-2025-0303', [3]],
    ['search=100%25', [1]],
    ['search=_', []],
    ['customer_id=c1&status=pending', [1]],
    ['customer_id=c1&min_total=100', [2]],
    ['from=2025-03-02&to=2025-03-03&max_total=100', [3]],
    ['status=pending&search=delivery&from=2025-03-03&to=2025-03-03', [3]],
    ['customer_id=nobody', []],
  ] as [string, (1 | 2 | 3 | 4)[]][])('filters by %s', async (query, expected) => {
    expect(await numbersOf(`?${query}`)).toStrictEqual(n(...expected));
  });

  it('reads a bare date in the workspace’s time zone', async () => {
    const jakarta = await t.app.services.auth.authenticate(await t.bearer('jakarta', 'Asia/Jakarta'));
    // 2025-03-03T23:30Z is 06:30 on 4 March in Jakarta (UTC+7).
    const late = await createAt(jakarta, '2025-03-03T23:30:00Z', { customer_id: 'j', total: '1.00' });
    const jAuth = await t.bearer('jakarta');
    const on4 = await t.rest.get('/api/orders?from=2025-03-04&to=2025-03-04', { authorization: jAuth });
    const on3 = await t.rest.get('/api/orders?from=2025-03-03&to=2025-03-03', { authorization: jAuth });
    expect(on4.json().data.map((row: { id: string }) => row.id)).toStrictEqual([late.id]);
    expect(on3.json().data).toStrictEqual([]);
    expect(late.orderNumber).toBe('ORD-2025-0304-001');
  });

  describe('a `to` includes the whole of the last unit it is written in', () => {
    // In Asia/Jakarta (UTC+7), so that a bound without a zone is read there. REST writes times to the second.
    let auth: string;
    const at: Record<'early' | 'a' | 'b' | 'd', Order> = {} as never;
    beforeAll(async () => {
      auth = await t.bearer('seconds', 'Asia/Jakarta');
      const sctx = await t.context(auth);
      for (const [name, time] of [
        ['early', '2025-03-02T09:59:59.999Z'],
        ['a', '2025-03-02T10:00:00.250Z'],
        ['b', '2025-03-02T10:00:01.000Z'],
        ['d', '2025-03-02T10:01:00.000Z'],
      ] as const)
        at[name] = await createAt(sctx, time, { customer_id: 's', total: '1.00' });
    });
    const ids = async (query: string) => {
      const res = await t.rest.get(`/api/orders?${query}`, { authorization: auth });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().pagination.total).toBe(res.json().data.length);
      return (res.json().data as { id: string }[]).map((row) => row.id);
    };
    const of = (...names: ('early' | 'a' | 'b' | 'd')[]) => names.map((name) => at[name].id);

    it('an order’s own created_at, as REST writes it, is a `to` that includes it, and from=X&to=X finds it', async () => {
      const written = (await t.rest.get(`/api/orders/${at.a.id}`, { authorization: auth })).json().data.created_at;
      expect(written).toBe('2025-03-02T10:00:00Z');
      expect(await ids(`to=${written}`)).toStrictEqual(of('a', 'early'));
      expect(await ids(`from=${written}&to=${written}`)).toStrictEqual(of('a'));
      expect(await ids(`customer_id=s&from=${written}&to=${written}`)).toStrictEqual(of('a'));
    });

    it.each([
      ['to=2025-03-02T10:00:00Z', ['a', 'early']],
      ['to=2025-03-02T17:00:00%2B07:00', ['a', 'early']],
      ['to=2025-03-02T17:00:00', ['a', 'early']],
      ['to=2025-03-02T09:59:59Z', ['early']],
      ['from=2025-03-02T10:00:01Z&to=2025-03-02T10:00:01Z', ['b']],
      // To the minute: the whole minute, as a date is the whole day.
      ['to=2025-03-02T10:00Z', ['b', 'a', 'early']],
      ['to=2025-03-02T17:00', ['b', 'a', 'early']],
      ['from=2025-03-02T17:01&to=2025-03-02T17:01', ['d']],
      // With a fraction the bound is exact.
      ['to=2025-03-02T10:00:00.250Z', ['a', 'early']],
      ['to=2025-03-02T10:00:00.249Z', ['early']],
      ['to=2025-03-02T10:00:00.000Z', ['early']],
      ['to=2025-03-02T10:00:00.000001Z', ['early']],
      ['to=2025-03-02T17:00:00.5', ['a', 'early']],
      // ISO 8601 and RFC 3339 put no limit on a fraction's digits: Go's RFC3339Nano writes nine.
      // Times are kept to the microsecond, so `to` drops what is past it and `from` rounds up.
      ['to=2025-03-02T10:00:00.250000000Z', ['a', 'early']],
      ['to=2025-03-02T10:00:00.249999999Z', ['early']],
      ['to=2025-03-02T17:00:00.2500000001', ['a', 'early']],
      ['from=2025-03-02T10:00:00.249999999Z&to=2025-03-02T10:00:00.250000000Z', ['a']],
      ['from=2025-03-02T10:00:00.250000001Z&to=2025-03-02T10:00:01.000000000Z', ['b']],
      ['from=2025-03-02T09:59:59.999999999Z&to=2025-03-02T10:00:00Z', ['a']],
      // updated_since is the time of the last change as committed, not these clocks': taken, not a 422.
      ['customer_id=s&updated_since=2025-03-02T09:59:59.999999999%2B00:00', ['d', 'b', 'a', 'early']],
      ['customer_id=s&updated_since=9999-12-31T23:59:59.999999999Z', []],
      // A date is still the whole day in the workspace's zone (17:00Z is midnight in Jakarta).
      ['to=2025-03-02', ['d', 'b', 'a', 'early']],
      ['to=2025-03-01', []],
    ] as [string, ('early' | 'a' | 'b' | 'd')[]][])('%s', async (query, expected) => {
      expect(await ids(query)).toStrictEqual(of(...expected));
    });
  });

  it('pages with limit and offset, and says when there is more', async () => {
    const first = (await t.rest.get('/api/orders?limit=2')).json();
    expect(first.pagination).toStrictEqual({ total: 4, limit: 2, offset: 0, has_more: true, next_cursor: expect.any(String) });
    expect(first.data.map((row: { order_number: string }) => row.order_number)).toStrictEqual(n(4, 3));
    // An offset page also says where the next page starts, so a caller can move to cursors.
    const next = (await t.rest.get(`/api/orders?limit=2&cursor=${first.pagination.next_cursor}`)).json();
    expect(next.data.map((row: { order_number: string }) => row.order_number)).toStrictEqual(n(2, 1));
    expect(next.pagination).toStrictEqual({ total: 4, limit: 2, offset: 0, has_more: false, next_cursor: null });
    const second = (await t.rest.get('/api/orders?limit=2&offset=2')).json();
    expect(second.pagination).toStrictEqual({ total: 4, limit: 2, offset: 2, has_more: false, next_cursor: null });
    expect(second.data.map((row: { order_number: string }) => row.order_number)).toStrictEqual(n(2, 1));
    const past = (await t.rest.get('/api/orders?offset=10')).json();
    expect(past).toStrictEqual({ success: true, data: [], pagination: { total: 4, limit: 50, offset: 10, has_more: false, next_cursor: null } });
    expect((await t.rest.get('/api/orders?limit=100')).json().pagination.limit).toBe(100);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['offset=-1', 'offset'],
    ['status=lost', 'status'],
    ['from=2025-13-01', 'from'],
    ['min_total=abc', 'min_total'],
    ['sort=asc', 'sort'],
    ['status=paid&status=pending', 'status'],
  ])('answers 422 naming the parameter for %s', async (query, field) => {
    const res = await t.rest.get(`/api/orders?${query}`);
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe('VALIDATION_ERROR');
    expect(res.json().error.details.map((detail: { field: string }) => detail.field)).toStrictEqual([field]);
  });
  it.each(['limit=5&limit=6', 'offset=0&offset=10', 'limit=5&limit=5'])(
    'says a repeated %s must be given once, as for every other parameter, not that it is not a whole number',
    async (query) => {
      const res = await t.rest.get(`/api/orders?${query}`);
      expect(res.statusCode).toBe(422);
      expect(res.json().error.details).toStrictEqual([{ field: query.slice(0, query.indexOf('=')), message: 'must be given once' }]);
    },
  );
});

describe('PUT /api/orders/:id', () => {
  const fresh = (body: Record<string, unknown> = {}) =>
    createOrder(t.app.services.orders, ctx, { customer_id: 'u', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1, ...body });

  it('walks the status machine and appends each move to status_history, in order', async () => {
    const order = await fresh();
    const path = ['paid', 'processing', 'shipped', 'delivered', 'refunded'];
    let last = order.createdAt.getTime();
    for (const status of path) {
      const res = await t.rest.put(`/api/orders/${order.id}`, { status });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().data.status).toBe(status);
    }
    const final = (await t.rest.get(`/api/orders/${order.id}`)).json().data;
    expect(final.status_history.map((entry: { status: string }) => entry.status)).toStrictEqual(['pending', ...path]);
    const stored = await t.app.services.orders.getOrder(ctx, order.id);
    for (const entry of stored.statusHistory) {
      expect(entry.timestamp.getTime()).toBeGreaterThanOrEqual(last);
      last = entry.timestamp.getTime();
    }
    expect(stored.updatedAt.getTime()).toBe(last);
  });

  it('refuses a move the machine does not allow, says which are allowed, and changes nothing', async () => {
    const order = await fresh();
    const res = await t.rest.put(`/api/orders/${order.id}`, { status: 'shipped', notes: 'should not stick' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({
      code: 'INVALID_STATUS_TRANSITION',
      message: 'Cannot move the order from pending to shipped; from pending it can move to paid, processing, cancelled',
    });
    const after = await t.app.services.orders.getOrder(ctx, order.id);
    expect(after.status).toBe('pending');
    expect(after.notes).toBeUndefined();
    await t.rest.put(`/api/orders/${order.id}`, { status: 'cancelled' });
    const final = await t.rest.put(`/api/orders/${order.id}`, { status: 'paid' });
    expect(final.statusCode).toBe(409);
    expect(final.json().error.message).toBe('Cannot move the order from cancelled to paid: cancelled is final');
  });

  it('treats setting the current status again as a no-op', async () => {
    const order = await fresh();
    const res = await t.rest.put(`/api/orders/${order.id}`, { status: 'pending' });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.status_history).toHaveLength(1);
    expect((await t.app.services.orders.getOrder(ctx, order.id)).updatedAt).toStrictEqual(order.updatedAt);
  });

  it('keeps the status for a null status, while null still clears tracking and notes', async () => {
    const order = await fresh({ notes: 'ring twice' });
    await t.rest.put(`/api/orders/${order.id}`, { status: 'paid', tracking_number: 'JNE9' });
    const res = await t.rest.put(`/api/orders/${order.id}`, { status: null, tracking_number: null, notes: null });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ status: 'paid', status_history: [{ status: 'pending' }, { status: 'paid' }] });
    for (const key of ['tracking_number', 'notes']) expect(res.json().data).not.toHaveProperty(key);
    const unchanged = await t.rest.put(`/api/orders/${order.id}`, { status: null });
    expect(unchanged.statusCode, unchanged.body).toBe(200);
    expect(unchanged.body).toBe(res.body);
  });

  it('merges metadata key by key, removes keys set to null, and clears it all with null', async () => {
    const order = await fresh({ metadata: { a: 1, b: { c: 2 }, keep: true } });
    const merged = await t.rest.put(`/api/orders/${order.id}`, { metadata: { b: null, d: 'x' } });
    expect(merged.json().data.metadata).toStrictEqual({ a: 1, keep: true, d: 'x' });
    const emptied = await t.rest.put(`/api/orders/${order.id}`, { metadata: { a: null, keep: null, d: null } });
    expect(emptied.json().data).not.toHaveProperty('metadata');
    await t.rest.put(`/api/orders/${order.id}`, { metadata: { z: 1 } });
    const cleared = await t.rest.put(`/api/orders/${order.id}`, { metadata: null });
    expect(cleared.json().data).not.toHaveProperty('metadata');
  });

  it('refuses a merge that would pass the metadata limits', async () => {
    const order = await fresh({ metadata: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])) });
    const res = await t.rest.put(`/api/orders/${order.id}`, { metadata: { one_more: 1 } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field: 'metadata', message: 'would have more than 50 keys after the merge' }]);
  });

  it('sets and clears tracking and notes, and replaces the shipping address whole', async () => {
    const order = await fresh({ shipping_address: { name: 'A', city: 'Jakarta', country: 'ID' } });
    const set = await t.rest.put(`/api/orders/${order.id}`, {
      tracking_number: 'JNE123',
      tracking_url: 'https://track.example/JNE123',
      notes: 'leave at door',
      shipping_address: { name: 'B', postal_code: '40111' },
    });
    expect(set.json().data).toMatchObject({
      tracking_number: 'JNE123',
      tracking_url: 'https://track.example/JNE123',
      notes: 'leave at door',
      shipping_address: { name: 'B', postal_code: '40111' },
    });
    expect(set.json().data.shipping_address).not.toHaveProperty('city');
    const summary = (await t.rest.get(`/api/orders?search=${order.orderNumber}`)).json().data[0];
    expect(summary.tracking_number).toBe('JNE123');
    // The summary's keys in the contract's order (§3), tracking_number before the timestamps, as an order's are.
    expect(Object.keys(summary)).toStrictEqual(['id', 'order_number', 'customer_id', 'status', 'items_count', 'total', 'currency', 'tracking_number', 'created_at', 'updated_at']);
    const cleared = await t.rest.put(`/api/orders/${order.id}`, { tracking_number: null, tracking_url: null, notes: null, shipping_address: null });
    for (const key of ['tracking_number', 'tracking_url', 'notes', 'shipping_address']) expect(cleared.json().data).not.toHaveProperty(key);
  });

  it.each<[Record<string, unknown>, string, string]>([
    [{ colour: 'red' }, 'colour', 'is not a known field'],
    // The statuses named, as the list's `status` filter names them: a caller who sent `PAID` learns the spelling.
    [{ status: 'PAID' }, 'status', 'must be one of pending, paid, processing, shipped, delivered, cancelled, refunded'],
    [{ tracking_url: 'ftp://x.example/1' }, 'tracking_url', 'must be an http or https URL'],
    // Forms a browser's URL parser repairs without a word (to http://x/, https://example.com/a …),
    // which other readers of the stored text (an e-mail template, another language's parser) do not.
    ...['http:x', 'https:/track.example/1', ' https://track.example/1', 'https://track.example/1\n', 'https://track\t.example/1', 'https://track.example\\1', 'https://track.example/a b'].map(
      (url): [Record<string, unknown>, string, string] => [
        { tracking_url: url },
        'tracking_url',
        'must be an http or https URL written out in full (https://host/path), without spaces, control characters or backslashes',
      ],
    ),
    [{ tracking_url: 'https://courier:secret@track.example/1' }, 'tracking_url', 'must not carry a user name or password'],
    // Forms a browser's parser takes (percent-encoding some) that are no RFC 3986 URI: an event consumer validating
    // `format: uri` (asyncapi.yaml) would refuse the order's events (test/outside/asyncapi.test.ts).
    ...['https://track.example/päckchen', 'https://bücher.example/1', 'https://track.example/?q={1}', 'https://track.example/a|b', 'https://track.example/%zz'].map(
      (url): [Record<string, unknown>, string, string] => [
        { tracking_url: url },
        'tracking_url',
        'must be a URI as RFC 3986 writes it: percent-encode other characters (%C3%A4 for ä, %7B for {; also |, ^, <, >, ", ` and a second #) and write an international domain name in its xn-- form',
      ],
    ),
    [{ tracking_number: 'x'.repeat(256) }, 'tracking_number', 'must be at most 255 characters'],
    [{ notes: 5 }, 'notes', 'must be a string'],
    [{ shipping_address: { country: 'Indonesia' } }, 'shipping_address.country', 'must be an ISO 3166-1 alpha-2 country code such as ID'],
  ])('answers 422 for %j', async (body, field, message) => {
    const order = await fresh();
    const res = await t.rest.put(`/api/orders/${order.id}`, body);
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details).toStrictEqual([{ field, message }]);
  });

  it('loses no write when 20 updates of one order run at once', async () => {
    const order = await fresh();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.rest.put(`/api/orders/${order.id}`, i % 2 === 0 ? { metadata: { [`k${i}`]: i }, tracking_number: `T${i}`, status: 'paid' } : { metadata: { [`k${i}`]: i }, notes: `note ${i}` }),
      ),
    );
    expect(results.map((res) => res.statusCode)).toStrictEqual(Array(20).fill(200));
    const final = await t.app.services.orders.getOrder(ctx, order.id);
    expect(final.metadata).toStrictEqual(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])));
    expect(final.statusHistory.map((entry) => entry.status)).toStrictEqual(['pending', 'paid']);
    expect(final.trackingNumber).toMatch(/^T\d+$/);
    expect(final.notes).toMatch(/^note \d+$/);
  });
});

describe('tenancy and unknown orders', () => {
  it("answers 404 for another workspace's order on every route, and changes nothing", async () => {
    expect((await t.rest.get(`/api/orders/${foreign.id}`)).statusCode).toBe(404);
    const res = await t.rest.put(`/api/orders/${foreign.id}`, { notes: 'hijack' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('NOT_FOUND');
    expect((await t.app.services.orders.getOrder(otherCtx, foreign.id)).notes).toBe('gift');
    // Same customer, same day, same order number as acme's second order: still only acme's.
    expect(foreign.orderNumber).toBe(o[2].orderNumber);
    const listed = (await t.rest.get('/api/orders?customer_id=c1&from=2025-03-02&to=2025-03-02')).json();
    expect(listed.data.map((row: { id: string }) => row.id)).toStrictEqual([o[2].id]);
    expect(listed.pagination.total).toBe(1);
  });

  it('answers 404 for an unknown order on every route', async () => {
    for (const id of ['order_01ZZZZZZZZZZZZZZZZZZZZZZZZ', 'nonsense', '%20']) {
      expect((await t.rest.get(`/api/orders/${id}`)).statusCode).toBe(404);
      expect((await t.rest.put(`/api/orders/${id}`, { notes: 'x' })).statusCode).toBe(404);
    }
  });
});

describe('metadata keys that look like JavaScript internals', () => {
  it('keeps "__proto__" and "constructor" as ordinary keys through create and merge', async () => {
    const created = await t.rest.post('/api/orders', '{"customer_id":"proto","items":[{"product_id":"p","quantity":1,"price":1}],"total":1,"metadata":{"__proto__":{"polluted":true},"constructor":1}}');
    expect(created.statusCode).toBe(201);
    expect(created.body).toContain('"__proto__":{"polluted":true}');
    const merged = await t.rest.put(`/api/orders/${created.json().data.id}`, JSON.parse('{"metadata":{"__proto__":{"again":1},"x":2}}'));
    expect(merged.statusCode).toBe(200);
    expect(merged.body).toContain('"__proto__":{"again":1}');
    expect(merged.json().data.metadata.x).toBe(2);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
