/**
 * Automatic Persisted Queries (APQ) as a front-end sends them, through the stock links:
 * Apollo Client 4's PersistedQueryLink (`useGETForHashedQueries`) and urql 6's
 * `@urql/exchange-persisted` (`preferGetForPersistedQueries`), against live servers. Each sends a
 * query as its SHA-256 first, falls back to the full text on PERSISTED_QUERY_NOT_FOUND, sends
 * queries as GET and mutations never as GET. The cache of registered queries is each process's
 * own: with two gateway processes on one database a client still gets every answer, only paying
 * one more round trip the first time each process sees a query. Also what a hand-written client
 * or a broken one meets: a wrong hash, a malformed `extensions`, a mutation's hash over GET.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Client, fetchExchange, gql as urqlGql } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import CachePolicy from 'http-cache-semantics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import {
  appOnSameDatabase,
  twoAppsOnServerDatabase,
  type ExtraApp,
  type ServerPair,
} from '../support/more-apps';
import { usingRealPostgres } from '../support/database';
import { parsePrometheusText, sampleValue } from '../support/prometheus';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const CREATE = `mutation Create($input: CreateOrderInput!) {
  createOrder(input: $input) { order { id orderNumber total } userErrors { field message code } }
}`;
const READ = `query Read($id: ID!) { order(id: $id) { id orderNumber total status } }`;
const COUNT = `query Count($customerId: String!) { orders(first: 50, filter: { customerId: $customerId }) { totalCount } }`;
const input = (customerId: string) => ({
  customerId,
  items: [{ productId: 'p1', quantity: 2, price: '10.00' }],
  total: '20.00',
});

/** One HTTP exchange as the server saw it: the method, whether the full text was sent, whether a hash was. */
interface Sent {
  method: string;
  port: number;
  fullText: boolean;
  hashed: boolean;
  status: number;
  code?: string;
}

/** A fetch that records what each link sends and what came back, without changing either. */
function recordingFetch(sent: Sent[], rewrite: (url: URL) => URL = (url) => url): typeof fetch {
  return async (resource, init) => {
    const url = rewrite(new URL(String(resource instanceof Request ? resource.url : resource)));
    const method = init?.method ?? 'GET';
    let body: { query?: string; extensions?: { persistedQuery?: unknown } } = {};
    if (method === 'GET') {
      const extensions = url.searchParams.get('extensions');
      body = {
        query: url.searchParams.get('query') ?? undefined,
        extensions: extensions ? JSON.parse(extensions) : undefined,
      };
    } else if (typeof init?.body === 'string') body = JSON.parse(init.body);
    const response = await fetch(url, init);
    const answer = (await response.clone().json()) as { errors?: { extensions?: { code?: string } }[] };
    sent.push({
      method,
      port: Number(url.port),
      fullText: typeof body.query === 'string' && body.query.length > 0,
      hashed: body.extensions?.persistedQuery !== undefined,
      status: response.status,
      code: answer.errors?.[0]?.extensions?.code,
    });
    return response;
  };
}

const apolloClient = (url: string, authorization: string, sent: Sent[], rewrite?: (url: URL) => URL) =>
  new ApolloClient({
    link: new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
      new HttpLink({ uri: url, headers: { authorization }, fetch: recordingFetch(sent, rewrite) }),
    ),
    cache: new InMemoryCache(),
    defaultOptions: { query: { fetchPolicy: 'network-only' } },
  });

const urqlClient = (url: string, authorization: string, sent: Sent[]) =>
  new Client({
    url,
    exchanges: [persistedExchange({ preferGetForPersistedQueries: true }), fetchExchange],
    fetchOptions: { headers: { authorization } },
    fetch: recordingFetch(sent),
    requestPolicy: 'network-only',
  });

