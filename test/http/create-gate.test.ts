/**
 * Creates of one workspace queue in the process (CREATES_PER_WORKSPACE at the
 * database at a time; see src/orders/create-gate.ts), not on the workspace's
 * counter row in PostgreSQL. Holding that row from a second connection shows
 * the queue: a create past the limit waits in the process and, after
 * DB_CONNECT_TIMEOUT_MS, is a 503 with Retry-After that wrote nothing, while
 * another workspace's creates go on. A create the rules refuse is refused
 * before it joins the queue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { createTestApp, type TestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';

const order = { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: '5.00' }], total: 5 };

describe.runIf(usingRealPostgres)(
  'the create queue (PostgreSQL server only: holding the counter row takes a second connection)',
  () => {
    let t: TestApp;
    let acme: string;
    let other: string;
    beforeAll(async () => {
      t = await createTestApp({ createsPerWorkspace: 1, dbConnectTimeoutMs: 300 });
      acme = await t.bearer('acme');
      other = await t.bearer('other');
    });
    afterAll(() => t.close());

    const create = (auth: string, payload: object = order) =>
      t.app.http.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { authorization: auth },
        payload,
      });

    it('one create at the database per workspace; the next waits in the process, then is a 503 that wrote nothing', async () => {
      expect((await create(acme)).statusCode).toBe(201);
      const holder = new Client({ connectionString: t.app.db.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('select * from order_number_counters for update');
        const first = create(acme);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const second = await create(acme);
        expect(second.statusCode, second.body).toBe(503);
        expect(second.headers['retry-after']).toBe('1');
        expect(second.json().error.code).toBe('SERVICE_UNAVAILABLE');
        // A create the rules refuse takes no place in the queue: its 422 comes at once, not a 503 after the wait.
        const mismatch = await create(acme, { ...order, total: 6 });
        expect(mismatch.statusCode, mismatch.body).toBe(422);
        expect(mismatch.json().error.code).toBe('TOTAL_MISMATCH');
        const invalid = await create(acme, { ...order, items: [] });
        expect(invalid.statusCode, invalid.body).toBe(422);
        expect(invalid.json().error.code).toBe('VALIDATION_ERROR');
        // Another workspace has its own counter row and its own queue.
        const elsewhere = await Promise.race([
          create(other),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000)),
        ]);
        expect(elsewhere?.statusCode).toBe(201);
        await holder.query('commit');
        const firstDone = await first;
        expect(firstDone.statusCode, firstDone.body).toBe(201);
        expect(firstDone.json().data.order_number).toMatch(/-002$/);
      } finally {
        await holder.end();
      }
      expect(
        await t.app.db.em.fork().getConnection().execute('select count(*)::int as n from orders'),
      ).toStrictEqual([{ n: 3 }]);
      expect((await create(acme)).json().data.order_number).toMatch(/-003$/);
    });
  },
);
