/**
 * A Relay app's orders screen (test/fixtures/relay/src/OrdersScreen.ts):
 * relay-compiler compiles its fragments, queries, mutations and
 * subscriptions against the committed schema.graphql, with the custom
 * scalars mapped as the README says, and relay-runtime runs the artifacts in
 * Node against a live gateway, as a React app's hooks would: the list paged
 * through the connection handler, mutations and a subscription that update
 * the store without a refetch, and a fragment refetched with node(id:).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import {
  commitMutation,
  type ConcreteRequest,
  ConnectionHandler,
  createOperationDescriptor,
  Environment,
  fetchQuery,
  getRequest,
  getSelector,
  type GraphQLResponse,
  type GraphQLTaggedNode,
  Network,
  Observable,
  type ReaderFragment,
  RecordSource,
  type RequestParameters,
  requestSubscription,
  Store,
  type Variables,
} from 'relay-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type TestApp } from '../support/app';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/relay');
const COMPILER = path.join(ROOT, 'node_modules/.bin/relay-compiler');

/** The relay.config.json a front-end project would write (README, "Relay"). */
const relayConfig = (schema: string, extra: Record<string, unknown> = {}) => ({
  src: './src',
  schema,
  language: 'typescript',
  artifactDirectory: './src/__generated__',
  customScalarTypes: { Decimal: 'string', DateTime: 'string', JSON: 'unknown' },
  ...extra,
});

interface Compiled {
  status: number | null;
  output: string;
  dir: string;
}

/** Copies the fixture's sources to a fresh directory and runs relay-compiler there. */
function compile(extra: Record<string, unknown> = {}): Compiled {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-orders-'));
  if (typeof extra.persistConfig === 'object') fs.writeFileSync(path.join(dir, 'persisted.json'), '{}');
  fs.cpSync(path.join(FIXTURE, 'src'), path.join(dir, 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'src/__generated__'));
  fs.writeFileSync(
    path.join(dir, 'relay.config.json'),
    JSON.stringify(relayConfig(path.join(ROOT, 'schema.graphql'), extra), null, 2),
  );
  const run = spawnSync(COMPILER, [], { cwd: dir, encoding: 'utf8', timeout: 50_000 });
  return { status: run.status, output: `${run.stdout}\n${run.stderr}`, dir };
}

const artifact = async <T>(dir: string, name: string): Promise<T> =>
  ((await import(path.join(dir, 'src/__generated__', `${name}.graphql.ts`))) as { default: T }).default;

let t: TestApp;
let url: string;
let bearer: string;
let compiled: Compiled;
let ws: Client;
const dirs: string[] = [];

