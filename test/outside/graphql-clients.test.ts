/**
 * Stock GraphQL clients with their default settings against the live server
 * (issue 10): Apollo Client 4 (POST, `Accept: application/graphql-response+json`)
 * and urql 6 (queries as GET) create, read, page with fetchMore, update, and
 * read a 429's code and retry time. Only the bearer key is configured.
 * Each also runs a subscription through its own WebSocket link (graphql-ws).
 */
import type { AddressInfo } from 'node:net';
import {
  ApolloClient,
  CombinedGraphQLErrors,
  gql,
  HttpLink,
  InMemoryCache,
} from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { cacheExchange, Client, fetchExchange, gql as urqlGql, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { subscriptionsOverWebSocket } from '../support/apollo-links';
import { createTestApp, type TestApp } from '../support/app';

let t: TestApp;
let url: string;

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 40 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/graphql`;
});
afterAll(() => t?.close());

const CREATE = `mutation Create($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id orderNumber total status createdAt } userErrors { field message code } }
}`;
const READ = `query Read($id: ID!) { order(id: $id) { id orderNumber total status metadata } }`;
const PAGE = `query Page($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id orderNumber } }
    pageInfo { hasNextPage endCursor startCursor }
  }
}`;
const UPDATE = `mutation Update($id: ID!, $input: UpdateOrderInput!) {
  updateOrder(id: $id, input: $input) { order { id status trackingNumber } userErrors { field message code } }
}`;

const input = (customerId: string, price = '10.00') => ({
  customerId,
  items: [{ productId: 'p1', quantity: 2, price }],
  total: String(Number(price) * 2) + '.00',
});

interface Created {
  createOrder: {
    order: { id: string; orderNumber: string; total: string; status: string; createdAt: string } | null;
    userErrors: unknown[];
  };
}
interface Page {
  orders: {
    totalCount: number;
    edges: { cursor: string; node: { id: string } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/**
 * The ids of `made` in the list's order: newest first, then by id within one
 * millisecond (two creates can share one, and ids are not monotonic within it).
 */
function listOrder(made: { id: string; createdAt: string }[]): string[] {
  return [...made]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1))
    .map((order) => order.id);
}

/** A fresh workspace and key per client, so each has its own rate-limit bucket. */
async function freshKey(workspace: string): Promise<string> {
  return t.bearer(workspace);
}

describe('Apollo Client 4', () => {
  let client: ApolloClient;

  beforeAll(async () => {
    const authorization = await freshKey('apollo');
    client = new ApolloClient({
      link: new HttpLink({ uri: url, headers: { authorization } }),
      cache: new InMemoryCache({
        typePolicies: { Query: { fields: { orders: relayStylePagination(['filter']) } } },
      }),
    });
  });

  it('creates, reads, pages with fetchMore, updates', async () => {
    const ids: string[] = [];
    const made: { id: string; createdAt: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await client.mutate<Created>({
        mutation: gql(CREATE),
        variables: { input: input('apollo-c') },
      });
      expect(created.data?.createOrder.userErrors).toStrictEqual([]);
      ids.push(created.data!.createOrder.order!.id);
      made.push(created.data!.createOrder.order!);
    }

    const read = await client.query<{ order: { id: string; total: string; status: string } }>({
      query: gql(READ),
      variables: { id: ids[0] },
    });
    expect(read.data?.order).toMatchObject({ id: ids[0], total: '20.00', status: 'PENDING' });

    const watch = client.watchQuery<Page>({
      query: gql(PAGE),
      variables: { first: 2, filter: { customerId: 'apollo-c' } },
    });
    const subscription = watch.subscribe(() => undefined);
    const first = await firstValueFrom(watch.pipe(filter((result) => result.dataState === 'complete')));
    expect(first.data?.orders.edges).toHaveLength(2);
    expect(first.data?.orders.pageInfo.hasNextPage).toBe(true);
    await watch.fetchMore({ variables: { after: first.data.orders.pageInfo.endCursor } });
    // relayStylePagination keys the field by filter only, so the cached list now holds both pages.
    const merged = client.readQuery<Page>({
      query: gql(PAGE),
      variables: { first: 2, filter: { customerId: 'apollo-c' } },
    })!;
    expect(merged.orders.edges.map((edge) => edge.node.id)).toStrictEqual(listOrder(made));
    expect(merged.orders.pageInfo.hasNextPage).toBe(false);
    subscription.unsubscribe();

    const updated = await client.mutate<{
      updateOrder: { order: { status: string; trackingNumber: string } };
    }>({
      mutation: gql(UPDATE),
      variables: { id: ids[0], input: { status: 'PAID', trackingNumber: 'TRK-1' } },
    });
    expect(updated.data?.updateOrder.order).toMatchObject({ status: 'PAID', trackingNumber: 'TRK-1' });
  });

  it('reads RATE_LIMITED and the retry time from a 429', async () => {
    let error: unknown;
    for (let i = 0; i < 60 && !error; i++) {
      try {
        await client.query({ query: gql('query Ping { __typename }'), fetchPolicy: 'network-only' });
      } catch (caught) {
        error = caught;
      }
    }
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    const [first] = (error as CombinedGraphQLErrors).errors;
    expect(first?.extensions?.code).toBe('RATE_LIMITED');
    expect(first?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe('urql 6', () => {
  let client: Client;
  const requests: { method: string }[] = [];

  beforeAll(async () => {
    const authorization = await freshKey('urql');
    client = new Client({
      url,
      exchanges: [cacheExchange, fetchExchange],
      fetchOptions: { headers: { authorization } },
      // Only to see which method urql chose; the request goes out unchanged.
      fetch: (input, init) => {
        requests.push({ method: init?.method ?? 'GET' });
        return fetch(input, init);
      },
    });
  });

  it('creates, reads (queries go out as GET), pages, updates', async () => {
    const ids: string[] = [];
    const made: { id: string; createdAt: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await client
        .mutation<Created>(urqlGql(CREATE), { input: input('urql-c', '5.00') })
        .toPromise();
      expect(created.error).toBeUndefined();
      ids.push(created.data!.createOrder.order!.id);
      made.push(created.data!.createOrder.order!);
    }
    requests.length = 0;
    const read = await client.query(urqlGql(READ), { id: ids[1] }).toPromise();
    expect(read.error).toBeUndefined();
    expect(read.data.order).toMatchObject({ id: ids[1], total: '10.00' });
    expect(requests.map((request) => request.method)).toStrictEqual(['GET']);

    const first = await client
      .query<Page>(urqlGql(PAGE), { first: 2, filter: { customerId: 'urql-c' } })
      .toPromise();
    const rest = await client
      .query<Page>(urqlGql(PAGE), {
        first: 2,
        after: first.data!.orders.pageInfo.endCursor,
        filter: { customerId: 'urql-c' },
      })
      .toPromise();
    expect(
      [...first.data!.orders.edges, ...rest.data!.orders.edges].map((edge) => edge.node.id),
    ).toStrictEqual(listOrder(made));

    const updated = await client
      .mutation(urqlGql(UPDATE), { id: ids[1], input: { status: 'CANCELLED' } })
      .toPromise();
    expect(updated.error).toBeUndefined();
    expect(updated.data.updateOrder.order.status).toBe('CANCELLED');
  });

  it('reads RATE_LIMITED and the retry time from a 429', async () => {
    let result: Awaited<ReturnType<ReturnType<Client['query']>['toPromise']>> | undefined;
    for (let i = 0; i < 60; i++) {
      result = await client
        .query(urqlGql('query Ping { __typename }'), {}, { requestPolicy: 'network-only' })
        .toPromise();
      if (result.error) break;
    }
    const graphQLError = result?.error?.graphQLErrors[0];
    expect(graphQLError?.extensions.code).toBe('RATE_LIMITED');
    expect(graphQLError?.extensions.retryAfterSeconds).toBeGreaterThan(0);
  });
});

/** Subscriptions through each client's own WebSocket link, on graphql-ws, beside its HTTP link. */
describe('subscriptions with the stock WebSocket links', () => {
  const SUBSCRIBE = `subscription Changes { orderUpdated { id status total trackingNumber items { productId price } updatedAt } }`;
  const disposers: (() => unknown)[] = [];
  afterAll(async () => {
    for (const dispose of disposers) await dispose();
  });

  it('Apollo Client 4: GraphQLWsLink beside HttpLink hears an update made through the HttpLink', async () => {
    const authorization = await freshKey('apollo-ws');
    const wsClient = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization },
    });
    disposers.push(() => wsClient.dispose());
    const link = subscriptionsOverWebSocket(wsClient, new HttpLink({ uri: url, headers: { authorization } }));
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const heard: unknown[] = [];
    const errors: unknown[] = [];
    const subscription = client.subscribe({ query: gql(SUBSCRIBE) }).subscribe({
      next: (r) => (r.error ? errors.push(r.error) : heard.push(r.data)),
      error: (e) => errors.push(e),
    });
    disposers.push(() => subscription.unsubscribe());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const created = await client.mutate<Created>({
      mutation: gql(CREATE),
      variables: { input: input('apollo-ws') },
    });
    const id = created.data!.createOrder.order!.id;
    await client.mutate({
      mutation: gql(UPDATE),
      variables: { id, input: { status: 'PAID', trackingNumber: 'T1' } },
    });
    await expect.poll(() => heard.length, { timeout: 5_000 }).toBe(1);
    expect(errors).toStrictEqual([]);
    expect(heard).toMatchObject([
      {
        orderUpdated: {
          id,
          status: 'PAID',
          total: '20.00',
          trackingNumber: 'T1',
          items: [{ productId: 'p1', price: '10.00' }],
        },
      },
    ]);
  });

  it('urql 6: subscriptionExchange over graphql-ws', async () => {
    const authorization = await freshKey('urql-ws');
    const wsClient = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization },
    });
    disposers.push(() => wsClient.dispose());
    const client = new Client({
      url,
      fetchOptions: { headers: { authorization } },
      exchanges: [
        cacheExchange,
        fetchExchange,
        subscriptionExchange({
          forwardSubscription(request) {
            const input = { ...request, query: request.query || '' };
            return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink) }) };
          },
        }),
      ],
    });
    const heard: unknown[] = [];
    const { unsubscribe } = client
      .subscription(urqlGql(SUBSCRIBE), {})
      .subscribe((result) => heard.push(result.error ?? result.data));
    disposers.push(unsubscribe);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const created = await client.mutation<Created>(urqlGql(CREATE), { input: input('urql-ws') }).toPromise();
    const id = created.data!.createOrder.order!.id;
    await client.mutation(urqlGql(UPDATE), { id, input: { status: 'PAID' } }).toPromise();
    await expect.poll(() => heard.length, { timeout: 5_000 }).toBe(1);
    expect(heard).toMatchObject([
      { orderUpdated: { id, status: 'PAID', total: '20.00', items: [{ productId: 'p1', price: '10.00' }] } },
    ]);
  });
});
