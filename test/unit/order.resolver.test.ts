/**
 * Resolver unit tests: run operations against the real schema with a fake
 * service: no HTTP, no database. This is the pattern to copy when you test
 * your own resolvers.
 */
import type { GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError, ErrorCode } from '../../src/errors/app-error';
import type { OrderOperations } from '../../src/graphql/context';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { fakeOrders, order, runGraphQL, workspace } from '../support/resolvers';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGraphQLSchema();
});

/** The order resolvers never touch webhooks: `runGraphQL` hands them a service that throws on use. */
const run = (source: string, orders: OrderOperations, variableValues?: Record<string, unknown>) =>
  runGraphQL(schema, source, { orders }, variableValues);

const CREATE = `
  mutation Create($input: CreateOrderInput!) {
    createOrder(input: $input) {
      order { id orderNumber status total statusHistory { status timestamp } items { productId price subtotal } metadata }
      userErrors { field message code }
    }
  }`;

describe('createOrder', () => {
  it('hands the service the input in the contract’s names, scoped to the caller’s workspace', async () => {
    const orders = fakeOrders();
    const result = await run(CREATE, orders, {
      input: {
        customerId: 'contact_abc123',
        items: [{ productId: 'prod_001', quantity: 2, price: '99.00', sku: 'WGT-PRE' }],
        total: 198,
        shippingAddress: { postalCode: '12345', country: 'ID' },
      },
    });
    expect(result.errors).toBeUndefined();
    expect(orders.createOrderExactlyOnce).toHaveBeenCalledWith(
      workspace,
      {
        customer_id: 'contact_abc123',
        items: [{ product_id: 'prod_001', quantity: 2, price: '99.00', sku: 'WGT-PRE' }],
        // A number stays the number it is, as in a REST body.
        total: 198,
        shipping_address: { postal_code: '12345', country: 'ID' },
      },
      undefined,
    );
    expect(result.data?.createOrder).toStrictEqual({
      order: {
        id: order.id,
        orderNumber: 'ORD-2025-0327-001',
        status: 'PENDING',
        total: '198.00',
        statusHistory: [{ status: 'PENDING', timestamp: '2025-03-27T15:00:00.000Z' }],
        items: [{ productId: 'prod_001', price: '99.00', subtotal: '198.00' }],
        metadata: { channel: 'web' },
      },
      userErrors: [],
    });
  });

  it('passes the idempotency key through and reports a replay', async () => {
    const orders = fakeOrders({ createOrderExactlyOnce: vi.fn(async () => ({ order, replayed: true })) });
    const result = await run(
      'mutation($input: CreateOrderInput!) { createOrder(input: $input, idempotencyKey: "retry-1") { replayed order { id } userErrors { code } } }',
      orders,
      { input: { customerId: 'c', items: [{ productId: 'p', quantity: 1, price: '1' }], total: '1' } },
    );
    expect(orders.createOrderExactlyOnce).toHaveBeenCalledWith(workspace, expect.any(Object), 'retry-1');
    expect(result.data?.createOrder).toStrictEqual({ replayed: true, order: { id: order.id }, userErrors: [] });
  });

  it('returns validation failures as userErrors with GraphQL field paths and order: null', async () => {
    const orders = fakeOrders({
      createOrderExactlyOnce: async () => {
        throw AppError.validation([
          { path: ['items', 0, 'product_id'], message: 'must not be empty' },
          { path: ['shipping_address', 'postal_code'], message: 'must be at most 500 characters' },
          { path: ['metadata', 'some_key'], message: 'key must be 1 to 40 characters' },
        ]);
      },
    });
    const result = await run(CREATE, orders, { input: { customerId: 'c', items: [], total: '0' } });
    expect(result.errors).toBeUndefined();
    expect(result.data?.createOrder).toStrictEqual({
      order: null,
      userErrors: [
        { field: ['input', 'items', '0', 'productId'], message: 'must not be empty', code: 'VALIDATION_ERROR' },
        { field: ['input', 'shippingAddress', 'postalCode'], message: 'must be at most 500 characters', code: 'VALIDATION_ERROR' },
        // Metadata keys are the caller's own and keep their spelling.
        { field: ['input', 'metadata', 'some_key'], message: 'key must be 1 to 40 characters', code: 'VALIDATION_ERROR' },
      ],
    });
  });

  it('returns TOTAL_MISMATCH as a userError carrying the expected total', async () => {
    const message = 'total 1.00 does not match the expected total 198.00 (items 198.00 + shipping 0.00 + tax 0.00)';
    const orders = fakeOrders({
      createOrderExactlyOnce: async () => {
        throw new AppError(ErrorCode.TOTAL_MISMATCH, message, [{ path: ['total'], message: 'must be 198.00' }]);
      },
    });
    const result = await run(CREATE, orders, { input: { customerId: 'c', items: [], total: '1.00' } });
    expect(result.data?.createOrder).toStrictEqual({
      order: null,
      userErrors: [{ field: ['input', 'total'], message, code: 'TOTAL_MISMATCH' }],
    });
  });

  it('lets unexpected failures become a top-level error instead of a userError', async () => {
    const orders = fakeOrders({
      createOrderExactlyOnce: async () => {
        throw new Error('connection to the database was lost');
      },
    });
    const result = await run(CREATE, orders, { input: { customerId: 'c', items: [], total: '1' } });
    expect(result.data).toBeNull();
    expect(result.errors?.[0]?.message).toBe('connection to the database was lost');
  });

  it('accepts Decimal as a number or a string literal, and rejects other kinds', async () => {
    const orders = fakeOrders();
    const literal = await run(
      'mutation { createOrder(input: { customerId: "c", items: [{ productId: "p", quantity: 1, price: 1.5 }, { productId: "q", quantity: 1, price: 1e2 }], total: "101.50", tax: 12345678901234567890 }) { userErrors { code } } }',
      orders,
    );
    expect(literal.errors).toBeUndefined();
    // Numbers as a JSON body holds them (1e2 is 100); one a double cannot hold as its text, as the service reads it.
    expect(orders.createOrderExactlyOnce).toHaveBeenCalledWith(
      workspace,
      expect.objectContaining({
        total: '101.50',
        tax: '12345678901234567890',
        items: [
          { product_id: 'p', quantity: 1, price: 1.5 },
          { product_id: 'q', quantity: 1, price: 100 },
        ],
      }),
      undefined,
    );
    const wrong = await run('mutation { createOrder(input: { customerId: "c", items: [], total: true }) { userErrors { code } } }', orders);
    expect(wrong.errors?.[0]?.message).toContain('Decimal must be a string such as "99.00" or a number');
  });

  it('hands a Decimal string of any length to the service, as a direct call does: its length is the service’s rule', async () => {
    const long = `1.${'0'.repeat(100)}`;
    const orders = fakeOrders();
    const input = { customerId: 'c', items: [{ productId: 'p', quantity: 1, price: long }], total: long };
    const viaVariables = await run(CREATE, orders, { input });
    const viaLiteral = await run(
      `mutation { createOrder(input: { customerId: "c", items: [{ productId: "p", quantity: 1, price: "${long}" }], total: "${long}" }) { userErrors { code } } }`,
      orders,
    );
    expect([viaVariables.errors, viaLiteral.errors]).toStrictEqual([undefined, undefined]);
    expect(orders.createOrderExactlyOnce).toHaveBeenNthCalledWith(1, workspace, expect.objectContaining({ total: long, items: [{ product_id: 'p', quantity: 1, price: long }] }), undefined);
    expect(orders.createOrderExactlyOnce).toHaveBeenNthCalledWith(2, workspace, expect.objectContaining({ total: long }), undefined);
  });
});