const MISS = { status: 200, code: 'PERSISTED_QUERY_NOT_FOUND' };
const listen = async (app: {
  http: { listen(o: object): Promise<unknown>; server: { address(): unknown } };
}) => {
  await app.http.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}/graphql`;
};

let t: TestApp;
let url: string;

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 1000 });
  url = await listen(t.app);
});
afterAll(() => t?.close());

describe('Apollo Client 4 with PersistedQueryLink and useGETForHashedQueries', () => {
  it('sends a query as its hash over GET, registers it with the full text once, then by hash alone', async () => {
    const sent: Sent[] = [];
    const client = apolloClient(url, await t.bearer('apollo-apq'), sent);
    const created = await client.mutate<{ createOrder: { order: { id: string } } }>({
      mutation: gql(CREATE),
      variables: { input: input('apq-apollo') },
    });
    const id = created.data!.createOrder.order.id;
    // A mutation is hashed too, but never sent as GET, and the miss ran nothing: one order.
    expect(
      sent.map(({ method, fullText, hashed, status, code }) => ({ method, fullText, hashed, status, code })),
    ).toStrictEqual([
      { method: 'POST', fullText: false, hashed: true, ...MISS },
      { method: 'POST', fullText: true, hashed: true, status: 200, code: undefined },
    ]);

    sent.length = 0;
    const first = await client.query<{ order: { id: string; total: string } }>({
      query: gql(READ),
      variables: { id },
    });
    expect(first.data?.order).toMatchObject({ id, total: '20.00' });
    const second = await client.query<{ order: { id: string } }>({ query: gql(READ), variables: { id } });
    expect(second.data?.order.id).toBe(id);
    expect(
      sent.map(({ method, fullText, status, code }) => ({ method, fullText, status, code })),
    ).toStrictEqual([
      { method: 'GET', fullText: false, ...MISS },
      // The link's fallback is a POST with the full text and the hash.
      { method: 'POST', fullText: true, status: 200, code: undefined },
      { method: 'GET', fullText: false, status: 200, code: undefined },
    ]);

    sent.length = 0;
    await client.mutate({ mutation: gql(CREATE), variables: { input: input('apq-apollo') } });
    expect(sent.map(({ method, fullText }) => ({ method, fullText }))).toStrictEqual([
      { method: 'POST', fullText: false },
    ]);
    const count = await client.query<{ orders: { totalCount: number } }>({
      query: gql(COUNT),
      variables: { customerId: 'apq-apollo' },
    });
    expect(count.data?.orders.totalCount).toBe(2);
  });
});

describe('urql 6 with @urql/exchange-persisted and preferGetForPersistedQueries', () => {
  it('sends a query as its hash over GET, falls back to the full text over GET, mutations over POST', async () => {
    const sent: Sent[] = [];
    const client = urqlClient(url, await t.bearer('urql-apq'), sent);
    const created = await client.mutation(urqlGql(CREATE), { input: input('apq-urql') }).toPromise();
    expect(created.error).toBeUndefined();
    const id = created.data.createOrder.order.id as string;
    // urql hashes queries only (enableForMutation is off by default): a mutation is a plain POST.
    expect(sent.map(({ method, hashed }) => ({ method, hashed }))).toStrictEqual([
      { method: 'POST', hashed: false },
    ]);

    sent.length = 0;
    const first = await client.query(urqlGql(READ), { id }).toPromise();
    expect(first.error).toBeUndefined();
    expect(first.data.order).toMatchObject({ id, total: '20.00' });
    const second = await client.query(urqlGql(READ), { id }).toPromise();
    expect(second.data.order.id).toBe(id);
    expect(
      sent.map(({ method, fullText, status, code }) => ({ method, fullText, status, code })),
    ).toStrictEqual([
      { method: 'GET', fullText: false, ...MISS },
      { method: 'GET', fullText: true, status: 200, code: undefined },
      { method: 'GET', fullText: false, status: 200, code: undefined },
    ]);
  });
});

describe('two gateway processes on one database', () => {
  let others: ExtraApp[] = [];
  let pair: ServerPair | undefined;
  let urls: string[] = [];
  let authorization: string;

  beforeAll(async () => {
    if (usingRealPostgres) {
      pair = await twoAppsOnServerDatabase({ rateLimitPerMinute: 1000 });
      others = [pair.first, pair.second];
    } else {
      others = [
        await appOnSameDatabase(t.app.db, { rateLimitPerMinute: 1000 }),
        await appOnSameDatabase(t.app.db, { rateLimitPerMinute: 1000 }),
      ];
    }
    urls = [await listen(others[0].app), await listen(others[1].app)];
    await others[0].app.services.auth.createWorkspace('two-processes', 'UTC');
    authorization = `Bearer ${(await others[0].app.services.auth.createApiKey('two-processes')).key}`;
  });
  afterAll(async () => {
    if (pair) await pair.close();
    else for (const other of others) await other.close();
  });

  it('each keeps its own cache, and a client behind a round-robin balancer still gets every answer', async () => {
    const sent: Sent[] = [];
    const ports = urls.map((u) => Number(new URL(u).port));
    let next = 0;
    // A balancer that alternates, as a round-robin one does between two processes.
    const roundRobin = (target: URL) => Object.assign(new URL(target), { port: String(ports[next++ % 2]) });
    const client = apolloClient(urls[0], authorization, sent, roundRobin);
    const created = await client.mutate<{ createOrder: { order: { id: string } } }>({
      mutation: gql(CREATE),
      variables: { input: input('apq-two') },
    });
    const id = created.data!.createOrder.order.id;
    for (let i = 0; i < 4; i++) {
      const read = await client.query<{ order: { id: string } }>({ query: gql(READ), variables: { id } });
      expect(read.error).toBeUndefined();
      expect(read.data?.order.id).toBe(id);
    }
    // Every answer arrived and no error reached the caller; a miss only cost a round trip. A process
    // learns a query when the fallback lands on it, so a strictly alternating balancer can send the
    // hashed GET to one process and the fallback to the other every time (README, "Persisted queries").
    expect(sent.every((request) => request.status === 200)).toBe(true);
    expect(new Set(sent.map((request) => request.code))).toStrictEqual(
      new Set([undefined, 'PERSISTED_QUERY_NOT_FOUND']),
    );
    expect(new Set(sent.map((request) => request.port))).toStrictEqual(new Set(ports));
    // Each process answers the hash alone once it has seen the full text.
    for (const target of urls) {
      const answer = await fetch(
        `${target}?${String(new URLSearchParams({ query: READ, variables: JSON.stringify({ id }), extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha256(READ) } }) }))}`,
        { headers: { authorization } },
      );
      expect(answer.status).toBe(200);
      const byHash = await fetch(
        `${target}?${String(new URLSearchParams({ variables: JSON.stringify({ id }), extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: sha256(READ) } }) }))}`,
        { headers: { authorization } },
      );
      expect(await byHash.json()).toMatchObject({ data: { order: { id } } });
    }
  });
});

describe('what a hand-written or broken client meets', () => {
  let authorization: string;
  beforeAll(async () => {
    authorization = await t.bearer('apq-raw');
  });
  const PING = 'query Ping { __typename }';
  const persisted = (hash: unknown) => JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } });
  const get = async (params: Record<string, string>, headers: Record<string, string> = { authorization }) => {
    const response = await fetch(`${url}?${String(new URLSearchParams(params))}`, { headers });
    return {
      response,
      body: (await response.json()) as {
        data?: unknown;
        errors?: { message: string; extensions: { code: string } }[];
      },
    };
  };

  it('a hash the server does not know: 200 PERSISTED_QUERY_NOT_FOUND, never stored by any cache', async () => {
    const { response, body } = await get({ extensions: persisted(sha256('query Unknown { __typename }')) });
    expect(response.status).toBe(200);
    expect(body.errors).toStrictEqual([
      { message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
    ]);
    // As every answer of /graphql (README, "Caching"): kept by no cache, a browser's included.
    expect(response.headers.get('cache-control')).toBe('no-store');
    const policy = new CachePolicy(
      { method: 'GET', url: '/graphql', headers: { authorization } },
      { status: response.status, headers: Object.fromEntries(response.headers) },
      { shared: false },
    );
    expect(policy.storable()).toBe(false);
  });

  it('a hash that does not match the query sent with it: 400 BAD_REQUEST, and nothing is registered under it', async () => {
    const wrong = sha256('query Other { __typename }');
    const mismatch = await get({ query: PING, extensions: persisted(wrong) });
    expect(mismatch.response.status).toBe(400);
    expect(mismatch.body.errors?.[0]?.extensions.code).toBe('BAD_REQUEST');
    expect(mismatch.body.errors?.[0]?.message).toMatch(/sha/i);
    const after = await get({ extensions: persisted(wrong) });
    expect(after.body.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('variables and operationName travel beside the hash, on GET as on POST', async () => {
    const created = await fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ query: CREATE, variables: { input: input('apq-vars') } }),
    });
    const id = ((await created.json()) as { data: { createOrder: { order: { id: string } } } }).data
      .createOrder.order.id;
    const TWO = `query Other { __typename } ${READ}`;
    const variables = JSON.stringify({ id });
    const register = await get({
      query: TWO,
      variables,
      operationName: 'Read',
      extensions: persisted(sha256(TWO)),
    });
    expect(register.body).toMatchObject({ data: { order: { id, total: '20.00' } } });
    const byHash = await get({ variables, operationName: 'Read', extensions: persisted(sha256(TWO)) });
    expect(byHash.response.status).toBe(200);
    expect(byHash.body).toMatchObject({ data: { order: { id, total: '20.00' } } });
    const other = await get({ operationName: 'Other', extensions: persisted(sha256(TWO)) });
    expect(other.body).toStrictEqual({ data: { __typename: 'Query' } });
    const unnamed = await get({ variables, extensions: persisted(sha256(TWO)) });
    expect(unnamed.response.status).toBe(400);
    expect(unnamed.body.errors?.[0]?.extensions.code).toBe('OPERATION_RESOLUTION_FAILURE');
    const badVariables = await get({
      variables: '{"id":',
      operationName: 'Read',
      extensions: persisted(sha256(TWO)),
    });
    expect(badVariables.response.status).toBe(400);
    expect(badVariables.body.errors?.[0]?.extensions.code).toBe('BAD_REQUEST');
  });

  it('a malformed extensions parameter: 400 BAD_REQUEST, not a miss a client would answer with the full text', async () => {
    for (const extensions of [
      '{not json',
      '[]',
      'null',
      JSON.stringify({ persistedQuery: 'x' }),
      JSON.stringify({ persistedQuery: { version: 2, sha256Hash: sha256(PING) } }),
    ]) {
      const { response, body } = await get({ extensions });
      expect({ extensions, status: response.status, code: body.errors?.[0]?.extensions.code }).toStrictEqual({
        extensions,
        status: 400,
        code: 'BAD_REQUEST',
      });
    }
    for (const hash of [undefined, 42, '', 'not-a-hash', sha256(PING).toUpperCase()]) {
      const { response, body } = await get({ extensions: persisted(hash) });
      expect({ hash, status: response.status, code: body.errors?.[0]?.extensions.code }).toStrictEqual({
        hash,
        status: 400,
        code: 'BAD_REQUEST',
      });
      expect(body.errors?.[0]?.message).toMatch(/sha256Hash/);
    }
  });

  it('a malformed hash in a POST body is refused the same way, and runs nothing', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization,
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
      },
      body: JSON.stringify({
        query: CREATE,
        variables: { input: input('apq-post-bad-hash') },
        extensions: { persistedQuery: { version: 1, sha256Hash: 42 } },
      }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe('BAD_REQUEST');
    const count = await get({ query: COUNT, variables: JSON.stringify({ customerId: 'apq-post-bad-hash' }) });
    expect(count.body.data).toStrictEqual({ orders: { totalCount: 0 } });
  });

  it("a mutation's hash over GET is refused with 405 and runs nothing; without a key, any GET is 401", async () => {
    const MUTATION = `mutation Once($input: CreateOrderInput!) { createOrder(input: $input) { order { id } } }`;
    const register = await fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({
        query: MUTATION,
        variables: { input: input('apq-get-mutation') },
        extensions: JSON.parse(persisted(sha256(MUTATION))),
      }),
    });
    expect(register.status).toBe(200);
    const { response, body } = await get({
      extensions: persisted(sha256(MUTATION)),
      variables: JSON.stringify({ input: input('apq-get-mutation') }),
    });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(body.errors?.[0]?.extensions.code).toBe('BAD_REQUEST');
    const noKey = await get({ extensions: persisted(sha256(MUTATION)) }, {});
    expect(noKey.response.status).toBe(401);
    const count = await get({ query: COUNT, variables: JSON.stringify({ customerId: 'apq-get-mutation' }) });
    expect(count.body.data).toStrictEqual({ orders: { totalCount: 1 } });
  });

  it('a miss is counted as its own outcome, not as a failed operation', async () => {
    const scrape = async () =>
      parsePrometheusText(await (await fetch(url.replace('/graphql', '/metrics'))).text());
    const before = await scrape();
    await get({ extensions: persisted(sha256('query Cold { __typename }')), operationName: 'Cold' });
    const after = await scrape();
    expect(sampleValue(after, 'graphql_operations_total', { operation: '(unknown)', outcome: 'error' })).toBe(
      sampleValue(before, 'graphql_operations_total', { operation: '(unknown)', outcome: 'error' }),
    );
    expect(
      sampleValue(after, 'graphql_operations_total', {
        operation: '(unknown)',
        outcome: 'persisted_query_not_found',
      }),
    ).toBe(
      sampleValue(before, 'graphql_operations_total', {
        operation: '(unknown)',
        outcome: 'persisted_query_not_found',
      }) + 1,
    );
  });
});
