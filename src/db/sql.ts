/**
 * Typed shorthands over `em.execute`, MikroORM's public way to run
 * hand-written SQL. The statement runs in the entity manager's transaction
 * (if it has one), is logged by MikroORM's logger (which the query-duration
 * metric reads), and its errors become MikroORM's typed exceptions
 * (`UniqueConstraintViolationException` …).
 *
 * Values are given as `?` parameters and MikroORM writes them into the text,
 * escaped, as it does for its own queries. A `;` inside a value is safe on
 * both databases: the embedded driver tells one statement from a script by
 * PostgreSQL's lexical rules (see `embedded-driver.ts`).
 */
import { createHash } from 'node:crypto';
import type { EntityManager, Knex, QueryResult } from '@mikro-orm/postgresql';

type Row = Record<string, unknown>;

/** All rows of a query (SQL text with `?` parameters, or a knex query builder). */
export async function queryAll<T extends object>(
  em: EntityManager,
  query: string | Knex.QueryBuilder,
  params: readonly unknown[] = [],
): Promise<T[]> {
  return (await em.execute<Row[]>(query, [...params], 'all')) as T[];
}

/** The first row, or undefined. */
export async function queryOne<T extends object>(
  em: EntityManager,
  text: string,
  params: readonly unknown[] = [],
): Promise<T | undefined> {
  return (await queryAll<T>(em, text, params))[0];
}

/** A statement without a result set; returns how many rows it touched. */
export async function execute(
  em: EntityManager,
  text: string,
  params: readonly unknown[] = [],
): Promise<number> {
  const result = await em.execute<QueryResult>(text, [...params], 'run');
  return result.affectedRows;
}

/**
 * All rows of one of the few hot statements, as a named prepared statement
 * with bound values: PostgreSQL parses and plans `text` once per connection
 * instead of parsing, on every call, a new text with each value written into
 * it (what `em.execute` does), and Node escapes no value into SQL. The text
 * uses `?` placeholders, each with an explicit cast, since a bound value has
 * no type of its own. The statement still runs in the entity manager's
 * transaction, is timed through MikroORM's logger like any other, and its
 * errors become MikroORM's typed exceptions. On the embedded database the
 * name is ignored and the values are bound all the same.
 */
export async function queryPrepared<T extends object>(
  em: EntityManager,
  name: string,
  text: string,
  params: readonly unknown[],
): Promise<T[]> {
  const query = em
    .getConnection()
    .getKnex()
    .raw(text, params as Knex.RawBinding[])
    .options({ name });
  const transaction = em.getTransactionContext<Knex.Transaction>();
  if (transaction) query.transacting(transaction);
  const started = Date.now();
  let failed = false;
  try {
    const result = (await query) as { rows: T[] };
    return result.rows;
  } catch (error) {
    failed = true;
    throw em.getDriver().convertException(error as Error);
  } finally {
    em.config
      .getLogger()
      .logQuery({ query: text, took: Date.now() - started, level: failed ? 'error' : 'info' });
  }
}

/** The prepared statement's name of each query shape seen so far (see `queryBuilt`). */
const preparedShapes = new Map<string, string>();
/** How many shapes a process prepares: each is a plan kept by every pooled connection. */
export const MAX_PREPARED_SHAPES = 32;

/**
 * All rows of a knex query as a named prepared statement (see
 * `queryPrepared`), named after its shape: its SQL text, which holds no
 * values. A list's filters combine into many shapes, so only the first
 * `MAX_PREPARED_SHAPES` a process meets are prepared, the common ones in
 * practice; any later one runs as text, as every query did before, so that
 * a client trying every combination cannot fill the connections with plans.
 */
export async function queryBuilt<T extends object>(
  em: EntityManager,
  prefix: string,
  query: Knex.QueryBuilder,
): Promise<T[]> {
  const { sql, bindings } = query.toSQL();
  let name = preparedShapes.get(sql);
  if (name === undefined) {
    if (preparedShapes.size >= MAX_PREPARED_SHAPES) return queryAll<T>(em, sql, bindings);
    name = `${prefix}_${createHash('sha256').update(sql).digest('base64url').slice(0, 22)}`;
    preparedShapes.set(sql, name);
  }
  return queryPrepared<T>(em, name, sql, bindings);
}
