/**
 * Conditional requests on the REST shim, as clients that follow RFC 9110/9111 make them, with
 * tools other people wrote:
 *
 * - http-cache-semantics (got's and npm's cache rules): an order's answer is never stored, even
 *   by a private cache, so no standard cache serves a stale order; a client that keeps its copy
 *   itself revalidates with `If-None-Match`, and the library judges the answer: a 304 means
 *   "still the same", a 200 after an update means "modified";
 * - undici's cache interceptor (Node's fetch engine) as a shared cache in front of the API:
 *   two workspaces never see each other's order, and an update is seen on the next read;
 * - curl, for the bytes of a 304 (no body);
 * - two clients that read one version and both update it (the "lost update"): with `If-Match`
 *   the second is 412 `PRECONDITION_FAILED` with the current `ETag` and changes nothing, also
 *   when both are sent at once; GraphQL's `expectedVersion` is the same guard.
 *
 * Only 127.0.0.1; the server and the agent are closed at the end.
 */
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import CachePolicy from 'http-cache-semantics';
import { Agent, fetch as undiciFetch, interceptors } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const run = promisify(execFile);

let t: TestApp;
let base = '';
let acme = '';
let globex = '';
const sharedCache = new Agent().compose(interceptors.cache({ type: 'shared', methods: ['GET', 'HEAD'] }));

