/**
 * A failure inside Apollo's own pipeline, outside any resolver (here one of
 * our request hooks throwing as the request starts), is answered with a
 * masked 500 and logged once under the request id, by the plugin that holds
 * our hooks (see `registerGraphQL`).
 */
import 'reflect-metadata';
import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import pino from 'pino';
import { expect, it } from 'vitest';
import type { WebhookOperations } from '../../src/graphql/context';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { registerGraphQL } from '../../src/graphql/server';
import type { RequestContext } from '../../src/orders/order.types';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: { hello: { type: GraphQLString, resolve: () => 'world' } },
  }),
});

/** What every server below is registered with, less what a test varies. */
const base = {
  schema,
  orders: {} as never,
  webhooks: {} as never,
  authenticate: async (): Promise<RequestContext> => ({ workspaceId: 'ws_1', timeZone: 'UTC' }),
  introspection: false,
};

it('answers a masked 500 and logs the failure under the request id', async () => {
  const { server: http, logged: lines, requestIds } = ownServer();
  try {
    let failing = false;
    await registerGraphQL(http, {
      ...base,
      requestHooks: [
        () => {
          if (failing) throw new Error('a hook broke');
          return undefined;
        },
      ],
    });

    const ask = () =>
      http.inject({
        method: 'POST',
        url: '/graphql',
        headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
        payload: JSON.stringify({ query: '{ hello }' }),
      });
    const fine = await ask();
    expect(fine.statusCode, fine.body).toBe(200);
    expect(fine.json()).toStrictEqual({ data: { hello: 'world' } });
    expect(lines.filter((line) => line.msg === 'graphql request failed')).toStrictEqual([]);

    failing = true;
    const broken = await ask();
    expect(broken.statusCode).toBe(500);
    expect(broken.body).not.toContain('a hook broke');
    const logged = lines.filter((line) => line.msg === 'graphql request failed');
    expect(logged).toHaveLength(1);
    expect(requestIds).toHaveLength(2);
    expect(logged[0]).toMatchObject({ level: 50, reqId: requestIds[1], err: { message: 'a hook broke' } });
  } finally {
    await http.close();
  }
});

/** A Fastify app of its own for one test, with its log lines and the id of each request. */
function ownServer() {
  const logged: Record<string, unknown>[] = [];
  const logger: FastifyBaseLogger = pino(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const server = Fastify({ loggerInstance: logger });
  const requestIds: string[] = [];
  server.decorateRequest('telemetry', null as never);
  server.addHook('onRequest', (request, _reply, done) => {
    request.telemetry = {};
    requestIds.push(request.id);
    done();
  });
  return { server, logged, requestIds };
}

it('an unexpected failure while building the context is a masked 500 INTERNAL_ERROR, logged with its stack', async () => {
  const { server, logged: own, requestIds } = ownServer();
  try {
    let broken = false;
    await registerGraphQL(server, {
      ...base,
      // Read by the context of every request: a broken wiring fails there.
      get orders(): never {
        if (broken) throw new Error('secret detail: the order service is not wired');
        return {} as never;
      },
    });
    const ask = (method: 'GET' | 'POST') =>
      server.inject({
        method,
        url: method === 'GET' ? '/graphql?query=%7Bhello%7D' : '/graphql',
        headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
        ...(method === 'POST' ? { payload: JSON.stringify({ query: '{ hello }' }) } : {}),
      });
    expect((await ask('POST')).statusCode).toBe(200);

    broken = true;
    for (const method of ['POST', 'GET'] as const) {
      const res = await ask(method);
      const requestId = requestIds.at(-1);
      expect(res.statusCode).toBe(500);
      expect(res.json()).toStrictEqual({
        errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_ERROR', requestId } }],
      });
      expect(res.body).not.toMatch(/secret|context|wired/i);
      const logged = own.filter((line) => line.level === 50 && line.reqId === requestId);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        msg: 'graphql context failed',
        err: {
          message: 'secret detail: the order service is not wired',
          stack: expect.stringContaining('Error: secret'),
        },
      });
    }
  } finally {
    await server.close();
  }
});

it('a request hook of ours throwing a plain Error once the operation is known: masked INTERNAL_ERROR, logged with its stack', async () => {
  const { server, logged: own, requestIds } = ownServer();
  try {
    await registerGraphQL(server, {
      ...base,
      requestHooks: [
        () => ({
          didResolveOperation() {
            throw new Error('secret detail: a hook broke');
          },
        }),
      ],
    });
    const res = await server.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
      payload: JSON.stringify({ query: '{ hello }' }),
    });
    const requestId = requestIds.at(-1);
    expect(res.statusCode).toBe(500);
    expect(res.json()).toStrictEqual({
      errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_ERROR' } }],
    });
    const logged = own.filter((line) => line.level === 50 && line.reqId === requestId);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      msg: 'graphql operation failed',
      err: { message: 'secret detail: a hook broke', stack: expect.stringContaining('Error: secret') },
    });
  } finally {
    await server.close();
  }
});

it('runs the webhook calls of one request one at a time, as it runs the order calls (one pool connection a request)', async () => {
  const { server } = ownServer();
  let inFlight = 0;
  let maxInFlight = 0;
  const oneAtATime = async <T>(value: T): Promise<T> => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, 5));
    inFlight--;
    return value;
  };
  try {
    await registerGraphQL(server, {
      ...base,
      schema: await buildGraphQLSchema(),
      webhooks: {
        listEndpoints: () => oneAtATime([]),
        listDeliveries: () => oneAtATime({ edges: [], hasNextPage: false, hasPreviousPage: false }),
      } as Partial<WebhookOperations> as WebhookOperations,
    });
    const query = `{ ${Array.from({ length: 5 }, (_, i) => `e${i}: webhookEndpoints { id } d${i}: webhookDeliveries(endpointId: "whep_x") { edges { cursor } }`).join(' ')} }`;
    const res = await server.inject({
      method: 'POST',
      url: '/graphql',
      headers: { authorization: 'Bearer any', 'content-type': 'application/json' },
      payload: JSON.stringify({ query }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(maxInFlight).toBe(1);
  } finally {
    await server.close();
  }
});
