/**
 * A team that never reads the server: it generates types from the served
 * `/openapi.json` with openapi-typescript, writes a program against them with
 * openapi-fetch, typechecks it strictly and runs it against a listening server.
 *
 * Then every body the program received is checked against the generated
 * types by the TypeScript compiler itself: each body becomes an object literal
 * typed as its operation's response for its status, so a field the types do
 * not name, a missing required one, a wrong literal (`success`, an error code
 * a status does not list) or a status the document does not list fails to
 * compile. This checks the types a client is given, not the document's JSON
 * Schema (which test/outside/openapi-responses.test.ts checks with openapi-backend).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const run = promisify(execFile);
/** A whole TypeScript program is checked in several tests: slow on a busy machine. */
const TYPECHECK_TIMEOUT = 120_000;

let t: TestApp;
let dir: string;
let baseUrl: string;
let auth: string;

/** The program a client team writes against the generated types (strict TypeScript, ES module). */
const CLIENT = String.raw`
import createClient from 'openapi-fetch';
import type { components, paths } from './api.js';

type Order = components['schemas']['Order'];
type Seen = { operation: string; status: number; headers: Record<string, string>; body: unknown };

const client = createClient<paths>({ baseUrl: process.env.BASE_URL!, headers: { Authorization: process.env.AUTH! } });
const stranger = createClient<paths>({ baseUrl: process.env.BASE_URL!, headers: { Authorization: 'Bearer ogk_not-a-key' } });
const seen: Seen[] = [];
function keep(operation: string, result: { response: Response; data?: unknown; error?: unknown }): void {
  seen.push({
    operation,
    status: result.response.status,
    headers: Object.fromEntries(result.response.headers),
    body: result.data ?? result.error,
  });
}
function fail(message: string): never {
  throw new Error(message);
}

const body = {
  customer_id: 'contact_typed',
  items: [
    { product_id: 'prod_001', name: 'Premium Widget', quantity: 2, price: 99.0, sku: 'WGT-PRE' },
    { product_id: 'prod_002', quantity: 1, price: '29.00' },
  ],
  total: 227,
  currency: 'usd',
  shipping_address: { name: 'John Doe', city: 'Jakarta', country: 'ID' },
  billing_address: null,
  notes: 'Please gift wrap this order',
  metadata: { source: 'typed-client', nested: { a: [1, 2] } },
};
const created = await client.POST('/api/orders', { params: { header: { 'idempotency-key': 'typed-client-1' } }, body });
keep('createOrder', created);
if (!created.data) fail('create: ' + JSON.stringify(created.error));
const order: Order = created.data.data;
if (created.response.headers.get('location') !== '/api/orders/' + order.id) fail('create: Location');

const replay = await client.POST('/api/orders', { params: { header: { 'idempotency-key': 'typed-client-1' } }, body });
keep('createOrder', replay);
if (replay.data?.data.id !== order.id) fail('replay: another order');

const reused = await client.POST('/api/orders', {
  params: { header: { 'idempotency-key': 'typed-client-1' } },
  body: { ...body, notes: 'another request' },
});
keep('createOrder', reused);
const mismatch = await client.POST('/api/orders', { body: { ...body, total: 1 } });
keep('createOrder', mismatch);
const invalid = await client.POST('/api/orders', { body: { ...body, items: [{ product_id: 'p', quantity: 0, price: 1 }], total: 0 } });
keep('createOrder', invalid);
const oversized = await client.POST('/api/orders', { body: { ...body, notes: 'x'.repeat(70_000) } });
keep('createOrder', oversized);
for (const result of [reused, mismatch, invalid, oversized]) {
  if (!result.error) fail('create: no error');
  // The error's code is narrowed to the codes of the statuses the operation lists.
  const code: 'INVALID_JSON' | 'UNAUTHORIZED' | 'IDEMPOTENCY_REQUEST_IN_PROGRESS' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE'
    | 'VALIDATION_ERROR' | 'TOTAL_MISMATCH' | 'IDEMPOTENCY_KEY_REUSED' | 'RATE_LIMITED' | 'INTERNAL_ERROR' | 'SERVICE_UNAVAILABLE' =
    result.error.error.code;
  if (result.error.success !== false || code.length === 0) fail('create: error envelope');
}

const read = await client.GET('/api/orders/{id}', { params: { path: { id: order.id } } });
keep('getOrder', read);
if (read.data?.data.order_number !== order.order_number) fail('get: another order');
const missing = await client.GET('/api/orders/{id}', { params: { path: { id: 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV' } } });
keep('getOrder', missing);
const odd = await client.GET('/api/orders/{id}', { params: { path: { id: 'not an id / at all?' } } });
keep('getOrder', odd);
const anonymous = await stranger.GET('/api/orders/{id}', { params: { path: { id: order.id } } });
keep('getOrder', anonymous);

const paid = await client.PUT('/api/orders/{id}', {
  params: { path: { id: order.id } },
  body: { status: 'paid', tracking_number: 'TRK-1', tracking_url: 'https://track.example/TRK-1', metadata: { source: null, step: 2 } },
});
keep('updateOrder', paid);
if (paid.data?.data.status !== 'paid') fail('update: not paid');
const nothing = await client.PUT('/api/orders/{id}', {
  params: { path: { id: order.id } },
  body: { status: null, notes: null, shipping_address: null, metadata: null, tracking_number: null, tracking_url: null },
});
keep('updateOrder', nothing);
const cancelled = await client.PUT('/api/orders/{id}', { params: { path: { id: order.id } }, body: { status: 'cancelled' } });
keep('updateOrder', cancelled);
const moved = await client.PUT('/api/orders/{id}', { params: { path: { id: order.id } }, body: { status: 'shipped' } });
keep('updateOrder', moved);
const notThere = await client.PUT('/api/orders/{id}', { params: { path: { id: 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV' } }, body: {} });
keep('updateOrder', notThere);
const badStatus = await client.PUT('/api/orders/{id}', { params: { path: { id: order.id } }, body: { tracking_url: 'x'.repeat(3000) } });
keep('updateOrder', badStatus);

const list = await client.GET('/api/orders', {
  params: { query: { customer_id: 'contact_typed', status: 'cancelled', min_total: '100.00', max_total: '1000', limit: 1, sort: 'updated_at', updated_since: '2000-01-01T00:00:00Z', from: '2000-01-01', search: order.order_number } },
});
keep('listOrders', list);
if (list.data?.data[0]?.id !== order.id) fail('list: not found');
let cursor = list.data.pagination.next_cursor;
const pages = [list.data.data.length];
const more = await client.POST('/api/orders', { body: { ...body, notes: 'second' } });
keep('createOrder', more);
const all = await client.GET('/api/orders', { params: { query: { customer_id: 'contact_typed', limit: 1 } } });
keep('listOrders', all);
cursor = all.data?.pagination.next_cursor ?? null;
while (cursor !== null) {
  const page = await client.GET('/api/orders', { params: { query: { customer_id: 'contact_typed', limit: 1, cursor } } });
  keep('listOrders', page);
  if (!page.data) fail('page: ' + JSON.stringify(page.error));
  pages.push(page.data.data.length);
  cursor = page.data.pagination.next_cursor;
}
const byNumber = await client.GET('/api/orders', { params: { query: { order_number: order.order_number, offset: 0 } } });
keep('listOrders', byNumber);
const badQuery = await client.GET('/api/orders', { params: { query: { limit: 1000 } } });
keep('listOrders', badQuery);

process.stdout.write(JSON.stringify({ seen, pages }));
`;