beforeAll(async () => {
  compiled = compile();
  dirs.push(compiled.dir);
  t = await createTestApp({ rateLimitPerMinute: 1000 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/graphql`;
  bearer = await t.bearer('relay-shop');
  ws = createClient({
    url: url.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: bearer },
  });
}, 60_000);
afterAll(async () => {
  await ws?.dispose();
  await t?.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The orders screen opened in a new environment: its query fetched, and the id of its list's connection. */
async function openOrdersScreen(): Promise<{ env: Environment; connectionId: string }> {
  const env = environment();
  const screen = await artifact<ConcreteRequest>(compiled.dir, 'OrdersScreenQuery');
  const listFragment = await artifact<ReaderFragment>(compiled.dir, 'OrdersScreen_list');
  await fetchQuery(env, screen, {}).toPromise();
  const root = env.lookup(createOperationDescriptor(getRequest(screen), {}).fragment).data;
  const connectionId = (env.lookup(getSelector(listFragment, root) as never).data as { orders: { __id: string } })
    .orders.__id;
  return { env, connectionId };
}

/** A Relay environment as the relay docs' fetch network layer builds it, with graphql-ws for subscriptions. */
function environment(): Environment {
  const fetchFn = async (params: RequestParameters, variables: Variables): Promise<GraphQLResponse> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ query: params.text, variables, operationName: params.name }),
    });
    return (await response.json()) as GraphQLResponse;
  };
  const subscribeFn = (params: RequestParameters, variables: Variables) =>
    Observable.create<GraphQLResponse>((sink) =>
      ws.subscribe(
        { query: params.text as string, variables, operationName: params.name },
        {
          next: (value) => sink.next(value as GraphQLResponse),
          error: (error) => sink.error(error instanceof Error ? error : new Error(JSON.stringify(error))),
          complete: () => sink.complete(),
        },
      ),
    );
  return new Environment({
    network: Network.create(fetchFn, subscribeFn),
    store: new Store(new RecordSource()),
  });
}

const order = (customerId: string) => ({
  customerId,
  items: [{ productId: 'p1', quantity: 1, price: '10.00' }],
  total: '10.00',
});

async function createThroughRest(customerId: string): Promise<string> {
  const response = await fetch(url.replace('/graphql', '/api/orders'), {
    method: 'POST',
    headers: { authorization: bearer, 'content-type': 'application/json' },
    body: JSON.stringify({
      customer_id: customerId,
      items: [{ product_id: 'p1', quantity: 1, price: '10.00' }],
      total: '10.00',
    }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { data: { id: string } }).data.id;
}

/** The list's connection as the screen reads it: the ids of its edges, in order, from the store. */
function listedIds(env: Environment, connectionId: string): string[] {
  const connection = env.getStore().getSource().get(connectionId);
  const edgeRefs = (connection?.edges as { __refs: string[] } | undefined)?.__refs ?? [];
  return edgeRefs.map((ref) => {
    const edge = env.getStore().getSource().get(ref) as { node: { __ref: string } };
    return edge.node.__ref;
  });
}

describe('relay-compiler against schema.graphql', () => {
  it('compiles the orders screen with no error: @refetchable fragments on Order, @connection, @prependNode, custom scalars', () => {
    expect(compiled.output).not.toMatch(/error/i);
    expect(compiled.status).toBe(0);
    const generated = fs.readdirSync(path.join(compiled.dir, 'src/__generated__'));
    expect(generated).toEqual(
      expect.arrayContaining([
        'OrdersScreenDetailRefetchQuery.graphql.ts',
        'OrdersScreenListPaginationQuery.graphql.ts',
        'OrdersScreenCreateMutation.graphql.ts',
        'OrdersScreenCreatedSubscription.graphql.ts',
      ]),
    );
  });
});

describe('relay-runtime against the live gateway', () => {
  it('pages the list forward through the connection handler, with cursors that hold across inserts', async () => {
    for (let i = 0; i < 5; i++) await createThroughRest(`page-${i}`);
    const env = environment();
    const screen = await artifact<ConcreteRequest>(compiled.dir, 'OrdersScreenQuery');
    const listFragment = await artifact<ReaderFragment>(compiled.dir, 'OrdersScreen_list');
    const pagination = await artifact<ConcreteRequest>(compiled.dir, 'OrdersScreenListPaginationQuery');
    await fetchQuery(env, screen, {}).toPromise();
    const operation = createOperationDescriptor(getRequest(screen), {});
    const root = env.lookup(operation.fragment).data;
    const list = env.lookup(getSelector(listFragment, root) as never).data as {
      orders: { __id: string; totalCount: number; edges: { cursor: string }[] };
    };
    const connectionId = list.orders.__id;
    const first = listedIds(env, connectionId);
    expect(first).toHaveLength(3);
    // An order created between two pages goes to the top; the next page continues where the first ended.
    await createThroughRest('between-pages');
    const pageInfoRef = (env.getStore().getSource().get(connectionId) as { pageInfo: { __ref: string } })
      .pageInfo.__ref;
    const endCursor = env.getStore().getSource().get(pageInfoRef)?.endCursor;
    expect(typeof endCursor).toBe('string');
    await fetchQuery(env, pagination, { count: 3, cursor: endCursor, filter: null }).toPromise();
    const both = listedIds(env, connectionId);
    expect(both.slice(0, 3)).toEqual(first);
    expect(both).toHaveLength(5);
    expect(new Set(both).size).toBe(5);
  });

  it('pages backward (loadPrevious: last/before) from a page in the middle, to the start of the list', async () => {
    for (let i = 0; i < 7; i++) await createThroughRest('backward');
    const filter = { customerId: 'backward' };
    const all = (await (
      await fetch(url, {
        method: 'POST',
        headers: { authorization: bearer, 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'query($f: OrderFilter) { orders(filter: $f) { edges { cursor node { id } } } }',
          variables: { f: filter },
        }),
      })
    ).json()) as { data: { orders: { edges: { cursor: string; node: { id: string } }[] } } };
    const edges = all.data.orders.edges;
    expect(edges).toHaveLength(7);

    const env = environment();
    const pagination = await artifact<ConcreteRequest>(compiled.dir, 'OrdersScreenListPaginationQuery');
    const connectionId = ConnectionHandler.getConnectionID('client:root', 'OrdersScreen_orders', { filter });
    const pageInfo = () => {
      const ref = (env.getStore().getSource().get(connectionId) as { pageInfo: { __ref: string } }).pageInfo
        .__ref;
      return env.getStore().getSource().get(ref) as unknown as {
        startCursor: string;
        hasPreviousPage: boolean;
      };
    };
    // A deep link opens the list after the third order: the 4th to 6th.
    await fetchQuery(env, pagination, {
      count: 3,
      cursor: edges[2].cursor,
      last: null,
      before: null,
      filter,
    }).toPromise();
    expect(listedIds(env, connectionId)).toEqual(edges.slice(3, 6).map((edge) => edge.node.id));
    expect(pageInfo().hasPreviousPage).toBe(true);
    // loadPrevious(2) as usePaginationFragment sends it: the forward variables null, last/before set.
    const loadPrevious = (last: number) =>
      fetchQuery(env, pagination, { count: null, cursor: null, last, before: pageInfo().startCursor, filter }).toPromise();
    await loadPrevious(2);
    expect(listedIds(env, connectionId)).toEqual(edges.slice(1, 6).map((edge) => edge.node.id));
    expect(pageInfo().hasPreviousPage).toBe(true);
    await loadPrevious(2);
    expect(listedIds(env, connectionId)).toEqual(edges.slice(0, 6).map((edge) => edge.node.id));
    expect(pageInfo().hasPreviousPage).toBe(false);
  });

  it('refetches an order fragment with node(id:), and createOrder and updateOrder update the store without a refetch', async () => {
    const { env, connectionId } = await openOrdersScreen();

    const create = await artifact<GraphQLTaggedNode>(compiled.dir, 'OrdersScreenCreateMutation');
    const created = await new Promise<{
      createOrder: { order: { id: string } | null; userErrors: unknown[] };
    }>((resolve, reject) =>
      commitMutation(env, {
        mutation: create,
        variables: { input: order('relay-new'), idempotencyKey: null, connections: [connectionId] },
        onCompleted: (response, errors) =>
          errors ? reject(new Error(JSON.stringify(errors))) : resolve(response as never),
        onError: reject,
      }),
    );
    expect(created.createOrder.userErrors).toEqual([]);
    const id = created.createOrder.order!.id;
    expect(listedIds(env, connectionId)[0]).toBe(id);

    const update = await artifact<GraphQLTaggedNode>(compiled.dir, 'OrdersScreenUpdateMutation');
    await new Promise((resolve, reject) =>
      commitMutation(env, {
        mutation: update,
        variables: { id, input: { status: 'PAID' } },
        onCompleted: resolve,
        onError: reject,
      }),
    );
    expect(env.getStore().getSource().get(id)?.status).toBe('PAID');

    // Another tab ships it; the detail pane refetches its fragment by id (useRefetchableFragment).
    const ship = await fetch(`${url.replace('/graphql', '/api/orders')}/${id}`, {
      method: 'PUT',
      headers: { authorization: bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'shipped', tracking_number: 'TRK-1' }),
    });
    expect(ship.status).toBe(200);
    const refetch = await artifact<ConcreteRequest>(compiled.dir, 'OrdersScreenDetailRefetchQuery');
    const answer = (await fetchQuery(env, refetch, { id }).toPromise()) as { node: unknown };
    expect(answer.node, JSON.stringify(answer)).not.toBeNull();
    const record = env.getStore().getSource().get(id);
    expect(record?.__typename).toBe('Order');
    expect(record?.status).toBe('SHIPPED');
    expect(record?.trackingNumber).toBe('TRK-1');

    // An id of no order of this workspace is null, as order(id:) is.
    const missing = (await fetchQuery(env, refetch, {
      id: 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV',
    }).toPromise()) as {
      node: unknown;
    };
    expect(missing.node).toBeNull();
  });

  it('puts an order created elsewhere at the top of the list through a subscription with @prependNode', async () => {
    const { env, connectionId } = await openOrdersScreen();
    expect(ConnectionHandler.getConnectionID('client:root', 'OrdersScreen_orders', { filter: null })).toBe(
      connectionId,
    );

    const subscription = await artifact<GraphQLTaggedNode>(compiled.dir, 'OrdersScreenCreatedSubscription');
    const errors: unknown[] = [];
    const disposable = requestSubscription(env, {
      subscription,
      variables: { connections: [connectionId] },
      onError: (error) => errors.push(error),
    });
    try {
      const { workspaceId } = await t.app.services.auth.authenticate(bearer);
      await expect.poll(() => t.app.feed.listening(workspaceId), { timeout: 10_000 }).toBe(1);
      const id = await createThroughRest('from-elsewhere');
      await expect.poll(() => listedIds(env, connectionId)[0], { timeout: 10_000 }).toBe(id);
      expect(errors).toEqual([]);
    } finally {
      disposable.dispose();
    }
  });
});

describe("relay-compiler persisted queries with the gateway's APQ", () => {
  it("runs an operation by its SHA-256 id, sending the text from the compiler's file once on a miss", async () => {
    const persisted = compile({ persistConfig: { file: './persisted.json', algorithm: 'SHA256' } });
    dirs.push(persisted.dir);
    expect(persisted.status, persisted.output).toBe(0);
    const documents = JSON.parse(
      fs.readFileSync(path.join(persisted.dir, 'persisted.json'), 'utf8'),
    ) as Record<string, string>;
    const sent: string[] = [];
    const post = async (body: unknown) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: bearer, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await response.json()) as GraphQLResponse & { errors?: { extensions?: { code?: string } }[] };
    };
    const fetchFn = async (params: RequestParameters, variables: Variables): Promise<GraphQLResponse> => {
      expect(params.text).toBeNull();
      const extensions = { persistedQuery: { version: 1, sha256Hash: params.id } };
      const answer = await post({ variables, operationName: params.name, extensions });
      sent.push(answer.errors?.[0]?.extensions?.code ?? 'result');
      if (answer.errors?.[0]?.extensions?.code !== 'PERSISTED_QUERY_NOT_FOUND') return answer;
      return post({
        query: documents[params.id as string],
        variables,
        operationName: params.name,
        extensions,
      });
    };
    const env = new Environment({ network: Network.create(fetchFn), store: new Store(new RecordSource()) });
    const id = await createThroughRest('persisted');
    const refetch = await artifact<ConcreteRequest>(persisted.dir, 'OrdersScreenDetailRefetchQuery');
    await fetchQuery(env, refetch, { id }).toPromise();
    await fetchQuery(env, refetch, { id }, { fetchPolicy: 'network-only' }).toPromise();
    expect(sent).toEqual(['PERSISTED_QUERY_NOT_FOUND', 'result']);
    expect(env.getStore().getSource().get(id)?.status).toBe('PENDING');
  });
});
