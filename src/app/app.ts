/**
 * The composition root: the one place that knows every part. It wires the
 * database, the services and both transports into one Fastify instance.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ApolloServer } from '@apollo/server';
import { AuthService } from '../auth/auth.service';
import type { Config } from '../config/config';
import type { Database } from '../db/database';
import type { GraphQLContext } from '../graphql/context';
import { buildGraphQLSchema } from '../graphql/schema';
import { registerGraphQL } from '../graphql/server';
import { OrderService } from '../orders/order.service';
import { registerJsonBodyParser } from './json-body';
import { restErrorHandler, restNotFoundHandler } from '../rest/error-handler';
import { healthRoutes } from '../rest/health.routes';
import { ordersRoutes } from '../rest/orders.routes';

export interface Services {
  orders: OrderService;
  auth: AuthService;
}

export interface App {
  http: FastifyInstance;
  services: Services;
  db: Database;
  /** Stops taking requests, lets those in flight finish, then closes the database. */
  close(): Promise<void>;
}

export interface BuildAppOptions {
  config: Config;
  db: Database;
  /** A pino destination for tests that read the log; defaults to stdout. */
  logStream?: NodeJS.WritableStream;
}

/** A caller's X-Request-Id is kept when it is a sane token; otherwise one is generated. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApp({ config, db, logStream }: BuildAppOptions): Promise<App> {
  const logger: FastifyServerOptions['logger'] = {
    level: config.logLevel,
    // Keys must never reach the log, whatever a serializer or a plugin decides to print.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], censor: '[redacted]' },
    ...(logStream ? { stream: logStream } : {}),
  };
  const http = Fastify({
    logger,
    bodyLimit: config.bodyLimit,
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
  });

  const services: Services = { orders: new OrderService(db.em), auth: new AuthService(db.em) };

  registerJsonBodyParser(http);

  http.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  http.setErrorHandler(restErrorHandler);
  http.setNotFoundHandler(restNotFoundHandler);

  await http.register(healthRoutes, { ping: () => db.ping() });
  await http.register(ordersRoutes, { prefix: '/api', orders: services.orders, auth: services.auth });
  const apollo: ApolloServer<GraphQLContext> = await registerGraphQL(http, {
    schema: await buildGraphQLSchema(),
    orders: services.orders,
    auth: services.auth,
    introspection: config.nodeEnv !== 'production',
  });

  let closing: Promise<void> | undefined;
  return {
    http,
    services,
    db,
    close() {
      closing ??= (async () => {
        await http.close(); // drains Apollo through its drain plugin
        await apollo.stop().catch(() => undefined);
        await db.close();
      })();
      return closing;
    },
  };
}
