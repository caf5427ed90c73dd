/**
 * Trusted documents, as a platform team that lets only known operations reach production runs
 * them: the client's operations (test/fixtures/trusted-documents/operations.ts) go through
 * Apollo's own generator (`@apollo/generate-persisted-query-manifest`) into a persisted query
 * manifest, GRAPHQL_TRUSTED_DOCUMENTS names it, and the gateway runs only its documents.
 * Apollo Client 4 sends them by id with PersistedQueryLink and `@apollo/persisted-query-lists`'
 * `generatePersistedQueryIdsFromManifest` (no text ever leaves the client), and its subscriptions
 * through GraphQLWsLink; raw requests show the refusals: any other text, over POST, GET or
 * WebSocket, is 400 PERSISTED_QUERY_NOT_IN_LIST before it is parsed, runs nothing and registers
 * nothing. Introspection (the playground's schema) follows INTROSPECTION. Without the setting,
 * the same unlisted document runs as before.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApolloClient, CombinedGraphQLErrors, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { generatePersistedQueryManifest } from '@apollo/generate-persisted-query-manifest';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import { getIntrospectionQuery } from 'graphql';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/config';
import { subscriptionsOverWebSocket } from '../support/apollo-links';
import { createTestApp, type TestApp } from '../support/app';
import { appOnSameDatabase, type ExtraApp } from '../support/more-apps';
import {
  CREATE_ORDER,
  ORDER_BY_ID,
  ORDER_UPDATED,
  ORDERS_OF_CUSTOMER,
  UPDATE_ORDER,
} from '../fixtures/trusted-documents/operations';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/trusted-documents');
const MANIFEST_PATH = path.join(FIXTURES, 'persisted-query-manifest.json');
interface Manifest {
  format: string;
  version: number;
  operations: { id: string; name: string; type: string; body: string }[];
}
const manifest = JSON.parse(fs.readFileSync(MANIFEST_PATH, 'utf8')) as Manifest;
const listed = (name: string) => manifest.operations.find((operation) => operation.name === name)!;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A query the client never shipped: the kind of document the list keeps out. */
const UNLISTED = 'query Harvest { orders(first: 50) { totalCount edges { node { id customerId total } } } }';
const UNLISTED_MUTATION = `mutation Sneak { createOrder(input: {customerId: "sneak", items: [{productId: "p1", quantity: 1, price: "1.00"}], total: "1.00"}) { order { id } } }`;
const INTROSPECTION = '{ __schema { queryType { name } } }';
const input = (customerId: string) => ({
  customerId,
  items: [{ productId: 'p1', quantity: 2, price: '10.00' }],
  total: '20.00',
});

/** What each HTTP request of a client carried, and how it was answered. */
interface Sent {
  method: string;
  text: boolean;
  hash?: string;
  status: number;
  code?: string;
}
function recordingFetch(sent: Sent[]): typeof fetch {
  return async (resource, init) => {
    const url = new URL(String(resource instanceof Request ? resource.url : resource));
    const method = init?.method ?? 'GET';
    const body = (
      method === 'GET'
        ? {
            query: url.searchParams.get('query') ?? undefined,
            extensions: JSON.parse(url.searchParams.get('extensions') ?? '{}'),
          }
        : JSON.parse(init?.body as string)
    ) as { query?: string; extensions?: { persistedQuery?: { sha256Hash?: string } } };
    const response = await fetch(url, init);
    const answer = (await response.clone().json()) as { errors?: { extensions?: { code?: string } }[] };
    sent.push({
      method,
      text: typeof body.query === 'string' && body.query !== '',
      hash: body.extensions?.persistedQuery?.sha256Hash,
      status: response.status,
      code: answer.errors?.[0]?.extensions?.code,
    });
    return response;
  };
}

