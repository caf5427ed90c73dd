/**
 * Runs hand-written SQL with its values sent apart from the text, on both
 * databases.
 *
 * Why not `em.execute`: it writes the values into the SQL text, and the
 * embedded driver (knex-pglite) treats raw text containing `;` as several
 * statements. A `;` in a customer's notes then broke the statement. Here the
 * text keeps its `?` placeholders and the values travel as bindings.
 *
 * Queries still go through MikroORM's connection, so they are logged by its
 * logger (which the query-duration metric reads) and their errors become
 * MikroORM's typed exceptions (`UniqueConstraintViolationException` …).
 */
import type { EntityManager, Knex } from '@mikro-orm/postgresql';

interface LoggingConnection {
  executeQuery<R>(query: string, run: () => Promise<R>, context?: object): Promise<R>;
}

interface RawResult {
  rows?: Record<string, unknown>[];
  rowCount?: number | null;
  affectedRows?: number;
}

async function run<R>(em: EntityManager, text: string, query: Knex.Raw | Knex.QueryBuilder): Promise<R> {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  if (transaction) query.transacting(transaction);
  // `executeQuery` is MikroORM's logging wrapper; it is protected in its typings only.
  const connection = em.getConnection() as unknown as LoggingConnection;
  try {
    return await connection.executeQuery(text, async () => (await query) as R);
  } catch (error) {
    throw em.getDriver().convertException(error as Error);
  }
}

/** All rows of a query. */
export async function queryAll<T>(em: EntityManager, text: string, params: readonly unknown[] = []): Promise<T[]> {
  const result = await run<RawResult>(em, text, em.getKnex().raw(text, params as Knex.RawBinding[]));
  return (result.rows ?? []) as T[];
}

interface KnexClient {
  driverName: string;
  acquireConnection(): Promise<{ query(config: { name: string; text: string; values: unknown[] }): Promise<RawResult> }>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

/**
 * Like `queryOne`, as a named prepared statement on a PostgreSQL server: the
 * server parses and plans it once per connection instead of on every call,
 * which matters for a statement run on every create. Outside a transaction
 * only (it takes its own pooled connection); elsewhere, and on the embedded
 * database, it is a plain `queryOne`.
 */
export async function queryOnePrepared<T>(
  em: EntityManager,
  name: string,
  text: string,
  params: readonly unknown[],
): Promise<T | undefined> {
  const client = em.getKnex().client as unknown as KnexClient;
  if (client.driverName !== 'pg' || em.getTransactionContext()) return queryOne<T>(em, text, params);
  const { sql, bindings } = em.getKnex().raw(text, params as Knex.RawBinding[]).toSQL().toNative();
  const connection = em.getConnection() as unknown as LoggingConnection;
  const pooled = await client.acquireConnection().catch((error: unknown) => {
    throw em.getDriver().convertException(error as Error);
  });
  try {
    const result = await connection.executeQuery(text, () => pooled.query({ name, text: sql, values: [...bindings] }));
    return result.rows?.[0] as T | undefined;
  } catch (error) {
    throw em.getDriver().convertException(error as Error);
  } finally {
    await client.releaseConnection(pooled);
  }
}

/** The first row, or undefined. */
export async function queryOne<T>(em: EntityManager, text: string, params: readonly unknown[] = []): Promise<T | undefined> {
  return (await queryAll<T>(em, text, params))[0];
}

/** A statement without a result set; returns how many rows it touched. */
export async function execute(em: EntityManager, text: string, params: readonly unknown[] = []): Promise<number> {
  const result = await run<RawResult>(em, text, em.getKnex().raw(text, params as Knex.RawBinding[]));
  return result.rowCount ?? result.affectedRows ?? 0;
}

/** Runs a knex query builder (built from `em.getKnex()`), returning its rows. */
export async function queryBuilt<T>(em: EntityManager, builder: Knex.QueryBuilder): Promise<T[]> {
  return run<T[]>(em, builder.toSQL().sql, builder);
}
