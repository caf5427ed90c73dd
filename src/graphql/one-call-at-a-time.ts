/**
 * The services as one GraphQL request sees them: their calls run one after
 * another, never at once. graphql-js resolves a query's root fields in
 * parallel, so fifteen aliases of `orders` (or of `webhookDeliveries`) would
 * otherwise hold fifteen service calls, and up to thirty pool connections, at
 * the same time and starve every other request of connections. One call at a
 * time, order and webhook calls alike, a request holds at most the two
 * connections one call uses (a list page reads its rows and its count
 * together). Mutations already run one after another.
 */
import type { OrderOperations, WebhookOperations } from './context';

export function oneCallAtATime(
  orders: OrderOperations,
  webhooks: WebhookOperations,
): { orders: OrderOperations; webhooks: WebhookOperations } {
  let previous: Promise<unknown> = Promise.resolve();
  const queued = <R>(call: () => Promise<R>): Promise<R> => {
    const result = previous.then(call, call);
    previous = result.catch(() => undefined);
    return result;
  };
  return {
    orders: {
      createOrderExactlyOnce: (...args) => queued(() => orders.createOrderExactlyOnce(...args)),
      getOrder: (...args) => queued(() => orders.getOrder(...args)),
      getOrderByNumber: (...args) => queued(() => orders.getOrderByNumber(...args)),
      findOrders: (...args) => queued(() => orders.findOrders(...args)),
      updateOrder: (...args) => queued(() => orders.updateOrder(...args)),
    },
    webhooks: {
      createEndpoint: (...args) => queued(() => webhooks.createEndpoint(...args)),
      updateEndpoint: (...args) => queued(() => webhooks.updateEndpoint(...args)),
      rotateSecret: (...args) => queued(() => webhooks.rotateSecret(...args)),
      listEndpoints: (...args) => queued(() => webhooks.listEndpoints(...args)),
      getEndpoint: (...args) => queued(() => webhooks.getEndpoint(...args)),
      deleteEndpoint: (...args) => queued(() => webhooks.deleteEndpoint(...args)),
      listDeliveries: (...args) => queued(() => webhooks.listDeliveries(...args)),
      getDelivery: (...args) => queued(() => webhooks.getDelivery(...args)),
      redeliver: (...args) => queued(() => webhooks.redeliver(...args)),
    },
  };
}
