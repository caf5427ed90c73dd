/**
 * A frontend team's GraphQL Code Generator set-up (README, "GraphQL Code
 * Generator"): types generated from the committed schema.graphql and the
 * documents in test/fixtures/codegen/operations.graphql, a client program
 * (graphql-request) that `tsc` checks against them, and the same documents
 * run against a live server, every answer checked against the generated types:
 * non-null fields are never null, enums hold their listed values, Decimal and
 * DateTime have the forms the README maps to `string`.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { generate, loadCodegenConfig } from '@graphql-codegen/cli';
import { buildSchema, parse, type GraphQLSchema } from 'graphql';
import { ClientError } from 'graphql-request';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeOrder, documentOf, explain, ordersApi, ordersFeed } from '../fixtures/codegen/client';
import config from '../fixtures/codegen/codegen';
import { createTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/nats';
import { responseMismatches } from '../support/response-shape';
import { startReceiver, type Receiver } from '../support/webhook-receiver';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/codegen');
const GENERATED = path.join(FIXTURE, 'generated/graphql.ts');
const schema: GraphQLSchema = buildSchema(fs.readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));

/** What `tsc --strict --noEmit` says about a file and what it imports. */
function diagnosticsOf(file: string): string[] {
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    esModuleInterop: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

/** The problems of one answer against the generated types of its operation. */
const mismatches = (operation: string, data: unknown) =>
  responseMismatches(schema, parse(documentOf(operation)), data, operation);

describe('GraphQL Code Generator, configured as the README says', () => {
  it('generates the committed types from schema.graphql and the documents', async () => {
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
      const [output] = await generate({ ...config, silent: true, verbose: false }, false);
      expect(output?.filename).toBe('test/fixtures/codegen/generated/graphql.ts');
      expect(output?.content, 'run `npx graphql-codegen --config test/fixtures/codegen/codegen.ts`').toBe(
        fs.readFileSync(GENERATED, 'utf8'),
      );
    } finally {
      process.chdir(cwd);
    }
  }, 30_000);

  it("the README's codegen.ts, as written, generates types that tsc accepts", async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('#### GraphQL Code Generator'));
    const source = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(source, 'a ```ts block with codegen.ts under "GraphQL Code Generator"').toBeDefined();
    // Loaded as the CLI loads a codegen.ts (`graphql-codegen --config codegen.ts`).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-codegen-'));
    fs.writeFileSync(path.join(dir, 'codegen.ts'), source!);
    const readmeConfig = (await loadCodegenConfig({ configFilePath: path.join(dir, 'codegen.ts') })).config;
    const [target] = Object.values(readmeConfig.generates);
    const cwd = process.cwd();
    process.chdir(ROOT);
    let content: string;
    try {
      // The README's configuration, with this fixture's documents and output path.
      const outputs = await generate(
        {
          ...readmeConfig,
          documents: 'test/fixtures/codegen/operations.graphql',
          generates: { 'readme.ts': target },
          silent: true,
          verbose: false,
        },
        false,
      );
      content = outputs[0]!.content;
    } finally {
      process.chdir(cwd);
    }
    const file = path.join(dir, 'graphql.ts');
    fs.writeFileSync(file, content);
    try {
      expect(diagnosticsOf(file)).toStrictEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('tsc --strict accepts the client program against the generated types', () => {
    expect(diagnosticsOf(path.join(FIXTURE, 'client.ts'))).toStrictEqual([]);
  }, 60_000);
});

describe('the typed documents against a live server', () => {
  let t: TestApp;
  let url: string;
  let api: ReturnType<typeof ordersApi>;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp({
      webhookAllowPrivateNetworks: true,
      eventsPollIntervalMs: 100,
      webhookRetrySchedule: [100],
    });
    receiver = await startReceiver([500, 200]);
    await t.app.http.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}/graphql`;
    api = ordersApi(url, await t.bearer('codegen'));
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  const input = (total = '30.00') => ({
    customerId: 'contact_1',
    items: [{ productId: 'p1', name: 'Widget', quantity: 3, price: '10.00' }],
    total,
  });

  it('createOrder: the order, replayed false, no userErrors; a refusal: order null with typed codes', async () => {
    const created = await api.createOrder({
      input: {
        ...input('35.50'),
        shipping: 5.5,
        shippingAddress: { name: 'A', country: 'id' },
        metadata: { a: 1 },
      },
    });
    expect(mismatches('CreateOrder', created)).toStrictEqual([]);
    expect(created.createOrder).toMatchObject({ replayed: false, userErrors: [] });
    expect(describeOrder(created.createOrder.order!)).toMatch(
      /^ORD-\d{4}-\d{4}-\d{3} awaiting payment 35.50 USD since /,
    );
    expect(created.createOrder.order).toMatchObject({ shipping: '5.50', shippingAddress: { country: 'ID' } });

    const refused = await api.createOrder({ input: input('31.00') });
    expect(mismatches('CreateOrder', refused)).toStrictEqual([]);
    expect(refused.createOrder.order).toBeNull();
    expect(refused.createOrder.userErrors.map(explain)).toStrictEqual([
      expect.stringMatching(/^fix input\.total: /),
    ]);

    const invalid = await api.createOrder({ input: { ...input(), customerId: '', currency: 'XXX1' } });
    expect(mismatches('CreateOrder', invalid)).toStrictEqual([]);
    expect(invalid.createOrder.userErrors.map((e) => [e.code, e.field.join('.')])).toEqual(
      expect.arrayContaining([
        ['VALIDATION_ERROR', 'input.customerId'],
        ['VALIDATION_ERROR', 'input.currency'],
      ]),
    );
  });

  it('createOrder with an idempotency key: replayed true on the retry, IDEMPOTENCY_KEY_REUSED for other input', async () => {
    const first = await api.createOrderIdempotent({ input: input(), idempotencyKey: 'key-1' });
    const again = await api.createOrderIdempotent({ input: input(), idempotencyKey: 'key-1' });
    const other = await api.createOrderIdempotent({
      input: { ...input(), customerId: 'contact_2' },
      idempotencyKey: 'key-1',
    });
    for (const answer of [first, again, other])
      expect(mismatches('CreateOrderIdempotent', answer)).toStrictEqual([]);
    expect(first.createOrder).toMatchObject({ replayed: false, userErrors: [] });
    expect(again.createOrder).toMatchObject({ replayed: true, order: first.createOrder.order });
    expect(other.createOrder.order).toBeNull();
    expect(other.createOrder.userErrors.map((e) => [e.code, e.field])).toStrictEqual([
      ['IDEMPOTENCY_KEY_REUSED', ['idempotencyKey']],
    ]);
  });

  it('currencies of 0 and 3 minor digits: Decimal has exactly their digits', async () => {
    const yen = await api.createOrder({
      input: {
        customerId: 'c',
        currency: 'JPY',
        items: [{ productId: 'p', quantity: 2, price: 500 }],
        total: '1000',
      },
    });
    const dinar = await api.createOrder({
      input: {
        customerId: 'c',
        currency: 'BHD',
        items: [{ productId: 'p', quantity: 1, price: '1.5' }],
        total: '1.500',
      },
    });
    for (const answer of [yen, dinar]) expect(mismatches('CreateOrder', answer)).toStrictEqual([]);
    expect(yen.createOrder.order).toMatchObject({ total: '1000', subtotal: '1000', tax: '0', shipping: '0' });
    expect(dinar.createOrder.order).toMatchObject({ total: '1.500', items: [{ price: '1.500' }] });
  });

  it('Decimal input: the description names the lexical forms it refuses, and those are refused', async () => {
    // @specifiedBy points at XML Schema's decimal, whose lexical space also holds "+10.00", ".5"
    // and "10."; a client that validates against it must learn from the description which it may not send.
    const description = schema.getType('Decimal')?.description ?? '';
    for (const price of ['+10.00', '.5', '10.']) {
      expect(description, `the Decimal description names ${price} as refused`).toContain(`"${price}"`);
      const answer = await api.createOrder({
        input: { customerId: 'c', items: [{ productId: 'p', quantity: 1, price }], total: '10.00' },
      });
      expect(answer.createOrder.userErrors.map((e) => [e.code, e.field.join('.')])).toStrictEqual([
        ['VALIDATION_ERROR', 'input.items.0.price'],
      ]);
    }
    for (const price of ['10.00', '10', 10]) {
      const answer = await api.createOrder({
        input: { customerId: 'c', items: [{ productId: 'p', quantity: 1, price }], total: '10.00' },
      });
      expect(answer.createOrder.order?.items[0]?.price).toBe('10.00');
    }
  });

  it('updateOrder: status moves, clearing fields, unknown and foreign ids, a refused move', async () => {
    const { createOrder } = await api.createOrder({
      input: { ...input(), notes: 'n', shippingAddress: { city: 'X' } },
    });
    const id = createOrder.order!.id;
    const answers = [
      await api.updateOrder({
        id,
        input: { status: 'PAID', trackingNumber: 'T1', trackingUrl: 'https://t.example/1' },
      }),
      await api.updateOrder({
        id,
        input: { status: null, notes: null, trackingNumber: null, trackingUrl: null },
      }),
      await api.updateOrder({ id, input: { status: 'PENDING' } }),
      await api.updateOrder({ id: 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV', input: { status: 'PAID' } }),
      await api.updateOrder({ id: 'not-an-id', input: { notes: 'x' } }),
    ];
    for (const answer of answers) expect(mismatches('UpdateOrder', answer)).toStrictEqual([]);
    const [paid, cleared, back, unknown, malformed] = answers.map((a) => a.updateOrder);
    expect(paid?.order).toMatchObject({ status: 'PAID', trackingNumber: 'T1' });
    expect(cleared?.order).toMatchObject({
      status: 'PAID',
      notes: null,
      trackingNumber: null,
      trackingUrl: null,
    });
    expect(cleared?.order?.statusHistory.map((s) => s.status)).toStrictEqual(['PENDING', 'PAID']);
    expect(back?.order).toBeNull();
    expect(back?.userErrors.map((e) => e.code)).toStrictEqual(['INVALID_STATUS_TRANSITION']);
    expect(unknown?.userErrors.map((e) => [e.code, e.field])).toStrictEqual([['NOT_FOUND', ['id']]]);
    expect(malformed?.userErrors.map((e) => e.code)).toStrictEqual(['NOT_FOUND']);

    const foreign = ordersApi(url, await t.bearer('codegen-other'));
    const theirs = await foreign.updateOrder({ id, input: { status: 'SHIPPED' } });
    expect(mismatches('UpdateOrder', theirs)).toStrictEqual([]);
    expect(theirs.updateOrder.userErrors.map((e) => e.code)).toStrictEqual(['NOT_FOUND']);
    expect(await foreign.order({ id })).toStrictEqual({ order: null });
  });

  it('order and orderByNumber: the order, or null for none', async () => {
    const { createOrder } = await api.createOrder({ input: input() });
    const order = createOrder.order!;
    const read = await api.order({ id: order.id });
    expect(mismatches('OrderById', read)).toStrictEqual([]);
    expect(read.order).toStrictEqual(order);
    expect(await api.order({ id: 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV' })).toStrictEqual({ order: null });
    expect(await api.order({ id: 'nope' })).toStrictEqual({ order: null });
    const byNumber = await api.orderByNumber({ orderNumber: order.orderNumber });
    expect(mismatches('OrderByNumber', byNumber)).toStrictEqual([]);
    expect(byNumber.orderByNumber?.id).toBe(order.id);
    expect(await api.orderByNumber({ orderNumber: 'ORD-1999-0101-001' })).toStrictEqual({
      orderByNumber: null,
    });
  });

  it('orders: every filter and paging argument', async () => {
    const made = [];
    for (const total of ['30.00', '60.00', '90.00']) {
      const quantity = Number(total) / 10;
      const { createOrder } = await api.createOrder({
        input: {
          customerId: 'lister',
          notes: `needle ${total}`,
          items: [{ productId: 'p', quantity, price: '10.00' }],
          total,
        },
      });
      made.push(createOrder.order!);
    }
    const today = made[0].createdAt.slice(0, 10);
    const filtered = await api.orders({
      first: 1,
      filter: {
        customerId: 'lister',
        status: 'PENDING',
        minTotal: '40',
        maxTotal: 90,
        from: today,
        to: today,
        search: 'NEEDLE',
        updatedSince: '2000-01-01T00:00:00Z',
      },
      orderBy: 'CREATED_AT_DESC',
    });
    expect(mismatches('Orders', filtered)).toStrictEqual([]);
    expect(filtered.orders.totalCount).toBe(2);
    expect(filtered.orders.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const next = await api.orders({
      first: 1,
      after: filtered.orders.pageInfo.endCursor,
      filter: { customerId: 'lister', minTotal: '40' },
    });
    expect(mismatches('Orders', next)).toStrictEqual([]);
    expect(next.orders.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });

    const sync = await api.orders({
      orderBy: 'UPDATED_AT_ASC',
      filter: { updatedSince: '2000-01-01T00:00:00Z' },
    });
    expect(mismatches('Orders', sync)).toStrictEqual([]);
    const byNumber = await api.orders({ filter: { orderNumber: made[1].orderNumber } });
    expect(byNumber.orders.edges.map((e) => e.node.id)).toStrictEqual([made[1].id]);

    const empty = await api.orders({ filter: { customerId: 'nobody' }, after: '' });
    expect(mismatches('Orders', empty)).toStrictEqual([]);
    expect(empty.orders).toStrictEqual({
      totalCount: 0,
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });

  it('orders with a bad argument: a top-level VALIDATION_ERROR naming the GraphQL paths, data null', async () => {
    const error = await api
      .orders({ first: 0, filter: { minTotal: 'abc' } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClientError);
    const { response } = error as ClientError;
    expect(response.data ?? null).toBeNull();
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(
      (response.errors?.[0]?.extensions?.fields as { path: string[] }[]).map((f) => f.path.join('.')).sort(),
    ).toStrictEqual(['filter.minTotal', 'first']);
  });

  it('subscriptions over graphql-ws: orderCreated and orderUpdated fit their generated types', async () => {
    const feed = ordersFeed(url.replace('http', 'ws'), await t.bearer('codegen'));
    const created: unknown[] = [];
    const updated: unknown[] = [];
    const missing: unknown[] = [];
    const stops = [
      feed.orderCreated((result) => created.push(result)),
      feed.orderUpdated({}, (result) => updated.push(result)),
      feed.orderUpdated({ id: 'order_01ARZ3NDEKTSV4RRFFQ69G5FAV' }, (result) => missing.push(result)),
    ];
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { createOrder } = await api.createOrder({ input: { ...input(), metadata: { source: 'web' } } });
      await api.updateOrder({ id: createOrder.order!.id, input: { status: 'PAID', trackingNumber: 'T9' } });
      await expect.poll(() => created.length + updated.length + missing.length, { timeout: 5_000 }).toBe(3);
      const [first] = created as { data: unknown }[];
      const [change] = updated as { data: { orderUpdated: { status: string; trackingNumber: string } } }[];
      expect(mismatches('OrderCreated', first?.data)).toStrictEqual([]);
      expect(mismatches('OrderUpdated', change?.data)).toStrictEqual([]);
      expect(change?.data.orderUpdated).toMatchObject({ status: 'PAID', trackingNumber: 'T9' });
      expect(missing).toMatchObject([{ errors: [{ extensions: { code: 'NOT_FOUND' } }] }]);
    } finally {
      for (const stop of stops) stop();
      await feed.dispose();
    }
  });

  it('webhook management: create, list, update, rotate, deliveries, redeliver, delete', async () => {
    const refused = await api.createWebhookEndpoint({ input: { url: 'ftp://hooks.example.com/orders' } });
    expect(mismatches('CreateWebhookEndpoint', refused)).toStrictEqual([]);
    expect(refused.createWebhookEndpoint).toMatchObject({ endpoint: null, secret: null });
    expect(refused.createWebhookEndpoint.userErrors.map((e) => [e.code, e.field])).toStrictEqual([
      ['VALIDATION_ERROR', ['input', 'url']],
    ]);

    // An empty list is refused in words a GraphQL client can act on: no event names its enum refuses.
    const none = await api.createWebhookEndpoint({ input: { url: receiver.url, events: [] } });
    expect(mismatches('CreateWebhookEndpoint', none)).toStrictEqual([]);
    expect(none.createWebhookEndpoint.userErrors).toStrictEqual([
      {
        code: 'VALIDATION_ERROR',
        field: ['input', 'events'],
        message: 'must name at least one event type (leave it out for every type)',
      },
    ]);

    const created = await api.createWebhookEndpoint({
      input: { url: receiver.url, events: ['ORDER_CREATED'] },
    });
    expect(mismatches('CreateWebhookEndpoint', created)).toStrictEqual([]);
    const endpoint = created.createWebhookEndpoint.endpoint!;
    expect(created.createWebhookEndpoint.secret).toMatch(/^whsec_/);
    expect(endpoint).toMatchObject({
      events: ['ORDER_CREATED'],
      enabled: true,
      previousSecretExpiresAt: null,
    });

    receiver.secret = created.createWebhookEndpoint.secret!;
    await api.createOrder({ input: input() });
    await eventually(
      async () => receiver.received.length === 2,
      10_000,
      'a failed attempt, then a delivered one',
    );
    const listed = await api.webhookEndpoints();
    expect(mismatches('WebhookEndpoints', listed)).toStrictEqual([]);
    expect(listed.webhookEndpoints.map((e) => e.id)).toContain(endpoint.id);

    const updated = await api.updateWebhookEndpoint({
      id: endpoint.id,
      input: { enabled: false, events: null, url: null },
    });
    expect(mismatches('UpdateWebhookEndpoint', updated)).toStrictEqual([]);
    expect(updated.updateWebhookEndpoint.endpoint).toMatchObject({
      enabled: false,
      events: ['ORDER_CREATED'],
    });

    const rotated = await api.rotateWebhookSecret({ id: endpoint.id, previousSecretValidForSeconds: 60 });
    expect(mismatches('RotateWebhookSecret', rotated)).toStrictEqual([]);
    expect(rotated.rotateWebhookSecret.endpoint?.previousSecretExpiresAt).not.toBeNull();
    const badRotate = await api.rotateWebhookSecret({ id: endpoint.id, previousSecretValidForSeconds: -1 });
    expect(mismatches('RotateWebhookSecret', badRotate)).toStrictEqual([]);
    expect(badRotate.rotateWebhookSecret).toMatchObject({ endpoint: null, secret: null });
    expect(badRotate.rotateWebhookSecret.userErrors.map((e) => [e.code, e.field])).toStrictEqual([
      ['VALIDATION_ERROR', ['previousSecretValidForSeconds']],
    ]);

    const deliveries = await api.webhookDeliveries({ endpointId: endpoint.id, first: 5 });
    expect(mismatches('WebhookDeliveries', deliveries)).toStrictEqual([]);
    const [delivery] = deliveries.webhookDeliveries!.edges.map((e) => e.node);
    expect(delivery).toMatchObject({ eventType: 'ORDER_CREATED', status: 'DELIVERED', nextAttemptAt: null });
    expect(delivery?.attempts.map((a) => [a.statusCode, a.error])).toStrictEqual([
      [500, null],
      [200, null],
    ]);
    const again1 = await api.redeliverWebhook({ deliveryId: delivery.id });
    expect(mismatches('RedeliverWebhook', again1)).toStrictEqual([]);
    expect(again1.redeliverWebhook.delivery).toMatchObject({ id: delivery.id, status: 'PENDING' });
    expect(await api.webhookDeliveries({ endpointId: 'whep_nope' })).toStrictEqual({
      webhookDeliveries: null,
    });

    const redeliver = await api.redeliverWebhook({ deliveryId: 'whdl_nope' });
    expect(mismatches('RedeliverWebhook', redeliver)).toStrictEqual([]);
    expect(redeliver.redeliverWebhook.userErrors.map((e) => [e.code, e.field])).toStrictEqual([
      ['NOT_FOUND', ['deliveryId']],
    ]);

    const deleted = await api.deleteWebhookEndpoint({ id: endpoint.id });
    const again = await api.deleteWebhookEndpoint({ id: endpoint.id });
    for (const answer of [deleted, again])
      expect(mismatches('DeleteWebhookEndpoint', answer)).toStrictEqual([]);
    expect(deleted.deleteWebhookEndpoint).toStrictEqual({ deletedId: endpoint.id, userErrors: [] });
    expect(again.deleteWebhookEndpoint.deletedId).toBeNull();
    expect(again.deleteWebhookEndpoint.userErrors.map((e) => [e.code, e.field])).toStrictEqual([
      ['NOT_FOUND', ['id']],
    ]);
  });
});
