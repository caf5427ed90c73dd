/** Apollo Server on Fastify at `/graphql`. */
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';

/** Apollo's recommended CSRF prevention headers (`recommendedCsrfPreventionRequestHeaders`, not exported by its entry point). */
const CSRF_PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];
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

export async function registerGraphQL(
  app: FastifyInstance,
  options: GraphQLServerOptions,
): Promise<ApolloServer<GraphQLContext>> {
  const apollo = new ApolloServer<GraphQLContext>({
    schema: options.schema,
    introspection: options.introspection,
    // Stacks go to the log under the request id, never into a response.
    includeStacktraceInErrorResponses: false,
    // Apollo's own messages as structured log lines, not console output.
    logger: app.log,
    // Apollo's recommended headers, plus Authorization: every request here needs a bearer key, which a
    // cross-site form or <img> cannot send, and asking for it forces a browser's preflight like the others do.
    // So stock clients (urql sends queries as GET with no extra header) work; mutations over GET stay refused.
    csrfPrevention: { requestHeaders: [...CSRF_PREFLIGHT_HEADERS, 'authorization'] },
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
        async unexpectedErrorProcessingRequest({ requestContext, error }) {
          // A failure inside Apollo's pipeline (a plugin's bug): Apollo answers a masked 500 on its own.
          app.log.error(
            { err: error, reqId: requestContext.contextValue.requestId },
            'graphql request failed',
          );
        },
        async requestDidStart({ contextValue }) {
          return {
            async didEncounterErrors({ errors }) {
              for (const error of errors) {
                if (isUnexpectedGraphQLError(error)) {
                  app.log.error(
                    { err: error.originalError ?? error, reqId: contextValue.requestId },
                    'graphql operation failed',
                  );
                }
              }
            },
            async willSendResponse({ response }) {
              // An unreachable database is a 503 with Retry-After here too, not a 200 with errors.
              if (response.body.kind !== 'single') return;
              const status = httpStatusForErrors(
                response.body.singleResult.errors,
                response.body.singleResult.data,
              );
              if (status === undefined) return;
              // A request error keeps a status Apollo chose itself (405 for a GET mutation).
              if (status === 400 && response.http.status !== undefined && response.http.status !== 200)
                return;
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
        return {
          requestContext,
          orders: options.orders,
          requestId: request.id,
          telemetry: request.telemetry,
        };
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code === ErrorCode.INTERNAL_ERROR)
          request.log.error({ err: error }, 'graphql authentication failed');
        throw toGraphQLError(appError, request.id);
      }
    },
  });
  return apollo;
}
