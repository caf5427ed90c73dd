/**
 * The GraphQL request hooks (graphql/request-hooks.ts) that tell the
 * request's telemetry which GraphQL operation ran, for which workspace, and
 * how it ended. The operation counter itself is written when the HTTP
 * response goes out (see `http-telemetry.ts`), because a request whose key is
 * refused never reaches Apollo's pipeline.
 *
 * Created orders are counted where GraphQL calls the service
 * (`countGraphQLCreates`), not by a field hook: Apollo then wraps every field
 * of every operation, which cost more than the count.
 */
import type { GraphQLContext, OrderOperations } from '../graphql/context';
import type { GraphQLRequestHooks } from '../graphql/request-hooks';
import type { GraphQLOutcome, Metrics } from './metrics';

function hasUserErrors(data: Record<string, unknown> | null | undefined): boolean {
  if (!data) return false;
  return Object.values(data).some((payload) => {
    const userErrors = (payload as { userErrors?: unknown } | null)?.userErrors;
    return Array.isArray(userErrors) && userErrors.length > 0;
  });
}

export function graphqlTelemetryHooks(): GraphQLRequestHooks<GraphQLContext> {
  return ({ contextValue }) => {
    const telemetry = contextValue.telemetry;
    if (!telemetry) return undefined;
    telemetry.workspaceId = contextValue.requestContext?.workspaceId;
    return {
      didResolveOperation({ operationName, operation }) {
        telemetry.operationName = operationName ?? '(anonymous)';
        telemetry.operationType = operation?.operation;
      },
      willSendResponse({ response }) {
        if (response.body.kind !== 'single') return;
        const { errors, data } = response.body.singleResult;
        let outcome: GraphQLOutcome = 'success';
        const code = errors?.[0]?.extensions?.code;
        if (typeof code === 'string') telemetry.errorCode = code;
        if (errors?.length)
          outcome = errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')
            ? 'unauthenticated'
            : errors.every((e) => e.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND')
              ? 'persisted_query_not_found'
              : 'error';
        else if (hasUserErrors(data)) outcome = 'user_error';
        telemetry.operationOutcome = outcome;
      },
    };
  };
}

/**
 * The service as GraphQL's resolvers call it, counting each order a create
 * stored (a replay under an Idempotency-Key stores none, and a refused
 * create throws before it is counted).
 */
export function countGraphQLCreates(orders: OrderOperations, metrics: Metrics): OrderOperations {
  return {
    createOrderExactlyOnce: async (...args) => {
      const created = await orders.createOrderExactlyOnce(...args);
      if (!created.replayed) metrics.ordersCreated.inc({ transport: 'graphql' });
      return created;
    },
    getOrder: (...args) => orders.getOrder(...args),
    getOrderByNumber: (...args) => orders.getOrderByNumber(...args),
    findOrders: (...args) => orders.findOrders(...args),
    updateOrder: (...args) => orders.updateOrder(...args),
  };
}