beforeAll(async () => {
  t = await createTestApp();
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  acme = await t.bearer('acme');
  globex = await t.bearer('globex');
});
afterAll(async () => {
  await sharedCache.close();
  await t?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

async function call(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  dispatcher?: Agent | ReturnType<Agent['compose']>,
): Promise<Answer> {
  const res = await undiciFetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: Object.fromEntries(res.headers), text };
}

async function createOrder(notes = 'as created'): Promise<{ id: string; etag: string }> {
  const res = await call(
    'POST',
    '/api/orders',
    { authorization: acme },
    {
      customer_id: 'contact_conditional',
      items: [{ product_id: 'p1', quantity: 1, price: '5.00' }],
      total: '5.00',
      notes,
    },
  );
  expect(res.status, res.text).toBe(201);
  return { id: (JSON.parse(res.text) as { data: { id: string } }).data.id, etag: res.headers.etag ?? '' };
}

/** A client's copy of an answer, judged by http-cache-semantics' rules (as a private cache judges it). */
function keep(path: string, headers: Record<string, string>, answer: Answer) {
  const request = { method: 'GET', url: path, headers };
  return { request, policy: new CachePolicy(request, answer, { shared: false }) };
}

describe('validators on an order', () => {
  it('create, read and update name the order’s version as a strong ETag; the list has none', async () => {
    const { id, etag } = await createOrder();
    expect(etag).toBe('"1"');
    const read = await call('GET', `/api/orders/${id}`, { authorization: acme });
    expect(read.headers.etag).toBe('"1"');
    // Still no-store: nothing that holds a workspace's order is kept by a cache (README, "Behind a CDN").
    expect(read.headers['cache-control']).toBe('no-store');
    expect(
      new CachePolicy({ method: 'GET', url: `/api/orders/${id}`, headers: { authorization: acme } }, read, {
        shared: true,
      }).storable(),
    ).toBe(false);
    const updated = await call('PUT', `/api/orders/${id}`, { authorization: acme }, { notes: 'changed' });
    expect(updated.status).toBe(200);
    expect(updated.headers.etag).toBe('"2"');
    // A change that changes nothing keeps the version, and so the tag.
    const same = await call('PUT', `/api/orders/${id}`, { authorization: acme }, { notes: 'changed' });
    expect(same.headers.etag).toBe('"2"');
    const list = await call('GET', '/api/orders?customer_id=contact_conditional', { authorization: acme });
    expect(list.status).toBe(200);
    expect(list.headers.etag).toBeUndefined();
    // The bodies are the REST shim's as before: the version is a header, never a new field.
    expect(Object.keys(JSON.parse(read.text).data)).not.toContain('version');
    expect(Object.keys(JSON.parse(updated.text).data)).not.toContain('version');
  });

  it('a client revalidating its own copy gets 304 without a body while the order is unchanged, and the new order after an update', async () => {
    const { id } = await createOrder();
    const path = `/api/orders/${id}`;
    const headers = { authorization: acme };
    const first = await call('GET', path, headers);
    const copy = keep(path, headers, first);
    // The answer is no-store, so a standard cache keeps nothing and never asks for a 304 on its own:
    // it cannot serve a stale order. A client that keeps its copy itself names the tag it holds.
    expect(copy.policy.storable()).toBe(false);
    expect(copy.policy.revalidationHeaders(copy.request)['if-none-match']).toBeUndefined();
    const revalidation = { ...headers, 'if-none-match': first.headers.etag ?? '' };
    expect(revalidation['if-none-match']).toBe('"1"');

    const unchanged = await call('GET', path, revalidation);
    expect(unchanged.status).toBe(304);
    expect(unchanged.text).toBe('');
    expect(unchanged.headers.etag).toBe('"1"');
    expect(unchanged.headers['cache-control']).toBe('no-store');
    expect(copy.policy.revalidatedPolicy(copy.request, unchanged).modified).toBe(false);

    await call('PUT', path, headers, { status: 'paid' });
    const changed = await call('GET', path, revalidation);
    expect(changed.status).toBe(200);
    expect(JSON.parse(changed.text).data.status).toBe('paid');
    expect(copy.policy.revalidatedPolicy(copy.request, changed).modified).toBe(true);

    // Weak comparison for If-None-Match (RFC 9110 §13.1.2), a list, and a tag of no version of ours.
    expect((await call('GET', path, { ...headers, 'if-none-match': 'W/"2"' })).status).toBe(304);
    expect((await call('GET', path, { ...headers, 'if-none-match': '"1", "2"' })).status).toBe(304);
    expect((await call('GET', path, { ...headers, 'if-none-match': '"abc"' })).status).toBe(200);
    expect((await call('HEAD', path, { ...headers, 'if-none-match': '"2"' })).status).toBe(304);
  });

  it('a tag never tells another workspace, or a caller without a key, that an order exists', async () => {
    const { id } = await createOrder();
    for (const authorization of [globex, 'Bearer ogk_nope']) {
      const res = await call('GET', `/api/orders/${id}`, { authorization, 'if-none-match': '"1"' });
      expect(res.status).toBe(authorization === globex ? 404 : 401);
      expect(res.headers.etag).toBeUndefined();
      const put = await call(
        'PUT',
        `/api/orders/${id}`,
        { authorization, 'if-match': '"9"' },
        { notes: 'x' },
      );
      expect(put.status).toBe(authorization === globex ? 404 : 401);
      expect(put.headers.etag).toBeUndefined();
    }
  });

  it('a 304 is sent by the server as bytes with no body (curl)', async () => {
    const { id } = await createOrder();
    const { stdout } = await run('curl', [
      '-sS',
      '-i',
      '--max-time',
      '20',
      '-H',
      `authorization: ${acme}`,
      '-H',
      'if-none-match: "1"',
      `${base}/api/orders/${id}`,
    ]);
    const [head, body] = stdout.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 304 /);
    expect(head).toMatch(/\r\netag: "1"\r\n/i);
    expect(head).not.toMatch(/content-length: [1-9]/i);
    expect(body).toBe('');
  });
});

describe('a shared cache in front (undici’s cache interceptor)', () => {
  it('never hands one workspace’s order to another, and shows an update on the next read', async () => {
    const { id } = await createOrder('before');
    const path = `/api/orders/${id}`;
    const first = await call('GET', path, { authorization: acme }, undefined, sharedCache);
    expect(JSON.parse(first.text).data.notes).toBe('before');
    expect((await call('GET', path, { authorization: globex }, undefined, sharedCache)).status).toBe(404);
    expect((await call('GET', path, {}, undefined, sharedCache)).status).toBe(401);
    await call('PUT', path, { authorization: acme }, { notes: 'after' });
    const again = await call('GET', path, { authorization: acme }, undefined, sharedCache);
    expect(JSON.parse(again.text).data.notes).toBe('after');
    expect(again.headers.etag).toBe('"2"');
  });
});

