import { expect } from 'vitest';
import type { OrderService } from '../../src/orders/order.service';
import type { Order, RequestContext } from '../../src/orders/order.types';
import type { TestApp, TestClient } from './app';

/** Creates an order through the service, without an idempotency key, and returns it. */
export async function createOrder(
  service: Pick<OrderService, 'createOrderExactlyOnce'>,
  ctx: RequestContext,
  request: unknown,
): Promise<Order> {
  return (await service.createOrderExactlyOnce(ctx, request)).order;
}

/** Creates `n` small orders through REST, each answered 201 (so each one's `order.created` is queued). */
export async function createOrdersThroughRest(rest: TestClient['rest'], n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await rest.post('/api/orders', {
      customer_id: `c${i}`,
      items: [{ product_id: 'p', quantity: 1, price: 2 }],
      total: 2,
    });
    expect(res.statusCode, res.body).toBe(201);
  }
}

/** Runs `run` with one method of the app's order service throwing `error` (a fault injected for a 500 or 503). */
export async function withFailingOrderService<
  K extends 'createOrderExactlyOnce' | 'getOrder' | 'listOrders' | 'updateOrder',
>(t: TestApp, method: K, error: Error, run: () => Promise<unknown>): Promise<void> {
  const orders = t.app.services.orders;
  const original = orders[method];
  orders[method] = async () => {
    throw error;
  };
  try {
    await run();
  } finally {
    orders[method] = original;
  }
}
