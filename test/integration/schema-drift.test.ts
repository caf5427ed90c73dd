/**
 * The entities are the source of the schema. Like `schema.graphql` for the
 * resolvers, these fail when the entities, the migrations and the committed
 * migration snapshot stop describing the same database.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database';
import { createTestDatabase, type TestDatabase } from '../support/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.destroy());

it('the migrated database is exactly what the entities declare (indexes included)', async () => {
  const drift = await database.db.orm.schema.getUpdateSchemaSQL({ wrap: false });
  expect(drift.trim(), 'add a migration (npm run migration:create)').toBe('');
});

it('the committed migration snapshot matches the entities', async () => {
  // A second ORM that reads the snapshot and is never migrated, so it never rewrites the file.
  const authoring = await openDatabase(database.target, { snapshot: true });
  try {
    expect(await authoring.orm.getMigrator().checkMigrationNeeded(), 'run npm run migration:snapshot').toBe(false);
  } finally {
    await authoring.close();
  }
});
