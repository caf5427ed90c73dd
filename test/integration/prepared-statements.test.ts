/**
 * `queryPrepared` (src/db/sql.ts), the path of every hot statement: outside
 * a transaction on a PostgreSQL server it sends the statement on a pooled
 * connection itself rather than through knex's query runner. Whichever path
 * a statement takes, it answers with its own values, its errors are
 * MikroORM's typed exceptions, it is timed through MikroORM's logger (the
 * query-duration metric), and inside a transaction it is part of that
 * transaction.
 */
import { UniqueConstraintViolationException, type LogContext } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase, type DatabaseTarget } from '../../src/db/database';
import { queryAll, queryPrepared } from '../../src/db/sql';
import { createTestDatabase, type TestDatabase, usingRealPostgres } from '../support/database';

type PostgresTarget = Extract<DatabaseTarget, { kind: 'postgres' }>;

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.destroy());

const insertWorkspace = `insert into workspaces (id, slug, time_zone, created_at)
  values (?::varchar, ?::varchar, 'UTC', now()) returning id`;

const workspaceIds = async (prefix: string) =>
  (
    await queryAll<{ id: string }>(
      database.db.em.fork(),
      'select id from workspaces where id like ? order by id',
      [`${prefix}%`],
    )
  ).map((row) => row.id);

describe('a prepared statement outside a transaction', () => {
  it('answers with the values bound to it, call after call, from many callers at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        queryPrepared<{ v: number; s: string }>(
          database.db.em.fork(),
          'probe_values',
          'select ?::int * 2 as v, ?::text as s',
          [n, `it's ${n}; drop table orders`],
        ),
      ),
    );
    expect(answers).toStrictEqual(
      Array.from({ length: 40 }, (_, n) => [{ v: n * 2, s: `it's ${n}; drop table orders` }]),
    );
  });

  it('keeps a literal question mark written \\? (knex’s escape) and binds the rest', async () => {
    const rows = await queryPrepared<{ q: string; v: number }>(
      database.db.em.fork(),
      'probe_escaped_question_mark',
      "select 'why\\?' as q, ?::int as v",
      [7],
    );
    expect(rows).toStrictEqual([{ q: 'why?', v: 7 }]);
  });

  it('writes, and a repeated key is a UniqueConstraintViolationException with nothing written twice', async () => {
    const em = database.db.em.fork();
    const inserted = await queryPrepared<{ id: string }>(em, 'probe_insert_workspace', insertWorkspace, [
      'ws_probe_unique',
      'probe-unique',
    ]);
    expect(inserted).toStrictEqual([{ id: 'ws_probe_unique' }]);
    await expect(
      queryPrepared(em, 'probe_insert_workspace', insertWorkspace, ['ws_probe_unique', 'probe-unique-2']),
    ).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    expect(await workspaceIds('ws_probe_unique')).toStrictEqual(['ws_probe_unique']);
  });

  it('refuses an undefined value before anything is sent', async () => {
    const em = database.db.em.fork();
    await expect(
      queryPrepared(em, 'probe_insert_workspace', insertWorkspace, ['ws_probe_undefined', undefined]),
    ).rejects.toThrow(/undefined/i);
    expect(await workspaceIds('ws_probe_undefined')).toStrictEqual([]);
  });

  it('is timed through the ORM logger, the failures too', async () => {
    const logger = database.db.orm.config.getLogger();
    const logged = vi.spyOn(logger, 'logQuery');
    try {
      await queryPrepared(database.db.em.fork(), 'probe_logged', 'select ?::int as v', [1]);
      await expect(
        queryPrepared(database.db.em.fork(), 'probe_logged_failure', 'select 1 / ?::int as v', [0]),
      ).rejects.toThrow(/division by zero/);
      const contexts = logged.mock.calls.map(([context]: [LogContext]) => context);
      expect(contexts).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ query: 'select ?::int as v', level: 'info', took: expect.any(Number) }),
          expect.objectContaining({
            query: 'select 1 / ?::int as v',
            level: 'error',
            took: expect.any(Number),
          }),
        ]),
      );
    } finally {
      logged.mockRestore();
    }
  });

  it.runIf(usingRealPostgres)(
    'is prepared once on its connection, under its name, which no other text may take',
    async () => {
      // A pool of one connection, so that the statements below and the count all run on it.
      const single = await openDatabase({ ...(database.target as PostgresTarget), poolMax: 1 });
      try {
        for (let n = 0; n < 3; n++) {
          const rows = await queryPrepared(single.em.fork(), 'probe_named_once', 'select ?::int as v', [n]);
          expect(rows).toStrictEqual([{ v: n }]);
        }
        const prepared = await queryAll<{ statement: string }>(
          single.em.fork(),
          "select statement from pg_prepared_statements where name = 'probe_named_once'",
        );
        expect(prepared).toStrictEqual([{ statement: 'select $1::int as v' }]);
        // Another text under the same name is refused on this connection, never answered as the first text.
        await expect(
          queryPrepared(single.em.fork(), 'probe_named_once', 'select ?::int + 100 as v', [1]),
        ).rejects.toThrow(/unique/i);
      } finally {
        await single.close();
      }
    },
  );
});

describe('a prepared statement inside a transaction', () => {
  it('sees the transaction’s writes and is undone with it', async () => {
    const failure = new Error('roll back');
    await expect(
      database.db.em.fork().transactional(async (em) => {
        await queryPrepared(em, 'probe_insert_workspace', insertWorkspace, [
          'ws_probe_rolled_back',
          'probe-rb',
        ]);
        const seen = await queryPrepared<{ n: number }>(
          em,
          'probe_count_workspace',
          'select count(*)::int as n from workspaces where id = ?::varchar',
          ['ws_probe_rolled_back'],
        );
        expect(seen).toStrictEqual([{ n: 1 }]);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await workspaceIds('ws_probe_rolled_back')).toStrictEqual([]);
  });
});
