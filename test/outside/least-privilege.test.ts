/**
 * The gateway on roles a DBA hands out, with `psql`'s grants as the README
 * lists them: an owner role (no superuser; CREATE on the database and on
 * `public`) migrates, pg_trgm included; a serving role with only DML on the
 * tables starts (MIGRATE_ON_START=true, nothing pending) and takes orders; a
 * role without those grants stops the start with one line naming it and what
 * it was refused, not a stack or a 500 per request. The roles are unique to
 * the run and dropped afterwards. PostgreSQL pass only.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase, queryRows, usingRealPostgres, withClient } from '../support/database';
import { runCli, startServer } from '../support/processes';

describe.runIf(usingRealPostgres)('least-privilege roles (PostgreSQL pass)', { timeout: 120_000 }, () => {
  const suffix = randomBytes(4).toString('hex');
  const owner = `og_owner_${suffix}`;
  const app = `og_app_${suffix}`;
  let database: { url: string; drop: () => Promise<void> };
  const as = (role: string) => {
    const url = new URL(database.url);
    url.username = role;
    return url.toString();
  };
  const admin = (sql: string[]) => withClient(process.env.DATABASE_URL as string, async (client) => {
    for (const statement of sql) await client.query(statement);
  });

  beforeAll(async () => {
    database = await createServerDatabase();
    const name = new URL(database.url).pathname.slice(1);
    await admin([`create role ${owner} login nosuperuser nocreatedb nocreaterole`, `create role ${app} login nosuperuser nocreatedb nocreaterole`]);
    await withClient(database.url, async (client) => {
      for (const statement of [
        `grant create on database ${name} to ${owner}`,
        `grant create, usage on schema public to ${owner}`,
        `grant usage on schema public to ${app}`,
      ])
        await client.query(statement);
    });
  });

  afterAll(async () => {
    await database?.drop();
    await admin([`drop role if exists ${app}`, `drop role if exists ${owner}`]);
  });

  it('the owner role migrates, pg_trgm included', async () => {
    const migrated = await runCli(['migrate'], { DATABASE_URL: as(owner) });
    expect(migrated.code, migrated.stderr).toBe(0);
    const extensions = await queryRows<{ extname: string; owner: string }>(database.url, 'select extname, extowner::regrole::text as owner from pg_extension');
    expect(extensions).toContainEqual({ extname: 'pg_trgm', owner });
  });

  it('a role without grants on the tables stops the start with one line naming the role and what it was refused', async () => {
    await expect(startServer({ DATABASE_URL: as(app) })).rejects.toThrow(
      new RegExp(`order-gateway: DATABASE_URL \\(\\S+\\): role "${app}" may not do what the start needs \\(permission denied for schema public\\); grant it`),
    );
  });

  it('a role with DML only starts and takes orders', async () => {
    await withClient(as(owner), async (client) => {
      await client.query(`grant select, insert, update, delete on all tables in schema public to ${app}`);
      await client.query(`grant usage on all sequences in schema public to ${app}`);
    });
    const key = JSON.parse((await runCli(['apikey', 'create', '--workspace', 'acme', '--json'], { DATABASE_URL: as(app) })).stdout).key;
    const server = await startServer({ DATABASE_URL: as(app) });
    try {
      const created = await fetch(`${server.url}/api/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': 'k1' },
        body: JSON.stringify({ customer_id: 'c1', items: [{ product_id: 'p1', quantity: 1, price: '10.00' }], total: '10.00' }),
      });
      expect(created.status).toBe(201);
      const list = await fetch(`${server.url}/api/orders?customer_id=c1`, { headers: { authorization: `Bearer ${key}` } });
      expect(((await list.json()) as { pagination: { total: number } }).pagination.total).toBe(1);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('a role missing one grant (DELETE on one table, USAGE on a sequence) stops the start naming what it lacks, not a 500 per request later', async () => {
    await withClient(as(owner), async (client) => {
      await client.query(`revoke delete on order_event_queue from ${app}`);
      await client.query(`revoke usage on all sequences in schema public from ${app}`);
    });
    const refused = await runCli(['serve'], { DATABASE_URL: as(app), PORT: '0', NODE_ENV: 'production', METRICS_TOKEN: 'test-metrics-token-0123456789' });
    expect(refused.code).toBe(78);
    const line = refused.stderr.trim().split('\n').at(-1) ?? '';
    expect(line).toMatch(
      new RegExp(`^order-gateway: DATABASE_URL \\(\\S+\\): role "${app}" lacks USAGE on sequence order_events_position_seq, USAGE on sequence webhook_attempts_id_seq, DELETE on table order_event_queue; `),
    );
    expect(line).toContain(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "${app}";`);
    expect(line).toContain(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "${app}";`);
  });
});
