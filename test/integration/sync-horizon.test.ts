/**
 * No change is ever skipped by a sync (issue 14, point 4), with a
 * deliberately held transaction: a slow update stamps its change first and
 * commits last, while a fast one stamps later and commits first. A client
 * that has read the fast change must still get the slow one afterwards.
 *
 * Needs a PostgreSQL server: the embedded database runs one transaction at a
 * time, so nothing can be held open beside another writer there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderEntity } from '../../src/orders/order.entity';
import { useTestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';
import { Holder, SyncClient } from '../support/sync';

const t = useTestApp();
const body = { customer_id: 'c', items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 };

async function create(): Promise<string> {
  const res = await t.rest.post('/api/orders', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ data: { id: string } }>().data.id;
}

const stampOf = async (id: string) => (await t.app.services.orders.getOrder(await t.context(), id)).updatedAt;

describe.skipIf(!usingRealPostgres)('a held transaction (PostgreSQL server only: the embedded database has one connection)', () => {
  let holder: Holder;
  beforeAll(async () => {
    holder = await Holder.install(t.app.db.url as string);
  });
  afterAll(() => holder?.close());

  it('a sync does not move past a slow gateway update until it commits, then sees it', async () => {
    const slow = await create();
    const fast = await create();
    const sync = new SyncClient(t, t.auth);
    await sleep(5);
    await sync.pass();
    expect([...sync.orders.keys()]).toEqual(expect.arrayContaining([slow, fast]));

    await holder.hold('slow');
    const slowUpdate = t.rest.put(`/api/orders/${slow}`, { tracking_number: 'slow', notes: 'hold:slow' });
    await expect.poll(() => holder.waiting()).toBe(1);
    // More than a second: REST positions are to the second, so a client that skipped would really skip.
    await sleep(1100);
    const fastUpdate = await t.rest.put(`/api/orders/${fast}`, { tracking_number: 'fast' });
    expect(fastUpdate.statusCode).toBe(200);

    // The fast change is committed: a list without the horizon would return it, and a client would move past the slow one.
    const [committed] = await t.db.query<{ tracking_number: string }>('select tracking_number from orders where id = ?', [fast]);
    expect(committed?.tracking_number).toBe('fast');
    await sleep(5);
    await sync.pass();
    expect(sync.orders.get(fast)?.tracking_number).toBeUndefined();
    const gql = (
      await t.gql('{ orders(orderBy: UPDATED_AT_ASC, filter: {customerId: "c"}) { edges { node { id trackingNumber } } } }')
    ).json<{ data: { orders: { edges: { node: { id: string; trackingNumber: string | null } }[] } } }>();
    expect(gql.data.orders.edges.find((edge) => edge.node.id === fast)?.node.trackingNumber ?? null).toBeNull();

    await holder.release('slow');
    expect((await slowUpdate).statusCode).toBe(200);
    // Committed in the opposite order of their stamps.
    expect((await stampOf(slow)).getTime()).toBeLessThan((await stampOf(fast)).getTime() - 1000);
    await sleep(5);
    await sync.pass();
    expect(sync.orders.get(slow)?.tracking_number).toBe('slow');
    expect(sync.orders.get(fast)?.tracking_number).toBe('fast');
  }, 30_000);

  it('a held create is not skipped either', async () => {
    // Creates of one workspace queue on its order-number counter, so the fast writer is an update.
    const fast = await create();
    const sync = new SyncClient(t, t.auth);
    await sleep(5);
    await sync.pass();
    await holder.hold('create');
    const held = t.rest.post('/api/orders', { ...body, notes: 'hold:create' });
    await expect.poll(() => holder.waiting()).toBe(1);
    await sleep(1100);
    expect((await t.rest.put(`/api/orders/${fast}`, { tracking_number: 'fast' })).statusCode).toBe(200);
    await sleep(5);
    await sync.pass();
    expect(sync.orders.get(fast)?.tracking_number).toBeUndefined();
    await holder.release('create');
    const created = await held;
    expect(created.statusCode, created.body).toBe(201);
    const heldId = created.json<{ data: { id: string } }>().data.id;
    expect((await stampOf(heldId)).getTime()).toBeLessThan((await stampOf(fast)).getTime() - 1000);
    await sleep(5);
    await sync.pass();
    expect(sync.orders.has(heldId)).toBe(true);
    expect(sync.orders.get(fast)?.tracking_number).toBe('fast');
  }, 30_000);

  it('another connection writing by hand, held open, holds the sync back too', async () => {
    const slow = await create();
    const fast = await create();
    const sync = new SyncClient(t, t.auth);
    await sleep(5);
    await sync.pass();
    const other = new Client({ connectionString: t.app.db.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(
        `update orders set tracking_number = 'by hand', updated_at = date_trunc('milliseconds', clock_timestamp()) where id = $1`,
        [slow],
      );
      await sleep(1100);
      expect((await t.rest.put(`/api/orders/${fast}`, { tracking_number: 'fast' })).statusCode).toBe(200);
      await sleep(5);
      await sync.pass();
      expect(sync.orders.get(fast)?.tracking_number).toBeUndefined();
      await other.query('commit');
    } finally {
      await other.end();
    }
    await sleep(5);
    await sync.pass();
    expect(sync.orders.get(slow)?.tracking_number).toBe('by hand');
    expect(sync.orders.get(fast)?.tracking_number).toBe('fast');
  }, 30_000);
});

describe('the horizon on any database', () => {
  it('is not later than now, and lets a committed change through within milliseconds', async () => {
    const id = await create();
    const before = Date.now();
    const horizon = await t.app.db.em.fork().getRepository(OrderEntity).syncHorizon();
    expect(new Date(horizon).getTime()).toBeLessThanOrEqual(Date.now());
    expect(new Date(horizon).getTime()).toBeGreaterThan(before - 5_000);
    await sleep(5);
    const sync = new SyncClient(t, t.auth);
    await sync.pass();
    expect(sync.orders.has(id)).toBe(true);
  });
});
