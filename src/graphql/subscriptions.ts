/**
 * GraphQL subscriptions over graphql-ws on `/graphql` (events contract §5),
 * on Fastify's WebSocket support: a WebSocket upgrade of `GET /graphql` is a
 * graphql-ws connection; every other request goes to Apollo as before.
 *
 * The key goes in `connection_init` (`{"authorization": "Bearer ogk_…"}`,
 * browsers cannot send headers with a WebSocket); a missing or bad key closes
 * the socket with 4403. Only subscriptions run here: queries and mutations go
 * over HTTP, where the rate, cost and depth limits apply.
 *
 * Close codes of our own (graphql-ws's are 44xx too, see the README):
 * 4430: more subscriptions on one connection than SUBSCRIPTIONS_PER_CONNECTION;
 * 4431: more connections for one key than SUBSCRIPTION_CONNECTIONS_PER_KEY;
 * 4432: more connections from one address still without connection_init than
 * SUBSCRIPTION_WAITING_PER_ADDRESS.
 */
import { createHash } from 'node:crypto';
import fastifyWebsocket, { type WebsocketHandler } from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import {
  GraphQLError,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type ValidationRule,
} from 'graphql';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { CloseCode } from 'graphql-ws';
import { makeHandler } from 'graphql-ws/use/@fastify/websocket';
import { serveOtherUpgradesAsHttp } from '../app/plain-upgrades';
import { bearerToken } from '../auth/api-key';
import { AppError, ErrorCode } from '../errors/app-error';
import type { OrderFeed } from '../events/order-feed';
import type { RequestContext } from '../orders/order.types';
import type { FailedAuthenticationCounter } from '../security/request-authentication';
import { type CostCheck, withoutSuggestions } from '../security/graphql-armor';
import { markExactNumbers, writeMarkedNumbers } from '../shared/exact-json';
import type { GraphQLContext, OrderOperations, WebhookOperations } from './context';
import { formatSubscriptionError, isUnexpectedGraphQLError } from './errors';
import { notInListError, persistedQueryHash, type TrustedDocuments } from './trusted-documents';

export const SUBSCRIPTION_CLOSE = {
  /** A bad or missing key in connection_init (graphql-ws's Forbidden). */
  forbidden: CloseCode.Forbidden,
  tooManySubscriptions: 4430,
  tooManyConnectionsForKey: 4431,
  tooManyWaitingFromAddress: 4432,
  /** The key could not be checked (the database is unavailable): WebSocket's Try Again Later. */
  tryAgainLater: 1013,
  /** The server is shutting down: WebSocket's Going Away, which graphql-ws clients retry. */
  goingAway: 1001,
} as const;

export interface SubscriptionOptions {
  schema: GraphQLSchema;
  feed: Pick<OrderFeed, 'iterate'>;
  orders: OrderOperations;
  webhooks: WebhookOperations;
  /** The workspace of an `Authorization` value; throws for a bad key. */
  authenticate(authorization: string | undefined): Promise<RequestContext>;
  /**
   * Counts a refused key against the upgrade request's address, as over HTTP, so that guessing keys
   * over WebSocket meets the same failed-authentication limit; the address's next requests and
   * upgrades are then refused with 429 before any lookup.
   */
  countFailedAuthentication?: FailedAuthenticationCounter;
  /**
   * Counts a `subscribe` message against its key's rate limit (RATE_LIMIT_PER_MINUTE, shared with
   * HTTP); returns the refusal past it. Each one is parsed and validated, which can cost as much
   * as an HTTP request: without this, one socket could send them without end.
   */
  countSubscribe?(request: FastifyRequest, authorization: string | undefined): Promise<AppError | undefined>;
  /**
   * CORS_ORIGINS. A WebSocket is not subject to CORS, so a browser opens one from any page: an upgrade
   * whose `Origin` is neither listed nor the gateway's own (the playground) is closed with 4403, as
   * that page's HTTP requests are unreadable to it. A client that sends no `Origin` (a server) is not a browser.
   */
  corsOrigins?: readonly string[];
  /** Validation rules on top of graphql-js's own (the HTTP API's depth, alias and directive limits). */
  validationRules?: readonly ValidationRule[];
  /** The HTTP API's cost limit, computed with the subscription's variables. */
  checkCost?: CostCheck;
  /** The most lexical tokens a subscription document may have. */
  maxTokens?: number;
  /** GRAPHQL_TRUSTED_DOCUMENTS: only these documents run, as over HTTP (trusted-documents.ts). */
  trustedDocuments?: TrustedDocuments;
  /** Strip "Did you mean …?" from validation errors, as over HTTP (while introspection is off). */
  hideSuggestions?: boolean;
  subscriptionsPerConnection: number;
  connectionsPerKey: number;
  /** How long a socket may take to send connection_init (graphql-ws's connectionInitWaitTimeout). */
  initTimeoutMs: number;
  /**
   * Sockets one client address (`request.ip`, TRUST_PROXY applies) may hold open before their
   * connection_init. Each costs the process a socket and memory until initTimeoutMs, whoever opens
   * it, key or not; without a bound one address could open them as fast as it liked.
   */
  waitingPerAddress: number;
}

