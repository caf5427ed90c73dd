/** Apollo Server on Fastify at `/graphql`. */
import { Readable } from 'node:stream';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { stringifyJson } from '../shared/exact-json';

/** Apollo's recommended CSRF prevention headers (`recommendedCsrfPreventionRequestHeaders`, not exported by its entry point). */
const CSRF_PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'];
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { WebsocketHandler } from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLSchema, OperationTypeNode } from 'graphql';
import type { RequestContext } from '../orders/order.types';
import { type GraphQLProtection, QUERY_LIMIT_EXCEEDED, type QueryLimit } from '../security/graphql-armor';
import type { AuthenticateRequest } from '../security/request-authentication';
import type { GraphQLContext, OrderOperations, WebhookOperations } from './context';
import { toAppError } from '../errors/to-app-error';
import {
  formatGraphQLError,
  httpStatusForErrors,
  isUnexpectedGraphQLError,
  retryAfterForErrors,
  toGraphQLError,
} from './errors';
import { jitExecution } from './jit-executor';
import { countingRootMutations } from './root-mutations';
import type { AppError } from '../errors/app-error';
import { countingWrites } from './completed-writes';
import { oneCallAtATime } from './one-call-at-a-time';
import { malformedPersistedQuery, persistedQueryWorkspace, WorkspacePersistedQueryCache } from './persisted-queries';
import { sendBadGraphQLRequest, sendUntrustedDocument } from './refusals';
import { type TrustedDocuments, untrustedText } from './trusted-documents';
import { type GraphQLRequestHooks, type RequestHooks, requestHooksPlugin } from './request-hooks';
import { routeUrl } from '../app/route-url';
import { traceLogFields } from '../observability/trace-context';

/** A subscription sent over HTTP is refused before it runs: subscriptions need the WebSocket (subscriptions.ts). */
const subscriptionsOverWebSocketOnly: GraphQLRequestHooks<GraphQLContext> = () => refuseSubscriptions;
const refuseSubscriptions: RequestHooks<GraphQLContext> = {
  didResolveOperation({ operation }) {
    if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return;
    throw new GraphQLError(
      'Subscriptions run over WebSocket (the graphql-ws protocol) on /graphql, not over HTTP',
      {
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      },
    );
  },
};

export interface GraphQLServerOptions {
  schema: GraphQLSchema;
  /** Serves a WebSocket upgrade of `GET /graphql` (subscriptions, see subscriptions.ts). */
  wsHandler?: WebsocketHandler;
  orders: OrderOperations;
  webhooks: WebhookOperations;
  /** Runs when the request arrives, before its body is read, so an unauthenticated request costs no parsing. */
  authenticate: AuthenticateRequest;
  introspection: boolean;
  /** More request hooks, such as the telemetry's (see request-hooks.ts). */
  requestHooks?: GraphQLRequestHooks<GraphQLContext>[];
  /** Query limits (depth, aliases, directives, tokens, cost), checked before anything runs. */
  protection?: GraphQLProtection;
  /** A larger answer to a query is replaced by a QUERY_LIMIT_EXCEEDED error (`responseSize`). */
  maxResponseBytes?: number;
  /** GRAPHQL_TRUSTED_DOCUMENTS: only these documents run (trusted-documents.ts); every one when unset. */
  trustedDocuments?: TrustedDocuments;
  /** Counts a document's further mutations against the key's rate limit (root-mutations.ts). */
  countMoreRequests?: (request: FastifyRequest, reply: FastifyReply, more: number) => Promise<AppError | undefined>;
}

const GRAPHQL_PATH = '/graphql';