describe('order(id)', () => {
  it('returns the order from the service', async () => {
    const orders = fakeOrders();
    const result = await run(`{ order(id: "${order.id}") { id customerId shippingAddress { city } } }`, orders);
    expect(orders.getOrder).toHaveBeenCalledWith(workspace, order.id);
    expect(result.data).toStrictEqual({ order: { id: order.id, customerId: 'contact_abc123', shippingAddress: null } });
  });

  it('returns null for an order the service does not find', async () => {
    const orders = fakeOrders({
      getOrder: async () => {
        throw AppError.notFound('Order order_x');
      },
    });
    const result = await run('{ order(id: "order_x") { id } }', orders);
    expect(result).toStrictEqual({ data: { order: null } });
  });
});

describe('orderByNumber', () => {
  it('asks the service by number and is null when it finds none', async () => {
    const orders = fakeOrders();
    const found = await run('{ orderByNumber(orderNumber: "ORD-2025-0327-001") { id orderNumber } }', orders);
    expect(orders.getOrderByNumber).toHaveBeenCalledWith(workspace, 'ORD-2025-0327-001');
    expect(found).toStrictEqual({ data: { orderByNumber: { id: order.id, orderNumber: 'ORD-2025-0327-001' } } });
    const none = await run('{ orderByNumber(orderNumber: "nope") { id } }', fakeOrders({ getOrderByNumber: async () => Promise.reject(AppError.notFound('Order nope')) }));
    expect(none).toStrictEqual({ data: { orderByNumber: null } });
  });
});

