import { beforeAll, describe, expect, it } from 'vitest';
import { OrderService } from '../../src/orders/order.service';
import type { RequestContext } from '../../src/orders/order.types';
import { useTestApp } from '../support/app';
import { createOrder } from '../support/orders';

const t = useTestApp();
let other: string;
let ctx: RequestContext;

beforeAll(async () => {
  other = await t.bearer('globex');
  ctx = await t.context();
});

const create = (notes = 'n', customer = 'c') =>
  createOrder(t.app.services.orders, ctx, { customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 2 }], total: 2, notes });

const UPDATE = `mutation($id: ID!, $input: UpdateOrderInput!) {
  updateOrder(id: $id, input: $input) { order { status trackingNumber notes metadata statusHistory { status } } userErrors { field message code } }
}`;

const PAGE = `query($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id orderNumber items { productId } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

describe('order(id) and orderByNumber', () => {
  it('find the order in its workspace, and give null elsewhere or for unknown ones', async () => {
    const order = await create();
    expect(((await t.gql('query($n: String!) { orderByNumber(orderNumber: $n) { id } }', { n: order.orderNumber })).json()).data).toStrictEqual({
      orderByNumber: { id: order.id },
    });
    expect(((await t.gql('query($n: String!) { orderByNumber(orderNumber: $n) { id } }', { n: order.orderNumber }, { authorization: other })).json()).data).toStrictEqual({
      orderByNumber: null,
    });
    expect(((await t.gql('query($id: ID!) { order(id: $id) { id } }', { id: order.id }, { authorization: other })).json()).data).toStrictEqual({ order: null });
    expect(((await t.gql('{ orderByNumber(orderNumber: "ORD-1999-0101-001") { id } order(id: "order_nope") { id } }')).json()).data).toStrictEqual({
      orderByNumber: null,
      order: null,
    });
  });
});

describe('updateOrder', () => {
  it('updates, merges metadata and records the status move', async () => {
    const order = await create();
    const first = (await t.gql(UPDATE, { id: order.id, input: { status: 'PAID', trackingNumber: 'JNE1', metadata: { a: 1, b: 2 } } })).json();
    expect(first.data.updateOrder).toStrictEqual({
      order: { status: 'PAID', trackingNumber: 'JNE1', notes: 'n', metadata: { a: 1, b: 2 }, statusHistory: [{ status: 'PENDING' }, { status: 'PAID' }] },
      userErrors: [],
    });
    const second = (await t.gql(UPDATE, { id: order.id, input: { metadata: { a: null }, notes: null } })).json();
    expect(second.data.updateOrder.order).toMatchObject({ metadata: { b: 2 }, notes: null, trackingNumber: 'JNE1' });
  });

  it('keeps the status for status: null, in variables and in a literal, while notes: null clears the notes', async () => {
    const order = await create('wrap it');
    await t.gql(UPDATE, { id: order.id, input: { status: 'PAID' } });
    const paid = { status: 'PAID', trackingNumber: null, metadata: null, statusHistory: [{ status: 'PENDING' }, { status: 'PAID' }] };
    const viaVariables = (await t.gql(UPDATE, { id: order.id, input: { status: null } })).json();
    expect(viaVariables.data.updateOrder).toStrictEqual({ order: { ...paid, notes: 'wrap it' }, userErrors: [] });
    const literal = `mutation($id: ID!) {
      updateOrder(id: $id, input: { status: null, notes: null }) { order { status trackingNumber notes metadata statusHistory { status } } userErrors { field message code } }
    }`;
    const viaLiteral = (await t.gql(literal, { id: order.id })).json();
    expect(viaLiteral.data.updateOrder).toStrictEqual({ order: { ...paid, notes: null }, userErrors: [] });
    const rows = await t.db.query('select version from orders where id = ?', [order.id]);
    expect(rows).toStrictEqual([{ version: 3 }]);
  });

  it('returns a forbidden move as a userError on input.status', async () => {
    const order = await create();
    const res = (await t.gql(UPDATE, { id: order.id, input: { status: 'DELIVERED' } })).json();
    expect(res.data.updateOrder).toStrictEqual({
      order: null,
      userErrors: [
        {
          field: ['input', 'status'],
          message: 'Cannot move the order from pending to delivered; from pending it can move to paid, processing, cancelled',
          code: 'INVALID_STATUS_TRANSITION',
        },
      ],
    });
  });

  it('returns NOT_FOUND on id for an unknown or foreign order, and changes nothing', async () => {
    const order = await create('mine');
    for (const [id, authorization] of [
      ['order_01ARZ3NDEKTSV4RRFFQ69G5FAV', t.auth],
      [order.id, other],
    ]) {
      const res = (await t.gql(UPDATE, { id, input: { notes: 'stolen' } }, { authorization: authorization })).json();
      expect(res.data.updateOrder).toStrictEqual({
        order: null,
        userErrors: [{ field: ['id'], message: `Order ${id} not found`, code: 'NOT_FOUND' }],
      });
    }
    expect((await t.app.services.orders.getOrder(ctx, order.id)).notes).toBe('mine');
  });

  it('returns input errors with GraphQL paths', async () => {
    const order = await create();
    const res = (await t.gql(UPDATE, { id: order.id, input: { trackingUrl: 'javascript:alert(1)', shippingAddress: { country: 'IDN' } } })).json();
    expect(res.data.updateOrder.userErrors).toStrictEqual([
      { field: ['input', 'trackingUrl'], message: 'must be an http or https URL', code: 'VALIDATION_ERROR' },
      { field: ['input', 'shippingAddress', 'country'], message: 'must be an ISO 3166-1 alpha-2 country code such as ID', code: 'VALIDATION_ERROR' },
    ]);
  });
});

describe('orders connection', () => {
  it('pages with cursors across concurrent inserts without skipping or repeating a row', async () => {
    const cctx = await t.app.services.auth.authenticate(await t.bearer('pager'));
    const make = () => createOrder(t.app.services.orders, cctx, { customer_id: 'p', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
    const made: { id: string; createdAt: Date }[] = [];
    for (let i = 0; i < 7; i++) made.push(await make());
    // The list's order: newest first, and by id within one millisecond (two creates can share one,
    // and ids are not monotonic within it), so not always the reverse of the creation order.
    const original = made
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map((order) => order.id);
    const pagerAuth = await t.bearer('pager');

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    let totalAtStart: number | undefined;
    do {
      // Orders keep arriving while the client pages.
      const arriving = Promise.all([make(), make()]);
      const page = ((await t.gql(PAGE, { first: 2, after }, { authorization: pagerAuth })).json()).data.orders;
      await arriving;
      totalAtStart ??= page.totalCount;
      seen.push(...page.edges.map((edge: { node: { id: string } }) => edge.node.id));
      expect(page.pageInfo.hasPreviousPage).toBe(after !== undefined);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : undefined;
      pages++;
    } while (after && pages < 20);

    expect(totalAtStart).toBeGreaterThanOrEqual(7);
    // No row twice; every row that existed when paging began, once and in order. Orders
    // created while paging may show up only ahead of them (they are newer), never in between.
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => original.includes(id))).toStrictEqual(original);
    expect(seen.slice(seen.length - original.length)).toStrictEqual(original);
    expect(pages).toBeLessThanOrEqual(6);
  });

  it('filters, counts and nests items', async () => {
    const fctx = await t.app.services.auth.authenticate(await t.bearer('filtering'));
    const mk = (customer: string, notes: string) =>
      createOrder(t.app.services.orders, fctx, { customer_id: customer, items: [{ product_id: 'x', quantity: 1, price: 3 }], total: 3, notes });
    await mk('a', 'red');
    const wanted = await mk('b', 'blue');
    await mk('b', 'green');
    const res = ((await t.gql(PAGE, { filter: { customerId: 'b', search: 'BLU', minTotal: '3.00', status: 'PENDING' } }, { authorization: await t.bearer('filtering') })).json()).data.orders;
    expect(res.totalCount).toBe(1);
    expect(res.edges.map((edge: { node: unknown }) => edge.node)).toStrictEqual([{ id: wanted.id, orderNumber: wanted.orderNumber, items: [{ productId: 'x' }] }]);
    expect(res.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('filter.to given to the second includes that whole second, as on REST; with milliseconds it is exact', async () => {
    const auth = await t.bearer('to-the-second');
    const sctx = await t.context(auth);
    const order = await createOrder(new OrderService(t.app.db.em, { clock: () => new Date('2025-03-02T10:00:00.250Z') }), sctx, {
      customer_id: 's',
      items: [{ product_id: 'p', quantity: 1, price: 1 }],
      total: 1,
    });
    const createdAt = ((await t.gql('query($id: ID!) { order(id: $id) { createdAt } }', { id: order.id }, { authorization: auth })).json()).data.order.createdAt;
    expect(createdAt).toBe('2025-03-02T10:00:00.250Z');
    const count = async (filter: Record<string, string>) => {
      const res = (await t.gql(PAGE, { filter }, { authorization: auth })).json();
      expect(res.errors).toBeUndefined();
      const rest = await t.rest.get(`/api/orders?${new URLSearchParams(filter).toString()}`, { authorization: auth });
      expect(rest.json().pagination.total).toBe(res.data.orders.totalCount);
      return res.data.orders.totalCount as number;
    };
    expect(await count({ to: '2025-03-02T10:00:00Z' })).toBe(1);
    expect(await count({ from: '2025-03-02T10:00:00Z', to: '2025-03-02T10:00:00Z' })).toBe(1);
    expect(await count({ to: createdAt })).toBe(1);
    expect(await count({ from: createdAt, to: createdAt })).toBe(1);
    expect(await count({ to: '2025-03-02T10:00:00.249Z' })).toBe(0);
    expect(await count({ to: '2025-03-02T09:59:59Z' })).toBe(0);
  });

  it('never lists another workspace’s orders', async () => {
    await create('visible');
    const theirs = ((await t.gql(PAGE, { first: 50 }, { authorization: other })).json()).data.orders;
    expect(theirs).toMatchObject({ totalCount: 0, edges: [] });
  });

  it.each([
    [{ first: 0 }, 'first must be between 1 and 100'],
    [{ first: 101 }, 'first must be between 1 and 100'],
    [{ after: 'garbage' }, 'after is not a cursor from this API'],
    [{ filter: { from: 'last week' } }, 'filter.from must be a date (YYYY-MM-DD) or an ISO 8601 date-time'],
  ])('refuses %j with VALIDATION_ERROR', async (variables, message) => {
    const res = (await t.gql(PAGE, variables)).json();
    expect(res.data).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0].extensions.code).toBe('VALIDATION_ERROR');
    expect(res.errors[0].message).toBe(`Invalid request: ${message}`);
  });
});
