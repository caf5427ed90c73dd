/**
 * Migration20261202060000_event_data_json: `order_events.data` becomes `json`,
 * and an `order.created` row's `updated_at` is read from its `time`. Events
 * written before it, and still to publish, must read back as they were.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/database';
import { execute, queryAll } from '../../src/db/sql';
import { PUBLISHED_DATA_SQL } from '../../src/events/outbox.store';
import { createTestDatabase, type TestDatabase } from '../support/database';

const BEFORE = 'Migration20261201200543_event_queue';

let fresh: TestDatabase;
let db: Database;
beforeAll(async () => {
  fresh = await createTestDatabase({ migrateTo: BEFORE });
  db = fresh.db;
});
afterAll(() => fresh.destroy());

const order = (updatedAt: string) => ({
  id: 'order_01KBZZZZZZZZZZZZZZZZZZZZZZ',
  order_number: '',
  status: 'pending',
  total: 12.5,
  metadata: { big: '__BIG__' },
  created_at: '2026-12-01T10:00:00Z',
  updated_at: updatedAt,
});

/** What the relay and the webhooks read: before the migration, and after it. */
const OLD_PUBLISHED_DATA_SQL = `case when e.type = 'order.created'
  then jsonb_set(e.data, '{order,order_number}', to_jsonb(o.order_number)) else e.data end`;
const published = (dataSql: string) =>
  queryAll<{ id: string; time: Date; data: string }>(
    db.em.fork(),
    `select e.id, e.time, (${dataSql})::text as data
     from order_events e join orders o on o.id = e.order_id order by e.position`,
  );

it('keeps what older events read back as, with their updated_at now taken from time', async () => {
  const em = db.em.fork();
  await execute(em, `insert into workspaces (id, slug, created_at) values ('ws_1', 'one', now())`);
  await execute(
    em,
    `insert into orders (id, workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
                         status_history, created_at, updated_at, version)
     values ('order_01KBZZZZZZZZZZZZZZZZZZZZZZ', 'ws_1', 'ORD-2026-1201-007', 'c', 'paid', 'USD', 12.5, 0, 0, 12.5,
             '[]', '2026-12-01T10:00:00.400Z', '2026-12-01T10:05:00Z', 2)`,
  );
  // As the old create wrote them: `time` from the application's clock, `updated_at` from the database's,
  // to the second (the first crossed a second between the two clocks, the second did not).
  const rows: [string, string, string, object][] = [
    ['evt_1', 'order.created', '2026-12-01T10:00:00.999Z', { order: order('2026-12-01T10:00:01Z') }],
    ['evt_2', 'order.created', '2026-12-01T10:00:00.400Z', { order: order('2026-12-01T10:00:00Z') }],
    [
      'evt_3',
      'order.updated',
      '2026-12-01T10:05:00.000Z',
      { order: order('2026-12-01T10:05:00Z'), changes: ['status'] },
    ],
  ];
  // Each at a sequence of its own: the database holds one event of a type per order and version.
  for (const [sequence, [id, type, time, data]] of rows.entries()) {
    await execute(
      em,
      `insert into order_events (id, workspace_id, order_id, type, sequence, time, data)
       values (?, 'ws_1', 'order_01KBZZZZZZZZZZZZZZZZZZZZZZ', ?, ?, ?, ?::jsonb)`,
      [id, type, sequence + 1, time, JSON.stringify(data).replace('"__BIG__"', '12345678901234567890')],
    );
  }
  const before = (await published(OLD_PUBLISHED_DATA_SQL)).map((row) => JSON.parse(row.data) as object);

  await db.migrate();
  const [{ type }] = await queryAll<{ type: string }>(
    db.em.fork(),
    `select data_type as type from information_schema.columns where table_name = 'order_events' and column_name = 'data'`,
  );
  expect(type).toBe('json');
  const after = await published(PUBLISHED_DATA_SQL);
  expect(after.map((row) => JSON.parse(row.data) as object)).toStrictEqual(before);
  expect(after.map((row) => new Date(row.time).toISOString())).toStrictEqual([
    '2026-12-01T10:00:01.000Z',
    '2026-12-01T10:00:00.400Z',
    '2026-12-01T10:05:00.000Z',
  ]);
  // The created events now carry the order's number, from the order; the big number is exact.
  expect(after[0]?.data).toContain('"order_number": "ORD-2026-1201-007"');
  expect(after[0]?.data).toContain('12345678901234567890');

  // And back: the data is jsonb again, with updated_at written into it, so the older readers see the same.
  await db.orm.getMigrator().down({ to: BEFORE });
  const restored = await published(OLD_PUBLISHED_DATA_SQL);
  expect(restored.map((row) => JSON.parse(row.data) as object)).toStrictEqual(before);
});