export async function registerGraphQL(
  app: FastifyInstance,
  options: GraphQLServerOptions,
): Promise<ApolloServer<GraphQLContext>> {
  const apollo = new ApolloServer<GraphQLContext>({
    // Apollo's pipeline on this schema, with each operation run by graphql-jit (jit-executor.ts).
    gateway: countingRootMutations(jitExecution(options.schema)),
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
    // APQ as Apollo does it, with its cache kept per workspace (persisted-queries.ts); with trusted
    // documents, a hash is looked up in their list and nothing is registered (trusted-documents.ts).
    persistedQueries: { cache: options.trustedDocuments?.persistedQueryCache() ?? new WorkspacePersistedQueryCache() },
    // main.ts owns shutdown. Apollo's own SIGTERM handler (on outside NODE_ENV=test)
    // raced it and left `apollo.stop()` waiting forever, so the process never exited.
    stopOnTerminationSignals: false,
    formatError: formatGraphQLError,
    // Metadata's numbers that a double cannot hold are written as the numbers they are (shared/exact-json.ts).
    stringifyResult: stringifyJson,
    validationRules: options.protection?.validationRules,
    parseOptions: options.protection?.parseOptions,
    plugins: [
      fastifyApolloDrainPlugin(app),
      // Apollo's landing pages load from a CDN; the playground is served locally instead.
      ApolloServerPluginLandingPageDisabled(),
      // Cache hints would only ever say "do not cache" here (every answer is one workspace's, marked
      // no-store in security/headers.ts), and the plugin hooks into every field of every operation.
      ApolloServerPluginCacheControlDisabled(),
      ...(options.protection?.plugins ?? []),
      // Ours are one plugin: at the start of every request Apollo awaits each plugin of its list, two
      // promises apiece, even one without `requestDidStart` (`npm run bench:layers` with BENCH_TOP).
      {
        // Every request hook of ours, in this order at each stage (request-hooks.ts).
        ...requestHooksPlugin<GraphQLContext>([
          subscriptionsOverWebSocketOnly,
          errorsAndStatus(app),
          ...(options.requestHooks ?? []),
          ...(options.protection?.requestHooks ?? []),
        ]),
        async unexpectedErrorProcessingRequest({ requestContext, error }) {
          // A failure inside Apollo's pipeline (a plugin's bug): Apollo answers a masked 500 on its own.
          app.log.error(
            {
              err: error,
              reqId: requestContext.contextValue.requestId,
              ...traceLogFields(requestContext.contextValue.telemetry?.trace),
            },
            'graphql request failed',
          );
        },
      },
    ],
  });
  await apollo.start();

  // The key is checked when the request arrives, before its body is read and
  // parsed: a caller without a valid key cannot make the server parse a
  // megabyte of JSON or GraphQL. A refusal goes to the app's error handler,
  // which writes it as a GraphQL response (errors.ts).
  const authenticated = new WeakMap<object, RequestContext>();
  // Every method of the route (GET, its HEAD, POST) can run an operation, so every one is checked.
  // Callback style, because every request of the app passes here: an async hook would cost the
  // REST routes two promises each for nothing.
  app.addHook('onRequest', (request, reply, done) => {
    if (routeUrl(request) !== GRAPHQL_PATH) return done();
    // A WebSocket (subscriptions) authenticates in its connection_init message instead: see subscriptions.ts.
    if (request.ws) return done();
    options.authenticate(request, reply).then((requestContext) => {
      authenticated.set(request, requestContext);
      request.telemetry.workspaceId = requestContext.workspaceId;
      done();
    }, done);
  });

  const context = async (request: FastifyRequest, reply: FastifyReply): Promise<GraphQLContext> => {
    try {
      const requestContext = authenticated.get(request);
      // The hook above authenticated every request of the route, or refused it.
      if (!requestContext)
        throw new Error(`no authenticated workspace for ${request.method} ${GRAPHQL_PATH}`);
      return {
        requestContext,
        ...countingWrites(oneCallAtATime(options.orders, options.webhooks)),
        requestId: request.id,
        telemetry: request.telemetry,
        ...(options.countMoreRequests
          ? { countMoreRequests: (more: number) => options.countMoreRequests!(request, reply, more) }
          : {}),
      };
    } catch (error) {
      // Apollo neither logs a failed context nor masks its message: both are done here.
      request.log.error({ err: error }, 'graphql context failed');
      throw toGraphQLError(toAppError(error), request.id);
    }
  };
  const handler = apolloHandler(apollo, context, (request) => authenticated.get(request)?.workspaceId, options.trustedDocuments);
  // No OPTIONS route: without CORS_ORIGINS an OPTIONS is a 405 naming these methods, as on REST;
  // with it, @fastify/cors answers preflights. Fastify adds HEAD to the GET route.
  app.route({ method: 'POST', url: GRAPHQL_PATH, handler });
  // GET is a route of its own so that a WebSocket upgrade of it can go to the subscriptions.
  app.route({
    method: 'GET',
    url: GRAPHQL_PATH,
    handler,
    ...(options.wsHandler ? { wsHandler: options.wsHandler } : {}),
  });
  if (options.maxResponseBytes !== undefined) limitResponseSize(app, options.maxResponseBytes);
  return apollo;
}

/**
 * `@as-integrations/fastify`'s handler, except that a HEAD is handed to Apollo
 * as the GET it is (Apollo answers GET and POST only): the same key check,
 * CSRF check and refusal of mutations, and Fastify sends no body; and that a
 * malformed persisted-query hash is refused before Apollo looks it up, and so is a document that
 * is not on the list of trusted documents, when there is one.
 */
