/**
 * An Apollo plugin that tells the request's telemetry which GraphQL operation
 * ran, for which workspace, and how it ended, and counts the orders that
 * `createOrder` created. The operation counter itself is written when the
 * HTTP response goes out (see `http-telemetry.ts`), because a request whose
 * key is refused never reaches Apollo's plugins.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { OperationTypeNode } from 'graphql';
import type { GraphQLContext } from '../graphql/context';
import type { GraphQLOutcome, Metrics } from './metrics';

/** The mutation whose successful results are counted as created orders. */
const CREATE_ORDER = 'createOrder';

function hasUserErrors(data: Record<string, unknown> | null | undefined): boolean {
  if (!data) return false;
  return Object.values(data).some((payload) => {
    const userErrors = (payload as { userErrors?: unknown } | null)?.userErrors;
    return Array.isArray(userErrors) && userErrors.length > 0;
  });
}

export function graphqlTelemetryPlugin(metrics: Metrics): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart({ contextValue }) {
      const telemetry = contextValue.telemetry;
      if (telemetry) telemetry.workspaceId = contextValue.requestContext?.workspaceId;
      return {
        async didResolveOperation({ operationName, operation }) {
          if (!telemetry) return;
          telemetry.operationName = operationName ?? '(anonymous)';
          telemetry.operationType = operation?.operation;
        },
        async executionDidStart({ operation, schema }) {
          // Field hooks cost a little on every field, so only mutations get one. Apollo's types say an
          // operation is always resolved here, but it executes a document whose operation it could not pick
          // (several operations and no or an unknown operationName) to let graphql-js write the error.
          const resolved = operation as typeof operation | undefined;
          if (resolved?.operation !== OperationTypeNode.MUTATION) return;
          const mutationType = schema.getMutationType();
          return {
            willResolveField({ info }) {
              if (info.parentType !== mutationType || info.fieldName !== CREATE_ORDER) return;
              return (error, result) => {
                // The payload carries the order only when one was stored (userErrors leave it
                // null), and says `replayed` when an Idempotency-Key returned an earlier one.
                const payload = result as { order?: unknown; replayed?: boolean } | null | undefined;
                if (!error && payload?.order && !payload.replayed) metrics.ordersCreated.inc({ transport: 'graphql' });
              };
            },
          };
        },
        async willSendResponse({ response }) {
          if (!telemetry || response.body.kind !== 'single') return;
          const { errors, data } = response.body.singleResult;
          let outcome: GraphQLOutcome = 'success';
          if (errors?.length) outcome = errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED') ? 'unauthenticated' : 'error';
          else if (hasUserErrors(data)) outcome = 'user_error';
          telemetry.operationOutcome = outcome;
        },
      };
    },
  };
}
