/**
 * Our features' request hooks run inside Apollo as one plugin: at each stage
 * in the order given, every hook even when an earlier one throws, and a throw
 * refuses the request as a plugin's throw would.
 */
import { ApolloServer, type GraphQLRequestContext } from '@apollo/server';
import { GraphQLError, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { type GraphQLRequestHooks, requestHooksPlugin } from '../../src/graphql/request-hooks';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      hello: { type: GraphQLString, resolve: () => 'world' },
      broken: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('resolver failed');
        },
      },
    },
  }),
});

let server: ApolloServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function run(features: GraphQLRequestHooks<object>[], query: string) {
  server = new ApolloServer({ schema, plugins: [requestHooksPlugin(features)] });
  await server.start();
  const response = await server.executeOperation({ query });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return { status: response.http.status, result: response.body.singleResult };
}

/** A feature that writes each stage it sees into `calls`, under its name. */
function recording(
  name: string,
  calls: string[],
  throwAt?: 'didResolveOperation',
): GraphQLRequestHooks<object> {
  return () => ({
    didResolveOperation({ operationName }) {
      calls.push(`${name}:didResolveOperation:${operationName ?? '-'}`);
      if (throwAt === 'didResolveOperation')
        throw new GraphQLError(`${name} refuses`, {
          extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
        });
    },
    didEncounterErrors({ errors }) {
      calls.push(`${name}:didEncounterErrors:${errors.map((error) => error.message).join('|')}`);
    },
    willSendResponse() {
      calls.push(`${name}:willSendResponse`);
    },
  });
}

describe('requestHooksPlugin', () => {
  it('runs every stage of every feature in the order given', async () => {
    const calls: string[] = [];
    const { result } = await run([recording('a', calls), recording('b', calls)], 'query Greet { hello }');
    expect(result).toEqual({ data: { hello: 'world' } });
    expect(calls).toEqual([
      'a:didResolveOperation:Greet',
      'b:didResolveOperation:Greet',
      'a:willSendResponse',
      'b:willSendResponse',
    ]);
  });

  it('runs the later hooks of a stage after one throws, and refuses the request with the first error', async () => {
    const calls: string[] = [];
    const { status, result } = await run(
      [recording('a', calls, 'didResolveOperation'), recording('b', calls, 'didResolveOperation')],
      '{ hello }',
    );
    expect(status).toBe(400);
    expect(result.data).toBeUndefined();
    expect(result.errors?.map((error) => [error.message, error.extensions?.code])).toEqual([
      ['a refuses', 'BAD_REQUEST'],
    ]);
    expect(calls).toEqual([
      'a:didResolveOperation:-',
      'b:didResolveOperation:-',
      'a:didEncounterErrors:a refuses',
      'b:didEncounterErrors:a refuses',
      'a:willSendResponse',
      'b:willSendResponse',
    ]);
  });

  it('gives errors from execution to every feature, and may change the response', async () => {
    const calls: string[] = [];
    const teapot: GraphQLRequestHooks<object> = () => ({
      willSendResponse({ response }) {
        response.http.status = 418;
      },
    });
    const { status, result } = await run([recording('a', calls), teapot], '{ broken }');
    expect(status).toBe(418);
    expect(result.errors?.[0]?.message).toBe('resolver failed');
    expect(calls).toContain('a:didEncounterErrors:resolver failed');
  });

  it('skips a feature that returns no hooks, and offers Apollo only the stages some feature uses', async () => {
    const seen: string[] = [];
    const quiet: GraphQLRequestHooks<object> = (requestContext: GraphQLRequestContext<object>) => {
      seen.push(requestContext.request.query ?? '');
      return undefined;
    };
    const onlyResponse: GraphQLRequestHooks<object> = () => ({ willSendResponse() {} });
    const plugin = requestHooksPlugin([quiet, onlyResponse]);
    const listener = await plugin.requestDidStart?.({
      request: { query: '{ hello }' },
    } as GraphQLRequestContext<object>);
    expect(seen).toEqual(['{ hello }']);
    expect(Object.keys(listener ?? {})).toEqual(['willSendResponse']);

    const none = await requestHooksPlugin([quiet]).requestDidStart?.({
      request: { query: '{ hello }' },
    } as GraphQLRequestContext<object>);
    expect(Object.keys(none ?? {})).toEqual([]);
  });
});
