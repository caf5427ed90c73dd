/**
 * Start-up failures of a PostgreSQL connection as one line naming DATABASE_URL
 * (README, "Start-up errors"): the TLS failures that `sslmode` in the URL can
 * cause, which carry no PostgreSQL error code.
 */
import { describe, expect, it } from 'vitest';
import { explainDatabaseError, safeUrl } from '../../src/db/database-errors';
import type { DatabaseTarget } from '../../src/db/database';

const target = (url: string): DatabaseTarget => ({ kind: 'postgres', url, poolMax: 2, connectTimeoutMs: 1000, statementTimeoutMs: 1000 });

describe('explainDatabaseError', () => {
  it('names DATABASE_URL and sslmode when the server does not speak TLS', () => {
    // node-postgres's own message when sslmode asks for TLS and the server answers "no".
    const error = new Error('The server does not support SSL connections');
    expect(explainDatabaseError(error, target('postgres://app:secret@db.internal:5432/orders?sslmode=require'))).toBe(
      'DATABASE_URL (postgres://app:***@db.internal:5432/orders?sslmode=require): the server does not accept SSL ' +
        'connections, which sslmode=require requires (turn ssl on in the server, or change sslmode)',
    );
  });

  it('names the certificate failure and what to give, without the password', () => {
    const error = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const line = explainDatabaseError(error, target('postgres://app:secret@db.internal/orders?sslmode=verify-full'));
    expect(line).toBe(
      "DATABASE_URL (postgres://app:***@db.internal/orders?sslmode=verify-full): the server's certificate was refused " +
        '(SELF_SIGNED_CERT_IN_CHAIN); give the CA that signed it with sslrootcert=<file> (node-postgres checks it for sslmode=require too; ' +
        'uselibpqcompat=true&sslmode=require encrypts without checking, as libpq does)',
    );
  });

  it('names the role and the grants when a least-privilege role may not migrate', () => {
    // What a start with MIGRATE_ON_START=true got from a role with USAGE on public and no table privileges.
    const error = Object.assign(
      new Error('create table "public"."mikro_orm_migrations" ("id" serial primary key) - permission denied for schema public'),
      { code: '42501' },
    );
    expect(explainDatabaseError(error, target('postgres://orders_app@db.internal/orders'))).toBe(
      'DATABASE_URL (postgres://orders_app@db.internal/orders): role "orders_app" may not do what the start needs ' +
        '(permission denied for schema public); grant it what README\'s "Behind PgBouncer, and the grants the gateway needs" lists, ' +
        "or migrate with the owner's role and start this one with MIGRATE_ON_START=false",
    );
  });

  it('says which DATABASE_POOL_MODE to set when PgBouncer refuses a startup parameter', () => {
    const error = Object.assign(new Error('unsupported startup parameter: statement_timeout'), { code: '08P01' });
    expect(explainDatabaseError(error, target('postgres://app@127.0.0.1:6432/orders'))).toMatch(
      /^DATABASE_URL \(postgres:\/\/app@127\.0\.0\.1:6432\/orders\): a connection pooler \(PgBouncer\?\) refused the startup parameter statement_timeout; set DATABASE_POOL_MODE=transaction .* or DATABASE_POOL_MODE=session/,
    );
  });

  it('leaves an error it cannot name to the caller', () => {
    expect(explainDatabaseError(new Error('something else'), target('postgres://db/orders'))).toBeUndefined();
  });
});

describe('a DATABASE_URL at a port where no PostgreSQL answers', () => {
  // node-postgres's own words, which named no variable: a server that hangs up (another
  // service's port) and one that never answers (within DB_CONNECT_TIMEOUT_MS).
  it('names DATABASE_URL when the server there hangs up', () => {
    expect(explainDatabaseError(new Error('Connection terminated unexpectedly'), target('postgres://app:secret@db:4222/orders'))).toBe(
      'DATABASE_URL (postgres://app:***@db:4222/orders): the server at db:4222 closed the connection (is it PostgreSQL, on the right port?)',
    );
  });

  it('names DATABASE_URL and DB_CONNECT_TIMEOUT_MS when nothing answers in time', () => {
    expect(explainDatabaseError(new Error('timeout expired'), target('postgres://app@db/orders'))).toBe(
      'DATABASE_URL (postgres://app@db/orders): no answer from db:5432 within DB_CONNECT_TIMEOUT_MS (1000 ms) (is it PostgreSQL, on the right port?)',
    );
  });
});

describe('safeUrl', () => {
  it('hides a password given as a parameter too, as node-postgres takes it from there', () => {
    // `?password=` (and the client key's `sslpassword`) were printed on every CLI command and start-up error.
    expect(safeUrl('postgres://app@db:5432/orders?password=hunter2&sslmode=require&sslpassword=keypass')).toBe(
      'postgres://app@db:5432/orders?password=***&sslmode=require&sslpassword=***',
    );
    expect(safeUrl('postgres://app:secret@db/orders')).toBe('postgres://app:***@db/orders');
    expect(safeUrl('postgres://app@db/orders?application_name=gw')).toBe('postgres://app@db/orders?application_name=gw');
  });
});
