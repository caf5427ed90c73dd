/**
 * Authoring migrations, on a throwaway in-memory embedded database:
 *   npm run migration:create [name]   a migration for what the entities changed since the snapshot
 *   npm run migration:snapshot        rewrite the snapshot from the migrations (after adding one by hand)
 * A new migration must then be listed in src/db/migrations/index.ts.
 */
import 'reflect-metadata';
import { openDatabase } from '../src/db/database';

async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2);
  const db = await openDatabase({ kind: 'embedded', dataDir: null }, { snapshot: true });
  try {
    if (command === 'snapshot') {
      // Applying migrations with the snapshot on writes it.
      await db.migrate();
      process.stdout.write('Wrote the migration snapshot.\n');
    } else if (command === 'create') {
      const result = await db.orm.getMigrator().createMigration(undefined, false, false, name);
      process.stdout.write(
        result.fileName
          ? `Created src/db/migrations/${result.fileName}; list it in src/db/migrations/index.ts.\n`
          : 'The entities match the snapshot: no migration needed.\n',
      );
    } else {
      throw new Error('usage: migrations.ts create [name] | snapshot');
    }
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
