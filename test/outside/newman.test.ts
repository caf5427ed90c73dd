/**
 * A QA team's Postman collections, run by newman (its Node API) against a listening gateway, as
 * that team runs them in CI with an environment of a base URL and keys:
 *
 * - the collection a team starting out generates from the served /openapi.json with
 *   openapi-to-postmanv2 (its default options): each request must be answered as the document says;
 * - the team's own regression collection, test/fixtures/postman/orders-regression.postman_collection.json,
 *   whose Postman test scripts chain the created order's id, number and next cursor into later
 *   requests: create, get, list (filters, cursor and offset pages, by number), update, every allowed
 *   status move, a forbidden one, an Idempotency-Key replayed and reused, and the error cases. Its
 *   collection-level script checks every answer: X-Request-Id, JSON, no cookie, no redirect.
 *
 * newman sends what Postman sends (Postman-Token, Cache-Control: no-cache, Accept: *\/*,
 * Accept-Encoding: gzip, deflate, br, a cookie jar, redirects followed), and the body modes a
 * user picks: raw Text (text/plain), form-data, urlencoded, a body on GET and DELETE.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import newman, { type NewmanRunOptions, type NewmanRunSummary } from 'newman';
import { convertV2, type Options } from 'openapi-to-postmanv2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const TIMEOUT = 180_000;
const COLLECTION = path.join(
  __dirname,
  '..',
  'fixtures',
  'postman',
  'orders-regression.postman_collection.json',
);

/** A collection as JSON (postman-collection's `CollectionDefinition`, as newman takes it). */
type CollectionDefinition = Extract<NewmanRunOptions['collection'], { item?: unknown }>;

type Doc = {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
};

let t: TestApp;
let base = '';
let apiKey = '';
let otherApiKey = '';
let doc: Doc;

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 1_000_000 });
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
  apiKey = (await t.bearer('newman-qa')).slice('Bearer '.length);
  otherApiKey = (await t.bearer('newman-other')).slice('Bearer '.length);
  doc = (await (await fetch(`${base}/openapi.json`)).json()) as Doc;
}, TIMEOUT);
afterAll(() => t?.close());

function run(
  collection: CollectionDefinition,
  environment: Record<string, string>,
): Promise<NewmanRunSummary> {
  return new Promise((resolve, reject) => {
    newman.run(
      {
        collection,
        envVar: Object.entries(environment).map(([key, value]) => ({ key, value })),
        reporters: [],
        timeoutRequest: 60_000,
      },
      (error, summary) => (error ? reject(error) : resolve(summary)),
    );
  });
}

function generate(options: Options): Promise<CollectionDefinition> {
  return new Promise((resolve, reject) => {
    // convertV2: the conversion Postman's own importer runs.
    convertV2({ type: 'json', data: doc }, options, (error, result) => {
      if (error) return reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
      if (!result?.result || !result.output?.[0])
        return reject(new Error(`openapi-to-postmanv2: ${result?.reason}`));
      resolve(result.output[0].data);
    });
  });
}

interface Answer {
  name: string;
  method: string;
  url: string;
  status: number;
  body: {
    success?: boolean;
    data?: unknown;
    error?: { code: string; details?: { field: string; message: string }[] };
  };
}

function answers(summary: NewmanRunSummary): Answer[] {
  return summary.run.executions.map((execution) => {
    const response = execution.response;
    if (!response)
      throw new Error(`${execution.item.name}: no answer (${JSON.stringify(summary.run.failures)})`);
    return {
      name: execution.item.name,
      method: execution.request.method,
      url: execution.request.url.getPath(),
      status: response.code,
      body: JSON.parse(response.stream?.toString() ?? 'null') as Answer['body'],
    };
  });
}

