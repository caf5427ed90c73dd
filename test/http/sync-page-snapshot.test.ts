/**
 * GraphQL sync (`orders(orderBy: UPDATED_AT_ASC)`) when an order of a page
 * changes right after the page's first statement: each node, its `updatedAt`
 * and its cursor must be the same moment, or a client that goes on from the
 * page's end (its `endCursor`, or the last `updatedAt` it saw) skips every
 * change in between.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { useTestApp } from '../support/app';

/** Called once after the next statement that reads a page in updated_at order (null: none). */
const hook = vi.hoisted(() => ({ after: null as null | (() => Promise<void>) }));

vi.mock('../../src/db/sql', async (importOriginal) => {
  const sql = await importOriginal<typeof import('../../src/db/sql')>();
  const isPageRead = (text: string) => /order by "o"\."updated_at" asc/.test(text);
  const afterPage = async (text: string) => {
    const run = isPageRead(text) ? hook.after : null;
    if (run) {
      hook.after = null;
      await run();
    }
  };
  return {
    ...sql,
    queryBuilt: async (...args: Parameters<typeof sql.queryBuilt>) => {
      const rows = await sql.queryBuilt(...args);
      await afterPage(args[2].toSQL().sql);
      return rows;
    },
    queryAll: async (...args: Parameters<typeof sql.queryAll>) => {
      const rows = await sql.queryAll(...args);
      await afterPage(typeof args[1] === 'string' ? args[1] : args[1].toSQL().sql);
      return rows;
    },
  };
});

const t = useTestApp();
afterEach(() => {
  hook.after = null;
});

const body = (customer: string) => ({ customer_id: customer, items: [{ product_id: 'p', quantity: 1, price: 5 }], total: 5 });

const PAGE = `query ($after: String) {
  orders(orderBy: UPDATED_AT_ASC, first: 1, after: $after) {
    edges { cursor node { id updatedAt } }
    pageInfo { endCursor hasNextPage }
  }
}`;

it('skips no order when the first one of a page changes right after the page is chosen', async () => {
  const ids: string[] = [];
  for (const customer of ['first', 'second', 'third']) {
    const res = await t.rest.post('/api/orders', body(customer));
    expect(res.statusCode, res.body).toBe(201);
    ids.push(res.json().data.id as string);
  }
  await new Promise((resolve) => setTimeout(resolve, 5));
  // The first order changes once the first page has been chosen, before anything else is read.
  hook.after = async () => {
    const res = await t.rest.put(`/api/orders/${ids[0]}`, { notes: 'changed meanwhile' });
    expect(res.statusCode, res.body).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 5));
  };
  const seen: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10; page++) {
    const res = await t.gql(PAGE, { after });
    const { edges, pageInfo } = res.json().data.orders as {
      edges: { cursor: string; node: { id: string; updatedAt: string } }[];
      pageInfo: { endCursor: string | null; hasNextPage: boolean };
    };
    seen.push(...edges.map((edge) => edge.node.id));
    if (!pageInfo.hasNextPage) break;
    after = pageInfo.endCursor;
  }
  // The first order may come twice (before and after its change); the others must come at all.
  expect(new Set(seen)).toStrictEqual(new Set(ids));
  expect(seen.slice(-1)).toStrictEqual([ids[0]]);
});
