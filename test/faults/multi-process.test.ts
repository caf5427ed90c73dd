/**
 * Three gateway processes on one PostgreSQL: 1,500 creates across them at
 * concurrency 30. Every create succeeds, and each workspace's order numbers
 * for the day are unique and consecutive: no in-process state decides them.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from 'pg';
import { createServerDatabase } from '../support/database';
import { createWithRetries } from '../support/load';
import { runCli, startServer, type RunningServer } from '../support/processes';

process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';

let database: { url: string; drop: () => Promise<void> };
const servers: RunningServer[] = [];
const WORKSPACES = ['north', 'south', 'east'];

beforeAll(async () => {
  database = await createServerDatabase();
  // All three start (and migrate) at once: the migration lock makes one of them do it.
  servers.push(...(await Promise.all([0, 1, 2].map(() => startServer({ DATABASE_URL: database.url })))));
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  await database.drop();
});

it('creates 1,500 orders across 3 processes with unique, consecutive numbers per workspace and day', async () => {
  const keys: string[] = [];
  for (const workspace of WORKSPACES) {
    const created = await runCli(['apikey', 'create', '--workspace', workspace, '--json'], { DATABASE_URL: database.url });
    expect(created.code, created.stderr).toBe(0);
    keys.push(`Bearer ${JSON.parse(created.stdout).key}`);
  }
  const started = Date.now();
  const outcomes = await createWithRetries({
    targets: servers.map((server) => server.url),
    bearer: (index) => keys[index % keys.length],
    count: 1500,
    concurrency: 30,
    keyPrefix: 'mp',
    maxAttempts: 1,
    body: (index) => ({ customer_id: `c${index}`, items: [{ product_id: 'p', quantity: 1, price: 1.5 }, { product_id: 'q', quantity: 2, price: 2 }], total: 5.5 }),
    deadline: Date.now() + 120_000,
  });
  const seconds = (Date.now() - started) / 1000;

  const statuses = outcomes.map((outcome) => outcome.attempts[0]?.status);
  expect(statuses.filter((status) => status !== 201)).toStrictEqual([]);
  expect(outcomes).toHaveLength(1500);

  const client = new Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ slug: string; day: string; numbers: number[]; items: number }>(
      `select w.slug, split_part(o.order_number, '-', 2) || split_part(o.order_number, '-', 3) as day,
              array_agg(split_part(o.order_number, '-', 4)::int order by split_part(o.order_number, '-', 4)::int) as numbers,
              sum((select count(*) from order_items i where i.order_id = o.id))::int as items
       from orders o join workspaces w on w.id = o.workspace_id group by 1, 2`,
    );
    expect(rows.reduce((sum, row) => sum + row.numbers.length, 0)).toBe(1500);
    for (const row of rows) {
      expect(row.numbers, `${row.slug} ${row.day}`).toStrictEqual(Array.from({ length: row.numbers.length }, (_, i) => i + 1));
      expect(row.items).toBe(row.numbers.length * 2);
    }
    expect(new Set(rows.map((row) => row.slug))).toStrictEqual(new Set(WORKSPACES));
  } finally {
    await client.end();
  }
  const figures = { processes: 3, requests: 1500, created: statuses.filter((s) => s === 201).length, seconds, perSecond: Math.round(1500 / seconds) };
  fs.mkdirSync('test-results', { recursive: true });
  fs.writeFileSync('test-results/multi-process.json', `${JSON.stringify(figures, null, 2)}\n`);
  console.info('multi-process', figures);
});
