/**
 * The grants a serving role needs, checked once at start on a PostgreSQL server: SELECT, INSERT,
 * UPDATE and DELETE on every table of the gateway's entities, and USAGE on the sequences of their
 * serial columns (the README's "Grants" grants both for the whole schema). A role that lacks one
 * used to start, say it was ready, and then fail every request that touched that table with a 500 (`permission denied for table …`): a DBA
 * who granted table by table and forgot `webhook_deliveries` learnt it from the first webhook.
 * Tables that do not exist yet (migrations pending) are not checked; a superuser or an owner holds
 * every privilege, so nothing is reported for them.
 */
import type { Database } from './database';

const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];

const MISSING_GRANTS = `
with tables as (select name, to_regclass(name) as oid from unnest(string_to_array(?::text, ',')) as t(name))
select current_user as role, 'table ' || t.name as object, p.privilege
from tables t cross join unnest(string_to_array(?::text, ',')) as p(privilege)
where t.oid is not null and not has_table_privilege(t.oid, p.privilege)
union all
-- The sequences behind those tables' serial and identity columns (not the migrations' own).
select current_user, 'sequence ' || s.relname, 'USAGE'
from tables t
join pg_depend d on d.refobjid = t.oid and d.classid = 'pg_class'::regclass and d.deptype in ('a', 'i')
join pg_class s on s.oid = d.objid
-- has_sequence_privilege refuses anything but a sequence, and the planner may test it first: CASE orders them.
where case when s.relkind = 'S' then not has_sequence_privilege(s.oid, 'USAGE') else false end
order by 2, 3`;

export interface MissingGrants {
  role: string;
  /** `DELETE on table order_event_queue`, …, in a stable order. */
  missing: string[];
}

export async function missingGrants(db: Database): Promise<MissingGrants | undefined> {
  if (db.kind !== 'postgres') return undefined;
  const tables = Object.values(db.orm.getMetadata().getAll())
    .map((meta) => meta.tableName)
    .filter((name): name is string => typeof name === 'string' && name.length > 0);
  const rows = await db.em
    .fork()
    // Lists as comma-joined text: the query builder would spread an array into one placeholder each.
    .execute<{ role: string; object: string; privilege: string }[]>(MISSING_GRANTS, [tables.join(','), TABLE_PRIVILEGES.join(',')]);
  if (rows.length === 0) return undefined;
  return { role: rows[0]?.role ?? '', missing: rows.map((row) => `${row.privilege} on ${row.object}`) };
}

/** One line for the start's refusal: what is missing, and the two statements that grant it all. */
export function describeMissingGrants({ role, missing }: MissingGrants): string {
  const shown = missing.length > 6 ? [...missing.slice(0, 6), `${missing.length - 6} more`] : missing;
  const quoted = `"${role.replaceAll('"', '""')}"`;
  return (
    `role "${role}" lacks ${shown.join(', ')}; the gateway needs them on all its tables and sequences: ` +
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${quoted}; ` +
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${quoted};`
  );
}