function typecheck(files: string[]): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    typeRoots: [path.join(dir, 'node_modules', '@types')],
    skipLibCheck: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

/** Each body as an object literal of its operation's response type for its status. */
function bodyChecks(seen: { operation: string; status: number; body: unknown }[]): string {
  return [
    `import type { operations } from './api.js';`,
    `type Body<O extends keyof operations, S> = S extends keyof operations[O]['responses'] ? operations[O]['responses'][S] extends { content: { 'application/json': infer B } } ? B : 'no JSON body for ' : 'status not listed';`,
    ...seen.map(
      (s, i) => `export const body${i}: Body<'${s.operation}', ${s.status}> = ${JSON.stringify(s.body)};`,
    ),
  ].join('\n');
}

beforeAll(async () => {
  t = await createTestApp({ bodyLimit: 65_536 });
  auth = await t.bearer();
  await t.app.http.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(tmpdir(), 'typed-client-'));
  await symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir');

  const { default: openapiTS, astToString } = await import('openapi-typescript');
  const document = await (await fetch(`${baseUrl}/openapi.json`)).text();
  await writeFile(path.join(dir, 'api.d.ts'), astToString(await openapiTS(document)));
  await writeFile(path.join(dir, 'client.mts'), CLIENT);
});
afterAll(async () => {
  await t?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a client generated by openapi-typescript, called with openapi-fetch', () => {
  let seen: { operation: string; status: number; headers: Record<string, string>; body: unknown }[] = [];
  let pages: number[] = [];

  it(
    'typechecks strictly',
    () => {
      expect(typecheck([path.join(dir, 'client.mts')])).toStrictEqual([]);
    },
    TYPECHECK_TIMEOUT,
  );

  it(
    'runs against the server: every call is accepted or refused as the types say',
    async () => {
      const js = ts.transpileModule(CLIENT, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      await writeFile(path.join(dir, 'client.mjs'), js);
      const { stdout } = await run(process.execPath, [path.join(dir, 'client.mjs')], {
        env: { ...process.env, BASE_URL: baseUrl, AUTH: auth },
        timeout: 30_000,
      });
      ({ seen, pages } = JSON.parse(stdout) as { seen: typeof seen; pages: number[] });
      expect(seen.map((s) => `${s.operation} ${s.status}`)).toStrictEqual([
        'createOrder 201',
        'createOrder 201',
        'createOrder 422',
        'createOrder 422',
        'createOrder 422',
        'createOrder 413',
        'getOrder 200',
        'getOrder 404',
        'getOrder 404',
        'getOrder 401',
        'updateOrder 200',
        'updateOrder 200',
        'updateOrder 200',
        'updateOrder 409',
        'updateOrder 404',
        'updateOrder 422',
        'listOrders 200',
        'createOrder 201',
        'listOrders 200',
        'listOrders 200',
        'listOrders 200',
        'listOrders 422',
      ]);
      expect(pages).toStrictEqual([1, 1]);
    },
    TYPECHECK_TIMEOUT,
  );

  it(
    'every body it received is of the generated type for its operation and status',
    async () => {
      expect(seen.length).toBeGreaterThan(0);
      await writeFile(path.join(dir, 'bodies.mts'), bodyChecks(seen));
      expect(typecheck([path.join(dir, 'bodies.mts')])).toStrictEqual([]);
    },
    TYPECHECK_TIMEOUT,
  );

  it(
    'the headers the server always sends are required in the types: X-Request-Id, X-RateLimit-*, Location, Retry-After, WWW-Authenticate',
    async () => {
      const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      };
      const lines = [`import type { operations } from './api.js';`];
      lines.push(
        `type H<O extends keyof operations, S extends keyof operations[O]['responses']> = operations[O]['responses'][S] extends { headers: infer T } ? T : never;`,
      );
      for (const item of Object.values(doc.paths)) {
        for (const { operationId, responses } of Object.values(item)) {
          for (const status of Object.keys(responses)) {
            const promised = [
              ['X-Request-Id', 'string'],
              // A 503 of load shedding refuses before the rate limiter counts, so it may come without them.
              ...(status === '503'
                ? []
                : [
                    ['X-RateLimit-Limit', 'number'],
                    ['X-RateLimit-Remaining', 'number'],
                    ['X-RateLimit-Reset', 'number'],
                  ]),
              ...(status === '201' ? [['Location', 'string']] : []),
              ...(status === '401' ? [['WWW-Authenticate', 'string']] : []),
              ...(status === '429' || status === '503' ? [['Retry-After', 'number']] : []),
            ];
            for (const [name, type] of promised)
              lines.push(
                `export const h${lines.length}: ${type} = ({} as H<'${operationId}', ${status}>)['${name}'];`,
              );
          }
        }
      }
      await writeFile(path.join(dir, 'headers.mts'), lines.join('\n'));
      expect(typecheck([path.join(dir, 'headers.mts')])).toStrictEqual([]);
      // And the server sends them: every response the client got carries its status's promised headers.
      for (const s of seen) {
        const names = ['x-request-id', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
        if (s.status === 201) names.push('location');
        if (s.status === 401) names.push('www-authenticate');
        for (const name of names) expect(s.headers[name], `${s.operation} ${s.status} ${name}`).toBeDefined();
      }
    },
    TYPECHECK_TIMEOUT,
  );

  it(
    'answers that belong to no operation are named in the document, and are its ErrorEnvelope',
    async () => {
      const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as {
        info: { description: string };
      };
      const answers = [
        await fetch(`${baseUrl}/api/nope`, { headers: { authorization: auth } }),
        await fetch(`${baseUrl}/api/orders/x`, { method: 'DELETE', headers: { authorization: auth } }),
        // A path that is not percent-encoded UTF-8: refused before any route (openapi-fetch never sends
        // one, but a hand-built URL does).
        await fetch(`${baseUrl}/api/orders/%E0%A4%A`, { headers: { authorization: auth } }),
        // Headers over Node's limit: refused before there is a request.
        await fetch(`${baseUrl}/api/orders`, {
          headers: { authorization: auth, 'x-padding': 'x'.repeat(20_000) },
        }),
      ];
      const seenHere = await Promise.all(
        answers.map(async (res) => ({
          status: res.status,
          body: (await res.json()) as { error: { code: string } },
        })),
      );
      expect(seenHere.map((a) => `${a.status} ${a.body.error.code}`)).toStrictEqual([
        '404 NOT_FOUND',
        '405 METHOD_NOT_ALLOWED',
        '400 INVALID_JSON',
        '431 HEADERS_TOO_LARGE',
      ]);
      // 408 REQUEST_TIMEOUT is the same kind of answer (Node's, for a request that does not arrive in time).
      for (const named of [
        ...seenHere.map((a) => `${a.status} \`${a.body.error.code}\``),
        '408 `REQUEST_TIMEOUT`',
      ])
        expect(doc.info.description).toContain(named);
      await writeFile(
        path.join(dir, 'outside.mts'),
        [
          `import type { components } from './api.js';`,
          ...seenHere.map(
            (a, i) =>
              `export const e${i}: components['schemas']['ErrorEnvelope'] = ${JSON.stringify(a.body)};`,
          ),
        ].join('\n'),
      );
      expect(typecheck([path.join(dir, 'outside.mts')])).toStrictEqual([]);
    },
    TYPECHECK_TIMEOUT,
  );

  it(
    'the check can fail: bodies the types do not allow do not compile',
    async () => {
      const order = seen.find((s) => s.operation === 'getOrder' && s.status === 200)!.body as {
        data: object;
      };
      const notFound = seen.find((s) => s.operation === 'getOrder' && s.status === 404)!.body as {
        error: object;
      };
      await writeFile(
        path.join(dir, 'wrong.mts'),
        bodyChecks([
          { operation: 'getOrder', status: 200, body: { ...order, data: { ...order.data, extra: 1 } } },
          { operation: 'getOrder', status: 200, body: { ...order, data: { ...order.data, status: 'lost' } } },
          {
            operation: 'getOrder',
            status: 404,
            body: { ...notFound, error: { ...notFound.error, code: 'VALIDATION_ERROR' } },
          },
          { operation: 'getOrder', status: 422, body: notFound },
        ]),
      );
      const errors = typecheck([path.join(dir, 'wrong.mts')]);
      expect(errors).toHaveLength(4);
    },
    TYPECHECK_TIMEOUT,
  );
});
