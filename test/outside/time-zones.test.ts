/**
 * The reporting analyst's day, with Luxon's calendar arithmetic and never the gateway's own
 * helpers: workspaces in zones from +14 to −11, with 45-minute offsets, a 30-minute DST and
 * the repeated and skipped hours of New York and London; New Year and 29 February.
 *
 * Time is controlled the way the service allows it: an `OrderService` with a pinned `clock`
 * stamps `created_at` and dates the order number (`updated_at` is the database's clock and
 * cannot be pinned, so nothing here depends on it). Every list is read through REST and
 * GraphQL, as a report would.
 */
import { DateTime } from 'luxon';
import { beforeAll, describe, expect, it } from 'vitest';
import { OrderService } from '../../src/orders/order.service';
import type { Order, RequestContext } from '../../src/orders/order.types';
import { useTestApp } from '../support/app';
import { createOrder } from '../support/orders';

// A report reads many pages: the per-key rate limit is not what these tests are about.
const t = useTestApp({ rateLimitPerMinute: 1_000_000 });

interface Case {
  zone: string;
  /** Local wall-clock times, in the order the orders are created (each read in `zone`). */
  local: string[];
}

/** Instants around local midnights, New Year, 29 February and each zone's DST changes. */
const CASES: Case[] = [
  {
    zone: 'Pacific/Kiritimati',
    local: ['2026-12-31T23:59:59.999', '2027-01-01T00:00:00.000', '2027-01-01T09:59:59.999', '2027-01-01T10:00:00.000', '2027-01-02T00:00:00.000'],
  },
  {
    zone: 'Pacific/Pago_Pago',
    local: ['2028-02-28T23:59:59.999', '2028-02-29T00:00:00.000', '2028-02-29T12:59:59.999', '2028-02-29T13:00:00.000', '2028-03-01T00:00:00.000'],
  },
  {
    zone: 'Asia/Kathmandu',
    local: ['2026-06-14T23:59:59.999', '2026-06-15T00:00:00.000', '2026-06-15T05:44:59.999', '2026-06-15T05:45:00.000', '2026-06-16T00:00:00.000'],
  },
  {
    // DST ends 2026-04-05 02:00 (+11 → +10:30, 01:30–02:00 twice); starts 2026-10-04 02:00 → 02:30.
    zone: 'Australia/Lord_Howe',
    local: ['2026-04-04T23:59:59.999', '2026-04-05T01:15:00.000', '2026-04-05T01:45:00.000+11:00', '2026-04-05T01:45:00.000+10:30', '2026-04-05T02:10:00.000', '2026-04-05T23:59:59.999', '2026-10-04T01:59:59.999', '2026-10-04T02:30:00.000', '2026-10-04T02:59:59.999', '2026-10-05T00:00:00.000'],
  },
  {
    // 2026-03-08 02:00–03:00 skipped; 2026-11-01 01:00–02:00 twice (a time in a repeated
    // hour is written with its offset, -04:00 the first time and -05:00 the second).
    zone: 'America/New_York',
    local: ['2026-03-07T23:59:59.999', '2026-03-08T01:59:59.999', '2026-03-08T03:00:00.000', '2026-03-08T03:59:59.999', '2026-03-08T23:59:59.999', '2026-11-01T00:59:59.999', '2026-11-01T01:00:00.000-04:00', '2026-11-01T01:30:00.000-04:00', '2026-11-01T01:00:00.000-05:00', '2026-11-01T01:30:00.000-05:00', '2026-11-01T02:00:00.000', '2026-11-01T23:59:59.999', '2026-11-02T00:00:00.000'],
  },
  {
    // 2026-03-29 01:00–02:00 skipped; 2026-10-25 01:00–02:00 twice.
    zone: 'Europe/London',
    local: ['2026-03-28T23:59:59.999', '2026-03-29T00:59:59.999', '2026-03-29T02:00:00.000', '2026-10-25T00:59:59.999', '2026-10-25T01:30:00.000+01:00', '2026-10-25T01:30:00.000+00:00', '2026-10-25T02:00:00.000', '2026-10-25T23:59:59.999', '2026-10-26T00:00:00.000', '2027-12-31T23:59:59.999', '2028-01-01T00:00:00.000'],
  },
  {
    // Cuba changes its clocks at midnight: 2026-03-08 00:00–01:00 is skipped, so the day starts
    // at 01:00; 2026-11-01 01:00 → 00:00, so that day's midnight and its first hour come twice.
    zone: 'America/Havana',
    local: ['2026-03-07T23:59:59.999', '2026-03-08T01:00:00.000', '2026-03-08T23:59:59.999', '2026-10-31T23:30:00.000', '2026-11-01T00:30:00.000-04:00', '2026-11-01T00:30:00.000-05:00', '2026-11-01T01:00:00.000', '2026-11-01T23:59:59.999'],
  },
];

