/**
 * Node's own refusals, answered before Fastify has a request: a request or
 * header timeout (408), headers over Node's limit (431), and a request line
 * or header Node cannot parse (400). Fastify hands them to this handler with
 * only the socket, so the response is written by hand, in the REST error
 * envelope with a fresh request id, the API's security headers and
 * `Connection: close` (the connection cannot be trusted afterwards).
 *
 * A request whose headers had arrived and whose body had not (a body trickled
 * slower than REQUEST_TIMEOUT_MS) has a known URL: on the GraphQL endpoint its
 * 408 is a GraphQL response, as every refusal there is (orders-api.md §8).
 * What cannot be shaped: a refusal of the headers themselves knows no route,
 * so on `/graphql` it gets the REST envelope too; and a socket that is already
 * gone gets nothing.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors/app-error';
import { topLevelErrorResponse } from '../graphql/errors';
import { graphqlResponseType } from '../graphql/refusals';
import { apiSecurityHeaders } from '../security/headers';

function refusalOf(code: string | undefined): { status: number; errorCode: ErrorCode; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      errorCode: ErrorCode.REQUEST_TIMEOUT,
      message: 'The request did not arrive in time',
    };
  }
  if (code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      errorCode: ErrorCode.HEADERS_TOO_LARGE,
      message: 'The request headers are larger than the limit',
    };
  }
  return { status: 400, errorCode: ErrorCode.INVALID_JSON, message: 'The request could not be read' };
}

/** The request whose body was still arriving when Node refused it (a refusal of headers has none). */
function requestInProgress(socket: Socket): IncomingMessage | undefined {
  const incoming = (socket as Socket & { parser?: { incoming?: IncomingMessage | null } }).parser?.incoming;
  return incoming && !incoming.complete ? incoming : undefined;
}

/** Fastify's `clientErrorHandler` for an app whose GraphQL endpoint is `graphqlPath`. */
export function clientErrorHandlerFor(graphqlPath: string) {
  /** Fastify binds it to the instance, whose logger it uses. */
  return function clientErrorHandler(
    this: FastifyInstance,
    error: Error & { code?: string },
    socket: Socket,
  ): void {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, errorCode, message } = refusalOf(error.code);
    const requestId = randomUUID();
    const incoming = requestInProgress(socket);
    const onGraphQL = incoming?.url !== undefined && incoming.url.split('?', 1)[0] === graphqlPath;
    const body = JSON.stringify(
      onGraphQL
        ? topLevelErrorResponse(new AppError(errorCode, message), requestId).body
        : { success: false, error: { code: errorCode, message, request_id: requestId } },
    );
    this.log.info({ reqId: requestId, status, code: error.code }, 'request refused by the HTTP parser');
    if (socket.writable) {
      const headers: Record<string, string> = {
        ...apiSecurityHeaders(),
        'Content-Type': onGraphQL
          ? graphqlResponseType(incoming?.headers.accept)
          : 'application/json; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
        'Cache-Control': 'no-store',
        'X-Request-Id': requestId,
        Connection: 'close',
      };
      const head = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}`)
        .join('\r\n');
      socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${head}\r\n\r\n${body}`);
    }
    socket.destroy(error);
  };
}
