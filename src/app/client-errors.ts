/**
 * Node's own refusals, answered before Fastify has a request: a request or
 * header timeout (408), headers over Node's limit (431), and a request line
 * or header Node cannot parse (400). Fastify hands them to this handler with
 * only the socket, so the response is written by hand, in the REST error
 * envelope with a fresh request id, the API's security headers and
 * `Connection: close` (the connection cannot be trusted afterwards).
 *
 * What cannot be shaped: no route is known, so a refusal on `/graphql` gets
 * the REST envelope too; and a socket that is already gone gets nothing.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '../errors/app-error';
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

/** Fastify's `clientErrorHandler`; Fastify binds it to the instance, whose logger it uses. */
export function clientErrorHandler(
  this: FastifyInstance,
  error: Error & { code?: string },
  socket: Socket,
): void {
  {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, errorCode, message } = refusalOf(error.code);
    const requestId = randomUUID();
    const body = JSON.stringify({
      success: false,
      error: { code: errorCode, message, request_id: requestId },
    });
    this.log.info({ reqId: requestId, status, code: error.code }, 'request refused by the HTTP parser');
    if (socket.writable) {
      const headers: Record<string, string> = {
        ...apiSecurityHeaders(),
        'Content-Type': 'application/json; charset=utf-8',
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
  }
}
