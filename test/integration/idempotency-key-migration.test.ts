/**
 * Idempotency keys written before the fingerprint told an exact metadata
 * number from the string of its digits (2611ab1): such a version read
 * `98765432109876543210` as its digits and fingerprinted them as a string.
 * A client that retries its create across the upgrade, with the same body and
 * key, must get its order back, not IDEMPOTENCY_KEY_REUSED. The rows are the
 * ones version a42b24c wrote (`test/fixtures/upgrade/`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app/app';
import type { Database } from '../../src/db/database';
import { execute } from '../../src/db/sql';
import { testConfig } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const OLD_SCHEMA = 'Migration20261127150000_idempotency';
const fixture = JSON.parse(
  readFileSync(path.join(__dirname, '../fixtures/upgrade/idempotency-key-a42b24c.json'), 'utf8'),
) as {
  workspace: Record<string, unknown>;
  orders: Record<string, unknown>[];
  items: Record<string, unknown>[];
  counter: Record<string, unknown>;
  idempotencyKeys: Record<string, unknown>[];
  replays: { key: string; request: string; replayedThen: string }[];
};

let fresh: TestDatabase;
let db: Database;
let app: App | undefined;
beforeAll(async () => {
  fresh = await createTestDatabase({ migrateTo: OLD_SCHEMA });
  db = fresh.db;
});
afterAll(async () => {
  await app?.close();
  await fresh.destroy();
});

/** Inserts a row as it was read with row_to_json: objects and arrays go back as jsonb. */
async function insertRow(table: string, row: Record<string, unknown>): Promise<void> {
  const columns = Object.keys(row);
  const values = columns.map((column) => {
    const value = row[column];
    return value !== null && typeof value === 'object' ? JSON.stringify(value) : value;
  });
  await execute(
    db.em.fork(),
    `insert into ${table} (${columns.map((column) => `"${column}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`,
    values,
  );
}

it('replays keys that an older version stored for metadata with exact numbers', async () => {
  await insertRow('workspaces', fixture.workspace);
  for (const order of fixture.orders) await insertRow('orders', order);
  for (const item of fixture.items) await insertRow('order_items', item);
  await insertRow('order_number_counters', fixture.counter);
  // Written an hour ago, as far as expiry goes: still live.
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  for (const row of fixture.idempotencyKeys)
    await insertRow('idempotency_keys', { ...row, expires_at: expiresAt });

  await db.migrate();
  app = await buildApp({
    config: testConfig(),
    db,
    logStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  const { key } = await app.services.auth.createApiKey('default');
  // 98765432109876543210 and 12345678901234567890 as written; 1e21, which PostgreSQL spells otherwise.
  for (const replay of fixture.replays) {
    const retry = await app.http.inject({
      method: 'POST',
      url: '/api/orders',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': replay.key,
      },
      payload: replay.request,
    });
    expect(retry.statusCode, `${replay.key}: ${retry.body}`).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(JSON.parse(retry.body)).toStrictEqual(JSON.parse(replay.replayedThen));
  }

  // A key stored by this version still tells the number from the string of its digits.
  const request = fixture.replays[1]?.request ?? '';
  const asString = request.replace('98765432109876543210', '"98765432109876543210"');
  const headers = {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    'idempotency-key': 'new-key',
  };
  const created = await app.http.inject({ method: 'POST', url: '/api/orders', headers, payload: asString });
  expect(created.statusCode, created.body).toBe(201);
  const reused = await app.http.inject({
    method: 'POST',
    url: '/api/orders',
    headers,
    payload: request,
  });
  expect(reused.statusCode, reused.body).toBe(422);
  expect(JSON.parse(reused.body).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
});
