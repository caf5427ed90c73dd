import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthService } from '../../src/auth/auth.service';
import { AppError } from '../../src/errors/app-error';
import type { OrderRepository } from '../../src/orders/order.repository';
import { workspaceCreateGate } from '../../src/orders/create-gate';
import { OrderService } from '../../src/orders/order.service';
import type { RequestContext } from '../../src/orders/order.types';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { createOrder } from '../support/orders';

let database: TestDatabase;
let auth: AuthService;

beforeAll(async () => {
  database = await createTestDatabase();
  auth = new AuthService(database.db.em);
});
afterAll(() => database.destroy());

async function workspace(slug: string, timeZone = 'UTC'): Promise<RequestContext> {
  const created = await auth.createWorkspace(slug, timeZone);
  return { workspaceId: created.id, timeZone: created.timeZone };
}

const request = (overrides: Record<string, unknown> = {}) => ({
  customer_id: 'contact_1',
  items: [
    { product_id: 'p1', quantity: 2, price: 10.5 },
    { product_id: 'p2', quantity: 1, price: '4.00', name: 'Two', sku: 'S2' },
  ],
  total: 25,
  ...overrides,
});

async function count(table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await database.db.em.fork().execute(`select count(*)::int as n from ${table} where ${where}`, params);
  return row.n;
}

describe('OrderService.createOrder', () => {
  it('writes the order, its items in order, and the first status, in one go', async () => {
    const ctx = await workspace('rows');
    const order = await createOrder(new OrderService(database.db.em), ctx, request({ metadata: { channel: 'pos', n: 1 } }));
    const [row] = await database.db.em.fork().execute(
      'select workspace_id, order_number, subtotal::text, total::text, status, status_history, metadata from orders where id = ?',
      [order.id],
    );
    expect(row).toStrictEqual({
      workspace_id: ctx.workspaceId,
      order_number: order.orderNumber,
      subtotal: '25.0000',
      total: '25.0000',
      status: 'pending',
      status_history: [{ status: 'pending', timestamp: order.createdAt.toISOString() }],
      metadata: { channel: 'pos', n: 1 },
    });
    const items = await database.db.em.fork().execute(
      'select position, product_id, quantity, price::text, subtotal::text, name, sku from order_items where order_id = ? order by position',
      [order.id],
    );
    expect(items).toStrictEqual([
      { position: 0, product_id: 'p1', quantity: 2, price: '10.5000', subtotal: '21.0000', name: null, sku: null },
      { position: 1, product_id: 'p2', quantity: 1, price: '4.0000', subtotal: '4.0000', name: 'Two', sku: 'S2' },
    ]);
    expect(order.items.map((item) => item.subtotal)).toStrictEqual(['21.00', '4.00']);
  });

  it('gives 50 concurrent creates in one workspace 50 distinct, consecutive numbers', async () => {
    const ctx = await workspace('busy');
    const service = new OrderService(database.db.em);
    const orders = await Promise.all(Array.from({ length: 50 }, () => createOrder(service, ctx, request())));
    const sequences = orders.map((order) => Number(order.orderNumber.split('-')[3])).sort((a, b) => a - b);
    expect(sequences).toStrictEqual(Array.from({ length: 50 }, (_, index) => index + 1));
    expect(new Set(orders.map((order) => order.id)).size).toBe(50);
    expect(await count('orders', 'workspace_id = ?', [ctx.workspaceId])).toBe(50);
    expect(await count('order_items', 'order_id in (select id from orders where workspace_id = ?)', [ctx.workspaceId])).toBe(100);
  });

  it('uses up no number when a create fails, whether in validation or inside the transaction', async () => {
    const ctx = await workspace('failing');
    const service = new OrderService(database.db.em);
    const first = await createOrder(service, ctx, request());
    await expect(createOrder(service, ctx, request({ total: 1 }))).rejects.toMatchObject({ code: 'TOTAL_MISMATCH' });

    // A failure after the number was taken: a trigger makes the item insert fail,
    // so the transaction, counter increment included, must roll back whole.
    const em = database.db.em.fork();
    await em.execute(`create function refuse_item() returns trigger language plpgsql as $$
      begin if new.product_id = 'explode' then raise exception 'simulated failure after numbering'; end if; return new; end $$`);
    await em.execute('create trigger refuse_item before insert on order_items for each row execute function refuse_item()');
    try {
      await expect(createOrder(service, ctx, request({ items: [{ product_id: 'explode', quantity: 1, price: 25 }] }))).rejects.toThrow(
        'simulated failure after numbering',
      );
    } finally {
      await em.execute('drop trigger refuse_item on order_items');
      await em.execute('drop function refuse_item()');
    }
    expect(await count('orders', 'workspace_id = ?', [ctx.workspaceId])).toBe(1);

    const second = await createOrder(service, ctx, request());
    expect(first.orderNumber.endsWith('-001')).toBe(true);
    expect(second.orderNumber.endsWith('-002')).toBe(true);
  });

  it("refuses a bad create before it queues: with the workspace's queue full it gets its own error, a good one a 503", async () => {
    const ctx = await workspace('queued');
    const gate = workspaceCreateGate(1, 100);
    const service = new OrderService(database.db.em, { createGate: gate });
    let release = () => {};
    const holder = gate.run(ctx.workspaceId, () => new Promise<void>((resolve) => (release = resolve)));
    try {
      await expect(service.createOrderExactlyOnce(ctx, request({ total: 1 }))).rejects.toMatchObject({ code: 'TOTAL_MISMATCH' });
      await expect(service.createOrderExactlyOnce(ctx, request({ items: [] }))).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
      await expect(service.createOrderExactlyOnce(ctx, request(), 'no spaces allowed')).rejects.toMatchObject({
        code: 'VALIDATION_ERROR',
      });
      await expect(service.createOrderExactlyOnce(ctx, request())).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      release();
      await holder;
    }
    expect(await count('orders', 'workspace_id = ?', [ctx.workspaceId])).toBe(0);
    expect((await service.createOrderExactlyOnce(ctx, request())).order.orderNumber).toMatch(/-001$/);
  });

  it('starts every workspace at 001', async () => {
    const service = new OrderService(database.db.em);
    const a = await createOrder(service, await workspace('first-ws'), request());
    const b = await createOrder(service, await workspace('second-ws'), request());
    expect(a.orderNumber.endsWith('-001')).toBe(true);
    expect(b.orderNumber.endsWith('-001')).toBe(true);
  });

  it("dates the number in the workspace's time zone", async () => {
    // 2025-03-27 20:30 UTC is already 2025-03-28 in Jakarta (UTC+7).
    const instant = new Date('2025-03-27T20:30:00Z');
    const service = new OrderService(database.db.em, { clock: () => instant });
    const jakarta = await createOrder(service, await workspace('jakarta', 'Asia/Jakarta'), request());
    const utc = await createOrder(service, await workspace('utc-shop'), request());
    expect(jakarta.orderNumber).toBe('ORD-2025-0328-001');
    expect(utc.orderNumber).toBe('ORD-2025-0327-001');
    expect(jakarta.createdAt.toISOString()).toBe('2025-03-27T20:30:00.000Z');
  });

  it('grows the sequence past 999', async () => {
    const ctx = await workspace('big-day');
    await database.db.em.fork().execute(
      "insert into order_number_counters (workspace_id, day, last_value) values (?, current_date, 999)",
      [ctx.workspaceId],
    );
    const service = new OrderService(database.db.em, { clock: () => new Date() });
    const day = new Date().toISOString().slice(0, 10);
    const order = await createOrder(service, ctx, request());
    expect(order.orderNumber).toBe(`ORD-${day.slice(0, 4)}-${day.slice(5, 7)}${day.slice(8, 10)}-1000`);
  });

  it('keeps a very large exact amount: 1,000,000 × 99.99 is exact, 1,000,000 × 99,999,999.99 is past the cap', async () => {
    const ctx = await workspace('large');
    const service = new OrderService(database.db.em);
    const order = await createOrder(service, ctx, request({ items: [{ product_id: 'p', quantity: 1_000_000, price: 99.99 }], total: 99_990_000 }));
    expect(order.total).toBe('99990000.00');
    await expect(
      createOrder(service, ctx, request({ items: [{ product_id: 'p', quantity: 1_000_000, price: 99_999_999.99 }], total: 1 })),
    ).rejects.toMatchObject({ code: 'VALIDATION_ERROR', details: [{ path: ['items', 0] }] });
  });
});

