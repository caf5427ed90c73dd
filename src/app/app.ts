/**
 * The composition root: the one place that knows every part. It wires the
 * database, the services and both transports into one Fastify instance.
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { ApolloServer } from '@apollo/server';
import { AuthService } from '../auth/auth.service';
import type { Config } from '../config/config';
import type { Database } from '../db/database';
import type { GraphQLContext } from '../graphql/context';
import { buildGraphQLSchema } from '../graphql/schema';
import { registerGraphQL } from '../graphql/server';
import { loadTrustedDocuments } from '../graphql/trusted-documents';
import { graphqlErrorHandler, sendGraphQLRefusal } from '../graphql/refusals';
import { AppError, ErrorCode } from '../errors/app-error';
import { clientErrorHandlerFor } from './client-errors';
import { registerHostRequired } from './host-header';
import { trackRouteMethods } from './method-not-allowed';
import { registerCors, withCorsHeaders } from '../security/cors';
import fastifyCompress from '@fastify/compress';
import zlib from 'node:zlib';
import { workspaceCreateGate } from '../orders/create-gate';
import { OrderService } from '../orders/order.service';
import { createEvents, type Events } from '../events/events';
import { orderEvents } from '../events/order-events';
import { feedFromNats, OrderFeed } from '../events/order-feed';
import { registerSubscriptions, registerWebSocketSupport } from '../graphql/subscriptions';
import type { Lookup } from '../webhooks/network-guard';
import { WebhookService } from '../webhooks/webhook.service';
import { instrumentDatabase } from '../observability/db-metrics';
import { countGraphQLCreates, graphqlTelemetryHooks } from '../observability/graphql-telemetry';
import { registerHttpTelemetry } from '../observability/http-telemetry';
import { loggerOptions } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { createMetricsServer, registerMetricsRoute } from '../observability/metrics.routes';
import { registerPlayground } from '../playground/playground';
import { DOCS_PREFIX, registerOpenApi } from '../rest/openapi';
import { graphqlLimits, graphqlProtection } from '../security/graphql-armor';
import { registerSecurityHeaders, withSecurityHeaders } from '../security/headers';
import { registerLoadShedding } from '../security/load-shedding';
import { registerRateLimits } from '../security/rate-limit';
import { requestAuthenticator } from '../security/request-authentication';
import { requestIdOnInternalErrors } from '../graphql/request-id.hooks';
import { startIdempotencySweeper } from './housekeeping';
import { DatabaseClock } from '../db/database-clock';
import { registerDraining } from './draining';
import { registerExpectContinue } from './expect-continue';
import { registerSchemaGate } from './schema-gate';
import { registerJsonBodyParser } from './json-body';
import { registerLingeringClose } from './lingering-close';
import { restErrorHandler, restNotFoundHandler } from '../rest/error-handler';
import { healthRoutes } from '../rest/health.routes';
import { ordersRoutes } from '../rest/orders.routes';
import { routeUrl, setRouteUrl } from './route-url';

/** Content types @fastify/compress compresses (its default test, for the types this app answers with). */
const COMPRESSIBLE = /^(?:text\/(?!event-stream)|application\/(?:json|javascript|xml)\b|[^;]*\+(?:json|xml|text)\b)/i;

export interface Services {
  orders: OrderService;
  auth: AuthService;
  webhooks: WebhookService;
}

export interface App {
  http: FastifyInstance;
  services: Services;
  db: Database;
  metrics: Metrics;
  /** The outbox relay; `events.relay.subscribe()` hears every event this process publishes. */
  events: Events;
  /** What GraphQL subscriptions read: `feed.listening(workspaceId)` counts a workspace's open ones. */
  feed: OrderFeed;
  /** The METRICS_PORT server, not yet listening; absent when metrics share the app's port. */
  metricsServer?: FastifyInstance;
  /** Stops taking requests, lets those in flight finish, then closes the database. */
  close(): Promise<void>;
}