/** The instants of a case, in creation order, as Luxon reads its local times. */
function instantsOf(c: Case): DateTime[] {
  const out: DateTime[] = [];
  for (const text of c.local) {
    if (/[+-]\d{2}:\d{2}$/.test(text)) {
      // A time in a repeated hour, with the offset that says which time round.
      const at = DateTime.fromISO(text, { zone: c.zone });
      // The zone is at that offset then, so the text is a reading of its clock.
      expect(at.offset, `${text} in ${c.zone}`).toBe(DateTime.fromISO(text, { setZone: true }).offset);
      out.push(at);
    } else {
      const local = DateTime.fromISO(text, { zone: c.zone });
      if (!local.isValid) throw new Error(`${text} in ${c.zone}: ${local.invalidExplanation}`);
      // A skipped local time would be moved by Luxon; the cases name only real ones.
      expect(local.toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS"), `${text} exists in ${c.zone}`).toBe(text);
      out.push(local);
    }
  }
  return out;
}

const slug = (zone: string) => zone.toLowerCase().replace(/[^a-z0-9]+/g, '-');

interface Made {
  zone: string;
  auth: string;
  ctx: RequestContext;
  orders: { order: Order; at: DateTime }[];
}
const made: Made[] = [];

beforeAll(async () => {
  for (const c of CASES) {
    const auth = await t.bearer(slug(c.zone), c.zone);
    const ctx = await t.context(auth);
    const orders: Made['orders'] = [];
    for (const at of instantsOf(c)) {
      const service = new OrderService(t.app.db.em, { clock: () => at.toJSDate() });
      const order = await createOrder(service, ctx, {
        customer_id: 'analyst',
        items: [{ product_id: 'p', quantity: 1, price: 1 }],
        total: 1,
      });
      orders.push({ order, at });
    }
    made.push({ zone: c.zone, auth, ctx, orders });
  }
});

/** `YYYY-MM-DD` of the order number. */
const numberDay = (orderNumber: string) => {
  const m = /^ORD-(\d{4})-(\d{2})(\d{2})-(\d{3,})$/.exec(orderNumber);
  if (!m) throw new Error(`not an order number: ${orderNumber}`);
  return { day: `${m[1]}-${m[2]}-${m[3]}`, sequence: Number(m[4]) };
};

describe('order numbers are dated with the workspace’s local day, and the counter restarts at its midnight', () => {
  it.each(CASES.map((c) => c.zone))('%s', (zone) => {
    const { orders } = made.find((m) => m.zone === zone)!;
    const perDay = new Map<string, number>();
    const expected = orders.map(({ at }) => {
      const day = at.setZone(zone).toISODate()!;
      const sequence = (perDay.get(day) ?? 0) + 1;
      perDay.set(day, sequence);
      return `ORD-${at.setZone(zone).toFormat('yyyy-MMdd')}-${String(sequence).padStart(3, '0')}`;
    });
    expect(orders.map(({ order }) => order.orderNumber)).toStrictEqual(expected);
  });
});

async function restIds(auth: string, query: Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ ...query, limit: '100', ...(cursor ? { cursor } : {}) });
    const res = await t.rest.get(`/api/orders?${params.toString()}`, { authorization: auth });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ data: { id: string }[]; pagination: { next_cursor: string | null } }>();
    ids.push(...body.data.map((o) => o.id));
    cursor = body.pagination.next_cursor;
  } while (cursor);
  return ids.sort();
}

async function gqlIds(auth: string, filter: Record<string, string>): Promise<string[]> {
  const res = await t.gql(
    'query($filter: OrderFilter) { orders(filter: $filter, first: 100) { edges { node { id } } } }',
    { filter },
    { authorization: auth },
  );
  const body = res.json<{ data?: { orders: { edges: { node: { id: string } }[] } }; errors?: unknown }>();
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!.orders.edges.map((e) => e.node.id).sort();
}

describe('a whole local day (from=D&to=D) lists exactly the orders whose numbers carry D', () => {
  it.each(CASES.map((c) => c.zone))('%s', async (zone) => {
    const { auth, orders } = made.find((m) => m.zone === zone)!;
    const days = new Set(orders.map(({ order }) => numberDay(order.orderNumber).day));
    for (const day of days) {
      const expected = orders
        .filter(({ order }) => numberDay(order.orderNumber).day === day)
        .map(({ order }) => order.id)
        .sort();
      expect(await restIds(auth, { from: day, to: day }), `REST ${day}`).toStrictEqual(expected);
      expect(await gqlIds(auth, { from: day, to: day }), `GraphQL ${day}`).toStrictEqual(expected);
    }
  });
});

