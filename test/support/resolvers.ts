/**
 * Fakes and fixtures for resolver unit tests (README, "Testing resolvers"): the real schema, a
 * context whose services are plain objects, no HTTP and no database. Each fake service call is a
 * `vi.fn` answering with the fixtures below; override the calls a test is about.
 */
import { graphql, type GraphQLSchema } from 'graphql';
import { vi } from 'vitest';
import type { FeedEvent } from '../../src/events/order-feed';
import type { GraphQLContext, OrderOperations, WebhookOperations } from '../../src/graphql/context';
import type { Order, RequestContext } from '../../src/orders/order.types';
import type { CreatedWebhookEndpoint, WebhookDelivery } from '../../src/webhooks/webhook.service';

/** The caller's workspace, as authentication hands it to the resolvers. */
export const workspace: RequestContext = { workspaceId: 'ws_test', timeZone: 'UTC' };

/** An order as the service returns it. */
export const order: Order = {
  id: 'order_01HZX0000000000000000000AB',
  orderNumber: 'ORD-2025-0327-001',
  customerId: 'contact_abc123',
  status: 'pending',
  items: [{ productId: 'prod_001', name: 'Premium Widget', quantity: 2, price: '99.00', subtotal: '198.00' }],
  subtotal: '198.00',
  shipping: '0.00',
  tax: '0.00',
  total: '198.00',
  currency: 'USD',
  metadata: { channel: 'web' },
  statusHistory: [{ status: 'pending', timestamp: new Date('2025-03-27T15:00:00.000Z') }],
  createdAt: new Date('2025-03-27T15:00:00.000Z'),
  updatedAt: new Date('2025-03-27T15:00:00.000Z'),
  version: 1,
};

/** A webhook endpoint as the service creates it (the secret is shown once). */
export const endpoint: CreatedWebhookEndpoint = {
  id: 'whep_01HZX0000000000000000000AB',
  url: 'https://hooks.example.com/orders',
  events: ['order.created'],
  enabled: true,
  createdAt: new Date('2025-03-27T15:00:00.000Z'),
  secret: 'whsec_secret',
};

/** A failed delivery to `endpoint`, with its one attempt. */
export const delivery: WebhookDelivery = {
  id: 'whdl_0123456789abcdef0123456789abcdef',
  endpointId: endpoint.id,
  eventId: 'evt_1',
  eventType: 'order.created',
  status: 'failed',
  createdAt: new Date('2025-03-27T15:00:00.000Z'),
  attempts: [{ attemptedAt: new Date('2025-03-27T15:00:01.000Z'), statusCode: 500, durationMs: 12 }],
};

/** The order calls, each a `vi.fn` answering with `order`. */
export function fakeOrders(overrides: Partial<OrderOperations> = {}): OrderOperations {
  return {
    createOrderExactlyOnce: vi.fn(async () => ({ order, replayed: false })),
    getOrder: vi.fn(async () => order),
    getOrderByNumber: vi.fn(async () => order),
    findOrders: vi.fn(async () => ({ edges: [{ cursor: 'c1', order }], totalCount: 1, hasNextPage: false, hasPreviousPage: false })),
    updateOrder: vi.fn(async () => ({ ...order, status: 'paid' as const })),
    ...overrides,
  };
}

/** The webhook calls, each a `vi.fn` answering with `endpoint` and `delivery`. */
export function fakeWebhooks(overrides: Partial<WebhookOperations> = {}): WebhookOperations {
  return {
    createEndpoint: vi.fn(async () => endpoint),
    updateEndpoint: vi.fn(async () => ({ ...endpoint, enabled: false })),
    rotateSecret: vi.fn(async () => ({ ...endpoint, secret: 'whsec_new', previousSecretExpiresAt: new Date('2025-03-28T15:00:00.000Z') })),
    listEndpoints: vi.fn(async () => [endpoint]),
    getEndpoint: vi.fn(async () => endpoint),
    deleteEndpoint: vi.fn(async () => undefined),
    listDeliveries: vi.fn(async () => ({ edges: [{ cursor: 'd1', delivery }], hasNextPage: false, hasPreviousPage: false })),
    getDelivery: vi.fn(async () => delivery),
    redeliver: vi.fn(async () => ({ ...delivery, status: 'pending' as const })),
    ...overrides,
  };
}

/**
 * An order feed (the context's `feed`, which subscriptions read) that hands each subscription
 * `orders`, then ends. `asked` records each `iterate` call (its workspace and its event filter,
 * to try on events); `ended()` counts the iterators given back with `return()`.
 */
export function fakeFeed(orders: readonly Order[] = [order]) {
  const asked: { workspaceId: string; accept: (event: FeedEvent) => boolean }[] = [];
  let ended = 0;
  const feed: NonNullable<GraphQLContext['feed']> = {
    iterate(workspaceId, accept) {
      asked.push({ workspaceId, accept });
      let next = 0;
      // By hand rather than a generator: a generator not yet started skips its `finally` on return().
      const updates: AsyncIterableIterator<Order> = {
        next: async () => {
          const value = orders[next++];
          return value ? { value, done: false } : { value: undefined, done: true };
        },
        return: async () => {
          ended++;
          return { value: undefined, done: true };
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return updates;
    },
  };
  return { feed, asked, ended: () => ended };
}

/** A service the resolvers under test must not touch: any use throws, naming it. */
export function untouchable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: () => {
      throw new Error(`the resolvers under test must not use ${what}`);
    },
  });
}

/** A GraphQL answer as the JSON a client receives. */
export interface GraphQLAnswer {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read by shape in assertions
  data?: Record<string, any> | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

/**
 * Runs a document with graphql-js's `graphql()` on the schema and a context of these services.
 * No Apollo: a service error that becomes a top-level error has no `extensions.code` here (see
 * the README for asserting what a client gets).
 */
export async function runGraphQL(
  schema: GraphQLSchema,
  source: string,
  services: Partial<Pick<GraphQLContext, 'orders' | 'webhooks' | 'feed'>>,
  variableValues?: Record<string, unknown>,
): Promise<GraphQLAnswer> {
  const contextValue: GraphQLContext = {
    requestContext: workspace,
    orders: services.orders ?? untouchable<OrderOperations>('orders'),
    webhooks: services.webhooks ?? untouchable<WebhookOperations>('webhooks'),
    feed: services.feed,
  };
  const result = await graphql({ schema, source, contextValue, variableValues });
  // graphql-js builds null-prototype objects; compare them as the JSON a client receives.
  return JSON.parse(JSON.stringify(result)) as GraphQLAnswer;
}