const listen = async (app: { http: { listen(o: object): Promise<unknown>; server: { address(): unknown } } }) => {
  await app.http.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}/graphql`;
};

/** The platform's setting: the manifest, in production (introspection off). */
let trusted: TestApp;
let url: string;
/** The same list with INTROSPECTION on (a development gateway with the playground). */
let withIntrospection: ExtraApp;
let introspectionUrl: string;
/** No list: as every gateway ran before. */
let open: ExtraApp;
let openUrl: string;
let authorization: string;
const wsClients: WsClient[] = [];

beforeAll(async () => {
  trusted = await createTestApp({ graphqlTrustedDocuments: MANIFEST_PATH, introspection: false, rateLimitPerMinute: 1000 });
  url = await listen(trusted.app);
  withIntrospection = await appOnSameDatabase(trusted.app.db, {
    graphqlTrustedDocuments: MANIFEST_PATH,
    introspection: true,
    rateLimitPerMinute: 1000,
  });
  introspectionUrl = await listen(withIntrospection.app);
  open = await appOnSameDatabase(trusted.app.db, { introspection: false, rateLimitPerMinute: 1000 });
  openUrl = await listen(open.app);
  authorization = await trusted.bearer('trusted-docs');
});
afterAll(async () => {
  for (const client of wsClients) await client.dispose();
  await open?.close();
  await withIntrospection?.close();
  await trusted?.close();
});

/** A GraphQL answer, as much of it as the checks read. */
interface Answer {
  data?: { orders: { totalCount: number }; createOrder: { order: { id: string } } };
  errors: { message: string; extensions: { code: string } }[];
}
const answer = async (response: Response) => (await response.json()) as Answer;
const post = (target: string, body: unknown, accept = 'application/graphql-response+json, application/json;q=0.9') =>
  fetch(target, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
  });
const getWith = (target: string, params: Record<string, string>) =>
  fetch(`${target}?${new URLSearchParams(params).toString()}`, { headers: { authorization } });
describe('the manifest, from the client code by Apollo’s generator', () => {
  it('is what @apollo/generate-persisted-query-manifest writes from the fixture’s operations today', async () => {
    const configPath = path.join(FIXTURES, 'persisted-query-manifest.config.json');
    const config = JSON.parse(fs.readFileSync(configPath, 'utf8')) as { documents: string[] };
    const cwd = process.cwd();
    let generated: Manifest;
    try {
      process.chdir(ROOT); // the config's globs are the repository's paths, as the CLI reads them
      generated = await generatePersistedQueryManifest(config, configPath);
    } finally {
      process.chdir(cwd);
    }
    expect(generated).toStrictEqual(manifest);
    expect(manifest.format).toBe('apollo-persisted-query-manifest');
    expect(manifest.operations.map((operation) => [operation.name, operation.type]).sort()).toStrictEqual([
      ['TrustedCreateOrder', 'mutation'],
      ['TrustedOrderById', 'query'],
      ['TrustedOrderUpdated', 'subscription'],
      ['TrustedOrdersOfCustomer', 'query'],
      ['TrustedUpdateOrder', 'mutation'],
    ]);
    // Apollo's ids are the SHA-256 of each body, which is what the gateway checks a text against.
    for (const operation of manifest.operations) expect(operation.id).toBe(sha256(operation.body));
  });

  it('refuses to start on a file that is not such a manifest, naming the variable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trusted-'));
    const wrong = path.join(dir, 'list.json');
    fs.writeFileSync(wrong, JSON.stringify({ operations: { a: 'query { __typename }' } }));
    await expect(
      appOnSameDatabase(trusted.app.db, { graphqlTrustedDocuments: wrong }),
    ).rejects.toThrow(/^GRAPHQL_TRUSTED_DOCUMENTS \(.*list\.json\) is not a persisted query manifest/);
    await expect(
      appOnSameDatabase(trusted.app.db, { graphqlTrustedDocuments: path.join(dir, 'missing.json') }),
    ).rejects.toThrow(/^GRAPHQL_TRUSTED_DOCUMENTS \(.*missing\.json\) cannot be read as JSON/);
    fs.rmSync(dir, { recursive: true });
    expect(loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: MANIFEST_PATH }).graphqlTrustedDocuments).toBe(MANIFEST_PATH);
    expect(loadConfig({}).graphqlTrustedDocuments).toBeUndefined();
  });
});

describe('Apollo Client 4 with PersistedQueryLink and the manifest’s ids', () => {
  const client = (sent: Sent[], options: { useGETForHashedQueries?: boolean } = {}) =>
    new ApolloClient({
      link: new PersistedQueryLink({
        ...generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }),
        ...options,
      }).concat(new HttpLink({ uri: url, headers: { authorization }, fetch: recordingFetch(sent) })),
      cache: new InMemoryCache(),
      defaultOptions: { query: { fetchPolicy: 'network-only' } },
    });

  it('creates, reads and lists orders sending only each operation’s id, never its text', async () => {
    const sent: Sent[] = [];
    const apollo = client(sent, { useGETForHashedQueries: true });
    const created = await apollo.mutate({ mutation: CREATE_ORDER, variables: { input: input('pq-apollo') } });
    const order = (created.data as { createOrder: { order: { id: string; orderNumber: string; total: string } } })
      .createOrder.order;
    expect(order).toMatchObject({ total: '20.00', orderNumber: expect.any(String) });
    const read = await apollo.query({ query: ORDER_BY_ID, variables: { id: order.id } });
    expect(read.data).toMatchObject({ order: { id: order.id, total: '20.00', status: 'PENDING' } });
    const list = await apollo.query({ query: ORDERS_OF_CUSTOMER, variables: { customerId: 'pq-apollo' } });
    expect(list.data).toMatchObject({ orders: { totalCount: 1, edges: [{ node: { id: order.id } }] } });
    expect(sent).toStrictEqual([
      { method: 'POST', text: false, hash: listed('TrustedCreateOrder').id, status: 200, code: undefined },
      { method: 'GET', text: false, hash: listed('TrustedOrderById').id, status: 200, code: undefined },
      { method: 'GET', text: false, hash: listed('TrustedOrdersOfCustomer').id, status: 200, code: undefined },
    ]);
  });

  it('a document outside the list: the id misses, the text that follows is refused with PERSISTED_QUERY_NOT_IN_LIST and 400', async () => {
    const sent: Sent[] = [];
    // The stock APQ link (hash of the printed text): Apollo Client sends the text after the miss.
    const apollo = new ApolloClient({
      link: new PersistedQueryLink({ sha256 }).concat(
        new HttpLink({ uri: url, headers: { authorization }, fetch: recordingFetch(sent) }),
      ),
      cache: new InMemoryCache(),
    });
    const error = await apollo.query({ query: gql(UNLISTED), fetchPolicy: 'network-only' }).then(
      (result) => result.error,
      (thrown: unknown) => thrown,
    );
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect((error as CombinedGraphQLErrors).errors).toStrictEqual([
      {
        message: expect.stringMatching(/not in the list of trusted documents .*GRAPHQL_TRUSTED_DOCUMENTS/),
        extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' },
      },
    ]);
    expect(sent.map(({ text, status, code }) => ({ text, status, code }))).toStrictEqual([
      { text: false, status: 200, code: 'PERSISTED_QUERY_NOT_FOUND' },
      { text: true, status: 400, code: 'PERSISTED_QUERY_NOT_IN_LIST' },
    ]);
    // Nothing was registered: the hash alone still misses.
    const again = await post(url, { extensions: { persistedQuery: { version: 1, sha256Hash: sent[0]?.hash } } });
    expect((await answer(again)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('a listed operation sent as full text by a plain HttpLink runs: its text is the listed document', async () => {
    const apollo = new ApolloClient({
      link: new HttpLink({ uri: url, headers: { authorization } }),
      cache: new InMemoryCache(),
    });
    const result = await apollo.query({
      query: ORDERS_OF_CUSTOMER,
      variables: { customerId: 'pq-apollo' },
      fetchPolicy: 'network-only',
    });
    expect(result.data).toMatchObject({ orders: { totalCount: 1 } });
  });

  it('subscriptions through GraphQLWsLink beside the persisted-query HttpLink hear an update', async () => {
    const wsClient = createClient({ url: url.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization } });
    wsClients.push(wsClient);
    const link = subscriptionsOverWebSocket(wsClient, new PersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest })).concat(
        new HttpLink({ uri: url, headers: { authorization } }),
      ));
    const apollo = new ApolloClient({ link, cache: new InMemoryCache() });
    const created = await apollo.mutate({ mutation: CREATE_ORDER, variables: { input: input('pq-ws') } });
    const id = (created.data as { createOrder: { order: { id: string } } }).createOrder.order.id;
    const heard: unknown[] = [];
    const errors: unknown[] = [];
    const subscription = apollo.subscribe({ query: ORDER_UPDATED, variables: { id } }).subscribe({
      next: (result) => (result.error ? errors.push(result.error) : heard.push(result.data)),
      error: (error: unknown) => errors.push(error),
    });
    let n = 0;
    // Updates until the subscription (running once the server has it) hears one.
    await expect
      .poll(
        async () => {
          await apollo.mutate({ mutation: UPDATE_ORDER, variables: { id, input: { trackingNumber: `T${++n}` } } });
          return heard.length;
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBeGreaterThan(0);
    subscription.unsubscribe();
    expect(errors).toStrictEqual([]);
    expect(heard[0]).toMatchObject({ orderUpdated: { id, trackingNumber: expect.stringMatching(/^T\d+$/) } });
  });
});

describe('raw requests: only the list runs', () => {
  it('refuses an unlisted query by POST and GET with 400 PERSISTED_QUERY_NOT_IN_LIST, in the media type asked for', async () => {
    for (const [accept, type] of [
      ['application/graphql-response+json', 'application/graphql-response+json'],
      ['application/json', 'application/json'],
    ] as const) {
      const response = await post(url, { query: UNLISTED }, accept);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain(type);
      const body = await answer(response);
      expect(body.data).toBeUndefined();
      expect(body.errors).toStrictEqual([
        { message: expect.stringContaining('not in the list of trusted documents'), extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } },
      ]);
    }
    const viaGet = await getWith(url, { query: UNLISTED });
    expect(viaGet.status).toBe(400);
    expect((await answer(viaGet)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    // An operator sees each refusal in the access log, by its code.
    expect(trusted.logs).toContainEqual(
      expect.objectContaining({ route: '/graphql', method: 'GET', status: 400, outcome: 'error', errorCode: 'PERSISTED_QUERY_NOT_IN_LIST' }),
    );
  });

  it('an unlisted mutation writes nothing; a listed text with one more space is another document', async () => {
    const response = await post(url, { query: UNLISTED_MUTATION });
    expect(response.status).toBe(400);
    expect((await answer(response)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const rows = await trusted.app.db.em.fork().getConnection().execute(`select count(*)::int as n from orders where customer_id = 'sneak'`);
    expect(rows).toStrictEqual([{ n: 0 }]);
    const body = listed('TrustedOrderById').body;
    const changed = await post(url, { query: `${body} `, variables: { id: 'ord_x' } });
    expect(changed.status).toBe(400);
    expect((await answer(changed)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('refuses a text before parsing it: broken GraphQL is not in the list either', async () => {
    const response = await post(url, { query: '{ orders(first: ' });
    expect(response.status).toBe(400);
    expect((await answer(response)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('serves a listed id alone by POST and GET; an unknown id is PERSISTED_QUERY_NOT_FOUND, as with APQ', async () => {
    const { id } = listed('TrustedOrdersOfCustomer');
    const variables = JSON.stringify({ customerId: 'nobody' });
    const byGet = await getWith(url, { variables, extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: id } }) });
    expect(byGet.status).toBe(200);
    expect(await answer(byGet)).toStrictEqual({ data: { orders: { totalCount: 0, edges: [], __typename: 'OrderConnection' } } });
    const byPost = await post(url, { variables: { customerId: 'nobody' }, extensions: { persistedQuery: { version: 1, sha256Hash: id } } });
    expect(byPost.status).toBe(200);
    expect((await answer(byPost)).data?.orders.totalCount).toBe(0);
    const unknown = await post(url, { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(UNLISTED) } } });
    expect(unknown.status).toBe(200);
    expect((await answer(unknown)).errors).toStrictEqual([
      { message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
    ]);
    // The unlisted text with its own hash registers nothing either.
    const register = await post(url, { query: UNLISTED, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(UNLISTED) } } });
    expect(register.status).toBe(400);
    expect((await answer(register)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('introspection follows INTROSPECTION: refused with it off, answered with it on, where other texts stay refused', async () => {
    const off = await post(url, { query: INTROSPECTION });
    expect(off.status).toBe(400);
    expect((await answer(off)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const on = await post(introspectionUrl, { query: INTROSPECTION });
    expect(on.status).toBe(200);
    expect(await answer(on)).toStrictEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    // The playground's own introspection query (graphql-js's, with its fragments on __Type and the like).
    const full = await post(introspectionUrl, { query: getIntrospectionQuery() });
    expect(full.status).toBe(200);
    expect(JSON.stringify(await full.json())).toContain('"name":"CreateOrderInput"');
    const fragmentOnQuery = await post(introspectionUrl, { query: 'query Q { __typename ...F } fragment F on Query { orders(first: 1) { totalCount } }' });
    expect(fragmentOnQuery.status).toBe(400);
    expect((await answer(fragmentOnQuery)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const unlisted = await post(introspectionUrl, { query: `query Peek { __typename orders(first: 1) { totalCount } }` });
    expect(unlisted.status).toBe(400);
    expect((await answer(unlisted)).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('without GRAPHQL_TRUSTED_DOCUMENTS the same unlisted query runs as before', async () => {
    const response = await post(openUrl, { query: UNLISTED });
    expect(response.status).toBe(200);
    expect((await answer(response)).data?.orders.totalCount).toEqual(expect.any(Number));
  });
});

describe('subscriptions over WebSocket obey the same list', () => {
  /** One subscribe message's first answer: a result, or the errors of its refusal. */
  const firstAnswer = (payload: { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> }, after?: () => Promise<void>) =>
    new Promise<{ data?: unknown; errors?: unknown }>((resolve) => {
      const client = createClient({ url: url.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization } });
      wsClients.push(client);
      let done = false;
      client.subscribe(payload, {
        next: (result) => {
          done = true;
          resolve(result);
        },
        error: (error) => resolve({ errors: Array.isArray(error) ? error : [String(error)] }),
        complete: () => {},
      });
      if (after) {
        void (async () => {
          // Bounded: a subscription that never hears one stops sending updates after 100.
          for (let sent = 0; !done && sent < 100; sent++) await after();
        })();
      }
    });

  it('refuses an unlisted subscription text with PERSISTED_QUERY_NOT_IN_LIST', async () => {
    const answer = await firstAnswer({ query: 'subscription Everything { orderCreated { id customerId total } }' });
    expect(answer.errors).toStrictEqual([
      { message: expect.stringContaining('not in the list of trusted documents'), extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } },
    ]);
  });

  it('refuses an unknown id sent alone, and runs the listed subscription sent by its id alone', async () => {
    const refused = await firstAnswer({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('subscription X { orderCreated { id } }') } } });
    expect(refused.errors).toStrictEqual([
      { message: expect.stringContaining('not in the list of trusted documents'), extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } },
    ]);
    const created = await post(url, {
      variables: { input: input('pq-ws-id') },
      extensions: { persistedQuery: { version: 1, sha256Hash: listed('TrustedCreateOrder').id } },
    });
    const id = (await answer(created)).data!.createOrder.order.id;
    let n = 0;
    const heard = await firstAnswer(
      { query: '', variables: { id }, extensions: { persistedQuery: { version: 1, sha256Hash: listed('TrustedOrderUpdated').id } } },
      async () => {
        await post(url, {
          variables: { id, input: { trackingNumber: `W${++n}` } },
          extensions: { persistedQuery: { version: 1, sha256Hash: listed('TrustedUpdateOrder').id } },
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      },
    );
    expect(heard).toMatchObject({ data: { orderUpdated: { id, trackingNumber: expect.stringMatching(/^W\d+$/), __typename: 'Order' } } });
  });
});