/** A subscription's error as the client gets it (`formatSubscriptionError`); one masked for the client is logged here. */
function formatAndLogSubscriptionError(error: GraphQLError, log: FastifyBaseLogger): GraphQLFormattedError {
  if (isUnexpectedGraphQLError(error)) log.error({ err: error.originalError ?? error }, 'a subscription failed');
  return formatSubscriptionError(error);
}

/**
 * graphql-js's parse and validation errors with the code Apollo gives the same errors over HTTP
 * (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED), so that a client handles them alike on both.
 */
function withCode(errors: readonly GraphQLError[], code: string): GraphQLError[] {
  return errors.map(
    (error) =>
      new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        originalError: error.originalError,
        extensions: { ...error.extensions, code },
      }),
  );
}

/**
 * The most bytes a connection's socket may hold unsent, because its client does not read them, before
 * the connection is cut off. Events never reach it (each subscription sends its next event only once
 * the last one is written), so only a client that sends pings or refused subscriptions and reads no
 * answer does.
 */
export const MAX_UNREAD_BYTES = 1024 * 1024;

/** How often the key of open connections is checked again, at most (the key cache may add its TTL). */
const KEY_RECHECK_MS = 500;

/**
 * How often the keys of every open connection are checked, events or not: a revoked key's idle
 * connection is closed within this plus the key cache's TTL, rather than held open for good.
 */
const KEY_SWEEP_MS = 1000;

interface Connection {
  requestContext: RequestContext;
  /** The `Authorization` value of connection_init, checked again before each delivery. */
  authorization: string | undefined;
  key: string;
  subscriptions: Set<string>;
  /** Closes the connection's socket. */
  close(code: number, reason: string): void;
}

/**
 * A browser's upgrade: from a listed origin, or from a page of the gateway itself, whose host is the
 * `Host` the browser reached, or the `X-Forwarded-Host` of a proxy that rewrites `Host` (a browser
 * cannot set either header on a WebSocket).
 */
function originAllowed(origin: string, hosts: readonly (string | string[] | undefined)[], listed: readonly string[]): boolean {
  if (listed.includes(origin)) return true;
  let own: string;
  try {
    own = new URL(origin).host;
  } catch {
    return false;
  }
  return hosts.some((host) => typeof host === 'string' && host.split(',')[0]?.trim().toLowerCase() === own);
}

/**
 * The graphql-ws handler for the `GET /graphql` route, on the WebSocket
 * support of `registerWebSocketSupport` (which must be registered first).
 */
