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
import { afterAll, expect, it } from 'vitest';
import { registerGraphQL } from '../../src/graphql/server';
import type { RequestContext } from '../../src/orders/order.types';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: { hello: { type: GraphQLString, resolve: () => 'world' } },
  }),
});

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
    done();
  },
});
const logger: FastifyBaseLogger = pino(sink);
const http = Fastify({ loggerInstance: logger });
afterAll(() => http.close());

it('answers a masked 500 and logs the failure under the request id', async () => {
  const requestIds: string[] = [];
  http.decorateRequest('telemetry', null as never);
  http.addHook('onRequest', (request, _reply, done) => {
    request.telemetry = {};
    requestIds.push(request.id);
    done();
  });
  let failing = false;
  await registerGraphQL(http, {
    schema,
    orders: {} as never,
    webhooks: {} as never,
    authenticate: async (): Promise<RequestContext> => ({ workspaceId: 'ws_1', timeZone: 'UTC' }),
    introspection: false,
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
});
