/**
 * The MikroORM driver for the embedded database: mikro-orm-pglite, with its
 * statement splitting fixed.
 *
 * MikroORM hands every query to knex as raw text with the values already
 * written in (ORM finds and flushes as much as `em.execute`). knex-pglite runs
 * raw text that contains a `;` anywhere as a multi-statement script, through
 * PGlite's `exec`, whose result has another shape (one result per statement).
 * A `;` inside a string literal (an order id `x;y`, a customer's notes) made a
 * single statement come back as a script's result and fail. Here the text is
 * split by PostgreSQL's own lexical rules (strings, quoted identifiers,
 * dollar quotes, comments), and only real scripts, such as the schema
 * generator's, take the script path.
 */
import type { PGliteInterface } from '@electric-sql/pglite';
import {
  AbstractSqlDriver,
  type Configuration,
  type Knex,
  knex,
  PostgreSqlPlatform,
} from '@mikro-orm/postgresql';
import { PGliteConnection, PGliteKnexDialect, type QueryObject } from 'mikro-orm-pglite';
import { nonEmptyStatements, parseSplits } from 'postgres-semicolons';

/**
 * postgres-semicolons (0.1.2) ends an `E'…'` string at its first backslash that
 * does not escape a quote: `E'a\\b;c'` (the value `a\b;c`) counted as two statements,
 * ran as a script, and a search or an Idempotency-Key holding a backslash and a
 * `;` was a 500. The only escape MikroORM's escaping writes in an `E'…'` string
 * besides `''` is `\\` (one backslash), so each such pair is read as two plain
 * characters first: the text keeps its length, so the split positions stand.
 * Outside `E'…'` strings a backslash means nothing to PostgreSQL, and the pair
 * does not either.
 */
const ESCAPED_BACKSLASH = /\\\\/g;

/** True when the SQL text holds more than one statement. */
export function isScript(sql: string): boolean {
  if (!sql.includes(';')) return false;
  const text = sql.includes('\\') ? sql.replace(ESCAPED_BACKSLASH, '__') : sql;
  // Standard-conforming strings are PostgreSQL's default, and what MikroORM's escaping writes.
  const { positions } = parseSplits(text, true);
  return nonEmptyStatements(text, positions).length > 1;
}

/**
 * One statement goes through PGlite's `query` (which also takes bound values),
 * whatever its string literals contain; a real script keeps the driver's own path.
 */
class EmbeddedKnexDialect extends PGliteKnexDialect {
  override async _query(connection: PGliteInterface, obj: QueryObject): Promise<QueryObject> {
    if (!obj.sql) throw new Error('The query is empty');
    if (obj.method === 'raw' && isScript(obj.sql)) {
      // PGlite's `exec` would silently drop bound values.
      if ((obj.bindings ?? []).length > 0)
        throw new Error('A script of several statements cannot take bound values');
      return super._query(connection, obj);
    }
    obj.response = await connection.query(obj.sql, obj.bindings ?? []);
    return obj;
  }
}

/** knex takes a dialect as a subclass of its `Client`; the PGlite dialect's typings do not say that it is one. */
function isKnexClientClass(value: unknown): value is typeof Knex.Client {
  return typeof value === 'function' && value.prototype instanceof knex.Client;
}

class EmbeddedConnection extends PGliteConnection {
  // knex copies a transaction's client from the dialect's prototype, so the fix is a subclass, not a patched instance.
  protected override getKnexOptions(type: string): Knex.Config {
    const client: unknown = EmbeddedKnexDialect;
    if (!isKnexClientClass(client)) throw new Error('The PGlite dialect is not a knex client');
    return { ...super.getKnexOptions(type), client };
  }
}

/** Use as MikroORM's `driver` with `driverOptions: { connection: { pglite: () => instance } }`. */
export class EmbeddedDriver extends AbstractSqlDriver<EmbeddedConnection> {
  constructor(config: Configuration) {
    super(config, new PostgreSqlPlatform(), EmbeddedConnection, ['knex', '@electric-sql/pglite']);
  }
}
