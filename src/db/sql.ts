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
import { type EntityManager, type Knex, PostgreSqlDriver, type QueryResult } from '@mikro-orm/postgresql';
import type pg from 'pg';

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
 *
 * Outside a transaction on a PostgreSQL server, it sends the statement on a
 * connection of knex's pool itself (`pg`'s `query`), with its `$1…` text made
 * once per text: knex's query runner, which rewrites the text on every call,
 * cost about 20 µs of CPU a statement, a twelfth of a GET by id. The pool,
 * its limits and its timeouts are knex's all the same.
 */
export async function queryPrepared<T extends object>(
  em: EntityManager,
  name: string,
  text: string,
  params: readonly unknown[],
): Promise<T[]> {
  const knex = em.getConnection().getKnex();
  const statementName = unnamed.has(em.config) ? undefined : name;
  const transaction = em.getTransactionContext<Knex.Transaction>();
  const direct = !transaction && em.getDriver() instanceof PostgreSqlDriver;
  const started = Date.now();
  let failed = false;
  try {
    if (direct)
      return await queryOnPool<T>(knex.client as KnexPoolClient, statementName, nativeText(knex, text), params);
    const query = knex.raw(text, params as Knex.RawBinding[]);
    if (statementName) query.options({ name: statementName });
    if (transaction) query.transacting(transaction);
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

/** The configurations (one per MikroORM instance) whose connections must not name their statements. */
const unnamed = new WeakSet<object>();

/**
 * Behind a transaction pooler (DATABASE_POOL_MODE=transaction), `queryPrepared` sends unnamed
 * statements: bound values all the same, parsed each time. PgBouncer 1.18 passes a statement
 * prepared on one server connection to no other, so a named statement that `pg` prepared once on
 * its connection would be missing ("prepared statement … does not exist") on the next transaction's.
 */
export function withoutNamedStatements(config: object): void {
  unnamed.add(config);
}

/** What `queryOnPool` needs of knex's client: its pool of `pg` connections. */
interface KnexPoolClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<unknown>;
  positionBindings(sql: string): string;
}
type PgConnection = Pick<pg.Client, 'query'>;

/**
 * Each prepared statement's text with `$1…` placeholders, by its `?` text (not by name: should two
 * texts ever share a name, `pg` refuses the second, as it does on knex's path). Bounded: the hot
 * statements' fixed texts and at most `MAX_PREPARED_SHAPES` list shapes reach `queryPrepared`.
 */
const nativeTexts = new Map<string, string>();

function nativeText(knex: Knex, text: string): string {
  let native = nativeTexts.get(text);
  if (native === undefined) {
    // knex's own rewriting, so that `\?` stays a literal question mark as it does on knex's path.
    native = (knex.client as KnexPoolClient).positionBindings(text);
    nativeTexts.set(text, native);
  }
  return native;
}

async function queryOnPool<T extends object>(
  client: KnexPoolClient,
  name: string | undefined,
  text: string,
  params: readonly unknown[],
): Promise<T[]> {
  if (params.includes(undefined)) throw new Error(`undefined value bound in prepared statement ${name ?? text}`);
  const connection = await client.acquireConnection();
  try {
    const result = await connection.query<T & pg.QueryResultRow>({ name, text, values: [...params] });
    return result.rows;
  } finally {
    await client.releaseConnection(connection);
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
