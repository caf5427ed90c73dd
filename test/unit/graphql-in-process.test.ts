/**
 * The whole GraphQL layer in one process, without HTTP or a database: the
 * Apollo server `registerGraphQL` builds, run with `executeOperation` and a
 * context made here. The first test is the README's "Testing resolvers"
 * recipe, word for word (a test below holds the two together).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config';
import { AppError, ErrorCode } from '../../src/errors/app-error';
import type { GraphQLContext, OrderOperations, WebhookOperations } from '../../src/graphql/context';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { registerGraphQL } from '../../src/graphql/server';
import type { RequestContext } from '../../src/orders/order.types';
import { graphqlLimits, graphqlProtection } from '../../src/security/graphql-armor';

const workspace: RequestContext = { workspaceId: 'ws_test', timeZone: 'UTC' };
/** Fakes: only the calls a test makes need to exist. */
const orders = {
  getOrder: async () => {
    throw new Error('connection to the database was lost');
  },
  // As the service throws it (order-status.ts): the refused move names the status field.
  updateOrder: async () => {
    const message = 'Cannot move the order from delivered to pending: delivered is final';
    throw new AppError(ErrorCode.INVALID_STATUS_TRANSITION, message, [{ path: ['status'], message }]);
  },
  findOrders: async () => {
    throw new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The database is not reachable', [], 2);
  },
} as Partial<OrderOperations> as OrderOperations;
const webhooks = {} as WebhookOperations;

it('runs an operation through Apollo with a context of its own (the README recipe)', async () => {
  // recipe begin
  const schema = await buildGraphQLSchema(); // ~30 ms: once per file is plenty
  const app = Fastify(); // never listens
  const protection = graphqlProtection(graphqlLimits(loadConfig({}))); // the default query limits, as a client meets them
  const apollo = await registerGraphQL(app, { schema, orders, webhooks, authenticate: async () => workspace, introspection: false, protection });
  const contextValue: GraphQLContext = { requestContext: workspace, orders, webhooks };
  const response = await apollo.executeOperation({ query: '{ order(id: "order_x") { id } }' }, { contextValue });
  assert(response.body.kind === 'single');
  // formatError ran: the failure is masked, as a client sees it.
  expect(response.body.singleResult.errors?.[0]).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_ERROR' } });
  await apollo.stop();
  await app.close();
  // recipe end
});

/** One Apollo server for the tests below, as the recipe builds it. */
async function withApollo(test: (run: (query: string) => Promise<{ status?: number; result: Record<string, unknown> }>) => Promise<void>) {
  const app = Fastify();
  const apollo = await registerGraphQL(app, {
    schema: await buildGraphQLSchema(),
    orders,
    webhooks,
    authenticate: async () => workspace,
    introspection: false,
    protection: graphqlProtection(graphqlLimits(loadConfig({}))),
  });
  const contextValue: GraphQLContext = { requestContext: workspace, orders, webhooks };
  try {
    await test(async (query) => {
      const response = await apollo.executeOperation({ query }, { contextValue });
      assert(response.body.kind === 'single');
      return { status: response.http.status, result: JSON.parse(JSON.stringify(response.body.singleResult)) as Record<string, unknown> };
    });
  } finally {
    await apollo.stop();
    await app.close();
  }
}

it('gives a service error its stable code and the HTTP status a client would get', async () => {
  await withApollo(async (run) => {
    const down = await run('{ orders { totalCount } }');
    expect(down.status).toBe(503);
    expect(down.result).toMatchObject({
      data: null,
      errors: [{ message: 'The database is not reachable', path: ['orders'], extensions: { code: 'SERVICE_UNAVAILABLE' } }],
    });

    const refused = await run('mutation { updateOrder(id: "order_x", input: { status: PENDING }) { order { id } userErrors { field code message } } }');
    expect(refused.result).toStrictEqual({
      data: {
        updateOrder: {
          order: null,
          userErrors: [
            { field: ['input', 'status'], code: 'INVALID_STATUS_TRANSITION', message: 'Cannot move the order from delivered to pending: delivered is final' },
          ],
        },
      },
    });
  });
});

it('tells a client when to retry as the service said, in Retry-After and extensions.retryAfterSeconds, as REST does', async () => {
  // The workspace's create queue is full: the service asks for a retry in 1 s (REST: 503, Retry-After: 1).
  const busy = new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'Too many creates in this workspace at once; retry shortly', [], 1);
  const gated = { ...orders, createOrderExactlyOnce: async () => Promise.reject(busy) } as OrderOperations;
  const app = Fastify();
  const apollo = await registerGraphQL(app, { schema: await buildGraphQLSchema(), orders: gated, webhooks, authenticate: async () => workspace, introspection: false });
  try {
    const response = await apollo.executeOperation(
      { query: 'mutation { createOrder(input: { customerId: "c", items: [], total: "1" }) { order { id } } }' },
      { contextValue: { requestContext: workspace, orders: gated, webhooks } },
    );
    assert(response.body.kind === 'single');
    expect(response.http.status).toBe(503);
    expect(response.http.headers.get('retry-after')).toBe('1');
    expect(response.body.singleResult.errors?.[0]?.extensions).toStrictEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 1 });
  } finally {
    await apollo.stop();
    await app.close();
  }
});

it('applies the query limits a client meets: a page of 100 orders with their items is over the cost limit', async () => {
  await withApollo(async (run) => {
    const heavy = await run('{ orders(first: 100) { edges { node { id items { productId name quantity price sku subtotal } } } } }');
    expect(heavy.status).toBe(400);
    expect(heavy.result).toStrictEqual({
      errors: [{ message: expect.stringMatching(/^Query cost limit of 50000 exceeded, found \d+\.$/), extensions: { code: 'QUERY_LIMIT_EXCEEDED', limit: 'cost' } }],
    });
  });
});

it('refuses a subscription, which runs over WebSocket only', async () => {
  await withApollo(async (run) => {
    const refused = await run('subscription { orderCreated { id } }');
    expect(refused.status).toBe(400);
    expect(refused.result).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });
});

it('the README shows the recipe exactly as the first test runs it', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Testing resolvers'));
  const shown = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  const source = fs.readFileSync(__filename, 'utf8');
  const ran = /\/\/ recipe begin\n([\s\S]*?)\s*\/\/ recipe end/.exec(source)?.[1];
  const dedent = (text: string | undefined) => (text ?? '').split('\n').map((line) => line.replace(/^ {2}/, '')).join('\n').trim();
  expect(shown).toBeDefined();
  expect(dedent(shown)).toBe(dedent(ran));
});
