import type { OrderService } from '../orders/order.service';
import type { RequestContext } from '../orders/order.types';

/** What the order resolvers need from the service layer. A test can hand in a fake. */
export type OrderOperations = Pick<
  OrderService,
  'createOrder' | 'getOrder' | 'getOrderByNumber' | 'findOrders' | 'updateOrder'
>;

export interface GraphQLContext {
  /** The authenticated caller's workspace. */
  requestContext: RequestContext;
  orders: OrderOperations;
  requestId?: string;
}
