/**
 * Only `Upgrade: websocket` is an upgrade here; any other `Upgrade` (Java's HttpClient sends
 * `Upgrade: h2c` with `HTTP2-Settings` on every plain-http request by default) is ignored, as
 * RFC 9110 §7.8 lets a server do, and the request is served over HTTP/1.1 like any other.
 *
 * Node hands every request with `Connection: Upgrade` to the server's `upgrade` listeners once
 * there is one (the WebSocket support's), and then stops parsing the connection as HTTP: a GET
 * was a plain-text `400 Invalid Upgrade header` from the WebSocket library, a POST lost its body
 * and then its connection. Newer Node (22.21, 24.9) lets a server decide this per request
 * (`shouldUpgradeCallback`); Node 20 has no such option, so the decision is made where Node makes
 * it, in the connection's `onIncoming`, which serves a request whose `upgrade` flag is off as a
 * plain one (its body parsed as usual, the connection kept alive). test/http/h2c-upgrade.test.ts
 * fails if a Node version stops honouring it.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** Whether a request asks for a WebSocket (the only protocol this server switches to). */
export function isWebSocketUpgrade(request: Pick<IncomingMessage, 'headers'>): boolean {
  return (request.headers.upgrade ?? '').split(',').some((protocol) => protocol.trim().toLowerCase() === 'websocket');
}

/** Node's own flag: set by its parser for `Connection: Upgrade`, read right after this call. */
type UpgradingMessage = IncomingMessage & { upgrade?: boolean };
type OnIncoming = (request: UpgradingMessage, keepAlive: boolean) => unknown;

export function serveOtherUpgradesAsHttp(server: Server): void {
  // Node's own connection listener runs first (it is added by the Server constructor), so the
  // connection's parser is there by now.
  server.on('connection', (socket: Socket & { parser?: { onIncoming?: OnIncoming } }) => {
    const parser = socket.parser;
    const onIncoming = parser?.onIncoming;
    if (!parser || typeof onIncoming !== 'function') return;
    parser.onIncoming = (request, keepAlive) => {
      if (request.upgrade && request.method !== 'CONNECT' && !isWebSocketUpgrade(request)) request.upgrade = false;
      return onIncoming(request, keepAlive);
    };
  });
}