describe('OrderService.getOrder', () => {
  it('finds an order only in its own workspace', async () => {
    const service = new OrderService(database.db.em);
    const mine = await workspace('mine');
    const theirs = await workspace('theirs');
    const order = await createOrder(service, mine, request());
    expect((await service.getOrder(mine, order.id)).orderNumber).toBe(order.orderNumber);
    const error = await service.getOrder(theirs, order.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'NOT_FOUND', message: `Order ${order.id} not found` });
  });
});

describe('the entity manager the one-statement paths share', () => {
  it('holds nothing after creates, reads and lists, so a long-running process does not grow with them', async () => {
    const service = new OrderService(database.db.em);
    const ctx = await workspace('shared-em');
    const orders = [];
    for (let n = 0; n < 3; n++) orders.push(await createOrder(service, ctx, request()));
    for (const order of orders) {
      expect((await service.getOrder(ctx, order.id)).id).toBe(order.id);
      expect((await service.getOrderByNumber(ctx, order.orderNumber)).id).toBe(order.id);
    }
    expect((await service.listOrders(ctx, { sort: 'updated_at' })).total).toBe(3);
    expect((await service.findOrders(ctx, {}, { first: 2 })).edges).toHaveLength(2);

    // The private field is the point of the test: its unit of work must stay empty.
    const shared = (service as unknown as { statements: OrderRepository }).statements.getEntityManager();
    expect(shared.getUnitOfWork().getIdentityMap().values()).toStrictEqual([]);
    expect(shared.getUnitOfWork().getPersistStack().size).toBe(0);
  });
});
