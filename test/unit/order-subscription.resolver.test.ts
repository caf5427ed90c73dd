/**
 * The subscription resolvers with a fake order feed: graphql-js's `subscribe`
 * on the real schema, no WebSocket, no events.
 */
import { type ExecutionResult, GraphQLError, type GraphQLSchema, parse, subscribe } from 'graphql';
import assert from 'node:assert/strict';
import { beforeAll, expect, it } from 'vitest';
import { AppError } from '../../src/errors/app-error';
import { type FeedEvent, SubscriberTooSlowError } from '../../src/events/order-feed';
import type { GraphQLContext, OrderOperations, WebhookOperations } from '../../src/graphql/context';
import { formatSubscriptionError } from '../../src/graphql/errors';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import type { Order, RequestContext } from '../../src/orders/order.types';
import { fakeFeed as fakeFeedOf } from '../support/resolvers';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGraphQLSchema();
});

const workspace: RequestContext = { workspaceId: 'ws_test', timeZone: 'UTC' };
const order = {
  id: 'order_01HZX0000000000000000000AB',
  orderNumber: 'ORD-2025-0327-001',
  customerId: 'c',
  status: 'paid',
  items: [],
  subtotal: '0.00',
  shipping: '0.00',
  tax: '0.00',
  total: '0.00',
  currency: 'USD',
  statusHistory: [],
  createdAt: new Date('2025-03-27T15:00:00.000Z'),
  updatedAt: new Date('2025-03-27T15:00:00.000Z'),
  version: 1,
} satisfies Order;

/** A feed that hands out this file's order once (see `fakeFeed` in test/support/resolvers.ts). */
const fakeFeed = () => fakeFeedOf([order]);

/** The service's lookup: the one order of the workspace, NOT_FOUND for any other id. */
const orders = {
  getOrder: async (_ctx: RequestContext, id: string) => {
    if (id !== order.id) throw AppError.notFound(`Order ${id}`);
    return order;
  },
} as unknown as OrderOperations;

async function firstOf(source: string, feed?: GraphQLContext['feed']) {
  const contextValue: GraphQLContext = { requestContext: workspace, orders, webhooks: {} as WebhookOperations, feed };
  const result = await subscribe({ schema, document: parse(source), contextValue });
  if (!(Symbol.asyncIterator in result)) return result;
  const first = await result.next();
  await result.return?.();
  return first.value as ExecutionResult;
}

const event = (type: string, orderId = order.id) => ({ type, orderId }) as FeedEvent;

it('orderCreated listens to the caller’s workspace only, and to order.created only', async () => {
  const { feed, asked } = fakeFeed();
  const result = await firstOf('subscription { orderCreated { id status } }', feed);
  expect(JSON.parse(JSON.stringify(result))).toStrictEqual({ data: { orderCreated: { id: order.id, status: 'PAID' } } });
  expect(asked.map((call) => call.workspaceId)).toStrictEqual([workspace.workspaceId]);
  const accept = asked[0]?.accept ?? (() => true);
  expect([accept(event('order.created')), accept(event('order.updated')), accept(event('order.status_changed'))]).toStrictEqual([true, false, false]);
});

it('orderUpdated(id) passes on that order’s order.updated events only', async () => {
  const { feed, asked } = fakeFeed();
  await firstOf(`subscription { orderUpdated(id: "${order.id}") { id } }`, feed);
  await firstOf('subscription { orderUpdated { id } }', feed);
  const [one, every] = asked.map((call) => call.accept);
  expect([one?.(event('order.updated')), one?.(event('order.updated', 'order_other')), one?.(event('order.created'))]).toStrictEqual([true, false, false]);
  expect([every?.(event('order.updated', 'order_other')), every?.(event('order.status_changed'))]).toStrictEqual([true, false]);
});

it('orderUpdated(id) of an order the workspace does not have is NOT_FOUND, and gives its feed back', async () => {
  const { feed, ended } = fakeFeed();
  const result = await firstOf('subscription { orderUpdated(id: "order_01HZX0000000000000000000ZZ") { id } }', feed);
  expect(result.data).toBeUndefined();
  expect(result.errors?.map((error) => [error.message, (error.originalError as AppError).code])).toStrictEqual([
    ['Order order_01HZX0000000000000000000ZZ not found', 'NOT_FOUND'],
  ]);
  expect(ended()).toBe(1);
});

it('without a feed (not over WebSocket) is an error, not a silent empty stream', async () => {
  const result = await firstOf('subscription { orderCreated { id } }');
  expect(result.errors?.[0]?.message).toBe('subscriptions run over WebSocket only');
});

it('what the client gets over WebSocket for NOT_FOUND: formatSubscriptionError, the server’s own mapping', async () => {
  const { feed } = fakeFeed();
  const result = await firstOf('subscription { orderUpdated(id: "order_01HZX0000000000000000000ZZ") { id } }', feed);
  expect(result.errors?.map((error) => formatSubscriptionError(error))).toStrictEqual([
    {
      message: 'Order order_01HZX0000000000000000000ZZ not found',
      locations: [{ line: 1, column: 16 }],
      path: ['orderUpdated'],
      extensions: { code: 'NOT_FOUND' },
    },
  ]);
});

it('a subscriber that fell behind gets SUBSCRIBER_TOO_SLOW, as graphql-ws wraps the feed’s error', async () => {
  const tooSlow = new SubscriberTooSlowError(1000);
  const feed: NonNullable<GraphQLContext['feed']> = {
    iterate: () => ({
      next: () => Promise.reject(tooSlow),
      return: async () => ({ value: undefined, done: true }),
      [Symbol.asyncIterator]() {
        return this;
      },
    }),
  };
  const contextValue: GraphQLContext = { requestContext: workspace, orders, webhooks: {} as WebhookOperations, feed };
  const result = await subscribe({ schema, document: parse('subscription { orderCreated { id } }'), contextValue });
  assert(Symbol.asyncIterator in result);
  const thrown: unknown = await result.next().catch((error: unknown) => error);
  expect(thrown).toBe(tooSlow);
  // graphql-ws sends an iterator's failure as an `error` message made of this GraphQLError.
  expect(formatSubscriptionError(new GraphQLError(tooSlow.message, { originalError: tooSlow }))).toStrictEqual({
    message: tooSlow.message,
    extensions: { code: 'SUBSCRIBER_TOO_SLOW' },
  });
});