describe('bounds with offsets, fractions and local times select what Luxon says they should', () => {
  it.each(CASES.map((c) => c.zone))('%s', async (zone) => {
    const { auth, orders } = made.find((m) => m.zone === zone)!;
    for (const { at } of orders) {
      // The same instant written in several zones and precisions, as `from` and as `to`.
      const utc = at.toUTC();
      const spellings = [
        utc.toISO()!, // …Z with milliseconds
        utc.toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'-00:00'"),
        utc.setZone('UTC+5:45').toISO()!, // +05:45
        utc.setZone('UTC-11').toISO()!,
        `${utc.toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS")}000000Z`, // nine fraction digits
      ];
      for (const text of spellings) {
        const from = orders.filter((o) => o.at.toMillis() >= at.toMillis()).map((o) => o.order.id).sort();
        const to = orders.filter((o) => o.at.toMillis() <= at.toMillis()).map((o) => o.order.id).sort();
        expect(await restIds(auth, { from: text }), `REST from=${text}`).toStrictEqual(from);
        expect(await restIds(auth, { to: text }), `REST to=${text}`).toStrictEqual(to);
        expect(await gqlIds(auth, { from: text }), `GraphQL from=${text}`).toStrictEqual(from);
        expect(await gqlIds(auth, { to: text }), `GraphQL to=${text}`).toStrictEqual(to);
      }
      // A local time without a zone is read in the workspace's zone; to the second, `to` takes the whole second.
      const local = at.setZone(zone);
      const wall = local.toFormat("yyyy-MM-dd'T'HH:mm:ss");
      const sameWall = orders.filter((o) => o.at.setZone(zone).toFormat("yyyy-MM-dd'T'HH:mm:ss") === wall);
      if (sameWall.length === 1) {
        const secondEnd = local.startOf('second').plus({ seconds: 1 }).toMillis();
        const to = orders.filter((o) => o.at.toMillis() < secondEnd).map((o) => o.order.id).sort();
        expect(await restIds(auth, { to: wall }), `REST to=${wall} (local)`).toStrictEqual(to);
      }
    }
  });
});

/** Days with a clock change, in zones that have one among the cases. */
const CHANGE_DAYS: [string, string][] = [
  ['America/New_York', '2026-03-08'],
  ['America/New_York', '2026-11-01'],
  ['Europe/London', '2026-03-29'],
  ['Europe/London', '2026-10-25'],
  ['Australia/Lord_Howe', '2026-04-05'],
  ['Australia/Lord_Howe', '2026-10-04'],
  ['America/Havana', '2026-03-08'],
  ['America/Havana', '2026-11-01'],
];

describe('hourly reports of a day with a clock change list each order once, in the hour its local clock read', () => {
  it.each(CHANGE_DAYS)('%s %s', async (zone, day) => {
    const { auth, orders } = made.find((m) => m.zone === zone)!;
    const seen: string[] = [];
    for (let hour = 0; hour < 24; hour++) {
      const hh = String(hour).padStart(2, '0');
      const expected = orders
        .filter(({ at }) => at.setZone(zone).toISODate() === day && at.setZone(zone).hour === hour)
        .map(({ order }) => order.id)
        .sort();
      const bounds = { from: `${day}T${hh}:00`, to: `${day}T${hh}:59:59` };
      const rest = await restIds(auth, bounds);
      expect(rest, `REST ${zone} ${day} hour ${hh}`).toStrictEqual(expected);
      expect(await gqlIds(auth, bounds), `GraphQL ${zone} ${day} hour ${hh}`).toStrictEqual(expected);
      seen.push(...rest);
    }
    // Together the hours are the day, each order once.
    expect(seen.sort()).toStrictEqual(await restIds(auth, { from: day, to: day }));
  });
});

