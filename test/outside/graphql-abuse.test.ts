/**
 * The abuse patterns of the OWASP GraphQL Cheat Sheet and GraphQL Armor, sent over real HTTP to a
 * listening gateway in production mode. For each: a clear GraphQL error with its status (the
 * GraphQL-over-HTTP answers the gateway already gives: 400 for a refused document, 429 past the
 * rate limit), no order written by halves (rows counted), and a normal request served right after.
 * GraphQL Armor's own rules, with Armor's defaults, judge the same documents as an oracle: what
 * Armor refuses by default, the gateway refuses too (README "Security and limits").
 */
import type { AddressInfo } from 'node:net';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { type GraphQLSchema, parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { clientFor, createTestApp, type TestApp } from '../support/app';

const LIMIT = 40;
let t: TestApp;
let url: string;
let auth: string;
let schema: GraphQLSchema;

beforeAll(async () => {
  t = await createTestApp({ ...loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'info' }), maxEventLoopDelayMs: 0, rateLimitPerMinute: LIMIT });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/graphql`;
  auth = await t.bearer('acme');
  schema = await buildGraphQLSchema();
});
afterAll(() => t?.close());

interface Answer {
  status: number;
  remaining: number;
  retryAfter: string | null;
  body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

async function post(body: unknown, key = auth): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: key, 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    remaining: Number(res.headers.get('x-ratelimit-remaining')),
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as Answer['body'],
  };
}

const orders = () => clientFor(() => t, () => auth).db.count('orders');
const INPUT = '{customerId: "c", items: [{productId: "p", quantity: 1, price: "1"}], total: "1"}';
const create = (alias = '') => `${alias}createOrder(input: ${INPUT}) { order { id } userErrors { code } }`;
const times = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i)).join(' ');

/** A fresh key (its own rate-limit bucket), so each case starts with the whole limit. */
const freshKey = () => t.bearer('acme');

/** What Armor, with its default limits, says of a document: the names of the limits it exceeds. */
function armorDefaults(source: string): string[] {
  const refused: string[] = [];
  const note = (name: string) => [(_: unknown, error: Error) => void refused.push(`${name}: ${error.message}`)];
  validate(schema, parse(source), [
    maxAliasesRule({ onReject: note('aliases'), propagateOnRejection: false }),
    maxDepthRule({ onReject: note('depth'), propagateOnRejection: false }),
    maxDirectivesRule({ onReject: note('directives'), propagateOnRejection: false }),
  ]);
  return refused;
}

/** A normal request right after: served, with its data. */
async function stillServes(key = auth): Promise<void> {
  const res = await post({ query: '{ orders(first: 1) { totalCount } }' }, key);
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
}

describe('alias overloading', () => {
  it('500 aliases of createOrder: refused whole, nothing written (Armor refuses it too)', async () => {
    const before = await orders();
    const source = `mutation { ${times(500, (i) => create(`a${i}: `))} }`;
    expect(armorDefaults(source).join()).toMatch(/^aliases: /);
    const res = await post({ query: source });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED' });
    expect(await orders()).toBe(before);
    await stillServes();
  });

  it('the mutations of one document count against the rate limit one each', async () => {
    const key = await freshKey();
    const before = await orders();
    // One plain and 15 aliased createOrder: within the alias limit, 16 orders.
    const sixteen = `mutation { ${create()} ${times(15, (i) => create(`a${i}: `))} }`;
    const first = await post({ query: sixteen }, key);
    expect(first.status).toBe(200);
    expect(Object.keys(first.body.data ?? {})).toHaveLength(16);
    expect(await orders()).toBe(before + 16);
    // 16 of the 40 requests a minute were used, not 1.
    expect(first.remaining).toBe(LIMIT - 16);
    // 24 remain: another such document fits once; the third is refused whole, nothing run.
    expect((await post({ query: sixteen }, key)).status).toBe(200);
    expect(await orders()).toBe(before + 32);
    const third = await post({ query: sixteen }, key);
    expect(third.status).toBe(429);
    expect(third.retryAfter).toMatch(/^\d+$/);
    expect(third.body.data).toBeUndefined();
    expect(third.body.errors).toHaveLength(1);
    expect(third.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(third.body.errors?.[0]?.message).toMatch(/each mutation of a document counts as a request, this one has 16/);
    expect(await orders()).toBe(before + 32);
    // The key's remaining requests are still served, one mutation at a time.
    const single = await post({ query: `mutation { ${create()} }` }, key);
    expect(single.status).toBe(200);
    expect(await orders()).toBe(before + 33);
    await stillServes(key);
  });

  it("a mutation's fields through fragments count the same", async () => {
    const key = await freshKey();
    const before = await orders();
    const source = `mutation { ...A ... on Mutation { ${times(5, (i) => create(`b${i}: `))} } } fragment A on Mutation { ${times(5, (i) => create(`a${i}: `))} }`;
    const res = await post({ query: source }, key);
    expect(res.status).toBe(200);
    expect(await orders()).toBe(before + 10);
    expect(res.remaining).toBe(LIMIT - 10);
  });
});

describe('field duplication', () => {
  it('the same field hundreds of times is one field, bounded by the token limit', async () => {
    const res = await post({ query: `{ ${times(150, () => 'orders(first: 1) { totalCount }')} }` });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(Object.keys(res.body.data ?? {})).toStrictEqual(['orders']);
    const past = await post({ query: `{ ${times(1000, () => 'orders { totalCount }')} }` });
    expect(past.status).toBe(400);
    expect(past.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'tokens' });
    await stillServes();
  });
});

describe('directive overloading', () => {
  it.each([
    ['@include(if: true) × 51', `{ __typename ${'@include(if: true) '.repeat(51)}}`, 'directives'],
    ['@include(if: true) × 3,000', `{ __typename ${'@include(if: true) '.repeat(3000)}}`, 'tokens'],
    ['an unknown directive × 51', `{ __typename ${'@foo '.repeat(51)}}`, 'directives'],
  ])('%s is refused with QUERY_LIMIT_EXCEEDED', async (_name, source, limit) => {
    const res = await post({ query: source });
    expect(res.status).toBe(400);
    expect(res.body.errors?.map((error) => error.extensions?.limit)).toContain(limit);
    await stillServes();
  });
});

describe('fragments', () => {
  it.each([
    ['a fragment spreading itself', 'query { ...A } fragment A on Query { ...A }'],
    ['two fragments spreading each other', 'query { ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }'],
  ])('%s is a validation error, not a crash', async (_name, source) => {
    const res = await post({ query: source });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect(res.body.errors?.[0]?.message).toMatch(/Cannot spread fragment "A" within itself/);
    await stillServes();
  });

  it('fragments that expand to thousands of selections are refused as over the cost', async () => {
    const fragments = ['fragment F0 on Query { __typename }'];
    for (let i = 1; i <= 14; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    const res = await post({ query: `{ ...F14 } ${fragments.join(' ')}` });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED', limit: 'cost' });
    await stillServes();
  });
});

describe('huge variables', () => {
  const mutation = 'mutation($i: CreateOrderInput!) { createOrder(input: $i) { order { id } userErrors { code } } }';
  const wrongItems = (n: number) => ({ customerId: 'c', items: Array.from({ length: n }, () => ({ productId: 1, quantity: 'x', price: {} })), total: '1' });

  it('20,000 wrong items: at most 50 errors are made, once, and nothing is written', async () => {
    // graphql-js stops at 50 coercion errors; the cost check and graphql-jit made one for every
    // wrong value (60,000 here, each with its stack: seconds of CPU). Errors are counted by the
    // stacks captured while the gateway answers.
    const before = await orders();
    for (let round = 0; round < 3; round++) {
      const stacks = vi.spyOn(Error, 'captureStackTrace');
      try {
        const res = await post({ query: mutation, variables: { i: wrongItems(20_000) } });
        expect(res.status).toBe(400);
        // graphql-js's 50, and its note that it stopped there.
        expect(res.body.errors).toHaveLength(51);
        expect(res.body.errors?.[50]?.message).toMatch(/^Too many errors processing variables/);
        expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
        expect(stacks.mock.calls.length).toBeLessThan(1_000);
      } finally {
        stacks.mockRestore();
      }
    }
    expect(await orders()).toBe(before);
    await stillServes();
  });

  it('a variable list no operation defines is refused', async () => {
    const res = await post({ query: 'query($x: Int) { __typename }', variables: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`v${i}`, i])) });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
    await stillServes();
  });
});

describe('operations and batches', () => {
  it('many operations in one document: only the named one runs; without a name it is refused', async () => {
    const source = times(300, (i) => `query Q${i} { __typename }`);
    expect((await post({ query: source, operationName: 'Q7' })).body).toStrictEqual({ data: { __typename: 'Query' } });
    const unnamed = await post({ query: source });
    expect(unnamed.status).toBe(400);
    expect(unnamed.body.errors?.[0]?.extensions).toMatchObject({ code: 'OPERATION_RESOLUTION_FAILURE' });
  });

  it('a batched request (a JSON array) is refused and runs nothing', async () => {
    const before = await orders();
    const res = await post([{ query: `mutation { ${create()} }` }, { query: `mutation { ${create()} }` }]);
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.message).toMatch(/batching/);
    expect(await orders()).toBe(before);
    await stillServes();
  });
});

describe('what production tells a caller about the schema', () => {
  it('no introspection and no "Did you mean"', async () => {
    for (const source of ['{ __schema { types { name } } }', '{ __type(name: "Order") { name } }', '{ ...F } fragment F on Query { a: __schema { queryType { name } } }']) {
      const res = await post({ query: source });
      expect(res.status).toBe(400);
      expect(res.body.errors?.[0]?.message).toMatch(/introspection is not allowed/);
    }
    const typo = await post({ query: '{ ordr { id } orders(frist: 1) { totalCount } }' });
    expect(typo.status).toBe(400);
    expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean|"order"|first/);
    await stillServes();
  });

  it('very long tokens: a field name of 200,000 characters is refused without a suggestion', async () => {
    const res = await post({ query: `{ ${'x'.repeat(200_000)} }` });
    expect(res.status).toBe(400);
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect(res.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
    await stillServes();
  });
});
