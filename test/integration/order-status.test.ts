/** Every allowed status move, and a forbidden one from each status, through the service and the database. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthService } from '../../src/auth/auth.service';
import { ALLOWED_MOVES } from '../../src/orders/order-status';
import { OrderService } from '../../src/orders/order.service';
import { ORDER_STATUSES, type OrderStatus, type RequestContext } from '../../src/orders/order.types';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { createOrder } from '../support/orders';

let database: TestDatabase;
let service: OrderService;
let ctx: RequestContext;

beforeAll(async () => {
  database = await createTestDatabase();
  service = new OrderService(database.db.em);
  const workspace = await new AuthService(database.db.em).createWorkspace('moves');
  ctx = { workspaceId: workspace.id, timeZone: 'UTC' };
});
afterAll(() => database.destroy());

/** A way to reach each status from pending. */
const ROUTE: Record<OrderStatus, OrderStatus[]> = {
  pending: [],
  paid: ['paid'],
  processing: ['processing'],
  shipped: ['paid', 'shipped'],
  delivered: ['paid', 'shipped', 'delivered'],
  cancelled: ['cancelled'],
  refunded: ['paid', 'refunded'],
};

async function orderIn(status: OrderStatus) {
  const order = await createOrder(service, ctx, { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 });
  for (const step of ROUTE[status]) await service.updateOrder(ctx, order.id, { status: step });
  return order;
}

const allowed = ORDER_STATUSES.flatMap((from) => ALLOWED_MOVES[from].map((to) => [from, to] as const));

describe('allowed moves', () => {
  it('are the thirteen of the contract', () => expect(allowed).toHaveLength(13));

  it.each(allowed)('%s → %s is stored, with its history entry', async (from, to) => {
    const order = await orderIn(from);
    const updated = await service.updateOrder(ctx, order.id, { status: to });
    expect(updated.status).toBe(to);
    const [row] = await database.db.em.fork().execute('select status, status_history from orders where id = ?', [order.id]);
    expect(row.status).toBe(to);
    expect(row.status_history.map((entry: { status: string }) => entry.status)).toStrictEqual(['pending', ...ROUTE[from], to]);
  });
});

describe('forbidden moves', () => {
  const sample: [OrderStatus, OrderStatus][] = [
    ['pending', 'shipped'],
    ['pending', 'refunded'],
    ['paid', 'pending'],
    ['processing', 'paid'],
    ['shipped', 'cancelled'],
    ['delivered', 'shipped'],
    ['cancelled', 'pending'],
    ['refunded', 'delivered'],
  ];
  it.each(sample)('%s → %s is INVALID_STATUS_TRANSITION and leaves the row as it was', async (from, to) => {
    const order = await orderIn(from);
    const before = await service.getOrder(ctx, order.id);
    await expect(service.updateOrder(ctx, order.id, { status: to })).rejects.toMatchObject({ code: 'INVALID_STATUS_TRANSITION' });
    expect(await service.getOrder(ctx, order.id)).toStrictEqual(before);
  });
});
