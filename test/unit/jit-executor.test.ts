/**
 * The graphql-jit executor answers as graphql-js does: the first run of a
 * document is graphql-js's, later runs are compiled, and both must agree on
 * data and errors; what must stay graphql-js's (unknown operations, variables
 * that do not coerce, inline literals) never reaches graphql-jit.
 */
import type { GatewayExecutor, GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import {
  GraphQLError,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
} from 'graphql';
import * as jit from 'graphql-jit';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { jitExecution } from '../../src/graphql/jit-executor';

vi.mock('graphql-jit', async (importActual) => {
  const actual = await importActual<typeof import('graphql-jit')>();
  return { ...actual, compileQuery: vi.fn(actual.compileQuery) };
});

class CodedError extends Error {
  readonly extensions = { code: 'NOT_FOUND' };
}

/** The writes the mutation `write` has made. */
const writes: string[] = [];

const schema = new GraphQLSchema({
  mutation: new GraphQLObjectType({
    name: 'Mutation',
    fields: {
      fail: {
        type: new GraphQLNonNull(GraphQLInt),
        resolve: () => Promise.reject(new CodedError('the database is unavailable')),
      },
      write: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { name: { type: new GraphQLNonNull(GraphQLString) } },
        resolve: (_root, { name }: { name: string }) => writes.push(name),
      },
    },
  }),
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      double: {
        type: new GraphQLNonNull(GraphQLInt),
        args: { n: { type: new GraphQLNonNull(GraphQLInt) } },
        resolve: (_root, { n }: { n: number }) => n * 2,
      },
      greeting: {
        type: GraphQLString,
        args: { name: { type: GraphQLString } },
        resolve: (_root, { name }: { name?: string }, context: { suffix: string }) =>
          `hello ${name}${context.suffix}`,
      },
      broken: {
        type: GraphQLString,
        resolve: () => {
          throw new CodedError('no such thing');
        },
      },
    },
  }),
});

async function run(
  executor: GatewayExecutor,
  document: ReturnType<typeof parse>,
  request: { operationName?: string; variables?: Record<string, unknown> } = {},
) {
  const result = await executor({
    document,
    request,
    context: { suffix: '!' },
  } as unknown as GatewayGraphQLRequestContext);
  // As Apollo sends it: errors serialised with their message, locations, path and extensions.
  return JSON.parse(JSON.stringify(result)) as unknown;
}

let executor: GatewayExecutor;
beforeEach(async () => {
  vi.mocked(jit.compileQuery).mockClear();
  const loaded = await jitExecution(schema).load({ apollo: {} });
  if (!loaded.executor) throw new Error('jitExecution loaded no executor');
  executor = loaded.executor;
});

describe('the graphql-jit executor', () => {
  // GraphQL runs a document's mutations one after another; when one fails and its null reaches
  // `data`, graphql-js stops there. graphql-jit went on: a later createOrder was committed, its
  // answer lost in `data: null`, and the client (told only of the failure) sent it again.
  it('runs no mutation after one whose error nulls the whole answer, compiled or not', async () => {
    writes.length = 0;
    const document = parse('mutation M { first: write(name: "a") failed: fail later: write(name: "b") }');
    const answers = [];
    for (let run_ = 0; run_ < 3; run_ += 1) answers.push(await run(executor, document, { operationName: 'M' }));
    expect(writes).toStrictEqual(['a', 'a', 'a']);
    expect(answers[0]).toStrictEqual({
      data: null,
      errors: [{ message: 'the database is unavailable', locations: [{ line: 1, column: 38 }], path: ['failed'], extensions: { code: 'NOT_FOUND' } }],
    });
    expect(answers[1]).toStrictEqual(answers[0]);
    expect(answers[2]).toStrictEqual(answers[0]);
  });

  it('compiles a document the second time it runs, once, and answers exactly as graphql-js did', async () => {
    const document = parse('query Q($n: Int!, $name: String) { double(n: $n) greeting(name: $name) broken }');
    const request = { operationName: 'Q', variables: { n: 21, name: 'ana' } };
    const first = await run(executor, document, request);
    expect(jit.compileQuery).not.toHaveBeenCalled();
    const second = await run(executor, document, request);
    const third = await run(executor, document, request);
    expect(jit.compileQuery).toHaveBeenCalledTimes(1);
    expect(first).toStrictEqual({
      data: { double: 42, greeting: 'hello ana!', broken: null },
      errors: [
        {
          message: 'no such thing',
          locations: [{ line: 1, column: 72 }],
          path: ['broken'],
          extensions: { code: 'NOT_FOUND' },
        },
      ],
    });
    expect(second).toStrictEqual(first);
    expect(third).toStrictEqual(first);
  });

  it('hands graphql-jit errors over as graphql-js errors, whose extensions can be written to', async () => {
    const document = parse('{ broken }');
    await executor({ document, request: {}, context: {} } as unknown as GatewayGraphQLRequestContext);
    const result = await executor({
      document,
      request: {},
      context: {},
    } as unknown as GatewayGraphQLRequestContext);
    expect(jit.compileQuery).toHaveBeenCalledTimes(1);
    const [error] = result.errors ?? [];
    expect(error).toBeInstanceOf(GraphQLError);
    (error?.extensions as Record<string, unknown>).limit = 'depth';
    expect(error?.extensions).toStrictEqual({ code: 'NOT_FOUND', limit: 'depth' });
    expect(error?.originalError).toBeInstanceOf(CodedError);
  });

  it('leaves variables that do not coerce to graphql-js, with its message, every time', async () => {
    const document = parse('query Q($n: Int!) { double(n: $n) }');
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await run(executor, document, { variables: { n: 'x' } }));
    expect(jit.compileQuery).toHaveBeenCalledTimes(1);
    for (const result of results)
      expect(result).toStrictEqual({
        errors: [
          {
            message: 'Variable "$n" got invalid value "x"; Int cannot represent non-integer value: "x"',
            locations: [{ line: 1, column: 9 }],
          },
        ],
      });
  });

  it("answers an unknown operation name with graphql-js's error every time, after one try to compile it", async () => {
    const document = parse('query A { double(n: 1) }');
    for (let i = 0; i < 3; i++)
      expect(await run(executor, document, { operationName: 'C' })).toStrictEqual({
        errors: [{ message: 'Unknown operation named "C".' }],
      });
    // The name the client sent is the one that counts, not Apollo's resolved one.
    expect(await run(executor, document, { operationName: 'A' })).toStrictEqual({ data: { double: 2 } });
    expect(jit.compileQuery).toHaveBeenCalledTimes(1);
    expect(vi.mocked(jit.compileQuery).mock.calls.map((call) => call[2])).toStrictEqual(['C']);
  });

  it('runs documents with inline floats or long numbers (as lists and objects) on graphql-js only', async () => {
    for (const text of ['{ double(n: 12345678901234567) }', '{ greeting(name: "x") a: double(n: 1.5) }']) {
      const document = parse(text);
      for (let i = 0; i < 3; i++) await run(executor, document);
    }
    const plain = parse('{ double(n: 4) }');
    for (let i = 0; i < 3; i++) expect(await run(executor, plain)).toStrictEqual({ data: { double: 8 } });
    expect(jit.compileQuery).toHaveBeenCalledTimes(1);
  });
});