export async function registerSubscriptions(app: FastifyInstance, options: SubscriptionOptions): Promise<WebsocketHandler> {
  const connections = new WeakMap<object, Connection>();
  /** The open connections of each key (their count is bounded by `connectionsPerKey`). */
  const perKey = new Map<string, Set<Connection>>();
  /** Sockets already closed: one that closes while its key is being checked must not be counted after. */
  const closed = new WeakSet<object>();

  /** The last check of each key's connections, shared by them all (see `stillAuthorized`). */
  const checks = new Map<string, { at: number; revoked: Promise<boolean> }>();

  /**
   * Whether the connection's key still works; a revoked key's socket is closed with 4403, like a
   * bad key at the start. One check a key per KEY_RECHECK_MS, shared by every delivery and every
   * connection of the key (a burst of events to many subscribers costs one lookup, not one each),
   * on top of the key cache: a revocation is seen within about a second.
   * Any other failure (the database is down) leaves an authenticated connection as it is.
   */
  const stillAuthorized = async (connection: Connection) => {
    let check = checks.get(connection.key);
    if (!check || performance.now() - check.at >= KEY_RECHECK_MS) {
      const revoked = options.authenticate(connection.authorization).then(
        () => false,
        (error: unknown) => error instanceof AppError && error.code === ErrorCode.UNAUTHORIZED,
      );
      // The monotonic clock: a step of the wall clock must not postpone the check.
      checks.set(connection.key, (check = { at: performance.now(), revoked }));
    }
    if (!(await check.revoked)) return true;
    connection.close(SUBSCRIPTION_CLOSE.forbidden, 'Forbidden: the API key has been revoked');
    return false;
  };

  // Every KEY_SWEEP_MS, one check of each key with open connections, closing them all when it is
  // revoked: without it, a revoked key's connection was closed only at its next event or subscribe,
  // so a quiet workspace's subscriber kept its socket (and its place) open on a dead key for good.
  // One key after another, so that many keys never take the pool's connections all at once.
  let sweeping = false;
  const sweepKeys = async () => {
    for (const open of [...perKey.values()]) {
      const [first] = open;
      if (!first || (await stillAuthorized(first))) continue;
      for (const connection of [...open]) connection.close(SUBSCRIPTION_CLOSE.forbidden, 'Forbidden: the API key has been revoked');
    }
  };
  const sweep = setInterval(() => {
    if (sweeping || perKey.size === 0) return;
    sweeping = true;
    void sweepKeys()
      .catch((error: unknown) => app.log.warn({ err: error }, 'subscriptions: could not check the keys of open connections'))
      .finally(() => {
        sweeping = false;
      });
  }, KEY_SWEEP_MS);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  const validateSubscription = (schema: GraphQLSchema, document: DocumentNode) =>
    validate(schema, document, [...specifiedRules, ...(options.validationRules ?? [])]);

  /** Sockets still without connection_init, per client address. */
  const waiting = new Map<string, number>();
  /** Gives a socket's place among its address's waiting ones back (once: at connection_init or close). */
  const stopWaiting = new WeakMap<object, () => void>();
  let lastRefusalLoggedAt = Number.NEGATIVE_INFINITY;
  let refusalsNotLogged = 0;

  const handler = makeHandler<{ authorization?: unknown }, Record<PropertyKey, never>>({
    schema: options.schema,
    connectionInitWaitTimeout: options.initTimeoutMs,
    // graphql-ws writes each message with JSON.stringify, which writes a metadata number a double
    // cannot hold as a string; marked here, it is written as the number it is in `send` below.
    jsonMessageReplacer: markExactNumbers,
    validate: (schema, document) => validateSubscription(schema, document),
    onConnect: async (ctx) => {
      stopWaiting.get(ctx.extra.socket)?.();
      // `authorization` as the contract says; `Authorization` too, as GraphiQL sends its Headers tab.
      const params = ctx.connectionParams ?? {};
      const given = params.authorization ?? (params as Record<string, unknown>).Authorization;
      const authorization = typeof given === 'string' ? given : undefined;
      const origin = ctx.extra.request.headers.origin;
      const { host, 'x-forwarded-host': forwardedHost } = ctx.extra.request.headers;
      if (origin !== undefined && !originAllowed(origin, [host, forwardedHost], options.corsOrigins ?? [])) {
        ctx.extra.socket.close(SUBSCRIPTION_CLOSE.forbidden, 'Forbidden: this origin is not allowed (CORS_ORIGINS)');
        return false;
      }
      let requestContext: RequestContext;
      try {
        requestContext = await options.authenticate(authorization);
      } catch (error) {
        if (error instanceof AppError && error.code === ErrorCode.UNAUTHORIZED) {
          const tooMany = await options.countFailedAuthentication?.(ctx.extra.request);
          // 4403 all the same (graphql-ws clients retry it, and each retry counts here); the reason says why.
          if (tooMany) ctx.extra.socket.close(SUBSCRIPTION_CLOSE.forbidden, `Forbidden: ${tooMany.message}`);
          return false; // graphql-ws closes with 4403 Forbidden
        }
        // Not the key's fault (the database is down): 1013 Try Again Later, which graphql-ws clients retry.
        if (!(error instanceof AppError)) app.log.error({ err: error }, 'subscriptions: could not check the key of a connection');
        ctx.extra.socket.close(SUBSCRIPTION_CLOSE.tryAgainLater, 'The key could not be checked now; try again later');
        return false;
      }
      // Gone while the key was looked up: onClose has run already and would never give its place back.
      if (closed.has(ctx)) return false;
      // The key itself, not how the value spells it: `bearer`, `BEARER` or more spaces are the same key
      // to authentication, and were each counted apart, 50 connections apiece.
      const key = createHash('sha256').update(bearerToken(authorization) ?? '').digest('hex');
      const open = perKey.get(key) ?? new Set<Connection>();
      if (open.size >= options.connectionsPerKey) {
        ctx.extra.socket.close(SUBSCRIPTION_CLOSE.tooManyConnectionsForKey, 'Too many connections for this API key');
        return false;
      }
      const connection: Connection = {
        requestContext,
        authorization,
        key,
        subscriptions: new Set(),
        close: (code, reason) => ctx.extra.socket.close(code, reason),
      };
      perKey.set(key, open.add(connection));
      connections.set(ctx, connection);
      return true;
    },
    onClose: (ctx) => {
      closed.add(ctx);
      const connection = connections.get(ctx);
      if (!connection) return;
      connections.delete(ctx);
      const open = perKey.get(connection.key);
      open?.delete(connection);
      if (!open || open.size === 0) {
        perKey.delete(connection.key);
        checks.delete(connection.key);
      }
    },
    onSubscribe: async (ctx, id, payload) => {
      const connection = connections.get(ctx);
      if (!connection) return [new GraphQLError('Not authenticated')];
      const refused = await options.countSubscribe?.(ctx.extra.request, connection.authorization);
      if (refused)
        return [
          new GraphQLError(refused.message, {
            extensions: { code: refused.code, retryAfterSeconds: refused.retryAfterSeconds },
          }),
        ];
      // Before the count: from here on nothing awaits, so subscriptions sent at once cannot all pass it.
      if (!(await stillAuthorized(connection)))
        return [new GraphQLError('The API key has been revoked', { extensions: { code: 'UNAUTHENTICATED' } })];
      if (connection.subscriptions.size >= options.subscriptionsPerConnection) {
        ctx.extra.socket.close(
          SUBSCRIPTION_CLOSE.tooManySubscriptions,
          `Too many subscriptions on this connection (at most ${options.subscriptionsPerConnection})`,
        );
        return [new GraphQLError('Too many subscriptions on this connection')];
      }
      // With trusted documents, only a listed one runs, sent as its text or as its id alone (`query`
      // empty, `extensions.persistedQuery.sha256Hash`), which graphql-ws then runs as the listed text.
      let text = payload.query;
      if (options.trustedDocuments) {
        if (text === '') {
          const listed = options.trustedDocuments.documentOf(persistedQueryHash(payload.extensions));
          if (listed === undefined) return [notInListError()];
          text = listed;
        } else if (!options.trustedDocuments.allows(text)) return [notInListError()];
      }
      // Parsed and validated here, so that only a subscription that will run is counted against the limit.
      let document: DocumentNode;
      try {
        document = parse(text, { maxTokens: options.maxTokens });
      } catch (error) {
        return withCode([error instanceof GraphQLError ? error : new GraphQLError('The document does not parse')], ApolloServerErrorCode.GRAPHQL_PARSE_FAILED);
      }
      const operation = getOperationAST(document, payload.operationName ?? undefined);
      if (operation && operation.operation !== OperationTypeNode.SUBSCRIPTION)
        return [
          new GraphQLError('Only subscriptions run over WebSocket; send queries and mutations over HTTP', {
            extensions: { code: 'BAD_REQUEST' },
          }),
        ];
      const invalid = validateSubscription(options.schema, document);
      if (invalid.length > 0) {
        // As over HTTP: no "Did you mean …?" while introspection is off (it would describe the schema).
        if (options.hideSuggestions) for (const error of invalid) error.message = withoutSuggestions(error.message);
        return withCode(invalid, ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED);
      }
      const tooCostly = options.checkCost?.({
        schema: options.schema,
        document,
        operation: operation ?? undefined,
        operationName: payload.operationName,
        variables: payload.variables ?? undefined,
      });
      if (tooCostly) return [tooCostly];
      connection.subscriptions.add(id);
      // A listed document sent by its id: graphql-ws runs the document parsed here (it would parse the empty `query`).
      if (text !== payload.query)
        return { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables };
      return undefined;
    },
    onNext: async (ctx, _id, _payload, _args, result) => {
      // A key revoked while connected gets nothing more: its socket closes before this goes out.
      const connection = connections.get(ctx);
      if (connection) await stillAuthorized(connection);
      // A subscription refused as it starts (orderUpdated of an unknown id) answers one result with errors.
      if (result.errors) return { ...result, errors: result.errors.map((error) => formatAndLogSubscriptionError(error, app.log)) };
      return undefined;
    },
    onError: (_ctx, _id, _payload, errors) => errors.map((error) => formatAndLogSubscriptionError(error, app.log)),
    onComplete: (ctx, id) => {
      connections.get(ctx)?.subscriptions.delete(id);
    },
    context: (ctx): GraphQLContext => {
      const connection = connections.get(ctx);
      if (!connection) throw new Error('no authenticated workspace for a subscription');
      return {
        requestContext: connection.requestContext,
        orders: options.orders,
        webhooks: options.webhooks,
        feed: options.feed,
      };
    },
  });
  return function exactNumbersHandler(socket, request) {
    const address = request.ip;
    const already = waiting.get(address) ?? 0;
    if (already >= options.waitingPerAddress) {
      // One warning, then at most one every PROTOCOL_WARN_INTERVAL_MS: a flood must not flood the log too.
      const now = performance.now();
      if (now - lastRefusalLoggedAt >= PROTOCOL_WARN_INTERVAL_MS) {
        lastRefusalLoggedAt = now;
        request.log.warn(
          { address, waiting: already, refusalsNotLogged },
          'subscriptions: refused a connection: too many from this address without connection_init',
        );
        refusalsNotLogged = 0;
      } else refusalsNotLogged++;
      socket.close(SUBSCRIPTION_CLOSE.tooManyWaitingFromAddress, 'Too many connections from this address waiting for connection_init');
      return;
    }
    waiting.set(address, already + 1);
    let done = false;
    const release = () => {
      if (done) return;
      done = true;
      const left = (waiting.get(address) ?? 1) - 1;
      if (left > 0) waiting.set(address, left);
      else waiting.delete(address);
    };
    stopWaiting.set(socket, release);
    socket.once('close', release);
    const send = socket.send.bind(socket);
    socket.send = ((data: unknown, ...rest: unknown[]) => {
      // A client that does not read: every pong of its pings (each may echo 64 KiB) and every error
      // waited in this process's memory, without end (events wait for the socket, see README). Cut
      // off at MAX_UNREAD_BYTES; a close frame would only queue behind what it does not read.
      if (socket.bufferedAmount > MAX_UNREAD_BYTES) {
        if (socket.readyState === socket.OPEN) {
          app.log.warn({ unreadBytes: socket.bufferedAmount }, 'subscriptions: cut off a connection that does not read what it is sent');
          socket.terminate();
        }
        // Dropped, as graphql-ws drops what it sends to a closed socket (no error to log for each).
        const callback = rest.find((arg) => typeof arg === 'function') as ((error?: Error) => void) | undefined;
        if (callback) process.nextTick(callback);
        return;
      }
      // What was still waiting when the socket was cut off fails with ERR_STREAM_DESTROYED; graphql-ws
      // would log each as an internal error of ours. It is dropped as above.
      const args = rest.map((arg) =>
        typeof arg === 'function'
          ? (error?: Error) => (arg as (error?: Error) => void)(socket.readyState === socket.OPEN ? error : undefined)
          : arg,
      );
      (send as (...args: unknown[]) => void)(typeof data === 'string' ? writeMarkedNumbers(data) : data, ...args);
    }) as typeof socket.send;
    const before = new Set(socket.listeners('error'));
    const result = handler.call(this, socket, request);
    // graphql-ws writes every error of the socket to the console, with its stack, as "Internal error …
    // Please check your implementation": a client's oversized or malformed frame too, one plain-text
    // dump on stderr per connection. Those are the client's doing, reported by the plugin's errorHandler
    // (registerWebSocketSupport); graphql-ws hears only the others.
    for (const listener of socket.listeners('error')) {
      if (before.has(listener)) continue;
      socket.removeListener('error', listener as (error: Error) => void);
      socket.once('error', (error: Error) => {
        if (!isProtocolViolation(error)) (listener as (error: Error) => void)(error);
      });
    }
    return result;
  };
}

