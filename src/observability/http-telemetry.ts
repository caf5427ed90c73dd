/**
 * One access-log line and the HTTP metrics for every request, written when
 * its response has gone out. Fastify's own request logging is switched off
 * (see app.ts) in favour of this line, which also knows the route pattern,
 * the workspace and the GraphQL operation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { redactUrl } from './logger';
import { httpMethodLabel, type Metrics } from './metrics';
import type { RequestTelemetry } from './request-telemetry';
import { traceContextOf, traceLogFields } from './trace-context';
import { routeUrl } from '../app/route-url';

export interface HttpTelemetryOptions {
  metrics: Metrics;
  /** The GraphQL endpoint, whose requests are counted as operations. */
  graphqlPath: string;
}

/** Probes and scrapes arrive every few seconds; their lines are debug-level so they do not drown the rest. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** GraphQL bounds a name only by the body: the log line keeps this many characters of it. */
const LOGGED_OPERATION_NAME_LENGTH = 100;

/** A 404 has no route; its label is fixed so that random URLs cannot multiply the series. */
const UNMATCHED = '(unmatched)';

function isHtml(reply: FastifyReply): boolean {
  return String(reply.getHeader('content-type') ?? '').startsWith('text/html');
}

export function registerHttpTelemetry(app: FastifyInstance, { metrics, graphqlPath }: HttpTelemetryOptions): void {
  app.decorateRequest('telemetry', null as unknown as RequestTelemetry);
  // Callback-style hooks: an async one would cost every request two promises for synchronous work.
  app.addHook('onRequest', (request, reply, done) => {
    request.telemetry = {};
    // Only a request that carries a traceparent pays for reading it, and for a logger of its own.
    if (request.headers.traceparent !== undefined) {
      const trace = traceContextOf(request.headers);
      if (trace) {
        request.telemetry.trace = trace;
        // Every line of the request (its access line, its failure) joins the caller's trace: the
        // field names are OpenTelemetry's for logs (those of its pino instrumentation).
        request.log = request.log.child(traceLogFields(trace));
        reply.log = request.log;
      }
    }
    done();
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = routeUrl(request) ?? UNMATCHED;
    const status = reply.statusCode;
    const latencyMs = reply.elapsedTime;
    const telemetry = request.telemetry;
    metrics.httpDuration.observe({ method: httpMethodLabel(request.method), route, status_code: String(status) }, latencyMs / 1000);

    let operationName: string | undefined;
    let outcome: string | undefined;
    if (route === graphqlPath && !isHtml(reply)) {
      operationName = telemetry.operationName ?? '(unknown)';
      const graphqlOutcome = telemetry.operationOutcome ?? (status === 401 ? 'unauthenticated' : 'error');
      outcome = graphqlOutcome;
      metrics.countGraphQLOperation(operationName, graphqlOutcome);
    } else if (request.method === 'POST' && route === '/api/orders' && status === 201 && reply.getHeader('idempotent-replayed') !== 'true') {
      // A replay under an Idempotency-Key answers 201 too, but creates nothing.
      metrics.ordersCreated.inc({ transport: 'rest' });
    }

    const line = {
      method: request.method,
      route,
      url: redactUrl(request.url),
      status,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      workspaceId: telemetry.workspaceId ?? request.requestContext?.workspaceId,
      operationName:
        operationName !== undefined && operationName.length > LOGGED_OPERATION_NAME_LENGTH
          ? `${operationName.slice(0, LOGGED_OPERATION_NAME_LENGTH)}…`
          : operationName,
      outcome,
      errorCode: telemetry.errorCode,
    };
    if (QUIET_ROUTES.has(route)) request.log.debug(line, 'request completed');
    else request.log.info(line, 'request completed');
    done();
  });
}
