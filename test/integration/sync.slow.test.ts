/**
 * The sync test of issue 14: 1,000 creates and updates from concurrent
 * writers, some of them held open between their stamp and their commit (on a
 * PostgreSQL server); a client syncing with `updated_since` and cursors,
 * started and restarted while they write, ends with exactly the final state
 * of every order. And REST cursor paging while orders are being created
 * never repeats or skips a row.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app';
import { usingRealPostgres } from '../support/database';
import { finalState, Holder, SyncClient } from '../support/sync';

const t = useTestApp({ rateLimitPerMinute: 100_000_000, authFailuresPerMinute: 100_000_000 });
const body = (customer: string, notes?: string) => ({
  customer_id: customer,
  items: [{ product_id: 'p', quantity: 1, price: 5 }],
  total: 5,
  ...(notes ? { notes } : {}),
});
const NEXT_STATUS: Record<string, string> = { pending: 'paid', paid: 'processing', processing: 'shipped', shipped: 'delivered' };

/** `promise`, or a failure naming `what` if it has not settled within `ms`: a hung request fails the test, it does not hang it. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('sync under concurrent writers', () => {
  let holder: Holder | undefined;
  beforeAll(async () => {
    if (usingRealPostgres) holder = await Holder.install(t.app.db.url as string);
  });
  afterAll(() => holder?.close());

  it('ends with exactly the final state of every order, with held transactions and restarts', async () => {
    const rand = random(14);
    const OPS = 1_000;
    const WRITERS = 6;
    const auth = await t.bearer('syncing');
    const ids: string[] = [];
    const status = new Map<string, string>();
    const tally = { creates: 0, updates: 0, held: 0, statusMoves: 0, failed: 0, retried: 0 };
    const holds: Promise<void>[] = [];
    let next = 0;
    let writing = true;

    /**
     * As a real client does: a 503 (the embedded database's one connection busy with the sync
     * client's pages, so a create waited its turn past DB_CONNECT_TIMEOUT_MS) is tried again after
     * its Retry-After. It wrote nothing, so trying again is safe.
     */
    const retrying = async <R extends { statusCode: number; headers: Record<string, unknown> }>(what: string, send: () => Promise<R>): Promise<R> => {
      for (let attempt = 1; ; attempt++) {
        const res = await within(60_000, what, send());
        if (res.statusCode !== 503 || attempt === 5) return res;
        tally.retried += 1;
        await sleep(Number(res.headers['retry-after'] ?? 1) * 1000);
      }
    };

    const writer = async () => {
      for (let op = next++; op < OPS; op = next++) {
        const create = ids.length < 20 || rand() < 0.3;
        // Held transactions only where there are several connections; creates of a workspace queue on its counter.
        const held = holder !== undefined && rand() < (create ? 0.01 : 0.05);
        const notes = held ? `hold:op${op}` : `op${op}`;
        if (held && holder) {
          await holder.hold(`op${op}`);
          tally.held += 1;
          const h = holder;
          holds.push(sleep(200 + Math.floor(rand() * 1_300)).then(() => h.release(`op${op}`)));
        }
        if (create) {
          const res = await retrying(`create op${op}`, () => t.rest.post('/api/orders', body('c', notes), { authorization: auth }));
          if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`);
          const id = res.json<{ data: { id: string } }>().data.id;
          ids.push(id);
          status.set(id, 'pending');
          tally.creates += 1;
        } else {
          const id = ids[Math.floor(rand() * ids.length)];
          const move = rand() < 0.3 ? NEXT_STATUS[status.get(id) ?? ''] : undefined;
          const res = await retrying(`update op${op}`, () =>
            t.rest.put(`/api/orders/${id}`, { tracking_number: `t${op}`, notes, ...(move ? { status: move } : {}) }, { authorization: auth }),
          );
          // A status move raced by another writer's move of the same order can be refused; the update then changed nothing.
          if (res.statusCode === 409) tally.failed += 1;
          else if (res.statusCode !== 200) throw new Error(`update: ${res.statusCode} ${res.body}`);
          else {
            tally.updates += 1;
            if (move) {
              status.set(id, move);
              tally.statusMoves += 1;
            }
          }
        }
      }
    };

    const client = new SyncClient(t, auth);
    let restarts = 0;
    const syncing = (async () => {
      // Starts once the writers are under way, and "crashes" every few pages, keeping only its position.
      // At most twice from one position: REST positions are to the second, so a client that restarts
      // every 7 pages (140 rows) from a second holding more changes than that would re-read the same
      // second for ever (as a real client that kept crashing would; see the README).
      while (ids.length < 100) await sleep(10);
      let pages = 0;
      let restartedAt = '';
      let restartsThere = 0;
      while (writing) {
        const more = await client.page(20);
        pages += 1;
        // Far more than the writers' 1,000 changes need: a cursor that never ends fails here, naming itself.
        if (pages > 20_000) throw new Error(`sync: ${pages} pages while writing; position ${client.position}`);
        if (pages % 7 === 0 && (client.position !== restartedAt || restartsThere < 2)) {
          restartsThere = client.position === restartedAt ? restartsThere + 1 : 1;
          restartedAt = client.position;
          client.restart();
          restarts += 1;
        } else if (!more) await sleep(20);
      }
    })();

    // A writer that fails (or a sync that does) ends the test with its error: the sync loop stops
    // with the writers, whatever happened to them, instead of paging on until the process runs out of memory.
    const writes = (async () => {
      await Promise.all(Array.from({ length: WRITERS }, writer));
      await Promise.all(holds);
    })().finally(() => {
      writing = false;
    });
    await Promise.all([writes, syncing]);
    // Caught up: passes until one brings no change.
    let changes = -1;
    for (let passes = 0; client.changes !== changes; passes++) {
      if (passes >= 50) throw new Error(`sync: still changing after ${passes} passes once the writers stopped`);
      changes = client.changes;
      await sleep(20);
      await client.pass(100);
    }

    const truth = await finalState(t, auth);
    const wrong = [...truth.values()].filter((row) => JSON.stringify(client.orders.get(row.id)) !== JSON.stringify(row));
    console.info(
      `sync test (${usingRealPostgres ? 'PostgreSQL' : 'embedded'}): ${OPS} writes by ${WRITERS} writers = ` +
        `${tally.creates} creates + ${tally.updates} updates (${tally.statusMoves} status moves, ${tally.failed} refused moves), ` +
        `${tally.held} held open 200–1500 ms, ${tally.retried} answers of 503 tried again; client: ${client.pages} pages, ${client.rowsSeen} rows read (${client.changes} changes), ${restarts} restarts; ` +
        `final: ${truth.size} orders, ${client.orders.size} synced, ${wrong.length} wrong or missing`,
    );
    expect(tally.creates + tally.updates + tally.failed).toBe(OPS);
    expect(truth.size).toBe(tally.creates);
    expect(client.orders.size).toBe(truth.size);
    expect(wrong).toStrictEqual([]);
    if (usingRealPostgres) expect(tally.held).toBeGreaterThan(20);
  });
});

describe('REST cursor paging while orders are created', () => {
  it.each([20, 7])('never repeats or skips a row (pages of %i)', async (limit) => {
    const auth = await t.bearer(`paging-${limit}`);
    const before: string[] = [];
    for (let i = 0; i < 150; i++) {
      const res = await t.rest.post('/api/orders', body('p'), { authorization: auth });
      before.push(res.json<{ data: { id: string } }>().data.id);
    }
    let inserting = true;
    let inserted = 0;
    const inserters = Array.from({ length: 3 }, async () => {
      while (inserting) {
        const res = await t.rest.post('/api/orders', body('p'), { authorization: auth });
        if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode}`);
        inserted += 1;
      }
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const res = await t.rest.get(`/api/orders?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { authorization: auth });
        const page = res.json<{ data: { id: string }[]; pagination: { next_cursor: string | null } }>();
        seen.push(...page.data.map((row) => row.id));
        cursor = page.pagination.next_cursor;
        pages += 1;
      } while (cursor);
    } finally {
      inserting = false;
      await Promise.all(inserters);
    }
    console.info(`cursor paging (limit ${limit}): ${pages} pages, ${seen.length} rows, ${inserted} created meanwhile`);
    expect(new Set(seen).size).toBe(seen.length);
    const set = new Set(seen);
    expect(before.filter((id) => !set.has(id))).toStrictEqual([]);
    expect(inserted).toBeGreaterThan(0);
  });
});
