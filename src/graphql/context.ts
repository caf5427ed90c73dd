import type { OrderFeed } from '../events/order-feed';
import type { RequestTelemetry } from '../observability/request-telemetry';
import type { OrderService } from '../orders/order.service';
import type { AppError } from '../errors/app-error';
import type { RequestContext } from '../orders/order.types';
import type { WebhookService } from '../webhooks/webhook.service';

/** What the order resolvers need from the service layer. A test can hand in a fake. */
export type OrderOperations = Pick<
  OrderService,
  'createOrderExactlyOnce' | 'getOrder' | 'getOrderByNumber' | 'findOrders' | 'updateOrder'
>;

/** What the webhook resolvers need from the service layer. */
export type WebhookOperations = Pick<
  WebhookService,
  | 'createEndpoint'
  | 'updateEndpoint'
  | 'rotateSecret'
  | 'listEndpoints'
  | 'getEndpoint'
  | 'deleteEndpoint'
  | 'listDeliveries'
  | 'getDelivery'
  | 'redeliver'
>;

export interface GraphQLContext {
  /** The authenticated caller's workspace. */
  requestContext: RequestContext;
  orders: OrderOperations;
  webhooks: WebhookOperations;
  requestId?: string;
  /** The HTTP request's telemetry, where the operation name and workspace are noted for the log and metrics. */
  telemetry?: RequestTelemetry;
  /** Live order changes: only over WebSocket, where subscriptions run. */
  feed?: Pick<OrderFeed, 'iterate'>;
  /** How many writes (mutations' service calls) this request has completed; see completed-writes.ts. */
  completedWrites?: () => number;
  /** Counts further requests of the caller's key (a document's further mutations); the refusal past the limit. */
  countMoreRequests?: (more: number) => Promise<AppError | undefined>;
}
