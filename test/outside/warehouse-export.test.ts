/**
 * The data engineer's nightly export, with tools a warehouse job uses: the
 * whole list paged over REST (`next_cursor`) and over GraphQL (Apollo Client 4
 * with `relayStylePagination` and `fetchMore`), each written to CSV with
 * csv-stringify and read back with csv-parse, while another writer keeps
 * creating and updating orders. The export is reconciled with decimal.js:
 * every order that existed when the export began is in it exactly once, the
 * amounts are those of the orders' events to the currency's digit, and REST,
 * GraphQL and the events agree. Then the incremental run: everything changed
 * since the last run's position, by `sort=updated_at` and `updated_since`.
 */
import type { AddressInfo } from 'node:net';
import { ApolloClient, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import Decimal from 'decimal.js';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';

const D = Decimal.clone({ precision: 60 });
const DIGITS: Record<string, number> = { USD: 2, JPY: 0, KWD: 3 };
const CURRENCIES = Object.keys(DIGITS);

let t: TestApp;
let base: string;
let auth: string;

beforeAll(async () => {
  t = await createTestApp({ rateLimitPerMinute: 1_000_000 });
  auth = await t.bearer('warehouse');
  await t.app.http.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`;
});
afterAll(() => t?.close());

const headers = () => ({ authorization: auth, 'content-type': 'application/json' });

async function rest<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(base + path, {
    method,
    headers: headers(),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

/** A priced order in one of the currencies, its amounts as exact text. */
function draft(i: number) {
  const currency = CURRENCIES[i % CURRENCIES.length];
  const digits = DIGITS[currency];
  const price = new D(1234567 + i * 7919).div(new D(10).pow(digits)).toFixed(digits);
  const quantity = 1 + (i % 4);
  const tax = new D(i % 5).div(new D(10).pow(digits)).toFixed(digits);
  const total = new D(price).mul(quantity).plus(tax).toFixed(digits);
  return {
    body: {
      customer_id: `cust-${i % 9}`,
      currency,
      items: [{ product_id: `p${i}`, quantity, price: Number(price) }],
      tax: Number(tax),
      total: Number(total),
      notes: `line one, "quoted"\nline two of order ${i}`,
    },
    total,
  };
}

interface Summary {
  id: string;
  order_number: string;
  status: string;
  total: number;
  currency: string;
  created_at: string;
  updated_at: string;
}
interface ListPage {
  data: Summary[];
  pagination: { total: number; next_cursor: string | null; has_more: boolean };
}

/** The REST export: the whole list by `next_cursor`, each page as CSV rows. */
async function restExport(query: Record<string, string>): Promise<{ csv: string; rows: Summary[] }> {
  const rows: Summary[] = [];
  let cursor: string | null = null;
  let csv = stringify([], {
    header: true,
    columns: ['id', 'order_number', 'status', 'currency', 'total', 'updated_at'],
  });
  do {
    const params = new URLSearchParams({ ...query, limit: '13' });
    if (cursor) params.set('cursor', cursor);
    const { status, json } = await rest<ListPage>('GET', `/api/orders?${params.toString()}`);
    expect(status).toBe(200);
    rows.push(...json.data);
    csv += stringify(
      // A REST total is a JSON number of exact value: its text, to the currency's digits.
      json.data.map((o) => [
        o.id,
        o.order_number,
        o.status,
        o.currency,
        new D(o.total).toFixed(DIGITS[o.currency]),
        o.updated_at,
      ]),
    );
    cursor = json.pagination.next_cursor;
  } while (cursor);
  return { csv, rows };
}

const PAGE = gql`
  query ExportPage($first: Int, $after: String) {
    orders(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          id
          orderNumber
          status
          currency
          total
          subtotal
          tax
          updatedAt
          items {
            productId
            quantity
            price
            subtotal
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;
interface GqlNode {
  id: string;
  orderNumber: string;
  status: string;
  currency: string;
  total: string;
  subtotal: string;
  tax: string;
  updatedAt: string;
  items: { productId: string; quantity: number; price: string; subtotal: string }[];
}
interface GqlPage {
  orders: {
    totalCount: number;
    edges: { cursor: string; node: GqlNode }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/** The GraphQL export as an app writes it: Apollo Client, relayStylePagination, fetchMore until the end. */
async function graphqlExport(): Promise<{ csv: string; nodes: GqlNode[] }> {
  const client = new ApolloClient({
    link: new HttpLink({ uri: `${base}/graphql`, headers: { authorization: auth } }),
    cache: new InMemoryCache({
      typePolicies: { Query: { fields: { orders: relayStylePagination(['filter', 'orderBy']) } } },
    }),
  });
  // With items, a page is priced at 500 items an order: 10 orders stay under the default cost limit.
  const variables = { first: 10 };
  const watch = client.watchQuery<GqlPage>({ query: PAGE, variables });
  const subscription = watch.subscribe(() => undefined);
  try {
    let page = (await firstValueFrom(watch.pipe(filter((result) => result.dataState === 'complete')))).data;
    while (page.orders.pageInfo.hasNextPage) {
      await watch.fetchMore({ variables: { after: page.orders.pageInfo.endCursor } });
      // relayStylePagination merged the page into the cached list, whose pageInfo is the last page's.
      page = client.readQuery<GqlPage>({ query: PAGE, variables })!;
    }
    const nodes = page.orders.edges.map((edge) => edge.node);
    const csv = stringify(
      nodes.map((o) => [o.id, o.orderNumber, o.status, o.currency, o.total, o.updatedAt]),
      { header: true, columns: ['id', 'order_number', 'status', 'currency', 'total', 'updated_at'] },
    );
    return { csv, nodes };
  } finally {
    subscription.unsubscribe();
    client.stop();
  }
}

describe('a nightly export while the gateway keeps taking orders', () => {
  const expected = new Map<string, { total: string; currency: string }>();

  it('REST and GraphQL exports hold every order that existed once, with the amounts of the books and of the events', async () => {
    for (let i = 0; i < 60; i += 6) {
      const made = await Promise.all(
        Array.from({ length: 6 }, async (_, k) => {
          const { body, total } = draft(i + k);
          const { status, json } = await rest<{ data: Summary }>('POST', '/api/orders', body);
          expect(status).toBe(201);
          return { id: json.data.id, total, currency: body.currency };
        }),
      );
      for (const m of made) expected.set(m.id, { total: m.total, currency: m.currency });
    }

    // The other process: creates and status moves until the exports are done.
    let writing = true;
    const ids = [...expected.keys()];
    const writer = (async () => {
      for (let i = 1000; writing; i++) {
        if (i % 2 === 0) expect((await rest('POST', '/api/orders', draft(i).body)).status).toBe(201);
        else {
          const id = ids[i % ids.length];
          await rest('PUT', `/api/orders/${id}`, { notes: `touched ${i}`, metadata: { n: i } });
        }
      }
    })();

    let restCsv: string;
    let gqlCsv: string;
    try {
      ({ csv: restCsv } = await restExport({}));
      ({ csv: gqlCsv } = await graphqlExport());
    } finally {
      writing = false;
      await writer;
    }

    for (const [name, csv] of [
      ['REST', restCsv],
      ['GraphQL', gqlCsv],
    ] as const) {
      const rows = parse<Record<string, string>>(csv, { columns: true });
      const ids = rows.map((row) => row.id);
      expect(new Set(ids).size, `${name}: no order twice`).toBe(ids.length);
      const missing = [...expected.keys()].filter((id) => !ids.includes(id));
      expect(missing, `${name}: every order that existed when the export began`).toStrictEqual([]);
      const sums = new Map<string, Decimal>();
      for (const row of rows) {
        const want = expected.get(row.id);
        if (!want) continue;
        expect(row.total, `${name}: ${row.id} to the currency's digits`).toBe(want.total);
        sums.set(row.currency, (sums.get(row.currency) ?? new D(0)).plus(row.total));
      }
      for (const currency of CURRENCIES) {
        const books = [...expected.values()]
          .filter((o) => o.currency === currency)
          .reduce((sum, o) => sum.plus(o.total), new D(0));
        expect(sums.get(currency)?.toFixed(DIGITS[currency]), `${name}: ${currency} sum`).toBe(
          books.toFixed(DIGITS[currency]),
        );
      }
    }

    // The events: each order's last event carries the amounts exported.
    const events = await t.app.db.em.fork().execute<
      {
        order_id: string;
        sequence: number;
        data: { order: { total: number; currency: string } } | string;
      }[]
    >('select order_id, sequence, data from order_events order by order_id, sequence');
    const lastEvent = new Map<string, { total: number; currency: string }>();
    for (const event of events) {
      const data = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
      lastEvent.set(event.order_id, data.order);
    }
    for (const [id, want] of expected) {
      const event = lastEvent.get(id);
      expect(event, `an event of ${id}`).toBeDefined();
      expect(new D(event!.total).toFixed(DIGITS[want.currency])).toBe(want.total);
    }
  }, 60_000);

  it('the incremental run: everything changed since the last run, by updated_since and sort=updated_at, ends with each order as GET answers it', async () => {
    // The last run's position: the newest updated_at it exported (REST writes it to the second).
    const before = await restExport({ sort: 'updated_at' });
    const position = before.rows.at(-1)!.updated_at;
    const touched = new Set<string>();
    const ids = [...expected.keys()];
    const writes = Array.from({ length: 24 }, async (_, i) => {
      if (i % 3 === 0) {
        const { json } = await rest<{ data: Summary }>('POST', '/api/orders', draft(2000 + i).body);
        touched.add(json.data.id);
      } else {
        const id = ids[(i * 5) % ids.length];
        expect(
          (await rest('PUT', `/api/orders/${id}`, { status: i % 2 ? 'paid' : 'cancelled' })).status,
        ).toBe(200);
        touched.add(id);
      }
    });
    // The run starts while the writes are going on, and is run again after them, from its own position.
    const during = await restExport({ sort: 'updated_at', updated_since: position });
    await Promise.all(writes);
    const next = during.rows.at(-1)?.updated_at ?? position;
    const after = await restExport({ sort: 'updated_at', updated_since: next });

    const copy = new Map<string, Summary>();
    for (const row of [...during.rows, ...after.rows]) copy.set(row.id, row);
    for (const id of touched) {
      expect(copy.has(id), `${id}, changed after the last run`).toBe(true);
      const { json } = await rest<{ data: Summary }>('GET', `/api/orders/${id}`);
      expect(copy.get(id)!.status).toBe(json.data.status);
      expect(copy.get(id)!.updated_at).toBe(json.data.updated_at);
    }
    // The same position written in another zone (a scheduler in India, say) is the same instant.
    const shifted = new Date(Date.parse(next) + 5.5 * 3600_000).toISOString().replace('.000Z', '+05:30');
    const fromIndia = await restExport({ sort: 'updated_at', updated_since: shifted });
    expect(fromIndia.rows.map((row) => row.id)).toStrictEqual(after.rows.map((row) => row.id));
    // Parsed back from the CSV, the second run's rows are those the API answered.
    const parsed = parse<Record<string, string>>(after.csv, { columns: true });
    expect(parsed.map((row) => row.id)).toStrictEqual(after.rows.map((row) => row.id));
  }, 60_000);
});