describe('orders', () => {
  const ORDERS = `query($filter: OrderFilter, $first: Int, $after: String, $orderBy: OrdersOrderBy) {
    orders(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {
      totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;

  it('hands the service the filter in the contract’s names, the page and the sort (newest first by default)', async () => {
    const orders = fakeOrders();
    const result = await run(ORDERS, orders, { filter: { customerId: 'c', minTotal: '10.00', updatedSince: '2025-01-01T00:00:00Z' }, first: 5, after: 'c0' });
    expect(orders.findOrders).toHaveBeenCalledWith(
      workspace,
      { customer_id: 'c', min_total: '10.00', updated_since: '2025-01-01T00:00:00Z' },
      { first: 5, after: 'c0', sort: '-created_at' },
      { withTotal: true },
    );
    expect(result.data?.orders).toStrictEqual({
      totalCount: 1,
      edges: [{ cursor: 'c1', node: { id: order.id } }],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: 'c1', endCursor: 'c1' },
    });
    await run(ORDERS, orders, { orderBy: 'UPDATED_AT_ASC' });
    expect(orders.findOrders).toHaveBeenLastCalledWith(workspace, {}, { first: undefined, after: undefined, sort: 'updated_at' }, { withTotal: true });
  });

  it('asks the service for the count only when totalCount is selected, through a fragment too', async () => {
    const orders = fakeOrders();
    await run('{ orders(first: 2) { edges { node { id } } } }', orders);
    expect(orders.findOrders).toHaveBeenLastCalledWith(workspace, {}, expect.any(Object), { withTotal: false });
    await run('{ orders { ...Counted } } fragment Counted on OrderConnection { totalCount }', orders);
    expect(orders.findOrders).toHaveBeenLastCalledWith(workspace, {}, expect.any(Object), { withTotal: true });
  });

  it('an empty page has null cursors', async () => {
    const orders = fakeOrders({ findOrders: vi.fn(async () => ({ edges: [], totalCount: 0, hasNextPage: false, hasPreviousPage: true })) });
    const result = await run(ORDERS, orders);
    expect(result.data?.orders.pageInfo).toStrictEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
  });

  it('names bad arguments by their GraphQL paths in one top-level VALIDATION_ERROR', async () => {
    const orders = fakeOrders({
      findOrders: async () => {
        throw AppError.validation([
          { path: ['first'], message: 'must be between 1 and 100' },
          { path: ['min_total'], message: 'must be a decimal number such as "99.00"' },
        ]);
      },
    });
    const result = await run(ORDERS, orders, { first: 0, filter: { minTotal: 'x' } });
    expect(result.data).toBeNull();
    expect(result.errors).toMatchObject([
      {
        message: 'Invalid request: first must be between 1 and 100; filter.minTotal must be a decimal number such as "99.00"',
        extensions: {
          code: 'VALIDATION_ERROR',
          fields: [
            { path: ['first'], message: 'must be between 1 and 100' },
            { path: ['filter', 'minTotal'], message: 'must be a decimal number such as "99.00"' },
          ],
        },
      },
    ]);
  });
});

describe('updateOrder', () => {
  const UPDATE = `mutation($id: ID!, $input: UpdateOrderInput!) {
    updateOrder(id: $id, input: $input) { order { id status } userErrors { field message code } }
  }`;

  it('keeps a left-out field absent and an explicit null null (keep versus clear)', async () => {
    const orders = fakeOrders();
    const result = await run(UPDATE, orders, { id: order.id, input: { status: 'PAID', trackingNumber: null, metadata: { some_key: 1 } } });
    expect(orders.updateOrder).toHaveBeenCalledWith(workspace, order.id, { status: 'paid', tracking_number: null, metadata: { some_key: 1 } }, undefined);
    expect(result.data?.updateOrder).toStrictEqual({ order: { id: order.id, status: 'PAID' }, userErrors: [] });
  });

  it('names the id in NOT_FOUND and the field in a refused move', async () => {
    const missing = await run(UPDATE, fakeOrders({ updateOrder: async () => Promise.reject(AppError.notFound('Order order_x')) }), { id: 'order_x', input: {} });
    expect(missing.data?.updateOrder).toStrictEqual({ order: null, userErrors: [{ field: ['id'], message: 'Order order_x not found', code: 'NOT_FOUND' }] });
    const message = 'Cannot move the order from delivered to pending: delivered is final';
    const refused = await run(
      UPDATE,
      fakeOrders({ updateOrder: async () => Promise.reject(new AppError(ErrorCode.INVALID_STATUS_TRANSITION, message, [{ path: ['status'], message }])) }),
      { id: order.id, input: { status: 'PENDING' } },
    );
    expect(refused.data?.updateOrder).toStrictEqual({ order: null, userErrors: [{ field: ['input', 'status'], message, code: 'INVALID_STATUS_TRANSITION' }] });
  });
});