function apolloHandler(
  apollo: ApolloServer<GraphQLContext>,
  context: (request: FastifyRequest, reply: FastifyReply) => Promise<GraphQLContext>,
  workspaceOf: (request: FastifyRequest) => string | undefined,
  trustedDocuments: TrustedDocuments | undefined,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<string | FastifyReply> => {
    // Here, not in a route hook: a hook on the GET route would delay the WebSocket handler, and
    // @fastify/websocket drops the messages a subscriber sends before it is attached.
    const malformed = malformedPersistedQuery(request.method, request.query, request.body);
    if (malformed !== undefined) return sendBadGraphQLRequest(request, reply, malformed);
    const query = request.url.indexOf('?');
    const search = query === -1 ? '' : request.url.slice(query);
    if (trustedDocuments && untrustedText(trustedDocuments, request.method, search, request.body))
      return sendUntrustedDocument(request, reply);
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    // Persisted queries are looked up and registered in the caller's workspace only.
    const response = await persistedQueryWorkspace.run(workspaceOf(request) ?? '', () =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: request.method === 'HEAD' ? 'GET' : request.method,
          headers,
          search,
          body: request.body,
        },
        context: () => context(request, reply),
      }),
    );
    for (const [name, value] of response.headers) {
      // Apollo marks a persisted-query miss `private, no-cache, must-revalidate`, which a browser may
      // store: every /graphql answer keeps the API's `no-store` (security/headers.ts) instead.
      if (name === 'cache-control') continue;
      void reply.header(name, value);
    }
    void reply.code(response.status ?? 200);
    if (response.body.kind === 'complete') {
      if ((response.status ?? 200) >= 400) noteApolloRefusalCode(request, response.body.string);
      return response.body.string;
    }
    return reply.send(Readable.from(response.body.asyncIterator));
  };
}

/**
 * Apollo refuses an HTTP request it cannot run (a body that is not an object, a GET without a
 * query) before any request hook, so the telemetry hook never saw its code: it is read from the
 * answer, which is small, for the access line.
 */
function noteApolloRefusalCode(request: FastifyRequest, body: string): void {
  if (!request.telemetry || request.telemetry.errorCode !== undefined) return;
  try {
    const code = (JSON.parse(body) as { errors?: { extensions?: { code?: unknown } }[] }).errors?.[0]?.extensions?.code;
    if (typeof code === 'string') request.telemetry.errorCode = code;
  } catch {
    // Not JSON: no code to note.
  }
}

/**
 * Unexpected errors go to the log under the request id, and the HTTP status
 * follows the errors: an unreachable database is a 503 with Retry-After here
 * too, not a 200 with errors.
 */
function errorsAndStatus(app: FastifyInstance): GraphQLRequestHooks<GraphQLContext> {
  const hooks: RequestHooks<GraphQLContext> = {
    didEncounterErrors({ errors, contextValue }) {
      for (const error of errors) {
        if (isUnexpectedGraphQLError(error)) {
          app.log.error(
            {
              err: error.originalError ?? error,
              reqId: contextValue.requestId,
              ...traceLogFields(contextValue.telemetry?.trace),
            },
            'graphql operation failed',
          );
        }
      }
    },
    willSendResponse({ response, contextValue }) {
      if (response.body.kind !== 'single') return;
      const status = httpStatusForErrors(response.body.singleResult.errors, response.body.singleResult.data);
      if (status === undefined) return;
      // A mutation of the document committed before another met the error: the request was served
      // in part, so it stays a 200 (GraphQL over HTTP's partial response), without Retry-After. A
      // 503 would tell the client that nothing was written and to send it all again.
      if ((contextValue.completedWrites?.() ?? 0) > 0) return;
      // A request error keeps a status Apollo chose itself (405 for a GET mutation).
      if (status === 400 && response.http.status !== undefined && response.http.status !== 200) return;
      response.http.status = status;
      const retryAfter = retryAfterForErrors(response.body.singleResult.errors) ?? (status === 503 ? 2 : undefined);
      if (retryAfter !== undefined) response.http.headers.set('retry-after', String(retryAfter));
    },
  };
  return () => hooks;
}

/**
 * A query whose answer is larger than the limit gets an error instead: a
 * client asking for megabytes is told to ask for less, and the server does not
 * spend its time and memory sending them. A mutation's answer always goes
 * out (it reports what was written); one over the limit is only logged.
 */
function limitResponseSize(app: FastifyInstance, maxBytes: number): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    if (routeUrl(request) !== GRAPHQL_PATH || typeof payload !== 'string' || payload.length <= maxBytes / 3)
      return done(null, payload);
    const bytes = Buffer.byteLength(payload);
    if (bytes <= maxBytes) return done(null, payload);
    if (request.telemetry.operationType === 'mutation') {
      request.log.warn({ bytes, maxBytes }, 'a mutation answered more than GRAPHQL_MAX_RESPONSE_BYTES');
      return done(null, payload);
    }
    void reply.code(400);
    const error = {
      message: `The response would be ${bytes} bytes, over the limit of ${maxBytes}; ask for fewer orders or fields.`,
      extensions: { code: QUERY_LIMIT_EXCEEDED, limit: 'responseSize' satisfies QueryLimit },
    };
    done(null, JSON.stringify({ errors: [error] }));
  });
}
