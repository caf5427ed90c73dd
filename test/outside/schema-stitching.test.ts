/**
 * A platform team's GraphQL gateway in front of the live server (schema stitching with The
 * Guild's @graphql-tools/stitch, /wrap and /executor-http): the remote schema is read by
 * introspection, merged with a small local schema, and every request is sent on with the
 * caller's own `Authorization` (`batch: true`, so a document's root fields travel as one
 * request). Through it a client creates orders (variables, aliases, fragments), reads them by
 * id, number and page, moves statuses, manages webhooks and meets each kind of error; the
 * stitched answer is compared with the same document sent straight to /graphql. Where the
 * two differ by the stitching library's choice (README, "GraphQL over HTTP, and stock
 * clients"), the test states the difference. Runs on the embedded database, or on PostgreSQL
 * with DATABASE_URL.
 */
import type { AddressInfo } from 'node:net';
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import { stitchSchemas } from '@graphql-tools/stitch';
import { schemaFromExecutor } from '@graphql-tools/wrap';
import {
  execute,
  getIntrospectionQuery,
  parse,
  type FormattedExecutionResult as ExecutionResult,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { ORDER_FIELDS, USER_ERRORS } from '../support/graphql';
import { withFailingOrderService } from '../support/orders';

let t: TestApp;
let url: string;
let gateway: GraphQLSchema;
/** What the gateway sent to /graphql: the body and the `Authorization` of each request. */
const sent: { body: string; authorization: string }[] = [];

const INTROSPECTION = { specifiedByUrl: true, inputValueDeprecation: true } as const;

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 40, webhookAllowPrivateNetworks: true });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/graphql`;
  const executor = buildHTTPExecutor({
    endpoint: url,
    // The caller's key, per request: the gateway holds none of its own.
    headers: (request) => ({ authorization: (request?.context as Caller | undefined)?.authorization ?? '' }),
    fetch: (input: string, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      sent.push({
        body: typeof init?.body === 'string' ? init.body : '',
        authorization: headers.get('authorization') ?? '',
      });
      return fetch(input, init);
    },
  });
  const remote = await schemaFromExecutor(
    executor,
    { authorization: await t.bearer('platform') },
    INTROSPECTION,
  );
  gateway = stitchSchemas({
    subschemas: [{ schema: remote, executor, batch: true }],
    typeDefs: /* GraphQL */ `
      extend type Query {
        "Which gateway answered"
        gateway: String!
      }
    `,
    resolvers: { Query: { gateway: () => 'platform-gateway' } },
  });
});
afterAll(() => t?.close());

interface Caller {
  authorization: string;
}

/** A fresh workspace's key, so that each test has its own rate-limit bucket. */
let workspaces = 0;
const newKey = () => t.bearer(`ws${++workspaces}`);

async function direct(
  authorization: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: ExecutionResult }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as ExecutionResult };
}

/** The answer a client of the stitched gateway gets, as JSON (what its HTTP layer would send). */
async function stitched(
  authorization: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<ExecutionResult> {
  const result = await execute({
    schema: gateway,
    document: parse(query),
    variableValues: variables,
    contextValue: { authorization } satisfies Caller,
  });
  return JSON.parse(JSON.stringify(result)) as ExecutionResult;
}

/** What a client reads of an error: message, path and code (`locations` name the gateway's own document). */
const errorsOf = (result: ExecutionResult) =>
  result.errors?.map((error) => ({
    message: error.message,
    path: error.path,
    code: error.extensions?.code,
  }));

/** An answer with the values that differ between two creates (ids, numbers, times, secrets) blanked. */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) =>
        /^(id|orderNumber|createdAt|updatedAt|timestamp|deletedId|secret|previousSecretExpiresAt)$/.test(k) &&
        v !== null
          ? [k, '*']
          : [k, comparable(v)],
      ),
    );
  return value;
}

const CREATE_TWO = `mutation CreateTwo($ok: CreateOrderInput!, $refused: CreateOrderInput!) {
  ok: createOrder(input: $ok) { ...Outcome }
  refused: createOrder(input: $refused) { ...Outcome }
}
fragment Outcome on CreateOrderPayload {
  order { ...Money id orderNumber status createdAt metadata }
  replayed
  userErrors { ...Problem }
}
fragment Money on Order { currency subtotal shipping tax total items { price quantity subtotal } }
fragment Problem on UserError { field message code }`;

const order = (currency: string, price: string | number, quantity: number, total: string, extra = {}) => ({
  customerId: 'cust-1',
  currency,
  items: [{ productId: 'p1', quantity, price }],
  total,
  ...extra,
});

describe('the operations a client uses, through the stitched gateway', () => {
  it('createOrder with variables, aliases and fragments: the same orders, amounts and userErrors as a direct call', async () => {
    const key = await newKey();
    for (const [ok, money] of [
      [
        order('USD', '0.10', 3, '5.55', {
          shipping: '4.25',
          tax: '1',
          metadata: { ref: 'A-1', n: 0.1, nested: { ok: true } },
        }),
        { currency: 'USD', subtotal: '0.30', shipping: '4.25', tax: '1.00', total: '5.55' },
      ],
      [
        order('JPY', 1500, 2, '3000'),
        { currency: 'JPY', subtotal: '3000', shipping: '0', tax: '0', total: '3000' },
      ],
      [
        order('KWD', '1.234', 3, '3.702'),
        { currency: 'KWD', subtotal: '3.702', shipping: '0.000', tax: '0.000', total: '3.702' },
      ],
    ] as const) {
      const variables = { ok, refused: order('USD', '9.999', 1, '9.999') };
      const viaGateway = await stitched(key, CREATE_TWO, variables);
      const straight = await direct(key, CREATE_TWO, variables);
      expect(straight.status).toBe(200);
      expect(viaGateway.errors).toBeUndefined();
      expect(comparable(viaGateway)).toEqual(comparable(straight.body));
      const data = viaGateway.data as {
        ok: { order: Record<string, unknown>; userErrors: unknown[] };
        refused: { order: null; userErrors: { code: string }[] };
      };
      // Amounts stay exact decimal strings with the currency's digits: never floats.
      expect(data.ok.order).toMatchObject(money);
      expect(data.ok.userErrors).toEqual([]);
      expect(data.refused.order).toBeNull();
      expect(new Set(data.refused.userErrors.map((e) => e.code))).toEqual(new Set(['VALIDATION_ERROR']));
      if ('metadata' in ok) expect(data.ok.order.metadata).toEqual(ok.metadata);
      // The DateTime scalar passes through as the server wrote it.
      expect(data.ok.order.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('order by id and by number, and the orders connection page by page, answer exactly as a direct call', async () => {
    const key = await newKey();
    for (let i = 1; i <= 5; i++) {
      const made = await stitched(key, CREATE_TWO, {
        ok: order('USD', `${i}.50`, 1, `${i}.50`),
        refused: order('USD', '1', 1, '2'),
      });
      expect((made.data as { refused: { userErrors: { code: string }[] } }).refused.userErrors[0]?.code).toBe(
        'TOTAL_MISMATCH',
      );
    }
    const PAGE = `query Page($first: Int, $after: String) {
      orders(first: $first, after: $after, filter: { minTotal: "2.00" }) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id orderNumber total } }
      }
    }`;
    let after: string | null = null;
    const seen: string[] = [];
    for (;;) {
      const viaGateway = await stitched(key, PAGE, { first: 2, after });
      expect(viaGateway).toEqual((await direct(key, PAGE, { first: 2, after })).body);
      const page = (viaGateway.data as { orders: Page }).orders;
      expect(page.totalCount).toBe(4);
      seen.push(...page.edges.map((edge) => edge.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(4);

    const [id] = seen;
    const number = (
      (await stitched(key, `{ order(id: "${id}") { orderNumber } }`)).data as {
        order: { orderNumber: string };
      }
    ).order.orderNumber;
    const READ = `query Read($id: ID!, $number: String!) {
      byId: order(id: $id) { ${ORDER_FIELDS} }
      byNumber: orderByNumber(orderNumber: $number) { id total }
      asNode: node(id: $id) { id ... on Order { total currency } }
    }`;
    const viaGateway = await stitched(key, READ, { id, number });
    expect(viaGateway).toEqual((await direct(key, READ, { id, number })).body);
    expect(viaGateway.data).toMatchObject({
      byId: { id, total: '5.50' },
      byNumber: { id },
      asNode: { id, currency: 'USD' },
    });
  });

  it('status moves, and a move the status machine refuses, as a direct call answers them', async () => {
    const key = await newKey();
    const MOVE = `mutation Move($id: ID!, $status: OrderStatus!) {
      updateOrder(id: $id, input: { status: $status }) { order { status statusHistory { status } updatedAt } ${USER_ERRORS} }
    }`;
    const answers: ExecutionResult[][] = [[], []];
    for (const [side, send] of [
      [0, stitched],
      [1, async (...args: Parameters<typeof stitched>) => (await direct(...args)).body],
    ] as const) {
      const made = await send(key, CREATE_TWO, {
        ok: order('USD', '1', 1, '1'),
        refused: order('USD', '1', 1, '2'),
      });
      const id = (made.data as { ok: { order: { id: string } } }).ok.order.id;
      for (const status of ['PAID', 'SHIPPED', 'PENDING'])
        answers[side].push(await send(key, MOVE, { id, status }));
      answers[side].push(await send(key, MOVE, { id: 'order_01NOSUCHORDER0000000000000', status: 'PAID' }));
    }
    expect(comparable(answers[0])).toEqual(comparable(answers[1]));
    const codes = answers[0].map((a) =>
      (a.data as { updateOrder: { userErrors: { code: string }[] } }).updateOrder.userErrors.map(
        (e) => e.code,
      ),
    );
    expect(codes).toEqual([[], [], ['INVALID_STATUS_TRANSITION'], ['NOT_FOUND']]);
  });

  it('webhook management: create, pause, rotate, list, delete, and an unknown endpoint', async () => {
    const key = await newKey();
    const ENDPOINT = 'id url enabled events createdAt previousSecretExpiresAt';
    const run = async (
      send: (query: string, variables?: Record<string, unknown>) => Promise<ExecutionResult>,
    ) => {
      const made = await send(
        `mutation Add($url: String!) { createWebhookEndpoint(input: { url: $url, events: [ORDER_CREATED] }) { endpoint { ${ENDPOINT} } secret ${USER_ERRORS} } }`,
        { url: 'http://127.0.0.1:9/hooks' },
      );
      const id = (made.data as { createWebhookEndpoint: { endpoint: { id: string } } }).createWebhookEndpoint
        .endpoint.id;
      return [
        made,
        await send(
          `mutation { createWebhookEndpoint(input: { url: "ftp://nowhere" }) { endpoint { id } ${USER_ERRORS} } }`,
        ),
        await send(
          `mutation Pause($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: false }) { endpoint { ${ENDPOINT} } ${USER_ERRORS} } }`,
          { id },
        ),
        await send(
          `mutation Rotate($id: ID!) { rotateWebhookSecret(id: $id, previousSecretValidForSeconds: 0) { endpoint { id } secret ${USER_ERRORS} } }`,
          { id },
        ),
        await send(
          `query Mine($id: ID!) { webhookEndpoints { ${ENDPOINT} } webhookDeliveries(endpointId: $id, first: 5) { edges { node { id } } pageInfo { hasNextPage } } }`,
          { id },
        ),
        await send(
          `mutation Drop($id: ID!) { one: deleteWebhookEndpoint(id: $id) { deletedId ${USER_ERRORS} } again: deleteWebhookEndpoint(id: $id) { deletedId ${USER_ERRORS} } }`,
          { id },
        ),
      ];
    };
    const viaGateway = await run((query, variables) => stitched(key, query, variables));
    const straight = await run(async (query, variables) => (await direct(key, query, variables)).body);
    expect(comparable(viaGateway)).toEqual(comparable(straight));
    expect(viaGateway.every((answer) => answer.errors === undefined)).toBe(true);
    const [made, refused, , , , dropped] = viaGateway as {
      data: Record<string, { userErrors: { code: string }[]; secret?: string }>;
    }[];
    expect(made.data.createWebhookEndpoint.secret).toMatch(/^whsec_/);
    expect(refused.data.createWebhookEndpoint.userErrors[0]?.code).toBe('VALIDATION_ERROR');
    expect(dropped.data.again.userErrors.map((e) => e.code)).toEqual(['NOT_FOUND']);
  });

  it('an unknown id and a validation error answer as a direct call: same data, message, path and code', async () => {
    const key = await newKey();
    for (const query of [
      `{ order(id: "order_01NOSUCHORDER0000000000000") { id } orderByNumber(orderNumber: "ORD-2020-0101-001") { id } }`,
      `{ orders(first: 101) { totalCount } }`,
      `{ orders(filter: { minTotal: "abc", customerId: "" }) { totalCount } }`,
      `{ webhookDeliveries(endpointId: "whep_x", first: 0) { edges { cursor } } order(id: "order_x") { id } }`,
    ]) {
      const viaGateway = await stitched(key, query);
      const straight = (await direct(key, query)).body;
      expect(viaGateway.data, query).toEqual(straight.data);
      expect(errorsOf(viaGateway), query).toEqual(errorsOf(straight));
    }
    const invalid = await stitched(key, `{ orders(first: 101) { totalCount } }`);
    expect(errorsOf(invalid)).toEqual([
      {
        message: 'Invalid request: first must be between 1 and 100',
        path: ['orders'],
        code: 'VALIDATION_ERROR',
      },
    ]);
  });

  it('an auth error and a limit error keep their message and code; the gateway gives them the path of each field it sent', async () => {
    const key = await newKey();
    // Without a valid key: a request error straight (HTTP 401, no data); the gateway's answer
    // reports it on each root field that went to the server, with those fields null.
    const READ = `{ order(id: "order_x") { id } again: order(id: "order_y") { id } }`;
    const straight = await direct('Bearer ogk_not_a_key', READ);
    expect(straight.status).toBe(401);
    expect(straight.body.data).toBeUndefined();
    const message = 'A valid API key is required: send Authorization: Bearer <key>';
    expect(errorsOf(straight.body)).toEqual([{ message, path: undefined, code: 'UNAUTHENTICATED' }]);
    const viaGateway = await stitched('Bearer ogk_not_a_key', `${READ.slice(0, -1)} gateway }`);
    expect(viaGateway.data).toEqual({ order: null, again: null, gateway: 'platform-gateway' });
    expect(errorsOf(viaGateway)).toEqual([
      { message, path: ['order'], code: 'UNAUTHENTICATED' },
      { message, path: ['again'], code: 'UNAUTHENTICATED' },
    ]);

    // Over the query cost limit: the same message and code, on the field that asked.
    const COSTLY = `{ orders(first: 100) { edges { node { items { productId name quantity price sku subtotal } } } } }`;
    const costly = await direct(key, COSTLY);
    expect(costly.status).toBe(400);
    const limit = errorsOf(costly.body)![0];
    expect(limit.code).toBe('QUERY_LIMIT_EXCEEDED');
    expect(errorsOf(await stitched(key, COSTLY))).toEqual([{ ...limit, path: ['orders'] }]);

    // Past the rate limit (40 a minute in this file): RATE_LIMITED with its retry time.
    const limited = await newKey();
    for (let i = 0; i < 40; i++)
      expect((await direct(limited, '{ webhookEndpoints { id } }')).status).toBe(200);
    const refused = await direct(limited, '{ webhookEndpoints { id } }');
    expect(refused.status).toBe(429);
    const viaGatewayLimited = await stitched(limited, '{ webhookEndpoints { id } }');
    expect(errorsOf(viaGatewayLimited)).toEqual([
      { ...errorsOf(refused.body)![0], path: ['webhookEndpoints'] },
    ]);
    expect(viaGatewayLimited.errors![0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: expect.any(Number),
    });
  });
});

interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: { id: string } }[];
}

describe('introspection through the gateway', () => {
  it("keeps every remote type's descriptions, default values, deprecations and @specifiedBy URLs", async () => {
    const key = await newKey();
    const query = getIntrospectionQuery({ ...INTROSPECTION, descriptions: true });
    const viaGateway = (await stitched(key, query)).data as unknown as IntrospectionQuery;
    const straight = (await direct(key, query)).body.data as unknown as IntrospectionQuery;
    const byName = (schema: IntrospectionQuery) =>
      new Map(
        schema.__schema.types.filter((type) => !type.name.startsWith('__')).map((type) => [type.name, type]),
      );
    const gatewayTypes = byName(viaGateway);
    const remoteTypes = byName(straight);
    for (const [name, type] of remoteTypes) {
      const mine = gatewayTypes.get(name);
      if (name === 'Query' && mine && 'fields' in mine)
        // The gateway's Query adds its own field to the remote one's.
        expect({ ...mine, fields: mine.fields.filter((field) => field.name !== 'gateway') }).toEqual(type);
      else expect(mine, name).toEqual(type);
    }
    expect(gatewayTypes.get('Decimal')).toMatchObject({
      specifiedByURL: 'https://www.w3.org/TR/xmlschema11-2/#decimal',
    });
    const orders = (
      remoteTypes.get('Query') as unknown as {
        fields: { name: string; args: { name: string; defaultValue: string | null }[] }[];
      }
    ).fields.find((field) => field.name === 'orders');
    expect(orders?.args.find((arg) => arg.name === 'orderBy')?.defaultValue).toBe('CREATED_AT_DESC');
  });
});

describe('batched execution (batch: true)', () => {
  it('sends a document’s root fields as one request, and gives each field its own answer and error', async () => {
    const key = await newKey();
    await stitched(key, CREATE_TWO, {
      ok: order('USD', '7.25', 2, '14.50'),
      refused: order('USD', '1', 1, '2'),
    });
    const fields = {
      list: `list: orders(first: 1) { totalCount edges { node { total } } }`,
      hooks: `webhookEndpoints { id }`,
      missing: `missing: order(id: "order_01NOSUCHORDER0000000000000") { id }`,
      bad: `bad: webhookDeliveries(endpointId: "whep_x", first: 500) { edges { cursor } }`,
    };
    sent.length = 0;
    const together = await stitched(key, `{ ${Object.values(fields).join(' ')} gateway }`);
    expect(sent).toHaveLength(1);
    const separately = await Promise.all(Object.values(fields).map((field) => direct(key, `{ ${field} }`)));
    expect(together.data).toEqual({
      ...Object.assign({}, ...separately.map((answer) => answer.body.data)),
      gateway: 'platform-gateway',
    });
    expect(together.data).toMatchObject({
      list: { totalCount: 1, edges: [{ node: { total: '14.50' } }] },
      bad: null,
    });
    expect(errorsOf(together)).toEqual(separately.flatMap((answer) => errorsOf(answer.body) ?? []));
    expect(errorsOf(together)).toEqual([
      {
        message: 'Invalid request: first must be between 1 and 100',
        path: ['bad'],
        code: 'VALIDATION_ERROR',
      },
    ]);
  });
  it("a failure of the server's own code is reported on the field that met it, the others answered", async () => {
    const key = await newKey();
    const made = await stitched(key, CREATE_TWO, {
      ok: order('USD', '2', 1, '2'),
      refused: order('USD', '1', 1, '2'),
    });
    const id = (made.data as { ok: { order: { id: string } } }).ok.order.id;
    const DOCUMENT = `{ lost: order(id: "${id}") { id } orders(first: 1) { totalCount } webhookEndpoints { id } }`;
    await withFailingOrderService(t, 'getOrder', new Error('disk on fire'), async () => {
      const straight = (await direct(key, DOCUMENT)).body;
      sent.length = 0;
      const viaGateway = await stitched(key, DOCUMENT);
      expect(sent).toHaveLength(1);
      expect(viaGateway.data).toEqual(straight.data);
      expect(viaGateway.data).toEqual({ lost: null, orders: { totalCount: 1 }, webhookEndpoints: [] });
      expect(errorsOf(viaGateway)).toEqual(errorsOf(straight));
      expect(errorsOf(viaGateway)).toEqual([
        { message: expect.any(String), path: ['lost'], code: 'INTERNAL_ERROR' },
      ]);
      expect(JSON.stringify(viaGateway)).not.toContain('disk on fire');
    });
  });

  it('aliases every root field it batches, and the server counts those aliases toward its limit', async () => {
    const key = await newKey();
    // 12 aliases and 4 fields without one: within GRAPHQL_MAX_ALIASES (15) straight. Batched,
    // every root field goes as `_vN_<alias or name>: …`: 16 aliases, one too many (README,
    // "GraphQL over HTTP, and stock clients"). A gateway without batching sends it as written.
    const lookups = Array.from({ length: 12 }, (_, i) => `o${i}: order(id: "order_${i}") { id }`).join(' ');
    const document = `{ ${lookups} node(id: "order_x") { id } orderByNumber(orderNumber: "ORD-2020-0101-001") { id } orders(first: 1) { totalCount } webhookEndpoints { id } }`;
    const straight = await direct(key, document);
    expect(straight.status).toBe(200);
    expect(straight.body.errors).toBeUndefined();
    const viaGateway = await stitched(key, document);
    expect(errorsOf(viaGateway)?.[0]?.code).toBe('QUERY_LIMIT_EXCEEDED');
    expect(viaGateway.errors![0].extensions).toMatchObject({ limit: 'aliases' });
  });
});

describe('tenancy through the gateway', () => {
  it("forwards each caller's key: concurrent identical documents never answer with another workspace's orders", async () => {
    const keys = [await newKey(), await newKey()];
    const mine: string[][] = [];
    for (const key of keys) {
      const made = await stitched(key, CREATE_TWO, {
        ok: order('USD', '3', 1, '3'),
        refused: order('USD', '1', 1, '2'),
      });
      mine.push([(made.data as { ok: { order: { id: string } } }).ok.order.id]);
    }
    const LIST = `{ orders(first: 10) { totalCount edges { node { id } } } }`;
    sent.length = 0;
    // Identical documents at the same moment: an executor that deduplicated in-flight requests
    // without the key, or cached one caller's answer, would hand one workspace the other's.
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => stitched(keys[i % 2], LIST)));
    answers.forEach((answer, i) =>
      expect((answer.data as { orders: Page }).orders.edges.map((edge) => edge.node.id)).toEqual(mine[i % 2]),
    );
    expect(new Set(sent.map((request) => request.authorization))).toEqual(new Set(keys));
    // The other workspace's order is not found, through the gateway as straight.
    const other = await stitched(keys[0], `{ order(id: "${mine[1][0]}") { id } }`);
    expect(other).toEqual({ data: { order: null } });
    // Right after a keyed caller, the same document without a key, or with a wrong one, gets nothing.
    for (const authorization of ['', 'Bearer ogk_not_a_key']) {
      const stranger = await stitched(authorization, LIST);
      expect(stranger.data).toBeNull();
      expect(errorsOf(stranger)?.map((error) => error.code)).toEqual(['UNAUTHENTICATED']);
    }
  });
});
