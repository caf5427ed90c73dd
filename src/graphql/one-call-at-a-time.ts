/**
 * The service as one GraphQL request sees it: its calls run one after
 * another, never at once. graphql-js resolves a query's root fields in
 * parallel, so fifteen aliases of `orders` would otherwise hold fifteen
 * service calls, and up to thirty pool connections, at the same time and
 * starve every other request of connections. One call at a time, a request
 * holds at most the two connections one call uses (a list page reads its rows
 * and its count together). Mutations already run one after another.
 */
import type { OrderOperations } from './context';

export function oneCallAtATime(orders: OrderOperations): OrderOperations {
  let previous: Promise<unknown> = Promise.resolve();
  const queued = <R>(call: () => Promise<R>): Promise<R> => {
    const result = previous.then(call, call);
    previous = result.catch(() => undefined);
    return result;
  };
  return {
    createOrderExactlyOnce: (...args) => queued(() => orders.createOrderExactlyOnce(...args)),
    getOrder: (...args) => queued(() => orders.getOrder(...args)),
    getOrderByNumber: (...args) => queued(() => orders.getOrderByNumber(...args)),
    findOrders: (...args) => queued(() => orders.findOrders(...args)),
    updateOrder: (...args) => queued(() => orders.updateOrder(...args)),
  };
}