describe('a bound that names no real time is a 422 naming it on REST, and VALIDATION_ERROR on GraphQL', () => {
  const invalid = [
    '2026-02-29', // not a leap year (2028-02-29 is listed above)
    '2026-04-31',
    '2026-12-31T24:00',
    '2026-12-31T24:00:00Z',
    '2016-12-31T23:59:60Z', // a leap second: PostgreSQL would roll it over into the next minute
    '2026-06-15T12:00:00+16:00',
    '2026-06-15T12:00:00,5Z',
    '2026-W24-1',
  ];
  it.each(invalid)('%s', async (value) => {
    // The two calendar dates are no days by Luxon's calendar either (it takes 24:00 as ISO 8601's
    // end of day, which the README says the list refuses: hours are 00–23).
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) expect(DateTime.fromISO(value).isValid).toBe(false);
    for (const key of ['from', 'to'] as const) {
      const res = await t.rest.get(`/api/orders?${key}=${encodeURIComponent(value)}`);
      expect(res.statusCode, res.body).toBe(422);
      const body = res.json<{ error: { code: string; details: { field: string }[] } }>();
      expect(body.error.code).toBe('VALIDATION_ERROR');
      expect(body.error.details.map((d) => d.field)).toStrictEqual([key]);
      const gql = await t.gql('query($filter: OrderFilter) { orders(filter: $filter) { totalCount } }', {
        filter: { [key]: value },
      });
      const errors = gql.json<{ errors?: { extensions?: { code?: string } }[] }>().errors;
      expect(errors?.map((e) => e.extensions?.code), gql.body).toStrictEqual(['VALIDATION_ERROR']);
    }
  });
});

describe('orders created in the same millisecond', () => {
  it('come in one order, newest first then by id, on every REST and GraphQL page, with one timestamp each transport writes as documented', async () => {
    const auth = await t.bearer('same-millisecond', 'Asia/Kathmandu');
    const ctx = await t.context(auth);
    const at = DateTime.fromISO('2026-06-15T05:44:59.999', { zone: 'Asia/Kathmandu' });
    const service = new OrderService(t.app.db.em, { clock: () => at.toJSDate() });
    const created: Order[] = [];
    for (let i = 0; i < 23; i++)
      created.push(
        await createOrder(service, ctx, { customer_id: 'same', items: [{ product_id: 'p', quantity: 1, price: 1 }], total: 1 }),
      );
    // Numbered one after another in the local day, whatever order the ids sort in.
    expect(created.map((o) => o.orderNumber)).toStrictEqual(
      created.map((_, i) => `ORD-2026-0615-${String(i + 1).padStart(3, '0')}`),
    );
    const expected = created.map((o) => o.id).sort().reverse();

    const restPages: { id: string; created_at: string }[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ limit: '5', ...(cursor ? { cursor } : {}) });
      const res = await t.rest.get(`/api/orders?${params.toString()}`, { authorization: auth });
      const body = res.json<{ data: { id: string; created_at: string }[]; pagination: { next_cursor: string | null } }>();
      restPages.push(...body.data);
      cursor = body.pagination.next_cursor;
    } while (cursor);
    expect(restPages.map((o) => o.id)).toStrictEqual(expected);
    // REST: UTC to the second, as documented.
    expect(new Set(restPages.map((o) => o.created_at))).toStrictEqual(
      new Set([at.toUTC().toFormat("yyyy-MM-dd'T'HH:mm:ss'Z'")]),
    );

    const gqlPages: { id: string; createdAt: string }[] = [];
    let after: string | null = null;
    do {
      const res = await t.gql(
        'query($after: String) { orders(first: 5, after: $after) { edges { node { id createdAt } } pageInfo { hasNextPage endCursor } } }',
        { after },
        { authorization: auth },
      );
      const { orders } = res.json<{
        data: { orders: { edges: { node: { id: string; createdAt: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
      }>().data;
      gqlPages.push(...orders.edges.map((e) => e.node));
      after = orders.pageInfo.hasNextPage ? orders.pageInfo.endCursor : null;
    } while (after);
    expect(gqlPages.map((o) => o.id)).toStrictEqual(expected);
    // GraphQL: UTC to the millisecond, the instant as stored.
    expect(new Set(gqlPages.map((o) => o.createdAt))).toStrictEqual(new Set([at.toUTC().toISO()]));
  });
});

describe('the served contract says how a date-time without an offset is read', () => {
  it('the OpenAPI document and the GraphQL schema say from and to read it in the workspace time zone', async () => {
    const doc = (await t.rest.get('/openapi.json')).json<{
      paths: Record<string, Record<string, { parameters?: { name: string; in: string; description?: string }[] }>>;
    }>();
    const parameters = doc.paths['/api/orders'].get.parameters!;
    const res = await t.gql('{ __type(name: "OrderFilter") { inputFields { name description } } }');
    const fields = res.json<{ data: { __type: { inputFields: { name: string; description: string }[] } } }>().data
      .__type.inputFields;
    for (const name of ['from', 'to']) {
      const rest = parameters.find((p) => p.in === 'query' && p.name === name)?.description;
      const gql = fields.find((f) => f.name === name)?.description;
      for (const description of [rest, gql])
        expect(description, name).toMatch(/without an offset, in the workspace time zone/);
    }
  });
});
