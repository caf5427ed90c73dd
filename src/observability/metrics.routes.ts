/**
 * `GET /metrics` in the Prometheus text format, on the app's port or on a
 * port of its own (METRICS_PORT), behind a bearer token when METRICS_TOKEN is
 * set.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';
import { bearerToken } from '../auth/api-key';
import { restErrorHandler, restNotFoundHandler } from '../rest/error-handler';
import type { Metrics } from './metrics';

export interface MetricsRouteOptions {
  metrics: Metrics;
  token: string | undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Constant-time comparison; hashing first makes the lengths equal. */
function tokenMatches(authorization: string | undefined, token: string): boolean {
  const given = bearerToken(authorization);
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

export function registerMetricsRoute(app: FastifyInstance, { metrics, token }: MetricsRouteOptions): void {
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (token && !tokenMatches(request.headers.authorization, token)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"');
      throw new AppError(ErrorCode.UNAUTHORIZED, 'Metrics need Authorization: Bearer <METRICS_TOKEN>');
    }
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(await metrics.render());
  });
}

/** A second, minimal server for METRICS_PORT: `/metrics` and nothing else. */
export function createMetricsServer(options: MetricsRouteOptions & { logger: FastifyBaseLogger }): FastifyInstance {
  const server = Fastify({ loggerInstance: options.logger, logController: new LogController({ disableRequestLogging: true }) });
  server.setErrorHandler(restErrorHandler);
  server.setNotFoundHandler(restNotFoundHandler);
  registerMetricsRoute(server, options);
  return server;
}
