import type { OrderService } from '../../src/orders/order.service';
import type { Order, RequestContext } from '../../src/orders/order.types';

/** Creates an order through the service, without an idempotency key, and returns it. */
export async function createOrder(
  service: Pick<OrderService, 'createOrderExactlyOnce'>,
  ctx: RequestContext,
  request: unknown,
): Promise<Order> {
  return (await service.createOrderExactlyOnce(ctx, request)).order;
}
