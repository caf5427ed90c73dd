/**
 * The list queries of \`OrderRepository\` (order.repository.ts), built with knex:
 * the workspace scope, every filter (each with its index, see the entity), the
 * sort, the keyset cursor and the sync horizon; and how a page runs with its count.
 */
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import { queryAll, queryBuilt } from '../db/sql';
import type { Cursor, OrderSort } from './order-cursor';
import { searchForms, type OrderFilter, type TimeBound } from './order-filter';
import type { Scope } from './order.repository';

/** Which rows of the filtered list a page reads, and in what order. */
export interface ListWindow {
  sort: OrderSort;
  limit: number;
  /** Rows to skip (REST's offset paging); 0 with a cursor. */
  offset?: number;
  /** The page starts strictly after this row of `sort`. */
  after?: Cursor;
  /** The page ends strictly before this row of `sort` (GraphQL's `before`). */
  before?: Cursor;
  /** Take the `limit` rows nearest the end of the window (GraphQL's `last`) instead of its start. */
  fromEnd?: boolean;
  /** Only rows changed before this instant (see `syncHorizon`). */
  horizon?: string;
}

/**
 * The two queries behind a REST list page: its rows, and the count of every match. Exported for the index test.
 * The page's ids are chosen first, by a query that reads only what a list index holds (the sort
 * columns and the id), and only those rows are read whole, with their items counted: an `offset`
 * skips index entries, never whole rows with an items count each (offset 1,000,000 of a
 * 2,000,000-order workspace counted the items of a million orders, 8 to 16 s).
 */
export function listQueries(knex: Knex, scope: Scope, filter: OrderFilter, page: ListWindow) {
  const matching = whereWindow(whereFilter(knex('orders as o'), scope, filter), page);
  const pageIds = inOrder(whereAfter(matching.clone().select('o.id'), page), page.sort)
    .limit(page.limit)
    .offset(page.offset ?? 0);
  const rows = inOrder(
    knex
      .with('page', pageIds)
      .from('page')
      .join('orders as o', 'o.id', 'page.id')
      .select(
        'o.id',
        { orderNumber: 'o.order_number', customerId: 'o.customer_id' },
        'o.status',
        'o.total',
        'o.currency',
        { trackingNumber: 'o.tracking_number', createdAt: 'o.created_at', updatedAt: 'o.updated_at' },
      )
      .select(
        knex.raw('(select count(*) from order_items i where i.order_id = o.id)::int as "itemsCount"'),
      ),
    page.sort,
  );
  return { rows, count: matching.clone().count({ n: '*' }) };
}

/** The horizon, which applies to the count as well as the rows. */
export function whereWindow(qb: Knex.QueryBuilder, page: Pick<ListWindow, 'horizon'>): Knex.QueryBuilder {
  if (page.horizon !== undefined) qb.andWhereRaw('o.updated_at < ?::timestamptz', [page.horizon]);
  return qb;
}

/** Strictly after the `after` cursor's row and before the `before` one's, in the cursors' sort. */
export function whereAfter(qb: Knex.QueryBuilder, page: Pick<ListWindow, 'after' | 'before'>): Knex.QueryBuilder {
  const { after, before } = page;
  if (after?.sort === 'updated_at')
    qb.andWhereRaw('(o.updated_at, o.id) > (?::timestamptz, ?)', [after.at, after.id]);
  else if (after) qb.andWhereRaw('(o.created_at, o.id) < (?::timestamptz, ?)', [after.at, after.id]);
  if (before?.sort === 'updated_at')
    qb.andWhereRaw('(o.updated_at, o.id) < (?::timestamptz, ?)', [before.at, before.id]);
  else if (before) qb.andWhereRaw('(o.created_at, o.id) > (?::timestamptz, ?)', [before.at, before.id]);
  return qb;
}

