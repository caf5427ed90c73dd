/**
 * A front end's normalized caches against the live gateway: Apollo Client's
 * InMemoryCache (relayStylePagination, possibleTypes from the committed
 * schema.graphql) and urql's graphcache (with the schema's introspection).
 * After each mutation or subscription event the cache alone (no refetch) must
 * show what a fresh read from the server shows: the same Order entity for a
 * list, a single query and node(id:), with its status, totals, version,
 * updatedAt, items and history (a subscription delivery's createdAt and
 * history times to the second, as the README says). A retried create replays
 * the order as created (orders-api.md §6); the cache refetches on `replayed`.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { Client, fetchExchange, gql as urqlGql, subscriptionExchange } from '@urql/core';
import { cacheExchange as graphcache } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { buildSchema, introspectionFromSchema, isInterfaceType } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { subscriptionsOverWebSocket } from '../support/apollo-links';
import { createTestApp, type TestApp } from '../support/app';

const schema = buildSchema(fs.readFileSync(path.resolve(__dirname, '../../schema.graphql'), 'utf8'));

/** possibleTypes as Apollo's docs generate them: every interface and its implementations. */
const possibleTypes: Record<string, string[]> = {};
for (const type of Object.values(schema.getTypeMap()))
  if (isInterfaceType(type)) possibleTypes[type.name] = schema.getPossibleTypes(type).map((t) => t.name);

let t: TestApp;
let url: string;
const disposers: (() => unknown)[] = [];