export interface BuildAppOptions {
  config: Config;
  db: Database;
  /** A pino destination for tests that read the log; defaults to stdout. */
  logStream?: NodeJS.WritableStream;
  /** Name resolution for webhooks (tests of the private-network guard give their own). */
  webhookLookup?: Lookup;
  /** Migrations still to apply (MIGRATE_ON_START=false): the API waits for them (see schema-gate.ts). */
  pendingMigrations?: readonly string[];
}

const GRAPHQL_PATH = '/graphql';
/** How often the database's clock is read again (see database-clock.ts). */
const CLOCK_SYNC_INTERVAL_MS = 30_000;

/** Each transport maps its errors in one place: GraphQL's refusals are GraphQL responses, everything else the REST envelope. */
function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = routeUrl(request) ?? request.url.split('?', 1)[0];
  if (path === GRAPHQL_PATH) graphqlErrorHandler(error, request, reply);
  else restErrorHandler(error, request, reply);
}

/**
 * A caller's X-Request-Id is kept when it is a sane token that is not an API key (a request id is
 * in every log line of its request, unredacted); otherwise one is generated.
 */
const REQUEST_ID = /^(?![\s\S]*ogk_)[A-Za-z0-9._:-]{1,128}$/;

export async function buildApp({ config, db, logStream, webhookLookup, pendingMigrations = [] }: BuildAppOptions): Promise<App> {
  const http = Fastify({
    logger: loggerOptions(config, logStream),
    // One line per request, written by the telemetry hook when the response is sent.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // TRUST_PROXY=true is one hop: only the socket's peer (hop 0) is believed, so the client is the
    // last X-Forwarded-For entry, the one that proxy added. (Fastify's own `true` believes every hop,
    // the client's own entries too, and a hop count there believes none.)
    trustProxy: config.trustProxy === 1 ? (_address: string, hop: number) => hop === 0 : config.trustProxy,
    // `GET /api/orders/` is the list, not an order with an empty id.
    routerOptions: { ignoreTrailingSlash: true },
    // Node's own refusals (408, 431, an unreadable request line) in the error envelope.
    clientErrorHandler: clientErrorHandlerFor(GRAPHQL_PATH),
    // A malformed URL gets the error envelope (and the security and CORS headers) like any other error.
    frameworkErrors: withSecurityHeaders(withCorsHeaders(errorHandler, config.corsOrigins)),
    // A request that arrives while the server closes gets the contract's 503 (registerDraining).
    return503OnClosing: false,
    connectionTimeout: 30_000,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node.js checks the headers and request timeouts every 30 s by default; every second, a slow client is cut off on time.
    // An HTTP/1.1 request without Host is refused by registerHostRequired, in the error envelope, not by Node with an empty 400.
    http: { headersTimeout: config.headersTimeoutMs, connectionsCheckingInterval: 1000, requireHostHeader: false },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
  });

  // Every time this process stores or sends comes from the database's clock (see database-clock.ts).
  const clock = DatabaseClock.of(db.em);
  await clock.sync().catch((error: unknown) =>
    http.log.warn({ err: error }, "could not read the database's clock; using this process's until it answers"),
  );
  const metrics = new Metrics();
  const events = createEvents(config, db, http.log, {
    clock: clock.now,
    webhookLookup,
    observer: {
      published(event, latencySeconds) {
        metrics.eventsPublished.inc({ type: event.type });
        metrics.eventPublishLatency.observe(latencySeconds);
      },
      publishFailed: (publisher) => metrics.eventPublishFailures.inc({ publisher }),
    },
    onWebhookAttempt: (result) => metrics.webhookAttempts.inc({ result }),
    onListening: (listening) => metrics.eventsListening(listening),
  });
  metrics.watchOutbox(
    () => events.backlog(),
    () => events.oldestEventAgeSeconds(),
  );
  metrics.watchDatabase(() => db.ping());
  const services: Services = {
    orders: new OrderService(db.em, {
      clock: clock.now,
      idempotencyTtlMs: config.idempotencyTtlMs,
      events: config.eventsOutbox ? orderEvents : undefined,
      relay: config.eventsRelay ? events.relay : undefined,
      createGate: workspaceCreateGate(config.createsPerWorkspace, config.dbConnectTimeoutMs),
    }),
    auth: new AuthService(db.em, { keyCacheTtlMs: config.apiKeyCacheTtlMs, log: http.log }),
    webhooks: new WebhookService(db.em, {
      allowPrivateNetworks: config.webhookAllowPrivateNetworks,
      lookup: webhookLookup,
      onDeliveriesDue: () => events.webhooks.wake(),
    }),
  };

  const stopDatabaseMetrics = instrumentDatabase(db, metrics);
  // knex printed these with console.log: a plain-text line among the JSON ones.
  const databaseLog = http.log.child({ component: 'database' });
  db.onDriverWarning((message) => databaseLog.warn(message));
  registerHttpTelemetry(http, { metrics, graphqlPath: '/graphql' });
  registerJsonBodyParser(http);

  http.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  const methodsOf = trackRouteMethods(http);
  const notFound = (request: FastifyRequest, reply: FastifyReply): void => {
    const path = request.url.split('?', 1)[0] ?? '';
    // A route that exists for this very method and still says "not found" (an unknown
    // playground asset) is a 404, not a 405.
    const { methods, pattern } = methodsOf(path);
    // With CORS_ORIGINS, @fastify/cors's `OPTIONS *` route matches every path: a path that has no
    // other method is still an unknown URL (404), not a 405 that says "use OPTIONS".
    const known = methods.some((method) => method !== 'OPTIONS');
    // A known URL is logged and counted under its route, as a 404 only when no route has it.
    if (known && pattern !== undefined) setRouteUrl(request, pattern);
    // An OPTIONS that is not a CORS preflight (registerCors leaves it to this handler) on a known URL.
    if (known && request.method === 'OPTIONS' && methods.includes('OPTIONS')) {
      return void reply.status(204).header('allow', methods.join(', ')).send();
    }
    const allowed = !known || methods.includes(request.method) ? [] : methods;
    if (path !== GRAPHQL_PATH) return restNotFoundHandler(request, reply, allowed);
    void reply.header('allow', allowed.join(', '));
    return void sendGraphQLRefusal(
      request,
      reply,
      new AppError(ErrorCode.METHOD_NOT_ALLOWED, `Use ${allowed.join(' or ')} for GraphQL`),
    );
  };
  http.setNotFoundHandler(notFound);
  http.setErrorHandler((error: FastifyError, request, reply) => {
    // Fastify reads the body even when no route matched, for the not-found handler alone: a broken
    // or oversized body there is still the URL's 404 or 405, not a 400 or 413 about a body nothing reads.
    const bodyError =
      error.code?.startsWith('FST_ERR_CTP_') || (error instanceof AppError && error.code === ErrorCode.INVALID_JSON);
    if (bodyError && routeUrl(request) === undefined) return notFound(request, reply);
    errorHandler(error, request, reply);
  });
  // Responses above 1 KiB are compressed for clients that accept it; small ones are not worth the CPU.
  await http.register(fastifyCompress, {
    threshold: 1024,
    brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
  });
  // @fastify/compress names Accept-Encoding in Vary only on the answers it compresses, so the
  // uncompressed answer to a client that sent none (a first visitor, a health check through the CDN)
  // said Vary: Origin alone, and a shared cache that kept it (nginx's proxy_cache) handed it, 1 MB of
  // GraphiQL uncompressed, to every browser after. Every answer of a type it would compress names it.
  http.addHook('onSend', (request, reply, payload, done) => {
    if ((request.method === 'GET' || request.method === 'HEAD') && COMPRESSIBLE.test(String(reply.getHeader('content-type') ?? ''))) {
      const vary = String(reply.getHeader('vary') ?? '');
      if (!/(^|,)\s*accept-encoding\s*(,|$)/i.test(vary)) void reply.header('vary', vary ? `${vary}, accept-encoding` : 'accept-encoding');
    }
    done(null, payload);
  });
  // Content codings are case-insensitive (RFC 9110 §8.4.1); @fastify/compress compares the request's
  // Content-Encoding as written, so `GZIP` was refused as unsupported.
  http.addHook('onRequest', (request, _reply, done) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined) request.headers['content-encoding'] = encoding.trim().toLowerCase();
    done();
  });
  // Fastify gives a GET's HEAD route an onSend hook that drops the body, and @fastify/compress adds
  // its own after it, so it saw no body: HEAD answered without the Content-Encoding, Vary and
  // Content-Length that GET sends. Dropping the body last makes HEAD's headers GET's (RFC 9110 §9.3.2).
  http.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD' || !Array.isArray(route.onSend)) return;
    const dropBody = route.onSend.findIndex((hook) => hook.name === 'headRouteOnSendHandler');
    if (dropBody >= 0) route.onSend.push(...route.onSend.splice(dropBody, 1));
  });
  if (config.corsOrigins.length > 0) await registerCors(http, config.corsOrigins);

  // Before every hook that may refuse a request, so that a refused WebSocket upgrade's socket is closed.
  await registerWebSocketSupport(http);
  // Before every route: the headers reach them all, and the limits run before authentication.
  await registerSecurityHeaders(http, { docsPrefix: DOCS_PREFIX, graphqlPath: '/graphql' });
  registerHostRequired(http);
  // Before anything else that works on a request: once shutdown began, a request on a kept-alive
  // connection is refused as a 503 the client can retry, and the last answer closes its connection.
  registerDraining(http);
  // A client that waits for 100 Continue is asked for its body only once the request passed every check above and below.
  registerExpectContinue(http, { bodyLimit: config.bodyLimit });
  // A response that closes the connection before the body was read still lets the client finish sending it.
  registerLingeringClose(http);
  // Before the rate limits and authentication: a request refused for load costs nothing else.
  await registerLoadShedding(http, {
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    sampleIntervalMs: config.loadSampleIntervalMs,
    graphqlPath: '/graphql',
  });
  // Before authentication, which reads a table: no API, relay or sweeper until the schema is migrated.
  const schemaGate = registerSchemaGate(http, {
    pending: pendingMigrations,
    pendingMigrations: () => db.pendingMigrations(),
    graphqlPath: '/graphql',
    log: http.log,
  });
  const rateLimits = await registerRateLimits(http, {
    perMinute: config.rateLimitPerMinute,
    authFailuresPerMinute: config.authFailuresPerMinute,
    windowMs: config.rateLimitWindowMs,
    redisUrl: config.redisUrl,
    keyPrefix: config.rateLimitRedisPrefix,
    graphqlPath: '/graphql',
  });
  const authenticate = requestAuthenticator(services.auth, rateLimits.countFailedAuthentication);
  const developmentKeyDir =
    config.nodeEnv === 'development' && db.kind === 'embedded' ? config.dataDir : null;
  await registerOpenApi(http, { developmentKeyDir }); // before the routes it documents
  await http.register(healthRoutes, {
    ping: () => db.ping(),
    pendingMigrations: () => db.pendingMigrations(),
  });
  let metricsServer: FastifyInstance | undefined;
  if (config.metricsPort === undefined) registerMetricsRoute(http, { metrics, token: config.metricsToken });
  else
    metricsServer = createMetricsServer({
      metrics,
      token: config.metricsToken,
      logger: http.log.child({ server: 'metrics' }),
    });
  await http.register(ordersRoutes, { prefix: '/api', orders: services.orders, authenticate });
  if (config.playground) {
    // Before Apollo's route, so that its hook sees browsers' GET /graphql first.
    registerPlayground(http, {
      endpoint: '/graphql',
      developmentKeyDir,
    });
  }
  const schema = await buildGraphQLSchema();
  const trustedDocuments =
    config.graphqlTrustedDocuments === undefined
      ? undefined
      : loadTrustedDocuments(config.graphqlTrustedDocuments, config.introspection);
  const protection = graphqlProtection(graphqlLimits(config));
  // Subscriptions: fed from NATS when configured (events from every process), else from this process's relay.
  const feed = new OrderFeed(http.log.child({ component: 'order-feed' }));
  metrics.watchSubscriptions(() => feed.size);
  const stopFeed = config.natsUrl
    ? feedFromNats(feed, { url: config.natsUrl, subjectPrefix: config.natsSubjectPrefix }, http.log)
    : (
        (unsubscribe) => async () =>
          unsubscribe()
      )(events.relay.subscribe((event) => feed.receive(event)));
  // Before Apollo's routes, which give the GET /graphql route this handler for upgrades.
  const wsHandler = await registerSubscriptions(http, {
    schema,
    feed,
    orders: services.orders,
    webhooks: services.webhooks,
    authenticate: (authorization) => services.auth.authenticate(authorization),
    countFailedAuthentication: rateLimits.countFailedAuthentication,
    countSubscribe: (request, authorization) => rateLimits.countKeyRequest(request, authorization),
    // The same depth, alias, directive and cost limits as over HTTP.
    validationRules: protection.validationRules,
    checkCost: protection.checkCost,
    maxTokens: config.graphqlMaxTokens,
    hideSuggestions: !config.introspection,
    trustedDocuments,
    subscriptionsPerConnection: config.subscriptionsPerConnection,
    connectionsPerKey: config.subscriptionConnectionsPerKey,
    initTimeoutMs: config.subscriptionInitTimeoutMs,
    waitingPerAddress: config.subscriptionWaitingPerAddress,
    corsOrigins: config.corsOrigins,
  });
  const apollo: ApolloServer<GraphQLContext> = await registerGraphQL(http, {
    schema,
    wsHandler,
    orders: countGraphQLCreates(services.orders, metrics),
    webhooks: services.webhooks,
    authenticate,
    introspection: config.introspection,
    trustedDocuments,
    requestHooks: [graphqlTelemetryHooks(), requestIdOnInternalErrors()],
    maxResponseBytes: config.graphqlMaxResponseBytes,
    protection,
    countMoreRequests: (request, reply, more) => rateLimits.countMoreRequests(request, reply, more),
  });

  // The relay, the webhook dispatcher and the sweeper work on tables that must exist.
  let stopSweeper = () => {};
  const clockLog = http.log.child({ component: 'clock' });
  let clockFailures = 0;
  clock.start(
    CLOCK_SYNC_INTERVAL_MS,
    (error) => {
      // A database outage is reported by the probes and the relay; one line per outage is enough here.
      if (clockFailures++ === 0) clockLog.warn({ err: error }, "could not read the database's clock; keeping the last reading");
    },
    () => (clockFailures = 0),
  );
  schemaGate.whenOpen(() => {
    stopSweeper = startIdempotencySweeper(services.orders, config.idempotencySweepIntervalMs, http.log);
    events.start();
  });
  let closing: Promise<void> | undefined;
  return {
    http,
    services,
    db,
    metrics,
    events,
    feed,
    metricsServer,
    close() {
      closing ??= (async () => {
        await schemaGate.stop();
        stopSweeper();
        clock.stop();
        await http.close(); // drains Apollo through its drain plugin
        await metricsServer?.close();
        await apollo.stop().catch(() => undefined);
        // Requests whose clients left are no longer counted by the server, but still commit: their
        // events go to a running relay (see OrderService.settle).
        await services.orders.settle();
        await events.stop();
        await stopFeed();
        stopDatabaseMetrics();
        await services.auth.settle(); // last_used_at writes still in flight
        await db.close();
      })();
      return closing;
    },
  };
}
