/**
 * A stock graphql-ws client on a test app: the app listens on a free port of
 * 127.0.0.1, and the client sends `authorization` in connection_init, as the
 * contract says (§5). It does not retry, so a closed socket ends the test's
 * subscriptions instead of hiding behind a reconnect.
 */
import type { FastifyInstance } from 'fastify';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export async function listeningWsClient(http: FastifyInstance, authorization: string): Promise<Client> {
  const address = await http.listen({ port: 0, host: '127.0.0.1' });
  return createClient({
    url: `${address.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization },
  });
}