beforeAll(async () => {
  t = await createTestApp();
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => {
  for (const dispose of disposers.reverse()) await dispose();
  await t?.close();
});

const ORDER_FIELDS = `id __typename orderNumber status subtotal shipping tax total currency version createdAt updatedAt
  trackingNumber notes metadata items { __typename productId quantity price subtotal } statusHistory { __typename status timestamp }`;
const CREATE = `mutation Create($input: CreateOrderInput!, $idempotencyKey: String) {
  createOrder(input: $input, idempotencyKey: $idempotencyKey) { order { ${ORDER_FIELDS} } replayed userErrors { field message code } } }`;
const UPDATE = `mutation Update($id: ID!, $input: UpdateOrderInput!, $expectedVersion: Int) {
  updateOrder(id: $id, input: $input, expectedVersion: $expectedVersion) {
    order { ${ORDER_FIELDS} } userErrors { field message code } } }`;
const READ = `query Read($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
const NODE = `query Node($id: ID!) { node(id: $id) { id ... on Order { status version updatedAt total } } }`;
const LIST = `query List($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id status total version updatedAt } } pageInfo { hasNextPage endCursor } } }`;
const SUBSCRIBE = `subscription Changes { orderUpdated { ${ORDER_FIELDS} } }`;

const input = (customerId: string) => ({
  customerId,
  items: [{ productId: 'p1', quantity: 2, price: '10.00' }],
  shipping: '1.50',
  total: '21.50',
  metadata: { source: 'cache-test' },
});

type OrderData = Record<string, unknown> & { id: string; status: string; version: number };

/** A fresh read, past every cache: what the server holds. */
async function serverOrder(authorization: string, id: string): Promise<OrderData> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ query: READ, variables: { id } }),
  });
  const body = (await response.json()) as { data: { order: OrderData } };
  return body.data.order;
}

/**
 * An order as a subscription delivery gives it: `createdAt` and the `statusHistory` times come
 * from the event's REST order, to the second (README, Subscriptions); every other field is exact.
 */
function toTheSecond(order: OrderData): OrderData {
  const second = (time: string) => time.replace(/\.\d{3}Z$/, '.000Z');
  return {
    ...order,
    createdAt: second(order.createdAt as string),
    statusHistory: (order.statusHistory as { timestamp: string }[]).map((entry) => ({
      ...entry,
      timestamp: second(entry.timestamp),
    })),
  };
}

function wsLink(authorization: string) {
  const wsClient = createClient({
    url: url.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
  });
  disposers.push(() => wsClient.dispose());
  return wsClient;
}

describe('Apollo Client InMemoryCache', () => {
  let authorization: string;
  let client: ApolloClient;

  beforeAll(async () => {
    authorization = await t.bearer('apollo-cache');
    const ws = wsLink(authorization);
    const link = subscriptionsOverWebSocket(ws, new HttpLink({ uri: url, headers: { authorization } }));
    client = new ApolloClient({
      link,
      cache: new InMemoryCache({
        possibleTypes,
        typePolicies: {
          Query: {
            fields: {
              orders: relayStylePagination(['filter']),
              // The cache redirect Apollo's docs give: order(id) is the Order entity with that id.
              order: {
                read: (_, { args, toReference }) =>
                  toReference({ __typename: 'Order', id: args?.id as string }),
              },
            },
          },
        },
      }),
    });
  });

  const readCached = (id: string) =>
    client.readQuery<{ order: OrderData }>({ query: gql(READ), variables: { id } })?.order;

  it('each mutation leaves the list, order(id) and node(id) showing the server’s order, without a refetch', async () => {
    const created = await client.mutate<{ createOrder: { order: OrderData } }>({
      mutation: gql(CREATE),
      variables: { input: input('apollo-c') },
    });
    const id = created.data!.createOrder.order.id;
    expect(created.data!.createOrder.order).toMatchObject({
      __typename: 'Order',
      status: 'PENDING',
      version: 1,
    });
    // The create's answer alone fills order(id): a cache-only read is complete and is the server's order.
    expect(readCached(id)).toStrictEqual(await serverOrder(authorization, id));

    await client.query({ query: gql(LIST), variables: { first: 10, filter: { customerId: 'apollo-c' } } });
    await client.query({ query: gql(NODE), variables: { id } });

    for (const [change, status] of [
      [{ status: 'PAID' }, 'PAID'],
      [{ status: 'PROCESSING', notes: 'packing', metadata: { gift: true } }, 'PROCESSING'],
      [{ status: 'CANCELLED' }, 'CANCELLED'],
    ] as const) {
      const before = readCached(id)!;
      const updated = await client.mutate<{ updateOrder: { order: OrderData; userErrors: unknown[] } }>({
        mutation: gql(UPDATE),
        variables: { id, input: change, expectedVersion: before.version },
      });
      expect(updated.data!.updateOrder.userErrors).toStrictEqual([]);
      const server = await serverOrder(authorization, id);
      expect(server).toMatchObject({ status, version: before.version + 1 });
      expect(readCached(id)).toStrictEqual(server);
      const list = client.readQuery<{ orders: { edges: { node: OrderData }[] } }>({
        query: gql(LIST),
        variables: { first: 10, filter: { customerId: 'apollo-c' } },
      })!;
      expect(list.orders.edges.map((edge) => edge.node)).toStrictEqual([
        {
          __typename: 'Order',
          id,
          status,
          total: '21.50',
          version: server.version,
          updatedAt: server.updatedAt,
        },
      ]);
      const node = client.readQuery<{ node: OrderData }>({ query: gql(NODE), variables: { id } })!;
      expect(node.node).toStrictEqual({
        __typename: 'Order',
        id,
        status,
        version: server.version,
        updatedAt: server.updatedAt,
        total: '21.50',
      });
    }
  });

  it('a refused update comes back as userErrors beside a null order and leaves the cached order as it was', async () => {
    const created = await client.mutate<{ createOrder: { order: OrderData } }>({
      mutation: gql(CREATE),
      variables: { input: input('apollo-r') },
    });
    const id = created.data!.createOrder.order.id;
    const cached = readCached(id);
    const refused = await client.mutate<{
      updateOrder: { order: OrderData | null; userErrors: { code: string }[] };
    }>({
      mutation: gql(UPDATE),
      variables: { id, input: { status: 'DELIVERED' } },
    });
    expect(refused.error).toBeUndefined();
    expect(refused.data!.updateOrder.order).toBeNull();
    expect(refused.data!.updateOrder.userErrors.map((error) => error.code)).toStrictEqual([
      'INVALID_STATUS_TRANSITION',
    ]);
    expect(readCached(id)).toStrictEqual(cached);
  });

  it('a retried create (same idempotencyKey) replays the order as created, as the contract asks; a refetch on replayed: true brings the cache back to the server’s order', async () => {
    const variables = { input: input('apollo-k'), idempotencyKey: 'retry-after-timeout' };
    const created = await client.mutate<{ createOrder: { order: OrderData } }>({
      mutation: gql(CREATE),
      variables,
    });
    const id = created.data!.createOrder.order.id;
    await client.mutate({ mutation: gql(UPDATE), variables: { id, input: { status: 'PAID' } } });
    expect(readCached(id)).toMatchObject({ status: 'PAID', version: 2 });
    // The client retries the create (its first answer was lost, a double submit): the same order, as created.
    const replay = await client.mutate<{ createOrder: { order: OrderData; replayed: boolean } }>({
      mutation: gql(CREATE),
      variables,
    });
    expect(replay.data!.createOrder).toMatchObject({ replayed: true, order: { id, status: 'PENDING', version: 1 } });
    expect(readCached(id)).toMatchObject({ status: 'PENDING', version: 1 });
    // What the README tells a cache to do on replayed: true.
    await client.query({ query: gql(READ), variables: { id }, fetchPolicy: 'network-only' });
    const server = await serverOrder(authorization, id);
    expect(server).toMatchObject({ status: 'PAID', version: 2 });
    expect(readCached(id)).toStrictEqual(server);
  });

  it('an orderUpdated event leaves the cached order equal to the server’s, createdAt and statusHistory to the second', async () => {
    const heard: OrderData[] = [];
    const subscription = client.subscribe<{ orderUpdated: OrderData }>({ query: gql(SUBSCRIBE) }).subscribe({
      next: (result) => {
        if (result.data) heard.push(result.data.orderUpdated);
      },
    });
    disposers.push(() => subscription.unsubscribe());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const created = await client.mutate<{ createOrder: { order: OrderData } }>({
      mutation: gql(CREATE),
      variables: { input: input('apollo-s') },
    });
    const id = created.data!.createOrder.order.id;
    // Another tab (plain HTTP, past this cache) moves the order; only the subscription tells this cache.
    await fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: UPDATE,
        variables: { id, input: { status: 'PAID', trackingNumber: 'T-1' } },
      }),
    });
    // Events of this workspace's earlier orders may still be on their way: wait for this one's.
    await expect
      .poll(() => heard.some((order) => order.id === id && order.version === 2), { timeout: 10_000 })
      .toBe(true);
    expect(readCached(id)).toStrictEqual(toTheSecond(await serverOrder(authorization, id)));
  });
});

describe('urql graphcache', () => {
  let authorization: string;
  let client: Client;

  beforeAll(async () => {
    authorization = await t.bearer('urql-cache');
    const ws = wsLink(authorization);
    client = new Client({
      url,
      fetchOptions: { headers: { authorization } },
      preferGetMethod: false,
      exchanges: [
        graphcache({
          schema: introspectionFromSchema(schema),
          resolvers: {
            Query: {
              orders: relayPagination(),
              // graphcache's cache redirect: order(id) is the Order entity with that id.
              order: (_, args) => ({ __typename: 'Order', id: args.id as string }),
            },
          },
        }),
        fetchExchange,
        subscriptionExchange({
          forwardSubscription(request) {
            const operation = { ...request, query: request.query || '' };
            return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(operation, sink) }) };
          },
        }),
      ],
    });
  });

  const cacheOnly = async (query: string, variables: Record<string, unknown>) => {
    const result = await client.query(urqlGql(query), variables, { requestPolicy: 'cache-only' }).toPromise();
    expect(result.error).toBeUndefined();
    return result.data as Record<string, OrderData & { edges: { node: OrderData }[] }>;
  };

  it('mutations update order(id), node(id) and the list in the cache; the subscription does too', async () => {
    const created = await client.mutation(urqlGql(CREATE), { input: input('urql-c') }).toPromise();
    expect(created.error).toBeUndefined();
    const id = (created.data as { createOrder: { order: OrderData } }).createOrder.order.id;
    expect((await cacheOnly(READ, { id })).order).toStrictEqual(await serverOrder(authorization, id));

    await client.query(urqlGql(LIST), { first: 10, filter: { customerId: 'urql-c' } }).toPromise();
    await client.query(urqlGql(NODE), { id }).toPromise();

    const updated = await client
      .mutation(urqlGql(UPDATE), { id, input: { status: 'PAID', notes: 'n' } })
      .toPromise();
    expect(updated.error).toBeUndefined();
    let server = await serverOrder(authorization, id);
    expect((await cacheOnly(READ, { id })).order).toStrictEqual(server);
    expect((await cacheOnly(NODE, { id })).node).toMatchObject({ id, status: 'PAID', version: 2 });
    const list = await cacheOnly(LIST, { first: 10, filter: { customerId: 'urql-c' } });
    expect(list.orders.edges.map((edge) => edge.node)).toMatchObject([{ id, status: 'PAID', version: 2 }]);

    const heard: unknown[] = [];
    const { unsubscribe } = client.subscription(urqlGql(SUBSCRIBE), {}).subscribe((result) => {
      heard.push(result.error ?? result.data);
    });
    disposers.push(unsubscribe);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ query: UPDATE, variables: { id, input: { status: 'CANCELLED' } } }),
    });
    // The PAID event may arrive after the subscription opened: wait for the CANCELLED one.
    await expect
      .poll(
        () => heard.some((event) => (event as { orderUpdated?: OrderData }).orderUpdated?.version === 3),
        { timeout: 10_000 },
      )
      .toBe(true);
    server = await serverOrder(authorization, id);
    expect(server).toMatchObject({ status: 'CANCELLED', version: 3 });
    expect((await cacheOnly(READ, { id })).order).toStrictEqual(toTheSecond(server));
  });
});