/**
 * ws's error for a client that broke the WebSocket protocol (a message over `maxPayload`, text that is
 * not UTF-8, an unmasked or malformed frame): ws has already sent the close frame with the matching
 * code (1009, 1007, 1002). The client's doing, not the server's.
 */
function isProtocolViolation(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('WS_ERR_');
}

/** How often, at most, a WebSocket protocol violation is logged; the others are counted in the next line. */
const PROTOCOL_WARN_INTERVAL_MS = 10_000;

/**
 * Fastify's WebSocket support. Register it before any hook that may answer a request itself (load
 * shedding, the schema gate, rate limits): its own `onRequest` hook marks an upgrade request, and
 * only a marked one has its socket closed after a plain HTTP answer. An upgrade refused by an
 * earlier hook (a 429) kept its socket open, and `close()` then waited for it for ever.
 */
export async function registerWebSocketSupport(app: FastifyInstance): Promise<void> {
  // Only `Upgrade: websocket` goes to the plugin; Java's `Upgrade: h2c` on a REST or GraphQL request is served as HTTP/1.1.
  serveOtherUpgradesAsHttp(app.server);
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let violationsNotLogged = 0;
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 64 * 1024 },
    // The plugin's own handler logged each socket's error at `error` level with its stack: every client
    // that sent an oversized or malformed frame wrote one, an error line per abusive connection (and
    // graphql-ws a console dump, see registerSubscriptions). A protocol violation is the client's: one
    // warning, then at most one every PROTOCOL_WARN_INTERVAL_MS with the count of those not logged.
    errorHandler(error, socket, request) {
      if (isProtocolViolation(error)) {
        const now = performance.now();
        if (now - lastWarnAt >= PROTOCOL_WARN_INTERVAL_MS) {
          lastWarnAt = now;
          request.log.warn(
            { code: error.code, reason: error.message, violationsNotLogged },
            'subscriptions: closed a connection that broke the WebSocket protocol',
          );
          violationsNotLogged = 0;
        } else violationsNotLogged++;
      } else request.log.error({ err: error }, 'subscriptions: a WebSocket failed');
      socket.terminate();
    },
    // On shutdown each subscriber is told why (the plugin's own close sends no code: 1005).
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(SUBSCRIPTION_CLOSE.goingAway, 'The server is shutting down');
      this.websocketServer.close(() => done());
    },
  });
}
