/** Apollo Server on Fastify at `/graphql`. */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { FastifyInstance } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { AuthService } from '../auth/auth.service';
import { ErrorCode } from '../errors/app-error';
import { toAppError } from '../errors/to-app-error';
import type { GraphQLProtection } from '../security/graphql-armor';
import type { GraphQLContext, OrderOperations } from './context';
import { formatGraphQLError, httpStatusForErrors, isUnexpectedGraphQLError, toGraphQLError } from './errors';

export interface GraphQLServerOptions {
  schema: GraphQLSchema;
  orders: OrderOperations;
  auth: AuthService;
  introspection: boolean;
  /** More Apollo plugins, such as the telemetry's. */
  plugins?: ApolloServerPlugin<GraphQLContext>[];
  /** Query limits (depth, aliases, directives, tokens, cost), checked before anything runs. */
  protection?: GraphQLProtection;
}

export async function registerGraphQL(app: FastifyInstance, options: GraphQLServerOptions): Promise<ApolloServer<GraphQLContext>> {
  const apollo = new ApolloServer<GraphQLContext>({
    schema: options.schema,
    introspection: options.introspection,
    // Stacks go to the log under the request id, never into a response.
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // main.ts owns shutdown. Apollo's own SIGTERM handler (on outside NODE_ENV=test)
    // raced it and left `apollo.stop()` waiting forever, so the process never exited.
    stopOnTerminationSignals: false,
    formatError: formatGraphQLError,
    validationRules: options.protection?.validationRules,
    parseOptions: options.protection?.parseOptions,
    plugins: [
      fastifyApolloDrainPlugin(app),
      // Apollo's landing pages load from a CDN; the playground is served locally instead.
      ApolloServerPluginLandingPageDisabled(),
      {
        async requestDidStart({ contextValue }) {
          return {
            async didEncounterErrors({ errors }) {
              for (const error of errors) {
                if (isUnexpectedGraphQLError(error)) {
                  app.log.error({ err: error.originalError ?? error, reqId: contextValue.requestId }, 'graphql operation failed');
                }
              }
            },
            async willSendResponse({ response }) {
              // An unreachable database is a 503 with Retry-After here too, not a 200 with errors.
              if (response.body.kind !== 'single') return;
              const status = httpStatusForErrors(response.body.singleResult.errors);
              if (status === undefined) return;
              response.http.status = status;
              if (status === 503) response.http.headers.set('retry-after', '2');
            },
          };
        },
      },
      ...(options.plugins ?? []),
      ...(options.protection?.plugins ?? []),
    ],
  });
  await apollo.start();
  await app.register(fastifyApollo(apollo), {
    path: '/graphql',
    context: async (request) => {
      try {
        const requestContext = await options.auth.authenticate(request.headers.authorization);
        return { requestContext, orders: options.orders, requestId: request.id, telemetry: request.telemetry };
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code === ErrorCode.INTERNAL_ERROR) request.log.error({ err: error }, 'graphql authentication failed');
        throw toGraphQLError(appError, request.id);
      }
    },
  });
  return apollo;
}