/** The document's operation for a request: its path template matched segment by segment. */
function operationOf(answer: Answer) {
  const segments = answer.url.split('/');
  for (const [template, methods] of Object.entries(doc.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    if (parts.every((part, i) => part.startsWith('{') || part === segments[i]))
      return methods[answer.method.toLowerCase()];
  }
  return undefined;
}

describe('the collection openapi-to-postmanv2 generates from /openapi.json', { timeout: TIMEOUT }, () => {
  const environment = () => ({ baseUrl: base, bearerToken: apiKey });

  it('with its default options (values faked from the schemas): each answer is one the document lists, none a 5xx', async () => {
    const sent = answers(await run(await generate({}), environment()));
    expect(sent).toHaveLength(4);
    for (const answer of sent) {
      const where = `${answer.method} ${answer.url}: ${answer.status} ${JSON.stringify(answer.body)}`;
      expect(Object.keys(operationOf(answer)?.responses ?? {}), where).toContain(String(answer.status));
      expect(answer.status, where).toBeLessThan(500);
    }
  });

  it("with Postman's 'Example' parameter generation: the document's examples answer as it says", async () => {
    const sent = answers(await run(await generate({ parametersResolution: 'Example' }), environment()));
    expect(sent.map((answer) => `${answer.method} ${answer.url}`).sort()).toStrictEqual([
      'GET /api/orders',
      'GET /api/orders/order_01JQ7Z8X9Y0ABCDEF123456789',
      'POST /api/orders',
      'PUT /api/orders/order_01JQ7Z8X9Y0ABCDEF123456789',
    ]);
    for (const answer of sent) {
      const operation = operationOf(answer);
      expect(Object.keys(operation?.responses ?? {}), `${answer.method} ${answer.url}`).toContain(
        String(answer.status),
      );
    }
    const by = (method: string, url: string) =>
      sent.find((answer) => answer.method === method && answer.url === url)!;
    // The create example, with the Idempotency-Key the generator makes up from the header's pattern
    // (visible ASCII, here with a backslash and a `;`), creates the order.
    expect(by('POST', '/api/orders')).toMatchObject({
      status: 201,
      body: { success: true, data: { total: 227 } },
    });
    // The example id names no order of this workspace.
    expect(by('GET', '/api/orders/order_01JQ7Z8X9Y0ABCDEF123456789')).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    expect(by('PUT', '/api/orders/order_01JQ7Z8X9Y0ABCDEF123456789')).toMatchObject({
      status: 404,
      body: { error: { code: 'NOT_FOUND' } },
    });
    // The generator turns on every optional parameter at once. Each has a valid example but two
    // cannot go together: `offset` and `cursor` (which has none: it is opaque, made by the server).
    const list = by('GET', '/api/orders');
    expect(list.status).toBe(422);
    expect(list.body.error?.details).toStrictEqual([
      { field: 'offset', message: 'cannot be combined with cursor: page by one or the other' },
    ]);
  });

  it('without the optional parameters, the list answers 200 and holds the created example', async () => {
    const sent = answers(
      await run(
        await generate({ parametersResolution: 'Example', enableOptionalParameters: false }),
        environment(),
      ),
    );
    const list = sent.find((answer) => answer.method === 'GET' && answer.url === '/api/orders')!;
    expect(list.status).toBe(200);
    expect((list.body.data as unknown[]).length).toBeGreaterThan(0);
  });
});

describe("the QA team's regression collection", { timeout: TIMEOUT }, () => {
  it('passes every Postman test, and the gateway holds what the collection saw', async () => {
    const collection = JSON.parse(fs.readFileSync(COLLECTION, 'utf8')) as CollectionDefinition;
    const summary = await run(collection, { baseUrl: base, apiKey, otherApiKey, wrongKey: 'ogk_not_a_key' });
    const failures = summary.run.failures.map(
      (failure) => `${failure.source?.name}: ${failure.error.message}`,
    );
    expect(failures).toStrictEqual([]);
    const sent = answers(summary);
    expect(sent).toHaveLength(collection.item?.length ?? 0);
    expect(summary.run.stats.assertions.total).toBeGreaterThan(100);

    // Created: the two orders of the run's customer and one per status chain, the replay none.
    const customer = (sent[0].body.data as { customer_id: string }).customer_id;
    const em = t.app.db.em.fork();
    const [row] = await em.execute<{ n: number; moves: number; refused: number }[]>(
      `select count(*) filter (where customer_id = ?)::int as n,
              count(*) filter (where customer_id = ?)::int as moves,
              count(*) filter (where customer_id in ('a', 'b', 'c'))::int as refused from orders`,
      [customer, `${customer}-moves`],
    );
    expect(row).toStrictEqual({ n: 2, moves: 7, refused: 0 });
  });
});
