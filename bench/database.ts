/** After the run: every 2xx create is an order with its items, numbered uniquely and without gaps. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, type QueryResultRow } from 'pg';
import { MAX_CREATED_IDS, accounting } from './load';
import { onCleanup } from './processes';
import { ITEMS_PER_ORDER, realPostgres, settings } from './settings';
import { log } from './util';

// ---------------------------------------------------------------------------
// Correctness in the database, after the servers have stopped

export interface Sql {
  rows<T extends QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function openSql(
  target: { url: string } | { dataDir: string },
): Promise<Sql & { version: string }> {
  if ('url' in target) {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    const version = (await client.query<{ version: string }>('select version()')).rows[0]?.version ?? '';
    return {
      version,
      rows: async <T extends QueryResultRow>(text: string, values?: unknown[]) =>
        (await client.query<T>(text, values)).rows,
      close: () => client.end(),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite(path.join(target.dataDir, 'pgdata'));
  await db.waitReady;
  const version = (await db.query<{ version: string }>('select version()')).rows[0]?.version ?? '';
  return {
    version,
    rows: async <T extends QueryResultRow>(text: string, values?: unknown[]) =>
      (await db.query<T>(text, values)).rows,
    close: () => db.close(),
  };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export async function checkDatabase(
  sql: Sql,
  workspace: string,
): Promise<{ checks: Check[]; ok: boolean; orders: number; items: number }> {
  const one = async <T extends QueryResultRow>(text: string): Promise<T> =>
    (await sql.rows<T>(text, [workspace]))[0];
  const ws = `(select id from workspaces where slug = $1)`;
  const { orders } = await one<{ orders: number }>(
    `select count(*)::int as orders from orders where workspace_id = ${ws}`,
  );
  const { items } = await one<{ items: number }>(
    `select count(*)::int as items from order_items i join orders o on o.id = i.order_id where o.workspace_id = ${ws}`,
  );
  const { wrong_items } = await one<{ wrong_items: number }>(
    `select count(*)::int as wrong_items from (select o.id from orders o left join order_items i on i.order_id = o.id
       where o.workspace_id = ${ws} group by o.id having count(i.order_id) <> ${ITEMS_PER_ORDER}) x`,
  );
  const { duplicates } = await one<{ duplicates: number }>(
    `select count(*)::int as duplicates from (select order_number from orders where workspace_id = ${ws}
       group by order_number having count(*) > 1) x`,
  );
  const days = await sql.rows<{ day: string; count: number; max_seq: number; counter: number | null }>(
    `select d.day, d.count, d.max_seq, c.last_value as counter from (
       select substr(order_number, 5, 9) as day, count(*)::int as count,
              max(substr(order_number, 15)::int) as max_seq
       from orders where workspace_id = ${ws} group by 1) d
     left join order_number_counters c
       on c.workspace_id = ${ws} and to_char(c.day, 'YYYY-MMDD') = d.day
     order by d.day`,
    [workspace],
  );
  const { bad_money } = await one<{ bad_money: number }>(
    `select count(*)::int as bad_money from orders o where o.workspace_id = ${ws} and (
       o.total <> o.subtotal + o.shipping + o.tax
       or o.subtotal <> (select coalesce(sum(i.subtotal), 0) from order_items i where i.order_id = o.id)
       or exists (select 1 from order_items i where i.order_id = o.id and i.subtotal <> i.price * i.quantity))`,
  );
  const { bad_format } = await one<{ bad_format: number }>(
    `select count(*)::int as bad_format from orders where workspace_id = ${ws} and order_number !~ '^ORD-[0-9]{4}-[0-9]{4}-[0-9]{3,}$'`,
  );

  // Every order the bench was told about exists: looked up by id, in chunks.
  const ids = [...new Set(accounting.createdIds)];
  const repeatedIds = accounting.createdIds.length - ids.length;
  let found = 0;
  for (let start = 0; start < ids.length; start += 5000) {
    const chunk = ids.slice(start, start + 5000);
    const row = (
      await sql.rows<{ found: number }>(
        `select count(*)::int as found from orders where workspace_id = ${ws} and id = any($2::text[])`,
        [workspace, chunk],
      )
    )[0];
    found += row?.found ?? 0;
  }
  const allIdsKept = accounting.createdIds.length + accounting.withoutId === accounting.created;
  const unanswered = orders - accounting.created;
  const gaps = days.filter((day) => day.count !== day.max_seq || day.counter !== day.count);
  const checks: Check[] = [
    {
      name: 'every 2xx create is an order',
      ok:
        accounting.withoutId === 0 &&
        repeatedIds === 0 &&
        found === ids.length &&
        (allIdsKept || orders >= accounting.created),
      detail:
        `${accounting.created} creates answered 2xx with ${ids.length} distinct order ids; ${found} of those ids are in the database` +
        (repeatedIds > 0 ? `; ${repeatedIds} ids answered twice` : '') +
        (accounting.withoutId > 0 ? `; ${accounting.withoutId} answers without an id` : '') +
        (allIdsKept ? '' : `; ids past the first ${MAX_CREATED_IDS} checked by count only`),
    },
    {
      name: 'no order the bench was not told about, beyond abandoned requests',
      ok: unanswered >= 0 && unanswered <= accounting.abortedInFlight,
      detail: `${orders} orders in the database, ${unanswered} more than answered; ${accounting.abortedInFlight} requests were abandoned in flight when rounds ended (they may still commit)`,
    },
    {
      name: `every order has its ${ITEMS_PER_ORDER} items`,
      ok: items === ITEMS_PER_ORDER * orders && wrong_items === 0,
      detail: `${items} items for ${orders} orders; ${wrong_items} orders with another count`,
    },
    {
      name: 'order numbers unique in the workspace',
      ok: duplicates === 0,
      detail: `${duplicates} duplicated numbers`,
    },
    { name: 'order numbers well-formed', ok: bad_format === 0, detail: `${bad_format} malformed` },
    {
      name: 'numbers gap-free per day, counter agrees',
      ok: gaps.length === 0,
      detail:
        days
          .map(
            (day) =>
              `${day.day}: ${day.count} orders, highest ${day.max_seq}, counter ${day.counter ?? 'missing'}`,
          )
          .join('; ') || 'no orders',
    },
    {
      name: 'money adds up (items, subtotal, total)',
      ok: bad_money === 0,
      detail: `${bad_money} orders that do not add up`,
    },
  ];
  return { checks, ok: checks.every((check) => check.ok), orders, items };
}

/** Runs one statement (create or drop a database, load a schema) on its own connection to `serverUrl`. */
export async function adminStatement(serverUrl: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A new database `<prefix>_<random>` on the server at `serverUrl`: its URL, and how to drop it. */
export async function throwawayServerDatabase(
  serverUrl: string,
  prefix: string,
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await adminStatement(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => adminStatement(serverUrl, `drop database if exists ${name} with (force)`),
  };
}

/** A throwaway database: a new one on the DATABASE_URL server (dropped at clean-up), or an embedded one in `tmp`. */
export async function createBenchDatabase(
  tmp: string,
): Promise<{ dbEnv: Record<string, string>; sqlTarget: { url: string } | { dataDir: string } }> {
  let dbEnv: Record<string, string>;
  let sqlTarget: { url: string } | { dataDir: string };
  if (realPostgres) {
    const { name, url, drop } = await throwawayServerDatabase(settings.databaseUrl as string, 'bench');
    onCleanup(`drop database ${name}`, drop);
    dbEnv = { DATABASE_URL: url };
    sqlTarget = { url };
    log(`bench: database ${name} on ${new URL(url).host}`);
  } else {
    const dataDir = path.join(tmp, 'data');
    fs.mkdirSync(dataDir);
    dbEnv = { DATA_DIR: dataDir };
    sqlTarget = { dataDir };
    log(`bench: embedded database in ${dataDir}`);
  }

  return { dbEnv, sqlTarget };
}
