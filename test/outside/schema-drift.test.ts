/**
 * The database as its DBA sees it. The entities, the migrations and the snapshot agree
 * (`test/integration/schema-drift.test.ts`); here, the rules a user relies on hold in the
 * database itself, whoever writes: raw SQL stands for a second process, a script or a buggy
 * release, and each statement the contract forbids must be refused, leaving the order as the
 * API answered it. Then the migrations themselves: each one goes down and up again to a schema
 * with no drift, new constraints on existing tables are added the way that keeps the lock short,
 * and (PostgreSQL pass) three gateways started together on an empty database all come up and
 * apply each migration once.
 */
import type { Migration } from '@mikro-orm/migrations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsList } from '../../src/db/migrations';
import { useTestApp } from '../support/app';
import { createServerDatabase, createTestDatabase, queryRows, usingRealPostgres } from '../support/database';
import { startServer, type RunningServer } from '../support/processes';

const client = useTestApp();

describe('the database refuses what the contract forbids, from any writer', () => {
  let orderId = '';
  let answered: unknown;

  beforeAll(async () => {
    const created = await client.rest.post(
      '/api/orders',
      {
        customer_id: 'c1',
        items: [{ product_id: 'p1', quantity: 2, price: '9.99' }],
        total: '19.98',
        currency: 'USD',
      },
      { headers: { 'idempotency-key': 'drift-1' } },
    );
    expect(created.statusCode).toBe(201);
    orderId = created.json().data.id;
    answered = created.json().data;
  });

  const refused = async (sql: string, params: unknown[], constraint: string | RegExp) => {
    await expect(client.db.query(sql, params)).rejects.toThrow(constraint);
    // Nothing changed: the order reads back as it was created.
    const res = await client.rest.get(`/api/orders/${orderId}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual(answered);
  };

  it('a status outside the contract', async () => {
    await refused(
      `update orders set status = 'shipped_maybe' where id = ?`,
      [orderId],
      'orders_status_check',
    );
    await refused(`update orders set status = 'PAID' where id = ?`, [orderId], 'orders_status_check');
  });

  // Each statement keeps the amounts adding up, so that the check it meets is the one on the sign. A
  // negative total needs a negative part, and a negative line subtotal a negative price: either check may answer.
  it('a negative order amount', async () => {
    await refused(
      `update orders set shipping = -1, total = subtotal - 1 + tax where id = ?`,
      [orderId],
      'orders_shipping_check',
    );
    await refused(
      `update orders set tax = -1, total = subtotal + shipping - 1 where id = ?`,
      [orderId],
      'orders_tax_check',
    );
    await refused(
      `update orders set subtotal = -1, shipping = shipping + 2, total = shipping + 2 + tax - 1 where id = ?`,
      [orderId],
      'orders_subtotal_check',
    );
    await refused(
      `update orders set subtotal = -1, total = -1 where id = ?`,
      [orderId],
      /orders_(sub)?total_check/,
    );
  });

  it('an item of no units, or at a negative price', async () => {
    await refused(
      `update order_items set quantity = 0, subtotal = 0 where order_id = ?`,
      [orderId],
      'order_items_quantity_check',
    );
    await refused(
      `update order_items set price = -9.99, subtotal = -9.99 * quantity where order_id = ?`,
      [orderId],
      /order_items_(price|subtotal)_check/,
    );
  });

  it('amounts that do not add up: a total other than items + shipping + tax, a line other than price × quantity', async () => {
    await refused(
      `update orders set total = total + 1 where id = ?`,
      [orderId],
      'orders_total_adds_up_check',
    );
    await refused(`update orders set tax = 1 where id = ?`, [orderId], 'orders_total_adds_up_check');
    await refused(
      `update order_items set quantity = 3 where order_id = ?`,
      [orderId],
      'order_items_subtotal_adds_up_check',
    );
    await refused(
      `update order_items set price = 9.98 where order_id = ?`,
      [orderId],
      'order_items_subtotal_adds_up_check',
    );
  });

  it('a second order with the same number in the workspace, a second row for the same key, a line of no order', async () => {
    await refused(
      `insert into orders select 'order_copy', workspace_id, order_number, customer_id, status, currency, subtotal, shipping, tax, total,
       shipping_address, billing_address, notes, metadata, tracking_number, tracking_url, status_history, created_at, updated_at, version
       from orders where id = ?`,
      [orderId],
      'orders_workspace_id_order_number_unique',
    );
    await refused(
      `insert into idempotency_keys select workspace_id, key, fingerprint, order_id, response, created_at, expires_at from idempotency_keys where order_id = ?`,
      [orderId],
      'idempotency_keys_pkey',
    );
    await refused(
      `insert into order_items (order_id, position, product_id, quantity, price, subtotal) values ('order_missing', 0, 'p', 1, 1, 1)`,
      [],
      'order_items_order_id_foreign',
    );
  });

  it('what the service writes still goes in: every status move, each with its events', async () => {
    for (const status of ['paid', 'shipped', 'delivered', 'refunded']) {
      const res = await client.rest.put(`/api/orders/${orderId}`, { status });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().data.status).toBe(status);
    }
    const events = await client.db.query<{ type: string; sequence: number }>(
      `select type, sequence from order_events where order_id = ? order by position`,
      [orderId],
    );
    expect(events.map((event) => `${event.sequence} ${event.type}`)).toEqual([
      '1 order.created',
      ...[2, 3, 4, 5].flatMap((sequence) => [
        `${sequence} order.updated`,
        `${sequence} order.status_changed`,
      ]),
    ]);
    const free = await client.rest.post('/api/orders', {
      customer_id: 'c2',
      items: [{ product_id: 'p', quantity: 1, price: 0 }],
      total: 0,
      currency: 'JPY',
    });
    expect(free.statusCode, free.body).toBe(201);
  });
});

describe('the migrations', () => {
  it(
    'each goes down, and all come back up to exactly what the entities declare',
    { timeout: 120_000 },
    async () => {
      const database = await createTestDatabase();
      try {
        const migrator = database.db.orm.getMigrator();
        const down = await migrator.down({ to: 0 });
        expect(down.map((migration) => migration.name)).toEqual(
          migrationsList.map((migration) => migration.name).reverse(),
        );
        const left = await database.db.em
          .fork()
          .execute<{ name: string }[]>(
            `select table_name as name from information_schema.tables where table_schema = 'public' and table_name <> 'mikro_orm_migrations'`,
          );
        expect(left).toEqual([]);
        expect(await database.db.migrate()).toHaveLength(migrationsList.length);
        expect((await database.db.orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe('');
      } finally {
        await database.destroy();
      }
    },
  );

  /** The statements of each migration's `up` and `down`, as MikroORM would send them. */
  async function statements(): Promise<{ name: string; up: string[]; down: string[] }[]> {
    const database = client.app.db;
    const driver = database.orm.em.getDriver();
    const config = database.orm.config;
    return Promise.all(
      migrationsList.map(async ({ name, class: Class }) => {
        const read = async (direction: 'up' | 'down') => {
          const migration = new (Class as new (...args: unknown[]) => Migration)(driver, config);
          await migration[direction]();
          return migration.getQueries().map((query) => (typeof query === 'string' ? query : query.toQuery()));
        };
        return { name, up: await read('up'), down: await read('down') };
      }),
    );
  }

  it('every one can be undone', async () => {
    for (const migration of await statements())
      expect(migration.down.length, migration.name).toBeGreaterThan(0);
  });

  // The rules squawk and strong_migrations check, for the migrations written since they apply here
  // (earlier ones ran before there were orders to lock; they are never edited).
  const RULES_FROM = 'Migration20261207120613_order_constraints';

  it('a new check or foreign key on a table is added not valid, then validated', async () => {
    const checked = (await statements()).filter((migration) => migration.name >= RULES_FROM);
    expect(checked.length).toBeGreaterThan(0);
    for (const migration of checked) {
      const sql = migration.up.join('\n').toLowerCase();
      for (const clause of sql.match(/add constraint "?\w+"? (check|foreign key)[^,;]*/g) ?? []) {
        expect(clause, migration.name).toMatch(/not valid$/);
        const name = /add constraint "?(\w+)"?/.exec(clause)?.[1];
        expect(sql, `${migration.name} validates ${name}`).toContain(`validate constraint "${name}"`);
      }
      expect(sql, migration.name).not.toMatch(/alter column "?\w+"? (type|set not null)/);
    }
  });
});

describe.runIf(usingRealPostgres)(
  'three gateways started at once on an empty database (PostgreSQL pass)',
  { timeout: 180_000 },
  () => {
    let drop: () => Promise<void> = async () => {};
    let url = '';
    let servers: PromiseSettledResult<RunningServer>[] = [];

    beforeAll(async () => {
      const server = await createServerDatabase();
      drop = server.drop;
      url = server.url;
      servers = await Promise.allSettled(
        [1, 2, 3].map(() =>
          startServer({ DATABASE_URL: url, MAX_EVENT_LOOP_DELAY_MS: '0', EVENTS_RELAY: 'false' }, 90_000),
        ),
      );
    });
    afterAll(async () => {
      for (const server of servers) if (server.status === 'fulfilled') await server.value.stop();
      await drop();
    });

    it('all come up ready, and each migration ran once', async () => {
      for (const server of servers) {
        expect(server.status, server.status === 'rejected' ? String(server.reason) : '').toBe('fulfilled');
        if (server.status !== 'fulfilled') continue;
        const ready = await fetch(`${server.value.url}/readyz`);
        expect(ready.status).toBe(200);
      }
      const rows = await queryRows<{ name: string }>(
        url,
        'select name from mikro_orm_migrations order by id',
      );
      expect(rows.map((row) => row.name)).toEqual(migrationsList.map((migration) => migration.name));
    });
  },
);
