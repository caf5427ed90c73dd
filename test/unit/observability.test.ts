import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/config';
import { statementKind } from '../../src/observability/db-metrics';
import { loggerOptions, redactUrl, withoutRowValues } from '../../src/observability/logger';
import { Metrics } from '../../src/observability/metrics';

describe('loggerOptions', () => {
  const isTTY = process.stdout.isTTY;
  afterEach(() => {
    process.stdout.isTTY = isTTY;
  });

  it('is pino-pretty in development on a terminal, JSON otherwise', () => {
    process.stdout.isTTY = true;
    expect(loggerOptions(loadConfig({ NODE_ENV: 'development' }))).toMatchObject({ transport: { target: 'pino-pretty' } });
    expect(loggerOptions(loadConfig({ NODE_ENV: 'production' }))).not.toHaveProperty('transport');
    process.stdout.isTTY = false;
    expect(loggerOptions(loadConfig({ NODE_ENV: 'development' }))).not.toHaveProperty('transport');
  });

  it('writes to a given stream as JSON and always redacts Authorization', () => {
    process.stdout.isTTY = true;
    const stream = new PassThrough();
    const options = loggerOptions(loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'debug' }), stream);
    expect(options).toMatchObject({ level: 'debug', stream, redact: { paths: expect.arrayContaining(['req.headers.authorization']) } });
    expect(options).not.toHaveProperty('transport');
  });
});

describe('what the log keeps of personal data', () => {
  it.each([
    ['/api/orders/order_01M9615Y0K4V5FWF75N5VF00F6', '/api/orders/order_01M9615Y0K4V5FWF75N5VF00F6'],
    ['/api/orders/ORD-2026-1207-001', '/api/orders/ORD-2026-1207-001'],
    ['/api/orders/jane@example.com', '/api/orders/[redacted]'],
    ['/api/orders/jane%40example.com?search=x', '/api/orders/[redacted]?search=[redacted]'],
    ['/api/orders/5558675309', '/api/orders/[redacted]'],
    ['/api/customers/+44%207700/orders', '/api/customers/[redacted]/orders'],
    ['/graphql', '/graphql'],
  ])('logs the path %s as %s', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });

  it.each([
    ['Failing row contains (order_1, jane@example.com, {"phone": "555"}).', 'Failing row contains ([values not logged]).'],
    ['Key (workspace_id, key)=(ws_1, idem-jane@example.com) already exists.', 'Key (workspace_id, key)=([values not logged]) already exists.'],
    ['Key (customer_id)=(jane) is not present in table "customers".', 'Key (customer_id)=([values not logged]) is not present in table "customers".'],
    ['Token "jane@example.com" is invalid.', '[detail not logged]'],
  ])("writes PostgreSQL's detail %s as %s", (detail, logged) => {
    expect(withoutRowValues(detail)).toBe(logged);
  });

  it("writes a failed statement's error without its values, its detail's values or a failed cast's value", () => {
    const options = loggerOptions(loadConfig({ NODE_ENV: 'production' }), new PassThrough()) as unknown as { serializers: { err: (error: Error) => Record<string, unknown> } };
    const error = Object.assign(
      new Error('insert into "orders" ("notes") values (\'jane@example.com\') - invalid input syntax for type json: "jane@example.com"\n - detail: Token "jane" is invalid.'),
      { detail: 'Token "jane" is invalid.', where: 'JSON data, line 1: jane...' },
    );
    const logged = options.serializers.err(error);
    expect(JSON.stringify(logged)).not.toContain('jane');
    expect(logged.message).toBe('insert into "orders" ("notes") values ([values not logged] - invalid input syntax for type json: [value not logged]\n - detail: [detail not logged]');
  });
});

describe('statementKind', () => {
  it.each([
    ['select 1', 'select'],
    ['  INSERT into "orders" ...', 'insert'],
    ['begin', 'begin'],
    ['with x as (select 1) select * from x', 'with'],
    ['vacuum', 'other'],
    ['', 'other'],
  ])('%s → %s', (query, kind) => {
    expect(statementKind(query)).toBe(kind);
  });
});

describe('Metrics', () => {
  it('keeps a registry of its own, so two instances never share a series', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.ordersCreated.inc({ transport: 'rest' });
    expect(await a.render()).toContain('orders_created_total{transport="rest"} 1');
    expect(await b.render()).toContain('orders_created_total{transport="rest"} 0');
  });

  it('outbox_backlog is NaN, not the last figure read, while the outbox cannot be read', async () => {
    const metrics = new Metrics();
    let backlog: () => Promise<number> = async () => 7;
    metrics.watchOutbox(() => backlog());
    expect(await metrics.render()).toMatch(/^outbox_backlog 7$/m);
    backlog = async () => Promise.reject(new Error('the database is down'));
    // prom-client writes "Nan"; Prometheus reads NaN in any case.
    expect(await metrics.render()).toMatch(/^outbox_backlog nan$/im);
    backlog = async () => 0;
    expect(await metrics.render()).toMatch(/^outbox_backlog 0$/m);
  });

  it('caps the number of distinct GraphQL operation names', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 250; i++) metrics.countGraphQLOperation(`Op${i}`, 'success');
    const text = await metrics.render();
    expect(text).toContain('graphql_operations_total{operation="Op199",outcome="success"} 1');
    expect(text).not.toContain('operation="Op200"');
    expect(text).toContain('graphql_operations_total{operation="(other)",outcome="success"} 50');
  });

  it('counts an over-long operation name as (other), so one request cannot put a megabyte into a label', async () => {
    // A GraphQL name may be as long as the body allows: 200 such names were 200 MB on every scrape.
    const metrics = new Metrics();
    metrics.countGraphQLOperation(`Q${'A'.repeat(200_000)}`, 'success');
    metrics.countGraphQLOperation(`Q${'B'.repeat(100)}`, 'success');
    metrics.countGraphQLOperation(`Q${'C'.repeat(99)}`, 'success');
    const text = await metrics.render();
    expect(text.length).toBeLessThan(20_000);
    expect(text).toContain('graphql_operations_total{operation="(other)",outcome="success"} 2');
    expect(text).toContain(`graphql_operations_total{operation="Q${'C'.repeat(99)}",outcome="success"} 1`);
  });
});
