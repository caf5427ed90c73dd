/**
 * What one request learns about itself on the way through (its workspace, its
 * GraphQL operation), kept for the access-log line and the metrics written
 * when the response is sent.
 */
import type { GraphQLOutcome } from './metrics';
import type { TraceContext } from './trace-context';

export interface RequestTelemetry {
  workspaceId?: string;
  /** The resolved GraphQL operation name, `(anonymous)` for an unnamed one. */
  operationName?: string;
  operationOutcome?: GraphQLOutcome;
  /** `query` or `mutation`, once the GraphQL operation is resolved. */
  operationType?: 'query' | 'mutation' | 'subscription';
  /**
   * The stable code of the error the answer carries, for the access line: REST's `error.code`,
   * or the first GraphQL error's `extensions.code`; so a log query can count 422s by cause.
   */
  errorCode?: string;
  /** The caller's W3C trace context, when it sent a valid one (see trace-context.ts). */
  trace?: TraceContext;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Filled in by the transports; read by the access log and the metrics. */
    telemetry: RequestTelemetry;
  }
}
