/**
 * Lingering close (what nginx and Apache do, RFC 9112 §9.6): a response that closes the connection
 * before the request's body was read (a body declared over BODY_LIMIT_BYTES is refused unread, 413)
 * used to close the socket at once, while the client was still sending that body. Its next write
 * then met a reset: nginx in front logged `writev() failed (32: Broken pipe) while sending request
 * to upstream` and answered its 502 (a "no gateway answered" 503 with our config) for about a third
 * of such requests, and a client talking to the gateway directly got EPIPE instead of the 413.
 *
 * Now the response is sent, our side of the connection is ended (FIN), and the rest of the body is
 * read and thrown away (Node's parser discards it) until the client ends too, at most
 * LINGER_MS or LINGER_BYTES; then the socket is destroyed.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

const LINGER_MS = 5_000;
const LINGER_BYTES = 16 * 1024 * 1024;
const LINGERING = Symbol('lingering');

type ClosingSocket = Socket & { destroySoon?: () => void; [LINGERING]?: boolean };

function linger(socket: ClosingSocket): void {
  if (socket[LINGERING]) return;
  socket[LINGERING] = true;
  socket.destroySoon = () => {
    let left = LINGER_BYTES;
    const stop = () => {
      clearTimeout(timer);
      if (!socket.destroyed) socket.destroy();
    };
    const timer = setTimeout(stop, LINGER_MS);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      left -= chunk.length;
      if (left <= 0) stop();
    });
    socket.once('end', stop);
    socket.once('close', () => clearTimeout(timer));
    socket.end();
    socket.resume();
  };
}

export function registerLingeringClose(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const closing = String(reply.getHeader('connection') ?? '').toLowerCase() === 'close';
    const socket = request.raw.socket as ClosingSocket | null;
    if (closing && !request.raw.complete && socket && !socket.destroyed) linger(socket);
    done(null, payload);
  });
}