describe('lost updates', () => {
  it('two clients read version 1 and both update with If-Match: the second is 412 with the current ETag and changes nothing', async () => {
    const { id } = await createOrder();
    const path = `/api/orders/${id}`;
    const a = await call('GET', path, { authorization: acme });
    const b = await call('GET', path, { authorization: acme });
    const first = await call(
      'PUT',
      path,
      { authorization: acme, 'if-match': a.headers.etag ?? '' },
      { notes: 'from A', metadata: { by: 'A' } },
    );
    expect(first.status).toBe(200);
    expect(first.headers.etag).toBe('"2"');
    const second = await call(
      'PUT',
      path,
      { authorization: acme, 'if-match': b.headers.etag ?? '' },
      { notes: 'from B' },
    );
    expect(second.status).toBe(412);
    expect(JSON.parse(second.text)).toMatchObject({ success: false, error: { code: 'PRECONDITION_FAILED' } });
    expect(second.headers.etag).toBe('"2"');
    expect(second.headers['cache-control']).toBe('no-store');
    const now = await call('GET', path, { authorization: acme });
    expect(JSON.parse(now.text).data.notes).toBe('from A');
    // B reads again and retries with the tag it was told.
    const retried = await call(
      'PUT',
      path,
      { authorization: acme, 'if-match': second.headers.etag ?? '' },
      { notes: 'from B' },
    );
    expect(retried.status).toBe(200);
    expect(retried.headers.etag).toBe('"3"');
  });

  it('of two updates sent at once with the same If-Match, exactly one wins', async () => {
    const { id } = await createOrder();
    const path = `/api/orders/${id}`;
    const answers = await Promise.all(
      ['one', 'two', 'three'].map((notes) =>
        call('PUT', path, { authorization: acme, 'if-match': '"1"' }, { notes }),
      ),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 412, 412]);
    const winner = answers.find((answer) => answer.status === 200);
    const now = await call('GET', path, { authorization: acme });
    expect(now.headers.etag).toBe('"2"');
    expect(JSON.parse(now.text).data.notes).toBe(JSON.parse(winner?.text ?? '{}').data.notes);
  });

  it('If-Match compares strongly; a failed condition wins over a bad body; a holding one lets the usual answers through', async () => {
    const { id } = await createOrder();
    const path = `/api/orders/${id}`;
    const headers = { authorization: acme };
    expect((await call('PUT', path, { ...headers, 'if-match': 'W/"1"' }, { notes: 'weak' })).status).toBe(
      412,
    );
    expect((await call('PUT', path, { ...headers, 'if-match': '"7"' }, { notes: 123 })).status).toBe(412);
    const invalid = await call('PUT', path, { ...headers, 'if-match': '"1"' }, { notes: 123 });
    expect(invalid.status).toBe(422);
    const move = await call('PUT', path, { ...headers, 'if-match': '"0", "1"' }, { status: 'delivered' });
    expect(move.status).toBe(409);
    const read = await call('GET', path, headers);
    expect(read.headers.etag).toBe('"1"');
    expect(JSON.parse(read.text).data).toMatchObject({ notes: 'as created', status: 'pending' });
    expect((await call('PUT', path, { ...headers, 'if-match': '*' }, { notes: 'star' })).headers.etag).toBe(
      '"2"',
    );
  });

  it('GraphQL: Order.version, and updateOrder’s expectedVersion refuses a stale write in userErrors', async () => {
    const { id } = await createOrder();
    const gql = async (query: string, variables: Record<string, unknown>) => {
      const res = await call('POST', '/graphql', { authorization: acme }, { query, variables });
      expect(res.status, res.text).toBe(200);
      return JSON.parse(res.text).data;
    };
    const UPDATE = `mutation($id: ID!, $v: Int, $notes: String) {
      updateOrder(id: $id, input: { notes: $notes }, expectedVersion: $v) { order { notes version } userErrors { field code } }
    }`;
    expect((await gql('query($id: ID!) { order(id: $id) { version } }', { id })).order.version).toBe(1);
    expect((await gql(UPDATE, { id, v: 1, notes: 'first' })).updateOrder).toEqual({
      order: { notes: 'first', version: 2 },
      userErrors: [],
    });
    expect((await gql(UPDATE, { id, v: 1, notes: 'stale' })).updateOrder).toEqual({
      order: null,
      userErrors: [{ field: ['expectedVersion'], code: 'PRECONDITION_FAILED' }],
    });
    expect((await gql(UPDATE, { id, v: null, notes: 'unguarded' })).updateOrder.order).toEqual({
      notes: 'unguarded',
      version: 3,
    });
  });
});
