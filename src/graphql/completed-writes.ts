/**
 * Counts the writes one GraphQL request has completed. A document may hold
 * several mutations (`a: createOrder(…) b: createOrder(…)`); when a later one
 * meets an outage, the earlier ones are committed already. The HTTP status
 * must then not be the 503 with `Retry-After` that means "nothing was
 * written, send the request again": a client (or its HTTP library) that
 * retries on it runs the whole document again and creates the first order
 * twice. `errorsAndStatus` (server.ts) reads the count.
 */
import type { OrderOperations, WebhookOperations } from './context';

export function countingWrites(ops: { orders: OrderOperations; webhooks: WebhookOperations }): {
  orders: OrderOperations;
  webhooks: WebhookOperations;
  completedWrites: () => number;
} {
  let completed = 0;
  const counted =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await call(...args);
      completed += 1;
      return result;
    };
  const { orders, webhooks } = ops;
  return {
    orders: {
      ...orders,
      createOrderExactlyOnce: counted(orders.createOrderExactlyOnce),
      updateOrder: counted(orders.updateOrder),
    },
    webhooks: {
      ...webhooks,
      createEndpoint: counted(webhooks.createEndpoint),
      updateEndpoint: counted(webhooks.updateEndpoint),
      rotateSecret: counted(webhooks.rotateSecret),
      deleteEndpoint: counted(webhooks.deleteEndpoint),
      redeliver: counted(webhooks.redeliver),
    },
    completedWrites: () => completed,
  };
}
