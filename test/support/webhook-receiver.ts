/**
 * A webhook receiver for tests: an HTTP server on 127.0.0.1 that verifies
 * each request with the `standardwebhooks` package (as a real receiver
 * would) and answers with the next status of its script.
 */
import http from 'node:http';
import type net from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { TestClient } from './app';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** True when the signature verified with the endpoint's secret. */
  verified: boolean;
  status: number;
  /** When it came (Date.now()). */
  at: number;
}

/** A status to answer with, alone or with headers (`[429, { 'retry-after': '2' }]`). */
export type Answer = number | readonly [number, Record<string, string>];

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The secret to verify with (set after the endpoint is made). */
  secret?: string;
  close(): Promise<void>;
}

/** Answers each request with the next of `statuses`, then with the last one for ever. */
export async function startReceiver(statuses: Answer[] = [200], port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const receiver: Receiver = { url: '', port: 0, received, close: async () => undefined };
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      let verified: boolean;
      try {
        new Webhook(receiver.secret ?? 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').verify(body, request.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      const answer = statuses[Math.min(received.length, statuses.length - 1)] ?? 200;
      const [status, headers] = typeof answer === 'number' ? [answer, {}] : answer;
      received.push({ headers: request.headers, body, verified, status, at: Date.now() });
      response.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.port = (server.address() as net.AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

/** A receiver with an endpoint of its own in the test app's workspace, its secret set to verify what arrives. */
export async function startEndpointReceiver(t: TestClient, statuses: Answer[] = [200]): Promise<Receiver> {
  const receiver = await startReceiver(statuses);
  receiver.secret = (await t.app.services.webhooks.createEndpoint(await t.context(), { url: receiver.url })).secret;
  return receiver;
}
