/**
 * Branches no other test ran, found with @vitest/coverage-v8 (README, "Coverage"), each reached
 * the way a client reaches it, through GraphQL or REST, and checked by what the client sees.
 *
 * - `orders(first:, last:)` together, `first` with `before`, and `last` with `after`: the Relay
 *   connection spec's combinations (ApplyCursorsToEdges, then `first`, then `last`; pageInfo from
 *   the edges between the cursors). A Relay pagination container whose count has a default sends
 *   both `first` and `last`; only `last` alone and `first` alone were tried before.
 * - Two `Idempotency-Key` fields on one create, as a proxy or a client library that adds its own
 *   may send: Node joins them into one value (`a, b`), which is no key (it holds a space), so the
 *   create is 422 naming `idempotency_key` and nothing is written, over a real socket and
 *   through Fastify's inject alike (both join the two; the route's `Array.isArray` case of the
 *   header never runs, and this pins what the joined value gets).
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';

const t = useTestApp();

const PAGE = `query Page($filter: OrderFilter, $first: Int, $after: String, $last: Int, $before: String) {
  orders(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { customerId notes } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

type Page = {
  edges: { cursor: string; node: { customerId: string; notes: string } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
};

async function page(variables: Record<string, unknown>): Promise<{ notes: string[]; pageInfo: Page['pageInfo']; cursors: string[] }> {
  const res = await t.gql(PAGE, { filter: { customerId: 'relay-combo' }, ...variables });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ data: { orders: Page }; errors?: unknown }>();
  expect(body.errors, res.body).toBeUndefined();
  const { orders } = body.data;
  return {
    notes: orders.edges.map((edge) => edge.node.notes),
    pageInfo: orders.pageInfo,
    cursors: orders.edges.map((edge) => edge.cursor),
  };
}

/** Newest first: o5, o4, o3, o2, o1. */
let all: { notes: string[]; cursors: string[] };

beforeAll(async () => {
  for (let i = 1; i <= 5; i++) {
    const res = await t.rest.post('/api/orders', {
      customer_id: 'relay-combo',
      items: [{ product_id: 'p', quantity: 1, price: i }],
      total: i,
      notes: `o${i}`,
    });
    expect(res.statusCode, res.body).toBe(201);
  }
  all = await page({ first: 10 });
  expect(all.notes).toStrictEqual(['o5', 'o4', 'o3', 'o2', 'o1']);
});

describe('GraphQL orders: the Relay argument combinations', () => {
  it('first and last: the last `last` of the first `first`, with a previous page among those left out', async () => {
    const got = await page({ first: 3, last: 2 });
    expect(got.notes).toStrictEqual(['o4', 'o3']);
    expect(got.pageInfo).toStrictEqual({
      hasNextPage: true,
      hasPreviousPage: true,
      startCursor: all.cursors[1],
      endCursor: all.cursors[2],
    });
    // `last` as large as the page: nothing left out, so no previous page.
    const whole = await page({ first: 2, last: 5 });
    expect(whole.notes).toStrictEqual(['o5', 'o4']);
    expect(whole.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it('first with before: the first orders of those before the cursor; hasNextPage only when more lie before it', async () => {
    const got = await page({ first: 2, before: all.cursors[3] });
    expect(got.notes).toStrictEqual(['o5', 'o4']);
    expect(got.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const upTo = await page({ first: 3, before: all.cursors[3] });
    expect(upTo.notes).toStrictEqual(['o5', 'o4', 'o3']);
    expect(upTo.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('last with after: the last orders of those after the cursor, the end of the list', async () => {
    const got = await page({ last: 2, after: all.cursors[0] });
    expect(got.notes).toStrictEqual(['o2', 'o1']);
    expect(got.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const rest = await page({ last: 4, after: all.cursors[0] });
    expect(rest.notes).toStrictEqual(['o4', 'o3', 'o2', 'o1']);
    expect(rest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('first, last and before together name each bad argument, and nothing else is read', async () => {
    const res = await t.gql(PAGE, { first: 2, last: 101, before: 'not-a-cursor' });
    expect(res.json()).toMatchObject({
      data: null,
      errors: [
        {
          extensions: {
            code: 'VALIDATION_ERROR',
            fields: [
              { path: ['last'], message: 'must be between 1 and 100' },
              { path: ['before'], message: 'is not a cursor from this API' },
            ],
          },
        },
      ],
    });
  });
});

describe('REST create with two Idempotency-Key fields', () => {
  const body = { customer_id: 'two-keys', items: [{ product_id: 'p', quantity: 1, price: '3.00' }], total: '3.00' };
  let base = '';
  beforeAll(async () => {
    await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  });
  // The server stops with the app (useTestApp closes it after the file).

  /** A POST over a real socket that sends each of `keys` as its own Idempotency-Key line. */
  function postWithKeys(keys: string[]): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${base}/api/orders`,
        { method: 'POST', headers: { authorization: t.auth, 'content-type': 'application/json', 'idempotency-key': keys } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }

  const refusal = {
    success: false,
    error: {
      code: 'VALIDATION_ERROR',
      message: 'Invalid request: idempotency_key must be 1 to 255 visible ASCII characters',
      details: [{ field: 'idempotency_key', message: 'must be 1 to 255 visible ASCII characters' }],
      request_id: expect.any(String),
    },
  };

  it('is 422 naming idempotency_key, over a socket and through inject, and creates nothing', async () => {
    const socket = await postWithKeys(['key-a', 'key-b']);
    expect(socket.status, socket.body).toBe(422);
    expect(JSON.parse(socket.body)).toStrictEqual(refusal);
    const injected = await t.app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { authorization: t.auth, 'content-type': 'application/json', 'idempotency-key': ['key-a', 'key-b'] },
      payload: JSON.stringify(body),
    });
    expect(injected.statusCode, injected.body).toBe(422);
    expect(injected.json()).toStrictEqual(refusal);
    expect(await t.db.count('orders', "customer_id = 'two-keys'")).toBe(0);
    expect(await t.db.count('idempotency_keys')).toBe(0);
    // Either key alone is a key: the caller fixes the request and retries.
    const fixed = await t.rest.post('/api/orders', body, { headers: { 'idempotency-key': 'key-a' } });
    expect(fixed.statusCode, fixed.body).toBe(201);
    expect(await t.db.count('orders', "customer_id = 'two-keys'")).toBe(1);
  });
});