/** The workspace scope and every filter, on `orders as o`. Each filter has an index (see the entity). */
export function whereFilter(qb: Knex.QueryBuilder, scope: Scope, filter: OrderFilter): Knex.QueryBuilder {
  qb.where('o.workspace_id', scope.workspaceId);
  if (filter.customerId !== undefined) qb.andWhere('o.customer_id', filter.customerId);
  if (filter.status !== undefined) qb.andWhere('o.status', filter.status);
  // The unique (workspace, order number) key serves this lookup.
  if (filter.orderNumber !== undefined) qb.andWhere('o.order_number', filter.orderNumber);
  if (filter.from)
    qb.andWhereRaw(
      `o.created_at >= ${startSql(filter.from)}`,
      boundParams(filter.from, scope.timeZone),
    );
  if (filter.to) qb.andWhereRaw(...upTo(filter.to, scope.timeZone));
  if (filter.minTotal !== undefined) qb.andWhereRaw('o.total >= ?::numeric', [filter.minTotal]);
  if (filter.maxTotal !== undefined) qb.andWhereRaw('o.total <= ?::numeric', [filter.maxTotal]);
  if (filter.updatedSince !== undefined)
    qb.andWhereRaw('o.updated_at >= ?::timestamptz', [filter.updatedSince]);
  if (filter.search !== undefined) {
    const patterns = searchForms(filter.search).map(
      (form) => `%${form.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
    );
    qb.andWhere((inner) => {
      void inner.whereRaw(`o.order_number ilike ? escape '\\'`, [patterns[0]]);
      for (const pattern of patterns) void inner.orWhereRaw(`o.notes ilike ? escape '\\'`, [pattern]);
    });
  }
  return qb;
}

/**
 * The first instant the workspace's clock reads the local time `w` (a `timestamp`, as SQL
 * over the parameters that follow it) in zone `?`: where a clock change repeats an hour, its
 * first time round, so a range that starts there (`from`, and the end of a `to` that is the
 * start of the next second, minute or day) takes in both. A time that never happens (the
 * hour skipped) is read with the offset before the change, as PostgreSQL (and Luxon, and
 * Temporal's `compatible`) read it: that is the instant of the change when it is where the
 * skipped hour starts. The other reading of a repeated time is `w` less the offset three
 * hours before PostgreSQL's (which is the later one); it is taken when the clock reads `w`
 * then. One row of constants, so the list indexes still serve the range.
 */
const firstReadingSql = (w: string) => `(select coalesce(min(v.c) filter (where v.c at time zone p.z = p.w), min(p.a))
  from (select w, z, w at time zone z as a from (select ${w} as w, ?::text as z) given) p
  cross join lateral (values (p.a), ((p.w - ((p.a - interval '3 hours') at time zone p.z - (p.a - interval '3 hours') at time zone 'UTC')) at time zone 'UTC')) v(c))`;

/** The first instant of a bound, for `from` (a local time or a day: see `firstReadingSql`). */
function startSql(bound: TimeBound): string {
  switch (bound.kind) {
    case 'instant':
      return '?::timestamptz';
    case 'local':
      return firstReadingSql('?::timestamp');
    case 'date':
      return firstReadingSql('?::date::timestamp');
  }
}

function boundParams(bound: TimeBound, timeZone: string): string[] {
  return bound.kind === 'instant' ? [bound.value] : [bound.value, timeZone];
}

/**
 * `to` is inclusive of the whole unit it is written in (see `TimeBound`): a day up to the
 * next local midnight, a time to the second or minute up to the next one (each the first
 * time the local clock reads it), a fraction exactly (a local one repeated by a clock
 * change, up to its second time round). The column stays bare on the left, so the list
 * indexes serve the range.
 */
function upTo(bound: TimeBound, timeZone: string): [string, string[]] {
  switch (bound.kind) {
    case 'instant':
      return bound.unit === undefined
        ? ['o.created_at <= ?::timestamptz', [bound.value]]
        : ['o.created_at < (?::timestamptz + ?::interval)', [bound.value, `1 ${bound.unit}`]];
    case 'date':
      return [`o.created_at < ${firstReadingSql('(?::date + 1)::timestamp')}`, [bound.value, timeZone]];
    case 'local':
      return bound.unit === undefined
        ? ['o.created_at <= (?::timestamp at time zone ?)', [bound.value, timeZone]]
        : [
            `o.created_at < ${firstReadingSql('(?::timestamp + ?::interval)')}`,
            [bound.value, `1 ${bound.unit}`, timeZone],
          ];
  }
}

/** Newest first, or oldest change first; ties by id. Each is the order of a list index (see the entity). */
export function inOrder(qb: Knex.QueryBuilder, sort: OrderSort, reversed = false): Knex.QueryBuilder {
  const ascending = (sort === 'updated_at') !== reversed;
  const order = ascending ? 'asc' : 'desc';
  const column = sort === 'updated_at' ? 'o.updated_at' : 'o.created_at';
  return qb.orderBy([
    { column, order },
    { column: 'o.id', order },
  ]);
}

/**
 * A page's rows, with the count of every match as one more column: one
 * statement, so one round trip and one snapshot, and the count, an
 * uncorrelated subquery, is evaluated once. An empty page (an offset past
 * the end) carries no count, so then it is asked for alone. Each runs as a
 * prepared statement (`queryBuilt`), except with a search, whose best plan
 * depends on its pattern, which a prepared statement's generic plan cannot see.
 */
export function pageWithTotal<T extends object>(
  em: EntityManager,
  name: string,
  filter: OrderFilter,
  page: Knex.QueryBuilder,
  count: Knex.QueryBuilder,
  window: Pick<ListWindow, 'offset' | 'after' | 'before'>,
): Promise<{ records: T[]; total: number }>;
/** Without a count (GraphQL's `totalCount` not asked for): the page's rows alone. */
export function pageWithTotal<T extends object>(
  em: EntityManager,
  name: string,
  filter: OrderFilter,
  page: Knex.QueryBuilder,
  count: Knex.QueryBuilder | undefined,
  window: Pick<ListWindow, 'offset' | 'after' | 'before'>,
): Promise<{ records: T[]; total?: number }>;
export async function pageWithTotal<T extends object>(
  em: EntityManager,
  name: string,
  filter: OrderFilter,
  page: Knex.QueryBuilder,
  count: Knex.QueryBuilder | undefined,
  window: Pick<ListWindow, 'offset' | 'after' | 'before'>,
): Promise<{ records: T[]; total?: number }> {
  const run = <R extends object>(prefix: string, query: Knex.QueryBuilder) =>
    filter.search === undefined ? queryBuilt<R>(em, prefix, query) : queryAll<R>(em, query);
  if (count === undefined) return { records: await run<T>(name, page) };
  const records = await run<T & { totalCount: string | number }>(
    name,
    page.clone().select({ totalCount: count }),
  );
  // An empty page that starts at the first match (no offset, no cursor) means nothing matches: the
  // count is 0 in the page's own snapshot, with no second statement. Only a page past the end (an
  // offset or a cursor beyond the last match) sends the count on its own: a lookup by a number that
  // does not exist, or a filter that matches nothing, cost two round trips where one does.
  const startsAtFirstMatch = !window.offset && window.after === undefined && window.before === undefined;
  const total =
    records[0]?.totalCount ??
    (startsAtFirstMatch ? 0 : (await run<{ n: string | number }>('order_count', count))[0]?.n);
  return { records, total: Number(total ?? 0) };
}
