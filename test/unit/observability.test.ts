import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/config';
import { statementKind } from '../../src/observability/db-metrics';
import { loggerOptions } from '../../src/observability/logger';
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
