/**
 * `queryBuilt` (src/db/sql.ts): a knex query runs as a prepared statement
 * named after its shape, and a process prepares at most
 * `MAX_PREPARED_SHAPES` shapes, so that the list's many filter combinations
 * cannot fill every pooled connection with plans. Shapes past the bound
 * still answer, as plain text.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_PREPARED_SHAPES, queryAll, queryBuilt } from '../../src/db/sql';
import { createTestDatabase, type TestDatabase, usingRealPostgres } from '../support/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.destroy());

const SHAPES = MAX_PREPARED_SHAPES + 8;

it(`answers ${SHAPES} query shapes with their values, the same again, and prepares at most ${MAX_PREPARED_SHAPES} of them`, async () => {
  await database.db.em.fork().transactional(async (em) => {
    // One transaction, so that every statement runs on one connection, whose prepared statements are counted below.
    const knex = em.getKnex();
    const shape = (n: number, value: number) => knex.select(knex.raw(`?::int + ${n} as v`, [value]));
    for (const round of [1, 2]) {
      for (let n = 0; n < SHAPES; n++) {
        const rows = await queryBuilt<{ v: number }>(em, 'shape_probe', shape(n, round * 1000));
        expect(rows).toStrictEqual([{ v: round * 1000 + n }]);
      }
    }
    if (!usingRealPostgres) return; // the embedded database binds values but keeps no named statements
    const [prepared] = await queryAll<{ n: number }>(
      em,
      "select count(*)::int as n from pg_prepared_statements where name like 'shape_probe_%'",
    );
    expect(prepared?.n).toBe(MAX_PREPARED_SHAPES);
  });
});
